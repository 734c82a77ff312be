"""What expiration does when orders change: a deadline stored per open order, dropped
when the order closes first.

Each reaction is one statement, written once per dialect (as ``bus/sql.py`` does for
the outbox): an order event arrives for every reservation, and building the query
through the ORM cost more than running it.
"""

from __future__ import annotations

from functools import cache

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import OrderCancelled, OrderCompleted, OrderCreated
from ticketing.bus.outbox import UnitOfWork
from ticketing.bus.sql import dialect_of, parameters


@cache
def _store(dialect: str) -> str:
    p = parameters(dialect)
    return (f"INSERT INTO expiration_pending (order_id, expires_at) VALUES ({p(1)}, {p(2)}) "
            "ON CONFLICT (order_id) DO NOTHING")


@cache
def _drop(dialect: str) -> str:
    return f"DELETE FROM expiration_pending WHERE order_id = {parameters(dialect)(1)}"


async def on_order_created(event: OrderCreated, unit: UnitOfWork) -> None:
    """Store the order's deadline (once, however often the event arrives)."""
    connection = unit.connection
    await connection.execute_query(_store(dialect_of(connection)),
                                   [event.id, event.expires_at])


async def on_order_closed(event: OrderCancelled | OrderCompleted, unit: UnitOfWork) -> None:
    """The order ended first: drop its timer."""
    connection = unit.connection
    await connection.execute_query(_drop(dialect_of(connection)), [event.id])


SUBSCRIPTIONS: Subscriptions = {
    OrderCreated: on_order_created,
    OrderCancelled: on_order_closed,
    OrderCompleted: on_order_closed,
}
