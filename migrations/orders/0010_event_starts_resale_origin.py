"""When an event starts, so that no refund window runs past it, and the order a resale
freed a ticket from, the one a withdrawal gives it back to (issue 14). Events known
before it have no start here: their windows stay as they were."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orders', '0009_waitlist')]

    initial = False

    operations = [
        ops.AddField(
            model_name='EventReplica',
            name='starts_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='TicketReplica',
            name='resold_from',
            field=fields.CharField(null=True, max_length=26),
        ),
    ]
