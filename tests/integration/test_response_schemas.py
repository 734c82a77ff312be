"""Response bodies: every JSON route documents its success answer in /openapi.json, and
each answers the contract's shape, built from its module's view (ids, a price as a
number, ``expiresAt`` in ISO 8601 UTC with ``Z``), on every database backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.clock import FakeClock
from tests.support.payments import open_order, pay, signed_up
from tests.support.trading import settled
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.modules.payments.api import PaymentGateway
from ticketing.settings import Settings
from ticketing.web.auth.schemas import CurrentUserResponse, UserResponse
from ticketing.web.orders.schemas import OrderResponse
from ticketing.web.payments.schemas import PaymentResponse
from ticketing.web.tickets.schemas import TicketResponse

# Reservations made at this moment expire 15 minutes later, to the microsecond.
NOW = datetime(2031, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)
EXPIRES_AT = "2031-05-06T07:23:09.250000Z"
TICKET_KEYS = {"id", "title", "price", "userId", "version", "orderId", "refundDays"}
ORDER_KEYS = {"id", "status", "userId", "expiresAt", "version", "ticket", "eventId",
              "quantity", "tickets", "refundableUntil", "refund"}
USER_KEYS = {"id", "email"}
WAITLIST_KEYS = {"scopeId", "title", "position", "joinedAt", "offer"}
RESALE_KEYS = {"ticketId", "title", "price", "state", "listedAt", "withdrawing",
               "withdrawalRefusal"}
EVENT_KEYS = {"id", "title", "price", "quantity", "remaining", "venue", "startsAt",
              "onSaleAt", "perBuyerLimit", "userId", "version", "refundDays"}
PLACE_KEYS = {"eventId", "state", "rank", "ahead", "waitSeconds", "opensAt", "ratePerMinute",
              "paused", "admissionToken", "admittedUntil"}
ROOM_KEYS = {"eventId", "waiting", "admitted", "ratePerMinute", "paused", "soldOut",
             "openedAt", "remaining"}

# (path, method, status) of each JSON route's success body → its top-level keys (of an
# item, for an array); 202 of POST /api/payments is checked on its own (two shapes).
DOCUMENTED: dict[tuple[str, str, str], set[str]] = {
    ("/api/tickets", "get", "200"): TICKET_KEYS,
    ("/api/tickets", "post", "201"): TICKET_KEYS,
    ("/api/tickets/{ticket_id}", "get", "200"): TICKET_KEYS,
    ("/api/tickets/{ticket_id}", "put", "200"): TICKET_KEYS,
    ("/api/orders", "get", "200"): ORDER_KEYS,
    ("/api/orders", "post", "201"): ORDER_KEYS,
    ("/api/orders/{order_id}", "get", "200"): ORDER_KEYS,
    ("/api/payments", "post", "201"): {"id"},
    ("/api/users/currentuser", "get", "200"): {"currentUser"},
    ("/api/users/signup", "post", "201"): USER_KEYS,
    ("/api/users/signin", "post", "200"): USER_KEYS,
    ("/api/users/signout", "post", "200"): set(),
    ("/api/users/signout-everywhere", "post", "200"): set(),
    ("/api/payments/webhook", "post", "200"): {"received", "duplicate"},  # Stripe's
    ("/api/events", "get", "200"): EVENT_KEYS,
    ("/api/events", "post", "201"): EVENT_KEYS,
    ("/api/events/{event_id}", "get", "200"): EVENT_KEYS,
    ("/api/queue/{event_id}", "post", "200"): PLACE_KEYS,
    ("/api/queue/{event_id}", "get", "200"): PLACE_KEYS,
    ("/api/queue/{event_id}/room", "get", "200"): ROOM_KEYS,
    ("/api/queue/{event_id}/room", "put", "200"): ROOM_KEYS,
    ("/api/tickets/{ticket_id}/pass", "get", "200"): {"ticketId", "token"},
    ("/api/passes/key", "get", "200"): {"algorithm", "publicKey", "keyId"},
    ("/api/selling", "get", "200"): {"listings", "totals"},
    ("/api/payouts", "get", "200"): {"payouts", "total"},
    ("/api/orders/{order_id}/refund", "post", "202"): ORDER_KEYS,
    ("/api/waitlist/{scope_id}", "post", "201"): WAITLIST_KEYS,
    ("/api/waitlist/{scope_id}", "get", "200"): WAITLIST_KEYS,
    ("/api/tickets/{ticket_id}/resale", "post", "201"): RESALE_KEYS,
    ("/api/tickets/{ticket_id}/resale", "delete", "202"): RESALE_KEYS,
    ("/api/tickets/{ticket_id}/transfer", "post", "200"): {"ticketId", "email", "version",
                                                           "transferredAt"},
    ("/api/checkins", "post", "201"): {"ticketId", "checkedInAt", "checkedInBy"},
    ("/api/doors/{scope_id}", "get", "200"): {"scopeId", "title", "kind", "issued",
                                              "checkedIn", "passes"},
    ("/api/doors/{scope_id}/staff", "get", "200"): {"staff"},
    ("/api/doors/{scope_id}/staff", "post", "201"): {"staff"},
    ("/api/doors/{scope_id}/staff/{email}", "delete", "200"): {"staff"},
}
NO_CONTENT = {("/api/orders/{order_id}", "delete", "204"),
              ("/api/waitlist/{scope_id}", "delete", "204")}


def resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$ref`` followed into the spec's components."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def object_keys(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The properties a response schema documents (of its items, for an array)."""
    schema = resolved(spec, schema)
    if schema.get("type") == "array":
        schema = resolved(spec, schema["items"])
    return set(schema["properties"])


def assert_documented(model: type[BaseModel], body: dict[str, Any]) -> None:
    """``body`` is what ``model`` documents: its keys and nothing else, of its types."""
    assert set(body) <= set(model.model_fields)
    model.model_validate(body)


@pytest.fixture
async def app(settings: Settings, gateway: PaymentGateway) -> AsyncIterator[Quart]:
    """Every module but expiration, on a clock standing at ``NOW``."""
    application = create_app(replace(settings, modules=("auth", "tickets", "orders",
                                                        "payments")),
                             clock=FakeClock(NOW), gateway=gateway)
    async with application.test_app():
        yield application


async def user_id(client: Client) -> str:
    body = await (await client.get("/api/users/currentuser")).get_json()
    found: str = body["currentUser"]["id"]
    return found


async def openapi(client: Client) -> dict[str, Any]:
    spec: dict[str, Any] = await (await client.get("/openapi.json")).get_json()
    return spec


async def test_openapi_documents_the_body_of_every_json_route_that_answers_one(
    client: Client,
) -> None:
    spec = await openapi(client)

    for (path, method, status), keys in DOCUMENTED.items():
        response = spec["paths"][path][method]["responses"][status]
        schema = response["content"]["application/json"]["schema"]
        assert object_keys(spec, schema) == keys, (path, method, status)
        assert response["description"], (path, method, status)
    pending = spec["paths"]["/api/payments"]["post"]["responses"]["202"]
    shapes = resolved(spec, pending["content"]["application/json"]["schema"])["anyOf"]
    assert [object_keys(spec, shape) for shape in shapes] == [{"status", "clientSecret"},
                                                              {"status", "id"}]


async def test_every_api_operation_documents_its_success_answer(client: Client) -> None:
    paths = (await openapi(client))["paths"]

    successes = {(path, method, status) for path, operations in paths.items()
                 for method, operation in operations.items()
                 for status in operation["responses"] if status.startswith("2")}
    assert successes == {*DOCUMENTED, ("/api/payments", "post", "202"), *NO_CONTENT}
    for path, method, status in NO_CONTENT:
        assert set(paths[path][method]["responses"][status]) == {"description"}


async def test_a_ticket_is_the_contract_json_with_its_price_a_number(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")

    created = await seller.post("/api/tickets", json={"title": "Concert", "price": "20"})
    ticket = await created.get_json()
    edited = await (await seller.put(f"/api/tickets/{ticket['id']}",
                                     json={"title": "Opera", "price": 19.9})).get_json()

    assert created.status_code == 201
    assert ticket == {"id": ticket["id"], "title": "Concert", "price": 20,
                      "userId": await user_id(seller), "version": 0}
    assert isinstance(ticket["price"], float)
    assert edited == ticket | {"title": "Opera", "price": 19.9, "version": 1}
    assert await (await seller.get(f"/api/tickets/{ticket['id']}")).get_json() == edited
    assert await (await seller.get("/api/tickets")).get_json() == [edited]
    for body in (ticket, edited):
        assert_documented(TicketResponse, body)


async def test_a_held_ticket_names_its_order(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)

    async def held() -> dict[str, Any] | None:
        found = await buyer.get(f"/api/tickets/{order['ticket']['id']}")
        body: dict[str, Any] = await found.get_json()
        return body if "orderId" in body else None

    ticket = await eventually(held, what="the hold to reach tickets")
    assert ticket == {"id": order["ticket"]["id"], "title": "Concert", "price": 19.99,
                      "userId": ticket["userId"], "version": 1, "orderId": order["id"]}
    assert_documented(TicketResponse, ticket)


async def test_an_order_is_the_contract_json_with_expires_at_in_utc(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")

    order = await open_order(app, buyer, price=19.99)

    assert order == {
        "id": order["id"], "status": "created", "userId": await user_id(buyer),
        "expiresAt": EXPIRES_AT, "version": 0,
        "ticket": {"id": order["ticket"]["id"], "title": "Concert", "price": 19.99,
                   "version": 0},
    }
    await settled(app)  # the hold (ticket version 1) has come back to orders' replica
    shown = await (await buyer.get(f"/api/orders/{order['id']}")).get_json()
    assert shown == order | {"ticket": order["ticket"] | {"version": 1}}
    assert await (await buyer.get("/api/orders")).get_json() == [shown]
    assert_documented(OrderResponse, order)


async def test_a_payment_answers_its_id(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)

    response = await pay(buyer, order["id"])

    assert response.status_code == 201
    body = await response.get_json()
    assert body == {"id": body["id"]}
    assert isinstance(body["id"], str)
    assert_documented(PaymentResponse, body)


async def test_a_user_is_the_contract_json(app: Quart) -> None:
    client = app.test_client()
    credentials = {"email": "user@test.com", "password": "secret"}

    signed_out = await (await client.get("/api/users/currentuser")).get_json()
    up = await (await client.post("/api/users/signup", json=credentials)).get_json()
    again = await (await client.post("/api/users/signin", json=credentials)).get_json()
    current = await (await client.get("/api/users/currentuser")).get_json()

    assert signed_out == {"currentUser": None}
    assert up == again == {"id": up["id"], "email": "user@test.com"}
    claims = current["currentUser"]
    assert claims == {"id": up["id"], "email": "user@test.com", "iat": claims["iat"],
                      "exp": claims["exp"]}
    assert_documented(UserResponse, up)
    for body in (signed_out, current):
        assert_documented(CurrentUserResponse, body)
