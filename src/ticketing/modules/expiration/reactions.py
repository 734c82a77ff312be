"""What expiration does when orders change: a deadline stored per open order, dropped
when the order closes first."""

from __future__ import annotations

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import OrderCancelled, OrderCompleted, OrderCreated
from ticketing.bus.outbox import UnitOfWork
from ticketing.modules.expiration.models import PendingExpiration


async def on_order_created(event: OrderCreated, unit: UnitOfWork) -> None:
    """Store the order's deadline (once, however often the event arrives)."""
    await PendingExpiration.get_or_create(
        order_id=event.id, defaults={"expires_at": event.expires_at},
        using_db=unit.connection,
    )


async def on_order_closed(event: OrderCancelled | OrderCompleted, unit: UnitOfWork) -> None:
    """The order ended first: drop its timer."""
    await PendingExpiration.filter(order_id=event.id).using_db(unit.connection).delete()


SUBSCRIPTIONS: Subscriptions = {
    OrderCreated: on_order_created,
    OrderCancelled: on_order_closed,
    OrderCompleted: on_order_closed,
}
