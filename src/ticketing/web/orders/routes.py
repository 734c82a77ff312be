"""``/api/orders``: reserve a ticket, list, show and cancel your orders."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify
from quart_schema import validate_request

from ticketing.modules.orders.api import OrdersApi
from ticketing.web.orders.schemas import NewOrderBody
from ticketing.web.shell.runtime import facade
from ticketing.web.shell.session import require_user, signed_in

blueprint = Blueprint("api_orders", __name__, url_prefix="/api/orders")


def orders() -> OrdersApi:
    return facade("orders", OrdersApi)


@blueprint.post("")
@signed_in
@validate_request(NewOrderBody)
async def create_order(data: NewOrderBody) -> tuple[Response, int]:
    """Reserve a ticket for the payment window; 400 when someone else holds it."""
    user = require_user()
    return jsonify(await orders().reserve(user.id, data.ticketId)), 201


@blueprint.get("")
async def list_orders() -> Response:
    """Your orders, oldest first, each with its ticket."""
    return jsonify(await orders().list_for(require_user().id))


@blueprint.get("/<order_id>")
async def show_order(order_id: str) -> Response:
    """One of your orders; 404 unknown, 401 someone else's."""
    return jsonify(await orders().get(require_user().id, order_id))


@blueprint.delete("/<order_id>")
async def cancel_order(order_id: str) -> tuple[str, int]:
    """Cancel an order (204); a paid order cannot be cancelled."""
    await orders().cancel(require_user().id, order_id)
    return "", 204
