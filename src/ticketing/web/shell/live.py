"""Live updates over Server-Sent Events: the listing and an order follow the bus as it happens.

Progressive enhancement only: every page works without these streams, and a small inline
script on the page opens one. Events reach the web layer through :meth:`Bus.watch`
(best effort, not durable), so a browser that reconnects has missed what happened in
between; a reload shows it. A :class:`LiveHub` fans each event out to the connected
clients through bounded queues: a client that falls :data:`QUEUE_SIZE` events behind is
dropped (its stream ends and the browser reconnects) and never holds up the bus or the
other clients.

The hub and the stream plumbing live here; each slice serves its own stream
(``web/tickets/live.py``: ``GET /live/tickets``; ``web/orders/live.py``:
``GET /live/orders/<id>``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from quart import Quart, Response

from ticketing.bus.contracts import Envelope
from ticketing.bus.runtime import Bus
from ticketing.telemetry import metrics

log = logging.getLogger("ticketing.web.live")

QUEUE_SIZE = 64
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 3000
HUB_KEY = "ticketing.live"


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
        metrics.LIVE_STREAMS.inc()
        return client

    def disconnect(self, client: LiveClient) -> None:
        """Forget a client: its stream ended, or it fell too far behind."""
        if client in self._clients:
            self._clients.discard(client)
            metrics.LIVE_STREAMS.dec()

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
                self.disconnect(client)
                log.info("live client dropped: %d events behind", client.queue.qsize())


def install_live_hub(app: Quart, bus: Bus) -> LiveHub:
    """One hub per app, watching its bus; the slices' streams connect to it."""
    hub = LiveHub()
    app.extensions[HUB_KEY] = hub
    bus.watch(hub.publish)
    return hub


def hub_of(app: Quart) -> LiveHub:
    hub: LiveHub = app.extensions[HUB_KEY]
    return hub


def sse(event: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event; JSON keeps the data on one line."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


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
