"""``/api/orders``: reserve a ticket, list, show, cancel and refund your orders."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify
from quart_schema import document_response, validate_request

from ticketing.modules.orders.api import Orders
from ticketing.web.orders.schemas import (
    CancelledResponse,
    NewOrderBody,
    OrderListResponse,
    OrderResponse,
    order_json,
)
from ticketing.web.shell.openapi import refuses
from ticketing.web.shell.runtime import facade
from ticketing.web.shell.session import require_user, signed_in

blueprint = Blueprint("api_orders", __name__, url_prefix="/api/orders")


def orders() -> Orders:
    """The orders facade of this process."""
    found = facade("orders")
    assert isinstance(found, Orders)
    return found


@blueprint.post("")
@signed_in
@validate_request(NewOrderBody)
@document_response(OrderResponse, 201)
@refuses(404)
async def create_order(data: NewOrderBody) -> tuple[Response, int]:
    """Reserve a ticket, or ``quantity`` tickets of an event, for the payment window;
    400 when someone else holds the ticket, too few are left or past your limit."""
    user = require_user()
    if data.eventId is not None:
        order = await orders().reserve_from_event(user.id, data.eventId, data.quantity,
                                                  data.admission)
    else:
        assert data.ticketId is not None, "the body's rule requires one of the two"
        order = await orders().reserve(user.id, data.ticketId, data.admission)
    return jsonify(order_json(order)), 201


@blueprint.get("")
@signed_in
@document_response(OrderListResponse)
async def list_orders() -> Response:
    """Your orders, oldest first, each with its ticket."""
    return jsonify([order_json(o) for o in await orders().list_for(require_user().id)])


@blueprint.get("/<order_id>")
@signed_in
@document_response(OrderResponse)
async def show_order(order_id: str) -> Response:
    """One of your orders; 404 unknown, 401 someone else's."""
    return jsonify(order_json(await orders().get(require_user().id, order_id)))


@blueprint.post("/<order_id>/refund")
@signed_in
@document_response(OrderResponse, 202)
@refuses(400, 404)
async def refund_order(order_id: str) -> tuple[Response, int]:
    """Ask for a paid order's money back inside its refund window (202: under way; the
    order is cancelled and refunded once its tickets are taken back, or ``refund``
    says why not). No window, closed, or already asked → 400."""
    order = await orders().refund(require_user().id, order_id)
    return jsonify(order_json(order)), 202


@blueprint.delete("/<order_id>")
@signed_in
@document_response(CancelledResponse, 204)
@refuses(400)
async def cancel_order(order_id: str) -> tuple[str, int]:
    """Cancel an order (204); a paid order cannot be cancelled."""
    await orders().cancel(require_user().id, order_id)
    return "", 204
