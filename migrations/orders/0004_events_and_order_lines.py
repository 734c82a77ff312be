"""Events, orders of many tickets, and the waiting rooms of events with an on-sale time.

Every order now has a line per ticket; a unique partial index over active lines replaces
0003's index over orders (whose ``ticket_id`` is now only the first ticket). Existing
orders get their one line, and each ticket replica records the active order it is
handed out to.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('orders', '0003_one_active_order_per_ticket')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BuyerHolding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.CharField(max_length=26)),
                ('event_id', fields.CharField(max_length=26)),
                ('held', fields.IntField(default=0)),
            ],
            options={'table': 'orders_buyer_holdings', 'app': 'orders', 'unique_together': (('user_id', 'event_id'),), 'pk_attr': 'id', 'table_description': 'How many tickets of an event a buyer holds in active orders: the per-buyer limit is'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EventReplica',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('title', fields.CharField(max_length=120)),
                ('price', fields.DecimalField(max_digits=9, decimal_places=2)),
                ('quantity', fields.IntField()),
                ('per_buyer_limit', fields.IntField()),
                ('on_sale_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('user_id', fields.CharField(max_length=26)),
            ],
            options={'table': 'orders_events', 'app': 'orders', 'pk_attr': 'id', 'table_description': 'What orders knows of an event: enough to hand out its tickets and keep its limit.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderLine',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.CharField(db_index=True, max_length=26)),
                ('ticket_id', fields.CharField(max_length=26)),
                ('active', fields.BooleanField(default=True)),
            ],
            options={'table': 'orders_order_lines', 'app': 'orders', 'pk_attr': 'id', 'table_description': 'One ticket of an order. A unique partial index (migration 0004) allows one active'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='QueueEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(max_length=26)),
                ('user_id', fields.CharField(max_length=26)),
                ('arrival', fields.CharField(max_length=26)),
                ('rank', fields.IntField(null=True)),
                ('seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('admitted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reserved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'orders_queue_entries', 'app': 'orders', 'unique_together': (('event_id', 'user_id'),), 'indexes': [Index(fields=['event_id', 'rank']), Index(fields=['event_id', 'admitted_at'])], 'pk_attr': 'id', 'table_description': "One buyer's place in an event's queue, later arrivals ordered by ``arrival`` (an id)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WaitingRoom',
            fields=[
                ('event_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('rate_per_minute', fields.IntField()),
                ('paused', fields.BooleanField(default=False)),
                ('opened_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ranked', fields.IntField(default=0)),
                ('admitted_rank', fields.IntField(default=0)),
                ('admitted', fields.IntField(default=0)),
                ('allowance', fields.FloatField(default=0)),
                ('sold_out', fields.BooleanField(default=False)),
                ('ticked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'orders_waiting_rooms', 'app': 'orders', 'pk_attr': 'event_id', 'table_description': 'The queue of an event with an on-sale time (``waiting.py`` runs it).'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='Order',
            options={'table': 'orders_orders', 'app': 'orders', 'pk_attr': 'id', 'table_description': "An order of one or more tickets, ``ticket_id`` the first (the contract's ``ticket``)."},
        ),
        ops.AddField(
            model_name='Order',
            name='event_id',
            field=fields.CharField(null=True, max_length=26),
        ),
        ops.AddField(
            model_name='Order',
            name='quantity',
            field=fields.IntField(default=1, db_default=1),
        ),
        ops.AddField(
            model_name='TicketReplica',
            name='event_id',
            field=fields.CharField(null=True, max_length=26),
        ),
        ops.AddField(
            model_name='TicketReplica',
            name='order_id',
            field=fields.CharField(null=True, max_length=26),
        ),
        ops.RunSQL(
            # An event's free tickets in id order: a hand-out reads the first few entries,
            # however many tickets the event has (a plain (event_id, order_id) index made
            # PostgreSQL sort every free ticket of a 100,000-ticket event per reservation).
            "CREATE INDEX orders_free_tickets ON orders_tickets (event_id, id) "
            "WHERE order_id IS NULL",
            reverse_sql="DROP INDEX orders_free_tickets",
        ),
        ops.RunSQL(
            "INSERT INTO orders_order_lines (order_id, ticket_id, active) "
            "SELECT id, ticket_id, status <> 'cancelled' FROM orders_orders ORDER BY id",
            reverse_sql="DELETE FROM orders_order_lines",
        ),
        ops.RunSQL(
            "UPDATE orders_tickets SET order_id = (SELECT o.id FROM orders_orders o "
            "WHERE o.ticket_id = orders_tickets.id AND o.status <> 'cancelled')",
            reverse_sql="UPDATE orders_tickets SET order_id = NULL",
        ),
        ops.RunSQL(
            "CREATE UNIQUE INDEX orders_one_active_line_per_ticket "
            "ON orders_order_lines (ticket_id) WHERE active",
            reverse_sql="DROP INDEX orders_one_active_line_per_ticket",
        ),
        ops.RunSQL(
            "DROP INDEX orders_one_active_order_per_ticket",
            reverse_sql="CREATE UNIQUE INDEX orders_one_active_order_per_ticket "
                        "ON orders_orders (ticket_id) WHERE status <> 'cancelled'",
        ),
    ]
