"""The live hub: fan-out, filters, bounded queues that drop a slow client, the SSE stream."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from decimal import Decimal

import pytest

from ticketing.bus.contracts import (
    Envelope,
    Event,
    EventCreated,
    OrderCancelled,
    TicketCreated,
    TicketRef,
    TicketUpdated,
)
from ticketing.ids import new_id
from ticketing.web.shell import live
from ticketing.web.shell.live import LiveHub
from ticketing.web.tickets.live import LISTING_TYPES, listing_message


def wrap(event: Event) -> Envelope:
    return Envelope.wrap(event, "test")


def created(title: str = "Concert") -> Envelope:
    return wrap(TicketCreated(id=new_id(), version=0, title=title, price=Decimal("19.99"),
                              user_id=new_id()))


def cancelled(order_id: str) -> Envelope:
    ticket = TicketRef(id=new_id())
    return wrap(OrderCancelled(id=order_id, version=1, ticket=ticket, tickets=(ticket,)))


def tickets_only(envelope: Envelope) -> bool:
    return envelope.type in LISTING_TYPES


def queued(client: live.LiveClient) -> list[Envelope]:
    found = []
    while not client.queue.empty():
        found.append(client.queue.get_nowait())
    return found


def test_every_client_that_wants_an_event_gets_it() -> None:
    hub = LiveHub()
    first, second = hub.connect(tickets_only), hub.connect(tickets_only)
    envelope = created()

    hub.publish(envelope)

    assert queued(first) == [envelope]
    assert queued(second) == [envelope]


def test_a_client_gets_only_the_events_its_filter_accepts() -> None:
    hub = LiveHub()
    order_id = new_id()
    listing = hub.connect(tickets_only)
    mine = hub.connect(lambda e: e.type == "order:cancelled" and e.event.id == order_id)  # type: ignore[attr-defined]
    ticket, my_cancel, other_cancel = created(), cancelled(order_id), cancelled(new_id())

    for envelope in (ticket, my_cancel, other_cancel):
        hub.publish(envelope)

    assert queued(listing) == [ticket]
    assert queued(mine) == [my_cancel]


def test_a_slow_client_is_dropped_and_the_others_keep_everything() -> None:
    hub = LiveHub(queue_size=2)
    slow, fast = hub.connect(tickets_only), hub.connect(tickets_only)
    received: list[Envelope] = []
    events = [created(str(n)) for n in range(5)]

    for envelope in events:
        hub.publish(envelope)  # never waits, whoever is behind
        received += queued(fast)

    assert received == events
    assert slow.dropped
    assert not fast.dropped
    assert hub.clients == 1
    assert slow.queue.qsize() == 2  # what it had; nothing more is queued for it


def test_a_failing_filter_costs_only_its_own_client(caplog: pytest.LogCaptureFixture) -> None:
    hub = LiveHub()

    def broken(envelope: Envelope) -> bool:
        raise RuntimeError("filter bug")

    hub.connect(broken)
    fine = hub.connect(tickets_only)
    envelope = created()

    hub.publish(envelope)

    assert queued(fine) == [envelope]
    assert "filter bug" in caplog.text


def test_disconnect_forgets_the_client() -> None:
    hub = LiveHub()
    client = hub.connect(tickets_only)
    hub.disconnect(client)
    hub.disconnect(client)

    hub.publish(created())

    assert hub.clients == 0
    assert client.queue.empty()


def test_a_listing_message_carries_the_listing_fields_and_availability() -> None:
    held = wrap(TicketUpdated(id="t1", version=3, title='Opera "live"\n', price=Decimal("20.5"),
                              user_id="u1", order_id="o1"))
    first = created("Ballet")

    event_line, data_line, *rest = listing_message(held).split("\n")

    assert event_line == "event: ticket"
    assert rest == ["", ""]  # one data line (JSON escapes the newline), then the blank line
    assert json.loads(data_line.removeprefix("data: ")) == {
        "id": "t1", "title": 'Opera "live"\n', "price": 20.5, "version": 3, "available": False}
    assert json.loads(listing_message(first).split("\n")[1][6:])["available"] is True


def test_a_unit_names_its_event_and_a_new_event_comes_whole() -> None:
    unit = wrap(TicketUpdated(id="t2", version=1, title="Show", price=Decimal("10"),
                              user_id="u1", order_id="o1", event_id="e1"))
    show = wrap(EventCreated(id="e1", version=0, title="Show", price=Decimal("10"),
                             quantity=500, per_buyer_limit=4, user_id="u1"))

    assert json.loads(listing_message(unit).split("\n")[1][6:])["eventId"] == "e1"
    event_line, data_line, *_ = listing_message(show).split("\n")
    assert event_line == "event: event"
    assert json.loads(data_line[6:]) == {"id": "e1", "title": "Show", "price": 10.0,
                                         "remaining": 500}


async def next_chunk(stream: AsyncGenerator[bytes, None]) -> str:
    return (await anext(stream)).decode()


async def test_the_stream_opens_then_sends_events_and_keeps_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "KEEPALIVE_SECONDS", 0.01)
    hub = LiveHub()
    stream = live.live_stream(hub, tickets_only, listing_message)

    opening = await next_chunk(stream)
    assert opening.startswith(": live\nretry: ")
    assert hub.clients == 1  # connected before the first byte: nothing is missed after it
    assert await next_chunk(stream) == ": keep-alive\n\n"
    envelope = created()
    hub.publish(envelope)
    assert await next_chunk(stream) == listing_message(envelope)

    await stream.aclose()  # the browser went away
    assert hub.clients == 0


async def test_a_dropped_clients_stream_ends() -> None:
    hub = LiveHub(queue_size=1)
    stream = live.live_stream(hub, tickets_only, listing_message)
    await next_chunk(stream)

    hub.publish(created())
    hub.publish(created())  # the queue is full: dropped

    with pytest.raises(StopAsyncIteration):
        await next_chunk(stream)
    assert hub.clients == 0
