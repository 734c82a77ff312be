"""An index on queue entries' ``seen_at``: each second's round of the waiting rooms looks
for the rooms with somebody seen lately, and without it read every entry of every queue.
(An index of its own, not ``db_index`` on the field: altering a field makes Tortoise
rebuild the table on SQLite, which loses the table's other indexes.)"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('orders', '0005_unsent_outbox_index')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='QueueEntry',
            index=Index(fields=['seen_at']),
        ),
    ]
