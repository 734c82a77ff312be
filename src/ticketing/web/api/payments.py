"""``/api/payments``: pay for an order; Stripe's webhook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pydantic import Field, field_validator
from quart import Blueprint, Response, jsonify, request
from quart_schema import validate_request

from ticketing.modules.payments.api import PaymentsApi
from ticketing.web.runtime import facade
from ticketing.web.session import require_user
from ticketing.web.validation import Body, rule_failed, trimmed_text

blueprint = Blueprint("api_payments", __name__, url_prefix="/api/payments")

MAX_REFERENCE_LENGTH = 255

P = ParamSpec("P")
R = TypeVar("R")


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


def signed_in(route: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """401 for a signed-out caller before the body is looked at (the contract's order)."""

    @wraps(route)
    async def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        require_user()
        return await route(*args, **kwargs)

    return checked


def payments() -> PaymentsApi:
    return facade("payments", PaymentsApi)


@blueprint.post("")
@signed_in
@validate_request(PaymentBody)
async def create_payment(data: PaymentBody) -> tuple[Response, int]:
    """Pay an order's price once: 201 ``{id}`` once charged; 202 when the bank asks the
    buyer to confirm, or while the order is still being confirmed (``processing``)."""
    result = await payments().pay(require_user().id, data.orderId, data.token)
    return jsonify(result.json()), 201 if result.payment_id else 202


@blueprint.post("/webhook")
async def stripe_webhook() -> Response:
    """Stripe's events, signed with the webhook secret (400 if not); each applied once."""
    payload = await request.get_data()
    fresh = await payments().receive_webhook(payload, request.headers.get("Stripe-Signature"))
    return jsonify({"received": True, "duplicate": not fresh})
