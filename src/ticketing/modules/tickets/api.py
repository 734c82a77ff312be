"""The tickets module's public facade: list, show, create and edit tickets.

Its reactions to order events (holds) are internal: ``reactions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from ticketing.bus.contracts import TicketCreated
from ticketing.bus.outbox import Outbox
from ticketing.errors import Conflict, DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id
from ticketing.modules.tickets.models import Ticket

__all__ = ["TicketPage", "TicketReserved", "TicketView", "Tickets", "TicketsApi"]


class TicketReserved(DomainError):
    code = "reserved_ticket_edit"


class TicketChanged(Conflict):
    """The ticket has another version than the editor saw: re-read, then edit again."""

    code = "ticket_changed"


@dataclass(frozen=True)
class TicketView:
    """A ticket as the facade shows it; ``order_id`` names the order holding it, if any."""

    id: str
    title: str
    price: Decimal
    user_id: str
    version: int
    order_id: str | None = None


@dataclass(frozen=True)
class TicketPage:
    """One page of the listing; ``next_before`` is the cursor of the next page, if any."""

    tickets: tuple[TicketView, ...]
    next_before: str | None


def _view(ticket: Ticket) -> TicketView:
    return TicketView(id=ticket.id, title=ticket.title, price=ticket.price,
                      user_id=ticket.user_id, version=ticket.version, order_id=ticket.order_id)


@runtime_checkable
class Tickets(Protocol):
    """What the web layer may ask of tickets: commands and queries, nothing else."""

    async def create(self, user_id: str, title: str, price: Decimal) -> TicketView:
        """List a ticket for sale (version 0) and announce it."""

    async def get(self, ticket_id: str) -> TicketView:
        """One ticket, reserved or not; 404 for an unknown (or malformed) id."""

    async def list_available(self, limit: int, before: str | None) -> TicketPage:
        """Tickets neither reserved nor sold, newest first, ``limit`` at a time."""

    async def update(self, ticket_id: str, user_id: str, title: str, price: Decimal,
                     expected_version: int | None = None) -> TicketView:
        """Edit a ticket: 404, then reserved (400), then not the owner (401), then a
        version other than ``expected_version`` (409)."""


class TicketsApi(Tickets):
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox

    async def create(self, user_id: str, title: str, price: Decimal) -> TicketView:
        async with self._outbox.transaction() as unit:
            ticket = await Ticket.create(id=new_id(), title=title, price=price, user_id=user_id,
                                         using_db=unit.connection)
            await unit.publish(TicketCreated(id=ticket.id, version=ticket.version,
                                             title=title, price=price, user_id=user_id))
        return _view(ticket)

    async def get(self, ticket_id: str) -> TicketView:
        return _view(await _find(ticket_id))

    async def list_available(self, limit: int, before: str | None) -> TicketPage:
        query = Ticket.filter(order_id=None, sold=False)
        if before:
            query = query.filter(id__lt=before)
        found = await query.order_by("-id").limit(limit + 1)
        page = found[:limit]
        return TicketPage(tuple(_view(t) for t in page),
                          page[-1].id if len(found) > limit else None)

    async def update(self, ticket_id: str, user_id: str, title: str, price: Decimal,
                     expected_version: int | None = None) -> TicketView:
        """The write is conditional on the version read, so a concurrent edit or hold
        becomes a 409 instead of a lost update."""
        ticket = await _find(ticket_id)
        if ticket.order_id:
            raise TicketReserved()
        if ticket.user_id != user_id:
            raise NotAuthorized()
        if expected_version is not None and expected_version != ticket.version:
            raise TicketChanged()
        async with self._outbox.transaction() as unit:
            changed = await Ticket.filter(
                id=ticket.id, version=ticket.version, order_id=None
            ).using_db(unit.connection).update(title=title, price=price,
                                               version=ticket.version + 1)
            if not changed:
                raise TicketChanged()
            ticket.title, ticket.price, ticket.version = title, price, ticket.version + 1
            await unit.publish(ticket.updated_event())
        return _view(ticket)


async def _find(ticket_id: str) -> Ticket:
    ticket = await Ticket.get_or_none(id=ticket_id) if is_valid_id(ticket_id) else None
    if ticket is None:
        raise NotFound()
    return ticket
