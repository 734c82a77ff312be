"""A refund granted while payments is still capturing: orders completes an order on the
authorisation, so tickets may take the tickets back and orders cancel the order before
the provider has answered the capture. The money that lands then must go back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from quart import Quart

from tests.support.passes import pass_of, reserved
from tests.support.payments import pay, signed_up
from tests.support.waiting import eventually
from ticketing.modules.payments.gateway import FakeGateway, Intent, PaymentGateway
from ticketing.modules.payments.models import AttemptStatus, PaymentAttempt


class HeldCapture(FakeGateway):
    """The offline provider, but a capture waits until the test lets it through."""

    def __init__(self) -> None:
        super().__init__()
        self.let_through = asyncio.Event()

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        await self.let_through.wait()
        return await super().capture(intent_id, idempotency_key)


@pytest.fixture
def gateway() -> PaymentGateway:
    return HeldCapture()


async def test_money_captured_after_the_refund_was_granted_goes_back(
    app: Quart, gateway: HeldCapture,
) -> None:
    """Orders completes the order on the authorisation, so its refund can be granted
    while payments is still capturing: the capture that lands then is refunded."""
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    response = await seller.post("/api/tickets", json={"title": "Refundable", "price": 20,
                                                       "refundDays": 7})
    ticket_id = (await response.get_json())["id"]
    order_id = await reserved(buyer, {"ticketId": ticket_id})

    async def paying() -> bool:
        answer = await pay(buyer, order_id)
        return bool(answer.status_code in (201, 202))  # 404: payments has not the order

    await eventually(paying, what="the payment to be taken")
    await pass_of(buyer, ticket_id)  # complete in orders and tickets, money not taken yet
    assert (await buyer.post(f"/api/orders/{order_id}/refund")).status_code == 202

    async def refunded() -> bool:
        order: dict[str, Any] = await (await buyer.get(f"/api/orders/{order_id}")).get_json()
        return bool(order.get("refund", {}).get("status") == "refunded")

    await eventually(refunded, what="the refund to be granted")
    gateway.let_through.set()

    async def refunded_by_the_provider() -> bool:
        attempts = await PaymentAttempt.filter(order_id=order_id)
        return any(a.status == AttemptStatus.REFUNDED for a in attempts)

    await eventually(refunded_by_the_provider, what="the late capture to be refunded")
