"""Abstract outbox and processed-event tables; each module subclasses them in its schema."""

from __future__ import annotations

import dataclasses

from tortoise import fields
from tortoise.models import Model


class OutboxRecord(Model):
    """An event written in the same transaction as the state change that caused it."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=36, unique=True)
    event_type = fields.CharField(max_length=64)
    body = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True, db_index=True)
    attempts = fields.IntField(default=0)

    class Meta:
        abstract = True


class ProcessedEvent(Model):
    """Marks an event as handled by one consumer; unique so a redelivery has no effect."""

    id = fields.BigIntField(primary_key=True)
    consumer = fields.CharField(max_length=64)
    event_id = fields.CharField(max_length=36)
    processed_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        abstract = True
        unique_together = (("consumer", "event_id"),)


class DeadLetter(Model):
    """An event one consumer kept failing on; ``ticketing bus replay`` delivers it again."""

    id = fields.BigIntField(primary_key=True)
    consumer = fields.CharField(max_length=64)
    event_id = fields.CharField(max_length=36, db_index=True)
    event_type = fields.CharField(max_length=64)
    body = fields.TextField()
    error = fields.TextField()
    attempts = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    replayed_at = fields.DatetimeField(null=True)

    class Meta:
        abstract = True


@dataclasses.dataclass(frozen=True)
class BusTables:
    """One module's concrete bus tables, declared in its ``models`` module."""

    outbox: type[OutboxRecord]
    processed: type[ProcessedEvent]
    dead_letters: type[DeadLetter]
