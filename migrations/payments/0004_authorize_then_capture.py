"""Authorise, then capture: holds count as live attempts, and the settler finds its work.

The unique partial index over live attempts now also covers an authorised hold and one
being captured, so a second payment for the order cannot start while orders decides.
The status index lets the settler find the attempts to capture or release cheaply.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_one_live_attempt_per_order")]

    operations = [
        ops.RunSQL(
            "DROP INDEX payments_one_live_attempt_per_order",
            reverse_sql="CREATE UNIQUE INDEX payments_one_live_attempt_per_order "
            "ON payments_attempts (order_id) "
            "WHERE status IN ('pending', 'requires_action', 'succeeded')",
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX payments_one_live_attempt_per_order "
            "ON payments_attempts (order_id) WHERE status IN "
            "('pending', 'requires_action', 'authorized', 'capturing', 'succeeded')",
            reverse_sql="DROP INDEX payments_one_live_attempt_per_order",
        ),
        ops.RunSQL(
            "CREATE INDEX payments_attempts_status ON payments_attempts (status)",
            reverse_sql="DROP INDEX payments_attempts_status",
        ),
    ]
