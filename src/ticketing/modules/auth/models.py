"""Tables of the auth module (schema ``auth``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class User(Model):
    id = fields.CharField(max_length=26, primary_key=True)
    # Stored lower-cased, so the unique index makes emails unique case-insensitively.
    email = fields.CharField(max_length=254, unique=True)
    password_hash = fields.CharField(max_length=255)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "auth_users"


class ThrottleWindow(Model):
    """Failures counted for one key (an account or a client address) in a fixed window."""

    key = fields.CharField(max_length=300, primary_key=True)
    window_started_at = fields.DatetimeField()
    failures = fields.IntField(default=0)

    class Meta:
        table = "auth_throttle_windows"


class Outbox(OutboxRecord):
    class Meta:
        table = "auth_outbox"


class Processed(ProcessedEvent):
    class Meta:
        table = "auth_processed_events"
        unique_together = (("consumer", "event_id"),)


class DeadLetter(DeadLetterRecord):
    class Meta:
        table = "auth_dead_letters"
