"""Tables of the mail module (schema ``mail``)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class MessageState(StrEnum):
    UNADDRESSED = "unaddressed"  # its reader's address has not arrived yet
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"  # refused for good, or given up on after many tries


class Recipient(Model):
    """A user's address, from ``auth:user-registered``: whom a user's mail goes to."""

    user_id = fields.CharField(max_length=26, primary_key=True)
    email = fields.CharField(max_length=254)

    class Meta:
        table = "mail_recipients"


class Listing(Model):
    """The title of a ticket or an event, for the words of a message (newest version wins)."""

    id = fields.CharField(max_length=26, primary_key=True)
    title = fields.CharField(max_length=120)
    version = fields.IntField(default=0)

    class Meta:
        table = "mail_listings"


class OrderCopy(Model):
    """What the mails about one order say: whose it is, what it holds, what it costs."""

    id = fields.CharField(max_length=26, primary_key=True)
    user_id = fields.CharField(max_length=26)
    listing_id = fields.CharField(max_length=26)  # its event, or its first ticket
    quantity = fields.IntField()
    total = fields.DecimalField(max_digits=12, decimal_places=2)
    expires_at = fields.DatetimeField()
    ticket_ids: list[str] = fields.JSONField()

    class Meta:
        table = "mail_orders"


class Message(Model):
    """One mail, written once per cause (the unique ``cause`` says which: an event can
    arrive twice, a cause mails once). ``message_id`` comes from the cause, so a message
    sent again after a crash carries the same Message-ID and a reader's mail program
    shows it once.

    The sender owns a queued message from the moment it moves ``next_attempt_at`` past
    now (a lease) until it records the outcome.
    """

    id = fields.CharField(max_length=26, primary_key=True)
    cause = fields.CharField(max_length=200, unique=True)
    message_id = fields.CharField(max_length=200)
    user_id = fields.CharField(max_length=26, null=True, db_index=True)
    to_address = fields.CharField(max_length=254, null=True)
    subject = fields.CharField(max_length=200)
    body = fields.TextField()
    state = fields.CharEnumField(MessageState, max_length=12)
    created_at = fields.DatetimeField()
    next_attempt_at = fields.DatetimeField()
    attempts = fields.IntField(default=0)
    sent_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "mail_messages"
        indexes = (("state", "next_attempt_at"),)


class Outbox(OutboxRecord):
    class Meta:
        table = "mail_outbox"


class Processed(ProcessedEvent):
    class Meta:
        table = "mail_processed_events"
        unique_together = (("consumer", "event_id"),)


class DeadLetter(DeadLetterRecord):
    class Meta:
        table = "mail_dead_letters"
