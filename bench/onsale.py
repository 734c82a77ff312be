"""On-sale benchmark: one event of 1,000 tickets, 10,000 buyers arriving within 10 s.

Run with ``make bench-onsale`` (or ``python -m bench.onsale``). For each database it
starts the real app (one process, in-process bus, load shedding on at its default bound)
and lets wrk (``bench/onsale.lua``, one connection per thread, each thread playing its
share of the buyers) run the sale twice:

- **queue**: the event goes on sale 5 s into the arrivals, so half the buyers wait before
  it opens and are shuffled, the other half queue first come first served; each buyer
  joins, asks for its place (backing off) and reserves one ticket with its admission
  token once let in;
- **direct**: the same event without an on-sale time: every buyer reserves at once.

Reported: tickets sold and to how many distinct buyers (exactly 1,000 of each, none
twice, nobody past the limit: read back from the database), every buyer answered, time
from the opening to the last ticket, queue fairness (Spearman's rank correlation between
arrival and admission order, before and after the opening), p99 of what the buyers'
requests took, requests shed, and the saga's backlog (unsent outbox rows) when the last
ticket went, with the time it took to drain. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
from tortoise import connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from bench.common import JWT_KEY, machine, require_wrk, server
from bench.report import write_section
from bench.reserve import APP, app_env, command_for, database
from ticketing import db
from ticketing.ids import new_id
from ticketing.modules.auth.tokens import TokenCodec
from ticketing.settings import MODULE_NAMES, Settings

T = TypeVar("T")
TICKETS = 1000
BUYERS = 10_000
ARRIVAL_SECONDS = 10.0
OPENS_AFTER_SECONDS = 5.0
THREADS = 100
RATE_PER_MINUTE = 6000
GIVE_UP_SECONDS = 240


@dataclass(frozen=True)
class Buyer:
    n: int
    arrived_ms: int
    rank: int | None
    admitted_ms: int | None
    outcome: str
    shed: int
    done_ms: int | None
    joined_ms: int | None


@dataclass(frozen=True)
class Sale:
    buyers: list[Buyer]
    latencies_ms: list[int]  # of the requests answered (not shed)
    shed_ms: list[int]  # of the requests shed (503)
    opened_ms: int
    wall_seconds: float


def cookies(count: int) -> list[str]:
    codec = TokenCodec(JWT_KEY, 24 * 3600)
    return [codec.issue_cookie(new_id(), f"fan{n}@example.com") for n in range(count)]


def create_event(url: str, seller: str, opens_at: datetime | None) -> str:
    body: dict[str, object] = {"title": "On sale", "price": 40, "quantity": TICKETS}
    if opens_at is not None:
        body["onSaleAt"] = opens_at.isoformat()
    answer = httpx.post(f"{url}/api/events", json=body, timeout=30,
                        headers={"Cookie": f"session={seller}"})
    answer.raise_for_status()
    event_id: str = answer.json()["id"]
    return event_id


def read(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` with the app's databases open in this process (read only)."""

    async def opened() -> T:
        EXECUTOR_CACHE.clear()  # Tortoise caches statements per connection name
        await db.open_databases(settings)
        try:
            return await work()
        finally:
            await db.close_databases()

    return asyncio.run(opened())


async def known_to_orders(event_id: str) -> bool:
    rows = await connections.get("orders").execute_query_dict(
        "SELECT COUNT(*) AS n FROM orders_tickets WHERE event_id = "
        + ("$1" if connections.get("orders").capabilities.dialect == "postgres" else "?"),
        [event_id])
    return int(rows[0]["n"]) == TICKETS


async def backlog() -> int:
    total = 0
    for module in MODULE_NAMES:
        rows = await connections.get(module).execute_query_dict(
            f"SELECT COUNT(*) AS n FROM {module}_outbox WHERE sent_at IS NULL")
        total += int(rows[0]["n"])
    return total


async def sold(event_id: str) -> dict[str, int]:
    """What the database says was sold: active lines, distinct tickets and buyers, and
    buyers over the limit (4) or holding a ticket twice."""
    orders = connections.get("orders")
    mark = "$1" if orders.capabilities.dialect == "postgres" else "?"
    lines = await orders.execute_query_dict(
        "SELECT l.ticket_id, o.user_id FROM orders_order_lines l JOIN orders_orders o "
        f"ON o.id = l.order_id WHERE l.active AND o.event_id = {mark}", [event_id])
    per_buyer = Counter(str(r["user_id"]) for r in lines)
    per_ticket = Counter(str(r["ticket_id"]) for r in lines)
    return {"lines": len(lines), "tickets": len(per_ticket), "buyers": len(per_buyer),
            "twice": sum(1 for n in per_ticket.values() if n > 1),
            "over_limit": sum(1 for n in per_buyer.values() if n > 4)}


def run_sale(url: str, event_id: str, mode: str, work: Path, cookie_file: Path,
             start_ms: int) -> Sale:
    out = work / f"out-{mode}"
    out.mkdir()
    command = [require_wrk(), "-t", str(THREADS), "-c", str(THREADS),
               "-d", f"{GIVE_UP_SECONDS}s", "--timeout", "10s", "-s",
               str(Path(__file__).with_name("onsale.lua")), url, "--", str(cookie_file),
               event_id, mode, str(start_ms), str(int(ARRIVAL_SECONDS * 1000)), str(out),
               str(THREADS)]
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    def complete() -> int:
        return sum(1 for path in out.glob("*.txt")
                   if path.read_text().startswith("complete"))

    while complete() < THREADS and process.poll() is None:
        time.sleep(0.2)
    wall = time.monotonic() - started
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    buyers: list[Buyer] = []
    latencies: list[int] = []
    shed_latencies: list[int] = []
    for path in out.glob("*.txt"):
        for line in path.read_text().splitlines()[1:]:
            kind, *rest = line.split()
            if kind == "latency":
                target = shed_latencies if rest[1] == "503" else latencies
                target.append(int(float(rest[0])))
                continue
            n, arrived, rank, admitted, outcome, shed, done, joined = rest
            buyers.append(Buyer(int(n), int(arrived), None if rank == "-" else int(rank),
                                None if admitted == "-" else int(admitted), outcome,
                                int(shed), None if done == "-" else int(done),
                                None if joined == "-" else int(joined)))
    return Sale(sorted(buyers, key=lambda b: b.n), latencies, shed_latencies,
                start_ms + int(OPENS_AFTER_SECONDS * 1000), wall)


def spearman(pairs: list[tuple[float, float]]) -> float:
    """Spearman's rank correlation of (x, y) pairs (no ties among x here)."""
    if len(pairs) < 3:
        return float("nan")

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        found = [0.0] * len(values)
        for position, index in enumerate(order):
            found[index] = float(position)
        return found

    xs, ys = ranks([p[0] for p in pairs]), ranks([p[1] for p in pairs])
    n = len(pairs)
    mean = (n - 1) / 2
    cov = sum((x - mean) * (y - mean) for x, y in zip(xs, ys, strict=True))
    var = sum((x - mean) ** 2 for x in xs)
    return cov / var


def percentile(values: list[int], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)])


def one_sale(kind: str, url: str | None, mode: str, work: Path, cookie_file: Path,
             buyers: int) -> str:
    data_dir = work / f"{kind}-{mode}"
    settings = Settings(env="test", data_dir=data_dir, database_url=url, jwt_key=JWT_KEY)
    asyncio.run(db.apply_migrations(settings))
    data_dir.mkdir(parents=True, exist_ok=True)
    env = app_env(settings) | {"TICKETING_MAX_IN_FLIGHT": "64",
                               "TICKETING_QUEUE_RATE_PER_MINUTE": str(RATE_PER_MINUTE),
                               "TICKETING_ADMISSION_SECONDS": "120"}
    with server(command_for("uvicorn", APP), env, data_dir / "app.log") as app:
        start = datetime.now(UTC) + timedelta(seconds=8)
        opens = start + timedelta(seconds=OPENS_AFTER_SECONDS) if mode == "queue" else None
        event_id = create_event(app.url, cookies(1)[0], opens)
        deadline = time.monotonic() + 60
        while not read(settings, lambda: known_to_orders(event_id)):
            if time.monotonic() > deadline:
                raise RuntimeError("orders never heard of the event")
            time.sleep(0.5)
        cpu = app.cpu_seconds()
        sale = run_sale(app.url, event_id, mode, data_dir, cookie_file,
                        int(start.timestamp() * 1000))
        app_cpu = app.cpu_seconds() - cpu
        left = read(settings, backlog)
        drained_at = time.monotonic()
        while read(settings, backlog) and time.monotonic() - drained_at < 120:
            time.sleep(0.5)
        drain = time.monotonic() - drained_at
        result = read(settings, lambda: sold(event_id))
    outcomes = Counter(b.outcome for b in sale.buyers)
    bought = [b for b in sale.buyers if b.outcome == "bought"]
    last = max((b.done_ms or 0) for b in bought) if bought else 0
    opened = sale.opened_ms if mode == "queue" else sale.opened_ms - int(
        OPENS_AFTER_SECONDS * 1000)
    early = [(float(b.arrived_ms), float(b.rank)) for b in sale.buyers
             if b.rank is not None and b.arrived_ms < sale.opened_ms]
    late = [(float(b.arrived_ms), float(b.rank)) for b in sale.buyers
            if b.rank is not None and b.arrived_ms >= sale.opened_ms]
    taken_in = [(float(b.joined_ms), float(b.rank)) for b in sale.buyers
                if b.rank is not None and b.joined_ms is not None
                and b.joined_ms >= sale.opened_ms + 2000]
    fairness = (f"{spearman(early):+.2f} / {spearman(late):+.2f} / {spearman(taken_in):+.2f}"
                if mode == "queue" else "—")
    answered = len(sale.buyers) - outcomes["unanswered"]
    return (f"| {kind} | {mode} | {result['tickets']} | {result['buyers']} | {result['twice']} | "
            f"{result['over_limit']} | {answered:,} / {buyers:,} | "
            f"{(last - opened) / 1000:.1f} | {fairness} | "
            f"{percentile(sale.latencies_ms, 0.99):.0f} | "
            f"{len(sale.latencies_ms) + len(sale.shed_ms):,} | {len(sale.shed_ms):,} | "
            f"{percentile(sale.shed_ms, 0.99):.0f} | {app_cpu:.0f} | {left} → 0 in "
            f"{drain:.1f} s |")


def run(databases: list[str], modes: list[str], work: Path, buyers: int) -> str:
    cookie_file = work / "cookies.txt"
    cookie_file.write_text("\n".join(cookies(buyers)))
    lines = [
        f"Machine: {machine()}. One process (in-process bus, load shedding at 64 requests "
        f"in flight), {TICKETS:,} tickets, {buyers:,} buyers arriving evenly over "
        f"{ARRIVAL_SECONDS:.0f} s, one ticket each, driven by wrk ({THREADS} connections, "
        f"each playing {buyers // THREADS} buyers). Queue: on sale {OPENS_AFTER_SECONDS:.0f} s "
        f"into the arrivals, {RATE_PER_MINUTE:,} let in a minute. Fairness: Spearman's "
        "correlation of arrival and queue rank, for buyers who came before the opening "
        "(0: shuffled) / after it (1: first come first served), and of the moment the queue "
        "took a join in and its rank, for joins from 2 s after the opening (1: the queue "
        "itself is first come first served; the gap to the second figure is what shed, "
        "retried joins cost).", "",
        "| database | sale | tickets sold | distinct buyers | sold twice | over limit | "
        "buyers answered | open → sold out s | fairness before / after / joins after | "
        "p99 ms answered | requests | shed (503) | p99 ms shed | server CPU s | "
        "saga backlog at the end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in databases:
        with database(kind) as url:
            for mode in modes:
                lines.append(one_sale(kind, url, mode, work, cookie_file, buyers))
                print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--modes", default="queue,direct")
    parser.add_argument("--buyers", type=int, default=BUYERS)
    parser.add_argument("--workdir", help="keep the logs and wrk's files here")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    with tempfile.TemporaryDirectory(prefix="bench-onsale-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        report = run(args.databases.split(","), args.modes.split(","), work, args.buyers)
    print(report)
    if not args.no_write:
        write_section("On-sale day (bench/onsale)", report)


if __name__ == "__main__":
    main()
