from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tickets', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrderState',
            fields=[
                ('order_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('ticket_id', fields.CharField(max_length=26)),
                ('version', fields.IntField()),
                ('status', fields.CharField(max_length=20)),
            ],
            options={'table': 'tickets_order_states', 'app': 'tickets', 'pk_attr': 'order_id', 'table_description': 'The latest version seen of each order that touched a ticket.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Ticket',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('title', fields.CharField(max_length=120)),
                ('price', fields.DecimalField(max_digits=9, decimal_places=2)),
                ('user_id', fields.CharField(max_length=26)),
                ('version', fields.IntField(default=0)),
                ('order_id', fields.CharField(null=True, max_length=26)),
                ('sold', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'tickets_tickets', 'app': 'tickets', 'indexes': [Index(fields=['order_id', 'sold', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
