"""Refundable tickets and refunds through the API."""

from __future__ import annotations

from typing import Any

from quart.typing import TestClientProtocol as Client

from tests.support.waiting import eventually


async def listed(seller: Client, refund_days: Any = 7) -> str:
    response = await seller.post("/api/tickets", json={"title": "Refundable", "price": 20,
                                                       "refundDays": refund_days})
    assert response.status_code == 201, await response.get_json()
    ticket_id: str = (await response.get_json())["id"]
    return ticket_id


async def order_of(client: Client, order_id: str) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get(f"/api/orders/{order_id}")).get_json()
    return body


async def refund(client: Client, order_id: str) -> tuple[int, Any]:
    response = await client.post(f"/api/orders/{order_id}/refund")
    return response.status_code, await response.get_json()


async def refund_ended(client: Client, order_id: str) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        order = await order_of(client, order_id)
        return order if order.get("refund", {}).get("status") in ("refunded", "refused") \
            else None

    return await eventually(ended, what="the refund to be decided")
