"""Load shedding: past the bound a request is refused at once, in the contract's shape;
the probes, metrics, live streams and static assets are never refused."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ticketing.errors import message_of
from ticketing.web.shell.shedding import NEVER_SHED, Shedding


class Held:
    """An ASGI app whose requests stay in flight until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app: Shedding, path: str,
               method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    await app({"type": "http", "path": path, "method": method}, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


async def test_past_the_bound_a_request_is_refused_at_once_then_admitted_again() -> None:
    held = Held()
    app = Shedding(held, limit=2)
    admitted = [asyncio.create_task(call(app, "/api/orders")) for _ in range(2)]
    await asyncio.sleep(0)
    assert held.entered == 2

    api = await asyncio.wait_for(call(app, "/api/orders"), 1)
    page = await asyncio.wait_for(call(app, "/orders/1"), 1)

    assert api[0] == 503
    assert api[1][b"retry-after"] == b"1"
    assert json.loads(api[2]) == {"errors": [{"message": message_of("overloaded")}]}
    assert (page[0], page[1][b"content-type"]) == (503, b"text/html")
    held.release.set()
    assert [status for status, _, _ in await asyncio.gather(*admitted)] == [200, 200]
    assert (await call(app, "/api/orders"))[0] == 200
    assert app.in_flight == 0


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/live/tickets",
                                  "/static/app/app.js"])
async def test_probes_metrics_streams_and_assets_are_never_shed(path: str) -> None:
    assert path.startswith(NEVER_SHED)
    held = Held()
    app = Shedding(held, limit=1)
    busy = asyncio.create_task(call(app, "/api/tickets"))
    await asyncio.sleep(0)

    exempt = asyncio.create_task(call(app, path))
    await asyncio.sleep(0)
    assert held.entered == 2  # it went in, past the full bound
    held.release.set()
    assert (await exempt)[0] == 200
    await busy


async def test_a_bound_of_zero_sheds_nothing() -> None:
    held = Held()
    app = Shedding(held, limit=0)
    calls = [asyncio.create_task(call(app, "/api/tickets")) for _ in range(5)]
    await asyncio.sleep(0)

    assert held.entered == 5
    held.release.set()
    await asyncio.gather(*calls)


async def test_ordinary_requests_leave_the_last_quarter_of_the_bound_to_purchases() -> None:
    held = Held()
    app = Shedding(held, limit=4)
    asking = [asyncio.create_task(call(app, "/api/queue/e1")) for _ in range(3)]
    await asyncio.sleep(0)

    refused = await asyncio.wait_for(call(app, "/api/queue/e1"), 1)
    buying = asyncio.create_task(call(app, "/api/orders"))
    await asyncio.sleep(0)

    assert refused[0] == 503
    assert held.entered == 4  # the purchase took the slot the fourth ask could not
    assert (await asyncio.wait_for(call(app, "/api/payments"), 1))[0] == 503  # now full
    held.release.set()
    assert [s for s, _, _ in await asyncio.gather(*asking, buying)] == [200] * 4


async def test_joining_a_queue_counts_as_a_purchase_asking_for_a_place_does_not() -> None:
    held = Held()
    app = Shedding(held, limit=4)
    asking = [asyncio.create_task(call(app, "/api/queue/e1")) for _ in range(3)]
    await asyncio.sleep(0)

    joining = asyncio.create_task(call(app, "/api/queue/e1", "POST"))
    await asyncio.sleep(0)

    assert held.entered == 4
    held.release.set()
    assert [s for s, _, _ in await asyncio.gather(*asking, joining)] == [200] * 4


class Timed:
    """An ASGI app whose every request takes ``took`` seconds of a fake clock."""

    def __init__(self, clock: FakeMonotonic) -> None:
        self.clock = clock
        self.took = 0.0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.clock.now += self.took
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_slow_answers_cut_an_adaptive_bound_and_quick_ones_win_it_back() -> None:
    clock = FakeMonotonic()
    timed = Timed(clock)
    app = Shedding(timed, limit=64, latency_target=0.05, clock=clock)

    timed.took = 0.2  # slower than the target, one after the other
    for _ in range(3):
        await call(app, "/api/orders")
    assert app.bound == pytest.approx(64 * 0.75 ** 3)

    timed.took = 0.0
    admitted_before_the_cut = clock.now - 1.0  # slow, but admitted under the old bound
    app._adapt(admitted_before_the_cut)
    assert app.bound == pytest.approx(64 * 0.75 ** 3)

    for _ in range(3000):
        await call(app, "/api/orders")
    assert app.bound == 64  # back, and never above the configured bound


async def test_an_adaptive_bound_stops_at_its_floor_and_sheds_past_it() -> None:
    clock = FakeMonotonic()
    held = Held()
    app = Shedding(held, limit=64, latency_target=0.05, clock=clock)
    app.bound = 4.0
    for _ in range(10):
        clock.now += 1
        app._adapt(clock.now - 0.5)
    assert app.bound == 4.0

    admitted = [asyncio.create_task(call(app, "/api/orders")) for _ in range(4)]
    await asyncio.sleep(0)
    assert (await asyncio.wait_for(call(app, "/api/orders"), 1))[0] == 503
    held.release.set()
    await asyncio.gather(*admitted)
