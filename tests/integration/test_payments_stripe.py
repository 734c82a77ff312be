"""TICKETING_PAYMENTS=stripe: the real ``stripe`` library against a local fake of Stripe.

What goes over the wire is asserted (cents, currency, idempotency header, payment
method), and so are the webhook paths: signature good, bad, stale and replayed; a
3-D Secure payment finished by its webhook; a late success refunded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.fake_stripe import FakeStripe, serve_fake_stripe, sign
from tests.support.payments import (
    errors,
    open_order,
    order_status,
    pay,
    signed_up,
)
from tests.support.waiting import eventually
from ticketing.bootstrap import build_gateway
from ticketing.modules.payments.gateway import PaymentGateway
from ticketing.modules.payments.models import (
    AttemptStatus,
    OrderReplica,
    OrderStatus,
    Payment,
    PaymentAttempt,
    WebhookEvent,
)
from ticketing.modules.payments.stripe_gateway import StripeGateway
from ticketing.settings import Settings

STRIPE_KEY = "sk_test_fake_0123456789"
WEBHOOK_SECRET = "whsec_test_secret"
CREATE = ("POST", "/v1/payment_intents")


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with serve_fake_stripe() as stripe:
        yield stripe


@pytest.fixture
def settings_overrides(fake_stripe: FakeStripe) -> dict[str, Any]:
    """The suite's settings, switched to Stripe at the fake's address."""
    return {"payments": "stripe", "stripe_key": STRIPE_KEY,
            "stripe_api_base": fake_stripe.url, "stripe_webhook_secret": WEBHOOK_SECRET}


@pytest.fixture
def gateway(settings: Settings) -> PaymentGateway:
    """The gateway those settings choose (Stripe), made here and passed to the app."""
    return build_gateway(settings)


async def webhook(app: Quart, payload: bytes, signature: str) -> tuple[int, object]:
    client = app.test_client()
    response = await client.post("/api/payments/webhook", data=payload,
                                 headers={"Stripe-Signature": signature,
                                          "Content-Type": "application/json"})
    return response.status_code, await response.get_json()



async def authenticated_in_3d_secure(app: Quart,
                                     fake_stripe: FakeStripe,
                                     ) -> tuple[Client, dict[str, Any], PaymentAttempt]:
    """A buyer whose payment asked for 3-D Secure (202) and who has now passed it at Stripe."""
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"], "pm_card_authenticationRequired")).status_code == 202
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    fake_stripe.complete_action(str(attempt.intent_id))
    return buyer, order, attempt

async def test_a_payment_method_is_charged_in_exact_cents_with_an_idempotency_key(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer, price=19.99)

    response = await pay(buyer, order["id"], "pm_card_visa")

    assert response.status_code == 201
    [call] = fake_stripe.calls(*CREATE)
    assert call.params["amount"] == "1999"
    assert call.params["currency"] == "usd"
    assert call.params["confirm"] == "true"
    assert call.params["payment_method"] == "pm_card_visa"
    assert call.params["metadata[order_id]"] == order["id"]
    assert call.headers["authorization"] == f"Bearer {STRIPE_KEY}"
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    assert call.headers["idempotency-key"] == attempt.idempotency_key
    payment = await Payment.get(id=(await response.get_json())["id"])
    assert payment.stripe_id == attempt.intent_id
    assert payment.stripe_id.startswith("pi_")
    await eventually(lambda: _status_is(buyer, order["id"], "complete"), what="completion")


async def _status_is(buyer: Client, order_id: str, status: str) -> bool:
    return await order_status(buyer, order_id) == status


async def test_a_legacy_token_is_wrapped_as_card_data(app: Quart, fake_stripe: FakeStripe) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer, price=0.5)

    assert (await pay(buyer, order["id"], "tok_visa")).status_code == 201

    [call] = fake_stripe.calls(*CREATE)
    assert call.params["amount"] == "50"
    assert call.params["payment_method_data[type]"] == "card"
    assert call.params["payment_method_data[card][token]"] == "tok_visa"
    assert "payment_method" not in call.params


async def test_a_decline_shows_stripes_message_and_the_retry_uses_a_new_key(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)

    declined = await pay(buyer, order["id"], "pm_card_chargeDeclined")
    assert declined.status_code == 400
    assert await declined.get_json() == errors("Your card was declined.")

    assert (await pay(buyer, order["id"], "pm_card_visa")).status_code == 201
    keys = [c.headers["idempotency-key"] for c in fake_stripe.calls(*CREATE)]
    assert len(keys) == 2
    assert len(set(keys)) == 2


async def test_an_unknown_payment_method_gets_stripes_message(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    response = await pay(buyer, order["id"], "pm_nope")
    assert response.status_code == 400
    assert await response.get_json() == errors("No such PaymentMethod: 'pm_nope'")


async def test_concurrent_requests_reach_stripe_once(app: Quart, fake_stripe: FakeStripe) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    fake_stripe.latency = 0.3

    answers = await asyncio.gather(*(pay(buyer, order["id"]) for _ in range(5)))

    assert sorted(a.status_code for a in answers).count(201) == 1
    assert {a.status_code for a in answers} <= {201, 400, 409}
    assert len(fake_stripe.calls(*CREATE)) == 1


async def test_a_signed_succeeded_event_completes_a_3d_secure_payment_once(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"], "pm_card_authenticationRequired")).status_code == 202
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    intent_id = str(attempt.intent_id)
    fake_stripe.complete_action(intent_id)  # held now: Stripe says amount_capturable_updated
    payload, signature = fake_stripe.signed_event("payment_intent.amount_capturable_updated",
                                                  intent_id, WEBHOOK_SECRET)

    assert await webhook(app, payload, signature) == (200, {"received": True,
                                                           "duplicate": False})

    payment = await eventually(lambda: Payment.get_or_none(order_id=order["id"]),
                               what="the capture")
    assert payment.stripe_id == intent_id
    [capture] = fake_stripe.calls("POST", f"/v1/payment_intents/{intent_id}/capture")
    assert capture.headers["idempotency-key"] == f"ticketing-capture-{attempt.id}"
    await eventually(lambda: _status_is(buyer, order["id"], "complete"), what="completion")
    # Stripe delivers at least once: the same event again changes nothing.
    assert await webhook(app, payload, sign(payload, WEBHOOK_SECRET)) == (
        200, {"received": True, "duplicate": True})
    assert await Payment.filter(order_id=order["id"]).count() == 1
    # The browser, back from 3-D Secure, asks again: the order is paid already.
    again = await pay(buyer, order["id"], "pm_card_authenticationRequired")
    assert await again.get_json() == errors("Order is already paid")
    assert len(fake_stripe.calls(*CREATE)) == 1


async def test_the_browser_back_from_3d_secure_gets_201_without_a_webhook(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer, order, _attempt = await authenticated_in_3d_secure(app, fake_stripe)

    response = await pay(buyer, order["id"], "pm_card_authenticationRequired")

    assert response.status_code == 201
    assert len(fake_stripe.calls(*CREATE)) == 1


async def test_two_tabs_back_from_3d_secure_report_the_payment_once(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer, order, _attempt = await authenticated_in_3d_secure(app, fake_stripe)
    fake_stripe.latency = 0.2

    answers = await asyncio.gather(
        *(pay(buyer, order["id"], "pm_card_authenticationRequired") for _ in range(2)))

    assert sorted(a.status_code for a in answers) == [201, 400]
    assert await Payment.filter(order_id=order["id"]).count() == 1


async def test_choosing_another_card_cancels_the_unconfirmed_intent(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"], "pm_card_authenticationRequired")).status_code == 202

    response = await pay(buyer, order["id"], "pm_card_visa")

    assert response.status_code == 201
    first, second = await PaymentAttempt.filter(order_id=order["id"]).order_by("created_at")
    assert fake_stripe.intents[str(first.intent_id)]["status"] == "canceled"
    assert first.status == AttemptStatus.FAILED
    assert second.status == AttemptStatus.SUCCEEDED


async def test_a_failed_3d_secure_frees_the_order_for_another_try(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"], "pm_card_authenticationRequired")).status_code == 202
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    fake_stripe.complete_action(str(attempt.intent_id), succeed=False)
    payload, signature = fake_stripe.signed_event("payment_intent.payment_failed",
                                                  str(attempt.intent_id), WEBHOOK_SECRET)

    assert (await webhook(app, payload, signature))[0] == 200

    await attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.FAILED
    assert attempt.failure_message == "We are unable to authenticate your payment method."
    assert (await pay(buyer, order["id"], "pm_card_visa")).status_code == 201


@pytest.mark.parametrize("tamper", ["bad-secret", "altered-body", "no-header", "stale"])
async def test_a_webhook_without_a_good_fresh_signature_is_refused(
    app: Quart, fake_stripe: FakeStripe, tamper: str,
) -> None:
    _buyer, order, attempt = await authenticated_in_3d_secure(app, fake_stripe)
    payload, signature = fake_stripe.signed_event("payment_intent.succeeded",
                                                  str(attempt.intent_id), WEBHOOK_SECRET)
    if tamper == "bad-secret":
        signature = sign(payload, "whsec_someone_else")
    elif tamper == "altered-body":
        payload = payload.replace(b'"livemode": false', b'"livemode": true')
    elif tamper == "no-header":
        signature = ""
    else:  # a captured request replayed after Stripe's five-minute tolerance
        signature = sign(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 600)

    status, body = await webhook(app, payload, signature)

    assert status == 400
    assert body == errors("Invalid webhook signature")
    assert not await Payment.exists(order_id=order["id"])
    assert not await WebhookEvent.exists()


async def test_3d_secure_finished_after_the_order_was_cancelled_releases_the_hold(
    app: Quart, fake_stripe: FakeStripe,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"], "pm_card_authenticationRequired")).status_code == 202
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    intent_id = str(attempt.intent_id)
    assert (await buyer.delete(f"/api/orders/{order['id']}")).status_code == 204
    await eventually(lambda: OrderReplica.exists(id=order["id"],
                                                 status=OrderStatus.CANCELLED),
                     what="the cancellation to reach payments")
    fake_stripe.complete_action(intent_id)  # the customer finished 3-D Secure too late
    payload, signature = fake_stripe.signed_event("payment_intent.amount_capturable_updated",
                                                  intent_id, WEBHOOK_SECRET)

    assert (await webhook(app, payload, signature))[0] == 200

    await eventually(lambda: PaymentAttempt.exists(id=attempt.id, status=AttemptStatus.VOIDED),
                     what="the hold released")
    await attempt.refresh_from_db()
    assert attempt.refusal_code == "order_cancelled"
    assert len(fake_stripe.calls("POST", f"/v1/payment_intents/{intent_id}/cancel")) == 1
    assert fake_stripe.calls("POST", "/v1/refunds") == []
    assert fake_stripe.calls("POST", f"/v1/payment_intents/{intent_id}/capture") == []
    assert fake_stripe.intents[intent_id]["status"] == "canceled"
    assert not await Payment.exists(order_id=order["id"])
    assert await order_status(buyer, order["id"]) == "cancelled"


async def test_the_stripe_client_is_closed_when_the_app_stops(
    settings: Settings, gateway: PaymentGateway,
) -> None:
    from ticketing.app import create_app

    app = create_app(settings, gateway=gateway)
    async with app.test_app():
        assert isinstance(gateway, StripeGateway)
    assert gateway._http._client_async.is_closed
