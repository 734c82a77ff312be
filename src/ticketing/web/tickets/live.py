"""``GET /live/tickets``: the listing follows tickets as they are listed, edited, reserved,
sold and freed (``event: ticket``; a unit of an event names it in ``eventId``) and events
as they are created (``event: event``), through the shell's live hub.

A unit's message does not carry its event's remaining count (counting on every hold
would put work on the sale's hot path): the page re-reads ``/api/events/<id>`` at most a
few times a second while its units move.

``GET /live/doors/<id>`` follows a door's check-ins (``event: checkin``), for its seller
and staff: every door device of an event counts what the others let in."""

from __future__ import annotations

from quart import Blueprint, Response, current_app

from ticketing.bus.contracts import (
    Envelope,
    EventCreated,
    TicketCheckedIn,
    TicketCreated,
    TicketUpdated,
)
from ticketing.web.shell.live import event_stream, hub_of, live_stream, sse
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.session import require_user, signed_in
from ticketing.web.tickets.door import door

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


@blueprint.get("/doors/<scope_id>")
@signed_in
async def door_checkins(scope_id: str) -> Response:
    """Each pass let in at this door (``event: checkin``): the seller and staff only."""
    user = require_user()
    await door().door_scope(scope_id, user.id, user.email)

    def wants(envelope: Envelope) -> bool:
        return isinstance(envelope.event, TicketCheckedIn) \
            and envelope.event.scope_id == scope_id

    def render(envelope: Envelope) -> str:
        event = envelope.event
        assert isinstance(event, TicketCheckedIn)
        return sse("checkin", {"ticketId": event.ticket_id,
                               "checkedInAt": wire_time(event.checked_in_at),
                               "checkedInBy": event.checked_in_by})

    return event_stream(live_stream(hub_of(current_app), wants, render))
