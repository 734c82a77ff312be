"""The gateway's pieces that need no database: cents, the offline provider, webhooks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ticketing.bus.outbox import Outbox
from ticketing.modules.payments import models
from ticketing.modules.payments.api import InvalidWebhook, PaymentResult, PaymentsApi
from ticketing.modules.payments.gateway import (
    ChargeRequest,
    FakeGateway,
    IntentStatus,
    PaymentDeclined,
    PaymentRefused,
    ProviderUnavailable,
    cents,
)


@pytest.mark.parametrize(("amount", "expected"), [
    ("19.99", 1999), ("0.5", 50), ("0.10", 10), ("1000000", 100000000), ("4.35", 435),
])
def test_cents_are_exact(amount: str, expected: int) -> None:
    assert cents(Decimal(amount)) == expected


@pytest.mark.parametrize("amount", ["1.005", "-1", "NaN", "Infinity"])
def test_amounts_that_are_not_whole_cents_are_refused(amount: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the amount
        cents(Decimal(amount))


def request(method: str, key: str = "key-1", amount: int = 1999) -> ChargeRequest:
    return ChargeRequest(amount_cents=amount, currency="usd", payment_method=method,
                         idempotency_key=key, metadata={"order_id": "o1"})


@pytest.mark.parametrize("method", ["tok_visa", "pm_card_visa"])
async def test_the_offline_provider_holds_the_test_cards_and_charges_only_at_capture(
    method: str,
) -> None:
    gateway = FakeGateway()
    intent = await gateway.authorize(request(method))
    assert intent.status == IntentStatus.AUTHORIZED
    [hold] = gateway.holds
    assert (hold.amount_cents, hold.currency, hold.payment_method) == (1999, "usd", method)
    assert hold.metadata == {"order_id": "o1"}
    assert gateway.charges == []

    captured = await gateway.capture(intent.id, "capture-1")
    assert captured.status == IntentStatus.SUCCEEDED
    assert await gateway.capture(intent.id, "capture-1") == captured
    assert gateway.charges == [hold]
    assert await gateway.retrieve(intent.id) == captured


async def test_a_released_hold_charges_nothing_and_cannot_be_captured_after() -> None:
    gateway = FakeGateway()
    intent = await gateway.authorize(request("tok_visa"))

    released = await gateway.cancel(intent.id)
    late = await gateway.capture(intent.id, "capture-1")

    assert released.status == late.status == IntentStatus.FAILED
    assert gateway.releases == [intent.id]
    assert gateway.charges == []


async def test_a_captured_intent_is_not_released_by_a_late_cancel() -> None:
    gateway = FakeGateway()
    intent = await gateway.authorize(request("tok_visa"))
    await gateway.capture(intent.id, "capture-1")

    assert (await gateway.cancel(intent.id)).status == IntentStatus.SUCCEEDED
    assert gateway.releases == []


@pytest.mark.parametrize("method", ["tok_chargeDeclined", "pm_card_chargeDeclined"])
async def test_the_offline_provider_declines_like_stripe(method: str) -> None:
    gateway = FakeGateway()
    with pytest.raises(PaymentDeclined, match=r"^Your card was declined\.$"):
        await gateway.authorize(request(method))
    assert gateway.holds == gateway.charges == []


@pytest.mark.parametrize(("method", "message"), [
    ("pm_unknown", "No such PaymentMethod: 'pm_unknown'"),
    ("tok_unknown", "No such token: 'tok_unknown'"),
    ("4242424242424242", "No such PaymentMethod: '4242424242424242'"),
])
async def test_anything_else_is_an_invalid_payment_method(method: str, message: str) -> None:
    with pytest.raises(PaymentRefused) as refused:
        await FakeGateway().authorize(request(method))
    assert refused.value.message == message
    assert not isinstance(refused.value, PaymentDeclined)


async def test_a_repeated_idempotency_key_replays_instead_of_holding_again() -> None:
    gateway = FakeGateway()
    first = await gateway.authorize(request("tok_visa", key="same"))
    again = await gateway.authorize(request("tok_visa", key="same"))
    assert again == first
    assert len(gateway.holds) == 1
    other = await gateway.authorize(request("tok_visa", key="other"))
    assert other.id != first.id
    assert len(gateway.holds) == 2


async def test_intent_ids_are_unique_across_restarts_of_the_offline_provider() -> None:
    ids = {(await FakeGateway().authorize(request("tok_visa"))).id for _ in range(50)}

    assert len(ids) == 50


async def test_a_refund_is_recorded_once_per_key() -> None:
    gateway = FakeGateway()
    intent = await gateway.authorize(request("pm_card_visa"))
    await gateway.capture(intent.id, "capture-1")
    first = await gateway.refund(intent.id, "refund-1")
    assert await gateway.refund(intent.id, "refund-1") == first
    [refund] = gateway.refunds
    assert (refund.intent_id, refund.amount_cents) == (intent.id, 1999)


async def test_an_unknown_intent_cannot_be_read() -> None:
    with pytest.raises(ProviderUnavailable):
        await FakeGateway().retrieve("pi_missing")


def payments(secret: str) -> PaymentsApi:
    return PaymentsApi(Outbox("payments", models.Outbox), FakeGateway(), secret)


@pytest.mark.parametrize("secret", ["", "whsec_test"])
async def test_a_webhook_without_a_valid_signature_is_refused_before_any_io(
    secret: str,
) -> None:
    with pytest.raises(InvalidWebhook) as refused:
        await payments(secret).receive_webhook(b'{"id": "evt_1", "type": "x"}',
                                               "t=1,v1=deadbeef")
    assert refused.value.status == 400
    assert refused.value.message == "Invalid webhook signature"


def test_a_result_is_the_contract_json() -> None:
    assert PaymentResult(payment_id="p1").json() == {"id": "p1"}
    assert PaymentResult(client_secret="pi_secret").json() == {
        "status": "requires_action", "clientSecret": "pi_secret"}
    assert PaymentResult(processing_id="p1").json() == {"status": "processing", "id": "p1"}
