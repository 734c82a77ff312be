"""Shared plumbing of the benchmarks: machine facts, temporary databases, servers, wrk."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL",
                                    "postgres://postgres@127.0.0.1:5432/postgres")
JWT_KEY = "benchmark-signing-key-0123456789-abcdefghij"
# The Ed25519 seed that signs passes: production requires one where tickets runs.
PASS_KEY = base64.urlsafe_b64encode(b"benchmark-pass-key-32-bytes-0123").decode().rstrip("=")
ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    """One line describing where the numbers came from."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one benchmark run, dropped afterwards."""
    name = f"ticketing_bench_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def rows_per_database(kinds: str, run: Callable[[str, str | None], str]) -> list[str]:
    """``run(kind, database_url)`` on each of the comma list ``kinds`` (``sqlite``: the
    embedded default, ``postgres``: a database made for it and dropped after), each
    table row printed as it is measured."""
    rows = []
    for kind in kinds.split(","):
        if kind == "postgres":
            with postgres_database() as url:
                rows.append(run(kind, url))
        else:
            rows.append(run(kind, None))
        print(rows[-1], flush=True)
    return rows


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def cpu_seconds(self) -> float:
        """User+system CPU of the server process and its children (workers)."""
        total = 0.0
        pids = [self.process.pid, *_children(self.process.pid)]
        ticks = os.sysconf("SC_CLK_TCK")
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks
        return total


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += [int(child), *_children(int(child))]
    return found


@contextlib.contextmanager
def server(command: list[str], env: dict[str, str], log: Path,
           ready_path: str = "/healthz") -> Iterator[Server]:
    """Run an HTTP server command until the block ends; ``{port}`` in it is filled in."""
    port = free_port()
    full_env = os.environ | env
    with log.open("wb") as out:
        process = subprocess.Popen([part.format(port=port) for part in command], env=full_env,
                                   stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + ready_path, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready: {log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield Server(process, url, log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    generator_cpu_seconds: float
    duration_seconds: float

    @property
    def ok_per_second(self) -> float:
        return (self.requests - self.errors) / self.duration_seconds


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is missing: `apt-get install wrk` (the bench targets in the Makefile do it)")
    return found


def wrk(url: str, script: Path, args: list[str], *, connections: int, seconds: int,
        threads: int = 1) -> WrkResult:
    """Run wrk with a Lua script; parse throughput, latency percentiles and errors."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [require_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--latency", "--timeout", "10s", "-s", str(script), url, "--", *args],
        capture_output=True, text=True, check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = completed.stdout
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    requests = int(_find(r"(\d+) requests in", out))
    errors = int(_find(r"Non-2xx or 3xx responses: (\d+)", out, "0"))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)",
                                             _find(r"Socket errors: (.*)", out, "")))
    return WrkResult(
        requests_per_second=float(_find(r"Requests/sec:\s+([\d.]+)", out)),
        p50_ms=_millis(_find(r"50%\s+(\S+)", out)),
        p99_ms=_millis(_find(r"99%\s+(\S+)", out)),
        requests=requests, errors=errors, generator_cpu_seconds=cpu,
        duration_seconds=float(_find(r"requests in ([\d.]+)s", out)),
    )


def _find(pattern: str, text: str, default: str | None = None) -> str:
    match = re.search(pattern, text)
    if match is None:
        if default is None:
            raise ValueError(f"{pattern!r} not in wrk output:\n{text}")
        return default
    return match.group(1)


def _millis(value: str) -> float:
    """wrk's latency text (``812.00us``, ``1.20s``) in milliseconds; NaN when it printed none."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        return float("nan")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
