"""Tables of the orders module (schema ``orders``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ticketing.bus.contracts import OrderStatus
from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class EventReplica(Model):
    """What orders knows of an event: enough to hand out its tickets and keep its limit."""

    id = fields.CharField(max_length=26, primary_key=True)
    title = fields.CharField(max_length=120)
    price = fields.DecimalField(max_digits=9, decimal_places=2)
    quantity = fields.IntField()
    per_buyer_limit = fields.IntField()
    on_sale_at = fields.DatetimeField(null=True)
    user_id = fields.CharField(max_length=26)  # the seller: the one who runs its queue
    starts_at = fields.DatetimeField(null=True)  # a refund window ends by it

    class Meta:
        table = "orders_events"


class WaitingRoom(Model):
    """The queue of an event with an on-sale time (``waiting.py`` runs it).

    Ranks 1..``ranked`` are handed out; buyers up to ``admitted_rank`` were let in.
    ``allowance`` carries the fraction of an admission the rate has earned so far.
    """

    event_id = fields.CharField(max_length=26, primary_key=True)
    rate_per_minute = fields.IntField()
    paused = fields.BooleanField(default=False)
    opened_at = fields.DatetimeField(null=True)  # when the pre-sale arrivals were shuffled
    ranked = fields.IntField(default=0)
    admitted_rank = fields.IntField(default=0)
    admitted = fields.IntField(default=0)
    allowance = fields.FloatField(default=0)
    sold_out = fields.BooleanField(default=False)
    ticked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "orders_waiting_rooms"


class QueueEntry(Model):
    """One buyer's place in an event's queue, later arrivals ordered by ``arrival`` (an id)."""

    id = fields.IntField(primary_key=True)
    event_id = fields.CharField(max_length=26)
    user_id = fields.CharField(max_length=26)
    arrival = fields.CharField(max_length=26)
    rank = fields.IntField(null=True)
    seen_at = fields.DatetimeField()
    admitted_at = fields.DatetimeField(null=True)
    reserved_at = fields.DatetimeField(null=True)

    class Meta:
        table = "orders_queue_entries"
        unique_together = (("event_id", "user_id"),)
        # seen_at: each second's round looks for the rooms with somebody seen lately,
        # which must not read every entry of every past queue.
        indexes = (("event_id", "rank"), ("event_id", "admitted_at"), ("seen_at",))


class TicketReplica(Model):
    """What orders knows of a ticket, built from ticket events applied in version order.

    ``order_id`` is orders' own word: the active order it is handed out to, if any. A
    partial index over the free ones (migration 0004, ``orders_free_tickets``) lets a
    hand-out read an event's first free tickets without looking at the others.
    """

    id = fields.CharField(max_length=26, primary_key=True)
    title = fields.CharField(max_length=120)
    price = fields.DecimalField(max_digits=9, decimal_places=2)
    version = fields.IntField()
    event_id = fields.CharField(max_length=26, null=True)
    order_id = fields.CharField(max_length=26, null=True)
    # Who put it back on sale, if anyone: they may not buy their own resale.
    resold_by = fields.CharField(max_length=26, null=True)
    # The paid order that resale freed it from: the one a withdrawal gives it back to.
    resold_from = fields.CharField(max_length=26, null=True)
    # Days after payment its buyer may ask for a refund (its seller's word; 0: none).
    refund_days = fields.IntField(default=0, db_default=0)
    # Free, but offered to the first on its waitlist until then (epoch seconds).
    offered_to = fields.CharField(max_length=26, null=True)
    offer_ends = fields.BigIntField(null=True)

    class Meta:
        table = "orders_tickets"


class WaitlistEntry(Model):
    """Someone waiting for a ticket of a sold-out event or ticket (the *scope*) to come
    back; ``offer_ticket_id`` once one was offered to them, until ``offer_ends``."""

    id = fields.IntField(primary_key=True)
    scope_id = fields.CharField(max_length=26)
    user_id = fields.CharField(max_length=26)
    joined_at = fields.DatetimeField()
    offer_ticket_id = fields.CharField(max_length=26, null=True)
    offer_ends = fields.BigIntField(null=True)

    class Meta:
        table = "orders_waitlist"
        unique_together = (("scope_id", "user_id"),)
        indexes = (("scope_id", "offer_ticket_id", "id"), ("offer_ends",))


class Order(Model):
    """An order of one or more tickets, ``ticket_id`` the first (the contract's ``ticket``)."""

    id = fields.CharField(max_length=26, primary_key=True)
    user_id = fields.CharField(max_length=26, db_index=True)
    ticket_id = fields.CharField(max_length=26, db_index=True)
    event_id = fields.CharField(max_length=26, null=True)
    # A database default too: the orders placed before events existed held one ticket.
    quantity = fields.IntField(default=1, db_default=1)
    status = fields.CharEnumField(OrderStatus, max_length=20)
    expires_at = fields.DatetimeField()
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Paid: until when its buyer may ask for a refund (None: they may not). The refund's
    # course: asked, then granted (the order is cancelled and refunded) or refused.
    refundable_until = fields.DatetimeField(null=True)
    refund_requested_at = fields.DatetimeField(null=True)
    refunded_at = fields.DatetimeField(null=True)
    refund_refusal = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "orders_orders"


class OrderLine(Model):
    """One ticket of an order. A unique partial index (migration 0004) allows one active
    line per ticket: the database's last word on who holds it, on both databases."""

    id = fields.IntField(primary_key=True)
    order_id = fields.CharField(max_length=26, db_index=True)
    ticket_id = fields.CharField(max_length=26)
    active = fields.BooleanField(default=True)

    class Meta:
        table = "orders_order_lines"


class BuyerHolding(Model):
    """How many tickets of an event a buyer holds in active orders: the per-buyer limit is
    kept by one guarded upsert on this row, so two racing orders cannot both pass it."""

    id = fields.IntField(primary_key=True)
    user_id = fields.CharField(max_length=26)
    event_id = fields.CharField(max_length=26)
    held = fields.IntField(default=0)

    class Meta:
        table = "orders_buyer_holdings"
        unique_together = (("user_id", "event_id"),)


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
