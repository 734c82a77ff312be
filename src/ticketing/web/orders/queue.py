"""``/api/queue/<event id>``: join an event's queue, see your place (and, once let in,
your admission token); the seller's figures and controls; and ``GET /live/queue/<event
id>``, the room's figures as they move (``event: room``)."""

from __future__ import annotations

from quart import Blueprint, Response, current_app, jsonify
from quart_schema import document_response, validate_request

from ticketing.bus.contracts import Envelope, WaitingRoomAdvanced
from ticketing.web.orders.queue_schemas import (
    QueuePlaceResponse,
    RoomChangeBody,
    RoomResponse,
    place_json,
    room_json,
)
from ticketing.web.orders.routes import orders
from ticketing.web.shell.live import event_stream, hub_of, live_stream, sse
from ticketing.web.shell.openapi import refuses
from ticketing.web.shell.session import require_user, signed_in

blueprint = Blueprint("api_queue", __name__, url_prefix="/api/queue")
live_blueprint = Blueprint("live_queue", __name__, url_prefix="/live")


@blueprint.post("/<event_id>")
@signed_in
@document_response(QueuePlaceResponse)
@refuses(400)
async def join(event_id: str) -> Response:
    """Take a place in the event's queue, or keep yours (a refresh does not lose it)."""
    return jsonify(place_json(await orders().join_queue(require_user().id, event_id)))


@blueprint.get("/<event_id>")
@signed_in
@document_response(QueuePlaceResponse)
@refuses(400)
async def place(event_id: str) -> Response:
    """Your place; once you are let in, the admission token to reserve with."""
    return jsonify(place_json(await orders().queue_place(require_user().id, event_id)))


@blueprint.get("/<event_id>/room")
@signed_in
@document_response(RoomResponse)
@refuses(400)
async def room(event_id: str) -> Response:
    """The queue's length, who was let in and the rate (the event's seller only)."""
    return jsonify(room_json(await orders().queue_room(require_user().id, event_id)))


@blueprint.put("/<event_id>/room")
@signed_in
@validate_request(RoomChangeBody)
@document_response(RoomResponse)
async def change_room(event_id: str, data: RoomChangeBody) -> Response:
    """Pause or resume letting buyers in, or change the rate (the seller only)."""
    changed = await orders().configure_queue(require_user().id, event_id, paused=data.paused,
                                             rate_per_minute=data.ratePerMinute)
    return jsonify(room_json(changed))


def room_message(event: WaitingRoomAdvanced) -> str:
    return sse("room", {"eventId": event.event_id, "ranked": event.ranked,
                        "admittedRank": event.admitted_rank,
                        "ratePerMinute": event.rate_per_minute, "paused": event.paused,
                        "soldOut": event.sold_out})


@live_blueprint.get("/queue/<event_id>")
async def live_room(event_id: str) -> Response:
    """The room's figures as they move; a queue page works out its own place from them."""

    def wants(envelope: Envelope) -> bool:
        return isinstance(envelope.event, WaitingRoomAdvanced) \
            and envelope.event.event_id == event_id

    def render(envelope: Envelope) -> str:
        assert isinstance(envelope.event, WaitingRoomAdvanced)
        return room_message(envelope.event)

    return event_stream(live_stream(hub_of(current_app), wants, render))
