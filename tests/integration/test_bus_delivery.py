"""The bus's promises under faults, each written once and run on every transport.

``bus_harness`` is parametrised by transport (in-process, and a real JetStream server)
and, through ``settings``, by database (SQLite, and PostgreSQL in CI). See
``tests/support/bus.py`` for the probe whose effects these tests count.
"""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.support.bus import BusHarness, record_outcomes, ticket_created
from tests.support.waiting import eventually
from ticketing.bus.consumer import MAX_ATTEMPTS, Delivery, Outcome
from ticketing.bus.contracts import Envelope, subject_of
from ticketing.bus.relay import Relay
from ticketing.bus.transport import Outgoing
from ticketing.cli import bus_replay

POSTGRES_ONLY = [BACKENDS[1]]


def outgoing(envelope: Any) -> Outgoing:
    return Outgoing(envelope.id, envelope.type, envelope.to_json())


async def test_an_event_is_delivered_soon_after_its_commit(bus_harness: BusHarness) -> None:
    # The poll is far away: only the commit's wake-up can explain a prompt delivery.
    bus = await bus_harness.started(poll_interval=30)
    await asyncio.sleep(0.3)  # the relay is now waiting on its poll
    started = time.monotonic()
    [envelope] = await bus_harness.emit(bus)

    effects = await bus_harness.wait_for_effects(1, within=5)

    assert time.monotonic() - started < 2
    assert effects == {envelope.event.id: 1}  # type: ignore[attr-defined]


async def test_the_poll_picks_up_a_row_committed_elsewhere(bus_harness: BusHarness) -> None:
    # A row written by another process (here: straight into the table) wakes nobody.
    bus = await bus_harness.started(poll_interval=0.2)
    event = ticket_created()
    envelope = Envelope.wrap(event, "tickets")
    await bus_harness.tickets.outbox.create(event_id=envelope.id, event_type=envelope.type,
                                            body=envelope.to_json())

    assert await bus_harness.wait_for_effects(1, within=5) == {event.id: 1}
    assert bus.relays


async def test_a_duplicate_delivery_has_one_effect(bus_harness: BusHarness,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bus = bus_harness.build()
    consumer = bus.modules["payments"].consumer
    assert consumer is not None
    outcomes = record_outcomes(monkeypatch, consumer)
    await bus.transport.start(bus.consumers)
    [envelope] = await bus_harness.emit(bus)
    message = outgoing(envelope)

    await bus.transport.publish([message])
    await bus_harness.wait_for_effects(1)
    if bus_harness.kind == "nats":
        # A copy from outside JetStream's duplicate window: a new message id.
        await publish_raw_copy(bus, message)
    else:
        await bus.transport.publish([message])
    await eventually(lambda: _length_at_least(outcomes, 2), what="the second delivery")

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert await bus_harness.effects() == {envelope.event.id: 1}  # type: ignore[attr-defined]
    assert bus_harness.probe.calls[envelope.event.id] == 1  # type: ignore[attr-defined]


async def test_a_crash_between_send_and_mark_resends_and_still_has_one_effect(
    bus_harness: BusHarness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A tiny duplicate window, so that JetStream lets the re-send through: the consumer,
    # not the stream, must absorb it.
    bus = bus_harness.build(duplicate_window_seconds=0.1)
    consumer = bus.modules["payments"].consumer
    assert consumer is not None
    outcomes = record_outcomes(monkeypatch, consumer)
    await bus.transport.start(bus.consumers)
    outbox = bus.modules["tickets"].outbox
    [envelope] = await bus_harness.emit(bus)

    class Crash(Exception):
        pass

    async def crash(*_: Any) -> None:
        raise Crash("the process died before marking the row sent")

    first = Relay(outbox, bus.transport)
    monkeypatch.setattr(first, "_mark", crash)
    with pytest.raises(Crash):
        await first.relay_batch()
    await bus_harness.wait_for_effects(1)
    row = await bus_harness.tickets.outbox.get(event_id=envelope.id)
    assert row.sent_at is None
    await asyncio.sleep(0.2)  # past the duplicate window

    restarted = Relay(outbox, bus.transport)
    assert await restarted.relay_batch() == 1
    await eventually(lambda: _length_at_least(outcomes, 2), what="the second delivery")

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert await bus_harness.effects() == {envelope.event.id: 1}  # type: ignore[attr-defined]
    row = await bus_harness.tickets.outbox.get(event_id=envelope.id)
    assert row.sent_at is not None
    assert await restarted.relay_batch() == 0


async def test_a_failing_handler_is_retried_then_dead_lettered_then_replayed_once(
    bus_harness: BusHarness,
) -> None:
    probe = bus_harness.probe
    probe.always_fail = True
    bus = await bus_harness.started()
    [envelope] = await bus_harness.emit(bus)
    ticket_id = envelope.event.id  # type: ignore[attr-defined]
    letters = bus_harness.payments.dead_letters

    await eventually(letters.filter(event_id=envelope.id).exists, what="the dead letter")

    assert probe.calls[ticket_id] == MAX_ATTEMPTS
    letter = await letters.get(event_id=envelope.id)
    assert (letter.consumer, letter.event_type, letter.attempts) == (
        "payments", "ticket:created", MAX_ATTEMPTS)
    assert "probe told to fail" in letter.error
    status = await bus.status()
    assert [d["eventId"] for d in status["deadLetters"]] == [envelope.id]
    await asyncio.sleep(0.3)  # nothing delivers it again by itself
    assert probe.calls[ticket_id] == MAX_ATTEMPTS
    assert await bus_harness.effects() == {}

    probe.always_fail = False
    out, err = io.StringIO(), io.StringIO()
    assert await bus_replay(bus, envelope.id, out, err) == 0
    assert envelope.id in out.getvalue()

    assert await bus_harness.effects() == {ticket_id: 1}
    assert (await letters.get(event_id=envelope.id)).replayed_at is not None
    assert (await bus.status())["deadLetters"] == []
    assert await bus_replay(bus, envelope.id, out, err) == 1
    assert "no dead letter" in err.getvalue()
    assert await bus_harness.effects() == {ticket_id: 1}


async def test_a_replay_whose_handler_fails_again_keeps_the_dead_letter(
    bus_harness: BusHarness,
) -> None:
    bus = await bus_harness.started()
    envelope = await bus_harness.dead_lettered(bus)
    letters = bus_harness.payments.dead_letters

    err = io.StringIO()
    assert await bus_replay(bus, envelope.id, io.StringIO(), err) == 1

    assert "probe told to fail" in err.getvalue()
    assert (await letters.get(event_id=envelope.id)).replayed_at is None
    assert await bus_harness.effects() == {}


async def test_a_handler_that_fails_a_few_times_applies_once(bus_harness: BusHarness) -> None:
    bus_harness.probe.fail_times = 2
    bus = await bus_harness.started()
    [envelope] = await bus_harness.emit(bus)

    assert await bus_harness.wait_for_effects(1) == {envelope.event.id: 1}  # type: ignore[attr-defined]
    assert bus_harness.probe.calls[envelope.event.id] == 3  # type: ignore[attr-defined]
    assert not await bus_harness.payments.dead_letters.all().exists()


async def test_over_nats_an_event_waiting_for_its_predecessor_outlasts_the_failure_budget(
    bus_harness: BusHarness,
) -> None:
    """The fault run found it: a killed orders process held ticket:updated v1 until the
    ack wait ran out, and v2 had used up its deliveries meanwhile (a dead letter)."""
    if bus_harness.kind != "nats":
        pytest.skip("in one process no predecessor is held by a process that died")
    bus_harness.probe.wait_times = 5
    bus = await bus_harness.started(max_deliver=3, max_waits=8)
    [envelope] = await bus_harness.emit(bus)

    assert await bus_harness.wait_for_effects(1) == {envelope.event.id: 1}  # type: ignore[attr-defined]
    assert bus_harness.probe.calls[envelope.event.id] == 6  # type: ignore[attr-defined]
    assert not await bus_harness.payments.dead_letters.all().exists()


async def test_events_in_one_group_commit_apply_once_and_a_duplicate_among_them_is_ignored(
    bus_harness: BusHarness,
) -> None:
    bus = bus_harness.build()
    consumer = bus.modules["payments"].consumer
    assert consumer is not None
    envelopes = await bus_harness.emit(bus, 3)
    deliveries = [Delivery(e.id, e.type, e.to_json()) for e in envelopes]
    assert await consumer.deliver(deliveries[0], 1, MAX_ATTEMPTS) is Outcome.APPLIED

    outcomes = await consumer.deliver_together([*deliveries, deliveries[2]])

    assert outcomes == [Outcome.DUPLICATE, Outcome.APPLIED, Outcome.APPLIED,
                        Outcome.DUPLICATE]
    assert await bus_harness.effects() == {e.event.id: 1 for e in envelopes}


async def test_one_failing_event_in_a_group_leaves_the_others_applied_once(
    bus_harness: BusHarness,
) -> None:
    bus = bus_harness.build()
    envelopes = await bus_harness.emit(bus, 6)  # before the start: the relay sends them together
    failing = envelopes[3]
    bus_harness.probe.fail_on.add(failing.event.id)

    await bus.start()
    letters = bus_harness.payments.dead_letters
    await eventually(letters.filter(event_id=failing.id).exists, what="the dead letter")

    others = [e.event.id for e in envelopes if e is not failing]
    assert await bus_harness.wait_for_effects(5) == dict.fromkeys(others, 1)
    assert await letters.all().count() == 1


async def test_a_rolled_back_change_emits_nothing(bus_harness: BusHarness) -> None:
    bus = await bus_harness.started(poll_interval=0.05)
    outbox = bus.modules["tickets"].outbox
    woken: list[bool] = []
    outbox.on_commit(lambda published: woken.append(True))
    rolled_back = ticket_created()

    async def refused_change() -> None:
        async with outbox.transaction() as unit:
            await unit.publish(rolled_back)
            raise RuntimeError("change refused")

    with pytest.raises(RuntimeError, match="change refused"):
        await refused_change()
    assert woken == []
    # A later committed event goes through, so the pipeline was open all along.
    [later] = await bus_harness.emit(bus)
    await bus_harness.wait_for_effects(1)
    await asyncio.sleep(0.2)

    assert await bus_harness.effects() == {later.event.id: 1}  # type: ignore[attr-defined]
    assert await bus_harness.tickets.outbox.all().count() == 1
    assert rolled_back.id not in bus_harness.probe.calls


@pytest.mark.parametrize("backend", POSTGRES_ONLY, indirect=True)
async def test_two_relays_at_once_deliver_every_event_once(
    bus_harness: BusHarness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    count = 300
    # Two processes' worth of bus: their relays compete for the same outbox rows and
    # their consumers share one durable (NATS) or one processed table (in-process).
    first = bus_harness.build(batch_size=10, poll_interval=0.02)
    second = bus_harness.build(batch_size=10, poll_interval=0.02, probe=bus_harness.probe)
    published: dict[str, list[str]] = {"first": [], "second": []}
    for name, bus in (("first", first), ("second", second)):
        monkeypatch.setattr(bus.transport, "publish", _spy(bus.transport.publish, published[name]))
    envelopes = await bus_harness.emit(first, count)

    await asyncio.gather(first.start(), second.start())
    effects = await bus_harness.wait_for_effects(count, within=20)

    tickets = [e.event.id for e in envelopes]  # type: ignore[attr-defined]
    assert effects == dict.fromkeys(tickets, 1)
    sent = [event_id for ids in published.values() for event_id in ids
            if event_id in {e.id for e in envelopes}]
    assert sorted(sent) == sorted(e.id for e in envelopes)  # each sent once, by one relay
    assert all(ids for ids in published.values()), "both relays should have taken rows"
    assert sum(bus_harness.probe.calls.values()) == count


def _spy(publish: Any, into: list[str]) -> Any:
    async def spy(messages: list[Outgoing]) -> None:
        await publish(messages)
        into.extend(m.event_id for m in messages)
        # Hold the claim a little: the other relay must find these rows locked, not sent,
        # and neither can drain the whole outbox before the other has started.
        await asyncio.sleep(0.01)

    return spy


async def publish_raw_copy(bus: Any, message: Outgoing) -> None:
    """Publish ``message`` to JetStream again under a fresh message id."""
    js = bus.transport._jetstream()
    await js.publish(subject_of(message.event_type), message.body.encode(),
                     headers={"Nats-Msg-Id": f"{message.event_id}-copy"})


async def _length_at_least(items: list[Any], count: int) -> bool:
    return len(items) >= count
