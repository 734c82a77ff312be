"""``/api/waitlist/<scope id>`` (join, see your place and offer, leave), the page
``/waitlist/<scope id>``, and ``GET /live/waitlist/<scope id>``: your offer the moment a
ticket comes back (``event: offer``). A scope is an event, or a ticket of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field
from quart import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
)
from quart_schema import document_response
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.bus.contracts import Envelope, WaitlistOffered
from ticketing.errors import DomainError, NotFound
from ticketing.modules.orders.api import WaitlistPlace
from ticketing.web.orders.routes import orders
from ticketing.web.shell.live import event_stream, hub_of, live_stream, sse
from ticketing.web.shell.openapi import refuses
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.session import current_user, require_user, signed_in

blueprint = Blueprint("api_waitlist", __name__, url_prefix="/api/waitlist")
pages = Blueprint("pages_waitlist", __name__, template_folder="templates")


class OfferResponse(BaseModel):
    ticketId: str = Field(description="Yours alone to reserve until ``until``")
    until: datetime = Field(description="ISO 8601 in UTC, ending in Z")


class WaitlistPlaceResponse(BaseModel):
    """Where you stand: ``position`` 1 is next; 0 while an offer is yours."""

    scopeId: str
    title: str = Field(description="The event's, or the ticket's")
    position: int
    joinedAt: datetime = Field(description="ISO 8601 in UTC, ending in Z")
    offer: OfferResponse | None


class LeftResponse(BaseModel):
    """Off the list; no body."""


def place_json(place: WaitlistPlace) -> dict[str, Any]:
    offer = None if place.offer_ticket_id is None else {
        "ticketId": place.offer_ticket_id, "until": wire_time(place.offer_until)}
    return {"scopeId": place.scope_id, "title": place.title, "position": place.position,
            "joinedAt": wire_time(place.joined_at), "offer": offer}


@blueprint.post("/<scope_id>")
@signed_in
@document_response(WaitlistPlaceResponse, 201)
@refuses(400, 404)
async def join_waitlist(scope_id: str) -> tuple[Response, int]:
    """Be told when a ticket of this sold-out event (or ticket) comes back: the first in
    line gets it alone for a few minutes. While one is free → 400."""
    return jsonify(place_json(await orders().join_waitlist(require_user().id, scope_id))), 201


@blueprint.get("/<scope_id>")
@signed_in
@document_response(WaitlistPlaceResponse)
@refuses(404)
async def waitlist_place(scope_id: str) -> Response:
    """Your place on the waitlist, and your offer once a ticket came back."""
    return jsonify(place_json(await orders().waitlist_place(require_user().id, scope_id)))


@blueprint.delete("/<scope_id>")
@signed_in
@document_response(LeftResponse, 204)
@refuses(404)
async def leave_waitlist(scope_id: str) -> tuple[str, int]:
    """Leave the waitlist; an offer of yours goes to the next in line."""
    await orders().leave_waitlist(require_user().id, scope_id)
    return "", 204


@pages.route("/waitlist/<scope_id>", methods=["GET", "POST"])
async def waitlist_page(scope_id: str) -> tuple[str, int] | WerkzeugResponse:
    """Join (POST), or see your place and, once it came, your offer with Reserve."""
    user = current_user()
    if user is None:
        return redirect("/auth/signin?" + urlencode({"next": f"/waitlist/{scope_id}"}))
    error: DomainError | None = None
    if request.method == "POST":
        try:
            await orders().join_waitlist(user.id, scope_id)
            return redirect(f"/waitlist/{scope_id}", 303)
        except DomainError as refused:
            if isinstance(refused, NotFound):
                raise
            error = refused
    try:
        found: dict[str, Any] | None = place_json(
            await orders().waitlist_place(user.id, scope_id))
    except NotFound:
        found = None
    html = await render_template("orders/waitlist.html", scope_id=scope_id, place=found,
                                 error=error.message if error else None)
    return html, error.status if error else 200


@pages.get("/live/waitlist/<scope_id>")
async def live_offer(scope_id: str) -> Response:
    """Your offer on this waitlist as soon as a ticket comes back to you."""
    user = require_user()
    facade = orders()  # the stream outlives the request context
    await facade.waitlist_place(user.id, scope_id)  # 404 when not on it: before streaming

    def wants(envelope: Envelope) -> bool:
        event = envelope.event
        return isinstance(event, WaitlistOffered) and event.scope_id == scope_id \
            and event.user_id == user.id

    def render(envelope: Envelope) -> str:
        event = envelope.event
        assert isinstance(event, WaitlistOffered)
        return sse("offer", {"ticketId": event.ticket_id, "until": wire_time(event.until)})

    async def opening() -> str:
        """An offer that came before the stream opened, so the page does not miss it."""
        found = place_json(await facade.waitlist_place(user.id, scope_id))
        return sse("offer", found["offer"]) if found["offer"] else ""

    return event_stream(live_stream(hub_of(current_app), wants, render, opening))
