"""Tables of the payments module (schema ``payments``)."""

from __future__ import annotations

from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class Outbox(OutboxRecord):
    class Meta:
        table = "payments_outbox"


class Processed(ProcessedEvent):
    class Meta:
        table = "payments_processed_events"
        unique_together = (("consumer", "event_id"),)


class DeadLetter(DeadLetterRecord):
    class Meta:
        table = "payments_dead_letters"
