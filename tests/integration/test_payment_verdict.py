"""Orders decides on every authorised payment: the first of a payment, a cancel or an
expiry to reach orders wins, and payments captures only what orders accepted.

Every module runs, on both transports; ``payment:authorized`` is also handed to orders
directly, to place it exactly before or after the order's deadline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.trading import (
    TRANSPORTS,
    deliver,
    list_ticket,
    person,
    reserve,
    settled,
    with_transport,
)
from tests.support.waiting import eventually
from ticketing.bus.contracts import PaymentAuthorized
from ticketing.ids import new_id
from ticketing.modules.orders.models import Outbox as OrdersOutbox
from ticketing.modules.payments.gateway import FakeGateway
from ticketing.settings import Settings


@pytest.fixture(params=TRANSPORTS)
def make_settings(request: pytest.FixtureRequest,
                  make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return with_transport(request, make_settings)


async def open_order(app: Quart, client: TestClientProtocol) -> tuple[Any, dict[str, Any]]:
    settings: Settings = app.extensions["ticketing"].settings
    seller, buyer = person(settings, "seller"), person(settings, "buyer")
    ticket = await list_ticket(client, seller)
    await settled(app)
    order = await reserve(client, buyer, ticket["id"])
    await settled(app)
    return buyer, order


async def published_by_orders(event_type: str) -> list[dict[str, Any]]:
    rows = await OrdersOutbox.filter(event_type=event_type).order_by("id")
    return [json.loads(row.body)["data"] for row in rows]


async def test_an_accepted_payment_completes_the_order_naming_it_then_is_captured(
    app: Quart, client: TestClientProtocol, gateway: FakeGateway,
) -> None:
    buyer, order = await open_order(app, client)

    paid = await client.post("/api/payments", json={"orderId": order["id"], "token": "tok_visa"},
                             headers=buyer.headers)

    assert paid.status_code == 201, await paid.get_json()
    payment_id = (await paid.get_json())["id"]
    [completed] = await published_by_orders("order:completed")
    assert completed["paymentId"] == payment_id
    [hold] = gateway.holds
    assert gateway.charges == [hold]
    assert gateway.releases == []


@pytest.mark.parametrize(("held_after_deadline", "verdict"), [
    (timedelta(milliseconds=-1), "order:completed"),
    (timedelta(0), "order:payment-refused"),
])
async def test_a_payment_counts_if_it_was_held_inside_the_window(
    app: Quart, client: TestClientProtocol, held_after_deadline: timedelta, verdict: str,
) -> None:
    _, order = await open_order(app, client)
    deadline = datetime.fromisoformat(order["expiresAt"])
    payment_id = new_id()

    await deliver(app, "orders", PaymentAuthorized(
        id=payment_id, order_id=order["id"], authorized_at=deadline + held_after_deadline),
        source="payments")

    [decided] = await published_by_orders(verdict)
    assert decided.get("paymentId") == payment_id
    if verdict == "order:payment-refused":
        assert decided["reason"] == "order_expired"


async def test_a_payment_reaching_orders_after_the_cancel_is_refused_and_released(
    app: Quart, client: TestClientProtocol,
) -> None:
    buyer, order = await open_order(app, client)
    assert (await client.delete(f"/api/orders/{order['id']}",
                                headers=buyer.headers)).status_code == 204
    late = new_id()

    await deliver(app, "orders", PaymentAuthorized(
        id=late, order_id=order["id"],
        authorized_at=datetime.fromisoformat(order["expiresAt"]) - timedelta(minutes=1)),
        source="payments")

    [refused] = await published_by_orders("order:payment-refused")
    assert refused == {"id": order["id"], "paymentId": late, "reason": "order_cancelled"}
    assert await published_by_orders("order:completed") == []

    async def still_cancelled() -> bool:
        response = await client.get(f"/api/orders/{order['id']}", headers=buyer.headers)
        return bool((await response.get_json())["status"] == "cancelled")

    assert await eventually(still_cancelled, what="the order stays cancelled")
