"""An attempt that orders refused keeps the refusal's code, not its message: codes are
what travels (ADR 15); the messages live once, in the error catalogue. Attempts refused
before this migration stored the message, which is read back into its code here (the
texts below are those messages as they were when this was written)."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

REFUSALS_THEN = {
    "order_cancelled": "Cannot pay for a cancelled order",
    "order_expired": "Order has expired",
    "order_paid": "Order is already paid",
}


class Migration(migrations.Migration):
    dependencies = [('payments', '0005_offline_intents')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PaymentAttempt',
            name='refusal_code',
            field=fields.CharField(null=True, max_length=32),
        ),
        ops.RunSQL(
            [f"UPDATE payments_attempts SET refusal_code = '{code}' "
             f"WHERE failure_message = '{message}' "
             "AND status IN ('voiding', 'voided', 'refunding', 'refunded')"
             for code, message in REFUSALS_THEN.items()],
            reverse_sql=ops.RunSQL.noop,
        ),
    ]
