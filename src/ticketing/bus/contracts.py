"""The integration events: the only things that cross between modules.

Every event is a frozen dataclass with a stable wire name (``WIRE_TYPE``, never derived
from the class path) and a schema version. On the wire an event travels inside an
:class:`Envelope`; field names are camelCase as in the contract, money is a JSON number
that is read back as an exact :class:`~decimal.Decimal`. Changing an event means a new
``SCHEMA_VERSION`` plus an entry in ``UPGRADES`` that lifts the old shape, so stored
and in-flight events of every earlier version keep decoding.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar, TypeVar, Union

T = TypeVar("T")
# W3C trace context, version 00: version-trace id-parent id-flags, lowercase hex.
TRACEPARENT_SHAPE = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


class OrderStatus(StrEnum):
    """An order's status, as the API shows it and every module keeps it."""

    CREATED = "created"
    AWAITING_PAYMENT = "awaiting:payment"
    COMPLETE = "complete"
    CANCELLED = "cancelled"


# Statuses of an order that still holds its ticket and can still be paid or cancelled.
OPEN_ORDER_STATUSES = frozenset({OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT})


class PaymentRefusal(StrEnum):
    """Why orders refused an authorised payment: ``order:payment-refused``'s reason, and
    the code of the error the payment's request hears (``ticketing.errors``)."""

    ORDER_CANCELLED = "order_cancelled"
    ORDER_EXPIRED = "order_expired"
    ORDER_PAID = "order_paid"


@dataclasses.dataclass(frozen=True)
class Event:
    """Base of every integration event."""

    WIRE_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1


@dataclasses.dataclass(frozen=True)
class SessionEnded(Event):
    """A user signed out: the session ``session_id`` is over in every process (auth ->
    every process, through ``Bus.watch`` and, on start-up, the bus's history).

    Kept until ``expires_at``, when the token would have died anyway.
    """

    WIRE_TYPE: ClassVar[str] = "auth:session-ended"
    session_id: str
    user_id: str
    expires_at: datetime


@dataclasses.dataclass(frozen=True)
class SessionsEnded(Event):
    """A user signed out everywhere: every session of ``user_id`` begun before
    ``ended_at`` is over (auth -> every process, like :class:`SessionEnded`)."""

    WIRE_TYPE: ClassVar[str] = "auth:sessions-ended"
    user_id: str
    ended_at: datetime


@dataclasses.dataclass(frozen=True)
class AllSessionsEnded(Event):
    """Every session begun before ``ended_at`` is over, whoever's it was (auth -> every
    process). Auth's data was restored from a backup: a session issued after the backup
    may name an account that the restored data no longer has."""

    WIRE_TYPE: ClassVar[str] = "auth:all-sessions-ended"
    ended_at: datetime


@dataclasses.dataclass(frozen=True)
class UserRegistered(Event):
    """Someone signed up as ``email`` (auth -> mail, which keeps the address to write
    to and sends the welcome). Addresses are stored lower-cased and never change."""

    WIRE_TYPE: ClassVar[str] = "auth:user-registered"
    user_id: str
    email: str


@dataclasses.dataclass(frozen=True)
class TicketRef:
    """The part of a ticket an order event carries."""

    id: str
    price: Decimal | None = None


@dataclasses.dataclass(frozen=True)
class TicketCreated(Event):
    """A seller listed a ticket (tickets -> orders)."""

    WIRE_TYPE: ClassVar[str] = "ticket:created"
    id: str
    version: int
    title: str
    price: Decimal
    user_id: str
    # Days after payment its buyer may ask for a refund (None or 0: none); optional, so
    # older readers skip it.
    refund_days: int | None = None


@dataclasses.dataclass(frozen=True)
class TicketUpdated(Event):
    """Any change of a ticket, its hold (``order_id``) included; ``event_id`` names the
    event a unit belongs to (an optional field: older readers skip it)."""

    WIRE_TYPE: ClassVar[str] = "ticket:updated"
    id: str
    version: int
    title: str
    price: Decimal
    user_id: str
    order_id: str | None = None
    event_id: str | None = None


@dataclasses.dataclass(frozen=True)
class EventCreated(Event):
    """A seller created an event of ``quantity`` tickets (tickets -> orders).

    One message stands for all its units: unit ``i`` is the ticket
    ``ticketing.ids.unit_id(id, i)`` at version 0, titled and priced as the event.
    """

    WIRE_TYPE: ClassVar[str] = "event:created"
    id: str
    version: int
    title: str
    price: Decimal
    quantity: int
    per_buyer_limit: int
    user_id: str
    on_sale_at: datetime | None = None
    refund_days: int | None = None  # as ``ticket:created``'s, for every unit
    # When it begins: no refund window runs past it (absent: no start given).
    starts_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class OrderCreated(Event):
    """A buyer reserved tickets until ``expires_at`` (orders -> tickets, payments,
    expiration): ``tickets`` all of them, each with its price, ``ticket`` the first.

    v2 added ``tickets`` and ``event_id`` (the event they were taken from, if any).
    """

    WIRE_TYPE: ClassVar[str] = "order:created"
    SCHEMA_VERSION: ClassVar[int] = 2
    id: str
    version: int
    status: str
    user_id: str
    expires_at: datetime
    ticket: TicketRef
    tickets: tuple[TicketRef, ...]
    event_id: str | None = None

    @property
    def total(self) -> Decimal:
        """What the order costs: its tickets' prices together. An order made carries every
        price; one without is refused (ValueError) rather than undercharged."""
        prices = [t.price for t in self.tickets]
        if None in prices:
            raise ValueError(f"order {self.id} names a ticket without a price")
        return sum((price for price in prices if price is not None), Decimal(0))


@dataclasses.dataclass(frozen=True)
class OrderCancelled(Event):
    """An order ended unpaid; its tickets are free again (orders -> tickets, payments).

    v2 added ``tickets``: every ticket the order held (``ticket`` is the first).
    """

    WIRE_TYPE: ClassVar[str] = "order:cancelled"
    SCHEMA_VERSION: ClassVar[int] = 2
    id: str
    version: int
    ticket: TicketRef
    tickets: tuple[TicketRef, ...]
    # Why (for the buyer's mail): "expired" (its window closed), "refunded" (paid, then
    # refunded) or "cancelled" (by the buyer, or refused); None from before it was said.
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class OrderCompleted(Event):
    """An order was paid: its ticket is sold for good (not in the original system).

    Sent by orders when it accepts a ``payment:authorized`` inside the order's window
    (``payment_id`` names it: payments captures exactly that authorisation), or, for a
    payment of the 0.1 flow, on ``payment:created`` (v1 had no ``payment_id``).
    Consumed by tickets (sold), expiration (timer dropped), payments (capture).
    v3 added ``tickets``, as ``order:created`` v2 did. ``user_id`` (the buyer, to whom
    tickets issues the passes) is optional: a completion sent before it existed has none.
    """

    WIRE_TYPE: ClassVar[str] = "order:completed"
    SCHEMA_VERSION: ClassVar[int] = 3
    id: str
    version: int
    ticket: TicketRef
    tickets: tuple[TicketRef, ...]
    payment_id: str | None = None
    user_id: str | None = None


@dataclasses.dataclass(frozen=True)
class OrderRefundRequested(Event):
    """The buyer of a paid order asked for their money back inside its refund window
    (orders -> tickets, which answers ``ticket:refund-granted`` once every pass of the
    order is still the buyer's and unused, else ``ticket:refund-refused``)."""

    WIRE_TYPE: ClassVar[str] = "order:refund-requested"
    id: str
    user_id: str
    tickets: tuple[TicketRef, ...]


@dataclasses.dataclass(frozen=True)
class OrderPaymentRefused(Event):
    """Orders did not accept an authorised payment (orders -> payments, which releases it).

    Sent instead of ``order:completed`` when the authorisation reached orders after the
    order was cancelled, after its window closed, or after another payment completed it.
    ``reason`` is a :class:`PaymentRefusal` code (a ``str`` on the wire: a payments
    release that does not know a newer code treats it as a cancellation).
    The order itself does not change, so it carries no order version.
    """

    WIRE_TYPE: ClassVar[str] = "order:payment-refused"
    id: str
    payment_id: str
    reason: str


@dataclasses.dataclass(frozen=True)
class WaitingRoomAdvanced(Event):
    """An event's queue moved (orders -> every process's live views, through the bus's
    watchers; no module consumes it): ranks 1..``ranked`` are handed out, buyers up to
    ``admitted_rank`` let in. A queue page works out its own place from these."""

    WIRE_TYPE: ClassVar[str] = "waiting-room:advanced"
    event_id: str
    ranked: int
    admitted_rank: int
    rate_per_minute: int
    paused: bool
    sold_out: bool


@dataclasses.dataclass(frozen=True)
class WaitlistOffered(Event):
    """A ticket came back and is ``user_id``'s alone to reserve until ``until``: they
    were first on the waitlist of ``scope_id`` (an event, or the ticket itself) (orders
    -> watchers, their live pages, and mail, which writes to them)."""

    WIRE_TYPE: ClassVar[str] = "waitlist:offered"
    scope_id: str
    ticket_id: str
    user_id: str
    until: datetime


@dataclasses.dataclass(frozen=True)
class TicketTransferred(Event):
    """A pass's owner gave it to someone named by email (tickets -> watchers, and the
    mail the recipient is sent). ``version`` is the pass's new version: the giver's
    token, one less, stopped verifying."""

    WIRE_TYPE: ClassVar[str] = "ticket:transferred"
    ticket_id: str
    version: int
    from_user_id: str
    to_email: str
    title: str | None = None  # the ticket's, for the recipient's mail


@dataclasses.dataclass(frozen=True)
class TicketResaleListed(Event):
    """A pass's holder put the ticket back on sale at ``price``, no more than they paid
    (tickets -> orders, which frees the ticket from ``previous_order_id`` and keeps it
    from ``seller_id``). The ticket is at ``version`` with the new price, as the
    ``ticket:updated`` published with it says; either may arrive first."""

    WIRE_TYPE: ClassVar[str] = "ticket:resale-listed"
    ticket_id: str
    version: int
    title: str
    price: Decimal
    seller_id: str
    previous_order_id: str
    event_id: str | None = None


@dataclasses.dataclass(frozen=True)
class TicketResold(Event):
    """A ticket put back on sale was bought: ``order_id`` paid ``price`` and the pass is
    the buyer's (tickets -> payments, which records what it owes ``seller_id``)."""

    WIRE_TYPE: ClassVar[str] = "ticket:resold"
    ticket_id: str
    order_id: str
    seller_id: str
    buyer_id: str
    price: Decimal


@dataclasses.dataclass(frozen=True)
class TicketResaleWithdrawalRequested(Event):
    """A resale's seller asks to take it off sale (tickets -> orders, which hands out
    tickets and so decides: ``order:resale-withdrawn`` if no buyer holds it, else
    ``order:resale-withdrawal-refused``). ``previous_order_id`` is the order it goes
    back to, the one it was freed from when listed; ``version`` the ticket's when asked
    (orders waits until its copy has caught up with it)."""

    WIRE_TYPE: ClassVar[str] = "ticket:resale-withdrawal-requested"
    ticket_id: str
    version: int
    seller_id: str
    previous_order_id: str


@dataclasses.dataclass(frozen=True)
class OrderResaleWithdrawn(Event):
    """Orders gave the resale's ticket back to ``order_id``, the order that bought it
    before (orders -> tickets, which revives its seller's pass)."""

    WIRE_TYPE: ClassVar[str] = "order:resale-withdrawn"
    ticket_id: str
    order_id: str


@dataclasses.dataclass(frozen=True)
class OrderResaleWithdrawalRefused(Event):
    """The resale stays on sale (``reason``, an error code): a buyer holds or bought it,
    or the order's buyer holds as many of its event as one may (orders -> tickets, which
    tells the seller)."""

    WIRE_TYPE: ClassVar[str] = "order:resale-withdrawal-refused"
    ticket_id: str
    order_id: str  # the order it would have gone back to: which resale this answers
    reason: str


@dataclasses.dataclass(frozen=True)
class TicketRefundGranted(Event):
    """Tickets took back a refunded order's tickets: their passes are void and they are
    for sale again (tickets -> orders, which cancels the order: ``order:cancelled`` then
    has payments give the money back)."""

    WIRE_TYPE: ClassVar[str] = "ticket:refund-granted"
    order_id: str


@dataclasses.dataclass(frozen=True)
class TicketRefundRefused(Event):
    """A refund cannot be granted: a pass of the order was let in, given away or put on
    resale (``reason``, an error code) (tickets -> orders, which tells the buyer)."""

    WIRE_TYPE: ClassVar[str] = "ticket:refund-refused"
    order_id: str
    reason: str


@dataclasses.dataclass(frozen=True)
class TicketCheckedIn(Event):
    """A pass was let in at the door (tickets -> every process's live views, through the
    bus's watchers; no module consumes it). ``scope_id`` is the ticket's event, or the
    ticket itself where it has none: the door page of that scope counts it live."""

    WIRE_TYPE: ClassVar[str] = "ticket:checked-in"
    ticket_id: str
    scope_id: str
    checked_in_at: datetime
    checked_in_by: str


@dataclasses.dataclass(frozen=True)
class ExpirationComplete(Event):
    """An order's payment window closed (expiration -> orders)."""

    WIRE_TYPE: ClassVar[str] = "expiration:complete"
    order_id: str


@dataclasses.dataclass(frozen=True)
class PaymentAuthorized(Event):
    """The provider holds the order's price (nothing captured yet) (payments -> orders).

    Orders decides: ``order:completed`` with this ``id`` as ``payment_id`` if the order
    was still open and ``authorized_at`` fell inside its window, else
    ``order:payment-refused``. Sent once per payment; ``id`` becomes the payment's id.
    """

    WIRE_TYPE: ClassVar[str] = "payment:authorized"
    id: str
    order_id: str
    authorized_at: datetime


@dataclasses.dataclass(frozen=True)
class PaymentCreated(Event):
    """An order was charged: its authorisation was captured (payments -> orders).

    Sent after ``order:completed`` accepted the payment; orders completes an order on it
    only if it is still open (a payment of the 0.1 flow, captured at once).
    """

    WIRE_TYPE: ClassVar[str] = "payment:created"
    id: str
    order_id: str
    stripe_id: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.WIRE_TYPE: cls
    for cls in (SessionEnded, SessionsEnded, AllSessionsEnded, UserRegistered, TicketCreated,
                TicketUpdated, EventCreated, OrderCreated, OrderCancelled, OrderCompleted,
                OrderPaymentRefused,
                OrderRefundRequested, TicketRefundGranted, TicketRefundRefused,
                WaitingRoomAdvanced, WaitlistOffered, TicketTransferred, TicketResaleListed,
                TicketResold, TicketResaleWithdrawalRequested, OrderResaleWithdrawn,
                OrderResaleWithdrawalRefused, TicketCheckedIn, ExpirationComplete,
                PaymentAuthorized, PaymentCreated)
}

# (wire type, from version) -> function lifting that version's data to the next one.
def _one_ticket(data: dict[str, Any]) -> dict[str, Any]:
    """An order event from before multi-ticket orders held exactly its ``ticket``."""
    return {**data, "tickets": [data["ticket"]]}


UPGRADES: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {
    # v2 names the accepted payment; a v1 completion came from a captured payment:created.
    ("order:completed", 1): lambda data: {**data, "paymentId": None},
    ("order:completed", 2): _one_ticket,
    ("order:created", 1): _one_ticket,
    ("order:cancelled", 1): _one_ticket,
}


class UnknownEvent(ValueError):
    """An envelope names a type or version this code cannot read."""


@dataclasses.dataclass(frozen=True)
class Envelope:
    """An event with its identity: what the outbox stores and the transports carry."""

    id: str
    type: str
    occurred_at: datetime
    source: str
    schema_version: int
    event: Event
    # The W3C trace context of the span that published it (telemetry/tracing.py): an
    # optional envelope field, so events written before it existed still decode.
    traceparent: str | None = None

    @classmethod
    def wrap(cls, event: Event, source: str, traceparent: str | None = None) -> Envelope:
        """A new envelope (fresh id, now) for an event published by module ``source``."""
        return cls(id=str(uuid.uuid4()), type=event.WIRE_TYPE, occurred_at=datetime.now(UTC),
                   source=source, schema_version=event.SCHEMA_VERSION, event=event,
                   traceparent=traceparent)

    def to_json(self) -> str:
        """The wire form: compact JSON, camelCase fields, exact money, UTC times."""
        wire = {
            "id": self.id,
            "type": self.type,
            "occurredAt": _to_wire(self.occurred_at),
            "source": self.source,
            "schemaVersion": self.schema_version,
            "data": _to_wire(self.event),
        }
        if self.traceparent is not None:
            wire["traceparent"] = self.traceparent
        return json.dumps(wire, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Envelope:
        """Decode, upgrading older schema versions; raises :class:`UnknownEvent`."""
        try:
            raw = json.loads(text, parse_float=Decimal)
            event_type, version, data = raw["type"], int(raw["schemaVersion"]), raw["data"]
            event_class = EVENT_TYPES[event_type]
        except (ValueError, KeyError, TypeError) as error:
            raise UnknownEvent(f"undecodable envelope: {error}") from None
        if version > event_class.SCHEMA_VERSION:
            raise UnknownEvent(f"{event_type} v{version} is newer than this code")
        try:
            while version < event_class.SCHEMA_VERSION:
                data = UPGRADES[(event_type, version)](data)
                version += 1
        except KeyError:
            raise UnknownEvent(f"{event_type} v{version} has no upgrade") from None
        try:
            event = _from_wire(event_class, data)
            return cls(id=str(raw["id"]), type=event_type,
                       occurred_at=datetime.fromisoformat(raw["occurredAt"]),
                       source=str(raw["source"]), schema_version=version, event=event,
                       traceparent=_traceparent(raw.get("traceparent")))
        except (ValueError, KeyError, TypeError) as error:
            raise UnknownEvent(f"{event_type} with bad data: {error}") from None


def _traceparent(value: Any) -> str | None:
    """A carried trace context, if it is one: a malformed one is dropped, not fatal."""
    return value if isinstance(value, str) and TRACEPARENT_SHAPE.fullmatch(value) else None


def traceparent_of(body: str | bytes) -> str | None:
    """The trace context of an undecoded envelope (the relay carries it as a header)."""
    try:
        raw = json.loads(body)
    except ValueError:
        return None
    return _traceparent(raw.get("traceparent")) if isinstance(raw, dict) else None


def subject_of(event_type: str, prefix: str = "ticketing.events") -> str:
    """The NATS subject of a wire type: ``order:created`` -> ``ticketing.events.order.created``."""
    return f"{prefix}.{event_type.replace(':', '.')}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _to_wire(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        wire = {}
        for name, key, _, required in _wire_fields(type(value)):
            field_value = getattr(value, name)
            if field_value is not None or required:
                wire[key] = _to_wire(field_value)
        return wire
    if isinstance(value, Decimal):
        # A float's repr is the shortest text that reads back as the same number, so an
        # amount with two places travels as e.g. 19.99 and parses back to Decimal exactly.
        # Beyond 15 significant digits that no longer holds: refuse rather than round.
        as_float = float(value)
        if not value.is_finite() or Decimal(repr(as_float)) != value:
            raise ValueError(f"{value} cannot travel exactly as a JSON number")
        return as_float
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return [_to_wire(item) for item in value]
    return value


def _from_wire(cls: type[T], data: dict[str, Any]) -> T:
    values = {}
    for name, key, hint, required in _wire_fields(cls):
        if key in data:
            values[name] = _coerce(hint, data[key])
        elif required:
            raise KeyError(key)
    return cls(**values)


_WireFields = tuple[tuple[str, str, Any, bool], ...]
_WIRE_FIELDS: dict[type, _WireFields] = {}


def _wire_fields(cls: type) -> _WireFields:
    """(field, wire key, resolved type, required) of a contract class, computed once:
    resolving string annotations is the slowest part of decoding."""
    found = _WIRE_FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _WIRE_FIELDS[cls] = tuple(
            (f.name, _camel(f.name), _plain(hints[f.name]), f.default is dataclasses.MISSING)
            for f in dataclasses.fields(cls))
    return found


def _plain(hint: Any) -> Any:
    """``X | None`` -> ``X``: absence is handled by the field's default."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def _coerce(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if hint is Decimal:
        return Decimal(str(value))
    if hint is datetime:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_wire(hint, value)
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, list):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(item, entry) for entry in value)
    if hint in (str, int, bool) and (not isinstance(value, hint)
                                     or (hint is int and isinstance(value, bool))):
        raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
    return value
