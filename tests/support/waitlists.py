"""The waitlist through the API: joining it, and where one stands."""

from __future__ import annotations

from typing import Any

from quart.typing import TestClientProtocol as Client

from tests.support.waiting import eventually


async def join(client: Client, scope_id: str) -> tuple[int, Any]:
    response = await client.post(f"/api/waitlist/{scope_id}")
    return response.status_code, await response.get_json()


async def place(client: Client, scope_id: str) -> tuple[int, Any]:
    response = await client.get(f"/api/waitlist/{scope_id}")
    return response.status_code, await response.get_json()


async def offered(client: Client, scope_id: str) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        status, body = await place(client, scope_id)
        assert status == 200, body
        return body if body["offer"] else None

    return await eventually(found, what="the waitlist offer")
