"""E-ticket passes and the door: a pass for each sold ticket, its signed token, door staff,
the list a door device keeps for offline checks, and check-in exactly once.

A door is a *scope*: an event (its units share one door) or a ticket listed on its own.
Its seller, and the people the seller names by email, may check passes in there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from ticketing.bus.contracts import TicketCheckedIn
from ticketing.bus.outbox import Outbox
from ticketing.clock import Clock
from ticketing.errors import Conflict, DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id
from ticketing.modules.tickets.models import DoorStaff, Event, Pass, Ticket
from ticketing.modules.tickets.passes import ALGORITHM, PassSigner

__all__ = ["AlreadyCheckedIn", "CheckIn", "Door", "DoorDesk", "DoorList", "DoorPass", "DoorScope",
           "PassKey", "PassView", "ReplacedPass"]

# An offline scan synced later keeps the time it was made, if it is no older than this
# (a door device's clock is not trusted further back, nor ahead of the server's).
OFFLINE_SCAN_GRACE = timedelta(hours=24)


class ReplacedPass(DomainError):
    """Genuine, but an older version: the ticket changed hands or was refunded since."""

    code = "pass_replaced"


class AlreadyCheckedIn(Conflict):
    """The pass was let in before; the message says when (UTC) and by whom."""

    code = "already_checked_in"

    def __init__(self, ticket_id: str, at: datetime, by: str) -> None:
        super().__init__(f"Already checked in at {at:%H:%M} UTC by {by}")
        self.ticket_id, self.at, self.by = ticket_id, at, by


@dataclass(frozen=True)
class PassKey:
    """The public half of the signing key, for doors that check passes themselves."""

    algorithm: str
    public_key: str
    key_id: str


@dataclass(frozen=True)
class PassView:
    """A ticket's pass as its owner sees it: the token its QR code carries."""

    ticket_id: str
    token: str
    version: int
    title: str
    scope_id: str
    event_id: str | None
    issued_at: datetime
    checked_in_at: datetime | None


@dataclass(frozen=True)
class DoorScope:
    """A door: an event or a lone ticket, its title and its seller."""

    id: str
    kind: str
    title: str
    seller_id: str

    @property
    def page(self) -> str:
        return f"/{self.kind}s/{self.id}/checkin"


@dataclass(frozen=True)
class DoorPass:
    """One valid pass in a door's list: its version and whether it is in already."""

    ticket_id: str
    version: int
    checked_in_at: datetime | None
    checked_in_by: str | None


@dataclass(frozen=True)
class DoorList:
    """What a door device keeps to check passes with the network down."""

    scope_id: str
    title: str
    # "event" or "ticket": what the scope is, and so where its door page lives.
    kind: str
    passes: tuple[DoorPass, ...]

    @property
    def checked_in(self) -> int:
        return sum(1 for p in self.passes if p.checked_in_at is not None)


@dataclass(frozen=True)
class CheckIn:
    ticket_id: str
    checked_in_at: datetime
    checked_in_by: str


@runtime_checkable
class Door(Protocol):
    """Passes for owners and the door for sellers and their staff."""

    def pass_key(self) -> PassKey:
        """The public key that verifies every pass token."""

    async def pass_of(self, ticket_id: str, user_id: str) -> PassView:
        """The owner's pass: 404 when the ticket has none (unknown or unpaid), 401 when
        it is someone else's."""

    async def passes_of(self, user_id: str) -> list[PassView]:
        """Every pass the user holds, newest first."""

    async def door_scope(self, scope_id: str, user_id: str, email: str) -> DoorScope:
        """The door once the user may work it: 404 unknown, 401 not staff."""

    async def door_list(self, scope_id: str, user_id: str, email: str) -> DoorList:
        """The door's valid passes (404 unknown scope, 401 neither seller nor staff)."""

    async def door_staff(self, scope_id: str, user_id: str) -> list[str]:
        """The emails named as door staff (seller only)."""

    async def add_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        """Name someone door staff (seller only); naming them twice changes nothing."""

    async def remove_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        """Take someone off the door staff (seller only)."""

    async def check_in(self, token: str, user_id: str, email: str,
                       scanned_at: datetime | None = None) -> CheckIn:
        """Let a pass in, once: 400 unreadable, forged or replaced; 401 not staff of its
        door; 409 already in. ``scanned_at`` is when an offline door scanned it."""


class DoorDesk(Door):
    def __init__(self, outbox: Outbox, signer: PassSigner, clock: Clock) -> None:
        self._outbox = outbox
        self._signer = signer
        self._clock = clock

    def pass_key(self) -> PassKey:
        return PassKey(ALGORITHM, self._signer.public_key, self._signer.key_id)

    async def pass_of(self, ticket_id: str, user_id: str) -> PassView:
        found = await Pass.get_or_none(ticket_id=ticket_id) if is_valid_id(ticket_id) else None
        if found is None:
            raise NotFound()
        if found.owner_id != user_id:
            raise NotAuthorized()
        return (await self._views([found]))[0]

    async def passes_of(self, user_id: str) -> list[PassView]:
        return await self._views(await Pass.filter(owner_id=user_id).order_by("-issued_at"))

    async def _views(self, passes: list[Pass]) -> list[PassView]:
        tickets = {t.id: t for t in await Ticket.filter(id__in=[p.ticket_id for p in passes])}
        return [PassView(ticket_id=p.ticket_id, token=self._signer.token(p.ticket_id, p.version),
                         version=p.version, title=tickets[p.ticket_id].title,
                         scope_id=p.scope_id, event_id=tickets[p.ticket_id].event_id,
                         issued_at=p.issued_at, checked_in_at=p.checked_in_at)
                for p in passes]

    async def door_scope(self, scope_id: str, user_id: str, email: str) -> DoorScope:
        scope = await _scope(scope_id)
        if scope.seller_id != user_id and not await _is_staff(scope_id, email):
            raise NotAuthorized()
        return scope

    async def door_list(self, scope_id: str, user_id: str, email: str) -> DoorList:
        scope = await self.door_scope(scope_id, user_id, email)
        passes = await Pass.filter(scope_id=scope_id).order_by("ticket_id")
        return DoorList(scope_id, scope.title, scope.kind, tuple(
            DoorPass(p.ticket_id, p.version, p.checked_in_at, p.checked_in_by)
            for p in passes))

    async def door_staff(self, scope_id: str, user_id: str) -> list[str]:
        await _seller_only(scope_id, user_id)
        return await _staff_of(scope_id)

    async def add_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        await _seller_only(scope_id, user_id)
        await DoorStaff.get_or_create(scope_id=scope_id, email=email.lower(),
                                      defaults={"added_at": self._clock()})
        return await _staff_of(scope_id)

    async def remove_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        await _seller_only(scope_id, user_id)
        await DoorStaff.filter(scope_id=scope_id, email=email.lower()).delete()
        return await _staff_of(scope_id)

    async def check_in(self, token: str, user_id: str, email: str,
                       scanned_at: datetime | None = None) -> CheckIn:
        """One guarded UPDATE lets the pass in: of two doors scanning it at once, exactly
        one changes the row; the other reads who did and gets the 409."""
        claim = self._signer.verify(token)
        found = await Pass.get_or_none(ticket_id=claim.ticket_id)
        if found is None:
            raise ReplacedPass()  # genuine, so issued once: refunded since
        if found.seller_id != user_id and not await _is_staff(found.scope_id, email):
            raise NotAuthorized()
        if found.version != claim.version:
            raise ReplacedPass()
        at = self._scan_time(scanned_at)
        async with self._outbox.transaction() as unit:
            admitted = await Pass.filter(ticket_id=found.ticket_id, version=claim.version,
                                         checked_in_at=None).using_db(unit.connection) \
                .update(checked_in_at=at, checked_in_by=email)
            if admitted:
                await unit.publish(TicketCheckedIn(ticket_id=found.ticket_id,
                                                   scope_id=found.scope_id,
                                                   checked_in_at=at, checked_in_by=email))
        if admitted:
            return CheckIn(found.ticket_id, at, email)
        now = await Pass.get(ticket_id=found.ticket_id)
        if now.version != claim.version or now.checked_in_at is None:
            raise ReplacedPass()
        raise AlreadyCheckedIn(now.ticket_id, now.checked_in_at, now.checked_in_by or "")

    def _scan_time(self, scanned_at: datetime | None) -> datetime:
        now = self._clock()
        if scanned_at is None or scanned_at > now or scanned_at < now - OFFLINE_SCAN_GRACE:
            return now
        return scanned_at


async def _scope(scope_id: str) -> DoorScope:
    """A door: an event, or a ticket of no event."""
    if not is_valid_id(scope_id):
        raise NotFound()
    event = await Event.get_or_none(id=scope_id)
    if event is not None:
        return DoorScope(scope_id, "event", event.title, event.user_id)
    ticket = await Ticket.get_or_none(id=scope_id, event_id=None)
    if ticket is None:
        raise NotFound()
    return DoorScope(scope_id, "ticket", ticket.title, ticket.user_id)


async def _seller_only(scope_id: str, user_id: str) -> None:
    if (await _scope(scope_id)).seller_id != user_id:
        raise NotAuthorized()


async def _is_staff(scope_id: str, email: str) -> bool:
    return await DoorStaff.filter(scope_id=scope_id, email=email.lower()).exists()


async def _staff_of(scope_id: str) -> list[str]:
    return [staff.email for staff in await DoorStaff.filter(scope_id=scope_id)
            .order_by("email")]
