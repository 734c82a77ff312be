"""Who put a ticket back on sale, so they cannot buy their own resale (issue 14)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orders', '0006_queue_entries_seen_at_index')]

    initial = False

    operations = [
        ops.AddField(
            model_name='TicketReplica',
            name='resold_by',
            field=fields.CharField(null=True, max_length=26),
        ),
    ]
