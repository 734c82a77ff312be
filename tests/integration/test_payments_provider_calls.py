"""No provider call is made while payments holds a row lock.

The locked transactions (a consumer's, a settling request's or webhook's) only decide and
record the decision; the provider is called outside them, by the request or by the
settler once the decision has committed. The suite's gateway (tests/support/payments.py)
notes every call made while a payments transaction is open in the calling task.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart
from tortoise.transactions import in_transaction

from tests.support.fake_stripe import sign
from tests.support.payments import LockAwareGateway, deliver, open_order, pay, signed_up
from tests.support.waiting import eventually
from ticketing.bus.contracts import OrderCancelled, TicketRef
from ticketing.ids import new_id
from ticketing.modules.payments import attempts
from ticketing.modules.payments.gateway import ChargeRequest
from ticketing.modules.payments.models import (
    AttemptStatus,
    OrderReplica,
    OrderStatus,
    PaymentAttempt,
)

WEBHOOK_SECRET = "whsec_provider_calls"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"stripe_webhook_secret": WEBHOOK_SECRET}


async def ended(attempt_id: str, status: AttemptStatus) -> None:
    await eventually(lambda: PaymentAttempt.exists(id=attempt_id, status=status),
                     what=f"the attempt {status}")


async def test_the_check_sees_a_call_made_inside_a_payments_transaction(
    app: Quart, gateway: LockAwareGateway,
) -> None:
    intent = await gateway.authorize(ChargeRequest(1999, "usd", "tok_visa", "key-1"))

    async with in_transaction("payments"):
        await gateway.retrieve(intent.id)

    assert gateway.calls_under_lock == ["retrieve"]


@pytest.mark.parametrize(("token", "status"), [("tok_visa", 201),
                                               ("tok_chargeDeclined", 400)])
async def test_paying_calls_the_provider_outside_every_transaction(
    app: Quart, gateway: LockAwareGateway, token: str, status: int,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)

    assert (await pay(buyer, order["id"], token)).status_code == status

    assert gateway.calls > 0
    assert len(gateway.charges) == (status == 201)
    assert gateway.calls_under_lock == []


async def test_an_order_cancelled_after_payment_is_refunded_after_the_commit(
    app: Quart, gateway: LockAwareGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"])).status_code == 201
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])

    ticket = TicketRef(id=order["ticket"]["id"])
    await deliver(app, OrderCancelled(id=order["id"], version=5, ticket=ticket,
                                      tickets=(ticket,)))

    await ended(attempt.id, AttemptStatus.REFUNDED)
    assert len(gateway.refunds) == 1
    assert gateway.calls_under_lock == []


async def test_a_payment_orders_refuses_is_released_after_the_commit(
    app: Quart, gateway: LockAwareGateway, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cancel is still in orders' outbox when the card is held: orders refuses the
    hold (or payments hears the cancel first), and the hold is released."""
    monkeypatch.setattr(attempts, "DECISION_WAIT_SECONDS", 0.3)
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    bus = app.extensions["ticketing"].bus
    [orders_relay] = [r for r in bus.relays if r.outbox.module == "orders"]
    await orders_relay.stop()
    assert (await buyer.delete(f"/api/orders/{order['id']}")).status_code == 204

    assert (await pay(buyer, order["id"])).status_code == 202
    orders_relay.start(bus.supervisor)

    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    await ended(attempt.id, AttemptStatus.VOIDED)
    assert gateway.releases == [h.intent_id for h in gateway.holds]
    assert gateway.calls_under_lock == []


async def test_money_a_webhook_reports_for_a_cancelled_order_is_refunded_after_the_commit(
    app: Quart, gateway: LockAwareGateway,
) -> None:
    """The request lost the provider's answer, the provider captured the money by
    itself, and the order was cancelled meanwhile: the webhook's settling only decides."""
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    gateway.lose_next_answer = True
    assert (await pay(buyer, order["id"])).status_code == 503
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    [hold] = gateway.holds
    await gateway.capture(hold.intent_id, "captured-by-the-provider")
    assert (await buyer.delete(f"/api/orders/{order['id']}")).status_code == 204
    await eventually(lambda: OrderReplica.exists(id=order["id"],
                                                 status=OrderStatus.CANCELLED),
                     what="the cancellation to reach payments")
    payload = json.dumps({"id": f"evt_{new_id()}", "type": "payment_intent.succeeded",
                          "data": {"object": {"id": hold.intent_id,
                                              "metadata": dict(hold.metadata)}}}).encode()

    response = await app.test_client().post(
        "/api/payments/webhook", data=payload,
        headers={"Stripe-Signature": sign(payload, WEBHOOK_SECRET),
                 "Content-Type": "application/json"})

    assert response.status_code == 200
    await ended(attempt.id, AttemptStatus.REFUNDED)
    [refund] = gateway.refunds
    assert refund.intent_id == hold.intent_id
    assert gateway.calls_under_lock == []
