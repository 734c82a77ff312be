from tortoise import migrations
from tortoise.migrations import operations as ops
from ticketing.modules.orders.models import OrderStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('orders', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Order',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('user_id', fields.CharField(db_index=True, max_length=26)),
                ('ticket_id', fields.CharField(db_index=True, max_length=26)),
                ('status', fields.CharEnumField(description='CREATED: created\nAWAITING_PAYMENT: awaiting:payment\nCOMPLETE: complete\nCANCELLED: cancelled', enum_type=OrderStatus, max_length=20)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('version', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'orders_orders', 'app': 'orders', 'pk_attr': 'id', 'table_description': 'An order. A unique partial index (migration 0003) allows one active order per ticket.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TicketReplica',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('title', fields.CharField(max_length=120)),
                ('price', fields.DecimalField(max_digits=9, decimal_places=2)),
                ('version', fields.IntField()),
            ],
            options={'table': 'orders_tickets', 'app': 'orders', 'pk_attr': 'id', 'table_description': 'What orders knows of a ticket, built from ticket events applied in version order.'},
            bases=['Model'],
        ),
    ]
