"""The offline provider keeps its PaymentIntents in the database, as Stripe keeps them:
a hold made before a restart can still be captured or released after it."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('payments', '0004_authorize_then_capture')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OfflineIntent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ('authorize_key', fields.CharField(unique=True, max_length=255)),
                ('payment_method', fields.CharField(max_length=255)),
                ('declined', fields.BooleanField(default=False)),
                ('status', fields.CharField(max_length=16)),
                ('amount_cents', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('metadata', fields.TextField(unique=False)),
                ('failure_message', fields.TextField(null=True, unique=False)),
                ('capture_key', fields.CharField(null=True, max_length=255)),
                ('refund_id', fields.CharField(null=True, max_length=40)),
                ('refund_key', fields.CharField(null=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payments_offline_intents', 'app': 'payments', 'pk_attr': 'id', 'table_description': 'A PaymentIntent of the offline provider (``TICKETING_PAYMENTS=fake``).'},
            bases=['Model'],
        ),
    ]
