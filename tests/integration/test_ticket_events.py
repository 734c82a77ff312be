"""Ticket and order events arriving late, early or twice never corrupt either side.

Over JetStream an event can come back after a failure (a nak with a delay) behind
events that were published after it, and any event can arrive twice. The tests hand
events straight to a module's consumer, in the order a transport could produce, and
look at the result; one test lets JetStream itself reorder them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.trading import (
    Person,
    bus_of,
    deliver,
    deliver_envelope,
    list_ticket,
    person,
    settled,
    trading,
)
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.bus.consumer import RetryLater
from ticketing.bus.contracts import (
    Envelope,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    TicketCreated,
    TicketRef,
    TicketUpdated,
)
from ticketing.ids import new_id
from ticketing.modules.orders.models import TicketReplica
from ticketing.settings import Settings

SELLER = "01m886b2m9kpb1nc5gh7y7yews"


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return trading(make_settings)


def created(ticket_id: str) -> TicketCreated:
    return TicketCreated(id=ticket_id, version=0, title="v0", price=Decimal("10.00"),
                         user_id=SELLER)


def updated(ticket_id: str, version: int, **changes: Any) -> TicketUpdated:
    fields: dict[str, Any] = {"title": f"v{version}", "price": Decimal(10 + version),
                              "user_id": SELLER} | changes
    return TicketUpdated(id=ticket_id, version=version, **fields)


async def replica(ticket_id: str) -> tuple[int, str, Decimal] | None:
    """What orders knows of the ticket: (version, title, price)."""
    found = await TicketReplica.get_or_none(id=ticket_id)
    return None if found is None else (found.version, found.title, found.price)


# --- the orders side: a replica of tickets, applied in version order ---------------------

async def test_an_update_whose_predecessor_is_missing_waits_and_applies_after_it(
    app: Quart,
) -> None:
    ticket_id = new_id()
    await deliver(app, "orders", created(ticket_id), "tickets")
    v2 = Envelope.wrap(updated(ticket_id, 2), "tickets")

    with pytest.raises(RetryLater):
        await deliver_envelope(app, "orders", v2)
    assert await replica(ticket_id) == (0, "v0", Decimal("10.00"))

    assert await deliver(app, "orders", updated(ticket_id, 1), "tickets")
    assert await replica(ticket_id) == (1, "v1", Decimal("11.00"))
    assert await deliver_envelope(app, "orders", v2)  # the redelivery
    assert await replica(ticket_id) == (2, "v2", Decimal("12.00"))


async def test_an_update_of_a_ticket_not_yet_known_waits_for_its_creation(app: Quart) -> None:
    ticket_id = new_id()
    v1 = Envelope.wrap(updated(ticket_id, 1), "tickets")

    with pytest.raises(RetryLater):
        await deliver_envelope(app, "orders", v1)
    assert await replica(ticket_id) is None

    await deliver(app, "orders", created(ticket_id), "tickets")
    assert await deliver_envelope(app, "orders", v1)
    assert await replica(ticket_id) == (1, "v1", Decimal("11.00"))


async def test_a_duplicate_or_older_update_is_ignored(app: Quart) -> None:
    ticket_id = new_id()
    await deliver(app, "orders", created(ticket_id), "tickets")
    v1 = Envelope.wrap(updated(ticket_id, 1), "tickets")
    await deliver_envelope(app, "orders", v1)
    await deliver(app, "orders", updated(ticket_id, 2), "tickets")

    same_event_again = await deliver_envelope(app, "orders", v1)
    older_version = await deliver(app, "orders", updated(ticket_id, 1, title="stale"), "tickets")
    same_version = await deliver(app, "orders", updated(ticket_id, 2, title="stale"), "tickets")
    created_again = await deliver(app, "orders", created(ticket_id), "tickets")

    assert same_event_again is False  # the processed-event row absorbed it
    assert [older_version, same_version, created_again] == [True] * 3  # no effect, though
    assert await replica(ticket_id) == (2, "v2", Decimal("12.00"))


async def test_jetstream_redelivers_an_early_update_until_it_applies(
    make_settings: Callable[..., Settings], settings: Settings, nats_server: Any,
) -> None:
    """Published v2 first, v1 second: the nak'ed v2 comes back and lands after v1."""
    app = create_app(make_settings(bus="nats", nats_url=nats_server.url))
    ticket_id = new_id()
    async with app.test_app():
        outbox = bus_of(app).modules["tickets"].outbox
        for event in (created(ticket_id), updated(ticket_id, 2), updated(ticket_id, 1)):
            async with outbox.transaction() as unit:
                await unit.publish(event)

        async def at_v2() -> bool:
            return await replica(ticket_id) == (2, "v2", Decimal("12.00"))

        await eventually(at_v2, what="the replica at v2")


# --- the tickets side: holds placed and released by order events -------------------------

@pytest.fixture
def seller(settings: Settings) -> Person:
    return person(settings, "seller")


@pytest.fixture
async def ticket(app: Quart, client: TestClientProtocol, seller: Person) -> dict[str, Any]:
    listed = await list_ticket(client, seller, "Concert", 25)
    await settled(app)
    return listed


def order_created(order_id: str, ticket_id: str) -> OrderCreated:
    ticket = TicketRef(id=ticket_id, price=Decimal("25.00"))
    return OrderCreated(id=order_id, version=0, status="created", user_id=new_id(),
                        expires_at=datetime.now(UTC) + timedelta(minutes=15),
                        ticket=ticket, tickets=(ticket,))


def order_cancelled(order_id: str, ticket_id: str) -> OrderCancelled:
    ticket = TicketRef(id=ticket_id)
    return OrderCancelled(id=order_id, version=1, ticket=ticket, tickets=(ticket,))


async def holder(client: TestClientProtocol, ticket_id: str) -> tuple[str | None, bool]:
    """(the order holding the ticket, whether the ticket is in the listing)."""
    shown = await (await client.get(f"/api/tickets/{ticket_id}")).get_json()
    listed = await (await client.get("/api/tickets")).get_json()
    return shown.get("orderId"), ticket_id in {t["id"] for t in listed}


async def test_a_hold_hides_the_ticket_and_its_cancellation_frees_it(
    app: Quart, client: TestClientProtocol, ticket: dict[str, Any],
) -> None:
    order = new_id()

    await deliver(app, "tickets", order_created(order, ticket["id"]), "orders")
    assert await holder(client, ticket["id"]) == (order, False)

    await deliver(app, "tickets", order_cancelled(order, ticket["id"]), "orders")
    assert await holder(client, ticket["id"]) == (None, True)
    shown = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()
    assert shown["version"] == 2


async def test_a_late_cancellation_does_not_free_a_newer_hold(
    app: Quart, client: TestClientProtocol, ticket: dict[str, Any],
) -> None:
    first, second = new_id(), new_id()
    await deliver(app, "tickets", order_created(first, ticket["id"]), "orders")
    # the first order was cancelled and a second one placed; its cancellation is late
    await deliver(app, "tickets", order_created(second, ticket["id"]), "orders")

    await deliver(app, "tickets", order_cancelled(first, ticket["id"]), "orders")

    assert await holder(client, ticket["id"]) == (second, False)


async def test_a_late_creation_of_an_older_order_does_not_take_a_newer_hold(
    app: Quart, client: TestClientProtocol, ticket: dict[str, Any],
) -> None:
    """Both events of a cancelled order arrive after its successor's hold."""
    first, second = new_id(), new_id()
    await deliver(app, "tickets", order_created(second, ticket["id"]), "orders")

    await deliver(app, "tickets", order_created(first, ticket["id"]), "orders")
    await deliver(app, "tickets", order_cancelled(first, ticket["id"]), "orders")

    assert await holder(client, ticket["id"]) == (second, False)


async def test_an_order_created_after_its_own_cancellation_does_not_hold_the_ticket(
    app: Quart, client: TestClientProtocol, ticket: dict[str, Any],
) -> None:
    order = new_id()

    await deliver(app, "tickets", order_cancelled(order, ticket["id"]), "orders")
    await deliver(app, "tickets", order_created(order, ticket["id"]), "orders")

    assert await holder(client, ticket["id"]) == (None, True)
    shown = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()
    assert shown["version"] == 0  # nothing ever changed


async def test_a_duplicate_order_event_changes_the_ticket_once(
    app: Quart, client: TestClientProtocol, ticket: dict[str, Any],
) -> None:
    order = new_id()
    event = Envelope.wrap(order_created(order, ticket["id"]), "orders")

    assert await deliver_envelope(app, "tickets", event)
    assert not await deliver_envelope(app, "tickets", event)
    await deliver(app, "tickets", order_created(order, ticket["id"]), "orders")  # a re-send

    shown = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()
    assert (shown["orderId"], shown["version"]) == (order, 1)


async def test_a_sold_ticket_stays_sold_whatever_arrives_late(
    app: Quart, client: TestClientProtocol, ticket: dict[str, Any],
) -> None:
    paid, stale = new_id(), new_id()
    await deliver(app, "tickets", order_created(paid, ticket["id"]), "orders")
    sold = TicketRef(id=ticket["id"])
    await deliver(app, "tickets", OrderCompleted(id=paid, version=1, ticket=sold,
                                                 tickets=(sold,)), "orders")

    await deliver(app, "tickets", order_created(stale, ticket["id"]), "orders")
    await deliver(app, "tickets", order_cancelled(stale, ticket["id"]), "orders")
    await deliver(app, "tickets", order_cancelled(paid, ticket["id"]), "orders")

    assert await holder(client, ticket["id"]) == (paid, False)
