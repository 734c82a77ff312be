"""The pay page: the form for one order, from what payments itself knows of it.

The order page links here; with JavaScript the form calls ``POST /api/payments`` itself
(and Stripe.js, with the Stripe provider), without it it posts here. Either way success
lands on My Orders, which the consistency cookie set by the payment makes wait until
orders has applied it (ADR 0016).
"""

from __future__ import annotations

from urllib.parse import urlencode

from quart import Blueprint, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError, NotAuthorized, NotFound, message_of
from ticketing.modules.payments.api import (
    AlreadyPaid,
    CannotPayCancelled,
    OrderExpired,
    OrderStatus,
    OrderSummary,
)
from ticketing.web.payments.routes import payments
from ticketing.web.payments.schemas import PaymentBody
from ticketing.web.shell.runtime import runtime
from ticketing.web.shell.session import current_user
from ticketing.web.shell.validation import parse_form

blueprint = Blueprint("pages_payments", __name__, url_prefix="/payments",
                      template_folder="templates")

Page = tuple[str, int]
_NOT_PAYABLE = (CannotPayCancelled, OrderExpired, AlreadyPaid)


def _why_not_payable(order: OrderSummary) -> DomainError | None:
    """Why the order cannot be paid now, as ``pay`` would refuse it; ``None`` if it can."""
    if order.status == OrderStatus.COMPLETE:
        return AlreadyPaid()
    if order.status == OrderStatus.CANCELLED:
        return CannotPayCancelled()
    if order.expires_at <= runtime().clock():
        return OrderExpired()
    return None


async def _page(order: OrderSummary, message: str | None, status: int, payable: bool,
                token: str = "") -> Page:
    # Payments' own copy of the order knows no ticket title.
    shown = {"id": order.id, "ticket": {"title": "your ticket", "price": order.price}}
    html = await render_template("payments/page.html", order=shown, payable=payable,
                                 payment_error=message, payment_token=token)
    return html, status


def _sign_in_first(order_id: str) -> WerkzeugResponse:
    return redirect("/auth/signin?" + urlencode({"next": f"/payments/{order_id}"}))


@blueprint.get("/<order_id>")
async def show(order_id: str) -> Page | WerkzeugResponse:
    """The pay form while the order can be paid, else why not."""
    user = current_user()
    if user is None:
        return _sign_in_first(order_id)
    order = await payments().order(user.id, order_id)
    refusal = _why_not_payable(order)
    return await _page(order, refusal.message if refusal else None, 200, refusal is None)


@blueprint.post("/<order_id>")
async def pay(order_id: str) -> Page | WerkzeugResponse:
    """Pay for an order; a decline shows its message with the form kept."""
    user = current_user()
    if user is None:
        return _sign_in_first(order_id)
    form = await request.form
    token = str(form.get("token", ""))
    try:
        data = parse_form(PaymentBody, {"orderId": order_id, "token": token})
        result = await payments().pay(user.id, order_id, data.token)
    except DomainError as error:
        if isinstance(error, NotFound | NotAuthorized):
            raise
        order = await payments().order(user.id, order_id)
        return await _page(order, error.message, error.status,
                           payable=not isinstance(error, _NOT_PAYABLE), token=token)
    if result.processing_id is not None:  # held; the order page shows how it ends
        return redirect(f"/orders/{order_id}", 303)
    if result.payment_id is None:
        return await _page(await payments().order(user.id, order_id),
                           message_of("confirm_needs_javascript"), 202, payable=True,
                           token=token)
    return redirect("/orders", 303)
