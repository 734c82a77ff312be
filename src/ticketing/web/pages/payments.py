"""Paying from the order page: the form posts here when JavaScript is off.

With JavaScript the form in ``payments/form.html`` calls ``POST /api/payments`` itself
(and Stripe.js, with the Stripe provider); either way success lands on My Orders.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.bus.contracts import OrderStatus
from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.modules.orders.api import OrdersApi
from ticketing.modules.payments.api import AlreadyPaid, CannotPayCancelled, OrderExpired
from ticketing.web.api.payments import PaymentBody, payments
from ticketing.web.runtime import runtime
from ticketing.web.session import current_user
from ticketing.web.validation import parse_form

blueprint = Blueprint("pages_payments", __name__)

Page = tuple[str, int]
# How long the redirect waits for the order to show as paid (it follows by event).
COMPLETION_WAIT_SECONDS = 3.0
_NOT_PAYABLE = (CannotPayCancelled, OrderExpired, AlreadyPaid)


def _orders() -> OrdersApi | None:
    found = runtime().facades.get("orders")
    return found if isinstance(found, OrdersApi) else None


async def _order(user_id: str, order_id: str) -> dict[str, Any]:
    """The order as the order page shows it; from payments' own copy without orders here."""
    orders = _orders()
    if orders is not None:
        return await orders.get(user_id, order_id)
    known = await payments().order(user_id, order_id)
    return {"id": known["id"], "status": known["status"], "expiresAt": known["expiresAt"],
            "ticket": {"title": "your ticket", "price": known["price"]}}


async def _until_complete(user_id: str, order_id: str) -> None:
    """Wait briefly until orders has applied the payment, so My Orders shows it paid."""
    orders = _orders()
    if orders is None:
        return
    deadline = asyncio.get_running_loop().time() + COMPLETION_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        if (await orders.get(user_id, order_id))["status"] == OrderStatus.COMPLETE:
            return
        await asyncio.sleep(0.05)


async def _form_again(user_id: str, order_id: str, message: str, status: int,
                      payable: bool, token: str = "") -> Page:
    html = await render_template(
        "payments/page.html", order=await _order(user_id, order_id), payable=payable,
        payment_error=message, payment_token=token,
    )
    return html, status


@blueprint.post("/payments/<order_id>")
async def pay(order_id: str) -> Page | WerkzeugResponse:
    """Pay for an order; a decline shows its message with the form kept."""
    user = current_user()
    if user is None:
        return redirect("/auth/signin?" + urlencode({"next": f"/orders/{order_id}"}))
    form = await request.form
    token = str(form.get("token", ""))
    try:
        data = parse_form(PaymentBody, {"orderId": order_id, "token": token})
        result = await payments().pay(user.id, order_id, data.token)
    except DomainError as error:
        if isinstance(error, NotFound | NotAuthorized):
            raise
        return await _form_again(user.id, order_id, error.message, error.status,
                                 payable=not isinstance(error, _NOT_PAYABLE), token=token)
    if result.processing_id is not None:  # held; the order page shows how it ends
        return redirect(f"/orders/{order_id}", 303)
    if result.payment_id is None:
        return await _form_again(
            user.id, order_id, "Your bank asks you to confirm this payment; "
            "this needs JavaScript turned on.", 202, payable=True, token=token)
    await _until_complete(user.id, order_id)
    return redirect("/orders", 303)
