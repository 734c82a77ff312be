from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='DeadLetter',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('consumer', fields.CharField(max_length=64)),
                ('event_id', fields.CharField(db_index=True, max_length=36)),
                ('event_type', fields.CharField(max_length=64)),
                ('body', fields.TextField(unique=False)),
                ('error', fields.TextField(unique=False)),
                ('attempts', fields.IntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('replayed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'orders_dead_letters', 'app': 'orders', 'pk_attr': 'id'},
            bases=['DeadLetter'],
        ),
        ops.CreateModel(
            name='Outbox',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, max_length=36)),
                ('event_type', fields.CharField(max_length=64)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
            ],
            options={'table': 'orders_outbox', 'app': 'orders', 'pk_attr': 'id'},
            bases=['OutboxRecord'],
        ),
        ops.CreateModel(
            name='Processed',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('consumer', fields.CharField(max_length=64)),
                ('event_id', fields.CharField(max_length=36)),
                ('processed_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'orders_processed_events', 'app': 'orders', 'unique_together': (('consumer', 'event_id'),), 'pk_attr': 'id'},
            bases=['ProcessedEvent'],
        ),
    ]
