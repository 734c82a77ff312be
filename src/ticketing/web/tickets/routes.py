"""``/api/tickets``: list, show, create and edit tickets."""

from __future__ import annotations

from urllib.parse import urlencode

from quart import Blueprint, Response, jsonify, request
from quart_schema import document_response, validate_querystring, validate_request

from ticketing.modules.tickets.api import Tickets
from ticketing.web.shell.openapi import refuses
from ticketing.web.shell.runtime import facade
from ticketing.web.shell.session import require_user, signed_in
from ticketing.web.tickets.schemas import (
    ListingQuery,
    NewTicketBody,
    TicketEditBody,
    TicketListResponse,
    TicketResponse,
    ticket_json,
)

blueprint = Blueprint("api_tickets", __name__, url_prefix="/api/tickets")


def tickets() -> Tickets:
    """The tickets facade of this process."""
    found = facade("tickets")
    assert isinstance(found, Tickets)
    return found


@blueprint.get("")
@validate_querystring(ListingQuery)
@document_response(TicketListResponse)
async def list_tickets(query_args: ListingQuery) -> Response:
    """Tickets for sale (not reserved), newest first; ``Link: rel="next"`` when more exist."""
    page = await tickets().list_available(query_args.limit, query_args.before)
    response = jsonify([ticket_json(t) for t in page.tickets])
    if page.next_before:
        query = urlencode({"limit": query_args.limit, "before": page.next_before})
        response.headers["Link"] = f'<{request.base_url}?{query}>; rel="next"'
    return response


@blueprint.get("/<ticket_id>")
@document_response(TicketResponse)
async def show_ticket(ticket_id: str) -> Response:
    """One ticket; 404 when unknown."""
    return jsonify(ticket_json(await tickets().get(ticket_id)))


@blueprint.post("")
@signed_in
@validate_request(NewTicketBody)
@document_response(TicketResponse, 201)
async def create_ticket(data: NewTicketBody) -> tuple[Response, int]:
    """List a ticket for sale (signed in)."""
    user = require_user()
    created = await tickets().create(user.id, data.title, data.price, data.refundDays)
    return jsonify(ticket_json(created)), 201


@blueprint.put("/<ticket_id>")
@signed_in
@validate_request(TicketEditBody)
@document_response(TicketResponse)
@refuses(409)
async def update_ticket(ticket_id: str, data: TicketEditBody) -> Response:
    """Edit your ticket: 404, reserved → 400, not yours → 401, concurrent edit → 409."""
    user = require_user()
    edited = await tickets().update(ticket_id, user.id, data.title, data.price, data.version)
    return jsonify(ticket_json(edited))
