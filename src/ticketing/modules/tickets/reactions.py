"""What tickets does when orders change: holds placed, released and made permanent.

:func:`~.holds.hold_verdict` decides; this applies the verdict inside the consumer's
transaction, with the order's state and the ticket locked.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import (
    OPEN_ORDER_STATUSES,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderStatus,
)
from ticketing.bus.outbox import UnitOfWork
from ticketing.modules.tickets.holds import Hold, Verdict, hold_verdict
from ticketing.modules.tickets.models import OrderState, Ticket


async def on_order_created(event: OrderCreated, unit: UnitOfWork) -> None:
    """The order holds the ticket, unless another still-open order already does."""
    await _order_changed(unit, event.id, event.ticket.id, event.version, OrderStatus.CREATED)


async def on_order_cancelled(event: OrderCancelled, unit: UnitOfWork) -> None:
    """Free the ticket only if this very order holds it (a late cancel is a no-op)."""
    await _order_changed(unit, event.id, event.ticket.id, event.version,
                         OrderStatus.CANCELLED)


async def on_order_completed(event: OrderCompleted, unit: UnitOfWork) -> None:
    """The order was paid: the ticket is sold for good."""
    await _order_changed(unit, event.id, event.ticket.id, event.version, OrderStatus.COMPLETE)


SUBSCRIPTIONS: Subscriptions = {
    OrderCreated: on_order_created,
    OrderCancelled: on_order_cancelled,
    OrderCompleted: on_order_completed,
}


async def _order_changed(unit: UnitOfWork, order_id: str, ticket_id: str, version: int,
                         status: OrderStatus) -> None:
    """Record the order's new state unless stale, and move the ticket as the verdict says."""
    connection = unit.connection
    state = await OrderState.filter(order_id=order_id).using_db(connection) \
        .select_for_update().first()
    ticket = await Ticket.filter(id=ticket_id).using_db(connection) \
        .select_for_update().first()
    current = Hold(ticket.order_id, ticket.sold) if ticket is not None else None
    verdict = hold_verdict(
        order_id, version, status, seen_version=state.version if state else None,
        ticket=current, holder_status=await _status_of(connection, current))
    if verdict is Verdict.STALE:
        return
    await OrderState.update_or_create(
        order_id=order_id,
        defaults={"ticket_id": ticket_id, "version": version, "status": status},
        using_db=connection,
    )
    if ticket is None or verdict in (Verdict.SETTLED, Verdict.REFUSED):
        return
    if verdict is Verdict.RELEASE:
        target = Hold(await _newest_open_order(connection, ticket_id, other_than=order_id))
    else:
        target = Hold(order_id, sold=verdict is Verdict.SELL)
    if target == current:
        return
    ticket.order_id, ticket.sold = target.order_id, target.sold
    ticket.version += 1
    await ticket.save(using_db=connection, update_fields=["order_id", "sold", "version"])
    await unit.publish(ticket.updated_event())


async def _status_of(connection: BaseDBAsyncClient, hold: Hold | None) -> OrderStatus | None:
    """The latest status seen of the order holding the ticket, if any."""
    if hold is None or hold.order_id is None:
        return None
    state = await OrderState.get_or_none(order_id=hold.order_id, using_db=connection)
    return OrderStatus(state.status) if state is not None else None


async def _newest_open_order(connection: BaseDBAsyncClient, ticket_id: str, *,
                             other_than: str) -> str | None:
    """The newest order still open for the ticket besides ``other_than``: one whose creation
    arrived while ``other_than`` held it."""
    successor = await OrderState.filter(ticket_id=ticket_id, status__in=OPEN_ORDER_STATUSES) \
        .exclude(order_id=other_than).using_db(connection).order_by("-order_id").first()
    return successor.order_id if successor is not None else None
