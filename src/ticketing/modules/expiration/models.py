"""Tables of the expiration module (schema ``expiration``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class PendingExpiration(Model):
    """An open order's deadline. The row is deleted when it fires or the order closes."""

    order_id = fields.CharField(max_length=26, primary_key=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "expiration_pending"


class SchedulerLease(Model):
    """Which replica may run the scheduler, and until when (renewed every second)."""

    name = fields.CharField(max_length=32, primary_key=True)
    holder = fields.CharField(max_length=64)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "expiration_scheduler_lease"


class WorkerHeartbeat(Model):
    """What one expiration process's tasks were doing when it last said (every few seconds).

    ``ticketing bus status`` reads these rows: it runs in another process and sees no
    task of the servers otherwise.
    """

    holder = fields.CharField(max_length=64, primary_key=True)
    tasks = fields.TextField()  # JSON: task name -> state, restarts, failing, last error
    seen_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "expiration_worker_heartbeats"


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
