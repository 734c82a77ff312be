"""How many days after paying a buyer may ask for a refund, as the seller set it when
listing a ticket or creating an event (issue 14); 0 for everything listed before."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tickets', '0006_resales')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Event',
            name='refund_days',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Ticket',
            name='refund_days',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
