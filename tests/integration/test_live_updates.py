"""The live streams read as a browser's EventSource reads them, in both transports.

The test client keeps the response open and hands over its body as it is sent. A stream
is connected to the hub before its first bytes (``: live``), so a test that has read
them knows every later event will reach it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import pytest
from quart import Quart
from quart.testing.connections import TestHTTPConnection as HttpConnection
from quart.typing import TestClientProtocol
from quart.typing import TestHTTPConnectionProtocol as HttpConnectionProtocol

from tests.support.trading import (
    TRANSPORTS,
    Person,
    error,
    list_ticket,
    person,
    reserve_when_known,
    with_transport,
)
from ticketing.settings import Settings
from ticketing.web.shell.live import hub_of

EVENT_SECONDS = 5.0


@pytest.fixture(params=TRANSPORTS)
def make_settings(request: pytest.FixtureRequest,
                  make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return with_transport(request, make_settings)


class EventStream:
    """The events of one open ``text/event-stream`` response, parsed as EventSource does."""

    def __init__(self, connection: HttpConnectionProtocol) -> None:
        self.connection = connection
        self._buffer = ""
        self.comments: list[str] = []

    async def _block(self) -> str:
        while "\n\n" not in self._buffer:
            chunk = await asyncio.wait_for(self.connection.receive(), EVENT_SECONDS)
            self._buffer += chunk.decode()
        block, self._buffer = self._buffer.split("\n\n", 1)
        return block

    async def opened(self) -> None:
        block = await self._block()
        assert block.startswith(": live"), block

    async def next(self) -> tuple[str, dict[str, Any]]:
        """The next event with data: (event name, parsed JSON)."""
        while True:
            fields: dict[str, str] = {}
            for line in (await self._block()).split("\n"):
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                name, _, value = line.partition(":")
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
            if "data" in fields:
                return fields.get("event", "message"), json.loads(fields["data"])

    async def until(self, holds: Callable[[str, dict[str, Any]], bool]) -> dict[str, Any]:
        """Skip events until one ``holds``; its data."""
        while True:
            name, data = await self.next()
            if holds(name, data):
                return data


@asynccontextmanager
async def streaming(client: TestClientProtocol, path: str,
                    who: Person | None = None) -> AsyncIterator[EventStream]:
    """``GET path`` held open; the browser leaves when the block ends."""
    async with client.request(path, headers=who.headers if who else None) as connection:
        await connection.send_complete()
        stream = EventStream(connection)
        try:
            await stream.opened()
            yield stream
        finally:
            await connection.disconnect()


def ticket_event(ticket_id: str, **expected: Any) -> Callable[[str, dict[str, Any]], bool]:
    def holds(name: str, data: dict[str, Any]) -> bool:
        return name == "ticket" and data["id"] == ticket_id and expected.items() <= data.items()

    return holds


async def test_the_listing_stream_is_an_uncached_event_stream_for_anyone(
    app: Quart, client: TestClientProtocol,
) -> None:
    async with client.request("/live/tickets") as opened:
        await opened.send_complete()
        await EventStream(opened).opened()
        connection = cast(HttpConnection, opened)
        assert connection.status_code == 200
        assert connection.headers is not None
        assert connection.headers["Content-Type"].startswith("text/event-stream")
        assert connection.headers["Cache-Control"] == "no-cache"
        assert hub_of(app).clients == 1
        await connection.disconnect()

    assert hub_of(app).clients == 0  # the hub forgets a browser that left


async def test_a_ticket_listed_by_another_client_appears_on_the_stream(
    app: Quart, settings: Settings,
) -> None:
    watcher, seller_client = app.test_client(), app.test_client()
    seller = person(settings, "seller")

    async with streaming(watcher, "/live/tickets") as stream:
        ticket = await list_ticket(seller_client, seller, "Concert <live>", 19.99)

        data = await stream.until(ticket_event(ticket["id"]))

    assert data == {"id": ticket["id"], "title": "Concert <live>", "price": 19.99,
                    "version": 0, "available": True}


async def test_an_edit_and_a_reservation_stream_as_they_happen(
    client: TestClientProtocol, settings: Settings,
) -> None:
    seller, buyer = person(settings, "seller"), person(settings, "buyer")
    ticket = await list_ticket(client, seller, "Opera", 40)

    async with streaming(client, "/live/tickets") as stream:
        edit = await client.put(f"/api/tickets/{ticket['id']}",
                                json={"title": "Opera gala", "price": 45},
                                headers=seller.headers)
        assert edit.status_code == 200
        edited = await stream.until(ticket_event(ticket["id"], version=1))
        await reserve_when_known(client, buyer, ticket["id"])
        held = await stream.until(ticket_event(ticket["id"], version=2))

    assert edited == {"id": ticket["id"], "title": "Opera gala", "price": 45.0, "version": 1,
                      "available": True}
    assert held["available"] is False


async def test_the_order_stream_is_for_the_signed_in_owner_only(
    client: TestClientProtocol, settings: Settings,
) -> None:
    seller, buyer, stranger = (person(settings, n) for n in ("seller", "buyer", "stranger"))
    ticket = await list_ticket(client, seller)
    order = await reserve_when_known(client, buyer, ticket["id"])
    path = f"/live/orders/{order['id']}"

    signed_out = await client.get(path)
    someone_else = await client.get(path, headers=stranger.headers)
    unknown = await client.get("/live/orders/0000000000000000000000000a", headers=buyer.headers)

    assert (signed_out.status_code, await signed_out.get_json()) == (
        401, error("Not authorized"))
    assert (someone_else.status_code, await someone_else.get_json()) == (
        401, error("Not authorized"))
    assert (unknown.status_code, await unknown.get_json()) == (404, error("Not Found"))


async def test_the_order_stream_tells_the_owner_it_was_cancelled(
    app: Quart, client: TestClientProtocol, settings: Settings,
) -> None:
    seller, buyer = person(settings, "seller"), person(settings, "buyer")
    ticket = await list_ticket(client, seller)
    order = await reserve_when_known(client, buyer, ticket["id"])
    other_ticket = await list_ticket(client, seller, "Other")
    other_order = await reserve_when_known(client, buyer, other_ticket["id"])

    async with streaming(client, f"/live/orders/{order['id']}", buyer) as stream:
        assert await stream.next() == (  # where it stands now, then each change
            "order", {"id": order["id"], "status": "created", "version": 0})
        elsewhere = await client.delete(f"/api/orders/{other_order['id']}",
                                         headers=buyer.headers)
        assert elsewhere.status_code == 204
        response = await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)
        assert response.status_code == 204

        name, data = await stream.next()  # the other order's cancellation never shows

    assert (name, data) == ("order", {"id": order["id"], "status": "cancelled", "version": 1})
    assert hub_of(app).clients == 0
