"""Load shedding in the real app: with its bound full, the next API request is answered at
once with 503, ``Retry-After`` and the contract's error shape, counted and logged as a
503, while the probes and the metrics still answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.scrape import moved, parse
from ticketing.errors import message_of


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_in_flight": 1}


async def test_a_full_process_sheds_the_next_request_but_never_its_probes(
    app: Quart, client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    tickets = app.extensions["ticketing"].facades["tickets"]
    release, entered = asyncio.Event(), asyncio.Event()
    listing = tickets.list_available

    async def slow_listing(*args: Any) -> Any:
        entered.set()
        await release.wait()
        return await listing(*args)

    monkeypatch.setattr(tickets, "list_available", slow_listing)
    before = parse(await (await client.get("/metrics")).get_data(as_text=True))
    busy = asyncio.create_task(client.get("/api/tickets"))
    await asyncio.wait_for(entered.wait(), 5)

    shed = await client.get("/api/tickets")
    health = await client.get("/healthz")
    scraped = await client.get("/metrics")

    assert shed.status_code == 503
    assert shed.headers["Retry-After"] == "1"
    assert await shed.get_json() == {"errors": [{"message": message_of("overloaded")}]}
    assert shed.headers["X-Request-Id"]
    assert (health.status_code, scraped.status_code) == (200, 200)
    after = parse(await scraped.get_data(as_text=True))
    assert moved(before, after, "ticketing_requests_shed_total", kind="api") == 1
    assert moved(before, after, "ticketing_http_requests_total", status="503") == 1
    release.set()
    assert (await busy).status_code == 200
    assert (await client.get("/api/tickets")).status_code == 200
