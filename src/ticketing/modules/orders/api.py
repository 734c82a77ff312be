"""The orders module's public facade: reserve, list, show and cancel orders.

Its reactions to tickets, expiries and payments are internal: ``reactions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

from tortoise.exceptions import IntegrityError

from ticketing.bus.contracts import OrderCreated, OrderStatus, TicketRef
from ticketing.bus.outbox import Outbox
from ticketing.clock import Clock, utc_now
from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id
from ticketing.modules.orders.models import Order, TicketReplica
from ticketing.modules.orders.rules import TicketAlreadyReserved, reservation_refusal
from ticketing.modules.orders.transitions import close_order
from ticketing.telemetry import metrics

__all__ = ["CannotCancelCompleted", "OrderView", "OrderedTicket", "Orders", "OrdersApi",
           "TicketAlreadyReserved"]


class CannotCancelCompleted(DomainError):
    code = "order_complete"


@dataclass(frozen=True)
class OrderedTicket:
    """The ticket an order holds, as orders' replica of it knows it."""

    id: str
    title: str
    price: Decimal
    version: int


@dataclass(frozen=True)
class OrderView:
    """An order as the facade shows it, its ticket embedded."""

    id: str
    status: OrderStatus
    user_id: str
    expires_at: datetime
    version: int
    ticket: OrderedTicket


def _view(order: Order, ticket: TicketReplica) -> OrderView:
    return OrderView(
        id=order.id, status=order.status, user_id=order.user_id, expires_at=order.expires_at,
        version=order.version,
        ticket=OrderedTicket(id=ticket.id, title=ticket.title, price=ticket.price,
                             version=ticket.version),
    )


@runtime_checkable
class Orders(Protocol):
    """What the web layer may ask of orders: commands and queries, nothing else."""

    async def reserve(self, user_id: str, ticket_id: str) -> OrderView:
        """Hold a ticket for the reservation window: 404 for a ticket orders does not
        know, 400 for one that an active order holds."""

    async def list_for(self, user_id: str) -> list[OrderView]:
        """The user's orders, oldest first."""

    async def get(self, user_id: str, order_id: str) -> OrderView:
        """One of the user's orders: 404 for an unknown id, 401 for someone else's."""

    async def cancel(self, user_id: str, order_id: str) -> None:
        """Cancel: a paid order refuses; an already cancelled one is left alone."""


class OrdersApi(Orders):
    def __init__(self, outbox: Outbox, reservation_seconds: int,
                 clock: Clock = utc_now) -> None:
        self._outbox = outbox
        self._window = timedelta(seconds=reservation_seconds)
        self._clock = clock

    async def reserve(self, user_id: str, ticket_id: str) -> OrderView:
        """The unique partial index over active orders makes the database pick exactly one
        winner when many buyers race for the same ticket; the early check only makes
        the common refusal cheap."""
        ticket = await TicketReplica.get_or_none(id=ticket_id) if is_valid_id(ticket_id) else None
        placed = await Order.filter(ticket_id=ticket_id) if ticket is not None else []
        refusal = reservation_refusal(ticket is not None, (o.status for o in placed))
        if refusal is not None:
            metrics.RESERVATIONS.labels(refusal.code).inc()
            raise refusal
        assert ticket is not None, "an unknown ticket is refused"
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
            metrics.RESERVATIONS.labels(TicketAlreadyReserved.code).inc()
            raise TicketAlreadyReserved() from None
        metrics.RESERVATIONS.labels("made").inc()
        return _view(order, ticket)

    async def list_for(self, user_id: str) -> list[OrderView]:
        orders = await Order.filter(user_id=user_id).order_by("id")
        tickets = {t.id: t for t in await TicketReplica.filter(
            id__in={o.ticket_id for o in orders})}
        return [_view(o, tickets[o.ticket_id]) for o in orders]

    async def get(self, user_id: str, order_id: str) -> OrderView:
        order = await _owned(user_id, order_id)
        return _view(order, await TicketReplica.get(id=order.ticket_id))

    async def cancel(self, user_id: str, order_id: str) -> None:
        order = await _owned(user_id, order_id)
        if order.status == OrderStatus.COMPLETE:
            raise CannotCancelCompleted()
        async with self._outbox.transaction() as unit:
            if not await close_order(unit, order.id, OrderStatus.CANCELLED):
                current = await Order.get(id=order.id)
                if current.status == OrderStatus.COMPLETE:
                    raise CannotCancelCompleted()


async def _owned(user_id: str, order_id: str) -> Order:
    """404 for an unknown (or malformed) id, 401 for someone else's order."""
    order = await Order.get_or_none(id=order_id) if is_valid_id(order_id) else None
    if order is None:
        raise NotFound()
    if order.user_id != user_id:
        raise NotAuthorized()
    return order
