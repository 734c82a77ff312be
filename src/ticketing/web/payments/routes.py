"""``/api/payments``: pay for an order; Stripe's webhook."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request
from quart_schema import document_response, validate_request

from ticketing.modules.payments.api import Payments
from ticketing.web.payments.schemas import (
    PaymentBody,
    PaymentPendingResponse,
    PaymentResponse,
    WebhookReceipt,
    payment_json,
)
from ticketing.web.shell.openapi import refuses
from ticketing.web.shell.runtime import facade
from ticketing.web.shell.session import require_user, signed_in

blueprint = Blueprint("api_payments", __name__, url_prefix="/api/payments")


def payments() -> Payments:
    """The payments facade of this process."""
    found = facade("payments")
    assert isinstance(found, Payments)
    return found


@blueprint.post("")
@signed_in
@validate_request(PaymentBody)
@document_response(PaymentResponse, 201)
@document_response(PaymentPendingResponse, 202)
@refuses(404, 409)
async def create_payment(data: PaymentBody) -> tuple[Response, int]:
    """Pay an order's price once: 201 ``{id}`` once charged; 202 when the bank asks the
    buyer to confirm, or while the order is still being confirmed (``processing``)."""
    result = await payments().pay(require_user().id, data.orderId, data.token)
    return jsonify(payment_json(result)), 201 if result.payment_id else 202


@blueprint.post("/webhook")
@document_response(WebhookReceipt)
@refuses(400, 413)
async def stripe_webhook() -> Response:
    """Stripe's events, signed with the webhook secret (400 if not); each applied once."""
    payload = await request.get_data()
    fresh = await payments().receive_webhook(payload, request.headers.get("Stripe-Signature"))
    return jsonify({"received": True, "duplicate": not fresh})
