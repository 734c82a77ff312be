"""Capacity model: what one reservation costs each module of the split, and what 10,000
orders/s would take.

Run with ``make bench-capacity`` (or ``python -m bench.capacity``). It starts the split as
real processes on this machine (one JetStream server, five ``ticketing serve`` processes,
one PostgreSQL database with a schema per module), creates one event, drives ``POST
/api/orders`` for one of its tickets at a time with wrk, waits until the saga has settled
(every order deadlined by expiration and known to payments), and divides the CPU each
process (and NATS, and PostgreSQL's backends) spent by the reservations made. From that:
reservations per second per core for each, and the pods (one core each, run at 70 %)
that 10,000 orders/s would need. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from tests.support.nats import NatsServer
from tests.support.split import SPLIT_JWT_KEY, start_split

from bench.common import machine, postgres_database, require_wrk
from bench.report import write_section
from ticketing import db
from ticketing.ids import new_id
from ticketing.modules.auth.tokens import TokenCodec
from ticketing.settings import MODULE_NAMES, Settings

TICKETS = 100_000
BUYERS = 2000
CONNECTIONS = 50
TARGET_PER_SECOND = 10_000
UTILISATION = 0.7
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    return 0.0


def postgres_cpu() -> float:
    """CPU of every PostgreSQL process now running (the machine runs nothing else on it)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    total += cpu_of(int(entry.name))
    return total


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_of(pid) for name, pid in pids.items()} | {"postgresql": postgres_cpu()}


async def count(url: str, sql: str, *values: object) -> int:
    connection = await asyncpg.connect(url)
    try:
        found = await connection.fetchval(sql, *values)
        return int(found or 0)
    finally:
        await connection.close()


def wait_for(url: str, sql: str, expected: int, *values: object, within: float = 180) -> float:
    """Seconds until ``sql`` counts ``expected`` (or the time ran out)."""
    started = time.monotonic()
    while asyncio.run(count(url, sql, *values)) < expected:
        if time.monotonic() - started > within:
            break
        time.sleep(0.5)
    return time.monotonic() - started


def run(seconds: int, work: Path) -> str:
    codec = TokenCodec(SPLIT_JWT_KEY, 24 * 3600)
    with postgres_database() as url:
        asyncio.run(db.apply_migrations(Settings(env="test", data_dir=work, database_url=url)))
        nats = NatsServer(work / "nats")
        nats.workdir.mkdir(parents=True)
        nats.start()
        cluster = start_split(work, nats, TICKETING_DATABASE_URL=url, TICKETING_THROTTLE="off",
                              TICKETING_MAX_IN_FLIGHT="0", TICKETING_LOG_LEVEL="WARNING")
        try:
            seller = codec.issue_cookie(new_id(), "seller@example.com")
            created = httpx.post(f"{cluster.url('tickets')}/api/events", timeout=120,
                                 headers={"Cookie": f"session={seller}"},
                                 json={"title": "Capacity", "price": 10, "quantity": TICKETS,
                                       "perBuyerLimit": 100})
            created.raise_for_status()
            event_id = created.json()["id"]
            wait_for(url, "SELECT COUNT(*) FROM orders.orders_tickets WHERE event_id = $1",
                     TICKETS, event_id)
            cookies = work / "cookies.txt"
            cookies.write_text("\n".join(codec.issue_cookie(new_id(), f"b{n}@example.com")
                                         for n in range(BUYERS)))
            pids = {module: process.process.pid for module, process in cluster.processes.items()
                    if process.process is not None}
            assert nats._process is not None
            pids["nats"] = nats._process.pid
            time.sleep(2)
            before = snapshot(pids)
            subprocess.run([require_wrk(), "-t", "1", "-c", str(CONNECTIONS), "-d",
                            f"{seconds}s", "-s", str(Path(__file__).with_name(
                                "event_orders.lua")), cluster.url("orders"), "--",
                            str(cookies), event_id], check=True, capture_output=True)
            made = asyncio.run(count(url, "SELECT COUNT(*) FROM orders.orders_orders"))
            settle = max(
                wait_for(url, "SELECT COUNT(*) FROM expiration.expiration_pending", made),
                wait_for(url, "SELECT COUNT(*) FROM payments.payments_orders", made),
                wait_for(url, "SELECT COUNT(*) FROM tickets.tickets_tickets "
                              "WHERE event_id = $1 AND order_id IS NOT NULL", made, event_id))
            time.sleep(1)
            after = snapshot(pids)
        finally:
            cluster.stop()
    spent = {name: after[name] - before[name] for name in after}
    lines = [
        f"Machine: {machine()}. The split as six processes (five modules, NATS) on one "
        f"PostgreSQL; {made:,} reservations of single tickets of one event in {seconds} s "
        f"(wrk, {CONNECTIONS} connections), saga settled {settle:.1f} s after the load "
        f"stopped. CPU per reservation includes everything each process did for it: the "
        f"request, the events it published and the reactions it ran. Pods: one core each, "
        f"run at {UTILISATION:.0%}, for {TARGET_PER_SECOND:,} reservations/s.", "",
        "| process | CPU ms per reservation | reservations/s per core | pods for 10,000/s |",
        "|---|---|---|---|",
    ]
    for name in (*MODULE_NAMES, "nats", "postgresql"):
        per = spent[name] * 1000 / max(made, 1)
        rate = 1000 / per if per > 0 else float("inf")
        pods = math.ceil(TARGET_PER_SECOND / (rate * UTILISATION)) if per > 0 else 0
        lines.append(f"| {name} | {per:.2f} | {rate:,.0f} | {pods} |")
    total = sum(spent.values()) * 1000 / max(made, 1)
    lines.append(f"| all | {total:.2f} | {1000 / total:,.0f} | — |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        report = run(args.seconds, Path(tmp))
    print(report)
    if not args.no_write:
        write_section("Capacity of the split (bench/capacity)", report)


if __name__ == "__main__":
    main()
