"""A partial index over orders's unsent outbox rows, in id order.

The relay claims ``WHERE sent_at IS NULL ORDER BY id LIMIT n``. Sent rows stay a week
(retention), and they are the oldest: planned by the primary key, the claim read every
one of them before the first unsent row (50 ms a claim with a million sent). This index
holds only the unsent rows, so the claim reads the few it takes, whatever the plan.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('orders', '0004_events_and_order_lines')]

    initial = False

    operations = [
        ops.RunSQL(
            "CREATE INDEX orders_outbox_unsent ON orders_outbox (id) WHERE sent_at IS NULL",
            reverse_sql="DROP INDEX orders_outbox_unsent",
        ),
    ]
