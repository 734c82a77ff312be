"""The bus harness: one test, run on every transport (and, through ``settings``, every database).

A harness bus has two modules. ``tickets`` is a source: the test publishes
``TicketCreated`` through its outbox. ``payments`` subscribes with a :class:`Probe`
whose effect is transactional and countable: it publishes one ``PaymentCreated`` into
payments' own outbox in the handler's unit of work, so "effects" are rows of that
outbox, committed (or not) together with the processed-event row. The probe fails on
demand. Delays are shrunk so the fault tests stay fast.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

import pytest

from tests.support.nats import NatsServer
from tests.support.waiting import eventually
from ticketing import db
from ticketing.bus.consumer import Consumer, Delivery, Outcome, RetryLater
from ticketing.bus.contracts import Envelope, PaymentCreated, TicketCreated
from ticketing.bus.nats import JetStreamLayout, NatsTransport
from ticketing.bus.outbox import UnitOfWork
from ticketing.bus.runtime import Bus
from ticketing.bus.tables import BusTables
from ticketing.bus.transport import InProcessTransport, Transport
from ticketing.ids import new_id
from ticketing.modules import load_module
from ticketing.settings import Settings

TRANSPORTS = ["inproc", "nats"]

FAST_LAYOUT = JetStreamLayout(
    ack_wait_seconds=1.0,
    fetch_timeout_seconds=0.5,
    publish_timeout_seconds=1.0,
)


@dataclass
class Probe:
    """The test subscriber: each ``TicketCreated`` becomes one ``PaymentCreated`` row."""

    fail_times: int = 0
    wait_times: int = 0  # times to say "its predecessor has not arrived yet"
    always_fail: bool = False
    fail_on: set[str] = field(default_factory=set)
    calls: Counter[str] = field(default_factory=Counter)

    async def on_ticket_created(self, event: TicketCreated, unit: UnitOfWork) -> None:
        self.calls[event.id] += 1
        if self.wait_times > 0:
            self.wait_times -= 1
            raise RetryLater(f"ticket {event.id} waits for its predecessor")
        if self.always_fail or self.fail_times > 0 or event.id in self.fail_on:
            self.fail_times -= 1
            raise RuntimeError(f"probe told to fail on ticket {event.id}")
        await unit.publish(PaymentCreated(id=new_id(), order_id=event.id, stripe_id="ch_test"))


class BusHarness:
    """Builds buses on the test's database and transport; stops them all at teardown."""

    def __init__(self, settings: Settings, kind: str, nats: NatsServer | None) -> None:
        self.settings = settings
        self.kind = kind
        self.nats = nats
        self.probe = Probe()
        self.buses: list[Bus] = []
        self.tickets: BusTables = load_module("tickets").tables
        self.payments: BusTables = load_module("payments").tables

    def transport(self, **layout: Any) -> Transport:
        if self.kind == "nats":
            assert self.nats is not None
            return NatsTransport(self.nats.url, replace(FAST_LAYOUT, **layout),
                                 first_retry_delay=0.05, reconnect_wait=0.1)
        return InProcessTransport(first_retry_delay=0.01)

    def build(self, *, poll_interval: float = 0.2, batch_size: int = 100,
              probe: Probe | None = None, **layout: Any) -> Bus:
        """A bus with ``tickets`` (source) and ``payments`` (the probe's consumer)."""
        bus = Bus(self.transport(**layout), poll_interval=poll_interval, batch_size=batch_size)
        bus.add_module("tickets", self.tickets)
        bus.add_module("payments", self.payments)
        bus.subscribe("payments", {TicketCreated: (probe or self.probe).on_ticket_created})
        self.buses.append(bus)
        return bus

    async def started(self, **options: Any) -> Bus:
        bus = self.build(**options)
        await bus.start()
        return bus

    async def emit(self, bus: Bus, count: int = 1) -> list[Envelope]:
        """Publish ``count`` tickets, one committed transaction each."""
        envelopes = []
        for _ in range(count):
            async with bus.modules["tickets"].outbox.transaction() as unit:
                envelopes.append(await unit.publish(ticket_created()))
        return envelopes

    async def dead_lettered(self, bus: Bus) -> Envelope:
        """One event the probe, told to always fail, dead-letters; once the letter exists."""
        self.probe.always_fail = True
        [envelope] = await self.emit(bus)
        await eventually(self.payments.dead_letters.filter(event_id=envelope.id).exists,
                         what="the dead letter")
        return envelope

    async def effects(self) -> Counter[str]:
        """How many payments each ticket caused (by ticket id)."""
        bodies = await self.payments.outbox.filter(event_type="payment:created").values_list(
            "body", flat=True)
        return Counter(json.loads(str(body))["data"]["orderId"] for body in bodies)

    async def wait_for_effects(self, count: int, within: float = 10.0) -> Counter[str]:
        async def enough() -> bool:
            return sum((await self.effects()).values()) >= count

        await eventually(enough, f"{count} effects", within=within)
        return await self.effects()

    async def stop_all(self) -> None:
        for bus in self.buses:
            await bus.stop()
        self.buses.clear()


def record_outcomes(monkeypatch: pytest.MonkeyPatch, consumer: Consumer) -> list[Outcome]:
    """Spy on every delivery attempt the transport makes to ``consumer``."""
    outcomes: list[Outcome] = []
    original = consumer.deliver

    async def spy(delivery: Delivery, attempt: int, max_attempts: int,
                  max_waits: int | None = None) -> Outcome:
        outcome = await original(delivery, attempt, max_attempts, max_waits)
        outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(consumer, "deliver", spy)
    return outcomes


def hold_back(monkeypatch: pytest.MonkeyPatch, consumer: Consumer,
              event_type: str) -> asyncio.Event:
    """``consumer`` applies events of ``event_type`` only once the returned event is set.

    Held before the consumer's transaction opens: on SQLite an open transaction would
    hold the database's one connection and stall every reader.
    """
    gate = asyncio.Event()
    handle, deliver_together = consumer.handle, consumer.deliver_together

    async def held_handle(envelope: Envelope) -> bool:
        if envelope.type == event_type:
            await gate.wait()
        return await handle(envelope)

    async def held_together(deliveries: Sequence[Delivery]) -> list[Outcome] | None:
        if any(d.event_type == event_type for d in deliveries):
            await gate.wait()
        return await deliver_together(deliveries)

    monkeypatch.setattr(consumer, "handle", held_handle)
    monkeypatch.setattr(consumer, "deliver_together", held_together)
    return gate


def ticket_created(ticket_id: str | None = None) -> TicketCreated:
    return TicketCreated(id=ticket_id or new_id(), version=0, title="Concert",
                         price=Decimal("19.99"), user_id=new_id())


@pytest.fixture(params=TRANSPORTS)
def transport_kind(request: pytest.FixtureRequest) -> str:
    """The bus transport of this test run: ``inproc`` or ``nats``."""
    return str(request.param)


@pytest.fixture
async def bus_harness(settings: Settings, transport_kind: str,
                      request: pytest.FixtureRequest) -> AsyncIterator[BusHarness]:
    """Open databases, a harness on this transport (with its own NATS server if needed)."""
    nats = request.getfixturevalue("nats_server") if transport_kind == "nats" else None
    await db.open_databases(settings)
    harness = BusHarness(settings, transport_kind, nats)
    try:
        yield harness
    finally:
        await harness.stop_all()
        await db.close_databases()
