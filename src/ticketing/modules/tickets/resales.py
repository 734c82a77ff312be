"""Resale at face value: a pass's holder puts the ticket back on sale at no more than they
paid, and when someone buys it the pass moves to them (``reactions.on_order_completed``).

Listing a resale frees the ticket here (it is for sale again, at the new price) and tells
orders through ``ticket:resale-listed``, which frees orders' copy of it from the order
that bought it and keeps it from its own seller. Until it sells, the pass admits nobody
and cannot be transferred: the seller gave up the seat when they listed it.

Until someone buys it, its seller may take it off sale. Orders hands tickets out, so
orders decides (``ticket:resale-withdrawal-requested``): a ticket no buyer holds goes
back to the order that bought it (``order:resale-withdrawn``, and here the seller's pass
admits again, the same token as before); one a buyer holds stays theirs
(``order:resale-withdrawal-refused``, shown to the seller).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from tortoise.queryset import QuerySet

from ticketing.bus.contracts import (
    OrderResaleWithdrawalRefused,
    OrderResaleWithdrawn,
    TicketResaleListed,
    TicketResaleWithdrawalRequested,
)
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.clock import Clock
from ticketing.errors import (
    DomainError,
    FieldError,
    NotAuthorized,
    NotFound,
    ValidationFailed,
    message_of,
)
from ticketing.ids import is_valid_id
from ticketing.modules.tickets.door import PassChanged, held_pass, untouched_pass
from ticketing.modules.tickets.models import OrderState, Pass, Resale, Ticket

__all__ = [
    "RESALE_STATES",
    "ResaleDesk",
    "ResaleView",
    "Reselling",
    "on_resale_withdrawal_refused",
    "on_resale_withdrawn",
    "resales_of",
]

# What a resale can be: waiting for a buyer, held by one's order, or bought.
RESALE_STATES = ("for_sale", "reserved", "resold")


class CheckedInResale(DomainError):
    code = "checked_in_resale"


class AlreadyOnResale(DomainError):
    code = "already_on_resale"


class NotOnResale(NotFound):
    code = "not_on_resale"


class ResaleReserved(DomainError):
    code = "resale_reserved"


@dataclass(frozen=True)
class ResaleView:
    """One of a user's resales: its ticket, the asking price and how far it got."""

    ticket_id: str
    title: str
    price: Decimal
    listed_at: datetime
    state: str  # one of RESALE_STATES
    reserved_until: datetime | None
    sold_at: datetime | None
    event_id: str | None
    # Asked to take it off sale, orders not answered yet; or orders' refusal of the last ask.
    withdrawing: bool = False
    withdrawal_refusal: str | None = None  # the message


@runtime_checkable
class Reselling(Protocol):
    async def resell(self, ticket_id: str, user_id: str, email: str,
                     price: Decimal) -> ResaleView:
        """Put the holder's ticket back on sale at ``price``: 404 no pass, 401 not the
        holder, 400 let in already, on sale already, or dearer than they paid (``field``
        price); 409 changed meanwhile."""

    async def withdraw_resale(self, ticket_id: str, user_id: str) -> ResaleView:
        """Ask to take the seller's resale off sale (orders decides; asking again while it
        does changes nothing): 404 not on resale, 401 not its seller, 400 held by a
        buyer now."""

    async def resales_of(self, user_id: str) -> list[ResaleView]:
        """The tickets the user put back on sale, newest first."""


class ResaleDesk(Reselling):
    _outbox: Outbox
    _clock: Clock

    async def resell(self, ticket_id: str, user_id: str, email: str,
                     price: Decimal) -> ResaleView:
        """The pass (guarded by its version, and not let in) and the ticket (still sold
        to the order that bought it) change in one transaction, so a resale racing a
        check-in, a transfer or a second resale comes out as one of them and a 409."""
        found = await held_pass(ticket_id, user_id, email)
        if found.checked_in_at is not None:
            raise CheckedInResale()
        if found.on_resale:
            raise AlreadyOnResale()
        if price > found.paid_price:
            raise ValidationFailed([FieldError(
                f"{message_of('resale_above_paid')} ({found.paid_price:.2f})", "price")])
        now = self._clock()
        async with self._outbox.transaction() as unit:
            connection = unit.connection
            marked = await untouched_pass(found.ticket_id, found.version) \
                .using_db(connection).update(on_resale=True)
            ticket = await Ticket.filter(id=found.ticket_id, sold=True,
                                         order_id=found.order_id) \
                .using_db(connection).select_for_update().first()
            if not marked or ticket is None:
                raise PassChanged()
            ticket.sold, ticket.order_id, ticket.price = False, None, price
            ticket.version += 1
            await ticket.save(using_db=connection,
                              update_fields=["sold", "order_id", "price", "version"])
            await Resale.create(ticket_id=ticket.id, seller_id=user_id, price=price,
                                previous_order_id=found.order_id, listed_at=now,
                                using_db=connection)
            await unit.publish(ticket.updated_event())
            await unit.publish(TicketResaleListed(
                ticket_id=ticket.id, version=ticket.version, title=ticket.title, price=price,
                seller_id=user_id, previous_order_id=found.order_id,
                event_id=ticket.event_id))
        return ResaleView(ticket.id, ticket.title, price, now, "for_sale", None, None,
                          ticket.event_id)

    async def withdraw_resale(self, ticket_id: str, user_id: str) -> ResaleView:
        resale = await Resale.get_or_none(ticket_id=ticket_id, sold_order_id=None) \
            if is_valid_id(ticket_id) else None
        if resale is None:
            raise NotOnResale()
        if resale.seller_id != user_id:
            raise NotAuthorized()
        ticket = await Ticket.get(id=ticket_id)
        if ticket.order_id is not None:
            raise ResaleReserved()
        async with self._outbox.transaction() as unit:
            if await Resale.filter(id=resale.id, sold_order_id=None,
                                   withdrawal_requested_at=None) \
                    .using_db(unit.connection) \
                    .update(withdrawal_requested_at=self._clock(), withdrawal_refusal=None):
                await unit.publish(TicketResaleWithdrawalRequested(
                    ticket_id=ticket_id, version=ticket.version, seller_id=user_id,
                    previous_order_id=resale.previous_order_id))
        asked = next((r for r in await resales_of(user_id) if r.ticket_id == ticket_id), None)
        # None: decided already (the bus is quick in one process), and off sale.
        return asked or ResaleView(ticket_id, ticket.title, resale.price, resale.listed_at,
                                   "for_sale", None, None, ticket.event_id, withdrawing=True)

    async def resales_of(self, user_id: str) -> list[ResaleView]:
        return await resales_of(user_id)


async def on_resale_withdrawn(event: OrderResaleWithdrawn, unit: UnitOfWork) -> None:
    """The ticket is the previous order's again: sold to it at what its holder paid, and
    the holder's pass admits again (the same version: the printed pass works)."""
    connection = unit.connection
    ticket = await Ticket.filter(id=event.ticket_id).using_db(connection) \
        .select_for_update().first()
    resale = await _open_resale(event.ticket_id, event.order_id).using_db(connection).first()
    if ticket is None or resale is None:
        return  # applied already
    held = await Pass.get(ticket_id=ticket.id, using_db=connection)
    ticket.sold, ticket.order_id, ticket.price = True, event.order_id, held.paid_price
    ticket.version += 1
    await ticket.save(using_db=connection,
                      update_fields=["sold", "order_id", "price", "version"])
    await Pass.filter(ticket_id=ticket.id).using_db(connection).update(on_resale=False)
    await resale.delete(using_db=connection)
    await unit.publish(ticket.updated_event())


async def on_resale_withdrawal_refused(event: OrderResaleWithdrawalRefused,
                                       unit: UnitOfWork) -> None:
    """A buyer holds it: it stays on sale, and its seller sees why."""
    await _open_resale(event.ticket_id, event.order_id).using_db(unit.connection) \
        .update(withdrawal_requested_at=None, withdrawal_refusal=event.reason)


def _open_resale(ticket_id: str, previous_order_id: str) -> QuerySet[Resale]:
    """The ticket's resale from ``previous_order_id`` while unsold: the one an answer of
    orders is about (a late answer about an earlier resale of it finds none)."""
    return Resale.filter(ticket_id=ticket_id, previous_order_id=previous_order_id,
                         sold_order_id=None)


async def resales_of(user_id: str) -> list[ResaleView]:
    """The tickets the user put back on sale, newest first, each with its state."""
    resales = await Resale.filter(seller_id=user_id).order_by("-id")
    tickets = {t.id: t for t in await Ticket.filter(id__in={r.ticket_id for r in resales})}
    holders = [t.order_id for t in tickets.values() if t.order_id and not t.sold]
    holds = {s.order_id: s.expires_at for s in await OrderState.filter(order_id__in=holders)}
    views = []
    for resale in resales:
        ticket = tickets[resale.ticket_id]
        held = ticket.order_id if resale.sold_order_id is None else None
        state = "resold" if resale.sold_order_id else "reserved" if held else "for_sale"
        refusal = resale.withdrawal_refusal if state != "resold" else None
        views.append(ResaleView(resale.ticket_id, ticket.title, resale.price,
                                resale.listed_at, state, holds.get(held) if held else None,
                                resale.sold_at, ticket.event_id,
                                withdrawing=resale.withdrawal_requested_at is not None,
                                withdrawal_refusal=message_of(refusal) if refusal else None))
    return views
