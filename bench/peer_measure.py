"""What the peer benchmark (bench/peer.py) measures the same way on both systems: a wrk
load through a system's own Lua script, the CPU of the app's processes and of the
PostgreSQL backends serving the system's own database, and counts from that database;
and the record of one run of one system (a ``Leg``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.common import Server, require_wrk

TICKS = os.sysconf("SC_CLK_TCK")
WRK_TIMEOUT = "60s"  # pretix answers in seconds under this load: no answer may be cut off


@dataclass(frozen=True)
class Load:
    """What wrk's ``done()`` in bench/peer.lua printed: answers by kind, latency."""

    requests: int
    created: int  # 201
    sold_out: int  # 400 saying the quota is gone
    other: int  # any other answer (its first is in ``sample``)
    p50_ms: float
    p99_ms: float
    seconds: float
    socket_errors: int
    timeouts: int
    sample: str
    generator_cpu: float  # wrk's own CPU seconds


@dataclass(frozen=True)
class Options:
    """The bench's command line, as its runs and its report use it."""

    seconds: int
    oversell_seconds: int
    connections: int
    threads: int
    quota: int
    oversell_quota: int
    buyers: int


@dataclass(frozen=True)
class Spent:
    """CPU seconds between a meter's start and stop, and the wall-clock seconds."""

    app: float
    database: float
    machine: float  # every process on the machine
    wall: float


@dataclass(frozen=True)
class Leg:
    """One system's run: the load, what its database holds after, and the CPU spent."""

    system: str
    run: str
    quota: int
    load: Load
    orders: int  # orders in the database, every one fully processed
    sold: int  # tickets (positions) sold, by the database
    twice: int | None  # tickets in two active orders (ours only: pretix has no such rows)
    seconds: float  # from the load's start to the last order done
    spent: Spent
    settled: bool

    @property
    def others_cores(self) -> float:
        """Cores the rest of the machine kept busy meanwhile (not the app, its database's
        backends or wrk): the shared machine's other work, and PostgreSQL's own."""
        rest = self.spent.machine - self.spent.app - self.spent.database
        return max(rest - self.load.generator_cpu, 0.0) / self.spent.wall

    @property
    def per_second(self) -> float:
        """Orders done, end to end: over the time until the last one was done."""
        return self.orders / self.seconds if self.seconds else 0.0

    @property
    def answered_per_second(self) -> float:
        """201s during the load: the rate requests finished at, Little's law's rate."""
        return self.load.created / self.load.seconds if self.load.seconds else 0.0

    def ms_per_order(self, cpu: float) -> float:
        return cpu * 1000 / self.orders if self.orders else float("nan")


def drive(url: str, script: Path, args: list[str], *, connections: int, seconds: int,
          threads: int) -> Load:
    """Run wrk with one of the peer scripts and read its result line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [require_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", WRK_TIMEOUT, "-s", str(script), url, "--", *args],
        capture_output=True, text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = re.search(r"^peer-result (.*)$", completed.stdout, re.MULTILINE)
    if result is None:
        raise RuntimeError(f"wrk printed no result:\n{completed.stdout}\n{completed.stderr}")
    found = {key: int(value) for key, value in
             (pair.split("=") for pair in result.group(1).split())}
    sample = re.search(r"^peer-sample ?(.*)$", completed.stdout, re.MULTILINE)
    return Load(requests=found["requests"], created=found["created"],
                sold_out=found["sold_out"], other=found["other"],
                p50_ms=found["p50_us"] / 1000, p99_ms=found["p99_us"] / 1000,
                seconds=found["duration_us"] / 1e6, socket_errors=found["socket_errors"],
                timeouts=found["timeouts"], sample=sample.group(1) if sample else "",
                generator_cpu=(after.ru_utime - before.ru_utime)
                + (after.ru_stime - before.ru_stime))


def cpu_of(pid: int) -> float | None:
    """User + system CPU seconds of one process, None once it is gone."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    return None


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent not idle, since it booted."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def backends_of(database: str) -> dict[int, float]:
    """CPU of each PostgreSQL backend now connected to ``database``: its process title
    (``postgres: user database host(port) state``) names the database."""
    found: dict[int, float] = {}
    marker = f" {database} "
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cpu = cpu_of(int(entry.name))
            if marker in title and cpu is not None:
                found[int(entry.name)] = cpu
    return found


class Meter:
    """CPU spent between ``start`` and ``stop`` by an app's processes (all of them,
    workers included) and by the backends of its database.

    Only the run's own database is counted: another user of this PostgreSQL server (the
    machine is shared) adds nothing. Backends are sampled every 0.2 s in a thread, so one
    that ends mid-run still counts up to its last sample; both systems keep theirs open
    (pools; Django's CONN_MAX_AGE, which pretix sets to 120 s). PostgreSQL's shared
    background processes (WAL writer, checkpointer) are not in the figure.
    """

    INTERVAL = 0.2

    def __init__(self, app: Server, database: str) -> None:
        self.app, self.database = app, database
        self._baseline: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stopping = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._app_start = self._machine_start = self._wall_start = 0.0

    def _sample(self) -> None:
        while not self._stopping.wait(self.INTERVAL):
            self._last.update(backends_of(self.database))

    def start(self) -> float:
        """Start counting; the wall-clock moment (epoch seconds) it started."""
        self._baseline = backends_of(self.database)
        self._last = dict(self._baseline)
        self._app_start = self.app.cpu_seconds()
        self._machine_start, self._wall_start = machine_busy(), time.monotonic()
        self._sampler.start()
        return time.time()

    def stop(self) -> Spent:
        """What was spent since ``start``."""
        app = self.app.cpu_seconds() - self._app_start
        machine, wall = machine_busy() - self._machine_start, time.monotonic() - self._wall_start
        self._stopping.set()
        self._sampler.join()
        self._last.update(backends_of(self.database))
        database = sum(cpu - self._baseline.get(pid, 0.0) for pid, cpu in self._last.items())
        return Spent(app, database, machine, wall)


async def _scalar(url: str, sql: str, *values: object) -> float:
    connection = await asyncpg.connect(url)
    try:
        return float(await connection.fetchval(sql, *values) or 0)
    finally:
        await connection.close()


def scalar(url: str, sql: str, *values: object) -> float:
    """One number from the database (0 for NULL)."""
    return asyncio.run(_scalar(url, sql, *values))


def count(url: str, sql: str, *values: object) -> int:
    return int(scalar(url, sql, *values))
