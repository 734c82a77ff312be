"""``/api/tickets/:id/pass`` (and ``/transfer``, ``/resale``), ``/api/passes/key``,
``/api/checkins`` and ``/api/doors``: e-ticket passes for their holders, and the door for
sellers and the staff they name.

A door is an event, or a ticket listed without one; ``/api/doors/<id>`` is its list of
valid passes (what a door device keeps to check passes offline) and its staff."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify
from quart_schema import document_response, validate_request

from ticketing.modules.tickets.api import Door
from ticketing.web.shell.openapi import refuses
from ticketing.web.shell.runtime import facade
from ticketing.web.shell.session import require_user, signed_in
from ticketing.web.shell.validation import parse_form
from ticketing.web.tickets.door_schemas import (
    CheckInBody,
    CheckInResponse,
    DoorListResponse,
    PassKeyResponse,
    PassResponse,
    ResaleBody,
    ResaleResponse,
    StaffBody,
    StaffResponse,
    TransferBody,
    TransferResponse,
    check_in_json,
    door_list_json,
    pass_json,
    pass_key_json,
    resale_json,
    transfer_json,
)
from ticketing.web.tickets.routes import tickets

blueprint = Blueprint("api_door", __name__, url_prefix="/api")


def door() -> Door:
    """The tickets facade of this process, as the door."""
    found = facade("tickets")
    assert isinstance(found, Door)
    return found


@blueprint.get("/tickets/<ticket_id>/pass")
@signed_in
@document_response(PassResponse)
@refuses(404)
async def show_pass(ticket_id: str) -> Response:
    """Your ticket's pass: 404 when it has none (unpaid), 401 when it is not yours."""
    user = require_user()
    return jsonify(pass_json(await door().pass_of(ticket_id, user.id, user.email)))


@blueprint.post("/tickets/<ticket_id>/transfer")
@signed_in
@validate_request(TransferBody)
@document_response(TransferResponse)
@refuses(404, 409)
async def transfer(ticket_id: str, data: TransferBody) -> Response:
    """Give your paid ticket to someone by email: its pass moves to them and yours stops
    working. To yourself or already let in → 400; not yours → 401."""
    user = require_user()
    done = await door().transfer(ticket_id, user.id, user.email, data.email)
    return jsonify(transfer_json(done))


@blueprint.post("/tickets/<ticket_id>/resale")
@signed_in
@validate_request(ResaleBody)
@document_response(ResaleResponse, 201)
@refuses(404, 409)
async def resell(ticket_id: str, data: ResaleBody) -> tuple[Response, int]:
    """Put your paid ticket back on sale at no more than you paid (more → 400 on
    ``price``); when it sells the buyer's pass replaces yours and your payout is recorded.
    Let in already, or on sale already → 400; not yours → 401."""
    user = require_user()
    listed = await tickets().resell(ticket_id, user.id, user.email, data.price)
    return jsonify(resale_json(listed)), 201


@blueprint.delete("/tickets/<ticket_id>/resale")
@signed_in
@document_response(ResaleResponse, 202)
@refuses(400, 404)
async def withdraw_resale(ticket_id: str) -> tuple[Response, int]:
    """Take your resale off sale: accepted (``withdrawing``) while no buyer holds it, and
    once decided your pass admits again; held by a buyer now → 400; not yours → 401.
    Asking again while it is decided changes nothing."""
    withdrawn = await tickets().withdraw_resale(ticket_id, require_user().id)
    return jsonify(resale_json(withdrawn)), 202


@blueprint.get("/passes/key")
@document_response(PassKeyResponse)
async def pass_key() -> Response:
    """The public key every pass verifies with, so a door can check passes offline."""
    return jsonify(pass_key_json(door().pass_key()))


@blueprint.post("/checkins")
@signed_in
@validate_request(CheckInBody)
@document_response(CheckInResponse, 201)
@refuses(409)
async def check_in(data: CheckInBody) -> tuple[Response, int]:
    """Let a pass in, exactly once: unreadable, forged or replaced → 400; not the seller
    or door staff → 401; in already → 409 saying when and by whom."""
    user = require_user()
    done = await door().check_in(data.token, user.id, user.email, data.scannedAt,
                                 data.scopeId)
    return jsonify(check_in_json(done)), 201


@blueprint.get("/doors/<scope_id>")
@signed_in
@document_response(DoorListResponse)
@refuses(404)
async def door_list(scope_id: str) -> Response:
    """The door's valid passes and what is in (the seller and door staff only)."""
    user = require_user()
    return jsonify(door_list_json(await door().door_list(scope_id, user.id, user.email)))


@blueprint.get("/doors/<scope_id>/staff")
@signed_in
@document_response(StaffResponse)
@refuses(404)
async def staff(scope_id: str) -> Response:
    """Who may check passes in at this door (the seller only)."""
    return jsonify({"staff": await door().door_staff(scope_id, require_user().id)})


@blueprint.post("/doors/<scope_id>/staff")
@signed_in
@validate_request(StaffBody)
@document_response(StaffResponse, 201)
@refuses(404)
async def add_staff(scope_id: str, data: StaffBody) -> tuple[Response, int]:
    """Name someone door staff by the email they sign in with (the seller only)."""
    named = await door().add_door_staff(scope_id, require_user().id, data.email)
    return jsonify({"staff": named}), 201


@blueprint.delete("/doors/<scope_id>/staff/<email>")
@signed_in
@document_response(StaffResponse)
@refuses(400, 404)
async def remove_staff(scope_id: str, email: str) -> Response:
    """Take someone off this door's staff (the seller only; 404 if not on it)."""
    named = parse_form(StaffBody, {"email": email}).email  # as it was named: normalised
    return jsonify({"staff": await door().remove_door_staff(scope_id, require_user().id,
                                                            named)})
