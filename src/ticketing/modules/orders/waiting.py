"""Waiting rooms: a fair queue in front of every event with an on-sale time.

State lives in orders' schema (``orders_waiting_rooms``, ``orders_queue_entries``), so
every replica of orders sees the same queue; each replica runs :meth:`WaitingRooms.run`,
and a room's round is taken by whichever replica locks its row first (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite has one writer anyway). A round:

1. at the first round from the on-sale time, ranks everybody who arrived before it in a
   random order (``secrets``: no advantage for the fastest script); later arrivals are
   ranked in arrival order, a round at a time;
2. lets the next buyers in by rank, as many as the rate has earned since the last round
   but never so many that more are let in without having reserved than
   ``admit_percent`` of the tickets left; a buyer not seen for :data:`ABANDONED_AFTER`
   is passed over (their place is kept that long across refreshes and a closed tab);
3. announces the room's figures (``waiting-room:advanced``) for the live queue pages.

A buyer let in gets an admission token (``admission.py``) good for ``admission_seconds``;
reserving tickets of a queued event takes one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from ticketing.bus.contracts import WaitingRoomAdvanced
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.clock import Clock
from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id
from ticketing.modules.orders import admission
from ticketing.modules.orders.models import EventReplica, QueueEntry, TicketReplica, WaitingRoom

log = logging.getLogger("ticketing.orders.waiting")

ROUND_SECONDS = 1.0
ABANDONED_AFTER = timedelta(minutes=5)
# A place asked for more often than this is not written again (most asks only read).
SEEN_GRANULARITY = timedelta(seconds=20)
# A room that was idle earns at most this many rounds' worth of admissions at once.
BURST_ROUNDS = 2
MAX_RATE_PER_MINUTE = 100_000
# Event replicas kept in memory for the queue's reads (a few hundred bytes each).
EVENTS_KEPT = 1024


class NoQueue(DomainError):
    code = "no_queue"


class AdmissionRequired(DomainError):
    code = "admission_required"


class BadRate(DomainError):
    code = "bad_rate"


@dataclass(frozen=True)
class QueuePlace:
    """Where a buyer stands in an event's queue.

    ``state``: ``waiting`` (before the sale, ``rank`` is None until the draw), ``admitted``
    (``token`` lets them reserve until ``admitted_until``), ``lapsed`` (let in, but the
    token ran out), or ``sold_out``.
    """

    event_id: str
    state: str
    rank: int | None
    ahead: int | None
    wait_seconds: int | None
    opens_at: datetime | None
    rate_per_minute: int
    paused: bool
    token: str | None = None
    admitted_until: datetime | None = None


@dataclass(frozen=True)
class RoomView:
    """An event's queue as its organiser sees it."""

    event_id: str
    waiting: int
    admitted: int
    rate_per_minute: int
    paused: bool
    sold_out: bool
    opened_at: datetime | None
    remaining: int


@dataclass(frozen=True)
class WaitingRoomSettings:
    rate_per_minute: int
    admission_seconds: int
    admit_percent: int
    key: str


class WaitingRooms:
    """The queues of events; see the module docstring."""

    def __init__(self, outbox: Outbox, settings: WaitingRoomSettings, clock: Clock) -> None:
        self._outbox = outbox
        self._settings = settings
        self._clock = clock
        self._window = timedelta(seconds=settings.admission_seconds)
        self._events: dict[str, EventReplica] = {}

    async def open_room(self, connection: BaseDBAsyncClient, event_id: str) -> None:
        """A queue for a new event that goes on sale at a set time."""
        await WaitingRoom.create(event_id=event_id, rate_per_minute=self._settings.rate_per_minute,
                                 using_db=connection)

    async def join(self, user_id: str, event_id: str) -> QueuePlace:
        """Take a place (or keep the one held, if not abandoned), and say where it is."""
        room, event = await self._room_of(event_id)
        now = self._clock()
        entry = await QueueEntry.get_or_none(event_id=event_id, user_id=user_id)
        if entry is None:
            entry = QueueEntry(event_id=event_id, user_id=user_id, arrival=new_id(),
                               seen_at=now)
            try:
                await entry.save()
            except IntegrityError:  # a second tab joined at the same moment: use its place
                entry = await QueueEntry.get(event_id=event_id, user_id=user_id)
        elif self._abandoned(entry, now) or self._lapsed(entry, now):
            # Gone too long, or let in and never reserved: to the back of the queue.
            entry.arrival, entry.rank, entry.admitted_at = new_id(), None, None
            entry.seen_at = now
            await entry.save(update_fields=["arrival", "rank", "admitted_at", "seen_at"])
        return await self._place(room, event, entry, now)

    async def place(self, user_id: str, event_id: str) -> QueuePlace:
        """Where the buyer stands (404 if they never joined); being asked keeps the place."""
        room, event = await self._room_of(event_id)
        entry = await QueueEntry.get_or_none(event_id=event_id, user_id=user_id)
        if entry is None:
            raise NotFound()
        now = self._clock()
        if not self._abandoned(entry, now) and now - entry.seen_at > SEEN_GRANULARITY:
            entry.seen_at = now
            await QueueEntry.filter(id=entry.id).update(seen_at=now)
        return await self._place(room, event, entry, now)

    async def room(self, user_id: str, event_id: str) -> RoomView:
        """The organiser's figures: 401 for anyone but the event's seller."""
        room, event = await self._room_of(event_id)
        if event.user_id != user_id:
            raise NotAuthorized()
        return await self._room_view(room)

    async def configure(self, user_id: str, event_id: str, *, paused: bool | None,
                        rate_per_minute: int | None) -> RoomView:
        """Pause, resume or change the rate (the seller only)."""
        await self.room(user_id, event_id)
        if rate_per_minute is not None and not 1 <= rate_per_minute <= MAX_RATE_PER_MINUTE:
            raise BadRate()
        changes: dict[str, object] = {}
        if paused is not None:
            changes["paused"] = paused
        if rate_per_minute is not None:
            changes["rate_per_minute"] = rate_per_minute
        async with self._outbox.transaction() as unit:
            room = await WaitingRoom.filter(event_id=event_id).using_db(unit.connection) \
                .select_for_update().get()
            if changes:
                await WaitingRoom.filter(event_id=event_id).using_db(unit.connection) \
                    .update(**changes)
                room.update_from_dict(changes)
                await self._announce(unit, room)
        return await self._room_view(room)

    async def check(self, connection: BaseDBAsyncClient, event_id: str, user_id: str,
                    token: str | None, now: datetime) -> None:
        """Refuse a reservation without a valid pass; with one, note the buyer reserved
        (they no longer count as let in but not reserved)."""
        if not admission.admits(token, self._settings.key, event_id, user_id, now):
            raise AdmissionRequired()
        await QueueEntry.filter(event_id=event_id, user_id=user_id).using_db(connection) \
            .update(reserved_at=now)

    async def run(self) -> None:
        """A round for every room, every :data:`ROUND_SECONDS`, while the process serves."""
        while True:
            await self.advance()
            await asyncio.sleep(ROUND_SECONDS)

    async def advance(self) -> None:
        """One round of every room with somebody in it who has not reserved and was seen
        lately (for the others a round has nothing to do)."""
        now = self._clock()
        due = await QueueEntry.filter(reserved_at=None, seen_at__gt=now - ABANDONED_AFTER) \
            .distinct().values_list("event_id", flat=True)
        for event_id in sorted(set(due)):
            await self._advance(str(event_id), now)

    async def _advance(self, event_id: str, now: datetime) -> None:
        async with self._outbox.transaction() as unit:
            connection = unit.connection
            query = WaitingRoom.filter(event_id=event_id).using_db(connection)
            if connection.capabilities.dialect == "postgres":
                query = query.select_for_update(skip_locked=True)
            room = await query.first()
            event = await EventReplica.get_or_none(id=event_id, using_db=connection)
            if room is None or event is None or event.on_sale_at is None \
                    or now < event.on_sale_at:
                return
            before = (room.ranked, room.admitted_rank, room.sold_out)
            await self._rank_arrivals(connection, room, now)
            remaining = await _remaining(connection, event_id)
            room.sold_out = remaining == 0
            if not room.paused and not room.sold_out:
                await self._admit(connection, room, remaining, now)
            else:
                room.allowance = 0.0
            room.ticked_at = now
            await room.save(using_db=connection)
            if (room.ranked, room.admitted_rank, room.sold_out) != before:
                await self._announce(unit, room)

    async def _rank_arrivals(self, connection: BaseDBAsyncClient, room: WaitingRoom,
                             now: datetime) -> None:
        """Rank whoever has no rank yet: shuffled at the opening, in arrival order after."""
        unranked = await QueueEntry.filter(event_id=room.event_id, rank=None) \
            .using_db(connection).order_by("arrival")
        if room.opened_at is None:
            secrets.SystemRandom().shuffle(unranked)
            room.opened_at = now
        for offset, entry in enumerate(unranked, start=1):
            entry.rank = room.ranked + offset
        if unranked:
            await QueueEntry.bulk_update(unranked, fields=["rank"], batch_size=500,
                                         using_db=connection)
            room.ranked += len(unranked)

    async def _admit(self, connection: BaseDBAsyncClient, room: WaitingRoom, remaining: int,
                     now: datetime) -> None:
        per_round = room.rate_per_minute / 60 * ROUND_SECONDS
        elapsed = ROUND_SECONDS if room.ticked_at is None else max(
            0.0, (now - room.ticked_at).total_seconds())
        earned = min(room.allowance + room.rate_per_minute / 60 * elapsed,
                     max(1.0, per_round * BURST_ROUNDS))
        outstanding = await QueueEntry.filter(
            event_id=room.event_id, admitted_at__gt=now - self._window, reserved_at=None,
        ).using_db(connection).count()
        room_for = math.floor(remaining * self._settings.admit_percent / 100) - outstanding
        count = min(math.floor(earned), room_for)
        admitted = []
        if count > 0:
            admitted = await QueueEntry.filter(
                event_id=room.event_id, admitted_at=None, rank__isnull=False,
                seen_at__gt=now - ABANDONED_AFTER,
            ).using_db(connection).order_by("rank").limit(count)
        if admitted:
            await QueueEntry.filter(id__in=[e.id for e in admitted]).using_db(connection) \
                .update(admitted_at=now)
            room.admitted += len(admitted)
            room.admitted_rank = max(room.admitted_rank, max(e.rank or 0 for e in admitted))
            room.allowance = earned - len(admitted)
        else:
            # Nobody to let in, or no room: an idle queue does not save up admissions.
            room.allowance = min(earned, max(1.0, per_round))

    async def _announce(self, unit: UnitOfWork, room: WaitingRoom) -> None:
        await unit.publish(WaitingRoomAdvanced(
            event_id=room.event_id, ranked=room.ranked, admitted_rank=room.admitted_rank,
            rate_per_minute=room.rate_per_minute, paused=room.paused, sold_out=room.sold_out))

    async def known_event(self, event_id: str) -> EventReplica:
        """Orders' replica of the event (404 if orders does not know it), kept in memory:
        an event never changes once orders has it, and every reservation and queue
        request of an on-sale asks for the same one."""
        event = self._events.get(event_id)
        if event is None:
            event = await EventReplica.get_or_none(id=event_id) \
                if is_valid_id(event_id) else None
            if event is None:
                raise NotFound()
            if len(self._events) >= EVENTS_KEPT:
                self._events.pop(next(iter(self._events)))
            self._events[event_id] = event
        return event

    async def _room_of(self, event_id: str) -> tuple[WaitingRoom, EventReplica]:
        event = await self.known_event(event_id)
        room = await WaitingRoom.get_or_none(event_id=event_id)
        if room is None:
            raise NoQueue()
        return room, event

    def _abandoned(self, entry: QueueEntry, now: datetime) -> bool:
        return entry.admitted_at is None and now - entry.seen_at > ABANDONED_AFTER

    def _lapsed(self, entry: QueueEntry, now: datetime) -> bool:
        return entry.admitted_at is not None and entry.reserved_at is None \
            and now >= entry.admitted_at + self._window

    async def _place(self, room: WaitingRoom, event: EventReplica, entry: QueueEntry,
                     now: datetime) -> QueuePlace:
        place = QueuePlace(event_id=event.id, state="waiting", rank=entry.rank, ahead=None,
                           wait_seconds=None, opens_at=event.on_sale_at,
                           rate_per_minute=room.rate_per_minute, paused=room.paused)
        if room.sold_out and entry.reserved_at is None:
            return replace(place, state="sold_out")  # for everyone at once, let in or not
        if entry.admitted_at is not None:
            until = entry.admitted_at + self._window
            if now >= until:
                return replace(place, state="lapsed")
            token = admission.issue(self._settings.key, event.id, entry.user_id, until)
            return replace(place, state="admitted", ahead=0, wait_seconds=0, token=token,
                           admitted_until=until)
        if entry.rank is not None:
            ahead = max(0, entry.rank - room.admitted_rank - 1)
            return replace(place, ahead=ahead,
                           wait_seconds=math.ceil((ahead + 1) * 60 / room.rate_per_minute))
        if event.on_sale_at is not None and now < event.on_sale_at:
            return replace(place, wait_seconds=math.ceil(
                (event.on_sale_at - now).total_seconds()))
        return place

    async def _room_view(self, room: WaitingRoom) -> RoomView:
        now = self._clock()
        waiting = await QueueEntry.filter(event_id=room.event_id, admitted_at=None,
                                          seen_at__gt=now - ABANDONED_AFTER).count()
        return RoomView(event_id=room.event_id, waiting=waiting,
                        admitted=room.admitted, rate_per_minute=room.rate_per_minute,
                        paused=room.paused, sold_out=room.sold_out, opened_at=room.opened_at,
                        remaining=await _remaining(None, room.event_id))


async def _remaining(connection: BaseDBAsyncClient | None, event_id: str) -> int:
    """The event's tickets orders has not handed out (the (event_id, order_id) index)."""
    query = TicketReplica.filter(event_id=event_id, order_id=None)
    if connection is not None:
        query = query.using_db(connection)
    return await query.count()
