"""The bus's hot-path statements, written out once per table and dialect.

Every event costs an outbox insert, a processed-row insert and its share of a relay's
claim and mark. Through the ORM each of those builds a model or a query tree first,
which on a small machine costs as much as the database work itself; these are the same
statements with the building done once. Table names are unqualified: on PostgreSQL the
module's connection has its schema as ``search_path``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


@dataclass(frozen=True)
class _Statements:
    insert_outbox: str
    insert_processed: str
    claim: str
    claim_locked: str
    mark: str


_CACHE: dict[tuple[str, str], _Statements] = {}


def _statements(table: type[Model], connection: BaseDBAsyncClient) -> _Statements:
    dialect = connection.capabilities.dialect
    name = table._meta.db_table
    key = (name, dialect)
    found = _CACHE.get(key)
    if found is None:
        def p(n: int) -> str:
            return f"${n}" if dialect == "postgres" else "?"

        select = (f'SELECT id, event_id, event_type, body FROM "{name}" WHERE sent_at IS NULL '
                  f"ORDER BY id LIMIT {p(1)}")
        found = _CACHE[key] = _Statements(
            insert_outbox=(f'INSERT INTO "{name}" (event_id, event_type, body, created_at, '
                           f"attempts) VALUES ({p(1)}, {p(2)}, {p(3)}, {p(4)}, 0)"),
            insert_processed=(f'INSERT INTO "{name}" (consumer, event_id, processed_at) '
                              f"VALUES ({p(1)}, {p(2)}, {p(3)})"),
            claim=select,
            claim_locked=select + " FOR UPDATE SKIP LOCKED",
            mark=f'UPDATE "{name}" SET sent_at = {p(1)} WHERE id = ANY({p(2)}::bigint[])'
            if dialect == "postgres" else f'UPDATE "{name}" SET sent_at = ? WHERE id IN ',
        )
    return found


@dataclass(frozen=True)
class UnsentRow:
    """An outbox row as the relay needs it."""

    id: int
    event_id: str
    event_type: str
    body: str


async def insert_outbox(connection: BaseDBAsyncClient, table: type[Model], event_id: str,
                        event_type: str, body: str) -> None:
    await connection.execute_query(_statements(table, connection).insert_outbox,
                                   [event_id, event_type, body, datetime.now(UTC)])


async def insert_processed(connection: BaseDBAsyncClient, table: type[Model], consumer: str,
                           event_id: str) -> None:
    """Raises Tortoise's ``IntegrityError`` if (consumer, event id) is there already."""
    await connection.execute_query(_statements(table, connection).insert_processed,
                                   [consumer, event_id, datetime.now(UTC)])


async def processed_among(connection: BaseDBAsyncClient, table: type[Model], consumer: str,
                          event_ids: Sequence[str]) -> set[str]:
    """Which of ``event_ids`` this consumer has processed already."""
    if not event_ids:
        return set()
    name = table._meta.db_table
    if connection.capabilities.dialect == "postgres":
        statement = (f'SELECT event_id FROM "{name}" WHERE consumer = $1 '
                     "AND event_id = ANY($2::text[])")
        values: list[object] = [consumer, list(event_ids)]
    else:
        statement = (f'SELECT event_id FROM "{name}" WHERE consumer = ? '
                     f"AND event_id IN ({', '.join('?' * len(event_ids))})")
        values = [consumer, *event_ids]
    _, rows = await connection.execute_query(statement, values)
    return {str(r["event_id"]) for r in rows}


async def claim_unsent(connection: BaseDBAsyncClient, table: type[Model], limit: int, *,
                       lock: bool) -> list[UnsentRow]:
    """The oldest unsent rows; with ``lock`` (PostgreSQL) skipping rows others hold."""
    statements = _statements(table, connection)
    _, rows = await connection.execute_query(
        statements.claim_locked if lock else statements.claim, [limit])
    return [UnsentRow(int(r["id"]), str(r["event_id"]), str(r["event_type"]), str(r["body"]))
            for r in rows]


async def mark_sent(connection: BaseDBAsyncClient, table: type[Model],
                    ids: Sequence[int]) -> None:
    statement = _statements(table, connection).mark
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(statement, [datetime.now(UTC), list(ids)])
    else:  # a batch is at most a few hundred ids: far below SQLite's parameter limit
        await connection.execute_query(f"{statement}({', '.join('?' * len(ids))})",
                                       [datetime.now(UTC), *ids])
