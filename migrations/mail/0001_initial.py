"""The mail module (issue 14, ADR 0024): addresses, titles, orders and one message per cause;
the unsent outbox rows indexed as every module's are (auth 0002)."""

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from ticketing.modules.mail.models import MessageState
from tortoise import fields
from tortoise.indexes import Index

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
            options={'table': 'mail_dead_letters', 'app': 'mail', 'pk_attr': 'id'},
            bases=['DeadLetter'],
        ),
        ops.CreateModel(
            name='Listing',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('title', fields.CharField(max_length=120)),
                ('version', fields.IntField(default=0)),
            ],
            options={'table': 'mail_listings', 'app': 'mail', 'pk_attr': 'id', 'table_description': 'The title of a ticket or an event, for the words of a message (newest version wins).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('cause', fields.CharField(unique=True, max_length=200)),
                ('message_id', fields.CharField(max_length=200)),
                ('user_id', fields.CharField(null=True, db_index=True, max_length=26)),
                ('to_address', fields.CharField(null=True, max_length=254)),
                ('subject', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('state', fields.CharEnumField(description='UNADDRESSED: unaddressed\nQUEUED: queued\nSENT: sent\nFAILED: failed', enum_type=MessageState, max_length=12)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'mail_messages', 'app': 'mail', 'indexes': [Index(fields=['state', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'One mail, written once per cause (the unique ``cause`` says which: an event can'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OrderCopy',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('user_id', fields.CharField(max_length=26)),
                ('listing_id', fields.CharField(max_length=26)),
                ('quantity', fields.IntField()),
                ('total', fields.DecimalField(max_digits=12, decimal_places=2)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ticket_ids', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'mail_orders', 'app': 'mail', 'pk_attr': 'id', 'table_description': 'What the mails about one order say: whose it is, what it holds, what it costs.'},
            bases=['Model'],
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
            options={'table': 'mail_outbox', 'app': 'mail', 'pk_attr': 'id'},
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
            options={'table': 'mail_processed_events', 'app': 'mail', 'unique_together': (('consumer', 'event_id'),), 'pk_attr': 'id'},
            bases=['ProcessedEvent'],
        ),
        ops.CreateModel(
            name='Recipient',
            fields=[
                ('user_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=26)),
                ('email', fields.CharField(max_length=254)),
            ],
            options={'table': 'mail_recipients', 'app': 'mail', 'pk_attr': 'user_id', 'table_description': "A user's address, from ``auth:user-registered``: whom a user's mail goes to."},
            bases=['Model'],
        ),
        ops.RunSQL(
            "CREATE INDEX mail_outbox_unsent ON mail_outbox (id) WHERE sent_at IS NULL",
            reverse_sql="DROP INDEX mail_outbox_unsent",
        ),
    ]
