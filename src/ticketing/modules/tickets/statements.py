"""The statements of tickets' reactions to orders, written once per dialect.

The common moves are one statement each, guarded in its WHERE clause instead of a locked
read followed by a write: an order's new state is an upsert that only a newer version
gets through (so it is also the one staleness check), and a free ticket held or a paid
one sold is one guarded ``UPDATE … RETURNING``. Anything else (another order holds the
ticket, the ticket is unknown here, or the order let go) returns no row, or is not tried,
and takes the general path, which locks and decides with :func:`~.holds.hold_verdict`.

A release stays on the general path: who is waiting for the ticket must be read after
its lock is held. A guarded ``NOT EXISTS`` over the waiting orders reads them as the
statement began, before it waited for the lock, and could miss an order that another
consumer refused the ticket to and committed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ticketing.bus.contracts import OrderStatus, TicketUpdated
from ticketing.bus.sql import dialect_of, parameters

_COLUMNS = "id, title, price, user_id, version, order_id, event_id"


@dataclass(frozen=True)
class _Statements:
    record_state: str
    hold: str
    sell: str


@cache
def _statements(dialect: str) -> _Statements:
    p = parameters(dialect)
    returning = f"RETURNING {_COLUMNS}"
    return _Statements(
        record_state=(
            "INSERT INTO tickets_order_states AS s "
            "(order_id, version, status, expires_at, buyer_id) "
            f"VALUES ({p(1)}, {p(2)}, {p(3)}, {p(4)}, {p(5)}) ON CONFLICT (order_id) DO UPDATE "
            "SET version = excluded.version, status = excluded.status, "
            "expires_at = COALESCE(excluded.expires_at, s.expires_at), "
            "buyer_id = COALESCE(excluded.buyer_id, s.buyer_id) "
            "WHERE s.version < excluded.version RETURNING order_id"),
        hold=(f"UPDATE tickets_tickets SET order_id = {p(1)}, version = version + 1 "
              f"WHERE id = {p(2)} AND NOT sold AND order_id IS NULL {returning}"),
        sell=(f"UPDATE tickets_tickets SET order_id = {p(1)}, sold = TRUE, "
              f"version = version + 1 WHERE id = {p(2)} AND NOT sold {returning}"),
    )


async def record_state(connection: BaseDBAsyncClient, order_id: str, version: int,
                       status: OrderStatus, expires_at: datetime | None = None,
                       buyer_id: str | None = None) -> bool:
    """Record the order's state (and, from its creation, when its hold ends and whose it
    is: the seller's view shows the one, passes are issued to the other); False if this
    version of it, or a newer one, was already."""
    rows = await connection.execute_query_dict(
        _statements(dialect_of(connection)).record_state,
        [order_id, version, status.value, _stored_time(connection, expires_at), buyer_id])
    return bool(rows)


async def move_plainly(connection: BaseDBAsyncClient, order_id: str, ticket_id: str,
                       status: OrderStatus) -> TicketUpdated | None:
    """The ticket moved as the order's new state plainly says, announced as it is now;
    None when the move is not plain (the general path decides)."""
    statements = _statements(dialect_of(connection))
    if status == OrderStatus.CREATED:
        statement = statements.hold
    elif status == OrderStatus.COMPLETE:
        statement = statements.sell
    else:
        return None
    rows = await connection.execute_query_dict(statement, [order_id, ticket_id])
    return _updated(rows[0]) if rows else None


def _stored_time(connection: BaseDBAsyncClient, moment: datetime | None) -> Any:
    """A time as Tortoise's own field stores it: asyncpg takes the datetime, SQLite the
    ISO text Tortoise writes and reads back."""
    if moment is None or dialect_of(connection) == "postgres":
        return moment
    return moment.astimezone(UTC).isoformat(" ")


def _updated(row: dict[str, Any]) -> TicketUpdated:
    return TicketUpdated(
        id=str(row["id"]), version=int(row["version"]), title=str(row["title"]),
        price=Decimal(str(row["price"])).quantize(Decimal("0.01")),
        user_id=str(row["user_id"]), order_id=None if row["order_id"] is None
        else str(row["order_id"]), event_id=None if row["event_id"] is None
        else str(row["event_id"]))
