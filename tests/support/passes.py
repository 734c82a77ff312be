"""Tickets bought the real way (list, reserve, pay with the offline provider) and their
passes, which tickets issues when ``order:completed`` reaches it, so these wait for it."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.payments import pay
from tests.support.waiting import eventually


async def listed(seller: Client, title: str = "Concert") -> str:
    response = await seller.post("/api/tickets", json={"title": title, "price": 20})
    assert response.status_code == 201
    ticket_id: str = (await response.get_json())["id"]
    return ticket_id


async def reserved(buyer: Client, body: dict[str, Any]) -> str:
    async def reserve() -> str | None:
        answer = await buyer.post("/api/orders", json=body)
        if answer.status_code == 404:  # orders has not seen the ticket yet
            return None
        assert answer.status_code == 201, await answer.get_json()
        order_id: str = (await answer.get_json())["id"]
        return order_id

    return await eventually(reserve, what="the ticket to reach orders")


async def paid(buyer: Client, order_id: str) -> None:
    async def paid() -> bool:
        response = await pay(buyer, order_id)
        if response.status_code == 404:  # payments has not seen the order yet
            return False
        assert response.status_code == 201, await response.get_json()
        return True

    await eventually(paid, what="the order to reach payments")


async def pass_of(buyer: Client, ticket_id: str) -> dict[str, Any]:
    """The buyer's pass, once tickets has issued it."""
    async def issued() -> dict[str, Any] | None:
        response = await buyer.get(f"/api/tickets/{ticket_id}/pass")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, await response.get_json()
        body: dict[str, Any] = await response.get_json()
        return body

    return await eventually(issued, what="the pass to be issued")


async def bought(app: Quart, buyer: Client, seller: Client) -> tuple[str, str]:
    """A ticket listed by ``seller`` and paid by ``buyer``: its id and pass token."""
    ticket_id = await listed(seller)
    await paid(buyer, await reserved(buyer, {"ticketId": ticket_id}))
    return ticket_id, (await pass_of(buyer, ticket_id))["token"]
