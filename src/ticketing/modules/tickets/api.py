"""The tickets module's public facade."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import (
    OPEN_ORDER_STATUSES,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
    TicketCreated,
    TicketUpdated,
)
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.errors import Conflict, DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id
from ticketing.modules.tickets.models import OrderState, Ticket

__all__ = ["TicketPage", "TicketReserved", "TicketsApi", "ticket_json"]

# Order statuses that hold a ticket until payment or cancellation.
OPEN = tuple(OPEN_ORDER_STATUSES)


class TicketReserved(DomainError):
    code = "ticket_reserved"

    def __init__(self) -> None:
        super().__init__("Cannot edit a reserved ticket")


@dataclass(frozen=True)
class TicketPage:
    """One page of the listing; ``next_before`` is the cursor of the next page, if any."""

    tickets: list[dict[str, Any]]
    next_before: str | None


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """The contract's ticket JSON; ``orderId`` only while an order holds it."""
    body: dict[str, Any] = {
        "id": ticket.id, "title": ticket.title, "price": money(ticket.price),
        "userId": ticket.user_id, "version": ticket.version,
    }
    if ticket.order_id:
        body["orderId"] = ticket.order_id
    return body


def money(amount: Decimal) -> float:
    """A price as a JSON number; two places survive a float's shortest repr exactly."""
    return float(amount)


class TicketsApi:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    @property
    def subscriptions(self) -> Subscriptions:
        """What tickets reacts to: holds placed, released and made permanent by orders."""
        return {
            OrderCreated: self.on_order_created,
            OrderCancelled: self.on_order_cancelled,
            OrderCompleted: self.on_order_completed,
        }

    async def create(self, user_id: str, title: str, price: Decimal) -> dict[str, Any]:
        """List a ticket for sale (version 0) and announce it."""
        async with self._outbox.transaction() as unit:
            ticket = await Ticket.create(id=new_id(), title=title, price=price, user_id=user_id,
                                         using_db=unit.connection)
            await unit.publish(TicketCreated(id=ticket.id, version=ticket.version,
                                             title=title, price=price, user_id=user_id))
        return ticket_json(ticket)

    async def get(self, ticket_id: str) -> dict[str, Any]:
        return ticket_json(await _find(ticket_id))

    async def list_available(self, limit: int, before: str | None) -> TicketPage:
        """Tickets neither reserved nor sold, newest first, ``limit`` at a time."""
        query = Ticket.filter(order_id=None, sold=False)
        if before:
            query = query.filter(id__lt=before)
        found = await query.order_by("-id").limit(limit + 1)
        page = found[:limit]
        return TicketPage([ticket_json(t) for t in page],
                          page[-1].id if len(found) > limit else None)

    async def update(self, ticket_id: str, user_id: str, title: str, price: Decimal,
                     expected_version: int | None = None) -> dict[str, Any]:
        """Edit a ticket: 404, then reserved (400), then not the owner (401).

        The write is conditional on the version read, so a concurrent edit or hold
        becomes a 409 instead of a lost update.
        """
        ticket = await _find(ticket_id)
        if ticket.order_id:
            raise TicketReserved()
        if ticket.user_id != user_id:
            raise NotAuthorized()
        if expected_version is not None and expected_version != ticket.version:
            raise Conflict("Ticket was changed by someone else; reload and try again")
        async with self._outbox.transaction() as unit:
            changed = await Ticket.filter(
                id=ticket.id, version=ticket.version, order_id=None
            ).using_db(unit.connection).update(title=title, price=price,
                                               version=ticket.version + 1)
            if not changed:
                raise Conflict("Ticket was changed by someone else; reload and try again")
            ticket.title, ticket.price, ticket.version = title, price, ticket.version + 1
            await _announce(unit, ticket)
        return ticket_json(ticket)

    async def on_order_created(self, event: OrderCreated, unit: UnitOfWork) -> None:
        """The order holds the ticket, unless another still-open order already does."""
        await self._order_changed(unit, event.id, event.ticket.id, event.version,
                                  OrderStatus.CREATED)

    async def on_order_cancelled(self, event: OrderCancelled, unit: UnitOfWork) -> None:
        """Free the ticket only if this very order holds it (a late cancel is a no-op)."""
        await self._order_changed(unit, event.id, event.ticket.id, event.version,
                                  OrderStatus.CANCELLED)

    async def on_order_completed(self, event: OrderCompleted, unit: UnitOfWork) -> None:
        """The order was paid: the ticket is sold for good."""
        await self._order_changed(unit, event.id, event.ticket.id, event.version,
                                  OrderStatus.COMPLETE)

    async def _order_changed(self, unit: UnitOfWork, order_id: str, ticket_id: str,
                             version: int, status: str) -> None:
        """Apply an order's new state to its ticket unless a newer one was already applied."""
        connection = unit.connection
        state = await OrderState.filter(order_id=order_id).using_db(connection) \
            .select_for_update().first()
        if state is not None and state.version >= version:
            return
        await OrderState.update_or_create(
            order_id=order_id,
            defaults={"ticket_id": ticket_id, "version": version, "status": status},
            using_db=connection,
        )
        ticket = await Ticket.filter(id=ticket_id).using_db(connection) \
            .select_for_update().first()
        if ticket is None or ticket.sold:
            return
        holder = ticket.order_id
        hold: str | None
        if status == OrderStatus.COMPLETE:
            hold, sold = order_id, True
        elif holder not in (None, order_id) and await _still_open(connection, holder):
            # Another order holds it and, as far as we know, still does: at most one of the
            # two is really open, and the other's cancellation is on its way.
            return
        elif status == OrderStatus.CANCELLED:
            # Freed; if a newer order's creation arrived while this one held the ticket,
            # that order holds it now.
            successor = await OrderState.filter(ticket_id=ticket_id, status__in=OPEN) \
                .exclude(order_id=order_id).using_db(connection).order_by("-order_id").first()
            hold, sold = (successor.order_id if successor else None), False
        else:
            hold, sold = order_id, False
        if (hold, sold) == (ticket.order_id, ticket.sold):
            return
        ticket.order_id, ticket.sold = hold, sold
        ticket.version += 1
        await ticket.save(using_db=connection, update_fields=["order_id", "sold", "version"])
        await _announce(unit, ticket)


async def _still_open(connection: BaseDBAsyncClient, order_id: str) -> bool:
    """True unless the latest event seen of ``order_id`` closed it."""
    return await OrderState.filter(order_id=order_id, status__in=OPEN) \
        .using_db(connection).exists()


async def _find(ticket_id: str) -> Ticket:
    ticket = await Ticket.get_or_none(id=ticket_id) if is_valid_id(ticket_id) else None
    if ticket is None:
        raise NotFound()
    return ticket


async def _announce(unit: UnitOfWork, ticket: Ticket) -> None:
    await unit.publish(TicketUpdated(
        id=ticket.id, version=ticket.version, title=ticket.title, price=ticket.price,
        user_id=ticket.user_id, order_id=ticket.order_id,
    ))
