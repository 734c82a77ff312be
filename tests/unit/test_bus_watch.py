"""``Bus.watch`` over a fake broadcasting transport: no database, no network."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from ticketing.bus.contracts import Envelope, TicketCreated
from ticketing.bus.runtime import WATCH_DEDUP_EVENTS, Bus
from ticketing.bus.transport import InProcessTransport, Transport
from ticketing.ids import new_id


class Broadcast(InProcessTransport):
    """In-process delivery, plus a broadcast the test plays the part of."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners: list[Callable[[str | bytes], None]] = []

    def watch(self, listener: Callable[[str | bytes], None]) -> bool:
        self.listeners.append(listener)
        return True

    def hear(self, body: str | bytes) -> None:
        for listener in self.listeners:
            listener(body)


def envelope() -> Envelope:
    return Envelope.wrap(TicketCreated(id=new_id(), version=0, title="Concert",
                                       price=Decimal("5"), user_id=new_id()), "tickets")


def watched(transport: Transport) -> tuple[Bus, list[Envelope]]:
    bus = Bus(transport)
    heard: list[Envelope] = []
    bus.watch(heard.append)
    return bus, heard


def test_the_transport_is_asked_once_however_many_watch() -> None:
    transport = Broadcast()
    bus, _ = watched(transport)
    bus.watch(lambda envelope: None)

    assert len(transport.listeners) == 1


def test_a_broadcast_event_is_heard_once_even_if_a_relay_sends_it_twice() -> None:
    transport = Broadcast()
    _, heard = watched(transport)
    first, second = envelope(), envelope()

    for body in (first.to_json(), first.to_json().encode(), second.to_json(), first.to_json()):
        transport.hear(body)

    assert [e.id for e in heard] == [first.id, second.id]
    assert heard[0] == first


def test_only_the_latest_ids_are_remembered() -> None:
    transport = Broadcast()
    _, heard = watched(transport)
    oldest = envelope()
    transport.hear(oldest.to_json())
    for _ in range(WATCH_DEDUP_EVENTS):
        transport.hear(envelope().to_json())

    transport.hear(oldest.to_json())  # long forgotten: heard again, memory stays bounded

    assert [e.id for e in heard].count(oldest.id) == 2


def test_an_event_this_code_cannot_read_is_skipped() -> None:
    transport = Broadcast()
    _, heard = watched(transport)

    transport.hear(b"not json")
    transport.hear('{"id": "x", "type": "ticket:teleported", "schemaVersion": 1, "data": {}}')
    later = envelope()
    transport.hear(later.to_json())

    assert [e.id for e in heard] == [later.id]


def test_a_broadcasting_bus_does_not_also_report_its_own_commits() -> None:
    # Its commits come back through the broadcast; reporting them at commit too would
    # make every own event heard twice.
    transport = Broadcast()
    bus, heard = watched(transport)
    committed = envelope()

    bus._committed([committed])

    assert heard == []
    transport.hear(committed.to_json())
    assert heard == [committed]


def test_an_in_process_bus_reports_its_commits_and_a_raising_watcher_is_contained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = Bus(InProcessTransport())

    def broken(envelope: Envelope) -> None:
        raise RuntimeError("watcher bug")

    heard: list[Envelope] = []
    bus.watch(broken)
    bus.watch(heard.append)
    committed = [envelope(), envelope()]

    bus._committed(committed)

    assert heard == committed
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR"]
