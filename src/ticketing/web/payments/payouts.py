"""``GET /api/payouts`` and ``/payouts``: what you are owed for your resales that sold
(a ledger; paying it out to a bank account is out of scope)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint, Response, jsonify, render_template
from quart_schema import document_response
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.modules.payments.api import PayoutView
from ticketing.web.payments.routes import payments
from ticketing.web.shell.forms import sign_in_redirect
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.session import current_user, require_user, signed_in

blueprint = Blueprint("payouts", __name__, template_folder="templates")


class PayoutResponse(BaseModel):
    ticketId: str
    orderId: str = Field(description="The buyer's order that paid for it")
    amount: float = Field(description="In dollars")
    currency: str
    cause: str = Field(description='"resale"')
    recordedAt: datetime = Field(description="ISO 8601 in UTC, ending in Z")


class PayoutsResponse(BaseModel):
    """Your payouts, newest first, and their total."""

    payouts: list[PayoutResponse]
    total: float


def payouts_json(payouts: list[PayoutView]) -> dict[str, Any]:
    return {"payouts": [{"ticketId": p.ticket_id, "orderId": p.order_id,
                         "amount": float(p.amount), "currency": p.currency, "cause": p.cause,
                         "recordedAt": wire_time(p.recorded_at)} for p in payouts],
            "total": float(sum((p.amount for p in payouts), Decimal(0)))}


@blueprint.get("/api/payouts")
@signed_in
@document_response(PayoutsResponse)
async def payouts_api() -> Response:
    """What you are owed for your resales that sold, newest first."""
    return jsonify(payouts_json(await payments().payouts_of(require_user().id)))


@blueprint.get("/payouts")
async def payouts_page() -> tuple[str, int] | WerkzeugResponse:
    """Your payouts as a table, with their total."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    found = await payments().payouts_of(user.id)
    return await render_template("payments/payouts.html", payouts=found,
                                 total=sum((p.amount for p in found), Decimal(0))), 200
