"""Passes for sold tickets, their transfers, the door staff sellers name, and when an
order's hold ends and whose it is (issue 14)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('tickets', '0004_unsent_outbox_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DoorStaff',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope_id', fields.CharField(max_length=26)),
                ('email', fields.CharField(max_length=254)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tickets_door_staff', 'app': 'tickets', 'unique_together': (('scope_id', 'email'),), 'indexes': [Index(fields=['email'])], 'pk_attr': 'id', 'table_description': 'Someone a seller lets check passes in at the door of one scope (an event, or a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Pass',
            fields=[
                ('ticket_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('owner_id', fields.CharField(null=True, max_length=26)),
                ('owner_email', fields.CharField(null=True, max_length=254)),
                ('version', fields.IntField(default=1)),
                ('order_id', fields.CharField(max_length=26)),
                ('seller_id', fields.CharField(max_length=26)),
                ('scope_id', fields.CharField(max_length=26)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('checked_in_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('checked_in_by', fields.CharField(null=True, max_length=254)),
            ],
            options={'table': 'tickets_passes', 'app': 'tickets', 'indexes': [Index(fields=['scope_id', 'ticket_id']), Index(fields=['owner_id']), Index(fields=['owner_email'])], 'pk_attr': 'ticket_id', 'table_description': 'The entry pass of a sold ticket: whose it is, which version of it is valid (a'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PassTransfer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket_id', fields.CharField(max_length=26)),
                ('from_user_id', fields.CharField(db_index=True, max_length=26)),
                ('to_email', fields.CharField(max_length=254)),
                ('version', fields.IntField()),
                ('transferred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tickets_pass_transfers', 'app': 'tickets', 'pk_attr': 'id', 'table_description': 'One hand-over of a pass, so the giver still sees where it went.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='OrderState',
            name='buyer_id',
            field=fields.CharField(null=True, max_length=26),
        ),
        ops.AddField(
            model_name='OrderState',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
