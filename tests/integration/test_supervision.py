"""Faults injected into each background task: it is logged, comes back, and nothing is late.

The exact failure seen in the split (nats-py's ``fetch`` raising a plain
``asyncio.TimeoutError`` under load) and arbitrary exceptions are raised inside the
expiration worker and scheduler, the relays, the JetStream consumers and the live watch;
expiries still fire within the window's tolerance and events still arrive exactly once.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart

from tests.support.nats import NatsServer
from tests.support.trading import (
    TRANSPORTS,
    bus_of,
    list_ticket,
    person,
    reserve,
    settled,
    trading,
)
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.bus import relay as relay_module
from ticketing.bus.nats import NatsTransport
from ticketing.bus.supervisor import Supervisor
from ticketing.bus.transport import Outgoing
from ticketing.modules.expiration.api import ExpirationService
from ticketing.modules.expiration.schedule import PendingExpirationSource
from ticketing.settings import Settings

WINDOW_SECONDS = 2
LATE_AT_MOST = timedelta(seconds=1.5)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(request: pytest.FixtureRequest, transport: str, settings: Settings,
              make_settings: Callable[..., Settings]) -> AsyncIterator[Quart]:
    build = trading(make_settings, transport, request, modules=None)
    application = create_app(build(expiration_seconds=WINDOW_SECONDS))
    async with application.test_app():
        yield application


def restarts_of(app: Quart, task: str) -> int:
    return int(bus_of(app).supervisor.report().get(task, {}).get("restarts", 0))


async def running(app: Quart, task: str) -> None:
    async def started() -> bool:
        return bus_of(app).supervisor.report().get(task, {}).get("state") == "running"

    await eventually(started, what=f"{task} running")


class Faults:
    """Wraps an async callable so that its first calls raise the given errors in turn."""

    def __init__(self, real: Callable[..., Awaitable[Any]], *errors: BaseException) -> None:
        self.real = real
        self.errors = list(errors)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.errors:
            raise self.errors.pop(0)
        return await self.real(*args, **kwargs)


async def expires_on_time(app: Quart) -> None:
    """Reserve a ticket and see the order cancelled within the window's tolerance."""
    client = app.test_client()
    settings: Settings = app.extensions["ticketing"].settings
    seller, buyer = person(settings, "seller"), person(settings, "buyer")
    ticket = await list_ticket(client, seller)
    await settled(app)
    order = await reserve(client, buyer, ticket["id"])

    async def cancelled() -> datetime | None:
        response = await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)
        return datetime.now(UTC) if (await response.get_json())["status"] == "cancelled" \
            else None

    seen = await eventually(cancelled, within=WINDOW_SECONDS + 10, what="expiry")
    late = seen - datetime.fromisoformat(order["expiresAt"])
    assert timedelta(0) <= late < LATE_AT_MOST


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_the_expiration_worker_survives_plain_timeouts_and_any_error_from_its_fetch(
    app: Quart, caplog: pytest.LogCaptureFixture,
) -> None:
    await running(app, "expiration-worker")
    service: ExpirationService = app.extensions["ticketing"].facades["expiration"]
    consumer = service._broker.consumer  # type: ignore[attr-defined]
    consumer.fetch = Faults(consumer.fetch, *(TimeoutError() for _ in range(5)),
                            RuntimeError("injected into the fetch"))

    with caplog.at_level(logging.ERROR, logger="ticketing.supervisor"):
        await expires_on_time(app)

    assert restarts_of(app, "expiration-worker") == 1  # the RuntimeError; timeouts are idle
    assert any("task=expiration-worker failed" in r.getMessage() and
               "injected into the fetch" in r.getMessage() for r in caplog.records)


async def test_the_expiration_scheduler_survives_errors_from_its_source(
    app: Quart, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await running(app, "expiration-scheduler")
    failing = Faults(PendingExpirationSource.get_schedules, RuntimeError("source down"),
                     ConnectionResetError("database gone"))
    monkeypatch.setattr(PendingExpirationSource, "get_schedules",
                        lambda source: failing(source))
    # A deadline that falls while the source fails waits for it; one after, never.
    await eventually(lambda: _positive(int(not failing.errors)), what="faults consumed")

    await expires_on_time(app)


async def test_a_relay_that_dies_is_restarted_and_its_events_still_arrive(
    app: Quart, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(relay_module, "_wait", Faults(relay_module._wait,
                                                      RuntimeError("relay bug")))

    async def someone_restarted() -> bool:
        return any(restarts_of(app, f"relay-{m}") for m in app.extensions["ticketing"]
                   .settings.modules)

    await eventually(someone_restarted, what="a relay restarted")
    await expires_on_time(app)  # every hop (tickets, orders, expiration) still relays


@pytest.mark.parametrize("transport", ["nats"], indirect=True)
async def test_a_jetstream_consumer_that_dies_is_restarted_and_misses_nothing(
    app: Quart, monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = bus_of(app).transport
    assert isinstance(transport, NatsTransport)
    monkeypatch.setattr(transport, "_process_together", Faults(
        transport._process_together, *(RuntimeError("consumer bug") for _ in range(3))))
    monkeypatch.setattr(transport, "_process", Faults(
        transport._process, *(RuntimeError("consumer bug") for _ in range(3))))

    await expires_on_time(app)
    assert sum(restarts_of(app, name) for name in bus_of(app).supervisor.report()
               if name.startswith("nats-pull-")) >= 1


async def test_a_live_watch_whose_subscribe_fails_is_retried(nats_server: NatsServer) -> None:
    transport = NatsTransport(nats_server.url)
    await transport.connect()
    try:
        client = transport._client
        assert client is not None
        client.subscribe = Faults(client.subscribe,  # type: ignore[method-assign]
                                  ConnectionError("subscribe lost"))
        heard: list[str | bytes] = []
        transport.watch(heard.append)
        supervisor = transport._supervisor

        await eventually(lambda: _positive(supervisor.report()["nats-watch"]["restarts"]),
                         what="watch retried")
        await eventually(lambda: _is_state(supervisor, "nats-watch", "running"),
                         what="watch running")

        async def heard_a_publish() -> bool:
            await transport.publish([Outgoing("e1", "ticket:created", "{}")])
            return bool(heard)

        await eventually(heard_a_publish, what="the watch hears events")
    finally:
        await transport.stop()


async def _is_state(supervisor: Supervisor, task: str, state: str) -> bool:
    return supervisor.report()[task]["state"] == state


async def _positive(value: int) -> bool:
    return value > 0


async def test_readyz_names_a_task_that_keeps_failing_while_the_bus_is_fine(
    app: Quart, monkeypatch: pytest.MonkeyPatch,
) -> None:
    supervisor = bus_of(app).supervisor

    async def broken() -> None:
        raise RuntimeError("always")

    monkeypatch.setattr(supervisor, "first_delay", 0.001)
    handle = supervisor.start("expiration-doomed", broken)
    await eventually(lambda: _positive(len(supervisor.failing())), what="failing")
    response = await app.test_client().get("/readyz")
    await handle.stop()
    recovered = await app.test_client().get("/readyz")

    assert response.status_code == 503
    body = await response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["tasks"] == "failing: expiration-doomed"
    assert recovered.status_code == 200
