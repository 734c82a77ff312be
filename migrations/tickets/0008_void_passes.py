"""A refunded pass is kept, void, so the next sale of its ticket raises its version and
the refunded token never matches the new one (issue 14)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tickets', '0007_refund_days')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Pass',
            name='void',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
