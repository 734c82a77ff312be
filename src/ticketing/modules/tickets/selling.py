"""The seller's view: everything a user listed with its state, totals, and an event's
sales and check-ins over time. Queries only; what they read is tickets' own tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from ticketing.errors import NotAuthorized, NotFound
from ticketing.ids import is_valid_id
from ticketing.modules.tickets.models import Event, OrderState, Pass, Ticket
from ticketing.modules.tickets.resales import resales_of

__all__ = ["LISTING_STATES", "EventTimeline", "Listing", "SellerReport", "Selling",
           "SellingDesk"]

# What a listing can be, in the order a ticket goes through them; "resold" is a resale's
# (a ticket the user bought and put back on sale) once somebody bought it.
LISTING_STATES = ("for_sale", "reserved", "sold", "checked_in", "resold")


@dataclass(frozen=True)
class Listing:
    """A ticket listed on its own (``quantity`` 1), a whole event, or a resale of a ticket
    the user bought, counted by state. Sold once, a unit stays sold for its seller
    whatever its holder does with it later."""

    id: str
    kind: str  # "ticket", "event" or "resale"
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
    resold: int = 0

    @property
    def state(self) -> str:
        """The furthest state every unit reached, or "for_sale" while any is left."""
        if self.resold:
            return "resold"
        if self.for_sale:
            return "for_sale"
        if self.reserved:
            return "reserved"
        return "checked_in" if self.checked_in == self.quantity else "sold"

    @property
    def revenue(self) -> Decimal:
        return self.price * (self.sold + self.resold)

    def has(self, state: str) -> bool:
        """True when some unit is in ``state`` (a sold unit counts while checked in)."""
        return {"for_sale": self.for_sale, "reserved": self.reserved, "sold": self.sold,
                "checked_in": self.checked_in, "resold": self.resold}[state] > 0


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
        listings = [*await _lone_tickets(user_id), *await _events(user_id),
                    *await _resales(user_id)]
        listings.sort(key=lambda listing: listing.id, reverse=True)
        return SellerReport(tuple(listing for listing in listings
                                  if state is None or listing.has(state)))

    async def event_timeline(self, event_id: str, user_id: str) -> EventTimeline:
        event = await Event.get_or_none(id=event_id) if is_valid_id(event_id) else None
        if event is None:
            raise NotFound()
        if event.user_id != user_id:
            raise NotAuthorized()
        passes = await Pass.filter(scope_id=event_id, void=False) \
            .only("issued_at", "checked_in_at")
        return EventTimeline(
            event_id, event.title, event.quantity,
            tuple(sorted(p.issued_at for p in passes)),
            tuple(sorted(p.checked_in_at for p in passes if p.checked_in_at is not None)))


async def _lone_tickets(user_id: str) -> list[Listing]:
    """A ticket with a pass was sold, at the pass's face value, even while resold since
    (a ticket sold before passes existed has none)."""
    tickets = await Ticket.filter(user_id=user_id, event_id=None)
    passes = {p.ticket_id: p for p in await Pass.filter(ticket_id__in=[t.id for t in tickets],
                                                        void=False)}
    held = {t.id: t.order_id for t in tickets
            if t.order_id and not t.sold and t.id not in passes}
    holds = await _hold_ends(list(held.values()))
    listings = []
    for t in tickets:
        issued = passes.get(t.id)
        sold, hold = t.sold or issued is not None, held.get(t.id)
        listings.append(Listing(
            id=t.id, kind="ticket", title=t.title,
            price=issued.face_value if issued is not None else t.price, quantity=1,
            for_sale=int(not sold and hold is None), reserved=int(hold is not None),
            sold=int(sold), checked_in=int(issued is not None and issued.checked_in_at
                                           is not None),
            reserved_until=holds.get(hold) if hold else None, created_at=t.created_at))
    return listings


async def _resales(user_id: str) -> list[Listing]:
    return [Listing(
        id=r.ticket_id, kind="resale", title=r.title, price=r.price, quantity=1,
        for_sale=int(r.state == "for_sale"), reserved=int(r.state == "reserved"), sold=0,
        checked_in=0, reserved_until=r.reserved_until, created_at=r.listed_at,
        resold=int(r.state == "resold")) for r in await resales_of(user_id)]


async def _events(user_id: str) -> list[Listing]:
    events = await Event.filter(user_id=user_id)
    ids = [e.id for e in events]
    # Sold: the units sold now and those put back on sale since (sold once, for the
    # seller); held: the other units an order holds.
    on_resale = Pass.filter(scope_id__in=ids, on_resale=True)
    sold = await _per(Ticket.filter(event_id__in=ids, sold=True), "event_id")
    for event_id, count in (await _per(on_resale, "scope_id")).items():
        sold[event_id] = sold.get(event_id, 0) + count
    held = await _per(Ticket.filter(event_id__in=ids, sold=False, order_id__not_isnull=True)
                      .exclude(id__in=Subquery(on_resale.values("ticket_id"))), "event_id")
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
