"""Tables of the orders module (schema ``orders``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ticketing.bus.contracts import OrderStatus
from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class TicketReplica(Model):
    """What orders knows of a ticket, built from ticket events applied in version order."""

    id = fields.CharField(max_length=26, primary_key=True)
    title = fields.CharField(max_length=120)
    price = fields.DecimalField(max_digits=9, decimal_places=2)
    version = fields.IntField()

    class Meta:
        table = "orders_tickets"


class Order(Model):
    """An order. A unique partial index (migration 0003) allows one active order per ticket."""

    id = fields.CharField(max_length=26, primary_key=True)
    user_id = fields.CharField(max_length=26, db_index=True)
    ticket_id = fields.CharField(max_length=26, db_index=True)
    status = fields.CharEnumField(OrderStatus, max_length=20)
    expires_at = fields.DatetimeField()
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "orders_orders"


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
