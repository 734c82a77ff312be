"""``ticketing check``: a healthy market passes; each planted violation is named in a line.

A small market is made through the API (a paid order, a cancelled one, a listed ticket,
an open reservation), the app is stopped, then one promise is broken in the tables the
way a bug or a lost event would break it, and the audit must say exactly that.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections

from tests.support.trading import list_ticket, person, reserve, settled
from ticketing import db
from ticketing.app import create_app
from ticketing.audit import audit
from ticketing.cli import run_check
from ticketing.ids import new_id
from ticketing.settings import Settings

LONG_AGO = datetime.now(UTC) - timedelta(days=1)


@dataclass(frozen=True)
class Market:
    paid: dict[str, Any]
    cancelled: dict[str, Any]
    open: dict[str, Any]
    listed: dict[str, Any]


@pytest.fixture
def isolated(settings: Settings, backend: str,
             fresh_postgres_url: Callable[[], str]) -> Settings:
    """The test's own database: the plants break it (one drops an index), so on
    PostgreSQL it is not the run's shared database but a new one."""
    if backend != "postgres":
        return settings  # SQLite: already a copy of its own
    own = replace(settings, database_url=fresh_postgres_url())
    asyncio.run(db.apply_migrations(own))
    return own


@pytest.fixture
async def market(isolated: Settings) -> Market:
    """The market, made through the API; the app is stopped again afterwards."""
    settings = isolated
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        seller, buyer = person(settings, "seller"), person(settings, "buyer")
        tickets = [await list_ticket(client, seller, f"Show {n}") for n in range(4)]
        await settled(app)
        paid, cancelled, open_order = [
            await reserve(client, buyer, t["id"]) for t in tickets[:3]]
        payment = await client.post("/api/payments", headers=buyer.headers,
                                    json={"orderId": paid["id"], "token": "tok_visa"})
        assert payment.status_code == 201, await payment.get_json()
        assert (await client.delete(f"/api/orders/{cancelled['id']}",
                                    headers=buyer.headers)).status_code == 204
        await settled(app)
    return Market(paid, cancelled, open_order, tickets[3])


@pytest.fixture
async def opened(isolated: Settings, market: Market) -> AsyncIterator[Settings]:
    await db.open_databases(isolated)
    try:
        yield isolated
    finally:
        await db.close_databases()


async def execute(module: str, sql: str, *values: Any) -> None:
    connection = connections.get(module)
    if connection.capabilities.dialect == "postgres":
        for index in range(len(values), 0, -1):
            sql = sql.replace(f"?{index}", f"${index}")
    else:
        sql = sql.replace("?1", "?").replace("?2", "?").replace("?3", "?")
    await connection.execute_query(sql, list(values))


async def test_a_healthy_market_passes(opened: Settings) -> None:
    assert await audit(opened, grace=timedelta(0)) == []


Plant = Callable[[Market], Awaitable[str]]


async def two_active_orders(market: Market) -> str:
    await execute("orders", "DROP INDEX orders_one_active_line_per_ticket")
    second = new_id()
    await execute("orders", "INSERT INTO orders_orders (id, user_id, ticket_id, status, "
                  "expires_at, version, quantity, created_at) VALUES (?1, ?2, ?3, 'created', "
                  "'2999-01-01 00:00:00+00:00', 0, 1, '2026-01-01 00:00:00+00:00')",
                  second, market.open["userId"], market.open["ticket"]["id"])
    await execute("orders", "INSERT INTO orders_order_lines (order_id, ticket_id, active) "
                  "VALUES (?1, ?2, TRUE)", second, market.open["ticket"]["id"])
    return f"orders: ticket {market.open['ticket']['id']} has 2 active orders"


async def open_past_its_window(market: Market) -> str:
    await execute("orders", "UPDATE orders_orders SET expires_at = ?1 WHERE id = ?2",
                  LONG_AGO, market.open["id"])
    return f"orders: order {market.open['id']} still open"


async def deadline_never_fired(market: Market) -> str:
    await execute("expiration", "UPDATE expiration_pending SET expires_at = ?1 "
                  "WHERE order_id = ?2", LONG_AGO, market.open["id"])
    return f"expiration: deadline of order {market.open['id']} passed"


async def stale_ticket_copy(market: Market) -> str:
    await execute("tickets", "UPDATE tickets_tickets SET version = 7 WHERE id = ?1",
                  market.listed["id"])
    return f"orders: copy of ticket {market.listed['id']} is at version 0, tickets has 7"


async def stale_order_copy(market: Market) -> str:
    await execute("payments", "UPDATE payments_orders SET version = 0 WHERE id = ?1",
                  market.cancelled["id"])
    return f"payments: copy of order {market.cancelled['id']} is at version 0, orders has 1"


async def paid_but_not_complete(market: Market) -> str:
    await execute("orders", "UPDATE orders_orders SET status = 'created' WHERE id = ?1",
                  market.paid["id"])
    return f"paid order {market.paid['id']}, which is created"


async def sold_ticket_not_sold(market: Market) -> str:
    await execute("tickets", "UPDATE tickets_tickets SET sold = ?1 WHERE id = ?2",
                  False, market.paid["ticket"]["id"])
    return f"tickets: ticket {market.paid['ticket']['id']} of paid order"


async def charge_without_payment(market: Market) -> str:
    await execute("payments", "DELETE FROM payments_payments WHERE order_id = ?1",
                  market.paid["id"])
    return f"charged order {market.paid['id']} but has no payment record"


async def hold_left_undecided(market: Market) -> str:
    await execute("payments", "UPDATE payments_attempts SET status = 'authorized', "
                  "updated_at = ?1 WHERE order_id = ?2", LONG_AGO, market.paid["id"])
    return f"of order {market.paid['id']} authorized for"


async def unsent_event(market: Market) -> str:
    await execute("tickets", "UPDATE tickets_outbox SET sent_at = NULL, created_at = ?1 "
                  "WHERE id = (SELECT MAX(id) FROM tickets_outbox)", LONG_AGO)
    return "tickets: outbox row unsent for"


async def dead_letter(market: Market) -> str:
    await execute("orders", "INSERT INTO orders_dead_letters (consumer, event_id, event_type, "
                  "body, error, attempts, created_at) VALUES ('orders', ?1, 'ticket:updated', "
                  "'{}', 'boom', 8, '2026-01-01 00:00:00+00:00')", "evt-dead")
    return "orders: dead letter ticket:updated evt-dead (consumer orders) waits for a replay"


async def mail_not_sent(market: Market) -> str:
    await execute("mail", "INSERT INTO mail_messages (id, cause, message_id, to_address, "
                  "subject, body, state, created_at, next_attempt_at, attempts, last_error) "
                  "VALUES (?1, 'welcome:x', '<x@test>', 'x@test.com', 'Hi', '-', 'queued', "
                  "?2, ?3, 3, 'SMTP 451: try later')", "01m8y5r0c189b3k49s6dhbcsnr", LONG_AGO,
                  LONG_AGO)
    return "mail: message 01m8y5r0c189b3k49s6dhbcsnr (welcome:x) due"


async def account_without_address(market: Market) -> str:
    user_id = new_id()
    await execute("auth", "INSERT INTO auth_users (id, email, password_hash, created_at) "
                  "VALUES (?1, 'lost@test.com', 'x', ?2)", user_id, datetime.now(UTC))
    return f"mail: no address for user {user_id}, who signed up"


@pytest.mark.parametrize("plant", [
    two_active_orders, open_past_its_window, deadline_never_fired, stale_ticket_copy,
    stale_order_copy, paid_but_not_complete, sold_ticket_not_sold, charge_without_payment,
    hold_left_undecided, unsent_event, dead_letter, mail_not_sent, account_without_address,
])
async def test_each_broken_promise_is_named(opened: Settings, market: Market,
                                             plant: Plant) -> None:
    expected = await plant(market)

    found = await audit(opened, grace=timedelta(0))

    assert any(expected in line for line in found), (expected, found)


async def test_a_young_difference_is_within_the_grace(opened: Settings, market: Market) -> None:
    await execute("tickets", "UPDATE tickets_outbox SET sent_at = NULL "
                  "WHERE id = (SELECT MAX(id) FROM tickets_outbox)")

    assert await audit(opened, grace=timedelta(hours=1)) == []
    assert await audit(opened, grace=timedelta(0)) != []


async def test_the_command_exits_1_with_one_line_per_violation(
    opened: Settings, market: Market,
) -> None:
    await dead_letter(market)
    await db.close_databases()
    clean, broken = io.StringIO(), io.StringIO()

    code = await run_check(opened, grace=30, wait=0, out=broken)
    only_tickets = await run_check(replace(opened, modules=("tickets",)), grace=30, wait=0,
                                   out=clean)
    await db.open_databases(opened)

    assert code == 1
    assert broken.getvalue().splitlines() == [
        "orders: dead letter ticket:updated evt-dead (consumer orders) waits for a replay"]
    assert only_tickets == 0
    assert clean.getvalue() == "ok: tickets\n"
