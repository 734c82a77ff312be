"""Resales through the API: listing one, and buying it once orders has freed it."""

from __future__ import annotations

from typing import Any

from quart.typing import TestClientProtocol as Client

from tests.support.passes import paid
from tests.support.waiting import eventually


async def resell(client: Client, ticket_id: str, price: Any) -> tuple[int, Any]:
    response = await client.post(f"/api/tickets/{ticket_id}/resale", json={"price": price})
    return response.status_code, await response.get_json()


async def check_in(client: Client, token: str) -> tuple[int, Any]:
    response = await client.post("/api/checkins", json={"token": token})
    return response.status_code, await response.get_json()


async def resold_to(buyer: Client, ticket_id: str) -> str:
    """Reserve the resale once orders has freed it (until then it is held), and pay."""
    order_id = await resale_reserved(buyer, ticket_id)
    await paid(buyer, order_id)
    return order_id


async def resale_reserved(buyer: Client, ticket_id: str) -> str:
    """Reserve the resale once orders has freed it (until then it is held)."""
    async def reserve() -> str | None:
        answer = await buyer.post("/api/orders", json={"ticketId": ticket_id})
        if answer.status_code == 400 and (await answer.get_json())["errors"][0][
                "message"] == "Ticket is already reserved":
            return None  # ticket:resale-listed has not reached orders yet
        assert answer.status_code == 201, await answer.get_json()
        order_id: str = (await answer.get_json())["id"]
        return order_id

    found: str = await eventually(reserve, what="the resale to reach orders")
    return found
