"""What a payment's JSON body and the pay form must hold, and what ``POST /api/payments``
answers (:func:`payment_json`; the response models document it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, RootModel, field_validator

from ticketing.modules.payments.api import PaymentResult
from ticketing.web.shell.validation import Body, required, rule_failed, trimmed_text

MAX_REFERENCE_LENGTH = 255


class PaymentBody(Body):
    orderId: str = required(min_length=1, examples=["01jd0z5c8y9x7w6v5t4s3r2q1p"])
    token: str = required(min_length=1, max_length=MAX_REFERENCE_LENGTH,
                          examples=["pm_card_visa"],
                          description="A Stripe payment method (pm_…) or a legacy card token "
                          "(tok_…); the offline provider takes Stripe's test references.")

    @field_validator("orderId", mode="before")
    @classmethod
    def _order_id(cls, value: Any) -> str:
        return trimmed_text(value, "OrderId must be provided")

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> str:
        token = trimmed_text(value, "Token must be provided")
        if len(token) > MAX_REFERENCE_LENGTH:
            raise rule_failed(f"Token must be at most {MAX_REFERENCE_LENGTH} characters")
        return token


class PaymentResponse(BaseModel):
    """The order is paid: the payment's id."""

    id: str


class PaymentRequiresAction(BaseModel):
    """The bank asks the buyer to confirm: Stripe.js takes it on with ``clientSecret``."""

    status: Literal["requires_action"]
    clientSecret: str


class PaymentProcessing(BaseModel):
    """The money is held and orders is still confirming the order; the order page shows
    how it ends."""

    status: Literal["processing"]
    id: str


class PaymentPendingResponse(RootModel[PaymentRequiresAction | PaymentProcessing]):
    """Not paid yet: the buyer must confirm, or the order is still being confirmed."""


class WebhookReceipt(BaseModel):
    """Stripe's event is applied; ``duplicate`` when it had been already."""

    received: bool
    duplicate: bool


def payment_json(result: PaymentResult) -> dict[str, Any]:
    """The answer to a payment request: ``{id}`` once paid, else why it is not yet."""
    if result.payment_id is not None:
        return {"id": result.payment_id}
    if result.client_secret is not None:
        return {"status": "requires_action", "clientSecret": result.client_secret}
    return {"status": "processing", "id": result.processing_id}
