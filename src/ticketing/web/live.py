"""Live updates over Server-Sent Events: the listing and an order follow the bus as it happens.

Progressive enhancement only: every page works without these streams, and a small inline
script on the page opens one. Events reach the web layer through :meth:`Bus.watch`
(best effort, not durable), so a browser that reconnects has missed what happened in
between; a reload shows it. A :class:`LiveHub` fans each event out to the connected
clients through bounded queues: a client that falls :data:`QUEUE_SIZE` events behind is
dropped (its stream ends and the browser reconnects) and never holds up the bus or the
other clients.

``GET /live/tickets`` is served where the listing is (the tickets module),
``GET /live/orders/<id>`` where the order page is (the orders module).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from quart import Blueprint, Quart, Response, current_app
from quart.blueprints import BlueprintSetupState

from ticketing.bus.contracts import (
    Envelope,
    OrderCancelled,
    OrderCompleted,
    OrderStatus,
    TicketCreated,
    TicketUpdated,
)
from ticketing.modules.orders.api import OrdersApi
from ticketing.web.pages.orders import STATUS_LABELS
from ticketing.web.runtime import Runtime, facade
from ticketing.web.session import require_user

log = logging.getLogger("ticketing.web.live")

QUEUE_SIZE = 64
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 3000
HUB_KEY = "ticketing.live"

TICKET_TYPES = frozenset({TicketCreated.WIRE_TYPE, TicketUpdated.WIRE_TYPE})
ORDER_STATUSES = {OrderCancelled.WIRE_TYPE: OrderStatus.CANCELLED,
                  OrderCompleted.WIRE_TYPE: OrderStatus.COMPLETE}

tickets_live = Blueprint("live_tickets", __name__, url_prefix="/live")
orders_live = Blueprint("live_orders", __name__, url_prefix="/live")


class LiveClient:
    """One connected stream: the events it wants, queued until its response sends them."""

    def __init__(self, wants: Callable[[Envelope], bool], size: int) -> None:
        self.wants = wants
        self.queue: asyncio.Queue[Envelope] = asyncio.Queue(size)
        self.dropped = False


class LiveHub:
    """Fans the bus's events out to the connected clients; a slow client is dropped."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._clients: set[LiveClient] = set()

    @property
    def clients(self) -> int:
        return len(self._clients)

    def connect(self, wants: Callable[[Envelope], bool]) -> LiveClient:
        """A new client that is handed each event ``wants`` accepts."""
        client = LiveClient(wants, self._queue_size)
        self._clients.add(client)
        return client

    def disconnect(self, client: LiveClient) -> None:
        self._clients.discard(client)

    def publish(self, envelope: Envelope) -> None:
        """Queue ``envelope`` for every client that wants it; never waits (a bus watcher)."""
        for client in tuple(self._clients):
            try:
                if not client.wants(envelope):
                    continue
            except Exception:
                log.exception("live filter failed on event_id=%s", envelope.id)
                continue
            try:
                client.queue.put_nowait(envelope)
            except asyncio.QueueFull:
                client.dropped = True
                self._clients.discard(client)
                log.info("live client dropped: %d events behind", client.queue.qsize())


def _install(state: BlueprintSetupState) -> None:
    """One hub per app, watching its bus, whichever live blueprint is registered first."""
    app = state.app
    if HUB_KEY not in app.extensions:
        hub = LiveHub()
        app.extensions[HUB_KEY] = hub
        runtime: Runtime = app.extensions["ticketing"]
        runtime.bus.watch(hub.publish)


tickets_live.record_once(_install)
orders_live.record_once(_install)


def hub_of(app: Quart) -> LiveHub:
    hub: LiveHub = app.extensions[HUB_KEY]
    return hub


def sse(event: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event; JSON keeps the data on one line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def ticket_message(envelope: Envelope) -> str:
    event = envelope.event
    assert isinstance(event, TicketCreated | TicketUpdated)
    return sse("ticket", {
        "id": event.id, "title": event.title, "price": float(event.price),
        "version": event.version,
        "available": getattr(event, "order_id", None) is None,
    })


def order_message(order_id: str, status: str, version: int) -> str:
    return sse("order", {"id": order_id, "status": status, "version": version})


async def live_stream(hub: LiveHub, wants: Callable[[Envelope], bool],
                      render: Callable[[Envelope], str],
                      opening: Callable[[], Awaitable[str]] | None = None,
                      ) -> AsyncGenerator[bytes, None]:
    """Connect, send the opening (read after connecting, so nothing falls in between),
    then each event as it comes, a comment every :data:`KEEPALIVE_SECONDS` meanwhile."""
    client = hub.connect(wants)
    try:
        first = await opening() if opening is not None else ""
        yield f": live\nretry: {RETRY_MILLISECONDS}\n\n{first}".encode()
        while True:
            try:
                envelope = await asyncio.wait_for(client.queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if client.dropped:
                return  # the browser reconnects: a fresh stream beats a backlog
            yield render(envelope).encode()
    finally:
        hub.disconnect(client)


def event_stream(body: AsyncIterator[bytes]) -> Response:
    response = Response(body, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx (the Ingress) must not buffer it
    response.timeout = None  # open for as long as the browser keeps it
    return response


@tickets_live.get("/tickets")
async def tickets() -> Response:
    """Tickets as they are listed, edited, reserved, sold and freed (``event: ticket``)."""

    def wants(envelope: Envelope) -> bool:
        return envelope.type in TICKET_TYPES

    return event_stream(live_stream(hub_of(current_app), wants, ticket_message))


@orders_live.get("/orders/<order_id>")
async def order(order_id: str) -> Response:
    """One of my orders, its current state and then each change (``event: order``)."""
    user = require_user()
    orders = facade("orders", OrdersApi)
    await orders.get(user.id, order_id)  # 404 unknown, 401 someone else's: before streaming

    def wants(envelope: Envelope) -> bool:
        return envelope.type in ORDER_STATUSES and getattr(envelope.event, "id", None) == order_id

    def render(envelope: Envelope) -> str:
        event = envelope.event
        assert isinstance(event, OrderCancelled | OrderCompleted)
        return order_message(event.id, ORDER_STATUSES[envelope.type], event.version)

    async def current() -> str:
        found = await orders.get(user.id, order_id)
        return order_message(found["id"], found["status"], found["version"])

    return event_stream(live_stream(hub_of(current_app), wants, render, current))


@orders_live.app_template_global("order_status_labels")
def order_status_labels() -> dict[str, str]:
    """What the order page's live script shows for each status."""
    return STATUS_LABELS
