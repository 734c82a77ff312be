"""Closing an order: the one write that cancels or completes it, and its announcement."""

from __future__ import annotations

from ticketing.bus.contracts import OrderCancelled, OrderCompleted, OrderStatus, TicketRef
from ticketing.bus.outbox import UnitOfWork
from ticketing.modules.orders import allocation
from ticketing.modules.orders.models import Order, OrderLine
from ticketing.telemetry import metrics

CLOSED = (OrderStatus.COMPLETE, OrderStatus.CANCELLED)


async def close_order(unit: UnitOfWork, order_id: str, status: OrderStatus,
                      payment_id: str | None = None, *, expired: bool = False) -> bool:
    """Move an open order to ``status`` (version + 1) and publish it; False if closed.
    A cancelled order hands its tickets back.

    Once it commits the final state is counted: complete, cancelled, or (``expired``) a
    cancel by the reservation window's end."""
    order = await Order.filter(id=order_id).using_db(unit.connection) \
        .select_for_update().first()
    if order is None or order.status in CLOSED:
        return False
    order.status = status
    order.version += 1
    await order.save(using_db=unit.connection, update_fields=["status", "version"])
    lines = await OrderLine.filter(order_id=order.id).using_db(unit.connection).order_by("id")
    tickets = tuple(TicketRef(id=line.ticket_id) for line in lines)
    state = "expired" if expired else status.value
    unit.after_commit(metrics.ORDERS_CLOSED.labels(state).inc)
    if status == OrderStatus.CANCELLED:
        await allocation.release(unit.connection, order.id, order.user_id, order.event_id,
                                 order.quantity)
        await unit.publish(OrderCancelled(id=order.id, version=order.version,
                                          ticket=tickets[0], tickets=tickets))
    else:
        await unit.publish(OrderCompleted(id=order.id, version=order.version,
                                          ticket=tickets[0], tickets=tickets,
                                          payment_id=payment_id, user_id=order.user_id))
    return True
