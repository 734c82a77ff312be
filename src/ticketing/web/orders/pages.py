"""Order pages: my orders, one order with the time left to pay, and Cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from quart import Blueprint, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.bus.contracts import OPEN_ORDER_STATUSES, OrderStatus
from ticketing.errors import DomainError, NotAuthorized, NotFound, message_of
from ticketing.modules.orders.api import OrderView
from ticketing.web.orders.routes import orders
from ticketing.web.orders.schemas import NewOrderBody, order_json
from ticketing.web.shell.forms import sign_in_redirect
from ticketing.web.shell.purchase import refusal_code
from ticketing.web.shell.runtime import runtime
from ticketing.web.shell.session import current_user
from ticketing.web.shell.validation import parse_form

blueprint = Blueprint("pages_orders", __name__, url_prefix="/orders",
                      template_folder="templates")

Page = tuple[str, int]
STATUS_LABELS: dict[str, str] = {
    OrderStatus.CREATED: "Reserved",
    OrderStatus.AWAITING_PAYMENT: "Awaiting payment",
    OrderStatus.COMPLETE: "Paid",
    OrderStatus.CANCELLED: "Cancelled",
}



def seconds_left(expires_at: datetime, now: datetime) -> int:
    """Whole seconds until the order's payment window closes; 0 once it has."""
    remaining = (expires_at - now).total_seconds()
    return max(0, int(remaining))


def clock(seconds: int) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour up), as the countdown shows it."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _with_label(order: OrderView) -> dict[str, Any]:
    """The order's JSON, as the templates read it, with the status as the pages name it
    and what it costs in all (an order of an event's tickets holds several)."""
    return order_json(order) | {"statusLabel": STATUS_LABELS.get(order.status, order.status),
                                "total": float(order.total), "count": len(order.tickets)}


@blueprint.get("")
async def list_orders() -> Page | WerkzeugResponse:
    """My orders, oldest first: ticket title, status, link."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    found = [_with_label(order) for order in await orders().list_for(user.id)]
    return await render_template("orders/index.html", orders=found), 200


async def _order_page(order: OrderView, error: str | None = None,
                      status: int = 200) -> Page:
    now = runtime().clock()
    remaining = seconds_left(order.expires_at, now)
    is_open = order.status in OPEN_ORDER_STATUSES
    refund = order.refund
    html = await render_template(
        "orders/show.html", order=_with_label(order), error=error, is_open=is_open,
        seconds_left=remaining, time_left=clock(remaining),
        expires_label=order.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        # The way to the payments page shows only while the order can still be paid.
        payable=is_open and remaining > 0,
        refundable=order.status == OrderStatus.COMPLETE and order.refundable_until is not None
        and now < order.refundable_until and (refund is None or refund.status == "refused"),
        refund=refund, refund_reason=message_of(refund.reason) if refund and refund.reason
        else None, utc=_utc_label, order_view=order,
    )
    return html, status


@blueprint.post("")
async def purchase() -> WerkzeugResponse:
    """Purchase (a ticket page's button) or Reserve (an event page's): reserve and open
    the new order. A refusal goes back to the page it came from, which shows it in place.
    """
    form = await request.form
    event_id = str(form.get("eventId", ""))
    ticket_id = str(form.get("ticketId", ""))
    if form.get("admission"):  # it came from the queue page: refusals show there
        back = f"/queue/{quote(event_id)}"
    else:
        back = f"/events/{quote(event_id)}" if event_id else f"/tickets/{quote(ticket_id)}"
    user = current_user()
    if user is None:
        return redirect("/auth/signin?" + urlencode({"next": back}))
    try:
        if event_id:
            body = parse_form(NewOrderBody, form)
            order = await orders().reserve_from_event(user.id, event_id, body.quantity,
                                                      body.admission)
        else:
            order = await orders().reserve(user.id, ticket_id)
    except DomainError as error:
        return redirect(f"{back}?" + urlencode({"purchase": refusal_code(error)}), 303)
    return redirect(f"/orders/{order.id}", 303)


@blueprint.get("/<order_id>")
async def show(order_id: str) -> Page | WerkzeugResponse:
    """One of my orders: its status, the time left to pay counting down, and Cancel."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    return await _order_page(await orders().get(user.id, order_id))


@blueprint.post("/<order_id>/refund")
async def refund(order_id: str) -> Page | WerkzeugResponse:
    """Ask for the paid order's refund and show it again; a refusal shows in place."""
    return await _order_action(order_id, orders().refund)


@blueprint.post("/<order_id>/cancel")
async def cancel(order_id: str) -> Page | WerkzeugResponse:
    """Cancel the order and show it again; a paid order's refusal shows in place."""
    return await _order_action(order_id, orders().cancel)


async def _order_action(order_id: str, act: Callable[[str, str], Awaitable[object]]
                        ) -> Page | WerkzeugResponse:
    """``act(user id, order id)`` from the order page's form, then the order again."""
    user = current_user()
    if user is None:
        # Come back to the order itself: the form's address only takes a POST.
        return redirect("/auth/signin?" + urlencode({"next": f"/orders/{order_id}"}))
    try:
        await act(user.id, order_id)
    except DomainError as error:
        if isinstance(error, NotFound | NotAuthorized):
            raise
        return await _order_page(await orders().get(user.id, order_id), error.message,
                                 error.status)
    return redirect(f"/orders/{order_id}", 303)


def _utc_label(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""
