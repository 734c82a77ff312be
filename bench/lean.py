"""The reservation path end to end: what one reservation and its whole saga cost.

Run with ``make bench-lean`` (or ``python -m bench.lean``). PostgreSQL, one process
(uvicorn, in-process bus), single tickets reserved by ``POST /api/orders``; everything
is measured in the same run against the ceiling, a bare Quart endpoint doing one INSERT:

- **cost**: wrk at 50 connections for ``--seconds``, then the wait until the saga is done
  (every order held by tickets, deadlined by expiration, known to payments, every outbox
  row relayed). CPU of the server and of PostgreSQL over that whole time, per
  reservation; the end-to-end rate is reservations over load plus drain time, not the
  rate of HTTP answers. With pg_stat_statements loaded, statements per reservation too.
- **latency**: 200 clients with load shedding at its default bound; p99 of the admitted
  (201) and of the shed (503) answers, each timed by the generator (bench/timed_orders.lua).
- **growth**: the same server keeps running while 1,000,000 finished orders (with their
  tickets, lines, replicas, outbox and processed rows in every module) are written
  underneath it, then the cost is measured again: plans made on empty tables must not
  make the grown ones slower.

``--profile DIR`` records the cost phase with py-spy (``make profile-deps``) and writes
the CPU by package and pg_stat_statements' top statements to DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.capacity import cpu_of
from bench.common import JWT_KEY, ROOT, Server, machine, postgres_database, require_wrk, server
from bench.report import write_section
from bench.reserve import APP, CEILING, app_env, command_for, cookie, seed_tickets
from ticketing import db
from ticketing.ids import new_id
from ticketing.settings import Settings

TICKETS = 280_000
# The 200-client phase, once per way of shedding.
SHEDDING = {"the default fixed bound (64)": {},
            "a bound adapted to 50 ms": {"TICKETING_LATENCY_TARGET_MS": "50"}}
# Each phase takes its tickets from its own block of the file: wrk's threads advance
# unevenly, so "where the last phase stopped" is not one number. A 200-client phase asks
# for more (a shed request takes an id too, and a quick thread outruns the others).
PHASE_BLOCK = 40_000
CROWD_BLOCK = 100_000
GROWN_ORDERS = 1_000_000
SETTLE_WITHIN = 600.0
# Rows of orders made after a marker id (ids sort by time; the grown rows' ids sort below
# every real one), so that counting reads an index range, not the grown tables.
SAGA_DONE = """
SELECT (SELECT COUNT(*) FROM orders.orders_orders WHERE id > $1) AS orders,
       (SELECT COUNT(*) FROM tickets.tickets_tickets WHERE order_id > $1) AS held,
       (SELECT COUNT(*) FROM expiration.expiration_pending WHERE order_id > $1) AS deadlined,
       (SELECT COUNT(*) FROM payments.payments_orders WHERE id > $1) AS known,
       (SELECT COUNT(*) FROM orders.orders_outbox WHERE sent_at IS NULL)
     + (SELECT COUNT(*) FROM tickets.tickets_outbox WHERE sent_at IS NULL) AS unsent
"""


def postgres_cpu() -> float:
    """CPU of the PostgreSQL processes now running, autovacuum's workers left out."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster") \
                        and b"autovacuum" not in (entry / "cmdline").read_bytes():
                    total += cpu_of(int(entry.name))
    return total


@dataclass(frozen=True)
class Cost:
    """One cost phase: reservations made and what they took until their saga was done."""

    made: int
    load_seconds: float
    drain_seconds: float
    app_cpu: float
    database_cpu: float
    statements: float | None  # per reservation, when pg_stat_statements is loaded

    @property
    def app_ms(self) -> float:
        return self.app_cpu * 1000 / max(self.made, 1)

    @property
    def database_ms(self) -> float:
        return self.database_cpu * 1000 / max(self.made, 1)

    @property
    def end_to_end_rate(self) -> float:
        return self.made / (self.load_seconds + self.drain_seconds)


async def _scalar_row(url: str, sql: str, *values: object) -> asyncpg.Record:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchrow(sql, *values)
    finally:
        await connection.close()


async def _execute(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def saga_state(url: str, marker: str) -> dict[str, int]:
    return dict(asyncio.run(_scalar_row(url, SAGA_DONE, marker)))


def wait_for_saga(url: str, marker: str) -> float:
    """Seconds until every order made after ``marker`` is held, deadlined and known, and
    nothing is left to relay."""
    started = time.monotonic()
    while time.monotonic() - started < SETTLE_WITHIN:
        now = saga_state(url, marker)
        if now["unsent"] == 0 and now["held"] == now["deadlined"] == now["known"] \
                == now["orders"]:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"the saga did not settle within {SETTLE_WITHIN:.0f} s")


def statements_available(url: str) -> bool:
    with contextlib.suppress(asyncpg.PostgresError):
        asyncio.run(_execute(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
                             "SELECT pg_stat_statements_reset()"))
        return True
    return False


def statement_calls(url: str) -> int:
    row = asyncio.run(_scalar_row(url, "SELECT COALESCE(SUM(calls), 0) AS calls FROM "
                                       "pg_stat_statements WHERE dbid = (SELECT oid FROM "
                                       "pg_database WHERE datname = current_database())"))
    return int(row["calls"])


def top_statements(url: str, made: int, limit: int = 25) -> list[str]:
    async def read() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(url)
        try:
            return list(await connection.fetch(
                "SELECT calls, total_exec_time, mean_exec_time, query FROM pg_stat_statements "
                "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "ORDER BY total_exec_time DESC LIMIT $1", limit))
        finally:
            await connection.close()

    lines = ["| calls per reservation | ms per call | share of time | statement |",
             "|---|---|---|---|"]
    rows = asyncio.run(read())
    total = sum(r["total_exec_time"] for r in rows) or 1.0
    for r in rows:
        query = " ".join(str(r["query"]).split())[:160].replace("|", "\\|")
        lines.append(f"| {r['calls'] / max(made, 1):.2f} | {r['mean_exec_time']:.3f} | "
                     f"{r['total_exec_time'] / total:.0%} | `{query}` |")
    return lines


@dataclass(frozen=True)
class Answers:
    """What wrk saw: seconds it ran, and per status (responses, p50 ms, p99 ms)."""

    seconds: float
    by_status: dict[str, tuple[int, float, float]]

    def count(self, status: str) -> int:
        return self.by_status.get(status, (0, 0.0, 0.0))[0]


def drive(target: Server, ids_file: Path, first: int, clients: int, seconds: int) -> Answers:
    """wrk with one connection per thread."""
    completed = subprocess.run(
        [require_wrk(), "-t", str(clients), "-c", str(clients), "-d", f"{seconds}s",
         "--timeout", "10s", "-s", str(Path(__file__).with_name("timed_orders.lua")),
         target.url, "--", str(ids_file), str(first), cookie(), str(clients)],
        capture_output=True, text=True, check=True)
    found = {}
    for line in completed.stdout.splitlines():
        if line.startswith("status "):
            _, status, count, p50, p99, _longest = line.split()
            found[status] = (int(count), float(p50), float(p99))
    for line in completed.stdout.splitlines():
        if line.startswith("surprise "):
            print(f"an answer neither admitted nor shed: {line[9:][:300]}", flush=True)
    ran = re.search(r"requests in ([\d.]+)s", completed.stdout)
    assert ran is not None, completed.stdout
    return Answers(float(ran.group(1)), found)


@contextlib.contextmanager
def profiling(target: Server, out: Path | None) -> Iterator[None]:
    """py-spy on the server for the block, its raw stacks written to ``out``."""
    spy = shutil.which("py-spy") or str(ROOT / ".venv-tools" / "bin" / "py-spy")
    if out is None:
        yield
        return
    process = subprocess.Popen([spy, "record", "--pid", str(target.process.pid), "--rate",
                                "200", "--format", "raw", "--output", str(out), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    try:
        yield
    finally:
        process.send_signal(2)
        process.wait(timeout=60)


# The frames under every sample of the server's main thread: nothing to learn from them.
ROOT_FRAMES = ("<frozen runpy>", "click/", "uvicorn/main.py", "uvicorn/server.py",
               "uvicorn/_compat.py", "uvicorn/__main__.py", "asyncio/runners.py")


def summarize_profile(raw: Path, limit: int = 45) -> list[str]:
    """py-spy's raw stacks as a table: the share of samples each function was on the stack."""
    on_stack: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        seen = set()
        for frame in stack.split(";"):
            found = re.match(r"(.*?) \((.*?):\d+\)", frame)
            if found is None:
                name = frame
            else:
                where = found.group(2).split("site-packages/")[-1].split("src/")[-1]
                name = f"{found.group(1)} ({where})"
            if name not in seen and not any(part in name for part in ROOT_FRAMES):
                seen.add(name)
                on_stack[name] += samples
    return ["| share of samples | function (file) |", "|---|---|",
            *(f"| {n / max(total, 1):.1%} | `{name}` |" for name, n in on_stack.most_common(limit))]


def cost(target: Server, url: str, ids_file: Path, first: int, seconds: int,
         profile: Path | None = None) -> Cost:
    counting = statements_available(url)
    marker = new_id()
    app_before, database_before = target.cpu_seconds(), postgres_cpu()
    calls_before = statement_calls(url) if counting else 0
    with profiling(target, profile):
        answers = drive(target, ids_file, first, 50, seconds)
        drain_seconds = wait_for_saga(url, marker)
    # Requests in flight when wrk stopped were answered to nobody, but made all the same.
    made = saga_state(url, marker)["orders"]
    calls = statement_calls(url) - calls_before if counting else 0
    return Cost(made=made, load_seconds=answers.seconds, drain_seconds=drain_seconds,
                app_cpu=target.cpu_seconds() - app_before,
                database_cpu=postgres_cpu() - database_before,
                statements=calls / max(made, 1) if counting else None)


def ceiling_cost(url: str, ids_file: Path, seconds: int, work: Path) -> Cost:
    env = {"BENCH_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    with server(command_for("uvicorn", CEILING), env, work / "ceiling.log") as ceiling:
        time.sleep(1)
        app_before, database_before = ceiling.cpu_seconds(), postgres_cpu()
        answers = drive(ceiling, ids_file, 0, 50, seconds)
        return Cost(made=answers.count("201"), load_seconds=answers.seconds, drain_seconds=0.0,
                    app_cpu=ceiling.cpu_seconds() - app_before,
                    database_cpu=postgres_cpu() - database_before, statements=1.0)


GROWTH = [
    # (table, columns, SELECT over n = 1..count producing them)
    ("tickets.tickets_tickets", "id, title, price, user_id, version, order_id, sold, created_at",
     "'0G' || lpad(n::text, 24, '0'), 'Grown', 10, 'seller', 2, '00' || lpad(n::text, 24, '0'), "
     "TRUE, now()"),
    ("tickets.tickets_order_states", "order_id, version, status",
     "'00' || lpad(n::text, 24, '0'), 1, 'complete'"),
    ("orders.orders_tickets", "id, title, price, version, order_id",
     "'0G' || lpad(n::text, 24, '0'), 'Grown', 10, 2, '00' || lpad(n::text, 24, '0')"),
    ("orders.orders_orders",
     "id, user_id, ticket_id, status, expires_at, version, created_at, quantity",
     "'00' || lpad(n::text, 24, '0'), 'buyer' || (n % 50000), '0G' || lpad(n::text, 24, '0'), "
     "'complete', now(), 1, now(), 1"),
    ("orders.orders_order_lines", "order_id, ticket_id, active",
     "'00' || lpad(n::text, 24, '0'), '0G' || lpad(n::text, 24, '0'), TRUE"),
    ("payments.payments_orders", "id, user_id, price, expires_at, status, version",
     "'00' || lpad(n::text, 24, '0'), 'buyer' || (n % 50000), 10, now(), 'complete', 1"),
    *[(f"{module}.{module}_outbox", "event_id, event_type, body, created_at, sent_at, attempts",
       f"'{module}-' || n, 'grown', '{{}}', now(), now(), 0")
      for module in ("tickets", "orders", "payments", "expiration")],
    *[(f"{module}.{module}_processed_events", "consumer, event_id, processed_at",
       f"'{module}', 'grown-' || n, now()")
      for module in ("tickets", "orders", "payments", "expiration")],
]


def grow(url: str, orders: int) -> float:
    """Write ``orders`` finished orders' rows in every module; seconds it took."""
    started = time.monotonic()
    statements = [f"INSERT INTO {table} ({columns}) SELECT {values} "
                  f"FROM generate_series(1, {orders}) AS n" for table, columns, values in GROWTH]
    asyncio.run(_execute(url, *statements))
    return time.monotonic() - started


def run(seconds: int, work: Path, profile: Path | None) -> str:
    with postgres_database() as url:
        settings = Settings(env="test", data_dir=work, database_url=url, jwt_key=JWT_KEY)
        asyncio.run(db.apply_migrations(settings))
        tickets = asyncio.run(seed_tickets(settings, TICKETS))
        ids_file = work / "tickets.txt"
        ids_file.write_text("\n".join(tickets))
        ceiling = ceiling_cost(url, ids_file, seconds, work)
        print(f"ceiling: {ceiling}", flush=True)
        env = app_env(settings)
        with server(command_for("uvicorn", APP), env, work / "app.log") as app:
            time.sleep(2)
            empty = cost(app, url, ids_file, 0, seconds,
                         work / "reservation.raw" if profile else None)
            print(f"empty: {empty}", flush=True)
            statements = {"empty": top_statements(url, empty.made) if empty.statements else []}
            grew = grow(url, GROWN_ORDERS)
            grown = cost(app, url, ids_file, PHASE_BLOCK, seconds)
            print(f"grown: {grown}", flush=True)
            statements["grown"] = top_statements(url, grown.made) if grown.statements else []
        shedding = {key: value for key, value in env.items() if key != "TICKETING_MAX_IN_FLIGHT"}
        answers = {}
        for n, (name, extra) in enumerate(SHEDDING.items()):
            with server(command_for("uvicorn", APP), shedding | extra,
                        work / f"app-200-{n}.log") as app:
                time.sleep(2)
                answers[name] = drive(app, ids_file, 2 * PHASE_BLOCK + n * CROWD_BLOCK, 200,
                                      seconds)
    if profile is not None:
        (profile / "cpu.md").write_text("\n".join(summarize_profile(work / "reservation.raw"))
                                        + "\n")
        for name, lines in statements.items():
            (profile / f"statements-{name}.md").write_text("\n".join(lines) + "\n")
    return report(ceiling, empty, grown, grew, answers, seconds)


def latency_line(name: str, answers: Answers, seconds: int) -> str:
    nothing = (0, float("nan"), float("nan"))
    admitted = answers.by_status.get("201", nothing)
    shed = answers.by_status.get("503", nothing)
    others = ", ".join(f"{n:,} answered {status}" for status, (n, _, _) in
                       sorted(answers.by_status.items()) if status not in ("201", "503"))
    return (f"- {name}: {admitted[0] / seconds:,.0f} admitted/s, p50 {admitted[1]:.1f} ms, "
            f"**p99 {admitted[2]:.1f} ms** (target < 100); {shed[0]:,} shed, p99 "
            f"{shed[2]:.1f} ms (target < 10); other answers: {others or 'none'}.")


def report(ceiling: Cost, empty: Cost, grown: Cost, grew: float,
           answers: dict[str, Answers], seconds: int) -> str:
    def row(name: str, c: Cost) -> str:
        statements = f"{c.statements:.1f}" if c.statements is not None else "—"
        return (f"| {name} | {c.made:,} | {c.load_seconds:.0f} + {c.drain_seconds:.0f} | "
                f"{c.end_to_end_rate:.0f} | {c.app_ms:.2f} | {c.database_ms:.2f} | "
                f"{statements} | {ceiling.app_ms / c.app_ms:.2f} |")

    return "\n".join([
        f"Machine: {machine()}. PostgreSQL, one process (uvicorn, in-process bus). wrk at 50 "
        f"connections for {seconds} s, then the wait until the saga was done (held, "
        "deadlined, known to payments, nothing left to relay); CPU over the whole time. "
        "The ceiling is a bare Quart endpoint doing one INSERT through Tortoise, in the same "
        "run. Ratio: the ceiling's app CPU per request over ours per reservation (target "
        f"≥ 0.5). Grown: the same server after {GROWN_ORDERS:,} finished orders were "
        f"written under it ({grew:.0f} s), measured at once, with no ANALYZE of ours: "
        "plans made on empty tables meet the grown ones. PostgreSQL CPU leaves out "
        "autovacuum's workers (busy with the million-row inserts meanwhile).", "",
        "| run | reservations | load + drain s | end to end /s | app CPU ms | "
        "PostgreSQL CPU ms | statements | ratio |",
        "|---|---|---|---|---|---|---|---|",
        row("ceiling", ceiling), row("ours, empty tables", empty),
        row(f"ours, {GROWN_ORDERS:,} orders", grown), "",
        f"Grown / empty app CPU per reservation: {grown.app_ms / empty.app_ms:.2f}; "
        f"PostgreSQL: {grown.database_ms / empty.database_ms:.2f}.", "",
        f"200 clients for {seconds} s (each honours Retry-After after a 503), latency of each "
        "answer timed by the generator, by status:", "",
        *(latency_line(name, found, seconds) for name, found in answers.items()),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--profile", type=Path, help="write py-spy and statement profiles here")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-lean-") as tmp:
        result = run(args.seconds, Path(tmp), args.profile)
    print(result)
    if not args.no_write:
        write_section("Reservation end to end (bench/lean)", result)


if __name__ == "__main__":
    main()
