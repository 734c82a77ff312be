"""The waiting room of an event with an on-sale time, driven round by round on a clock
the test moves: the pre-sale shuffle, first come first served after it, the rate, the
cap on buyers let in but not reserved, admission tokens, abandoned places, pause and
rate changes, and sell-out, on every database backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.clock import FakeClock
from tests.support.trading import Person, error, person, settled, trading
from ticketing.app import create_app
from ticketing.modules.orders.api import Orders
from ticketing.settings import Settings
from ticketing.web.shell.runtime import facade


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return trading(make_settings, modules=("tickets", "orders"))


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"queue_rate_per_minute": 120, "admission_seconds": 60}


@dataclass
class Market:
    client: TestClientProtocol
    clock: FakeClock
    app: Quart
    seller: Person

    async def advance(self, seconds: float = 1.0) -> None:
        """Move the clock, then one round of every queue (as the ticker does each second)."""
        self.clock.advance(seconds)
        async with self.app.app_context():
            found = facade("orders")
            assert isinstance(found, Orders)
            await found.advance_queues()
        await settled(self.app)


@pytest.fixture
async def market(settings: Settings) -> AsyncIterator[Market]:
    clock = FakeClock()
    app = create_app(settings, clock=clock)
    async with app.test_app():
        yield Market(app.test_client(), clock, app, person(settings, "seller"))


async def queued_event(market: Market, opens_in: float = 60, **fields: Any) -> dict[str, Any]:
    opens = market.clock.now.replace(microsecond=0) + timedelta(seconds=opens_in)
    body = {"title": "Rush", "price": 10, "quantity": 20, "onSaleAt": opens.isoformat()} | fields
    response = await market.client.post("/api/events", json=body, headers=market.seller.headers)
    assert response.status_code == 201, await response.get_json()
    await settled(market.app)
    event: dict[str, Any] = await response.get_json()
    return event


async def join(market: Market, buyer: Person, event_id: str) -> dict[str, Any]:
    response = await market.client.post(f"/api/queue/{event_id}", headers=buyer.headers)
    assert response.status_code == 200, await response.get_json()
    place: dict[str, Any] = await response.get_json()
    return place


async def place_of(market: Market, buyer: Person, event_id: str) -> dict[str, Any]:
    response = await market.client.get(f"/api/queue/{event_id}", headers=buyer.headers)
    assert response.status_code == 200, await response.get_json()
    place: dict[str, Any] = await response.get_json()
    return place


async def reserve(market: Market, buyer: Person, event_id: str, admission: str | None,
                  quantity: int = 1) -> tuple[int, Any]:
    body: dict[str, Any] = {"eventId": event_id, "quantity": quantity}
    if admission is not None:
        body["admission"] = admission
    response = await market.client.post("/api/orders", json=body, headers=buyer.headers)
    return response.status_code, await response.get_json()


def crowd(settings: Settings, count: int) -> list[Person]:
    return [person(settings, f"fan{n}") for n in range(count)]


async def queued_crowd(market: Market, settings: Settings, event_id: str,
                       count: int) -> list[Person]:
    """``count`` buyers, each of whom has joined the event's queue."""
    fans = crowd(settings, count)
    for fan in fans:
        await join(market, fan, event_id)
    return fans


async def places_of(market: Market, fans: list[Person],
                    event_id: str) -> dict[str, dict[str, Any]]:
    """Each buyer's place, by their id."""
    return {fan.id: await place_of(market, fan, event_id) for fan in fans}


async def test_early_arrivals_wait_and_get_a_random_draw_when_the_sale_opens(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, quantity=100)
    fans = crowd(settings, 30)
    for fan in fans:
        place = await join(market, fan, event["id"])
        assert place["state"] == "waiting"
        assert place["rank"] is None
        assert place["waitSeconds"] == 60

    await market.advance(30)  # still before the sale: nobody is ranked
    assert (await place_of(market, fans[0], event["id"]))["rank"] is None
    await market.advance(30)

    ranks = [(await place_of(market, fan, event["id"]))["rank"] for fan in fans]
    assert sorted(ranks) == list(range(1, 31))
    # Arrival order is not admission order (30! orders; the chance of sorted is nil).
    assert ranks != sorted(ranks)
    late = person(settings, "late")
    await join(market, late, event["id"])
    await market.advance()
    assert (await place_of(market, late, event["id"]))["rank"] == 31


async def test_buyers_are_let_in_at_the_rate_in_rank_order_and_only_they_reserve(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, quantity=100)
    fans = await queued_crowd(market, settings, event["id"], 10)
    await market.advance(60)  # the sale opens: ranks drawn, the first round lets 2 in

    places = await places_of(market, fans, event["id"])
    admitted = sorted(p["rank"] for p in places.values() if p["state"] == "admitted")
    assert admitted == [1, 2]  # 120 a minute: 2 a second
    first = next(f for f in fans if places[f.id]["rank"] == 1)
    third = next(f for f in fans if places[f.id]["rank"] == 3)
    assert places[third.id]["ahead"] == 0
    assert places[third.id]["waitSeconds"] == 1

    assert await reserve(market, third, event["id"], None) == (
        400, error("Wait for your turn in this event's queue"))
    forged = places[first.id]["admissionToken"]
    assert await reserve(market, third, event["id"], forged) == (
        400, error("Wait for your turn in this event's queue"))
    status, order = await reserve(market, first, event["id"], forged, 2)
    assert status == 201, order

    await market.advance()
    assert (await place_of(market, third, event["id"]))["state"] == "admitted"


async def test_never_more_let_in_unreserved_than_tickets_left(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, quantity=3)
    fans = await queued_crowd(market, settings, event["id"], 8)
    await market.advance(60)
    for _ in range(5):
        await market.advance()

    states = [(await place_of(market, fan, event["id"]))["state"] for fan in fans]
    assert states.count("admitted") == 3
    room = await (await market.client.get(f"/api/queue/{event['id']}/room",
                                          headers=market.seller.headers)).get_json()
    assert (room["waiting"], room["admitted"], room["remaining"]) == (5, 3, 3)


async def test_a_turn_not_used_lapses_and_lets_the_next_in(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, quantity=1)
    fans = await queued_crowd(market, settings, event["id"], 2)
    await market.advance(60)
    places = [await place_of(market, fan, event["id"]) for fan in fans]
    first, second = sorted(fans, key=lambda f: places[fans.index(f)]["rank"])
    token = (await place_of(market, first, event["id"]))["admissionToken"]
    assert (await place_of(market, second, event["id"]))["state"] == "waiting"

    await market.advance(61)  # the first buyer's minute passes unused

    assert (await place_of(market, first, event["id"]))["state"] == "lapsed"
    assert (await reserve(market, first, event["id"], token))[0] == 400
    assert (await place_of(market, second, event["id"]))["state"] == "admitted"


async def test_a_place_survives_a_refresh_but_not_a_long_absence(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, opens_in=400, quantity=100)
    gone, stays = crowd(settings, 2)
    await join(market, gone, event["id"])
    await join(market, stays, event["id"])
    assert (await join(market, stays, event["id"]))["state"] == "waiting"  # a refresh

    for _ in range(6):  # six minutes before the sale; only one of them keeps asking
        await market.advance(50)
        await place_of(market, stays, event["id"])
    await market.advance(100)  # the sale opens, 400 s after the one left stopped asking

    assert (await place_of(market, stays, event["id"]))["state"] == "admitted"
    assert (await place_of(market, gone, event["id"]))["state"] == "waiting"
    back = await join(market, gone, event["id"])  # returning puts them at the back
    assert back["rank"] is None


async def test_sold_out_ends_the_queue_for_everyone_at_once(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, quantity=2, perBuyerLimit=2)
    fans = await queued_crowd(market, settings, event["id"], 5)
    await market.advance(60)
    places = await places_of(market, fans, event["id"])
    buyer = next(f for f in fans if places[f.id]["state"] == "admitted")
    token = places[buyer.id]["admissionToken"]
    assert (await reserve(market, buyer, event["id"], token, 2))[0] == 201

    await market.advance()

    others = [f for f in fans if f is not buyer]
    assert {(await place_of(market, o, event["id"]))["state"] for o in others} == {"sold_out"}


async def test_the_seller_pauses_and_changes_the_rate_and_nobody_else_may(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, quantity=100)
    fans = await queued_crowd(market, settings, event["id"], 10)
    room_url = f"/api/queue/{event['id']}/room"
    assert (await market.client.put(room_url, json={"paused": True},
                                    headers=fans[0].headers)).status_code == 401
    paused = await market.client.put(room_url, json={"paused": True},
                                     headers=market.seller.headers)
    assert (await paused.get_json())["paused"] is True

    await market.advance(60)
    await market.advance()
    assert (await (await market.client.get(room_url, headers=market.seller.headers))
            .get_json())["admitted"] == 0

    changed = await market.client.put(room_url, json={"paused": False, "ratePerMinute": 300},
                                      headers=market.seller.headers)
    assert (await changed.get_json())["ratePerMinute"] == 300
    await market.advance()
    room = await (await market.client.get(room_url, headers=market.seller.headers)).get_json()
    assert room["admitted"] == 5
    bad = await market.client.put(room_url, json={"ratePerMinute": 0},
                                  headers=market.seller.headers)
    assert (bad.status_code, await bad.get_json()) == (
        400, error("RatePerMinute must be a whole number from 1 to 100000", "ratePerMinute"))


async def test_an_event_without_an_on_sale_time_has_no_queue(
    market: Market, settings: Settings,
) -> None:
    response = await market.client.post("/api/events", json={
        "title": "Now", "price": 5, "quantity": 3}, headers=market.seller.headers)
    event = await response.get_json()
    await settled(market.app)
    [fan] = crowd(settings, 1)

    answer = await market.client.post(f"/api/queue/{event['id']}", headers=fan.headers)

    assert (answer.status_code, await answer.get_json()) == (400, error("This event has no queue"))
    assert (await reserve(market, fan, event["id"], None))[0] == 201


async def test_the_queue_page_shows_the_wait_and_then_the_reserve_form(
    market: Market, settings: Settings,
) -> None:
    event = await queued_event(market, quantity=10)
    [fan] = crowd(settings, 1)
    page = await market.client.get(f"/queue/{event['id']}", headers=fan.headers)
    assert page.status_code == 200
    html = await page.get_data(as_text=True)
    assert "gets a place drawn at random" in html
    assert 'http-equiv="refresh"' in html

    await market.advance(60)
    html = await (await market.client.get(f"/queue/{event['id']}", headers=fan.headers)) \
        .get_data(as_text=True)
    assert "It's your turn" in html
    token = (await place_of(market, fan, event["id"]))["admissionToken"]
    reserved = await market.client.post("/orders", headers=fan.headers, form={
        "eventId": event["id"], "quantity": "1", "admission": token})
    assert reserved.headers["Location"].startswith("/orders/")
