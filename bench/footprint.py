"""Start-up time and idle memory of a one-process server, against a bare Quart app.

Run with ``make bench-footprint`` (or ``python -m bench.footprint``). Start-up is the
time from spawning the process to the first 200 from its readiness probe (migrations of
a fresh embedded database included for the app); memory is the resident set of the idle
process five seconds later. Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import JWT_KEY, ROOT, machine, server
from bench.report import write_section

RUNS = 3


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(command: list[str], env: dict[str, str], log: Path,
            ready_path: str) -> tuple[float, float]:
    started = time.monotonic()
    with server(command, env, log, ready_path=ready_path) as running:
        ready = time.monotonic() - started
        time.sleep(5)
        return ready, resident_mib(running.process.pid)


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-footprint-") as tmp:
        workdir = Path(tmp)
        cases = {
            "bare Quart app (baseline)": (
                [sys.executable, "-m", "uvicorn", "--factory", "bench.ceiling:create_app",
                 "--port", "{port}", "--log-level", "warning"],
                lambda n: {"BENCH_DATABASE_URL": f"sqlite://{workdir}/bare-{n}.db",
                           "PYTHONPATH": str(ROOT)},
                "/healthz"),
            "ticketing, all five modules": (
                [sys.executable, "-m", "ticketing", "serve", "--port", "{port}"],
                lambda n: {"TICKETING_DATA_DIR": str(workdir / f"app-{n}"),
                           "TICKETING_JWT_KEY": JWT_KEY, "TICKETING_LOG_LEVEL": "WARNING"},
                "/readyz"),
        }
        results: dict[str, tuple[float, float]] = {}
        for name, (command, env, probe) in cases.items():
            samples = [measure(command, env(n), workdir / f"{n}.log", probe) for n in range(RUNS)]
            results[name] = (statistics.median(s[0] for s in samples),
                             statistics.median(s[1] for s in samples))
        base_ready, base_rss = results["bare Quart app (baseline)"]
        for name, (ready, rss) in results.items():
            rows.append(f"| {name} | {ready:.2f} | {ready / base_ready:.1f}x | {rss:.0f} | "
                        f"{rss / base_rss:.1f}x |")
    report = "\n".join([
        f"Machine: {machine()}. Median of {RUNS} starts on a fresh data dir (the app migrates "
        "five SQLite databases first); memory is VmRSS of the idle process 5 s after ready.",
        "",
        "| server | start to ready s | vs baseline | idle RSS MiB | vs baseline |",
        "|---|---|---|---|---|",
        *rows,
    ])
    print(report)
    if "--no-write" not in sys.argv:
        write_section("Start-up and idle memory (bench/footprint)", report)


if __name__ == "__main__":
    main()
