"""Ticket pages: the listing (the landing page), show (with Purchase), sell, edit.

They work without JavaScript.

Purchase posts to the orders pages (``POST /orders``), which the orders module serves in
a split deployment; a refusal comes back here as ``?purchase=<reason>`` and shows in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import Blueprint, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.modules.tickets.api import TicketView
from ticketing.web.shell.forms import errors_by_field, form_values, sign_in_redirect
from ticketing.web.shell.purchase import purchase_refusal
from ticketing.web.shell.session import current_user
from ticketing.web.shell.validation import parse_form
from ticketing.web.tickets.event_schemas import event_json
from ticketing.web.tickets.routes import tickets
from ticketing.web.tickets.schemas import (
    ListingQuery,
    NewTicketBody,
    TicketEditBody,
    ticket_json,
)

blueprint = Blueprint("pages_tickets", __name__, template_folder="templates")

Page = tuple[str, int]
LANDING_PAGE_SIZE = 50
LANDING_EVENTS = 20



def _is_page_error(error: DomainError) -> bool:
    """Unknown ticket or not yours: the error page, not a message beside the form."""
    return isinstance(error, NotFound | NotAuthorized)


async def _ticket_page(ticket: TicketView, error: str | None = None,
                       status: int = 200) -> Page:
    user = current_user()
    html = await render_template("tickets/show.html", ticket=ticket_json(ticket), error=error,
                                 is_owner=user is not None and user.id == ticket.user_id)
    return html, status


@blueprint.get("/")
async def index() -> str:
    """Events (one row each, with what is left) and tickets for sale, newest first."""
    query = parse_form(ListingQuery, {"limit": LANDING_PAGE_SIZE,
                                      "before": request.args.get("before")})
    listing = await tickets().list_available(query.limit, query.before)
    events = [] if query.before else await tickets().list_events(LANDING_EVENTS)
    return await render_template("tickets/index.html", listing=listing,
                                 events=[event_json(e) for e in events])


@blueprint.get("/tickets/<ticket_id>")
async def show(ticket_id: str) -> Page:
    """A ticket's title and price, with Purchase (and Edit for its owner)."""
    ticket = await tickets().get(ticket_id)
    message, status = purchase_refusal(request.args.get("purchase")) or (None, 200)
    return await _ticket_page(ticket, message, status)


async def _sell_form(values: Mapping[str, Any], error: DomainError | None = None) -> Page:
    html = await render_template("tickets/form.html", heading="Sell a Ticket", action="Sell",
                                 values=form_values(values),
                                 errors=errors_by_field(error) if error else {})
    return html, error.status if error else 200


@blueprint.route("/tickets/new", methods=["GET", "POST"])
async def sell() -> Page | WerkzeugResponse:
    """The sell form: title and price; a listed ticket opens its own page."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    if request.method == "GET":
        return await _sell_form({})
    form = await request.form
    try:
        data = parse_form(NewTicketBody, form)
        ticket = await tickets().create(user.id, data.title, data.price, data.refundDays)
    except DomainError as error:
        return await _sell_form(form, error)
    return redirect(f"/tickets/{ticket.id}", 303)


def _edit_fields(form: Mapping[str, Any]) -> dict[str, Any]:
    """The form's strings as the edit body expects them: the version is a number."""
    fields = dict(form)
    version = str(fields.get("version", "")).strip()
    fields["version"] = int(version) if version.isascii() and version.isdigit() \
        else (version or None)
    return fields


async def _edit_form(ticket: TicketView, values: Mapping[str, Any],
                     error: DomainError | None = None) -> Page:
    errors = errors_by_field(error) if error else {}
    if "version" in errors:  # a hidden field: its complaint goes above the form
        errors.setdefault("", errors.pop("version"))
    html = await render_template("tickets/form.html", heading="Edit Ticket", action="Save",
                                 ticket=ticket, values=form_values(values), errors=errors)
    return html, error.status if error else 200


@blueprint.route("/tickets/<ticket_id>/edit", methods=["GET", "POST"])
async def edit(ticket_id: str) -> Page | WerkzeugResponse:
    """Edit your ticket; anyone else gets the 401 page. A concurrent change shows in place."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    ticket = await tickets().get(ticket_id)
    if ticket.user_id != user.id:
        raise NotAuthorized()
    if request.method == "GET":
        values = {"title": ticket.title, "price": f"{ticket.price:.2f}",
                  "version": str(ticket.version)}
        return await _edit_form(ticket, values)
    form = await request.form
    try:
        data = parse_form(TicketEditBody, _edit_fields(form))
        await tickets().update(ticket.id, user.id, data.title, data.price, data.version)
    except DomainError as error:
        if _is_page_error(error):
            raise
        return await _edit_form(ticket, form, error)
    return redirect(f"/tickets/{ticket.id}", 303)
