"""Every ``/api/orders`` row of the contract, on every database backend."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.trading import (
    Person,
    deliver,
    error,
    list_ticket,
    person,
    reserve,
    settled,
    trading,
)
from ticketing.app import create_app
from ticketing.bus.contracts import PaymentAuthorized
from ticketing.ids import new_id
from ticketing.modules.auth.tokens import TokenCodec
from ticketing.modules.orders.models import Outbox as OrdersOutbox
from ticketing.settings import Settings

UNKNOWN_ID = "01m886b2m9kpb1nc5gh7y7yewb"


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return trading(make_settings)


@pytest.fixture
def seller(settings: Settings) -> Person:
    return person(settings, "seller")


@pytest.fixture
def buyer(settings: Settings) -> Person:
    return person(settings, "buyer")


@pytest.fixture
def stranger(settings: Settings) -> Person:
    return person(settings, "stranger")


@pytest.fixture
async def ticket(app: Quart, client: TestClientProtocol, seller: Person) -> dict[str, Any]:
    """A ticket for sale that orders already knows of."""
    listed = await list_ticket(client, seller, "Concert", 19.99)
    await settled(app)
    return listed


async def published(event_type: str) -> list[dict[str, Any]]:
    """The ``data`` of every event of ``event_type`` in the orders outbox, oldest first."""
    rows = await OrdersOutbox.filter(event_type=event_type).order_by("id")
    return [json.loads(row.body)["data"] for row in rows]


async def pay(app: Quart, order_id: str) -> str:
    """Complete an order the way payments does: a held payment announced to orders."""
    payment_id = new_id()
    assert await deliver(app, "orders", PaymentAuthorized(
        id=payment_id, order_id=order_id, authorized_at=datetime.now(UTC)), source="payments")
    return payment_id


# --- authentication ----------------------------------------------------------------------

async def test_every_orders_route_needs_a_session(
    client: TestClientProtocol, settings: Settings,
) -> None:
    expired = TokenCodec(settings.jwt_key, -10).issue_cookie(new_id(), "old@test.com")
    requests: list[tuple[str, str, Any, dict[str, str]]] = [
        ("POST", "/api/orders", {"ticketId": UNKNOWN_ID}, {}),
        ("POST", "/api/orders", {}, {}),  # authentication comes before validation
        ("GET", "/api/orders", None, {}),
        ("GET", f"/api/orders/{UNKNOWN_ID}", None, {}),
        ("DELETE", f"/api/orders/{UNKNOWN_ID}", None, {}),
        ("GET", "/api/orders", None, {"Cookie": f"session={expired}"}),
        ("GET", "/api/orders", None, {"Cookie": "session=garbage"}),
    ]
    for method, path, body, headers in requests:
        response = await client.open(path, method=method, json=body, headers=headers)
        assert response.status_code == 401, (method, path, headers)
        assert await response.get_json() == error("Not authorized")


# --- POST /api/orders --------------------------------------------------------------------

async def test_a_ticket_id_must_be_provided(client: TestClientProtocol, buyer: Person) -> None:
    bodies: list[dict[str, Any]] = [{}, {"ticketId": ""}, {"ticketId": "   "},
                                    {"ticketId": None}, {"ticketId": 42}, {"ticket": "x"}]
    for body in bodies:
        response = await client.post("/api/orders", json=body, headers=buyer.headers)
        assert response.status_code == 400, body
        assert await response.get_json() == error("TicketId must be provided", "ticketId")


async def test_reserving_an_unknown_ticket_is_404(
    client: TestClientProtocol, buyer: Person,
) -> None:
    for ticket_id in (UNKNOWN_ID, "not-an-id", "../../etc/passwd", UNKNOWN_ID.upper()):
        response = await client.post("/api/orders", json={"ticketId": ticket_id},
                                     headers=buyer.headers)
        assert response.status_code == 404, ticket_id
        assert await response.get_json() == error("Not Found")


async def test_a_reservation_holds_the_ticket_for_the_window(
    client: TestClientProtocol, buyer: Person, ticket: dict[str, Any], settings: Settings,
) -> None:
    before = datetime.now(UTC)
    response = await client.post("/api/orders", json={"ticketId": ticket["id"]},
                                 headers=buyer.headers)
    after = datetime.now(UTC)

    assert response.status_code == 201
    order = await response.get_json()
    assert order == {
        "id": order["id"], "status": "created", "userId": buyer.id,
        "expiresAt": order["expiresAt"], "version": 0,
        "ticket": {"id": ticket["id"], "title": "Concert", "price": 19.99, "version": 0},
    }
    assert order["expiresAt"].endswith("Z")
    expires_at = datetime.fromisoformat(order["expiresAt"].replace("Z", "+00:00"))
    window = timedelta(seconds=settings.expiration_seconds)
    assert settings.expiration_seconds == 900
    assert before + window - timedelta(milliseconds=1) <= expires_at <= after + window
    assert await published("order:created") == [{
        "id": order["id"], "version": 0, "status": "created", "userId": buyer.id,
        "expiresAt": order["expiresAt"], "ticket": {"id": ticket["id"], "price": 19.99},
        "tickets": [{"id": ticket["id"], "price": 19.99}],
    }]


async def test_the_window_follows_the_expiration_setting(
    settings: Settings, make_settings: Callable[..., Settings],
) -> None:
    short = make_settings(expiration_seconds=60)
    seller, buyer = person(short, "seller"), person(short, "buyer")
    app = create_app(short)
    async with app.test_app():
        client = app.test_client()
        ticket = await list_ticket(client, seller)
        await settled(app)
        before = datetime.now(UTC)
        order = await reserve(client, buyer, ticket["id"])
        after = datetime.now(UTC)

    expires_at = datetime.fromisoformat(order["expiresAt"].replace("Z", "+00:00"))
    assert (before + timedelta(seconds=60) - timedelta(milliseconds=1)
            <= expires_at <= after + timedelta(seconds=60))


async def test_a_held_ticket_is_already_reserved(
    client: TestClientProtocol, buyer: Person, stranger: Person, ticket: dict[str, Any],
) -> None:
    await reserve(client, buyer, ticket["id"])

    by_someone_else = await client.post("/api/orders", json={"ticketId": ticket["id"]},
                                        headers=stranger.headers)
    by_the_same_buyer = await client.post("/api/orders", json={"ticketId": ticket["id"]},
                                          headers=buyer.headers)

    for refused in (by_someone_else, by_the_same_buyer):
        assert refused.status_code == 400
        assert await refused.get_json() == error("Ticket is already reserved")
    assert len(await published("order:created")) == 1


async def test_a_sold_ticket_is_already_reserved(
    app: Quart, client: TestClientProtocol, buyer: Person, stranger: Person,
    ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])
    await pay(app, order["id"])

    response = await client.post("/api/orders", json={"ticketId": ticket["id"]},
                                 headers=stranger.headers)

    assert response.status_code == 400
    assert await response.get_json() == error("Ticket is already reserved")


async def test_a_cancelled_reservation_frees_the_ticket_for_another_buyer(
    client: TestClientProtocol, buyer: Person, stranger: Person, ticket: dict[str, Any],
) -> None:
    first = await reserve(client, buyer, ticket["id"])
    await client.delete(f"/api/orders/{first['id']}", headers=buyer.headers)

    second = await reserve(client, stranger, ticket["id"])

    assert second["id"] != first["id"]
    assert second["status"] == "created"


# --- GET /api/orders ---------------------------------------------------------------------

async def test_the_list_is_the_callers_orders_oldest_first_with_their_tickets(
    app: Quart, client: TestClientProtocol, seller: Person, buyer: Person, stranger: Person,
) -> None:
    tickets = [await list_ticket(client, seller, f"Show {n}", 10 + n) for n in range(3)]
    await settled(app)
    mine = [await reserve(client, buyer, tickets[0]["id"]),
            await reserve(client, buyer, tickets[1]["id"])]
    await reserve(client, stranger, tickets[2]["id"])
    await client.delete(f"/api/orders/{mine[0]['id']}", headers=buyer.headers)

    response = await client.get("/api/orders", headers=buyer.headers)

    assert response.status_code == 200
    listed = await response.get_json()
    assert [o["id"] for o in listed] == [mine[0]["id"], mine[1]["id"]]
    assert [o["status"] for o in listed] == ["cancelled", "created"]
    assert [o["ticket"]["title"] for o in listed] == ["Show 0", "Show 1"]
    assert [o["ticket"]["price"] for o in listed] == [10, 11]
    assert {o["userId"] for o in listed} == {buyer.id}


async def test_someone_without_orders_gets_an_empty_list(
    client: TestClientProtocol, stranger: Person,
) -> None:
    response = await client.get("/api/orders", headers=stranger.headers)

    assert response.status_code == 200
    assert await response.get_json() == []


# --- GET /api/orders/:id -----------------------------------------------------------------

async def test_showing_an_unknown_or_malformed_order_is_404(
    client: TestClientProtocol, buyer: Person,
) -> None:
    for order_id in (UNKNOWN_ID, "nope"):
        response = await client.get(f"/api/orders/{order_id}", headers=buyer.headers)
        assert response.status_code == 404, order_id
        assert await response.get_json() == error("Not Found")


async def test_showing_someone_elses_order_is_401(
    client: TestClientProtocol, buyer: Person, stranger: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])

    response = await client.get(f"/api/orders/{order['id']}", headers=stranger.headers)

    assert response.status_code == 401
    assert await response.get_json() == error("Not authorized")


async def test_showing_your_order(
    client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])

    response = await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)

    assert response.status_code == 200
    assert await response.get_json() == order


# --- DELETE /api/orders/:id --------------------------------------------------------------

async def test_cancelling_an_unknown_or_malformed_order_is_404(
    client: TestClientProtocol, buyer: Person,
) -> None:
    for order_id in (UNKNOWN_ID, "nope"):
        response = await client.delete(f"/api/orders/{order_id}", headers=buyer.headers)
        assert response.status_code == 404, order_id
        assert await response.get_json() == error("Not Found")


async def test_cancelling_someone_elses_order_is_401_and_changes_nothing(
    client: TestClientProtocol, buyer: Person, stranger: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])

    response = await client.delete(f"/api/orders/{order['id']}", headers=stranger.headers)

    assert response.status_code == 401
    assert await response.get_json() == error("Not authorized")
    shown = await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)
    assert (await shown.get_json())["status"] == "created"
    assert await published("order:cancelled") == []


async def test_cancelling_your_order_is_204_and_announced_with_its_new_version(
    client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])

    response = await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)

    assert response.status_code == 204
    assert await response.get_data() == b""
    shown = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)) \
        .get_json()
    assert (shown["status"], shown["version"]) == ("cancelled", 1)
    assert await published("order:cancelled") == [
        {"id": order["id"], "version": 1, "ticket": {"id": ticket["id"]},
         "tickets": [{"id": ticket["id"]}], "reason": "cancelled"},
    ]


async def test_cancelling_a_cancelled_order_is_204_without_a_new_event(
    client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])
    await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)
    rows_before = await OrdersOutbox.all().count()

    again = await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)

    assert again.status_code == 204
    assert await OrdersOutbox.all().count() == rows_before
    shown = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)) \
        .get_json()
    assert (shown["status"], shown["version"]) == ("cancelled", 1)


async def test_a_completed_order_cannot_be_cancelled(
    app: Quart, client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])
    await pay(app, order["id"])

    response = await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)

    assert response.status_code == 400
    assert await response.get_json() == error("Cannot cancel a completed order")
    shown = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)) \
        .get_json()
    assert (shown["status"], shown["version"]) == ("complete", 1)
    assert await published("order:cancelled") == []


async def test_completion_is_announced_with_the_orders_new_version(
    app: Quart, client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])

    payment_id = await pay(app, order["id"])
    second = await pay(app, order["id"])  # a second payment is refused, the order unchanged

    assert await published("order:completed") == [
        {"id": order["id"], "version": 1, "ticket": {"id": ticket["id"]},
         "tickets": [{"id": ticket["id"]}], "paymentId": payment_id,
         "userId": buyer.id},
    ]
    assert await published("order:payment-refused") == [
        {"id": order["id"], "paymentId": second, "reason": "order_paid"}]


async def test_a_paid_ticket_is_sold_for_good(
    app: Quart, client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])
    await pay(app, order["id"])
    await settled(app)

    listed = await (await client.get("/api/tickets")).get_json()
    shown = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()

    assert listed == []
    assert shown["orderId"] == order["id"]


async def test_concurrent_cancellations_announce_once(
    client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])

    responses = await asyncio.gather(*(
        client.delete(f"/api/orders/{order['id']}", headers=buyer.headers) for _ in range(5)
    ))

    assert [r.status_code for r in responses] == [204] * 5
    assert len(await published("order:cancelled")) == 1


async def test_a_payment_racing_a_cancellation_ends_in_one_consistent_state(
    app: Quart, client: TestClientProtocol, buyer: Person, ticket: dict[str, Any],
) -> None:
    order = await reserve(client, buyer, ticket["id"])

    cancel, _ = await asyncio.gather(
        client.delete(f"/api/orders/{order['id']}", headers=buyer.headers),
        pay(app, order["id"]),
    )

    shown = await (await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)) \
        .get_json()
    cancelled, completed = await published("order:cancelled"), await published("order:completed")
    if cancel.status_code == 204:
        assert (shown["status"], len(cancelled), len(completed)) == ("cancelled", 1, 0)
    else:
        assert await cancel.get_json() == error("Cannot cancel a completed order")
        assert (shown["status"], len(cancelled), len(completed)) == ("complete", 0, 1)
    assert shown["version"] == 1
