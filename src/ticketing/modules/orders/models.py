"""Tables of the orders module (schema ``orders``)."""

from __future__ import annotations

from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class Outbox(OutboxRecord):
    class Meta:
        table = "orders_outbox"


class Processed(ProcessedEvent):
    class Meta:
        table = "orders_processed_events"
        unique_together = (("consumer", "event_id"),)


class DeadLetter(DeadLetterRecord):
    class Meta:
        table = "orders_dead_letters"
