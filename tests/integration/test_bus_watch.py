"""``Bus.watch``: live views hear committed events, best effort, without touching delivery.

Written once and run on every transport (``bus_harness``); the tests about one
transport's way of hearing (in-process: right after the commit; NATS: every replica,
once) choose theirs.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.bus import BusHarness, ticket_created
from tests.support.waiting import eventually
from ticketing.bus.contracts import Envelope, PaymentCreated, TicketCreated
from ticketing.bus.runtime import Bus

QUIET_SECONDS = 0.3  # long enough for a duplicate to have shown up, were there one


class Heard:
    """A watcher that records what it hears."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    def __call__(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    def ids(self, event_type: str) -> list[str]:
        return [e.id for e in self.envelopes if e.type == event_type]

    async def until(self, ids: list[str], event_type: str = "ticket:created") -> None:
        async def all_heard() -> bool:
            return set(ids) <= set(self.ids(event_type))

        await eventually(all_heard, f"watcher hearing {ids}", within=10.0)


async def test_a_watcher_hears_every_committed_event_once_the_consumers_too(
    bus_harness: BusHarness,
) -> None:
    bus = bus_harness.build()
    heard = Heard()
    bus.watch(heard)
    await bus.start()

    emitted = [e.id for e in await bus_harness.emit(bus, 3)]

    await heard.until(emitted)
    # payments' probe commits a PaymentCreated per ticket, inside its consumer: heard too.
    await bus_harness.wait_for_effects(3)

    async def payments_heard() -> bool:
        return len(heard.ids(PaymentCreated.WIRE_TYPE)) == 3

    await eventually(payments_heard, "the consumer's events", within=10.0)
    await asyncio.sleep(QUIET_SECONDS)
    assert heard.ids(TicketCreated.WIRE_TYPE) == emitted
    assert len(heard.ids(PaymentCreated.WIRE_TYPE)) == 3
    assert all(isinstance(e, Envelope) for e in heard.envelopes)


async def test_a_rolled_back_change_is_never_heard(bus_harness: BusHarness) -> None:
    bus = bus_harness.build()
    heard = Heard()
    bus.watch(heard)
    await bus.start()

    async def refused_change() -> None:
        async with bus.modules["tickets"].outbox.transaction() as unit:
            await unit.publish(ticket_created())
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await refused_change()
    [later] = await bus_harness.emit(bus)

    await heard.until([later.id])
    await asyncio.sleep(QUIET_SECONDS)
    assert heard.ids(TicketCreated.WIRE_TYPE) == [later.id]


async def test_a_failing_watcher_breaks_neither_the_commit_nor_delivery_nor_other_watchers(
    bus_harness: BusHarness, caplog: pytest.LogCaptureFixture,
) -> None:
    bus = bus_harness.build()

    def broken(envelope: Envelope) -> None:
        raise RuntimeError("watcher bug")

    heard = Heard()
    bus.watch(broken)
    bus.watch(heard)
    await bus.start()

    [envelope] = await bus_harness.emit(bus)  # the commit returns normally

    await heard.until([envelope.id])
    assert await bus_harness.wait_for_effects(1) == {envelope.event.id: 1}  # type: ignore[attr-defined]
    assert "watcher bug" in caplog.text


async def test_unwatch_stops_the_callback(bus_harness: BusHarness) -> None:
    bus = bus_harness.build()
    gone, staying = Heard(), Heard()
    unwatch = bus.watch(gone)
    bus.watch(staying)
    await bus.start()

    unwatch()
    unwatch()  # a second call is harmless
    [envelope] = await bus_harness.emit(bus)

    await staying.until([envelope.id])
    assert gone.envelopes == []


@pytest.mark.parametrize("transport_kind", ["inproc"], indirect=True)
async def test_in_process_a_watcher_hears_the_commit_before_the_transaction_returns(
    bus_harness: BusHarness,
) -> None:
    bus = await bus_harness.started(poll_interval=30)
    heard = Heard()
    bus.watch(heard)  # after start works as well

    async with bus.modules["tickets"].outbox.transaction() as unit:
        envelope = await unit.publish(ticket_created())
        assert heard.envelopes == []  # not before the commit

    assert heard.ids(TicketCreated.WIRE_TYPE) == [envelope.id]


async def _watching(bus: Bus, harness: BusHarness, source: Bus, within: float = 5.0) -> Heard:
    """Watch ``bus`` (already started) and wait until its subscription is in place."""
    heard = Heard()
    bus.watch(heard)
    deadline = time.monotonic() + within
    while not heard.envelopes:
        assert time.monotonic() < deadline, "the late watcher never heard anything"
        await harness.emit(source)
        await asyncio.sleep(0.05)
    return heard


@pytest.mark.parametrize("transport_kind", ["nats"], indirect=True)
async def test_over_nats_every_replica_hears_every_event_its_own_commits_once(
    bus_harness: BusHarness,
) -> None:
    first = bus_harness.build()
    heard_first = Heard()
    first.watch(heard_first)  # before start: subscribes on connecting
    await first.start()
    second = await bus_harness.started()
    heard_second = await _watching(second, bus_harness, source=first)  # after start

    from_first = [e.id for e in await bus_harness.emit(first, 2)]
    from_second = [e.id for e in await bus_harness.emit(second, 2)]

    everything = from_first + from_second
    await heard_first.until(everything)
    await heard_second.until(everything)
    await asyncio.sleep(QUIET_SECONDS)
    for heard in (heard_first, heard_second):
        ids = heard.ids(TicketCreated.WIRE_TYPE)
        assert len(ids) == len(set(ids)), "an event was heard twice"
        assert set(everything) <= set(ids)


@pytest.mark.parametrize("transport_kind", ["nats"], indirect=True)
async def test_over_nats_a_watcher_hears_nothing_before_the_relay_publishes(
    bus_harness: BusHarness,
) -> None:
    # The commit alone is not heard: only what reaches NATS is, so no event is heard twice.
    bus = bus_harness.build()
    heard = Heard()
    bus.watch(heard)
    await bus.start()
    for relay in bus.relays:
        await relay.stop()

    await bus_harness.emit(bus)
    await asyncio.sleep(QUIET_SECONDS)

    assert heard.envelopes == []
