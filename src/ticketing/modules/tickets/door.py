"""E-ticket passes and the door: a pass for each sold ticket, its signed token, door staff,
the list a door device keeps for offline checks, and check-in exactly once.

A door is a *scope*: an event (its units share one door) or a ticket listed on its own.
Its seller, and the people the seller names by email, may check passes in there.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol, runtime_checkable

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from ticketing.bus.contracts import TicketCheckedIn, TicketTransferred
from ticketing.bus.outbox import Outbox
from ticketing.clock import Clock
from ticketing.errors import (
    Conflict,
    DomainError,
    FieldError,
    NotAuthorized,
    NotFound,
    ValidationFailed,
    message_of,
)
from ticketing.ids import is_valid_id
from ticketing.modules.tickets.models import (
    DoorStaff,
    Event,
    Pass,
    PassTransfer,
    Resale,
    Ticket,
)
from ticketing.modules.tickets.passes import ALGORITHM, PassSigner

__all__ = ["AlreadyCheckedIn", "CheckIn", "Door", "DoorDesk", "DoorList", "DoorPass", "DoorScope",
           "PassChanged", "PassKey", "PassView", "ReplacedPass", "TransferView", "held_pass",
           "untouched_pass"]

# An offline scan synced later keeps the time it was made, if it is no older than this
# (a door device's clock is not trusted further back, nor ahead of the server's).
OFFLINE_SCAN_GRACE = timedelta(hours=24)


class OtherDoorPass(DomainError):
    """Genuine and current, but it admits to another of the seller's doors."""

    code = "pass_other_door"


class NotDoorStaff(NotFound):
    code = "not_door_staff"


class ReplacedPass(DomainError):
    """Genuine, but an older version: the ticket changed hands or was refunded since."""

    code = "pass_replaced"


class CheckedInTransfer(DomainError):
    """A pass let in at the door has been used: it can no longer change hands."""

    code = "checked_in_transfer"


class PassOnResale(DomainError):
    """Its holder put the ticket back on sale: until it sells it admits nobody, nor moves."""

    code = "pass_on_resale"


class SelfTransfer(DomainError):
    code = "self_transfer"


class PassChanged(Conflict):
    """The pass changed (moved, or let in) between reading and writing it."""

    code = "pass_changed"


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
    # What the holder paid: the most a resale of it may ask.
    paid_price: Decimal
    # The asking price while the holder has it on resale: it admits nobody until it sells
    # (then the pass is the buyer's).
    resale_price: Decimal | None = None
    # The holder asked to take that resale off sale; or why the last such ask was refused.
    resale_withdrawing: bool = False
    resale_refusal: str | None = None  # the message


@dataclass(frozen=True)
class TransferView:
    """Where a pass went: to whom, when, and the version the hand-over made."""

    ticket_id: str
    title: str
    to_email: str
    version: int
    transferred_at: datetime


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

    async def pass_of(self, ticket_id: str, user_id: str, email: str) -> PassView:
        """The holder's pass: 404 when the ticket has none (unknown or unpaid), 401 when
        it is someone else's. A pass transferred to ``email`` is that user's."""

    async def passes_of(self, user_id: str, email: str) -> list[PassView]:
        """Every pass the user holds, newest first."""

    async def transfer(self, ticket_id: str, user_id: str, email: str,
                       to_email: str) -> TransferView:
        """Give the pass to whoever signs in as ``to_email``: a new version, so the
        giver's token stops verifying. 404 no pass, 401 not the holder, 400 to oneself
        or already let in, 409 changed meanwhile."""

    async def transfers_from(self, user_id: str) -> list[TransferView]:
        """The passes the user gave away, newest first."""

    async def door_scope(self, scope_id: str, user_id: str, email: str) -> DoorScope:
        """The door once the user may work it: 404 unknown, 401 not staff."""

    async def door_list(self, scope_id: str, user_id: str, email: str) -> DoorList:
        """The door's valid passes (404 unknown scope, 401 neither seller nor staff)."""

    async def doors_of(self, email: str) -> list[DoorScope]:
        """The doors someone was named staff of, newest first: where they may work."""

    async def door_staff(self, scope_id: str, user_id: str) -> list[str]:
        """The emails named as door staff (seller only)."""

    async def add_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        """Name someone door staff (seller only); naming them twice changes nothing."""

    async def remove_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        """Take someone off the door staff (seller only; 404 when they are not on it)."""

    async def check_in(self, token: str, user_id: str, email: str,
                       scanned_at: datetime | None = None,
                       scope_id: str | None = None) -> CheckIn:
        """Let a pass in, once: 400 unreadable, forged, replaced or (with ``scope_id``,
        the door being worked) for another door; 401 not staff of its door; 409 already
        in. ``scanned_at`` is when an offline door scanned it."""


class DoorDesk(Door):
    def __init__(self, outbox: Outbox, signer: PassSigner, clock: Clock) -> None:
        self._outbox = outbox
        self._signer = signer
        self._clock = clock

    def pass_key(self) -> PassKey:
        return PassKey(ALGORITHM, self._signer.public_key, self._signer.key_id)

    async def pass_of(self, ticket_id: str, user_id: str, email: str) -> PassView:
        return (await self._views([await held_pass(ticket_id, user_id, email)]))[0]

    async def passes_of(self, user_id: str, email: str) -> list[PassView]:
        held = Q(owner_id=user_id) | Q(owner_id=None, owner_email=email.lower())
        return await self._views(await Pass.filter(held, void=False).order_by("-issued_at"))

    async def transfer(self, ticket_id: str, user_id: str, email: str,
                       to_email: str) -> TransferView:
        """The version-guarded UPDATE makes a transfer and a check-in (or a second
        transfer) racing for one pass come out as one of them and a 409."""
        found = await held_pass(ticket_id, user_id, email)
        recipient = to_email.lower()
        if recipient == email.lower():
            raise ValidationFailed([FieldError(message_of(SelfTransfer.code), "email")])
        if found.checked_in_at is not None:
            raise CheckedInTransfer()
        if found.on_resale:
            raise PassOnResale()
        now = self._clock()
        title = (await Ticket.get(id=found.ticket_id)).title
        async with self._outbox.transaction() as unit:
            moved = await untouched_pass(found.ticket_id, found.version) \
                .using_db(unit.connection).update(
                owner_id=None, owner_email=recipient, version=found.version + 1)
            if not moved:
                raise PassChanged()
            await PassTransfer.create(ticket_id=found.ticket_id, from_user_id=user_id,
                                      to_email=recipient, version=found.version + 1,
                                      transferred_at=now, using_db=unit.connection)
            await unit.publish(TicketTransferred(ticket_id=found.ticket_id,
                                                 version=found.version + 1,
                                                 from_user_id=user_id, to_email=recipient,
                                                 title=title))
        return TransferView(found.ticket_id, title, recipient, found.version + 1, now)

    async def transfers_from(self, user_id: str) -> list[TransferView]:
        given = await PassTransfer.filter(from_user_id=user_id).order_by("-id")
        titles = dict(await Ticket.filter(id__in=[g.ticket_id for g in given])
                      .values_list("id", "title"))
        return [TransferView(g.ticket_id, str(titles[g.ticket_id]), g.to_email, g.version,
                             g.transferred_at) for g in given]

    async def _views(self, passes: list[Pass]) -> list[PassView]:
        tickets = {t.id: t for t in await Ticket.filter(id__in=[p.ticket_id for p in passes])}
        listed = [p.ticket_id for p in passes if p.on_resale]
        resales = {r.ticket_id: r for r in await Resale.filter(
            ticket_id__in=listed, sold_order_id=None)} if listed else {}
        views = []
        for p in passes:
            resale = resales.get(p.ticket_id)
            refusal = resale.withdrawal_refusal if resale else None
            views.append(PassView(
                ticket_id=p.ticket_id, token=self._signer.token(p.ticket_id, p.version),
                version=p.version, title=tickets[p.ticket_id].title, scope_id=p.scope_id,
                event_id=tickets[p.ticket_id].event_id, issued_at=p.issued_at,
                checked_in_at=p.checked_in_at, paid_price=p.paid_price,
                resale_price=tickets[p.ticket_id].price if p.on_resale else None,
                resale_withdrawing=bool(resale and resale.withdrawal_requested_at),
                resale_refusal=message_of(refusal) if refusal else None))
        return views

    async def door_scope(self, scope_id: str, user_id: str, email: str) -> DoorScope:
        scope = await _scope(scope_id)
        if scope.seller_id != user_id and not await _is_staff(scope_id, email):
            raise NotAuthorized()
        return scope

    async def door_list(self, scope_id: str, user_id: str, email: str) -> DoorList:
        scope = await self.door_scope(scope_id, user_id, email)
        passes = await Pass.filter(scope_id=scope_id, on_resale=False, void=False) \
            .order_by("ticket_id")
        return DoorList(scope_id, scope.title, scope.kind, tuple(
            DoorPass(p.ticket_id, p.version, p.checked_in_at, p.checked_in_by)
            for p in passes))

    async def doors_of(self, email: str) -> list[DoorScope]:
        named = await DoorStaff.filter(email=email.lower()).order_by("-id")
        doors = []
        for staff in named:
            with suppress(NotFound):  # a listing gone since is no door any more
                doors.append(await _scope(staff.scope_id))
        return doors

    async def door_staff(self, scope_id: str, user_id: str) -> list[str]:
        await _seller_only(scope_id, user_id)
        return await _staff_of(scope_id)

    async def add_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        await _seller_only(scope_id, user_id)
        if not await _is_staff(scope_id, email):
            with suppress(IntegrityError):  # named at the same moment by another request
                await DoorStaff.create(scope_id=scope_id, email=email.lower(),
                                       added_at=self._clock())
        return await _staff_of(scope_id)

    async def remove_door_staff(self, scope_id: str, user_id: str, email: str) -> list[str]:
        await _seller_only(scope_id, user_id)
        if not await DoorStaff.filter(scope_id=scope_id, email=email.lower()).delete():
            raise NotDoorStaff()
        return await _staff_of(scope_id)

    async def check_in(self, token: str, user_id: str, email: str,
                       scanned_at: datetime | None = None,
                       scope_id: str | None = None) -> CheckIn:
        """One guarded UPDATE lets the pass in: of two doors scanning it at once, exactly
        one changes the row; the other reads who did and gets the 409."""
        claim = self._signer.verify(token)
        found = await Pass.get_or_none(ticket_id=claim.ticket_id)
        if found is None or found.void:
            raise ReplacedPass()  # genuine, so issued once: refunded since
        if found.seller_id != user_id and not await _is_staff(found.scope_id, email):
            raise NotAuthorized()
        if found.version != claim.version:
            raise ReplacedPass()
        if scope_id is not None and scope_id != found.scope_id:
            raise OtherDoorPass()
        if found.on_resale:
            raise PassOnResale()
        at = self._scan_time(scanned_at)
        async with self._outbox.transaction() as unit:
            admitted = await untouched_pass(found.ticket_id, claim.version) \
                .using_db(unit.connection).update(checked_in_at=at, checked_in_by=email)
            if admitted:
                await unit.publish(TicketCheckedIn(ticket_id=found.ticket_id,
                                                   scope_id=found.scope_id,
                                                   checked_in_at=at, checked_in_by=email))
        if admitted:
            return CheckIn(found.ticket_id, at, email)
        now = await Pass.get_or_none(ticket_id=found.ticket_id)
        if now is None or now.version != claim.version:
            raise ReplacedPass()
        if now.checked_in_at is None:
            raise PassOnResale()  # listed meanwhile
        raise AlreadyCheckedIn(now.ticket_id, now.checked_in_at, now.checked_in_by or "")

    def _scan_time(self, scanned_at: datetime | None) -> datetime:
        now = self._clock()
        if scanned_at is None or scanned_at > now or scanned_at < now - OFFLINE_SCAN_GRACE:
            return now
        return scanned_at


def untouched_pass(ticket_id: str, version: int) -> QuerySet[Pass]:
    """The pass at this version, if nothing else happened to it since: not let in, not
    put on resale. Each change of a pass is an UPDATE guarded by it, so of two racing
    changes one wins and the other finds no row."""
    return Pass.filter(ticket_id=ticket_id, version=version, checked_in_at=None,
                       on_resale=False, void=False)


async def held_pass(ticket_id: str, user_id: str, email: str) -> Pass:
    """The pass, if this user holds it: by account, or by email once transferred."""
    found = await Pass.get_or_none(ticket_id=ticket_id) if is_valid_id(ticket_id) else None
    if found is None or found.void:
        raise NotFound()
    if found.owner_id != user_id and not (found.owner_id is None
                                          and found.owner_email == email.lower()):
        raise NotAuthorized()
    return found


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
