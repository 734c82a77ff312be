"""At most one attempt per order that is in flight, awaiting the customer, or paid.

A unique partial index works the same on SQLite and PostgreSQL: of many concurrent
payments for one order exactly one attempt is written, the others violate the index,
so only one of them ever reaches the payment provider.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_payments")]

    operations = [
        ops.RunSQL(
            "CREATE UNIQUE INDEX payments_one_live_attempt_per_order "
            "ON payments_attempts (order_id) "
            "WHERE status IN ('pending', 'requires_action', 'succeeded')",
            reverse_sql="DROP INDEX payments_one_live_attempt_per_order",
        ),
    ]
