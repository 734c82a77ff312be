"""The orders module's public facade: reserve, list, show and cancel orders.

Its reactions to tickets, expiries and payments are internal: ``reactions.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from ticketing.bus.contracts import OrderCreated, OrderRefundRequested, OrderStatus, TicketRef
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.clock import Clock, utc_now
from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id
from ticketing.modules.orders import allocation, waitlist
from ticketing.modules.orders.allocation import HandedOut
from ticketing.modules.orders.models import EventReplica, Order, OrderLine, TicketReplica
from ticketing.modules.orders.rules import (
    NotEnoughTickets,
    NotOnSale,
    OfferedToWaitlist,
    OwnResale,
    TicketAlreadyReserved,
    TicketLimitReached,
)
from ticketing.modules.orders.transitions import close_order
from ticketing.modules.orders.waiting import QueuePlace, RoomView, WaitingRooms
from ticketing.modules.orders.waitlist import Waitlist, WaitlistPlace, epoch
from ticketing.telemetry import metrics

__all__ = ["CannotCancelCompleted", "OrderView", "OrderedTicket", "Orders", "OrdersApi",
           "QueuePlace", "RefundState", "RoomView", "TicketAlreadyReserved", "WaitlistPlace"]


class CannotCancelCompleted(DomainError):
    code = "order_complete"


class NotRefundable(DomainError):
    code = "not_refundable"


class RefundWindowClosed(DomainError):
    code = "refund_window_closed"


class RefundUnderWay(DomainError):
    code = "refund_under_way"


@dataclass(frozen=True)
class OrderedTicket:
    """A ticket an order holds, as orders' replica of it knows it."""

    id: str
    title: str
    price: Decimal
    version: int


@dataclass(frozen=True)
class RefundState:
    """How far a paid order's refund got: "requested", "refunded" or "refused" (with the
    refusal's error code), and since when."""

    status: str
    at: datetime | None
    reason: str | None = None


@dataclass(frozen=True)
class OrderView:
    """An order as the facade shows it, its tickets embedded (``ticket`` is the first)."""

    id: str
    status: OrderStatus
    user_id: str
    expires_at: datetime
    version: int
    tickets: tuple[OrderedTicket, ...]
    event_id: str | None = None
    refundable_until: datetime | None = None
    refund: RefundState | None = None

    @property
    def ticket(self) -> OrderedTicket:
        return self.tickets[0]

    @property
    def total(self) -> Decimal:
        return sum((t.price for t in self.tickets), Decimal(0))


def _view(order: Order, tickets: list[OrderedTicket]) -> OrderView:
    return OrderView(id=order.id, status=order.status, user_id=order.user_id,
                     expires_at=order.expires_at, version=order.version,
                     tickets=tuple(tickets), event_id=order.event_id,
                     refundable_until=order.refundable_until, refund=_refund_state(order))


def _refund_state(order: Order) -> RefundState | None:
    if order.refunded_at is not None:
        return RefundState("refunded", order.refunded_at)
    if order.refund_requested_at is not None:
        return RefundState("requested", order.refund_requested_at)
    if order.refund_refusal is not None:
        return RefundState("refused", None, order.refund_refusal)
    return None


def _ordered(ticket: HandedOut | TicketReplica) -> OrderedTicket:
    return OrderedTicket(id=ticket.id, title=ticket.title, price=ticket.price,
                         version=ticket.version)


@runtime_checkable
class Orders(Protocol):
    """What the web layer may ask of orders: commands and queries, nothing else."""

    async def reserve(self, user_id: str, ticket_id: str,
                      admission: str | None = None) -> OrderView:
        """Hold a ticket for the reservation window: 404 for a ticket orders does not
        know, 400 for one that an active order holds (or, for a ticket of an event,
        as :meth:`reserve_from_event` refuses)."""

    async def reserve_from_event(self, user_id: str, event_id: str, quantity: int,
                                 admission: str | None = None) -> OrderView:
        """Hold ``quantity`` tickets of an event in one order, all or none: 404 for an
        unknown event, 400 before its sale opens, without a valid ``admission`` token
        from its queue (an event with an on-sale time), for fewer free tickets than
        asked, or past the buyer's limit across their active orders."""

    async def join_queue(self, user_id: str, event_id: str) -> QueuePlace:
        """Take (or keep) a place in an event's queue: 404 unknown event, 400 no queue."""

    async def queue_place(self, user_id: str, event_id: str) -> QueuePlace:
        """Where the buyer stands, with their admission token once let in; 404 if they
        never joined. Asking keeps the place."""

    async def queue_room(self, user_id: str, event_id: str) -> RoomView:
        """The queue's figures for the event's seller (401 for anyone else)."""

    async def configure_queue(self, user_id: str, event_id: str, *, paused: bool | None,
                              rate_per_minute: int | None) -> RoomView:
        """Pause or resume the queue, or change its rate (the seller only)."""

    async def advance_queues(self) -> None:
        """One round of every queue now: rank arrivals, let the next buyers in; and pass
        on the waitlist offers that ended unclaimed."""

    async def list_for(self, user_id: str) -> list[OrderView]:
        """The user's orders, oldest first."""

    async def get(self, user_id: str, order_id: str) -> OrderView:
        """One of the user's orders: 404 for an unknown id, 401 for someone else's."""

    async def cancel(self, user_id: str, order_id: str) -> None:
        """Cancel: a paid order refuses; an already cancelled one is left alone."""

    async def join_waitlist(self, user_id: str, scope_id: str) -> WaitlistPlace:
        """Ask to be offered a ticket of a sold-out event or ticket when one comes back:
        404 unknown, 400 while one is free. Joining again keeps the place."""

    async def waitlist_place(self, user_id: str, scope_id: str) -> WaitlistPlace:
        """Where the user stands, with their offer if one came; 404 not on the list."""

    async def leave_waitlist(self, user_id: str, scope_id: str) -> None:
        """Off the list (404 if not on it); an offer of theirs passes to the next."""

    async def refund(self, user_id: str, order_id: str) -> OrderView:
        """Ask for a paid order's money back inside its refund window: 404, 401, then
        400 when it cannot be refunded, the window closed, or a refund is under way.
        Tickets then grants it (the order is cancelled, payments refunds it) or refuses
        it (a pass was let in, given away or put on resale)."""


class OrdersApi(Orders):
    def __init__(self, outbox: Outbox, reservation_seconds: int, waiting: WaitingRooms,
                 clock: Clock = utc_now, waiting_list: Waitlist | None = None) -> None:
        self._outbox = outbox
        self._window = timedelta(seconds=reservation_seconds)
        self._waiting = waiting
        self._clock = clock
        self._waitlist = waiting_list or Waitlist(outbox, clock)

    async def reserve(self, user_id: str, ticket_id: str,
                      admission: str | None = None) -> OrderView:
        """The guarded hand-out picks exactly one winner when many buyers race for the
        same ticket; the replica is read only to tell a refusal's reason."""
        order_id = new_id()
        async with _counted(), self._outbox.transaction() as unit:
            handed = await _hand_out(unit.connection, order_id, ticket_id, user_id,
                                     epoch(self._clock()))
            event = await self._waiting.known_event(handed.event_id) \
                if handed.event_id else None
            return await self._place(unit, order_id, user_id, [handed], event, admission)

    async def reserve_from_event(self, user_id: str, event_id: str, quantity: int,
                                 admission: str | None = None) -> OrderView:
        order_id = new_id()
        async with _counted():
            event = await self._waiting.known_event(event_id)
            async with self._outbox.transaction() as unit:
                handed = await allocation.hand_out_from_event(
                    unit.connection, order_id, event.id, quantity, user_id,
                    epoch(self._clock()))
                if len(handed) < quantity:
                    raise NotEnoughTickets()
                return await self._place(unit, order_id, user_id, handed, event, admission)

    async def _place(self, unit: UnitOfWork, order_id: str, user_id: str,
                     handed: list[HandedOut], event: EventReplica | None,
                     admission: str | None) -> OrderView:
        """Write the order of the tickets handed out and announce it; a refusal raised
        here rolls the hand-out back with everything else."""
        connection = unit.connection
        now = self._clock()
        if event is not None:
            if event.on_sale_at is not None:
                if now < event.on_sale_at:
                    raise NotOnSale()
                if not all(t.offered_to == user_id for t in handed):  # an offer admits
                    await self._waiting.check(connection, event.id, user_id, admission, now)
            if len(handed) > event.per_buyer_limit or not await allocation.hold_within_limit(
                    connection, user_id, event.id, len(handed), event.per_buyer_limit):
                raise TicketLimitReached()
        event_id = event.id if event is not None else None
        expires_at = now + self._window
        try:
            await allocation.record_order(connection, order_id, user_id, event_id,
                                          [t.id for t in handed], OrderStatus.CREATED.value,
                                          expires_at, now)
        except IntegrityError:
            raise TicketAlreadyReserved() from None
        await waitlist.claimed(unit, user_id, event_id or handed[0].id, now)
        refs = tuple(TicketRef(id=t.id, price=t.price) for t in handed)
        await unit.publish(OrderCreated(
            id=order_id, version=0, status=OrderStatus.CREATED.value, user_id=user_id,
            expires_at=expires_at, ticket=refs[0], tickets=refs, event_id=event_id))
        return OrderView(id=order_id, status=OrderStatus.CREATED, user_id=user_id,
                         expires_at=expires_at, version=0,
                         tickets=tuple(_ordered(t) for t in handed), event_id=event_id)

    async def join_queue(self, user_id: str, event_id: str) -> QueuePlace:
        return await self._waiting.join(user_id, event_id)

    async def queue_place(self, user_id: str, event_id: str) -> QueuePlace:
        return await self._waiting.place(user_id, event_id)

    async def queue_room(self, user_id: str, event_id: str) -> RoomView:
        return await self._waiting.room(user_id, event_id)

    async def configure_queue(self, user_id: str, event_id: str, *, paused: bool | None,
                              rate_per_minute: int | None) -> RoomView:
        return await self._waiting.configure(user_id, event_id, paused=paused,
                                             rate_per_minute=rate_per_minute)

    async def advance_queues(self) -> None:
        await self._waiting.advance()
        await self._waitlist.pass_on()

    async def join_waitlist(self, user_id: str, scope_id: str) -> WaitlistPlace:
        return await self._waitlist.join(user_id, scope_id)

    async def waitlist_place(self, user_id: str, scope_id: str) -> WaitlistPlace:
        return await self._waitlist.place(user_id, scope_id)

    async def leave_waitlist(self, user_id: str, scope_id: str) -> None:
        await self._waitlist.leave(user_id, scope_id)

    async def list_for(self, user_id: str) -> list[OrderView]:
        orders = await Order.filter(user_id=user_id).order_by("id")
        tickets = await _tickets_of([o.id for o in orders])
        return [_view(o, tickets[o.id]) for o in orders]

    async def get(self, user_id: str, order_id: str) -> OrderView:
        order = await _owned(user_id, order_id)
        return _view(order, (await _tickets_of([order.id]))[order.id])

    async def cancel(self, user_id: str, order_id: str) -> None:
        order = await _owned(user_id, order_id)
        if order.status == OrderStatus.COMPLETE:
            raise CannotCancelCompleted()
        async with self._outbox.transaction() as unit:
            if not await close_order(unit, order.id, OrderStatus.CANCELLED):
                current = await Order.get(id=order.id)
                if current.status == OrderStatus.COMPLETE:
                    raise CannotCancelCompleted()


    async def refund(self, user_id: str, order_id: str) -> OrderView:
        """The guarded UPDATE makes two requests (or a request and a late grant) ask
        once."""
        order = await _owned(user_id, order_id)
        now = self._clock()
        if order.status != OrderStatus.COMPLETE or order.refundable_until is None:
            raise NotRefundable()
        if order.refund_requested_at is not None:
            raise RefundUnderWay()
        if now >= order.refundable_until:
            raise RefundWindowClosed()
        async with self._outbox.transaction() as unit:
            asked = await Order.filter(id=order.id, status=OrderStatus.COMPLETE,
                                       refund_requested_at=None).using_db(unit.connection) \
                .update(refund_requested_at=now, refund_refusal=None)
            if not asked:
                raise RefundUnderWay()
            tickets = await _tickets_of([order.id], unit.connection)
            await unit.publish(OrderRefundRequested(
                id=order.id, user_id=user_id,
                tickets=tuple(TicketRef(id=t.id) for t in tickets[order.id])))
        return await self.get(user_id, order_id)


@contextlib.asynccontextmanager
async def _counted() -> AsyncIterator[None]:
    """Count a reservation attempt: made, or refused by its refusal's code."""
    try:
        yield
    except DomainError as refusal:
        metrics.RESERVATIONS.labels(refusal.code).inc()
        raise
    metrics.RESERVATIONS.labels("made").inc()


async def _hand_out(connection: BaseDBAsyncClient, order_id: str, ticket_id: str,
                    buyer_id: str, now: int) -> HandedOut:
    """The ticket handed out to the order, else why not: unknown (404), held, the
    buyer's own resale or offered to someone on its waitlist (400). A ticket whose
    replica arrived between the hand-out and the look is handed out then."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    for _ in range(2):
        handed = await allocation.hand_out(connection, order_id, ticket_id, buyer_id, now)
        if handed is not None:
            return handed
        replica = await TicketReplica.get_or_none(id=ticket_id, using_db=connection)
        if replica is None:
            raise NotFound()
        if replica.order_id is not None:
            raise TicketAlreadyReserved()
        if replica.resold_by == buyer_id:
            raise OwnResale()
        if replica.offered_to not in (None, buyer_id) and (replica.offer_ends or 0) >= now:
            raise OfferedToWaitlist()
    raise TicketAlreadyReserved()


async def _tickets_of(order_ids: list[str], connection: BaseDBAsyncClient | None = None
                     ) -> dict[str, list[OrderedTicket]]:
    """Each order's tickets, in line order."""
    lines = await OrderLine.filter(order_id__in=order_ids).using_db(connection).order_by("id")
    replicas = {t.id: t for t in await TicketReplica.filter(
        id__in={line.ticket_id for line in lines}).using_db(connection)}
    found: dict[str, list[OrderedTicket]] = {order_id: [] for order_id in order_ids}
    for line in lines:
        found[line.order_id].append(_ordered(replicas[line.ticket_id]))
    return found


async def _owned(user_id: str, order_id: str) -> Order:
    """404 for an unknown (or malformed) id, 401 for someone else's order."""
    order = await Order.get_or_none(id=order_id) if is_valid_id(order_id) else None
    if order is None:
        raise NotFound()
    if order.user_id != user_id:
        raise NotAuthorized()
    return order
