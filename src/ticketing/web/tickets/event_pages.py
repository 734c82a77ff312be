"""Event pages: create an event, and an event's page with its remaining count and a
Reserve button for up to the buyer's limit. They work without JavaScript."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError
from ticketing.web.shell.forms import errors_by_field, form_values, sign_in_redirect
from ticketing.web.shell.purchase import purchase_refusal
from ticketing.web.shell.runtime import runtime
from ticketing.web.shell.session import current_user
from ticketing.web.shell.validation import parse_form
from ticketing.web.tickets.event_schemas import NewEventBody, event_json
from ticketing.web.tickets.routes import tickets

blueprint = Blueprint("pages_events", __name__, url_prefix="/events",
                      template_folder="templates")

Page = tuple[str, int]


async def _new_form(values: Mapping[str, Any], error: DomainError | None = None) -> Page:
    html = await render_template("tickets/event-form.html", values=form_values(values),
                                 errors=errors_by_field(error) if error else {})
    return html, error.status if error else 200


@blueprint.route("/new", methods=["GET", "POST"])
async def create() -> Page | WerkzeugResponse:
    """The new-event form; a created event opens its own page."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    if request.method == "GET":
        return await _new_form({"perBuyerLimit": "4"})
    form = await request.form
    try:
        event = await tickets().create_event(user.id, parse_form(NewEventBody, form).plan())
    except DomainError as error:
        return await _new_form(form, error)
    return redirect(f"/events/{event.id}", 303)


@blueprint.get("/<event_id>")
async def show(event_id: str) -> Page:
    """An event: when and where, the price, how many are left, and Reserve (or, for an
    event with an on-sale time, the way into its queue; its seller sees the queue)."""
    event = await tickets().get_event(event_id)
    message, status = purchase_refusal(request.args.get("purchase")) or (None, 200)
    on_sale = event.on_sale_at is None or event.on_sale_at <= runtime().clock()
    user = current_user()
    html = await render_template("tickets/event.html", event=event_json(event), error=message,
                                 on_sale=on_sale, is_owner=user is not None
                                 and user.id == event.user_id,
                                 most=min(event.per_buyer_limit, max(event.remaining, 1)))
    return html, status
