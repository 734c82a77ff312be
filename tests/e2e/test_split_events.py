"""Events, multi-ticket orders and the waiting room with each module in its own process:
the event reaches orders over NATS as one message, a queue opens on time in the orders
process and lets buyers in, and what they reserve reaches tickets' count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.split import SplitCluster
from tests.support.waiting import eventually_blocking

PASSWORD = "split-secret"
SALE_OPENS_IN = timedelta(seconds=3)
WITHIN = 20.0


@pytest.fixture
def people() -> Iterator[list[httpx.Client]]:
    """A seller and two buyers, each with their own cookies."""
    clients = [httpx.Client(timeout=5.0) for _ in range(3)]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def sign_up(client: httpx.Client, cluster: SplitCluster, email: str) -> None:
    answer = client.post(f"{cluster.url('auth')}/api/users/signup",
                         json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text


def remaining(client: httpx.Client, cluster: SplitCluster, event_id: str) -> int:
    answer = client.get(f"{cluster.url('tickets')}/api/events/{event_id}")
    assert answer.status_code == 200, answer.text
    found: int = answer.json()["remaining"]
    return found


def when_known(attempt: Any, what: str) -> Any:
    """``attempt()`` until it answers other than 404 (orders hears of the event over NATS)."""
    found: list[httpx.Response] = []

    def answered() -> bool:
        response = attempt()
        if response.status_code == 404:
            return False
        found.append(response)
        return True

    eventually_blocking(answered, what, within=WITHIN)
    return found[0]


def test_an_event_sells_through_its_queue_across_the_processes(
    split_cluster: SplitCluster, people: list[httpx.Client],
) -> None:
    cluster = split_cluster
    seller, first, second = people
    for n, person in enumerate(people):
        sign_up(person, cluster, f"split-events-{n}@example.com")

    plain = seller.post(f"{cluster.url('tickets')}/api/events",
                        json={"title": "Split show", "price": 15, "quantity": 5,
                              "perBuyerLimit": 3})
    assert plain.status_code == 201, plain.text
    opens = datetime.now(UTC) + SALE_OPENS_IN
    queued = seller.post(f"{cluster.url('tickets')}/api/events",
                         json={"title": "Split rush", "price": 40, "quantity": 2,
                               "onSaleAt": opens.isoformat()})
    assert queued.status_code == 201, queued.text
    plain_id, queued_id = plain.json()["id"], queued.json()["id"]

    # No queue: three of five in one order, priced together.
    order = when_known(lambda: first.post(f"{cluster.url('orders')}/api/orders",
                                          json={"eventId": plain_id, "quantity": 3}),
                       "orders hears of the event")
    assert order.status_code == 201, order.text
    assert len(order.json()["tickets"]) == 3
    eventually_blocking(lambda: remaining(seller, cluster, plain_id) == 2,
                        "tickets counts what orders handed out", within=WITHIN)

    # The queue: both buyers arrive before the sale and wait.
    for buyer in (first, second):
        joined = when_known(lambda b=buyer: b.post(  # type: ignore[misc]
            f"{cluster.url('orders')}/api/queue/{queued_id}"), "orders opens the queue")
        assert joined.json()["state"] == "waiting", joined.text
    refused = second.post(f"{cluster.url('orders')}/api/orders",
                          json={"eventId": queued_id})
    assert refused.status_code == 400

    def places() -> list[dict[str, Any]]:
        return [b.get(f"{cluster.url('orders')}/api/queue/{queued_id}").json()
                for b in (first, second)]

    eventually_blocking(lambda: all(p["state"] == "admitted" for p in places()),
                        "the sale opens and both are let in", within=WITHIN)
    assert sorted(p["rank"] for p in places()) == [1, 2]
    tokens = [p["admissionToken"] for p in places()]
    # A token is bound to its buyer: the other one's is refused.
    swapped = first.post(f"{cluster.url('orders')}/api/orders",
                         json={"eventId": queued_id, "admission": tokens[1]})
    assert swapped.status_code == 400
    bought = first.post(f"{cluster.url('orders')}/api/orders",
                        json={"eventId": queued_id, "quantity": 2, "admission": tokens[0]})
    assert bought.status_code == 201, bought.text

    eventually_blocking(lambda: places()[1]["state"] == "sold_out",
                        "the sell-out ends the queue", within=WITHIN)
    eventually_blocking(lambda: remaining(seller, cluster, queued_id) == 0,
                        "tickets counts the event sold out", within=WITHIN)
    room = seller.get(f"{cluster.url('orders')}/api/queue/{queued_id}/room")
    assert room.status_code == 200, room.text
    assert room.json()["admitted"] == 2
