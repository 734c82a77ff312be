"""The seller's view: everything a user listed with its state, totals, and an event's
sales and check-ins over time. Queries only; what they read is tickets' own tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from tortoise.functions import Count
from tortoise.queryset import QuerySet

from ticketing.errors import NotAuthorized, NotFound
from ticketing.ids import is_valid_id
from ticketing.modules.tickets.models import Event, OrderState, Pass, Ticket

__all__ = ["LISTING_STATES", "EventTimeline", "Listing", "SellerReport", "Selling",
           "SellingDesk"]

# What a listing can be, in the order a ticket goes through them.
LISTING_STATES = ("for_sale", "reserved", "sold", "checked_in")


@dataclass(frozen=True)
class Listing:
    """A ticket listed on its own (``quantity`` 1) or a whole event, counted by state."""

    id: str
    kind: str  # "ticket" or "event"
    title: str
    price: Decimal
    quantity: int
    for_sale: int
    reserved: int
    sold: int  # checked in included
    checked_in: int
    # The soonest a hold on it ends (reserved only).
    reserved_until: datetime | None
    created_at: datetime

    @property
    def state(self) -> str:
        """The furthest state every unit reached, or "for_sale" while any is left."""
        if self.for_sale:
            return "for_sale"
        if self.reserved:
            return "reserved"
        return "checked_in" if self.checked_in == self.quantity else "sold"

    @property
    def revenue(self) -> Decimal:
        return self.price * self.sold

    def has(self, state: str) -> bool:
        """True when some unit is in ``state`` (a sold unit counts while checked in)."""
        return {"for_sale": self.for_sale, "reserved": self.reserved, "sold": self.sold,
                "checked_in": self.checked_in}[state] > 0


@dataclass(frozen=True)
class SellerReport:
    listings: tuple[Listing, ...]

    @property
    def sold(self) -> int:
        return sum(listing.sold for listing in self.listings)

    @property
    def checked_in(self) -> int:
        return sum(listing.checked_in for listing in self.listings)

    @property
    def revenue(self) -> Decimal:
        return sum((listing.revenue for listing in self.listings), Decimal("0.00"))


@dataclass(frozen=True)
class EventTimeline:
    """When each of an event's passes was sold and let in, for a chart over time."""

    event_id: str
    title: str
    quantity: int
    sold_at: tuple[datetime, ...]
    checked_in_at: tuple[datetime, ...]


@runtime_checkable
class Selling(Protocol):
    async def listings_of(self, user_id: str, state: str | None = None) -> SellerReport:
        """Everything the user listed, newest first; only what has a unit in ``state``
        when one is given (one of :data:`LISTING_STATES`)."""

    async def event_timeline(self, event_id: str, user_id: str) -> EventTimeline:
        """The event's sales and check-ins in time order: 404 unknown, 401 not yours."""


class SellingDesk(Selling):
    async def listings_of(self, user_id: str, state: str | None = None) -> SellerReport:
        listings = [*await _lone_tickets(user_id), *await _events(user_id)]
        listings.sort(key=lambda listing: listing.id, reverse=True)
        return SellerReport(tuple(listing for listing in listings
                                  if state is None or listing.has(state)))

    async def event_timeline(self, event_id: str, user_id: str) -> EventTimeline:
        event = await Event.get_or_none(id=event_id) if is_valid_id(event_id) else None
        if event is None:
            raise NotFound()
        if event.user_id != user_id:
            raise NotAuthorized()
        passes = await Pass.filter(scope_id=event_id).only("issued_at", "checked_in_at")
        return EventTimeline(
            event_id, event.title, event.quantity,
            tuple(sorted(p.issued_at for p in passes)),
            tuple(sorted(p.checked_in_at for p in passes if p.checked_in_at is not None)))


async def _lone_tickets(user_id: str) -> list[Listing]:
    tickets = await Ticket.filter(user_id=user_id, event_id=None)
    ids = [t.id for t in tickets]
    admitted = await _per(Pass.filter(ticket_id__in=ids, checked_in_at__not_isnull=True),
                          "ticket_id")
    holds = await _hold_ends([t.order_id for t in tickets if t.order_id and not t.sold])
    return [Listing(
        id=t.id, kind="ticket", title=t.title, price=t.price, quantity=1,
        for_sale=int(t.order_id is None and not t.sold),
        reserved=int(t.order_id is not None and not t.sold), sold=int(t.sold),
        checked_in=int(t.id in admitted),
        reserved_until=holds.get(t.order_id) if t.order_id and not t.sold else None,
        created_at=t.created_at) for t in tickets]


async def _events(user_id: str) -> list[Listing]:
    events = await Event.filter(user_id=user_id)
    ids = [e.id for e in events]
    sold = await _per(Ticket.filter(event_id__in=ids, sold=True), "event_id")
    held = await _per(Ticket.filter(event_id__in=ids, sold=False, order_id__not_isnull=True),
                      "event_id")
    admitted = await _per(Pass.filter(scope_id__in=ids, checked_in_at__not_isnull=True),
                          "scope_id")
    return [Listing(
        id=e.id, kind="event", title=e.title, price=e.price, quantity=e.quantity,
        for_sale=e.quantity - sold.get(e.id, 0) - held.get(e.id, 0),
        reserved=held.get(e.id, 0), sold=sold.get(e.id, 0), checked_in=admitted.get(e.id, 0),
        reserved_until=None, created_at=e.created_at) for e in events]


async def _per(query: QuerySet[Any], column: str) -> dict[str, int]:
    """How many rows of ``query`` per value of ``column``."""
    rows = await query.annotate(rows=Count(column)).group_by(column) \
        .values_list(column, "rows")
    return {str(key): int(count) for key, count in rows}


async def _hold_ends(order_ids: list[str]) -> dict[str, datetime]:
    """When each order's hold ends, as tickets heard it from ``order:created``."""
    states = await OrderState.filter(order_id__in=order_ids, expires_at__not_isnull=True)
    return {s.order_id: s.expires_at for s in states if s.expires_at is not None}
