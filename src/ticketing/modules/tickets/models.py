"""Tables of the tickets module (schema ``tickets``)."""

from __future__ import annotations

from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class Outbox(OutboxRecord):
    class Meta:
        table = "tickets_outbox"


class Processed(ProcessedEvent):
    class Meta:
        table = "tickets_processed_events"
        unique_together = (("consumer", "event_id"),)


class DeadLetter(DeadLetterRecord):
    class Meta:
        table = "tickets_dead_letters"
