"""Events of many tickets: ``/api/events``, orders of several of an event's tickets, the
per-buyer limit, sell-out and tickets coming back, on every database backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.clock import FakeClock
from tests.support.trading import Person, deliver, error, person, settled, trading
from ticketing.app import create_app
from ticketing.bus.contracts import ExpirationComplete
from ticketing.ids import unit_id
from ticketing.modules.payments.models import OrderReplica
from ticketing.settings import Settings


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return trading(make_settings, modules=("tickets", "orders", "payments"))


@pytest.fixture
def seller(settings: Settings) -> Person:
    return person(settings, "seller")


def buyers(settings: Settings, count: int) -> list[Person]:
    return [person(settings, f"buyer{n}") for n in range(count)]


async def create_event(client: TestClientProtocol, seller: Person,
                       **fields: Any) -> dict[str, Any]:
    body = {"title": "Concert", "price": 25, "quantity": 10} | fields
    response = await client.post("/api/events", json=body, headers=seller.headers)
    assert response.status_code == 201, await response.get_json()
    event: dict[str, Any] = await response.get_json()
    return event


async def order_from(client: TestClientProtocol, buyer: Person, event_id: str,
                     quantity: int | None = None) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"eventId": event_id}
    if quantity is not None:
        body["quantity"] = quantity
    response = await client.post("/api/orders", json=body, headers=buyer.headers)
    return response.status_code, await response.get_json()


async def remaining(client: TestClientProtocol, event_id: str) -> int:
    response = await client.get(f"/api/events/{event_id}")
    assert response.status_code == 200
    found: int = (await response.get_json())["remaining"]
    return found


async def test_an_event_is_created_with_its_tickets_and_shown(
    app: Quart, client: TestClientProtocol, seller: Person,
) -> None:
    event = await create_event(client, seller, title="  Opera  ", price="19.99", quantity=3,
                               venue="Arena", startsAt="2027-01-10T20:00:00+01:00")

    assert event == {
        "id": event["id"], "title": "Opera", "price": 19.99, "quantity": 3, "remaining": 3,
        "venue": "Arena", "startsAt": "2027-01-10T19:00:00Z", "onSaleAt": None,
        "perBuyerLimit": 4, "userId": seller.id, "version": 0, "refundDays": 0,
    }
    assert (await client.get(f"/api/events/{event['id']}")).status_code == 200
    assert [e["id"] for e in await (await client.get("/api/events")).get_json()] == [event["id"]]
    unit = await (await client.get(f"/api/tickets/{unit_id(event['id'], 2)}")).get_json()
    assert (unit["title"], unit["price"], unit["userId"]) == ("Opera", 19.99, seller.id)
    # The units are not listed one by one beside single tickets.
    assert await (await client.get("/api/tickets")).get_json() == []


@pytest.mark.parametrize(("body", "message", "field"), [
    ({"price": 5, "quantity": 10}, "Title is required", "title"),
    ({"title": "x", "price": 0, "quantity": 10}, "Price must be greater than 0", "price"),
    ({"title": "x", "price": 5}, "Quantity must be a whole number from 1 to 100000",
     "quantity"),
    ({"title": "x", "price": 5, "quantity": 100_001},
     "Quantity must be a whole number from 1 to 100000", "quantity"),
    ({"title": "x", "price": 5, "quantity": 2.5},
     "Quantity must be a whole number from 1 to 100000", "quantity"),
    ({"title": "x", "price": 5, "quantity": 3, "perBuyerLimit": 0},
     "PerBuyerLimit must be a whole number from 1 to 100", "perBuyerLimit"),
    ({"title": "x", "price": 5, "quantity": 3, "onSaleAt": "soon"},
     "OnSaleAt must be a date and time (ISO 8601)", "onSaleAt"),
    ({"title": "x", "price": 5, "quantity": 3, "venue": "a\nb"},
     "Venue must be one line of at most 120 characters", "venue"),
])
async def test_a_bad_event_is_refused_with_the_field_named(
    client: TestClientProtocol, seller: Person, body: dict[str, Any], message: str,
    field: str,
) -> None:
    response = await client.post("/api/events", json=body, headers=seller.headers)

    assert response.status_code == 400
    assert await response.get_json() == error(message, field)


async def test_creating_an_event_needs_a_session(client: TestClientProtocol) -> None:
    response = await client.post("/api/events", json={"title": "x", "price": 5, "quantity": 1})

    assert response.status_code == 401


async def test_an_unknown_event_is_not_found(client: TestClientProtocol,
                                             settings: Settings) -> None:
    [buyer] = buyers(settings, 1)
    assert (await client.get("/api/events/nope")).status_code == 404
    status, body = await order_from(client, buyer, "01m886b2m9kpb1nc5gh7y7yewb")
    assert (status, body) == (404, error("Not Found"))


async def test_one_order_holds_several_tickets_for_one_price_and_one_deadline(
    app: Quart, client: TestClientProtocol, seller: Person, settings: Settings,
) -> None:
    event = await create_event(client, seller, quantity=5)
    await settled(app)
    [buyer] = buyers(settings, 1)

    status, order = await order_from(client, buyer, event["id"], 3)

    assert status == 201, order
    assert order["eventId"] == event["id"]
    assert order["quantity"] == 3
    assert len({t["id"] for t in order["tickets"]}) == 3
    assert order["ticket"] == order["tickets"][0]
    await settled(app)
    assert await remaining(client, event["id"]) == 2
    for ticket in order["tickets"]:
        shown = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()
        assert shown["orderId"] == order["id"]
    listed = await (await client.get("/api/orders", headers=buyer.headers)).get_json()
    assert [[t["id"] for t in o["tickets"]] for o in listed] == [
        [t["id"] for t in order["tickets"]]]
    # Payments charges the three together.
    assert float((await OrderReplica.get(id=order["id"])).price) == 75.0


async def test_fewer_left_than_asked_refuses_all_and_takes_none(
    app: Quart, client: TestClientProtocol, seller: Person, settings: Settings,
) -> None:
    event = await create_event(client, seller, quantity=3)
    await settled(app)
    first, second = buyers(settings, 2)
    assert (await order_from(client, first, event["id"], 2))[0] == 201

    status, body = await order_from(client, second, event["id"], 2)

    assert (status, body) == (400, error("Not enough tickets left"))
    await settled(app)
    assert await remaining(client, event["id"]) == 1
    assert (await order_from(client, second, event["id"], 1))[0] == 201


async def test_the_limit_counts_every_active_order_of_the_buyer(
    app: Quart, client: TestClientProtocol, seller: Person, settings: Settings,
) -> None:
    event = await create_event(client, seller, quantity=10, perBuyerLimit=3)
    await settled(app)
    [buyer] = buyers(settings, 1)

    assert (await order_from(client, buyer, event["id"], 4)) == (
        400, error("Ticket limit reached"))
    status, first = await order_from(client, buyer, event["id"], 2)
    assert status == 201
    assert (await order_from(client, buyer, event["id"], 2)) == (
        400, error("Ticket limit reached"))
    # A single unit by its id counts toward the limit as well.
    other = unit_id(event["id"], 9)
    assert (await client.post("/api/orders", json={"ticketId": other},
                              headers=buyer.headers)).status_code == 201
    assert (await order_from(client, buyer, event["id"]))[0] == 400
    # Cancelling gives the allowance back.
    assert (await client.delete(f"/api/orders/{first['id']}",
                                headers=buyer.headers)).status_code == 204
    assert (await order_from(client, buyer, event["id"], 2))[0] == 201


async def test_racing_buyers_get_distinct_tickets_and_exactly_all_of_them(
    app: Quart, client: TestClientProtocol, seller: Person, settings: Settings,
) -> None:
    event = await create_event(client, seller, quantity=12, perBuyerLimit=2)
    await settled(app)
    crowd = buyers(settings, 10)

    results = await asyncio.gather(*(order_from(client, b, event["id"], 2) for b in crowd))

    made = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status != 201]
    assert len(made) == 6
    assert all(body == error("Not enough tickets left") for body in refused)
    sold = [t["id"] for order in made for t in order["tickets"]]
    assert len(sold) == len(set(sold)) == 12
    await settled(app)
    assert await remaining(client, event["id"]) == 0


async def test_a_ticket_that_comes_back_is_free_again(
    app: Quart, client: TestClientProtocol, seller: Person, settings: Settings,
) -> None:
    event = await create_event(client, seller, quantity=2)
    await settled(app)
    first, second = buyers(settings, 2)
    status, order = await order_from(client, first, event["id"], 2)
    assert status == 201
    await settled(app)
    assert await remaining(client, event["id"]) == 0

    await deliver(app, "orders", ExpirationComplete(order_id=order["id"]), "expiration")
    await settled(app)

    assert await remaining(client, event["id"]) == 2
    status, again = await order_from(client, second, event["id"], 2)
    assert status == 201
    assert {t["id"] for t in again["tickets"]} == {t["id"] for t in order["tickets"]}


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[TestClientProtocol, FakeClock,
                                                             Quart]]:
    clock = FakeClock()
    app = create_app(settings, clock=clock)
    async with app.test_app():
        yield app.test_client(), clock, app


async def test_nobody_reserves_before_the_sale_opens(
    clocked: tuple[TestClientProtocol, FakeClock, Quart], seller: Person, settings: Settings,
) -> None:
    client, clock, app = clocked
    opens = clock.now.replace(microsecond=0).isoformat()
    clock.advance(-60)
    event = await create_event(client, seller, onSaleAt=opens)
    await settled(app)
    [buyer] = buyers(settings, 1)

    assert await order_from(client, buyer, event["id"]) == (
        400, error("This event is not on sale yet"))
    clock.advance(60)
    # Open now, but an event with an on-sale time is bought through its queue.
    assert await order_from(client, buyer, event["id"]) == (
        400, error("Wait for your turn in this event's queue"))


@pytest.mark.parametrize(("body", "message", "field"), [
    ({"eventId": "e", "quantity": 0}, "Quantity must be a whole number from 1 to 100",
     "quantity"),
    ({"eventId": "e", "quantity": "many"}, "Quantity must be a whole number from 1 to 100",
     "quantity"),
    ({"eventId": "e", "ticketId": "t"}, "Give ticketId or eventId, not both", "ticketId"),
    ({}, "TicketId must be provided", "ticketId"),
])
async def test_a_bad_order_body_is_refused_with_the_field_named(
    client: TestClientProtocol, settings: Settings, body: dict[str, Any], message: str,
    field: str,
) -> None:
    [buyer] = buyers(settings, 1)
    response = await client.post("/api/orders", json=body, headers=buyer.headers)

    assert response.status_code == 400
    assert await response.get_json() == error(message, field)


async def test_the_event_pages_create_show_and_reserve(
    app: Quart, client: TestClientProtocol, seller: Person, settings: Settings,
) -> None:
    created = await client.post("/events/new", headers=seller.headers, form={
        "title": "Ballet", "price": "12.50", "quantity": "4", "perBuyerLimit": "2"})
    assert created.status_code == 303
    page = created.headers["Location"]
    await settled(app)
    [buyer] = buyers(settings, 1)
    shown = await (await client.get(page)).get_data(as_text=True)
    assert "Ballet" in shown
    assert "4 left" in shown
    assert "Ballet" in await (await client.get("/")).get_data(as_text=True)

    reserved = await client.post("/orders", headers=buyer.headers, form={
        "eventId": page.rsplit("/", 1)[1], "quantity": "3"})
    assert reserved.status_code == 303
    assert reserved.headers["Location"] == f"{page}?purchase=ticket_limit"
    refused = await (await client.get(reserved.headers["Location"])).get_data(as_text=True)
    assert "Ticket limit reached" in refused

    reserved = await client.post("/orders", headers=buyer.headers, form={
        "eventId": page.rsplit("/", 1)[1], "quantity": "2"})
    assert reserved.headers["Location"].startswith("/orders/")
    order_page = await (await client.get(reserved.headers["Location"],
                                         headers=buyer.headers)).get_data(as_text=True)
    assert "2 \N{MULTIPLICATION SIGN} Ballet" in order_page
    assert "Pay $25.00" in order_page
    await settled(app)
    assert "2 left" in await (await client.get(page)).get_data(as_text=True)


async def test_a_bad_event_form_shows_its_errors_in_place(
    client: TestClientProtocol, seller: Person,
) -> None:
    response = await client.post("/events/new", headers=seller.headers, form={
        "title": "Ballet", "price": "12.50", "quantity": "0"})

    assert response.status_code == 400
    assert "Quantity must be a whole number" in await response.get_data(as_text=True)
