"""Waitlists of sold-out events and tickets, and the offer of a freed ticket to the first
in line (issue 14)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('orders', '0008_refunds')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WaitlistEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope_id', fields.CharField(max_length=26)),
                ('user_id', fields.CharField(max_length=26)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('offer_ticket_id', fields.CharField(null=True, max_length=26)),
                ('offer_ends', fields.BigIntField(null=True)),
            ],
            options={'table': 'orders_waitlist', 'app': 'orders', 'unique_together': (('scope_id', 'user_id'),), 'indexes': [Index(fields=['scope_id', 'offer_ticket_id', 'id']), Index(fields=['offer_ends'])], 'pk_attr': 'id', 'table_description': 'Someone waiting for a ticket of a sold-out event or ticket (the *scope*) to come'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='TicketReplica',
            name='offer_ends',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='TicketReplica',
            name='offered_to',
            field=fields.CharField(null=True, max_length=26),
        ),
    ]
