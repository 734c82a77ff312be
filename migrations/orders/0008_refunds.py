"""Refunds (issue 14): each ticket's refund days, and a paid order's refund window and
the course of its refund."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orders', '0007_resold_by')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Order',
            name='refund_refusal',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.AddField(
            model_name='Order',
            name='refund_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Order',
            name='refundable_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Order',
            name='refunded_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='TicketReplica',
            name='refund_days',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
