"""``/api/events``: create, list and show events of many tickets."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify
from quart_schema import document_response, validate_request

from ticketing.web.shell.session import require_user, signed_in
from ticketing.web.tickets.event_schemas import (
    EventListResponse,
    EventResponse,
    NewEventBody,
    event_json,
)
from ticketing.web.tickets.routes import tickets

blueprint = Blueprint("api_events", __name__, url_prefix="/api/events")

LISTED_EVENTS = 100


@blueprint.get("")
@document_response(EventListResponse)
async def list_events() -> Response:
    """The newest events, each with its remaining count."""
    return jsonify([event_json(e) for e in await tickets().list_events(LISTED_EVENTS)])


@blueprint.get("/<event_id>")
@document_response(EventResponse)
async def show_event(event_id: str) -> Response:
    """One event with how many of its tickets are neither held nor sold; 404 when unknown."""
    return jsonify(event_json(await tickets().get_event(event_id)))


@blueprint.post("")
@signed_in
@validate_request(NewEventBody)
@document_response(EventResponse, 201)
async def create_event(data: NewEventBody) -> tuple[Response, int]:
    """Create an event of ``quantity`` tickets (signed in); each is an ordinary ticket
    carrying ``eventId``."""
    event = await tickets().create_event(require_user().id, data.plan())
    return jsonify(event_json(event)), 201
