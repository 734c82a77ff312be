"""A resale its seller asked to take off sale, and why orders refused, if it did (issue 14)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('tickets', '0008_void_passes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Resale',
            name='withdrawal_refusal',
            field=fields.CharField(null=True, max_length=40),
        ),
        ops.AddField(
            model_name='Resale',
            name='withdrawal_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
