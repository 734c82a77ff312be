"""The reservation saga end to end, with every module running, in both transports.

Events are asynchronous: after each step the test polls the public API (briefly) for
the state the saga must reach, never the tables behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from quart.typing import TestClientProtocol

from tests.support.trading import (
    TRANSPORTS,
    error,
    list_ticket,
    person,
    reserve_when_known,
    with_transport,
)
from tests.support.waiting import eventually
from ticketing.settings import Settings

POLL_SECONDS = 5.0


@pytest.fixture(params=TRANSPORTS)
def make_settings(request: pytest.FixtureRequest,
                  make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return with_transport(request, make_settings)


async def listed_ids(client: TestClientProtocol) -> list[str]:
    return [t["id"] for t in await (await client.get("/api/tickets")).get_json()]


async def shown(client: TestClientProtocol, ticket_id: str) -> dict[str, Any]:
    ticket: dict[str, Any] = await (await client.get(f"/api/tickets/{ticket_id}")).get_json()
    return ticket


async def test_list_reserve_hidden_cancel_listed_again(
    client: TestClientProtocol, settings: Settings,
) -> None:
    seller, buyer, latecomer = (person(settings, n) for n in ("seller", "buyer", "latecomer"))
    other = await list_ticket(client, seller, "Opera", 40)
    ticket = await list_ticket(client, seller, "Concert", 25)
    assert await listed_ids(client) == [ticket["id"], other["id"]]

    order = await reserve_when_known(client, buyer, ticket["id"])

    async def hidden() -> bool:
        return await listed_ids(client) == [other["id"]]

    await eventually(hidden, "the reserved ticket leaving the listing", within=POLL_SECONDS)
    held = await shown(client, ticket["id"])
    assert (held["orderId"], held["version"]) == (order["id"], 1)
    edit = await client.put(f"/api/tickets/{ticket['id']}", json={"title": "X", "price": 1},
                            headers=seller.headers)
    assert (edit.status_code, await edit.get_json()) == (
        400, error("Cannot edit a reserved ticket"))
    taken = await client.post("/api/orders", json={"ticketId": ticket["id"]},
                              headers=latecomer.headers)
    assert (taken.status_code, await taken.get_json()) == (400, error("Ticket is already reserved"))

    cancelled = await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)
    assert cancelled.status_code == 204

    async def listed_again() -> bool:
        return await listed_ids(client) == [ticket["id"], other["id"]]

    await eventually(listed_again, "the freed ticket back in the listing", within=POLL_SECONDS)
    freed = await shown(client, ticket["id"])
    assert "orderId" not in freed
    assert freed["version"] == 2
    mine = await (await client.get("/api/orders", headers=buyer.headers)).get_json()
    assert [(o["id"], o["status"]) for o in mine] == [(order["id"], "cancelled")]

    second = await client.post("/api/orders", json={"ticketId": ticket["id"]},
                               headers=latecomer.headers)
    assert second.status_code == 201


async def test_a_paid_ticket_never_returns_to_the_listing(
    client: TestClientProtocol, settings: Settings,
) -> None:
    seller, buyer = person(settings, "seller"), person(settings, "buyer")
    ticket = await list_ticket(client, seller, "Concert", 25)
    order = await reserve_when_known(client, buyer, ticket["id"])

    async def paid() -> bool:
        response = await client.post("/api/payments",
                                     json={"orderId": order["id"], "token": "tok_visa"},
                                     headers=buyer.headers)
        if response.status_code == 404:  # payments has not heard of the order yet
            return False
        assert response.status_code == 201, await response.get_json()
        return True

    await eventually(paid, "payments knowing the order", within=POLL_SECONDS)

    async def sold() -> bool:
        shown_order = await (await client.get(f"/api/orders/{order['id']}",
                                              headers=buyer.headers)).get_json()
        return shown_order["status"] == "complete" and \
            (await shown(client, ticket["id"]))["version"] == 2

    await eventually(sold, "the order complete and the ticket sold", within=POLL_SECONDS)
    cancel = await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)
    assert (cancel.status_code, await cancel.get_json()) == (
        400, error("Cannot cancel a completed order"))
    assert await listed_ids(client) == []
    assert (await shown(client, ticket["id"]))["orderId"] == order["id"]
