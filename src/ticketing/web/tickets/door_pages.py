"""Pass and door pages: ``/passes`` (your e-tickets and those you gave away),
``/tickets/<id>/pass`` (one, as a QR code, printable, with Transfer) and the door,
``/events/<id>/checkin`` or ``/tickets/<id>/checkin``.

The door page checks passes in by typed code without JavaScript; with it
(``checkin.js``) it scans with the camera where the browser can, and keeps working
offline from the public key and the door list it saved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import segno
from markupsafe import Markup
from quart import Blueprint, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.modules.tickets.api import PassView
from ticketing.web.shell.forms import errors_by_field, sign_in_redirect
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.session import current_user
from ticketing.web.shell.validation import parse_form
from ticketing.web.tickets.door import door
from ticketing.web.tickets.door_schemas import (
    CheckInBody,
    ResaleBody,
    StaffBody,
    TransferBody,
    door_list_json,
)
from ticketing.web.tickets.routes import tickets

blueprint = Blueprint("pages_door", __name__, template_folder="templates")

Page = tuple[str, int]


def qr_code(token: str) -> Markup:
    """The token as an inline SVG QR code (medium error correction survives a scuffed
    printout or a cracked phone screen)."""
    svg = segno.make(token, error="m").svg_inline(scale=6, title="Ticket pass",
                                                 svgclass="pass-qr")
    return Markup(svg)  # segno's own markup; the token is escaped inside it


@blueprint.get("/passes")
async def passes() -> Page | WerkzeugResponse:
    """Every pass you hold, each linking to its QR code."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    held = await door().passes_of(user.id, user.email)
    given = await door().transfers_from(user.id)
    # Only a transfer of your own is announced: the query names it, the table says it.
    just = next((g for g in given if g.ticket_id == request.args.get("transferred")), None)
    return await render_template("tickets/passes.html", passes=held, given=given,
                                 notice=just.to_email if just else None), 200


@blueprint.get("/doors")
async def doors() -> Page | WerkzeugResponse:
    """The doors a seller named you staff of, each opening its check-in page."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    return await render_template("tickets/doors.html",
                                 doors=await door().doors_of(user.email)), 200


@blueprint.get("/tickets/<ticket_id>/pass")
async def show_pass(ticket_id: str) -> Page | WerkzeugResponse:
    """The pass as a QR code with its typed code beneath; prints on one page."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    return await _pass_page(await door().pass_of(ticket_id, user.id, user.email))


async def _pass_page(found: PassView, error: DomainError | None = None,
                     form: str = "") -> Page:
    """The pass page; ``error`` the refusal of its ``form`` ("transfer", "resale" or
    "withdraw")."""
    errors = errors_by_field(error) if error else {}
    html = await render_template("tickets/pass.html", ticket_pass=found,
                                 qr=qr_code(found.token),
                                 checked_in_at=wire_time(found.checked_in_at),
                                 transfer_errors=errors if form == "transfer" else {},
                                 resale_errors=errors if form == "resale" else {},
                                 withdraw_error=error.message if error and form == "withdraw"
                                 else None)
    return html, error.status if error else 200


@blueprint.post("/tickets/<ticket_id>/transfer")
async def transfer(ticket_id: str) -> Page | WerkzeugResponse:
    """Give the ticket away from its pass page; the refusal shows beside the form."""
    async def give(user_id: str, email: str) -> WerkzeugResponse:
        data = parse_form(TransferBody, await request.form)
        done = await door().transfer(ticket_id, user_id, email, data.email)
        return redirect(f"/passes?transferred={done.ticket_id}", 303)

    return await _pass_form(ticket_id, "transfer", give)


@blueprint.post("/tickets/<ticket_id>/resale")
async def resell(ticket_id: str) -> Page | WerkzeugResponse:
    """Put the ticket back on sale from its pass page; the refusal shows beside the form."""
    async def list_it(user_id: str, email: str) -> WerkzeugResponse:
        data = parse_form(ResaleBody, await request.form)
        await tickets().resell(ticket_id, user_id, email, data.price)
        return redirect(f"/tickets/{ticket_id}/pass", 303)

    return await _pass_form(ticket_id, "resale", list_it)


@blueprint.post("/tickets/<ticket_id>/resale/withdraw")
async def withdraw_resale(ticket_id: str) -> Page | WerkzeugResponse:
    """Take the resale off sale from its pass page; the refusal shows in its place."""
    async def withdraw(user_id: str, _email: str) -> WerkzeugResponse:
        await tickets().withdraw_resale(ticket_id, user_id)
        return redirect(f"/tickets/{ticket_id}/pass", 303)

    return await _pass_form(ticket_id, "withdraw", withdraw)


async def _pass_form(ticket_id: str, form: str,
                     act: Callable[[str, str], Awaitable[WerkzeugResponse]]
                     ) -> Page | WerkzeugResponse:
    """A form of the pass page, ``act`` done as the signed-in user (id, email): its holder
    only; a refusal re-renders the page with it."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    found = await door().pass_of(ticket_id, user.id, user.email)
    try:
        return await act(user.id, user.email)
    except DomainError as error:
        if isinstance(error, NotAuthorized | NotFound):
            raise
        return await _pass_page(found, error, form)


async def _door_page(scope_id: str, result: dict[str, str] | None = None,
                     error: DomainError | None = None,
                     staff_error: DomainError | None = None) -> Page | WerkzeugResponse:
    user = current_user()
    if user is None:
        return sign_in_redirect()
    listing = await door().door_list(scope_id, user.id, user.email)
    try:
        staff: list[str] | None = await door().door_staff(scope_id, user.id)
    except NotAuthorized:
        staff = None  # door staff check passes in; only the seller names staff
    refusal = error or staff_error
    status = refusal.status if refusal else 201 if result else 200
    html = await render_template(
        "tickets/checkin.html", door=door_list_json(listing), staff=staff, result=result,
        error=error.message if error else None,
        staff_errors=errors_by_field(staff_error) if staff_error else {})
    return html, status


@blueprint.get("/events/<scope_id>/checkin")
@blueprint.get("/tickets/<scope_id>/checkin")
async def checkin(scope_id: str) -> Page | WerkzeugResponse:
    """The door: scan or type a pass's code; counts follow every door live."""
    return await _door_page(scope_id)


@blueprint.post("/events/<scope_id>/checkin")
@blueprint.post("/tickets/<scope_id>/checkin")
async def checkin_typed(scope_id: str) -> Page | WerkzeugResponse:
    """A typed code checked in without JavaScript; the outcome shows above the form."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    try:
        data = parse_form(CheckInBody, await request.form)
        done = await door().check_in(data.token, user.id, user.email, scope_id=scope_id)
    except DomainError as error:
        if isinstance(error, NotAuthorized):
            raise
        return await _door_page(scope_id, error=error)
    return await _door_page(scope_id, result={"ticketId": done.ticket_id,
                                              "checkedInAt": wire_time(done.checked_in_at)
                                              or ""})


@blueprint.post("/doors/<scope_id>/staff")
async def add_staff(scope_id: str) -> Page | WerkzeugResponse:
    """The seller names door staff from the door page."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    form = await request.form
    try:
        data = parse_form(StaffBody, form)
        await door().add_door_staff(scope_id, user.id, data.email)
    except DomainError as error:
        if isinstance(error, NotAuthorized):
            raise
        return await _door_page(scope_id, staff_error=error)
    scope = await door().door_scope(scope_id, user.id, user.email)
    return redirect(scope.page, 303)
