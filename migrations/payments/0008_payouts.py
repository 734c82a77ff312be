"""The payout ledger: what a resale's seller is owed once it sold (issue 14)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('payments', '0007_unsent_outbox_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Payout',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('payee_id', fields.CharField(db_index=True, max_length=26)),
                ('ticket_id', fields.CharField(max_length=26)),
                ('order_id', fields.CharField(max_length=26)),
                ('amount_cents', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('cause', fields.CharField(max_length=20)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'payments_payouts', 'app': 'payments', 'unique_together': (('order_id', 'ticket_id', 'cause'),), 'pk_attr': 'id', 'table_description': 'What the marketplace owes someone for a resale of theirs that sold, one entry per'},
            bases=['Model'],
        ),
    ]
