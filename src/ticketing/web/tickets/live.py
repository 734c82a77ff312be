"""``GET /live/tickets``: the listing follows tickets as they are listed, edited, reserved,
sold and freed (``event: ticket``), through the shell's live hub."""

from __future__ import annotations

from quart import Blueprint, Response, current_app

from ticketing.bus.contracts import Envelope, TicketCreated, TicketUpdated
from ticketing.web.shell.live import event_stream, hub_of, live_stream, sse

blueprint = Blueprint("live_tickets", __name__, url_prefix="/live")

TICKET_TYPES = frozenset({TicketCreated.WIRE_TYPE, TicketUpdated.WIRE_TYPE})


def ticket_message(envelope: Envelope) -> str:
    event = envelope.event
    assert isinstance(event, TicketCreated | TicketUpdated)
    return sse("ticket", {
        "id": event.id, "title": event.title, "price": float(event.price),
        "version": event.version,
        "available": getattr(event, "order_id", None) is None,
    })


@blueprint.get("/tickets")
async def tickets() -> Response:
    """Tickets as they change (``event: ticket``)."""

    def wants(envelope: Envelope) -> bool:
        return envelope.type in TICKET_TYPES

    return event_stream(live_stream(hub_of(current_app), wants, ticket_message))
