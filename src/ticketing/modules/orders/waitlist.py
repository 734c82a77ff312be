"""The waitlist of a sold-out event or ticket: who asked to be told when one comes back.

A *scope* is an event (any of its units will do) or a ticket listed on its own. Orders
hands tickets out, so it also sees each one come back: an order released (cancelled or
expired, or refunded) or a resale freed. Then the first person waiting gets an *offer*:
the ticket is theirs alone to reserve for :data:`HEAD_START` (the hand-out statements
skip a ticket offered to someone else until the offer ends), ``waitlist:offered`` tells
their open pages live, and after it the ticket shows to everyone, or goes to the next
in line. Offers that ended unclaimed are passed on by the orders rounds
(:meth:`Waitlist.pass_on`).

Offer ends are kept as whole epoch seconds: compared in the hand-out's WHERE clause, an
integer reads the same on both databases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from ticketing.bus.contracts import WaitlistOffered
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.bus.sql import dialect_of, parameters
from ticketing.clock import Clock
from ticketing.errors import DomainError, NotFound
from ticketing.ids import is_valid_id
from ticketing.modules.orders.models import EventReplica, TicketReplica, WaitlistEntry

__all__ = ["HEAD_START", "NotSoldOut", "Waitlist", "WaitlistPlace", "epoch"]

HEAD_START = timedelta(minutes=5)
ROUND_SECONDS = 1.0


class NotSoldOut(DomainError):
    code = "not_sold_out"


class NotOnWaitlist(NotFound):
    code = "not_on_waitlist"


@dataclass(frozen=True)
class WaitlistPlace:
    """Where someone stands: ``position`` among those still waiting (1: next), or an
    offer of ``offer_ticket_id`` that is theirs to reserve until ``offer_until``."""

    scope_id: str
    title: str
    position: int
    joined_at: datetime
    offer_ticket_id: str | None = None
    offer_until: datetime | None = None


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _moment(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


class Waitlist:
    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    async def join(self, user_id: str, scope_id: str) -> WaitlistPlace:
        """Ask to be told: 404 unknown scope, 400 while a ticket of it is free."""
        if await _free_in(scope_id, self._clock()) > 0:
            raise NotSoldOut()
        with suppress(IntegrityError):  # on it already: the place is kept
            await WaitlistEntry.create(scope_id=scope_id, user_id=user_id,
                                       joined_at=self._clock())
        return await self.place(user_id, scope_id)

    async def place(self, user_id: str, scope_id: str) -> WaitlistPlace:
        """404 when the user is not on the scope's list."""
        entry = await WaitlistEntry.get_or_none(scope_id=scope_id, user_id=user_id) \
            if is_valid_id(scope_id) else None
        if entry is None:
            raise NotOnWaitlist()
        ahead = await WaitlistEntry.filter(scope_id=scope_id, offer_ticket_id=None,
                                           id__lt=entry.id).count()
        return WaitlistPlace(scope_id, await _title(scope_id),
                             0 if entry.offer_ticket_id else ahead + 1, entry.joined_at,
                             entry.offer_ticket_id, _moment(entry.offer_ends))

    async def leave(self, user_id: str, scope_id: str) -> None:
        """Off the list; an offer of theirs goes to the next in line at once."""
        entry = await WaitlistEntry.get_or_none(scope_id=scope_id, user_id=user_id) \
            if is_valid_id(scope_id) else None
        if entry is None:
            raise NotOnWaitlist()
        async with self._outbox.transaction() as unit:
            await _lock_ticket(unit, entry.offer_ticket_id)
            if not await WaitlistEntry.filter(id=entry.id).using_db(unit.connection).delete():
                raise NotOnWaitlist()  # left, or passed over, meanwhile
            if entry.offer_ticket_id is not None:
                await offer(unit, [(entry.offer_ticket_id, scope_id)], self._clock())

    async def run(self) -> None:
        """Pass on ended offers every :data:`ROUND_SECONDS` while the process serves."""
        while True:
            await self.pass_on()
            await asyncio.sleep(ROUND_SECONDS)

    async def pass_on(self) -> None:
        """Offers that ended unclaimed: their people leave the list (they were told) and
        each ticket goes to the next in line, or to everyone."""
        now = self._clock()
        ended = await WaitlistEntry.filter(offer_ends__lt=epoch(now)).order_by("id")
        for entry in ended:
            async with self._outbox.transaction() as unit:
                await _lock_ticket(unit, entry.offer_ticket_id)
                gone = await WaitlistEntry.filter(id=entry.id, offer_ends=entry.offer_ends) \
                    .using_db(unit.connection).delete()
                if gone and entry.offer_ticket_id is not None:
                    await offer(unit, [(entry.offer_ticket_id, entry.scope_id)], now)


async def _lock_ticket(unit: UnitOfWork, ticket_id: str | None) -> None:
    """The offered ticket's row, locked before its waitlist entry, as a hand-out does."""
    if ticket_id is not None:
        await TicketReplica.filter(id=ticket_id).using_db(unit.connection) \
            .select_for_update().first()


async def offer(unit: UnitOfWork, freed: Sequence[tuple[str, str]], now: datetime) -> None:
    """Tickets just freed (id, scope) go, each, to the first of their scope's list not
    holding an offer yet, for :data:`HEAD_START`; with nobody waiting a ticket is free
    for everyone. Runs in the transaction that freed them."""
    if not freed:
        return
    connection = unit.connection
    # One look for every scope at once: where nobody waits (the usual case) a ticket
    # costs no statement of its own, only its share of one UPDATE that clears old offers.
    waited = {str(scope_id) for scope_id in await WaitlistEntry.filter(
        scope_id__in={scope_id for _, scope_id in freed}, offer_ticket_id=None)
        .using_db(connection).distinct().values_list("scope_id", flat=True)}
    unwaited = [ticket_id for ticket_id, scope_id in freed if scope_id not in waited]
    if unwaited:
        await TicketReplica.filter(id__in=unwaited).exclude(offered_to=None) \
            .using_db(connection).update(offered_to=None, offer_ends=None)
    ends = now + HEAD_START
    for ticket_id, scope_id in freed:
        if scope_id not in waited:
            continue
        waiting = WaitlistEntry.filter(scope_id=scope_id, offer_ticket_id=None)
        seller = await TicketReplica.filter(id=ticket_id).using_db(connection) \
            .values_list("resold_by", flat=True)
        if seller and seller[0] is not None:
            waiting = waiting.exclude(user_id=str(seller[0]))  # it is their own resale
        entry = await waiting.using_db(connection).order_by("id").select_for_update().first()
        if entry is None:
            await TicketReplica.filter(id=ticket_id).using_db(connection) \
                .update(offered_to=None, offer_ends=None)
            continue
        if not await TicketReplica.filter(id=ticket_id, order_id=None).using_db(connection) \
                .update(offered_to=entry.user_id, offer_ends=epoch(ends)):
            continue  # taken since (after an offer ended): nothing to offer
        await WaitlistEntry.filter(id=entry.id).using_db(connection) \
            .update(offer_ticket_id=ticket_id, offer_ends=epoch(ends))
        await unit.publish(WaitlistOffered(scope_id=scope_id, ticket_id=ticket_id,
                                           user_id=entry.user_id, until=ends))


@cache
def _on_list(dialect: str) -> str:
    p = parameters(dialect)
    return (f"SELECT id, offer_ticket_id FROM orders_waitlist WHERE scope_id = {p(1)} "
            f"AND user_id = {p(2)}")


@cache
def _leave(dialect: str) -> str:
    return (f"DELETE FROM orders_waitlist WHERE id = {parameters(dialect)(1)} "
            "RETURNING offer_ticket_id")


async def claimed(unit: UnitOfWork, user_id: str, scope_id: str, now: datetime) -> None:
    """The user reserved a ticket of the scope, offered to them or not: they are off its
    list, and a ticket offered to them that they did not take goes to the next in line.
    One indexed look in every reservation's transaction; for someone on the list, the
    offered ticket is locked before the entry, in the order :meth:`Waitlist.pass_on` locks
    them (the other order could deadlock with it on PostgreSQL)."""
    connection = unit.connection
    found = await connection.execute_query_dict(_on_list(dialect_of(connection)),
                                                [scope_id, user_id])
    if not found:
        return
    seen = found[0]["offer_ticket_id"]
    await _lock_ticket(unit, None if seen is None else str(seen))
    # What the entry holds as it goes: an offer made to it since the look counts too.
    left = await connection.execute_query_dict(_leave(dialect_of(connection)),
                                               [found[0]["id"]])
    if not left:
        return  # passed over meanwhile: its ticket went on with it
    offered = left[0]["offer_ticket_id"]
    if offered is not None and await TicketReplica.filter(
            id=offered, order_id=None).using_db(connection).exists():
        await offer(unit, [(str(offered), scope_id)], now)


async def withdrawn(unit: UnitOfWork, scope_id: str, ticket_id: str) -> None:
    """The ticket went back to its seller: whoever it was offered to waits again, in the
    place they had (the ticket's own offer columns were cleared with the withdrawal)."""
    await WaitlistEntry.filter(scope_id=scope_id, offer_ticket_id=ticket_id) \
        .using_db(unit.connection).update(offer_ticket_id=None, offer_ends=None)


async def _title(scope_id: str) -> str:
    event = await EventReplica.get_or_none(id=scope_id)
    if event is not None:
        return event.title
    ticket = await TicketReplica.get_or_none(id=scope_id)
    return ticket.title if ticket is not None else ""


async def _free_in(scope_id: str, now: datetime) -> int:
    """Tickets of an event, or the ticket of its own, that anyone may reserve now (not
    held, nor offered to someone else); NotFound for neither."""
    if not is_valid_id(scope_id):
        raise NotFound()
    free = TicketReplica.filter(Q(offered_to=None) | Q(offer_ends__lt=epoch(now)),
                                order_id=None)
    if await EventReplica.exists(id=scope_id):
        return await free.filter(event_id=scope_id).count()
    if not await TicketReplica.exists(id=scope_id, event_id=None):
        raise NotFound()
    return await free.filter(id=scope_id).count()
