"""``GET /live/orders/<id>``: an order page follows its order as it is paid, cancelled or
expires (``event: order``), through the shell's live hub."""

from __future__ import annotations

from quart import Blueprint, Response, current_app

from ticketing.bus.contracts import Envelope, OrderCancelled, OrderCompleted, OrderStatus
from ticketing.web.orders.pages import STATUS_LABELS
from ticketing.web.orders.routes import orders
from ticketing.web.shell.live import event_stream, hub_of, live_stream, sse
from ticketing.web.shell.session import require_user

blueprint = Blueprint("live_orders", __name__, url_prefix="/live")

ORDER_STATUSES = {OrderCancelled.WIRE_TYPE: OrderStatus.CANCELLED,
                  OrderCompleted.WIRE_TYPE: OrderStatus.COMPLETE}


def order_message(order_id: str, status: str, version: int) -> str:
    return sse("order", {"id": order_id, "status": status, "version": version})


@blueprint.get("/orders/<order_id>")
async def order(order_id: str) -> Response:
    """One of my orders, its current state and then each change."""
    user = require_user()
    facade = orders()  # the stream outlives the request context
    await facade.get(user.id, order_id)  # 404 unknown, 401 someone else's: before streaming

    def wants(envelope: Envelope) -> bool:
        return envelope.type in ORDER_STATUSES and getattr(envelope.event, "id", None) == order_id

    def render(envelope: Envelope) -> str:
        event = envelope.event
        assert isinstance(event, OrderCancelled | OrderCompleted)
        return order_message(event.id, ORDER_STATUSES[envelope.type], event.version)

    async def current() -> str:
        found = await facade.get(user.id, order_id)
        return order_message(found.id, found.status, found.version)

    return event_stream(live_stream(hub_of(current_app), wants, render, current))


@blueprint.app_template_global("order_status_labels")
def order_status_labels() -> dict[str, str]:
    """What the order page's live script shows for each status."""
    return STATUS_LABELS
