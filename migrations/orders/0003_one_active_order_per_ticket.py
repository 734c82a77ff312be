"""At most one active order per ticket, enforced by the database.

A unique partial index works the same on SQLite and PostgreSQL: of many concurrent
reservations for one ticket exactly one insert succeeds, the rest violate the index.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_orders_and_ticket_replica")]

    operations = [
        ops.RunSQL(
            "CREATE UNIQUE INDEX orders_one_active_order_per_ticket "
            "ON orders_orders (ticket_id) WHERE status <> 'cancelled'",
            reverse_sql="DROP INDEX orders_one_active_order_per_ticket",
        ),
    ]
