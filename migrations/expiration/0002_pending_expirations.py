from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('expiration', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PendingExpiration',
            fields=[
                ('order_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'expiration_pending', 'app': 'expiration', 'pk_attr': 'order_id', 'table_description': "An open order's deadline. The row is deleted when it fires or the order closes."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SchedulerLease',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('holder', fields.CharField(max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'expiration_scheduler_lease', 'app': 'expiration', 'pk_attr': 'name', 'table_description': 'Which replica may run the scheduler, and until when (renewed every second).'},
            bases=['Model'],
        ),
    ]
