"""Events of many tickets; an order's refused tickets kept apart from its state, since an
order may now hold several."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tickets', '0002_tickets')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Event',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('title', fields.CharField(max_length=120)),
                ('price', fields.DecimalField(max_digits=9, decimal_places=2)),
                ('quantity', fields.IntField()),
                ('venue', fields.CharField(null=True, max_length=120)),
                ('starts_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('on_sale_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('per_buyer_limit', fields.IntField()),
                ('user_id', fields.CharField(max_length=26)),
                ('version', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tickets_events', 'app': 'tickets', 'pk_attr': 'id', 'table_description': 'A show with many tickets: its units are ordinary tickets carrying its id.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WaitingOrder',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.CharField(max_length=26)),
                ('ticket_id', fields.CharField(db_index=True, max_length=26)),
            ],
            options={'table': 'tickets_waiting_orders', 'app': 'tickets', 'unique_together': (('order_id', 'ticket_id'),), 'pk_attr': 'id', 'table_description': 'An order refused a ticket because another open order held it: the successor the'},
            bases=['Model'],
        ),
        ops.RunSQL(
            "INSERT INTO tickets_waiting_orders (order_id, ticket_id) "
            "SELECT order_id, ticket_id FROM tickets_order_states",
            reverse_sql="DELETE FROM tickets_waiting_orders",
        ),
        ops.RemoveField(model_name='OrderState', name='ticket_id'),
        ops.AddField(
            model_name='Ticket',
            name='event_id',
            field=fields.CharField(null=True, max_length=26),
        ),
        ops.AddIndex(
            model_name='Ticket',
            index=Index(fields=['event_id', 'order_id', 'sold']),
        ),
    ]
