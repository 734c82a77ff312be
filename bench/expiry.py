"""Expiration benchmark: 10,000 orders expiring within one minute.

Run with ``make bench-expiry`` (or ``python -m bench.expiry``). The database is seeded
with 10,000 open orders (and their tickets and pending deadlines, as the event flow
would have left them) whose deadlines are spread over one minute, starting well after
the server is up. While every deadline is still far off, the idle scheduler's CPU is
measured and compared with the same server holding no pending deadlines. Then the
benchmark watches the orders table and reports lateness from ``expiresAt`` to the order
showing ``cancelled``: p50, p99, max. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench.common import JWT_KEY, ROOT, machine, rows_per_database, server
from bench.report import write_section
from ticketing import db
from ticketing.ids import new_id
from ticketing.settings import Settings

APP = [sys.executable, "-m", "uvicorn", "--factory", "ticketing.app:create_app_from_env",
       "--port", "{port}", "--no-access-log", "--log-level", "warning", "--loop", "uvloop"]


def env_for(settings: Settings) -> dict[str, str]:
    env = {"TICKETING_ENV": "test", "TICKETING_JWT_KEY": JWT_KEY,
           "TICKETING_DATA_DIR": str(settings.data_dir), "TICKETING_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT)}
    if settings.database_url:
        env["TICKETING_DATABASE_URL"] = settings.database_url
    return env


async def seed(settings: Settings, count: int, first_deadline: datetime,
               spread: timedelta) -> dict[str, datetime]:
    """Open orders with deadlines spread evenly over ``spread``; returns id -> deadline."""
    from ticketing.modules.expiration.models import PendingExpiration
    from ticketing.modules.orders.models import Order, OrderStatus, TicketReplica
    from ticketing.modules.tickets.models import Ticket

    EXECUTOR_CACHE.clear()  # Tortoise caches INSERTs per connection name, not dialect
    await db.open_databases(settings)
    try:
        deadlines = {new_id(): first_deadline + spread * (n / count) for n in range(count)}
        orders = list(deadlines.items())
        for start in range(0, count, 2000):
            chunk = orders[start:start + 2000]
            tickets = [new_id() for _ in chunk]
            await Ticket.bulk_create([
                Ticket(id=t, title="Bench", price=Decimal("10.00"), user_id="seller",
                       version=1, order_id=o) for t, (o, _) in zip(tickets, chunk, strict=True)])
            await TicketReplica.bulk_create([
                TicketReplica(id=t, title="Bench", price=Decimal("10.00"), version=1)
                for t in tickets])
            await Order.bulk_create([
                Order(id=o, user_id="buyer", ticket_id=t, status=OrderStatus.CREATED,
                      expires_at=d, version=0)
                for t, (o, d) in zip(tickets, chunk, strict=True)])
            await PendingExpiration.bulk_create([
                PendingExpiration(order_id=o, expires_at=d) for o, d in chunk])
        return deadlines
    finally:
        await db.close_databases()


async def watch(settings: Settings, deadlines: dict[str, datetime],
                give_up_after: float) -> dict[str, float]:
    """Poll the orders table every 20 ms; lateness in seconds per cancelled order."""
    from ticketing.modules.orders.models import Order, OrderStatus

    EXECUTOR_CACHE.clear()  # Tortoise caches INSERTs per connection name, not dialect
    await db.open_databases(settings)
    lateness: dict[str, float] = {}
    try:
        give_up = time.monotonic() + give_up_after
        while len(lateness) < len(deadlines) and time.monotonic() < give_up:
            cancelled = await Order.filter(status=OrderStatus.CANCELLED).values_list(
                "id", flat=True)
            # After the query: a cancellation it saw happened before this instant.
            now = datetime.now(UTC)
            for order_id in cancelled:
                if order_id not in lateness:
                    lateness[str(order_id)] = (now - deadlines[str(order_id)]).total_seconds()
            await asyncio.sleep(0.02)
        return lateness
    finally:
        await db.close_databases()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def idle_cpu_percent(settings: Settings, log: Path, seconds: float) -> float:
    with server(APP, env_for(settings), log) as app:
        time.sleep(2)  # start-up work is not idle work
        before = app.cpu_seconds()
        time.sleep(seconds)
        return 100 * (app.cpu_seconds() - before) / seconds


def run(kind: str, count: int, workdir: Path, postgres_url: str | None) -> str:
    settings = Settings(env="test", data_dir=workdir / f"{kind}-idle", jwt_key=JWT_KEY,
                        database_url=postgres_url)
    asyncio.run(db.apply_migrations(settings))
    baseline = idle_cpu_percent(settings, workdir / f"{kind}-baseline.log", 15)

    settings = Settings(env="test", data_dir=workdir / f"{kind}-run", jwt_key=JWT_KEY,
                        database_url=postgres_url)
    asyncio.run(db.apply_migrations(settings))
    first_deadline = datetime.now(UTC) + timedelta(seconds=45)
    deadlines = asyncio.run(seed(settings, count, first_deadline, timedelta(seconds=60)))
    with server(APP, env_for(settings), workdir / f"{kind}-run.log") as app:
        time.sleep(2)
        before = app.cpu_seconds()
        time.sleep(15)
        loaded_idle = 100 * (app.cpu_seconds() - before) / 15
        wait = (first_deadline - datetime.now(UTC)).total_seconds() - 2
        time.sleep(max(0.0, wait))
        lateness = asyncio.run(watch(settings, deadlines, give_up_after=120))
    values = list(lateness.values())
    missing = count - len(values)
    early = sum(1 for v in values if v < 0)
    return (f"| {kind} | {count} | {len(values)} | {missing} | {early} | "
            f"{statistics.median(values) * 1000:.0f} | {percentile(values, 0.99) * 1000:.0f} | "
            f"{max(values) * 1000:.0f} | {loaded_idle:.2f} | {baseline:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-expiry-") as tmp:
        rows = rows_per_database(args.databases,
                                 lambda kind, url: run(kind, args.orders, Path(tmp), url))
    report = "\n".join([
        f"Machine: {machine()}. One process (in-process bus, Taskiq in-memory broker), uvicorn. "
        "Lateness = when the benchmark saw the order `cancelled` (polling every 20 ms) minus "
        "its `expiresAt`. Idle CPU: the server's CPU share over 15 s while all deadlines were "
        "at least 25 s away, against the same server with no pending deadline (baseline).",
        "",
        "| database | orders | cancelled | missing | early | p50 ms | p99 ms | max ms | "
        "idle CPU % with pending | idle CPU % baseline |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ])
    print(report)
    if not args.no_write:
        write_section("Expiration (bench/expiry)", report)


if __name__ == "__main__":
    main()
