"""Reservation benchmark: sustained order creation and a sell-out rush.

Run with ``make bench-reserve`` (or ``python -m bench.reserve``). For each database it
starts the real app (one process, in-process bus, throttling off) under each ASGI
server, drives ``POST /api/orders`` on distinct tickets with wrk at 50 and 200
connections, and does the same against a bare Quart endpoint doing one INSERT (the
ceiling). Then 10,000 buyers rush 1,000 tickets; afterwards the database must hold
exactly one active order per ticket. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench.common import (
    JWT_KEY,
    PASS_KEY,
    ROOT,
    Server,
    WrkResult,
    machine,
    postgres_database,
    server,
    wrk,
)
from bench.report import write_section
from ticketing import db
from ticketing.ids import new_id
from ticketing.modules.auth.tokens import TokenCodec
from ticketing.settings import Settings

PYTHON = sys.executable
APP = "ticketing.app:create_app_from_env"
SERVERS = {
    "uvicorn": [PYTHON, "-m", "uvicorn", "--factory", APP, "--port", "{port}",
                "--no-access-log", "--log-level", "warning", "--loop", "uvloop",
                "--http", "httptools",
                # The rush's client waits for a pooled connection longer than uvicorn's
                # 5 s default keeps an idle one open on a busy machine: a ReadError.
                "--timeout-keep-alive", "60"],
    "granian": [PYTHON, "-m", "granian", "--interface", "asgi", "--factory", APP,
                "--port", "{port}", "--loop", "uvloop", "--no-access-log",
                "--log-level", "warning"],
    "hypercorn": [PYTHON, "-m", "hypercorn", "--bind", "127.0.0.1:{port}",
                  "--worker-class", "uvloop", f"{APP}()"],
}
# Two uvicorn worker processes (one per core); PostgreSQL only, where relays claim rows
# with SKIP LOCKED (SQLite workers would each relay every row).
SERVERS["uvicorn-2-workers"] = [*SERVERS["uvicorn"], "--workers", "2"]
CEILING = "bench.ceiling:create_app"


def command_for(server_name: str, target: str) -> list[str]:
    command = list(SERVERS[server_name])
    if target == CEILING:
        command = [part.replace(APP, CEILING) for part in command]
    return command


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    if kind == "postgres":
        with postgres_database() as url:
            yield url
    else:
        yield None


def app_env(settings: Settings) -> dict[str, str]:
    env = {
        "TICKETING_ENV": "production", "TICKETING_JWT_KEY": JWT_KEY,
        "TICKETING_PASS_KEY": PASS_KEY,
        "TICKETING_THROTTLE": "off", "TICKETING_DATA_DIR": str(settings.data_dir),
        "TICKETING_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT),
        # Every request admitted, as the figures in docs/benchmarks.md were measured; the
        # shedding bound is the on-sale benchmark's business.
        "TICKETING_MAX_IN_FLIGHT": "0",
    }
    if settings.database_url:
        env["TICKETING_DATABASE_URL"] = settings.database_url
    return env


async def seed_tickets(settings: Settings, count: int) -> list[str]:
    """Tickets for sale, known to the orders module's replica (as the bus would have left)."""
    from ticketing.modules.orders.models import TicketReplica
    from ticketing.modules.tickets.models import Ticket

    EXECUTOR_CACHE.clear()  # Tortoise caches INSERTs per connection name, not dialect
    await db.open_databases(settings)
    try:
        ids = [new_id() for _ in range(count)]
        for start in range(0, count, 2000):
            chunk = ids[start:start + 2000]
            await Ticket.bulk_create([Ticket(id=i, title="Bench", price=Decimal("10.00"),
                                             user_id="seller") for i in chunk])
            await TicketReplica.bulk_create([TicketReplica(id=i, title="Bench",
                                                           price=Decimal("10.00"), version=0)
                                             for i in chunk])
        return ids
    finally:
        await db.close_databases()


async def double_holds(settings: Settings) -> int:
    """Tickets with more than one active order (must be zero)."""
    from ticketing.modules.orders.models import Order, OrderStatus

    EXECUTOR_CACHE.clear()  # Tortoise caches INSERTs per connection name, not dialect
    await db.open_databases(settings)
    try:
        active = await Order.filter(status__not=OrderStatus.CANCELLED).values_list(
            "ticket_id", flat=True)
        return sum(1 for n in Counter(active).values() if n > 1)
    finally:
        await db.close_databases()


def cookie() -> str:
    return TokenCodec(JWT_KEY, 24 * 3600).issue_cookie(new_id(), "bench@example.com")


async def rush(url: str, tickets: list[str], buyers: int, concurrency: int) -> Counter[int]:
    """``buyers`` requests, each from its own user, for ``tickets``; statuses counted."""
    statuses: Counter[int] = Counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(buyers):
        queue.put_nowait(n)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def buyer() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                response = await client.post(
                    "/api/orders", json={"ticketId": tickets[n % len(tickets)]},
                    headers={"Cookie": f"session={cookie()}"})
                statuses[response.status_code] += 1

        await asyncio.gather(*(buyer() for _ in range(concurrency)))
    return statuses


def load(target: Server, ids_file: Path, first: int, clients: int, seconds: int) -> WrkResult:
    script = Path(__file__).with_name("orders.lua")
    return wrk(target.url, script, [str(ids_file), str(first), cookie()],
               connections=clients, seconds=seconds)


def run(databases: list[str], servers: list[str], seconds: int, workdir: Path) -> str:
    lines = [f"Machine: {machine()}. wrk, one thread, {seconds} s per cell; the server is one "
             "process (in-process bus, throttling off). Ceiling: the same server running a bare "
             "Quart endpoint that does one INSERT through Tortoise on the same database.", "",
             "| database | server | clients | orders/s | p50 ms | p99 ms | errors "
             "| ceiling/s | ratio | server CPU s | wrk CPU s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    rush_lines = []
    for kind in databases:
        with database(kind) as url:
            for server_name in servers:
                if server_name == "uvicorn-2-workers" and kind != "postgres":
                    continue
                data_dir = workdir / f"{kind}-{server_name}"
                settings = Settings(env="test", data_dir=data_dir, database_url=url,
                                    jwt_key=JWT_KEY)
                asyncio.run(db.apply_migrations(settings))
                tickets = asyncio.run(seed_tickets(settings, 60_000))
                data_dir.mkdir(parents=True, exist_ok=True)  # PostgreSQL makes no files
                ids_file = data_dir / "tickets.txt"
                ids_file.write_text("\n".join(tickets))
                first = 0
                ceiling_env = {"BENCH_DATABASE_URL": url or f"sqlite://{data_dir}/ceiling.db",
                               "PYTHONPATH": str(ROOT)}
                for clients in (50, 200):
                    with server(command_for(server_name, APP), app_env(settings),
                                data_dir / f"app-{clients}.log") as app:
                        cpu = app.cpu_seconds()
                        result = load(app, ids_file, first, clients, seconds)
                        app_cpu = app.cpu_seconds() - cpu
                    first += result.requests + 1000
                    with server(command_for(server_name, CEILING), ceiling_env,
                                data_dir / f"ceiling-{clients}.log") as ceiling_server:
                        ceiling = load(ceiling_server, ids_file, 0, clients, seconds)
                    ratio = result.ok_per_second / max(ceiling.ok_per_second, 1e-9)
                    lines.append(
                        f"| {kind} | {server_name} | {clients} | {result.ok_per_second:.0f} | "
                        f"{result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.errors} | "
                        f"{ceiling.ok_per_second:.0f} | {ratio:.2f} | {app_cpu:.1f} | "
                        f"{result.generator_cpu_seconds:.1f} |")
                    print(lines[-1], flush=True)
            rush_settings = Settings(env="test", data_dir=workdir / f"{kind}-rush",
                                     database_url=url, jwt_key=JWT_KEY)
            asyncio.run(db.apply_migrations(rush_settings))
            rush_tickets = asyncio.run(seed_tickets(rush_settings, 1000))
            with server(command_for(servers[0], APP), app_env(rush_settings),
                        workdir / f"{kind}-rush.log") as app:
                started = time.monotonic()
                statuses = asyncio.run(rush(app.url, rush_tickets, 10_000, 200))
                elapsed = time.monotonic() - started
            doubled = asyncio.run(double_holds(rush_settings))
            rush_lines.append(
                f"| {kind} | 10,000 | 1,000 | {statuses[201]} | {statuses[400]} | "
                f"{sum(v for k, v in statuses.items() if k not in (201, 400))} | {doubled} | "
                f"{elapsed:.1f} |")
            print(rush_lines[-1], flush=True)
    lines += ["", "Sell-out rush (200 concurrent buyers, each request a different user):", "",
              "| database | requests | tickets | winners (201) | refused (400) | other | "
              "tickets with two active orders | seconds |", "|---|---|---|---|---|---|---|---|",
              *rush_lines]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--servers", default="uvicorn,granian,hypercorn,uvicorn-2-workers")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-reserve-") as tmp:
        report = run(args.databases.split(","), args.servers.split(","), args.seconds, Path(tmp))
    print(report)
    if not args.no_write:
        write_section("Reservation (bench/reserve)", report)


if __name__ == "__main__":
    main()
