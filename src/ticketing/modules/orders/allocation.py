"""Handing tickets out to orders and taking them back: the reservation's hot statements.

(``execute_query_dict`` for each ``… RETURNING``: Tortoise's asyncpg ``execute_query``
drops the rows of any statement that starts with UPDATE or INSERT.)

Each is written once per dialect (like ``bus/sql.py``): through the ORM, building the
query costs as much as running it. Nothing here takes an event-wide lock:

- a ticket is handed out by a guarded ``UPDATE … WHERE order_id IS NULL``; of an event's,
  PostgreSQL picks free rows ``FOR UPDATE SKIP LOCKED``, so a thousand buyers racing for
  one event each take different tickets instead of queueing on the same ones (SQLite
  has one writer at a time anyway);
- the unique partial index over active order lines (migration 0004) is the last word:
  an insert that would give a ticket a second active order fails;
- a buyer's per-event limit is one guarded upsert of their own holding row;
- a resale is never handed out to the one who put it on sale (``resold_by``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from ticketing.bus.sql import dialect_of, parameters

CENTS = Decimal("0.01")
# A ticket freed, and the scope of the waitlist it goes to first.
Freed = tuple[str, str]


@dataclass(frozen=True)
class HandedOut:
    """A ticket as handed out to an order."""

    id: str
    title: str
    price: Decimal
    version: int
    event_id: str | None
    # Whom it was offered to from its waitlist, if anyone (the buyer, or an offer ended).
    offered_to: str | None = None


@dataclass(frozen=True)
class _Statements:
    one: str
    from_event: str
    within_limit: str
    release_tickets: str
    release_lines: str
    release_holding: str
    free_resale: str
    release_resale_line: str
    withdraw_resale: str
    restore_resale_line: str


@cache
def _statements(dialect: str) -> _Statements:
    postgres = dialect == "postgres"
    p = parameters(dialect)
    returning = "RETURNING id, title, price, version, event_id, offered_to"
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    # Not the buyer's own resale, nor offered to someone else on its waitlist right now.
    may_take = (f"(resold_by IS NULL OR resold_by <> {p(3)}) AND (offered_to IS NULL "
                f"OR offered_to = {p(4)} OR offer_ends < {p(5)})")
    # The offer stays on the row (every statement that frees a ticket offers it anew), so
    # RETURNING tells whether the buyer took a ticket offered to them.
    take = f"SET order_id = {p(1)}"
    return _Statements(
        one=(f"UPDATE orders_tickets {take} WHERE id = {p(2)} "
             f"AND order_id IS NULL AND {may_take} {returning}"),
        from_event=(f"UPDATE orders_tickets {take} WHERE id IN "
                    f"(SELECT id FROM orders_tickets WHERE event_id = {p(2)} "
                    f"AND order_id IS NULL AND {may_take} ORDER BY id "
                    f"LIMIT {p(6)}{lock}) {returning}"),
        within_limit=(
            "INSERT INTO orders_buyer_holdings AS h (user_id, event_id, held) "
            f"VALUES ({p(1)}, {p(2)}, {p(3)}) ON CONFLICT (user_id, event_id) "
            "DO UPDATE SET held = h.held + excluded.held "
            f"WHERE h.held + excluded.held <= {p(4)} RETURNING held"),
        # Through the order's lines (indexed by order), not a scan of every ticket.
        release_tickets=(f"UPDATE orders_tickets SET order_id = NULL WHERE id IN "
                         f"(SELECT ticket_id FROM orders_order_lines WHERE order_id = {p(1)} "
                         f"AND active) AND order_id = {p(2)} RETURNING id, event_id"),
        release_lines=(f"UPDATE orders_order_lines SET active = FALSE "
                       f"WHERE order_id = {p(1)} AND active"),
        release_holding=(f"UPDATE orders_buyer_holdings SET held = held - {p(1)} "
                         f"WHERE user_id = {p(2)} AND event_id = {p(3)}"),
        free_resale=(f"UPDATE orders_tickets SET order_id = NULL, resold_by = {p(1)}, "
                     f"resold_from = {p(2)} WHERE id = {p(3)} AND order_id = {p(4)} "
                     "RETURNING id, event_id"),
        release_resale_line=(f"UPDATE orders_order_lines SET active = FALSE "
                             f"WHERE order_id = {p(1)} AND ticket_id = {p(2)} AND active"),
        withdraw_resale=(f"UPDATE orders_tickets SET order_id = {p(1)}, resold_by = NULL, "
                         "resold_from = NULL, offered_to = NULL, offer_ends = NULL "
                         f"WHERE id = {p(2)} AND order_id IS NULL AND resold_by = {p(3)} "
                         f"AND resold_from = {p(4)} RETURNING id"),
        restore_resale_line=(f"UPDATE orders_order_lines SET active = TRUE "
                             f"WHERE order_id = {p(1)} AND ticket_id = {p(2)}"),
    )


_ORDER_COLUMNS = ("id, user_id, ticket_id, event_id, quantity, status, expires_at, version, "
                  "created_at")


@cache
def _insert_order(dialect: str, count: int) -> str:
    """The order and its lines: one statement on PostgreSQL (the lines' ids an array),
    two on SQLite (the lines' VALUES, for ``count`` tickets, follow a ``;``)."""
    if dialect == "postgres":
        return (f"WITH placed AS (INSERT INTO orders_orders ({_ORDER_COLUMNS}) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, 0, $8)) "
                "INSERT INTO orders_order_lines (order_id, ticket_id, active) "
                "SELECT $1, unnest($9::text[]), TRUE")
    rows = ", ".join("(?1, ?, TRUE)" for _ in range(count))
    return (f"INSERT INTO orders_orders ({_ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?);"
            f"INSERT INTO orders_order_lines (order_id, ticket_id, active) VALUES {rows}")


def _handed_out(rows: Sequence[Any]) -> list[HandedOut]:
    found = [HandedOut(id=str(r["id"]), title=str(r["title"]),
                       price=Decimal(str(r["price"])).quantize(CENTS), version=int(r["version"]),
                       event_id=None if r["event_id"] is None else str(r["event_id"]),
                       offered_to=None if r["offered_to"] is None else str(r["offered_to"]))
             for r in rows]
    return sorted(found, key=lambda t: t.id)


async def hand_out(connection: BaseDBAsyncClient, order_id: str, ticket_id: str,
                   buyer_id: str, now: int) -> HandedOut | None:
    """Give the ticket to the order if no active order has it, it is not the buyer's own
    resale and not offered to someone else at ``now`` (epoch seconds); None otherwise (or
    if orders does not know it)."""
    rows = await connection.execute_query_dict(_statements(dialect_of(connection)).one,
                                               [order_id, ticket_id, buyer_id, buyer_id, now])
    found = _handed_out(rows)
    return found[0] if found else None


async def hand_out_from_event(connection: BaseDBAsyncClient, order_id: str, event_id: str,
                              quantity: int, buyer_id: str, now: int) -> list[HandedOut]:
    """Give up to ``quantity`` free tickets of the event to the order, lowest ids first
    among those no concurrent reservation is taking (and none the buyer put on resale,
    nor any offered to someone else at ``now``)."""
    rows = await connection.execute_query_dict(
        _statements(dialect_of(connection)).from_event,
        [order_id, event_id, buyer_id, buyer_id, now, quantity])
    return _handed_out(rows)


async def record_order(connection: BaseDBAsyncClient, order_id: str, user_id: str,
                       event_id: str | None, ticket_ids: Sequence[str], status: str,
                       expires_at: datetime, created_at: datetime) -> None:
    """The order, with one active line per ticket; Tortoise's ``IntegrityError`` if a
    line is active already (another order holds the ticket)."""
    dialect = dialect_of(connection)
    values = [order_id, user_id, ticket_ids[0], event_id, len(ticket_ids), status, expires_at,
              created_at]
    if dialect == "postgres":
        await connection.execute_query(_insert_order(dialect, len(ticket_ids)),
                                       [*values, list(ticket_ids)])
        return
    order, lines = _insert_order(dialect, len(ticket_ids)).split(";")
    await connection.execute_query(order, values)
    await connection.execute_query(lines, [order_id, *ticket_ids])


async def hold_within_limit(connection: BaseDBAsyncClient, user_id: str, event_id: str,
                            quantity: int, limit: int) -> bool:
    """Add ``quantity`` to the buyer's holding of the event unless that passes ``limit``
    (checked by the caller for a first holding); False when it would."""
    rows = await connection.execute_query_dict(
        _statements(dialect_of(connection)).within_limit, [user_id, event_id, quantity, limit])
    return bool(rows)


async def release(connection: BaseDBAsyncClient, order_id: str, user_id: str,
                  event_id: str | None, quantity: int) -> list[Freed]:
    """An order ended: its tickets are free, its lines inactive, and the buyer's holding
    of the event shrinks by what it held. The tickets freed, for their waitlists."""
    statements = _statements(dialect_of(connection))
    freed = _freed(await connection.execute_query_dict(statements.release_tickets,
                                                       [order_id, order_id]))
    await connection.execute_query(statements.release_lines, [order_id])
    if event_id is not None:
        await connection.execute_query(statements.release_holding,
                                       [quantity, user_id, event_id])
    return freed


async def free_resale(connection: BaseDBAsyncClient, ticket_id: str, order_id: str,
                      seller_id: str, event_id: str | None, buyer_id: str) -> list[Freed]:
    """A ticket the paid order ``order_id`` holds is on sale again from ``seller_id``: no
    order holds it (its line there ends) and the buyer's holding of the event shrinks.
    The ticket freed; none when that order no longer holds it (applied already)."""
    statements = _statements(dialect_of(connection))
    freed = _freed(await connection.execute_query_dict(
        statements.free_resale, [seller_id, order_id, ticket_id, order_id]))
    if not freed:
        return []
    await connection.execute_query(statements.release_resale_line, [order_id, ticket_id])
    if event_id is not None:
        await connection.execute_query(statements.release_holding, [1, buyer_id, event_id])
    return freed


async def withdraw_resale(connection: BaseDBAsyncClient, ticket_id: str, order_id: str,
                          seller_id: str, event_id: str | None, buyer_id: str,
                          limit: int) -> str | None:
    """Undo :func:`free_resale` of ``seller_id``'s resale from ``order_id`` if no order
    holds the ticket: that order holds it again and its buyer's holding of the event grows
    back, within the event's ``limit``. Else why not (an error code): held by a buyer, or
    the buyer took as many others since as one may hold."""
    statements = _statements(dialect_of(connection))
    if event_id is not None and not await hold_within_limit(connection, buyer_id, event_id,
                                                            1, limit):
        return "resale_over_limit"
    if not await connection.execute_query_dict(statements.withdraw_resale,
                                               [order_id, ticket_id, seller_id, order_id]):
        if event_id is not None:
            await connection.execute_query(statements.release_holding, [1, buyer_id, event_id])
        return "resale_reserved"
    await connection.execute_query(statements.restore_resale_line, [order_id, ticket_id])
    return None


def _freed(rows: Sequence[Any]) -> list[Freed]:
    """(ticket, its waitlist's scope: the event, or the ticket itself) of freed rows."""
    return sorted((str(r["id"]), str(r["event_id"] or r["id"])) for r in rows)
