"""What orders does when others speak: the ticket replica, expiries and payments."""

from __future__ import annotations

import logging
from decimal import Decimal
from functools import cache

from ticketing.bus.consumer import RetryLater, Subscriptions
from ticketing.bus.contracts import (
    EventCreated,
    ExpirationComplete,
    OrderPaymentRefused,
    OrderResaleWithdrawalRefused,
    OrderResaleWithdrawn,
    OrderStatus,
    PaymentAuthorized,
    PaymentCreated,
    TicketCreated,
    TicketRefundGranted,
    TicketRefundRefused,
    TicketResaleListed,
    TicketResaleWithdrawalRequested,
    TicketUpdated,
)
from ticketing.bus.outbox import UnitOfWork
from ticketing.bus.sql import dialect_of, parameters
from ticketing.clock import utc_now
from ticketing.ids import unit_id
from ticketing.modules.orders import allocation, waitlist
from ticketing.modules.orders.models import EventReplica, Order, TicketReplica
from ticketing.modules.orders.rules import ReplicaStep, payment_refusal, replica_step
from ticketing.modules.orders.transitions import close_order, refund_order
from ticketing.modules.orders.waiting import WaitingRooms

log = logging.getLogger("ticketing.orders")

# Replica rows of an event's units are written this many per INSERT.
UNIT_BATCH = 1000


@cache
def _next_version(dialect: str) -> str:
    p = parameters(dialect)
    return (f"UPDATE orders_tickets SET title = {p(1)}, price = {p(2)}, version = {p(3)} "
            f"WHERE id = {p(4)} AND version = {p(5)}")


async def on_ticket_changed(event: TicketCreated | TicketUpdated, unit: UnitOfWork) -> None:
    refund_days = (event.refund_days or 0) if isinstance(event, TicketCreated) else 0
    await _apply_version(unit, event.id, event.version, event.title, event.price,
                         refund_days)


async def on_resale_listed(event: TicketResaleListed, unit: UnitOfWork) -> None:
    """The ticket is on sale again at its new price (this event and its ``ticket:updated``
    carry the same version; whichever comes first applies it): the order that bought it
    lets go, and its seller may not buy it."""
    await _apply_version(unit, event.ticket_id, event.version, event.title, event.price)
    previous = await Order.get_or_none(id=event.previous_order_id, using_db=unit.connection)
    if previous is None:
        raise RetryLater(f"resale of {event.ticket_id} from unknown order "
                         f"{event.previous_order_id}")
    freed = await allocation.free_resale(unit.connection, event.ticket_id, previous.id,
                                         event.seller_id, previous.event_id,
                                         previous.user_id)
    await waitlist.offer(unit, freed, utc_now())


async def on_resale_withdrawal_requested(event: TicketResaleWithdrawalRequested,
                                         unit: UnitOfWork) -> None:
    """Give the ticket back to the order it was freed from, unless a buyer holds it (or
    that order's buyer holds as many as one may since); an offer of it to someone waiting
    ends (they keep their place). Waits until the copy has caught up with the ticket as
    tickets saw it when asked (the listing, at least)."""
    connection = unit.connection
    replica = await TicketReplica.get_or_none(id=event.ticket_id, using_db=connection)
    # The version alone does not say the listing was applied: its ticket:updated carries
    # the same one, and may come first. Until it is, the old order still holds the ticket.
    if replica is None or replica.version < event.version \
            or replica.order_id == event.previous_order_id:
        raise RetryLater(f"withdrawal of {event.ticket_id} v{event.version} before its copy")
    previous = await Order.get(id=event.previous_order_id, using_db=connection)
    event_copy = await EventReplica.get_or_none(id=previous.event_id, using_db=connection) \
        if previous.event_id else None
    refusal = await allocation.withdraw_resale(
        connection, event.ticket_id, previous.id, event.seller_id, previous.event_id,
        previous.user_id, event_copy.per_buyer_limit if event_copy else 0)
    if refusal is not None:
        await unit.publish(OrderResaleWithdrawalRefused(
            ticket_id=event.ticket_id, order_id=previous.id, reason=refusal))
        return
    await waitlist.withdrawn(unit, previous.event_id or event.ticket_id, event.ticket_id)
    await unit.publish(OrderResaleWithdrawn(ticket_id=event.ticket_id, order_id=previous.id))


async def _apply_version(unit: UnitOfWork, ticket_id: str, version: int, title: str,
                         price: Decimal, refund_days: int = 0) -> None:
    """Apply strictly in version order: wait for a missing predecessor, drop the stale.
    The usual case, the next version of a known ticket, is one guarded statement.
    (``refund_days`` is the creation's: the seller's refund policy is fixed once listed.)"""
    connection = unit.connection
    if version > 0:
        applied, _ = await connection.execute_query(
            _next_version(dialect_of(connection)),
            [title, price, version, ticket_id, version - 1])
        if applied:
            return
    replica = await TicketReplica.filter(id=ticket_id).using_db(connection) \
        .select_for_update().first()
    step = replica_step(replica.version if replica is not None else None, version)
    if step is ReplicaStep.WAIT:
        raise RetryLater(f"ticket {ticket_id} v{version} before its predecessor")
    if step is ReplicaStep.IGNORE:
        return
    if replica is None:
        await TicketReplica.create(id=ticket_id, title=title, price=price, version=version,
                                   refund_days=refund_days, using_db=connection)
        return
    replica.title, replica.price, replica.version = title, price, version
    await replica.save(using_db=connection, update_fields=["title", "price", "version"])


async def on_event_created(event: EventCreated, unit: UnitOfWork,
                           waiting: WaitingRooms) -> None:
    """An event and its units, each a ticket at version 0 (``ticket:updated`` moves them
    on from there, in version order like any ticket's); an on-sale time opens a queue."""
    if event.on_sale_at is not None:
        await waiting.open_room(unit.connection, event.id)
    await EventReplica.create(id=event.id, title=event.title, price=event.price,
                              quantity=event.quantity, per_buyer_limit=event.per_buyer_limit,
                              on_sale_at=event.on_sale_at, user_id=event.user_id,
                              starts_at=event.starts_at,
                              using_db=unit.connection)
    await TicketReplica.bulk_create(
        [TicketReplica(id=unit_id(event.id, index), title=event.title, price=event.price,
                       version=0, event_id=event.id, refund_days=event.refund_days or 0)
         for index in range(event.quantity)],
        batch_size=UNIT_BATCH, using_db=unit.connection)


async def on_expiration_complete(event: ExpirationComplete, unit: UnitOfWork) -> None:
    """The window closed: cancel unless the order was paid or cancelled meanwhile."""
    await close_order(unit, event.order_id, OrderStatus.CANCELLED, expired=True)


async def on_payment_authorized(event: PaymentAuthorized, unit: UnitOfWork) -> None:
    """Orders is where a payment and a cancel or an expiry meet: the first one here
    wins. An open order whose window was still open when the money was held is
    completed (payments then captures); otherwise the payment is refused (payments
    releases the hold, and no money moves)."""
    order = await Order.filter(id=event.order_id).using_db(unit.connection) \
        .select_for_update().first()
    if order is None:
        raise RetryLater(f"payment {event.id} for order {event.order_id} not known yet")
    refusal = payment_refusal(order.status, order.expires_at, event.authorized_at)
    if refusal is None:
        await close_order(unit, order.id, OrderStatus.COMPLETE, payment_id=event.id)
        return
    log.info("order=%s refuses payment=%s: %s", order.id, event.id, refusal)
    await unit.publish(OrderPaymentRefused(id=order.id, payment_id=event.id, reason=refusal))


async def on_payment_created(event: PaymentCreated, unit: UnitOfWork) -> None:
    """The money moved. Normally the order was completed already (it accepted the
    authorisation); a payment of the 0.1 flow completes an order still open."""
    await close_order(unit, event.order_id, OrderStatus.COMPLETE, payment_id=event.id)


async def on_refund_granted(event: TicketRefundGranted, unit: UnitOfWork) -> None:
    """Tickets took the tickets back: the order is cancelled and refunded."""
    await refund_order(unit, event.order_id)


async def on_refund_refused(event: TicketRefundRefused, unit: UnitOfWork) -> None:
    """The refund cannot be: the order stays paid, and its buyer is told why."""
    await Order.filter(id=event.order_id, refunded_at=None).using_db(unit.connection) \
        .update(refund_requested_at=None, refund_refusal=event.reason)


def subscriptions(waiting: WaitingRooms) -> Subscriptions:
    """What orders reacts to; a new event's queue is opened by ``waiting``."""

    async def event_created(event: EventCreated, unit: UnitOfWork) -> None:
        await on_event_created(event, unit, waiting)

    return {
        TicketCreated: on_ticket_changed,
        TicketUpdated: on_ticket_changed,
        TicketResaleListed: on_resale_listed,
        TicketResaleWithdrawalRequested: on_resale_withdrawal_requested,
        EventCreated: event_created,
        ExpirationComplete: on_expiration_complete,
        PaymentAuthorized: on_payment_authorized,
        PaymentCreated: on_payment_created,
        TicketRefundGranted: on_refund_granted,
        TicketRefundRefused: on_refund_refused,
    }
