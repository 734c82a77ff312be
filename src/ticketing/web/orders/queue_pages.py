"""The queue page (``/queue/<event id>``): join, wait with your place and an estimate,
and reserve once let in; and the seller's page to watch and steer the queue. They work
without JavaScript (the waiting page refreshes itself); ``queue.js`` makes them live."""

from __future__ import annotations

from urllib.parse import urlencode

from quart import Blueprint, redirect, render_template, request
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError
from ticketing.web.orders.queue_schemas import RoomChangeBody, place_json, room_json
from ticketing.web.orders.routes import orders
from ticketing.web.shell.forms import sign_in_redirect
from ticketing.web.shell.purchase import purchase_refusal
from ticketing.web.shell.session import current_user
from ticketing.web.shell.validation import parse_form

blueprint = Blueprint("pages_queue", __name__, url_prefix="/queue",
                      template_folder="templates")

Page = tuple[str, int]


@blueprint.get("/<event_id>")
async def queue(event_id: str) -> Page | WerkzeugResponse:
    """Your place in the event's queue (joining if you had none)."""
    user = current_user()
    if user is None:
        return redirect("/auth/signin?" + urlencode({"next": f"/queue/{event_id}"}))
    place = await orders().join_queue(user.id, event_id)
    message, status = purchase_refusal(request.args.get("purchase")) or (None, 200)
    html = await render_template("orders/queue.html", place=place_json(place), error=message)
    return html, status


async def _manage_page(event_id: str, user_id: str, error: DomainError | None = None) -> Page:
    room = await orders().queue_room(user_id, event_id)
    html = await render_template("orders/queue-manage.html", room=room_json(room),
                                 error=error.message if error else None)
    return html, error.status if error else 200


@blueprint.route("/<event_id>/manage", methods=["GET", "POST"])
async def manage(event_id: str) -> Page | WerkzeugResponse:
    """The seller's view of the queue: its length, who was let in, the rate; pause,
    resume or change the rate."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    if request.method == "GET":
        return await _manage_page(event_id, user.id)
    try:
        change = parse_form(RoomChangeBody, await request.form)
        await orders().configure_queue(user.id, event_id, paused=change.paused,
                                       rate_per_minute=change.ratePerMinute)
    except DomainError as error:
        return await _manage_page(event_id, user.id, error)
    return redirect(f"/queue/{event_id}/manage", 303)
