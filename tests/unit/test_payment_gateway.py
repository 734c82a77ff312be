"""The gateway's pieces that need no database: cents, webhooks, result shapes.

The offline provider keeps its intents in the database:
tests/integration/test_offline_provider.py."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ticketing.bus.outbox import Outbox
from ticketing.clock import utc_now
from ticketing.modules.payments import models
from ticketing.modules.payments.api import InvalidWebhook, PaymentResult, PaymentsApi
from ticketing.modules.payments.gateway import FakeGateway, cents
from ticketing.modules.payments.settler import Settler
from ticketing.web.payments.schemas import payment_json


@pytest.mark.parametrize(("amount", "expected"), [
    ("19.99", 1999), ("0.5", 50), ("0.10", 10), ("1000000", 100000000), ("4.35", 435),
])
def test_cents_are_exact(amount: str, expected: int) -> None:
    assert cents(Decimal(amount)) == expected


@pytest.mark.parametrize("amount", ["1.005", "-1", "NaN", "Infinity"])
def test_amounts_that_are_not_whole_cents_are_refused(amount: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message names the amount
        cents(Decimal(amount))


def payments(secret: str) -> PaymentsApi:
    outbox, gateway = Outbox("payments", models.Outbox), FakeGateway()
    return PaymentsApi(outbox, gateway, Settler(outbox, gateway, utc_now), secret)


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
    assert payment_json(PaymentResult(payment_id="p1")) == {"id": "p1"}
    assert payment_json(PaymentResult(client_secret="pi_secret")) == {
        "status": "requires_action", "clientSecret": "pi_secret"}
    assert payment_json(PaymentResult(processing_id="p1")) == {"status": "processing",
                                                               "id": "p1"}
