"""Event contracts: stable wire names, exact JSON round trips, saved fixtures that keep decoding.

``tests/fixtures/events/<type>.v<version>.json`` holds one envelope per event type and
schema version, written once from the code of that version. A fixture is never edited:
a new schema version adds a new file and an ``UPGRADES`` entry, and the old file must
still decode (through the upgrade) to the current shape.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ticketing.bus import contracts
from ticketing.bus.contracts import (
    EVENT_TYPES,
    AllSessionsEnded,
    Envelope,
    Event,
    EventCreated,
    ExpirationComplete,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderPaymentRefused,
    OrderRefundRequested,
    OrderResaleWithdrawalRefused,
    OrderResaleWithdrawn,
    PaymentAuthorized,
    PaymentCreated,
    SessionEnded,
    SessionsEnded,
    TicketCheckedIn,
    TicketCreated,
    TicketRef,
    TicketRefundGranted,
    TicketRefundRefused,
    TicketResaleListed,
    TicketResaleWithdrawalRequested,
    TicketResold,
    TicketTransferred,
    TicketUpdated,
    UnknownEvent,
    UserRegistered,
    WaitingRoomAdvanced,
    WaitlistOffered,
    subject_of,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "events"
TICKET = "01jdq3x7m0k5v8w2c4e6g8j0n1"
ORDER = "01jdq3z2a4c6e8g0j2m4p6r8t0"
USER = "01jdq3w1b3d5f7h9k1m3q5s7v9"
PAYMENT = "01jdq41c3e5g7j9m1p3r5t7w9y"
EVENT = "01jdq3x7m0k5v8w2c4e6g8j0m0"
SECOND = "01jdq3x7m0k5v8w2c4e6g8j0n2"
THIRD = "01jdq3x7m0k5v8w2c4e6g8j0n3"

# One instance of every event, with every optional field set: the fixtures' content.
SAMPLES: dict[str, Event] = {
    "auth:session-ended": SessionEnded(session_id=PAYMENT, user_id=USER, expires_at=datetime(
        2026, 12, 2, 2, 0, tzinfo=UTC)),
    "auth:sessions-ended": SessionsEnded(user_id=USER, ended_at=datetime(
        2026, 11, 25, 2, 10, 30, 250000, tzinfo=UTC)),
    "auth:all-sessions-ended": AllSessionsEnded(ended_at=datetime(
        2026, 12, 1, 3, 0, 0, 500000, tzinfo=UTC)),
    "auth:user-registered": UserRegistered(user_id=USER, email="buyer@example.com"),
    "ticket:created": TicketCreated(id=TICKET, version=0, title="Concert", price=Decimal("19.99"),
                                    user_id=USER),
    "ticket:updated": TicketUpdated(id=TICKET, version=3, title="Concert (front row)",
                                    price=Decimal("25.50"), user_id=USER, order_id=ORDER),
    "event:created": EventCreated(id=EVENT, version=0, title="Concert", price=Decimal("19.99"),
                                  quantity=1000, per_buyer_limit=4, user_id=USER,
                                  on_sale_at=datetime(2026, 12, 24, 10, 0, tzinfo=UTC)),
    "order:created": OrderCreated(id=ORDER, version=0, status="created", user_id=USER,
                                  expires_at=datetime(2026, 11, 25, 2, 15, tzinfo=UTC),
                                  ticket=TicketRef(id=TICKET, price=Decimal("19.99")),
                                  tickets=(TicketRef(id=TICKET, price=Decimal("19.99")),
                                           TicketRef(id=SECOND, price=Decimal("19.99"))),
                                  event_id=EVENT),
    "order:cancelled": OrderCancelled(id=ORDER, version=1, ticket=TicketRef(id=TICKET),
                                      tickets=(TicketRef(id=TICKET), TicketRef(id=SECOND))),
    "order:completed": OrderCompleted(id=ORDER, version=1, ticket=TicketRef(id=TICKET),
                                      tickets=(TicketRef(id=TICKET), TicketRef(id=SECOND)),
                                      payment_id=PAYMENT),
    "order:payment-refused": OrderPaymentRefused(id=ORDER, payment_id=PAYMENT,
                                                 reason="order_cancelled"),
    "waiting-room:advanced": WaitingRoomAdvanced(event_id=EVENT, ranked=120, admitted_rank=40,
                                                 rate_per_minute=600, paused=False,
                                                 sold_out=False),
    "ticket:transferred": TicketTransferred(ticket_id=TICKET, version=2, from_user_id=USER,
                                            to_email="friend@example.com"),
    "order:refund-requested": OrderRefundRequested(id=ORDER, user_id=USER,
                                                   tickets=(TicketRef(id=TICKET),)),
    "ticket:refund-granted": TicketRefundGranted(order_id=ORDER),
    "waitlist:offered": WaitlistOffered(scope_id=EVENT, ticket_id=TICKET, user_id=USER,
                                        until=datetime(2026, 11, 25, 2, 5, tzinfo=UTC)),
    "ticket:refund-refused": TicketRefundRefused(order_id=ORDER, reason="checked_in_refund"),
    "ticket:resale-listed": TicketResaleListed(
        ticket_id=TICKET, version=3, title="Concert", price=Decimal("15.50"), seller_id=USER,
        previous_order_id=ORDER, event_id=EVENT),
    "ticket:resold": TicketResold(ticket_id=TICKET, order_id=ORDER, seller_id=USER,
                                  buyer_id=USER, price=Decimal("15.50")),
    "ticket:resale-withdrawal-requested": TicketResaleWithdrawalRequested(
        ticket_id=TICKET, version=4, seller_id=USER, previous_order_id=ORDER),
    "order:resale-withdrawn": OrderResaleWithdrawn(ticket_id=TICKET, order_id=ORDER),
    "order:resale-withdrawal-refused": OrderResaleWithdrawalRefused(
        ticket_id=TICKET, order_id=ORDER, reason="resale_reserved"),
    "ticket:checked-in": TicketCheckedIn(ticket_id=TICKET, scope_id=EVENT,
                                         checked_in_at=datetime(2026, 12, 24, 19, 42, 5, 250000,
                                                                tzinfo=UTC),
                                         checked_in_by="door@example.com"),
    "expiration:complete": ExpirationComplete(order_id=ORDER),
    "payment:authorized": PaymentAuthorized(id=PAYMENT, order_id=ORDER, authorized_at=datetime(
        2026, 11, 25, 2, 10, 30, 250000, tzinfo=UTC)),
    "payment:created": PaymentCreated(id="01jdq41c3e5g7j9m1p3r5t7w9y", order_id=ORDER,
                                      stripe_id="pi_3QXyZ2eZvKYlo2C01a2b3c4d"),
}


SOURCES = {"auth": "auth", "ticket": "tickets", "event": "tickets", "order": "orders",
           "expiration": "expiration", "payment": "payments", "waiting-room": "orders",
           "waitlist": "orders"}


def fixture_path(event_type: str, version: int) -> Path:
    return FIXTURES / f"{event_type.replace(':', '.')}.v{version}.json"


def sample_envelope(event: Event) -> Envelope:
    return Envelope(id="5f0c6c1e-8d1b-4c39-9a53-2f0b8f3e7a11", type=event.WIRE_TYPE,
                    occurred_at=datetime(2026, 11, 25, 2, 0, 0, 123000, tzinfo=UTC),
                    source=SOURCES[event.WIRE_TYPE.split(":")[0]],
                    schema_version=event.SCHEMA_VERSION, event=event)


def test_wire_names_are_stable() -> None:
    # These strings are on the wire and in every outbox: never rename one.
    assert {name: cls.__name__ for name, cls in EVENT_TYPES.items()} == {
        "auth:session-ended": "SessionEnded",
        "auth:sessions-ended": "SessionsEnded",
        "auth:all-sessions-ended": "AllSessionsEnded",
        "auth:user-registered": "UserRegistered",
        "ticket:created": "TicketCreated",
        "ticket:updated": "TicketUpdated",
        "event:created": "EventCreated",
        "order:created": "OrderCreated",
        "order:cancelled": "OrderCancelled",
        "order:completed": "OrderCompleted",
        "order:payment-refused": "OrderPaymentRefused",
        "waiting-room:advanced": "WaitingRoomAdvanced",
        "ticket:transferred": "TicketTransferred",
        "ticket:resale-listed": "TicketResaleListed",
        "order:refund-requested": "OrderRefundRequested",
        "ticket:refund-granted": "TicketRefundGranted",
        "waitlist:offered": "WaitlistOffered",
        "ticket:refund-refused": "TicketRefundRefused",
        "ticket:resold": "TicketResold",
        "ticket:resale-withdrawal-requested": "TicketResaleWithdrawalRequested",
        "order:resale-withdrawn": "OrderResaleWithdrawn",
        "order:resale-withdrawal-refused": "OrderResaleWithdrawalRefused",
        "ticket:checked-in": "TicketCheckedIn",
        "expiration:complete": "ExpirationComplete",
        "payment:authorized": "PaymentAuthorized",
        "payment:created": "PaymentCreated",
    }
    assert subject_of("order:created") == "ticketing.events.order.created"


def test_every_event_type_has_a_sample() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_event_survives_a_json_round_trip(event_type: str) -> None:
    envelope = Envelope.wrap(SAMPLES[event_type], source="tests")

    decoded = Envelope.from_json(envelope.to_json())

    assert decoded == envelope
    assert decoded.event == SAMPLES[event_type]


@pytest.mark.parametrize(
    ("event_type", "version"),
    [(t, v) for t, cls in sorted(EVENT_TYPES.items()) for v in range(1, cls.SCHEMA_VERSION + 1)],
)
def test_every_saved_fixture_exists_and_still_decodes(event_type: str, version: int) -> None:
    path = fixture_path(event_type, version)
    assert path.exists(), f"write {path.name} once from the code of schema version {version}"

    envelope = Envelope.from_json(path.read_text())

    assert envelope.type == event_type
    assert envelope.schema_version == EVENT_TYPES[event_type].SCHEMA_VERSION
    if version == EVENT_TYPES[event_type].SCHEMA_VERSION:
        assert envelope.event == SAMPLES[event_type]
        assert json.loads(envelope.to_json()) == json.loads(path.read_text())


def test_no_fixture_is_left_without_an_event_type() -> None:
    known = {fixture_path(t, v).name for t, cls in EVENT_TYPES.items()
             for v in range(1, cls.SCHEMA_VERSION + 1)}
    assert {p.name for p in FIXTURES.glob("*.json")} <= known


def test_the_wire_form_is_camel_case_with_money_as_an_exact_number() -> None:
    body = json.loads(sample_envelope(SAMPLES["order:created"]).to_json())

    assert body == {
        "id": "5f0c6c1e-8d1b-4c39-9a53-2f0b8f3e7a11",
        "type": "order:created",
        "occurredAt": "2026-11-25T02:00:00.123000Z",
        "source": "orders",
        "schemaVersion": 2,
        "data": {"id": ORDER, "version": 0, "status": "created", "userId": USER,
                 "expiresAt": "2026-11-25T02:15:00Z", "ticket": {"id": TICKET, "price": 19.99},
                 "tickets": [{"id": TICKET, "price": 19.99}, {"id": SECOND, "price": 19.99}],
                 "eventId": EVENT},
    }


@pytest.mark.parametrize("price", ["19.99", "0.01", "1000000.00", "12345678.91", "20"])
def test_prices_stay_exact_decimals(price: str) -> None:
    event = TicketCreated(id=TICKET, version=0, title="t", price=Decimal(price), user_id=USER)

    text = Envelope.wrap(event, "tickets").to_json()
    decoded = Envelope.from_json(text).event

    assert isinstance(decoded, TicketCreated)
    assert isinstance(decoded.price, Decimal)
    assert decoded.price == Decimal(price)


def test_nineteen_ninety_nine_reads_back_as_exactly_decimal_19_99() -> None:
    text = Envelope.wrap(SAMPLES["ticket:created"], "tickets").to_json()

    decoded = Envelope.from_json(text).event

    assert isinstance(decoded, TicketCreated)
    assert str(decoded.price) == "19.99"


def test_money_that_cannot_travel_exactly_is_refused_not_rounded() -> None:
    event = TicketCreated(id=TICKET, version=0, title="t",
                          price=Decimal("12345678901234567.89"), user_id=USER)

    with pytest.raises(ValueError, match="exactly"):
        Envelope.wrap(event, "tickets").to_json()


def test_a_unit_names_its_event_in_an_optional_field() -> None:
    unit = TicketUpdated(id=SECOND, version=1, title="t", price=Decimal("5"), user_id=USER,
                         order_id=ORDER, event_id=EVENT)

    text = Envelope.wrap(unit, "tickets").to_json()

    assert json.loads(text)["data"]["eventId"] == EVENT
    assert Envelope.from_json(text).event == unit


@pytest.mark.parametrize("event_type", ["order:created", "order:cancelled", "order:completed"])
def test_an_order_event_from_before_many_tickets_holds_its_one_ticket(event_type: str) -> None:
    envelope = Envelope.from_json(fixture_path(event_type, 1).read_text())

    event = envelope.event
    assert isinstance(event, OrderCreated | OrderCancelled | OrderCompleted)
    assert event.tickets == (event.ticket,)


def test_an_order_costs_its_tickets_together_and_a_missing_price_is_refused() -> None:
    order = SAMPLES["order:created"]
    assert isinstance(order, OrderCreated)
    assert order.total == Decimal("39.98")

    unpriced = dataclasses.replace(order, tickets=(*order.tickets, TicketRef(id=THIRD)))
    with pytest.raises(ValueError, match="without a price"):
        _ = unpriced.total


def test_a_list_where_a_tuple_of_tickets_belongs_is_refused() -> None:
    raw = json.loads(sample_envelope(SAMPLES["order:cancelled"]).to_json())
    raw["data"]["tickets"] = {"id": TICKET}

    with pytest.raises(UnknownEvent, match="bad data"):
        Envelope.from_json(json.dumps(raw))


def test_an_optional_field_may_be_absent() -> None:
    without_order = TicketUpdated(id=TICKET, version=1, title="t", price=Decimal("5"),
                                  user_id=USER)

    text = Envelope.wrap(without_order, "tickets").to_json()

    assert "orderId" not in json.loads(text)["data"]
    assert Envelope.from_json(text).event == without_order


def _as_version_zero(data: dict[str, Any]) -> dict[str, Any]:
    """The ticket:created data as a fictional v0 wrote it: ``owner`` and a price in cents."""
    return {"id": data["id"], "version": data["version"], "title": data["title"],
            "owner": data["userId"], "priceCents": 1999}


def test_an_older_schema_version_is_upgraded_on_read(monkeypatch: pytest.MonkeyPatch) -> None:
    def lift_v0(data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        data["userId"] = data.pop("owner")
        data["price"] = Decimal(data.pop("priceCents")) / 100
        return data

    monkeypatch.setitem(contracts.UPGRADES, ("ticket:created", 0), lift_v0)
    raw = json.loads(fixture_path("ticket:created", 1).read_text())
    raw["schemaVersion"] = 0
    raw["data"] = _as_version_zero(raw["data"])

    envelope = Envelope.from_json(json.dumps(raw))

    assert envelope.schema_version == 1
    assert envelope.event == SAMPLES["ticket:created"]


def test_a_version_without_its_upgrade_is_an_unknown_event() -> None:
    raw = json.loads(fixture_path("ticket:created", 1).read_text())
    raw["schemaVersion"] = 0

    with pytest.raises(UnknownEvent, match="no upgrade"):
        Envelope.from_json(json.dumps(raw))


def test_a_newer_version_than_the_code_is_an_unknown_event() -> None:
    raw = json.loads(fixture_path("ticket:created", 1).read_text())
    raw["schemaVersion"] = 2

    with pytest.raises(UnknownEvent, match="newer"):
        Envelope.from_json(json.dumps(raw))


@pytest.mark.parametrize("text", [
    "not json",
    '{"type": "ticket:created"}',
    '{"id": "x", "type": "ticket:sold", "occurredAt": "2026-01-01T00:00:00Z",'
    ' "source": "tickets", "schemaVersion": 1, "data": {}}',
    '{"id": "x", "type": "expiration:complete", "occurredAt": "2026-01-01T00:00:00Z",'
    ' "source": "expiration", "schemaVersion": 1, "data": {"orderId": 7}}',
])
def test_undecodable_envelopes_raise_unknown_event(text: str) -> None:
    with pytest.raises(UnknownEvent):
        Envelope.from_json(text)


def test_events_are_frozen() -> None:
    event = SAMPLES["expiration:complete"]

    with pytest.raises(AttributeError):
        event.order_id = "other"  # type: ignore[misc]


def write_fixtures() -> None:  # pragma: no cover - run by hand for a new schema version
    """``python -m tests.unit.test_bus_contracts``: write the missing current-version files."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for event in SAMPLES.values():
        path = fixture_path(event.WIRE_TYPE, event.SCHEMA_VERSION)
        if not path.exists():
            body = json.loads(sample_envelope(event).to_json())
            path.write_text(json.dumps(body, indent=2) + "\n")
            print(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    write_fixtures()
