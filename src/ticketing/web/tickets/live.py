"""``GET /live/tickets``: the listing follows tickets as they are listed, edited, reserved,
sold and freed (``event: ticket``; a unit of an event names it in ``eventId``) and events
as they are created (``event: event``), through the shell's live hub.

A unit's message does not carry its event's remaining count (counting on every hold
would put work on the sale's hot path): the page re-reads ``/api/events/<id>`` at most a
few times a second while its units move."""

from __future__ import annotations

from quart import Blueprint, Response, current_app

from ticketing.bus.contracts import Envelope, EventCreated, TicketCreated, TicketUpdated
from ticketing.web.shell.live import event_stream, hub_of, live_stream, sse

blueprint = Blueprint("live_tickets", __name__, url_prefix="/live")

LISTING_TYPES = frozenset({TicketCreated.WIRE_TYPE, TicketUpdated.WIRE_TYPE,
                           EventCreated.WIRE_TYPE})


def listing_message(envelope: Envelope) -> str:
    event = envelope.event
    if isinstance(event, EventCreated):
        return sse("event", {"id": event.id, "title": event.title,
                             "price": float(event.price), "remaining": event.quantity})
    assert isinstance(event, TicketCreated | TicketUpdated)
    message = {"id": event.id, "title": event.title, "price": float(event.price),
               "version": event.version,
               "available": getattr(event, "order_id", None) is None}
    event_id = getattr(event, "event_id", None)
    if event_id is not None:
        message["eventId"] = event_id
    return sse("ticket", message)


@blueprint.get("/tickets")
async def tickets() -> Response:
    """Tickets as they change (``event: ticket``), new events (``event: event``)."""

    def wants(envelope: Envelope) -> bool:
        return envelope.type in LISTING_TYPES

    return event_stream(live_stream(hub_of(current_app), wants, listing_message))
