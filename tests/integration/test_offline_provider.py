"""The offline provider (``TICKETING_PAYMENTS=fake``) against its table, on every backend.

It is the stand-in for Stripe wherever Stripe cannot be reached, so it must behave as
Stripe does, restarts included: an intent outlives the process that made it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from ticketing import db
from ticketing.modules.payments.gateway import (
    ChargeRequest,
    FakeGateway,
    IntentStatus,
    PaymentDeclined,
    PaymentRefused,
    ProviderUnavailable,
)
from ticketing.settings import Settings


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[FakeGateway]:
    """The offline provider over payments' (migrated, empty) database."""
    await db.open_databases(replace(settings, modules=("payments",)))
    try:
        yield FakeGateway()
    finally:
        await db.close_databases()


def request(method: str, key: str = "key-1", amount: int = 1999) -> ChargeRequest:
    return ChargeRequest(amount_cents=amount, currency="usd", payment_method=method,
                         idempotency_key=key, metadata={"order_id": "o1"})


@pytest.mark.parametrize("method", ["tok_visa", "pm_card_visa"])
async def test_the_offline_provider_holds_the_test_cards_and_charges_only_at_capture(
    gateway: FakeGateway, method: str,
) -> None:
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


async def test_a_released_hold_charges_nothing_and_cannot_be_captured_after(
    gateway: FakeGateway,
) -> None:
    intent = await gateway.authorize(request("tok_visa"))

    released = await gateway.cancel(intent.id)
    late = await gateway.capture(intent.id, "capture-1")

    assert released.status == late.status == IntentStatus.FAILED
    assert gateway.releases == [intent.id]
    assert gateway.charges == []


async def test_a_captured_intent_is_not_released_by_a_late_cancel(gateway: FakeGateway) -> None:
    intent = await gateway.authorize(request("tok_visa"))
    await gateway.capture(intent.id, "capture-1")

    assert (await gateway.cancel(intent.id)).status == IntentStatus.SUCCEEDED
    assert gateway.releases == []


@pytest.mark.parametrize("method", ["tok_chargeDeclined", "pm_card_chargeDeclined"])
async def test_the_offline_provider_declines_like_stripe(gateway: FakeGateway, method: str) -> None:
    with pytest.raises(PaymentDeclined, match=r"^Your card was declined\.$"):
        await gateway.authorize(request(method))
    assert gateway.holds == gateway.charges == []


@pytest.mark.parametrize(("method", "message"), [
    ("pm_unknown", "No such PaymentMethod: 'pm_unknown'"),
    ("tok_unknown", "No such token: 'tok_unknown'"),
    ("4242424242424242", "No such PaymentMethod: '4242424242424242'"),
])
async def test_anything_else_is_an_invalid_payment_method(
    gateway: FakeGateway, method: str, message: str,
) -> None:
    with pytest.raises(PaymentRefused) as refused:
        await gateway.authorize(request(method))
    assert refused.value.message == message
    assert not isinstance(refused.value, PaymentDeclined)


async def test_a_repeated_idempotency_key_replays_instead_of_holding_again(
    gateway: FakeGateway,
) -> None:
    first = await gateway.authorize(request("tok_visa", key="same"))
    again = await gateway.authorize(request("tok_visa", key="same"))
    assert again == first
    assert len(gateway.holds) == 1
    other = await gateway.authorize(request("tok_visa", key="other"))
    assert other.id != first.id
    assert len(gateway.holds) == 2


async def test_intent_ids_are_unique_across_restarts_of_the_offline_provider(
    gateway: FakeGateway,
) -> None:
    ids = {(await FakeGateway().authorize(request("tok_visa", key=f"key-{n}"))).id
           for n in range(50)}

    assert len(ids) == 50


async def test_a_refund_is_recorded_once_per_key(gateway: FakeGateway) -> None:
    intent = await gateway.authorize(request("pm_card_visa"))
    await gateway.capture(intent.id, "capture-1")
    first = await gateway.refund(intent.id, "refund-1")
    assert await gateway.refund(intent.id, "refund-1") == first
    [refund] = gateway.refunds
    assert (refund.intent_id, refund.amount_cents) == (intent.id, 1999)


async def test_an_unknown_intent_cannot_be_read(gateway: FakeGateway) -> None:
    with pytest.raises(ProviderUnavailable):
        await gateway.retrieve("pi_missing")


async def test_a_hold_made_before_a_restart_is_captured_or_released_after_it(
    gateway: FakeGateway,
) -> None:
    """The fault run found it: payments killed between the hold and the capture; the
    provider must still know the intent when payments comes back."""
    kept = await gateway.authorize(request("tok_visa", key="kept"))
    dropped = await gateway.authorize(request("tok_visa", key="dropped"))

    restarted = FakeGateway()
    assert (await restarted.capture(kept.id, "capture-1")).status == IntentStatus.SUCCEEDED
    assert (await restarted.cancel(dropped.id)).status == IntentStatus.FAILED
    assert [c.intent_id for c in restarted.charges] == [kept.id]
    assert restarted.releases == [dropped.id]
    assert await restarted.authorize(request("tok_visa", key="kept")) == kept


async def test_two_replicas_capturing_one_hold_at_once_take_the_money_once(
    gateway: FakeGateway,
) -> None:
    intent = await gateway.authorize(request("tok_visa"))
    replicas = [FakeGateway() for _ in range(4)]

    captured = await asyncio.gather(*(r.capture(intent.id, f"capture-{i}")
                                      for i, r in enumerate(replicas)))

    assert {c.status for c in captured} == {IntentStatus.SUCCEEDED}
    assert sum(len(r.charges) for r in replicas) == 1
