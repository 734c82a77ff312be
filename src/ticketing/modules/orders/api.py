"""The orders module's public facade: reserve, list, show, cancel; and its reactions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from ticketing.bus.consumer import RetryLater, Subscriptions
from ticketing.bus.contracts import (
    ExpirationComplete,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderPaymentRefused,
    OrderStatus,
    PaymentAuthorized,
    PaymentCreated,
    TicketCreated,
    TicketRef,
    TicketUpdated,
)
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.bus.replicas import replicated
from ticketing.clock import Clock, utc_now
from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id
from ticketing.modules.orders.models import Order, TicketReplica

__all__ = ["CannotCancelCompleted", "OrdersApi", "TicketAlreadyReserved", "order_json"]

log = logging.getLogger("ticketing.orders")

ACTIVE = (OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT, OrderStatus.COMPLETE)


class TicketAlreadyReserved(DomainError):
    code = "ticket_reserved"

    def __init__(self) -> None:
        super().__init__("Ticket is already reserved")


class CannotCancelCompleted(DomainError):
    code = "order_complete"

    def __init__(self) -> None:
        super().__init__("Cannot cancel a completed order")


def order_json(order: Order, ticket: TicketReplica) -> dict[str, Any]:
    """The contract's order JSON, its ticket embedded."""
    return {
        "id": order.id,
        "status": order.status.value,
        "userId": order.user_id,
        "expiresAt": order.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "version": order.version,
        "ticket": {"id": ticket.id, "title": ticket.title, "price": float(ticket.price),
                   "version": ticket.version},
    }


class OrdersApi:
    def __init__(self, outbox: Outbox, reservation_seconds: int,
                 clock: Clock = utc_now) -> None:
        self._outbox = outbox
        self._window = timedelta(seconds=reservation_seconds)
        self._clock = clock

    @property
    def subscriptions(self) -> Subscriptions:
        """What orders reacts to: the ticket catalogue, expiries and payments."""
        return {
            TicketCreated: self.on_ticket_created,
            TicketUpdated: self.on_ticket_updated,
            ExpirationComplete: self.on_expiration_complete,
            PaymentAuthorized: self.on_payment_authorized,
            PaymentCreated: self.on_payment_created,
        }

    async def reserve(self, user_id: str, ticket_id: str) -> dict[str, Any]:
        """Hold a ticket for the reservation window.

        The unique partial index over active orders makes the database pick exactly one
        winner when many buyers race for the same ticket; the early check only makes
        the common refusal cheap.
        """
        ticket = (await replicated(ticket_id, lambda: TicketReplica.get_or_none(id=ticket_id))
                  if is_valid_id(ticket_id) else None)
        if ticket is None:
            raise NotFound()
        if await Order.filter(ticket_id=ticket.id, status__in=ACTIVE).exists():
            raise TicketAlreadyReserved()
        order = Order(id=new_id(), user_id=user_id, ticket_id=ticket.id,
                      status=OrderStatus.CREATED, expires_at=self._clock() + self._window)
        try:
            async with self._outbox.transaction() as unit:
                await order.save(using_db=unit.connection, force_create=True)
                await unit.publish(OrderCreated(
                    id=order.id, version=order.version, status=order.status.value,
                    user_id=user_id, expires_at=order.expires_at,
                    ticket=TicketRef(id=ticket.id, price=ticket.price),
                ))
        except IntegrityError:
            raise TicketAlreadyReserved() from None
        return order_json(order, ticket)

    async def list_for(self, user_id: str) -> list[dict[str, Any]]:
        """The user's orders, oldest first."""
        orders = await Order.filter(user_id=user_id).order_by("id")
        tickets = {t.id: t for t in await TicketReplica.filter(
            id__in={o.ticket_id for o in orders})}
        return [order_json(o, tickets[o.ticket_id]) for o in orders]

    async def get(self, user_id: str, order_id: str) -> dict[str, Any]:
        order = await _owned(user_id, order_id)
        return order_json(order, await TicketReplica.get(id=order.ticket_id))

    async def cancel(self, user_id: str, order_id: str) -> None:
        """Cancel: a paid order refuses; an already cancelled one is left alone."""
        order = await _owned(user_id, order_id)
        if order.status == OrderStatus.COMPLETE:
            raise CannotCancelCompleted()
        async with self._outbox.transaction() as unit:
            if not await self._transition(unit, order.id, OrderStatus.CANCELLED):
                current = await Order.get(id=order.id)
                if current.status == OrderStatus.COMPLETE:
                    raise CannotCancelCompleted()

    async def on_ticket_created(self, event: TicketCreated, unit: UnitOfWork) -> None:
        if await TicketReplica.exists(id=event.id):
            return
        await TicketReplica.create(id=event.id, title=event.title, price=event.price,
                                   version=event.version, using_db=unit.connection)

    async def on_ticket_updated(self, event: TicketUpdated, unit: UnitOfWork) -> None:
        """Apply strictly in version order: wait for a missing predecessor, drop the stale."""
        replica = await TicketReplica.filter(id=event.id).using_db(unit.connection) \
            .select_for_update().first()
        if replica is None or replica.version < event.version - 1:
            raise RetryLater(f"ticket {event.id} v{event.version} before its predecessor")
        if replica.version >= event.version:
            return
        replica.title, replica.price, replica.version = event.title, event.price, event.version
        await replica.save(using_db=unit.connection, update_fields=["title", "price", "version"])

    async def on_expiration_complete(self, event: ExpirationComplete, unit: UnitOfWork) -> None:
        """The window closed: cancel unless the order was paid or cancelled meanwhile."""
        await self._transition(unit, event.order_id, OrderStatus.CANCELLED)

    async def on_payment_authorized(self, event: PaymentAuthorized, unit: UnitOfWork) -> None:
        """Orders is where a payment and a cancel or an expiry meet: the first one here
        wins. An open order whose window was still open when the money was held is
        completed (payments then captures); otherwise the payment is refused (payments
        releases the hold, and no money moves)."""
        order = await Order.filter(id=event.order_id).using_db(unit.connection) \
            .select_for_update().first()
        if order is None:
            raise RetryLater(f"payment {event.id} for order {event.order_id} not known yet")
        refusal = _refusal_of(order, event.authorized_at)
        if refusal is None:
            await self._transition(unit, order.id, OrderStatus.COMPLETE, payment_id=event.id)
            return
        log.info("order=%s refuses payment=%s: %s", order.id, event.id, refusal)
        await unit.publish(OrderPaymentRefused(id=order.id, payment_id=event.id, reason=refusal))

    async def on_payment_created(self, event: PaymentCreated, unit: UnitOfWork) -> None:
        """The money moved. Normally the order was completed already (it accepted the
        authorisation); a payment of the 0.1 flow completes an order still open."""
        await self._transition(unit, event.order_id, OrderStatus.COMPLETE, payment_id=event.id)

    async def _transition(self, unit: UnitOfWork, order_id: str, status: OrderStatus,
                          payment_id: str | None = None) -> bool:
        """Move an open order to ``status`` (version + 1) and publish it; False if closed."""
        order = await Order.filter(id=order_id).using_db(unit.connection) \
            .select_for_update().first()
        if order is None or order.status in (OrderStatus.COMPLETE, OrderStatus.CANCELLED):
            return False
        order.status = status
        order.version += 1
        await order.save(using_db=unit.connection, update_fields=["status", "version"])
        ticket = TicketRef(id=order.ticket_id)
        if status == OrderStatus.CANCELLED:
            await unit.publish(OrderCancelled(id=order.id, version=order.version, ticket=ticket))
        else:
            await unit.publish(OrderCompleted(id=order.id, version=order.version, ticket=ticket,
                                              payment_id=payment_id))
        return True


def _refusal_of(order: Order, authorized_at: datetime) -> str | None:
    """Why an order cannot take a payment held at ``authorized_at``: a reason code."""
    if order.status == OrderStatus.CANCELLED:
        return "order_cancelled"
    if order.status == OrderStatus.COMPLETE:
        return "order_paid"
    if authorized_at >= order.expires_at:
        return "order_expired"
    return None


async def _owned(user_id: str, order_id: str) -> Order:
    """404 for an unknown (or malformed) id, 401 for someone else's order."""
    order = await Order.get_or_none(id=order_id) if is_valid_id(order_id) else None
    if order is None:
        raise NotFound()
    if order.user_id != user_id:
        raise NotAuthorized()
    return order
