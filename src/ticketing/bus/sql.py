"""The bus's hot-path statements, written out once per table and dialect.

Every event costs an outbox insert, a processed-row insert and its share of a relay's
claim and mark. Through the ORM each of those builds a model or a query tree first,
which on a small machine costs as much as the database work itself; these are the same
statements with the building done once. Table names are unqualified: on PostgreSQL the
module's connection has its schema as ``search_path``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


def dialect_of(connection: BaseDBAsyncClient) -> str:
    return str(connection.capabilities.dialect)


def parameters(dialect: str) -> Callable[[int], str]:
    """The dialect's n-th (from 1) query parameter: ``$n`` on PostgreSQL, ``?`` on SQLite."""
    if dialect == "postgres":
        return lambda n: f"${n}"
    return lambda n: "?"


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
        p = parameters(dialect)
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


async def record_processed(connection: BaseDBAsyncClient, table: type[Model], consumer: str,
                           event_ids: Sequence[str]) -> set[str]:
    """Write the processed rows of ``event_ids`` that are not there yet; which were new.

    The unique index answers (a row another transaction is writing is waited for, then
    counted as there), so no plan is involved: a look-up by an array of ids, planned
    while the table was empty, went on scanning it whole once it held a million rows.
    """
    name = table._meta.db_table
    event_ids = sorted(event_ids)  # one order of row locks for every group: no deadlock
    if connection.capabilities.dialect == "postgres":
        statement = (f'INSERT INTO "{name}" (consumer, event_id, processed_at) '
                     "SELECT $1, unnest($2::text[]), $3 "
                     "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id")
        values: list[object] = [consumer, list(event_ids), datetime.now(UTC)]
    else:  # a group is at most a few hundred events: far below SQLite's parameter limit
        rows = ", ".join(f"(?1, ?{n + 3}, ?2)" for n in range(len(event_ids)))
        statement = (f'INSERT INTO "{name}" (consumer, event_id, processed_at) VALUES {rows} '
                     "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id")
        values = [consumer, datetime.now(UTC), *event_ids]
    return {str(r["event_id"]) for r in await connection.execute_query_dict(statement, values)}


async def plan_afresh(connection: BaseDBAsyncClient) -> None:
    """For the rest of this PostgreSQL transaction, plan each statement for its values.

    The relay's claim and mark select the outbox rows by a range and by an array of ids.
    Prepared once on an empty outbox, PostgreSQL's generic plan for them is a scan of the
    table; kept as the table grew, marking a batch read a million rows (0.7 s). Planning
    afresh costs a few microseconds, once per batch.
    """
    await connection.execute_script("SET LOCAL plan_cache_mode = force_custom_plan")


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
