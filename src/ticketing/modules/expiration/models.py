"""Tables of the expiration module (schema ``expiration``)."""

from __future__ import annotations

from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class Outbox(OutboxRecord):
    class Meta:
        table = "expiration_outbox"


class Processed(ProcessedEvent):
    class Meta:
        table = "expiration_processed_events"
        unique_together = (("consumer", "event_id"),)


class DeadLetter(DeadLetterRecord):
    class Meta:
        table = "expiration_dead_letters"
