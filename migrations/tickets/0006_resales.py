"""Resales: a pass's holder puts the ticket back on sale at no more than they paid
(issue 14). Passes learn what was paid for them, filled in from the ticket's price."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tickets', '0005_passes_and_door_staff')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Resale',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket_id', fields.CharField(max_length=26)),
                ('seller_id', fields.CharField(max_length=26)),
                ('price', fields.DecimalField(max_digits=9, decimal_places=2)),
                ('previous_order_id', fields.CharField(max_length=26)),
                ('listed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sold_order_id', fields.CharField(null=True, max_length=26)),
                ('sold_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tickets_resales', 'app': 'tickets', 'indexes': [Index(fields=['ticket_id', 'sold_order_id']), Index(fields=['seller_id'])], 'pk_attr': 'id', 'table_description': "A pass's holder putting the ticket back on sale, and the order that bought it."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Pass',
            name='face_value',
            field=fields.DecimalField(db_default=0, max_digits=9, decimal_places=2),
        ),
        ops.AddField(
            model_name='Pass',
            name='on_resale',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Pass',
            name='paid_price',
            field=fields.DecimalField(db_default=0, max_digits=9, decimal_places=2),
        ),
        ops.RunSQL(
            "UPDATE tickets_passes SET paid_price = (SELECT t.price FROM tickets_tickets t "
            "WHERE t.id = tickets_passes.ticket_id), face_value = (SELECT t.price FROM "
            "tickets_tickets t WHERE t.id = tickets_passes.ticket_id)",
            reverse_sql="UPDATE tickets_passes SET paid_price = 0, face_value = 0",
        ),
    ]
