"""Tables of the tickets module (schema ``tickets``)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from ticketing.bus.contracts import TicketUpdated
from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent


class Event(Model):
    """A show with many tickets: its units are ordinary tickets carrying its id."""

    id = fields.CharField(max_length=26, primary_key=True)
    title = fields.CharField(max_length=120)
    price = fields.DecimalField(max_digits=9, decimal_places=2)
    quantity = fields.IntField()
    venue = fields.CharField(max_length=120, null=True)
    starts_at = fields.DatetimeField(null=True)
    on_sale_at = fields.DatetimeField(null=True)
    per_buyer_limit = fields.IntField()
    user_id = fields.CharField(max_length=26)
    version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Days after payment a buyer may ask for a refund; 0: the seller offers none.
    refund_days = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "tickets_events"


class Ticket(Model):
    id = fields.CharField(max_length=26, primary_key=True)
    title = fields.CharField(max_length=120)
    price = fields.DecimalField(max_digits=9, decimal_places=2)
    user_id = fields.CharField(max_length=26)
    version = fields.IntField(default=0)
    # The order holding the ticket; it stays set once the order is paid (``sold``).
    order_id = fields.CharField(max_length=26, null=True)
    sold = fields.BooleanField(default=False)
    # The event this ticket is a unit of, if any.
    event_id = fields.CharField(max_length=26, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    refund_days = fields.IntField(default=0, db_default=0)  # as its event's

    class Meta:
        table = "tickets_tickets"
        indexes = (("order_id", "sold", "id"), ("event_id", "order_id", "sold"))

    def updated_event(self) -> TicketUpdated:
        """The ``ticket:updated`` event that announces the ticket as it is now."""
        return TicketUpdated(id=self.id, version=self.version, title=self.title,
                             price=self.price, user_id=self.user_id, order_id=self.order_id,
                             event_id=self.event_id)


class Pass(Model):
    """The entry pass of a sold ticket: whose it is, which version of it is valid (a
    transfer, resale or refund raises it, so the printed token of the old one stops
    verifying) and whether it has been let in at the door."""

    ticket_id = fields.CharField(max_length=26, primary_key=True)
    # The owner's account; None while a transfer waits for its recipient, named by
    # ``owner_email``, to sign in (they need no account to be sent one).
    owner_id = fields.CharField(max_length=26, null=True)
    owner_email = fields.CharField(max_length=254, null=True)
    version = fields.IntField(default=1)
    order_id = fields.CharField(max_length=26)
    seller_id = fields.CharField(max_length=26)
    # The ticket's event, or the ticket itself where it has none: the door that admits it.
    scope_id = fields.CharField(max_length=26)
    issued_at = fields.DatetimeField()
    checked_in_at = fields.DatetimeField(null=True)
    checked_in_by = fields.CharField(max_length=254, null=True)
    # What the holder paid (a resale may ask no more) and what the first sale fetched
    # (the seller's takings, however often it is resold since). Database defaults only so
    # the columns could be added: migration 0006 fills in each ticket's price.
    paid_price = fields.DecimalField(max_digits=9, decimal_places=2, db_default=0)
    face_value = fields.DecimalField(max_digits=9, decimal_places=2, db_default=0)
    # Put back on sale by its holder: it admits nobody, nor moves, until it sells.
    on_resale = fields.BooleanField(default=False, db_default=False)
    # Refunded: nobody holds it; kept (not deleted) so a later sale raises its version.
    void = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "tickets_passes"
        indexes = (("scope_id", "ticket_id"), ("owner_id",), ("owner_email",))


class PassTransfer(Model):
    """One hand-over of a pass, so the giver still sees where it went."""

    id = fields.IntField(primary_key=True)
    ticket_id = fields.CharField(max_length=26)
    from_user_id = fields.CharField(max_length=26, db_index=True)
    to_email = fields.CharField(max_length=254)
    # The version the transfer made: the giver's token (one less) stopped verifying.
    version = fields.IntField()
    transferred_at = fields.DatetimeField()

    class Meta:
        table = "tickets_pass_transfers"


class Resale(Model):
    """A pass's holder putting the ticket back on sale, and the order that bought it."""

    id = fields.IntField(primary_key=True)
    ticket_id = fields.CharField(max_length=26)
    seller_id = fields.CharField(max_length=26)
    price = fields.DecimalField(max_digits=9, decimal_places=2)
    # The order the seller had bought it by: the one orders frees it from.
    previous_order_id = fields.CharField(max_length=26)
    listed_at = fields.DatetimeField()
    sold_order_id = fields.CharField(max_length=26, null=True)
    sold_at = fields.DatetimeField(null=True)
    # Its seller asked to take it off sale; orders has not answered yet.
    withdrawal_requested_at = fields.DatetimeField(null=True)
    # Why orders refused the last such request (an error code): a buyer held it.
    withdrawal_refusal = fields.CharField(max_length=40, null=True)

    class Meta:
        table = "tickets_resales"
        indexes = (("ticket_id", "sold_order_id"), ("seller_id",))


class DoorStaff(Model):
    """Someone a seller lets check passes in at the door of one scope (an event, or a
    ticket without one), named by the email they sign in with."""

    id = fields.IntField(primary_key=True)
    scope_id = fields.CharField(max_length=26)
    email = fields.CharField(max_length=254)
    added_at = fields.DatetimeField()

    class Meta:
        table = "tickets_door_staff"
        unique_together = (("scope_id", "email"),)
        indexes = (("email",),)


class OrderState(Model):
    """The latest version seen of each order that touched a ticket.

    Order events may arrive out of order over NATS; this lets a stale one (an
    ``order:created`` landing after its own ``order:cancelled``) be recognised and dropped.
    """

    order_id = fields.CharField(max_length=26, primary_key=True)
    version = fields.IntField()
    status = fields.CharField(max_length=20)
    # When the order's hold ends and who placed it (from its creation): the seller's view
    # shows the one; passes go to the other when a completion does not name the buyer.
    expires_at = fields.DatetimeField(null=True)
    buyer_id = fields.CharField(max_length=26, null=True)

    class Meta:
        table = "tickets_order_states"


class WaitingOrder(Model):
    """An order refused a ticket because another open order held it: the successor the
    ticket passes to if that holder's cancellation arrives later (NATS may reorder)."""

    id = fields.IntField(primary_key=True)
    order_id = fields.CharField(max_length=26)
    ticket_id = fields.CharField(max_length=26, db_index=True)

    class Meta:
        table = "tickets_waiting_orders"
        unique_together = (("order_id", "ticket_id"),)


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
