"""An index on queue entries' ``seen_at``: each second's round of the waiting rooms looks
for the rooms with somebody seen lately, and without it read every entry of every queue."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orders', '0004_events_and_order_lines')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='QueueEntry',
            name='seen_at',
            field=fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False),
        ),
    ]
