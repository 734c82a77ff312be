"""The tickets module's public facade: list, show, create and edit tickets and events.

Its reactions to order events (holds) are internal: ``reactions.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from tortoise.functions import Count

from ticketing.bus.contracts import EventCreated, TicketCreated
from ticketing.bus.outbox import Outbox
from ticketing.clock import Clock
from ticketing.errors import Conflict, DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id, unit_id
from ticketing.modules.tickets.door import (
    AlreadyCheckedIn,
    CheckIn,
    Door,
    DoorDesk,
    DoorList,
    DoorScope,
    PassKey,
    PassView,
    TransferView,
)
from ticketing.modules.tickets.models import Event, Pass, Ticket
from ticketing.modules.tickets.passes import PassSigner
from ticketing.modules.tickets.resales import RESALE_STATES, ResaleDesk, ResaleView, Reselling
from ticketing.modules.tickets.selling import (
    LISTING_STATES,
    EventTimeline,
    Listing,
    SellerReport,
    Selling,
    SellingDesk,
)

__all__ = [
    "LISTING_STATES",
    "RESALE_STATES",
    "AlreadyCheckedIn",
    "CheckIn",
    "Door",
    "DoorList",
    "DoorScope",
    "EventPlan",
    "EventTimeline",
    "EventView",
    "Listing",
    "PassKey",
    "PassView",
    "ResaleView",
    "SellerReport",
    "TicketPage",
    "TicketReserved",
    "TicketView",
    "Tickets",
    "TicketsApi",
    "TransferView",
]

# Units are written this many rows per INSERT: one statement per chunk, not per ticket.
UNIT_BATCH = 1000


class TicketReserved(DomainError):
    code = "reserved_ticket_edit"


class ResaleTicketEdit(DomainError):
    """Sold once, the ticket is its holder's to put back on sale, not its seller's."""

    code = "resale_ticket_edit"


class EventTicketEdit(DomainError):
    """A unit of an event is priced and titled by its event, like its siblings."""

    code = "event_ticket_edit"


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
    event_id: str | None = None
    refund_days: int = 0


@dataclass(frozen=True)
class EventPlan:
    """What a seller asks for when creating an event (already validated by the web layer)."""

    title: str
    price: Decimal
    quantity: int
    per_buyer_limit: int
    venue: str | None = None
    starts_at: datetime | None = None
    on_sale_at: datetime | None = None
    refund_days: int = 0


@dataclass(frozen=True)
class EventView:
    """An event with its count of tickets neither held nor sold."""

    id: str
    title: str
    price: Decimal
    quantity: int
    remaining: int
    venue: str | None
    starts_at: datetime | None
    on_sale_at: datetime | None
    per_buyer_limit: int
    user_id: str
    version: int
    refund_days: int = 0


@dataclass(frozen=True)
class TicketPage:
    """One page of the listing; ``next_before`` is the cursor of the next page, if any."""

    tickets: tuple[TicketView, ...]
    next_before: str | None


def _view(ticket: Ticket) -> TicketView:
    return TicketView(id=ticket.id, title=ticket.title, price=ticket.price,
                      user_id=ticket.user_id, version=ticket.version, order_id=ticket.order_id,
                      event_id=ticket.event_id, refund_days=ticket.refund_days)


def _event_view(event: Event, remaining: int) -> EventView:
    return EventView(id=event.id, title=event.title, price=event.price,
                     quantity=event.quantity, remaining=remaining, venue=event.venue,
                     starts_at=event.starts_at, on_sale_at=event.on_sale_at,
                     per_buyer_limit=event.per_buyer_limit, user_id=event.user_id,
                     version=event.version, refund_days=event.refund_days)


@runtime_checkable
class Tickets(Door, Reselling, Selling, Protocol):
    """What the web layer may ask of tickets: commands and queries, nothing else (the
    passes and the door: :class:`~.door.Door`; resales: :class:`~.resales.Reselling`)."""

    async def create(self, user_id: str, title: str, price: Decimal,
                     refund_days: int = 0) -> TicketView:
        """List a ticket for sale (version 0) and announce it; its buyer may ask for a
        refund up to ``refund_days`` after paying (0: no refunds)."""

    async def get(self, ticket_id: str) -> TicketView:
        """One ticket, reserved or not; 404 for an unknown (or malformed) id."""

    async def list_available(self, limit: int, before: str | None) -> TicketPage:
        """Tickets neither reserved nor sold and not of an event, newest first, ``limit``
        at a time."""

    async def create_event(self, user_id: str, plan: EventPlan) -> EventView:
        """Create an event and its ``plan.quantity`` tickets, announced as one event."""

    async def get_event(self, event_id: str) -> EventView:
        """One event with its remaining count; 404 for an unknown (or malformed) id."""

    async def list_events(self, limit: int) -> list[EventView]:
        """The newest events, each with its remaining count."""

    async def update(self, ticket_id: str, user_id: str, title: str, price: Decimal,
                     expected_version: int | None = None) -> TicketView:
        """Edit a ticket: 404, then reserved or resold (400), then not the owner (401), then a
        version other than ``expected_version`` (409)."""


class TicketsApi(DoorDesk, ResaleDesk, SellingDesk, Tickets):
    """Listings here; passes and the door in :class:`~.door.DoorDesk`, resales in
    :class:`~.resales.ResaleDesk`, the seller's view in :class:`~.selling.SellingDesk`."""

    def __init__(self, outbox: Outbox, signer: PassSigner, clock: Clock) -> None:
        super().__init__(outbox, signer, clock)

    async def create(self, user_id: str, title: str, price: Decimal,
                     refund_days: int = 0) -> TicketView:
        async with self._outbox.transaction() as unit:
            ticket = await Ticket.create(id=new_id(), title=title, price=price, user_id=user_id,
                                         refund_days=refund_days, using_db=unit.connection)
            await unit.publish(TicketCreated(id=ticket.id, version=ticket.version,
                                             title=title, price=price, user_id=user_id,
                                             refund_days=refund_days or None))
        return _view(ticket)

    async def get(self, ticket_id: str) -> TicketView:
        return _view(await _find(ticket_id))

    async def list_available(self, limit: int, before: str | None) -> TicketPage:
        query = Ticket.filter(order_id=None, sold=False, event_id=None)
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
        if ticket.event_id:
            raise EventTicketEdit()
        if await Pass.exists(ticket_id=ticket.id):
            raise ResaleTicketEdit()
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


    async def create_event(self, user_id: str, plan: EventPlan) -> EventView:
        """The units' ids follow from the event's (``unit_id``), so orders builds the same
        tickets from the one ``event:created`` message."""
        event_id = new_id(block=plan.quantity)
        async with self._outbox.transaction() as unit:
            event = await Event.create(
                id=event_id, title=plan.title, price=plan.price, quantity=plan.quantity,
                venue=plan.venue, starts_at=plan.starts_at, on_sale_at=plan.on_sale_at,
                per_buyer_limit=plan.per_buyer_limit, user_id=user_id,
                refund_days=plan.refund_days, using_db=unit.connection)
            units = [Ticket(id=unit_id(event_id, index), title=plan.title, price=plan.price,
                            user_id=user_id, event_id=event_id, refund_days=plan.refund_days)
                     for index in range(plan.quantity)]
            await Ticket.bulk_create(units, batch_size=UNIT_BATCH, using_db=unit.connection)
            await unit.publish(EventCreated(
                id=event_id, version=event.version, title=plan.title, price=plan.price,
                quantity=plan.quantity, per_buyer_limit=plan.per_buyer_limit,
                user_id=user_id, on_sale_at=plan.on_sale_at,
                refund_days=plan.refund_days or None, starts_at=plan.starts_at))
        return _event_view(event, plan.quantity)

    async def get_event(self, event_id: str) -> EventView:
        event = await Event.get_or_none(id=event_id) if is_valid_id(event_id) else None
        if event is None:
            raise NotFound()
        return _event_view(event, (await _remaining([event.id])).get(event.id, 0))

    async def list_events(self, limit: int) -> list[EventView]:
        events = await Event.all().order_by("-id").limit(limit)
        remaining = await _remaining([e.id for e in events])
        return [_event_view(e, remaining.get(e.id, 0)) for e in events]


async def _remaining(event_ids: list[str]) -> dict[str, int]:
    """Free units per event, counted on the (event_id, order_id, sold) index: a shared
    counter row would make every hold of a sell-out wait for the same lock."""
    if not event_ids:
        return {}
    rows = await Ticket.filter(event_id__in=event_ids, order_id=None, sold=False) \
        .annotate(free=Count("id")).group_by("event_id").values_list("event_id", "free")
    return {str(event_id): int(free) for event_id, free in rows}


async def _find(ticket_id: str) -> Ticket:
    ticket = await Ticket.get_or_none(id=ticket_id) if is_valid_id(ticket_id) else None
    if ticket is None:
        raise NotFound()
    return ticket
