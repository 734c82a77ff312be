"""Load shedding: past ``TICKETING_MAX_IN_FLIGHT`` requests in flight, answer 503 at once.

A process that takes every request makes every request slow once the crowd outgrows it:
they queue inside it and all of them wait. So each process admits at most a configured
number in flight, and the next is refused at once, with ``Retry-After`` and the
contract's error shape, in a fraction of a millisecond: the client (or the Ingress, which
tries another pod) comes back when there is room, and the requests admitted stay fast.

Not every request is worth the same: paying, reserving (a buyer let out of a queue,
whose turn is running out) and joining a queue (an arrival shed and retried loses its
place in line) may fill the whole bound; everything else (asking for one's place,
listings, pages) only :data:`ORDINARY_SHARE` of it. When a crowd asks more than the
process can answer, the asking is shed first, and arrivals and purchases get through.

Never shed: the probes (a shedding pod is busy, not dead), ``/metrics`` (the figures
matter most under load), the live streams (long-lived, they would hold a slot each for
as long as a page is open) and static assets (cheap, and a page without its styles is
worse than a slow one). ``0`` turns shedding off.

With a latency target (``TICKETING_LATENCY_TARGET_MS``) the bound adapts, between
:data:`FLOOR` and the configured one: an admitted request slower than the target cuts it
by a quarter, unless it was admitted before the last cut (it says nothing of the bound
since), and each one within it adds back a little (one per bound's worth of requests).
A fixed bound that suits a quiet process lets a busy one (its saga catching up, a noisy
neighbour) queue everything it admits; the adaptive one admits what it can answer in
time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ticketing.errors import message_of
from ticketing.telemetry import metrics

NEVER_SHED = ("/healthz", "/readyz", "/metrics", "/live/", "/static/")
PRIORITY = ("/api/orders", "/orders", "/api/payments", "/payments")
PRIORITY_POSTS = ("/api/queue/",)
ORDINARY_SHARE = 0.75
# An adaptive bound never goes below this (nor above the configured one).
FLOOR = 4
CUT = 0.75
RETRY_AFTER_SECONDS = 1
_MESSAGE = message_of("overloaded")
_API_BODY = json.dumps({"errors": [{"message": _MESSAGE}]}).encode()
_PAGE_BODY = (f"<!doctype html><title>Busy</title><p>{_MESSAGE}</p>").encode()


class Shedding:
    """The ASGI app behind a bound on the HTTP requests in flight."""

    def __init__(self, app: Any, limit: int, latency_target: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.limit = limit
        self.bound = float(limit)
        self.in_flight = 0
        self._target = latency_target
        self._clock = clock
        self._last_cut = float("-inf")
        metrics.SHEDDING_BOUND.set(self.bound)

    @property
    def ordinary_limit(self) -> int:
        return max(1, int(self.bound * ORDINARY_SHARE))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or self.limit <= 0 or path.startswith(NEVER_SHED):
            await self.app(scope, receive, send)
            return
        priority = path.startswith(PRIORITY) or (
            scope.get("method") == "POST" and path.startswith(PRIORITY_POSTS))
        if self.in_flight >= (int(self.bound) if priority else self.ordinary_limit):
            await _refuse(scope, send)
            return
        self.in_flight += 1
        metrics.HTTP_IN_FLIGHT.inc()
        started = self._clock()
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            metrics.HTTP_IN_FLIGHT.dec()
            if self._target > 0:
                self._adapt(started)

    def _adapt(self, started: float) -> None:
        """Adapt the bound to a request admitted at ``started`` that has just ended."""
        now = self._clock()
        if now - started <= self._target:
            self.bound = min(float(self.limit), self.bound + 1 / self.bound)
        elif started >= self._last_cut:
            self.bound = max(float(min(FLOOR, self.limit)), self.bound * CUT)
            self._last_cut = now
        metrics.SHEDDING_BOUND.set(self.bound)


async def _refuse(scope: Any, send: Any) -> None:
    api = scope.get("path", "").startswith("/api/")
    metrics.REQUESTS_SHED.labels("api" if api else "page").inc()
    body, kind = (_API_BODY, b"application/json") if api else (_PAGE_BODY, b"text/html")
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", kind), (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()), (b"cache-control", b"no-store"),
    ]})
    await send({"type": "http.response.body", "body": body})
