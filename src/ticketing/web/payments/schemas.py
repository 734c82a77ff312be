"""What a payment's JSON body and the pay form must hold."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ticketing.web.shell.validation import Body, rule_failed, trimmed_text

MAX_REFERENCE_LENGTH = 255


class PaymentBody(Body):
    orderId: str = Field(default="", examples=["01jd0z5c8y9x7w6v5t4s3r2q1p"])
    token: str = Field(default="", examples=["pm_card_visa"],
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
