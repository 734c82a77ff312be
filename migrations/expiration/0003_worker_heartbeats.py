from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('expiration', '0002_pending_expirations')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WorkerHeartbeat',
            fields=[
                ('holder', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('tasks', fields.TextField(unique=False)),
                ('seen_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'expiration_worker_heartbeats', 'app': 'expiration', 'pk_attr': 'holder', 'table_description': 'What one expiration process\'s tasks were doing when it last said (every few seconds).'},
            bases=['Model'],
        ),
    ]
