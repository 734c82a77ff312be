"""Closing an order: the one write that cancels or completes it, and its announcement;
and cancelling a paid one whose refund tickets granted."""

from __future__ import annotations

from datetime import datetime, timedelta

from ticketing.bus.contracts import OrderCancelled, OrderCompleted, OrderStatus, TicketRef
from ticketing.bus.outbox import UnitOfWork
from ticketing.clock import utc_now
from ticketing.modules.orders import allocation, waitlist
from ticketing.modules.orders.models import EventReplica, Order, OrderLine, TicketReplica
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
    tickets = await _tickets_of(unit, order.id)
    order.status = status
    order.version += 1
    if status == OrderStatus.COMPLETE:
        order.refundable_until = await _refundable_until(unit, tickets, order.event_id)
    await order.save(using_db=unit.connection,
                     update_fields=["status", "version", "refundable_until"])
    state = "expired" if expired else status.value
    unit.after_commit(metrics.ORDERS_CLOSED.labels(state).inc)
    if status == OrderStatus.CANCELLED:
        await _cancelled(unit, order, tickets, state)
    else:
        await unit.publish(OrderCompleted(id=order.id, version=order.version,
                                          ticket=tickets[0], tickets=tickets,
                                          payment_id=payment_id, user_id=order.user_id))
    return True


async def refund_order(unit: UnitOfWork, order_id: str) -> bool:
    """Cancel a paid order whose tickets tickets took back: its tickets are free here
    too, and ``order:cancelled`` has payments give the money back. False if it is not a
    paid order (refunded already)."""
    order = await Order.filter(id=order_id).using_db(unit.connection) \
        .select_for_update().first()
    if order is None or order.status != OrderStatus.COMPLETE:
        return False
    order.status, order.refunded_at = OrderStatus.CANCELLED, utc_now()
    order.version += 1
    await order.save(using_db=unit.connection,
                     update_fields=["status", "version", "refunded_at"])
    unit.after_commit(metrics.ORDERS_CLOSED.labels("refunded").inc)
    tickets = await _tickets_of(unit, order.id)
    await TicketReplica.filter(id__in=[t.id for t in tickets]).using_db(unit.connection) \
        .update(resold_by=None)  # an ordinary ticket again, whoever resold it before
    await _cancelled(unit, order, tickets, "refunded")
    return True


async def _tickets_of(unit: UnitOfWork, order_id: str) -> tuple[TicketRef, ...]:
    lines = await OrderLine.filter(order_id=order_id).using_db(unit.connection).order_by("id")
    return tuple(TicketRef(id=line.ticket_id) for line in lines)


async def _cancelled(unit: UnitOfWork, order: Order, tickets: tuple[TicketRef, ...],
                     reason: str) -> None:
    """The order hands its tickets back (the first on their waitlists get them first),
    and says so, and why: expired, cancelled or refunded."""
    freed = await allocation.release(unit.connection, order.id, order.user_id,
                                     order.event_id, order.quantity)
    await waitlist.offer(unit, freed, utc_now())
    await unit.publish(OrderCancelled(id=order.id, version=order.version,
                                      ticket=tickets[0], tickets=tickets, reason=reason))


async def _refundable_until(unit: UnitOfWork, tickets: tuple[TicketRef, ...],
                            event_id: str | None) -> datetime | None:
    """The end of a paid order's refund window, from now: its tickets' shortest (none if
    any of them has none), and never past the start of their event (none once begun)."""
    replicas = await TicketReplica.filter(id__in=[t.id for t in tickets]) \
        .using_db(unit.connection).only("id", "refund_days")
    shortest = min((r.refund_days for r in replicas), default=0)
    if shortest <= 0:
        return None
    now = utc_now()
    until = now + timedelta(days=shortest)
    event = await EventReplica.get_or_none(id=event_id, using_db=unit.connection) \
        if event_id else None
    if event is not None and event.starts_at is not None:
        until = min(until, event.starts_at)
    return until if until > now else None
