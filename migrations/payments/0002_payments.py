from tortoise import migrations
from tortoise.migrations import operations as ops
from ticketing.bus.contracts import OrderStatus
from ticketing.modules.payments.models import AttemptStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('payments', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='OrderReplica',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('user_id', fields.CharField(null=True, max_length=26)),
                ('price', fields.DecimalField(null=True, max_digits=9, decimal_places=2)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(description='CREATED: created\nCOMPLETE: complete\nCANCELLED: cancelled', enum_type=OrderStatus, max_length=20)),
                ('version', fields.IntField()),
            ],
            options={'table': 'payments_orders', 'app': 'payments', 'pk_attr': 'id', 'table_description': 'What payments knows of an order, from order events applied in version order.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Payment',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('order_id', fields.CharField(unique=True, max_length=26)),
                ('attempt_id', fields.CharField(unique=True, max_length=26)),
                ('stripe_id', fields.CharField(max_length=255)),
                ('amount_cents', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payments_payments', 'app': 'payments', 'pk_attr': 'id', 'table_description': 'A charge that paid an order: at most one per order.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PaymentAttempt',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('order_id', fields.CharField(db_index=True, max_length=26)),
                ('user_id', fields.CharField(max_length=26)),
                ('payment_method', fields.CharField(max_length=255)),
                ('amount_cents', fields.BigIntField()),
                ('currency', fields.CharField(max_length=3)),
                ('idempotency_key', fields.CharField(unique=True, max_length=80)),
                ('status', fields.CharEnumField(description='PENDING: pending\nREQUIRES_ACTION: requires_action\nSUCCEEDED: succeeded\nFAILED: failed\nREFUNDED: refunded', enum_type=AttemptStatus, max_length=20)),
                ('intent_id', fields.CharField(null=True, db_index=True, max_length=255)),
                ('failure_message', fields.TextField(null=True, unique=False)),
                ('refund_id', fields.CharField(null=True, max_length=255)),
                ('refunded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'payments_attempts', 'app': 'payments', 'pk_attr': 'id', 'table_description': 'One try at charging an order, written before the provider is called.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('type', fields.CharField(max_length=100)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payments_webhook_events', 'app': 'payments', 'pk_attr': 'id', 'table_description': 'A provider event already handled, kept so a redelivery has no second effect.'},
            bases=['Model'],
        ),
    ]
