"""What the bounded edge costs: ``ticketing serve`` (uvicorn's h11 protocol with the head
limit and deadline of ``ticketing/serving.py``) against the same app on uvicorn's
httptools parser, which bounds nothing, in the same run, interleaved.

Run with ``make bench-edge`` (or ``python -m bench.edge``). Each cell is wrk with one
thread for 10 s on ``GET /api/tickets`` (a listing read from SQLite) and ``GET /healthz``
(the HTTP layer alone). Results go to docs/benchmarks.md.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.common import JWT_KEY, ROOT, machine, server, wrk
from bench.report import write_section

SECONDS = 10
CONNECTIONS = 50
ROUNDS = 2
SCRIPT = ROOT / "bench" / "get.lua"
SERVERS = {
    "bounded h11 (ticketing serve)": [sys.executable, "-m", "ticketing", "serve", "--port",
                                      "{port}"],
    "httptools, unbounded": [sys.executable, "-m", "uvicorn", "--factory",
                             "ticketing.app:create_app_from_env", "--http", "httptools",
                             "--port", "{port}", "--no-access-log", "--log-level", "warning"],
}


def main() -> None:
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        env = {"TICKETING_DATA_DIR": str(Path(tmp) / "data"), "TICKETING_JWT_KEY": JWT_KEY,
               "TICKETING_LOG_LEVEL": "WARNING", "TICKETING_ENV": "test",
               "TICKETING_MAX_IN_FLIGHT": "0"}  # the edge's own limits, not the app's bound
        for round_ in range(ROUNDS):
            for name, command in SERVERS.items():
                with server(command, env, Path(tmp) / f"{round_}-{len(results)}.log") as running:
                    for path in ("/healthz", "/api/tickets"):
                        result = wrk(running.url, SCRIPT, [path], connections=CONNECTIONS,
                                     seconds=SECONDS)
                        results.setdefault((name, path), []).append(result.requests_per_second)
                        print(name, path, f"{result.requests_per_second:.0f}/s", flush=True)
    rows = []
    for path in ("/healthz", "/api/tickets"):
        baseline = max(results[("httptools, unbounded", path)])
        for name in SERVERS:
            best = max(results[(name, path)])
            rows.append(f"| `GET {path}` | {name} | {best:,.0f} | {best / baseline:.2f} |")
    body = "\n".join([
        f"Machine: {machine()}. wrk, 1 thread, {CONNECTIONS} connections, {SECONDS} s per "
        f"cell, best of {ROUNDS} interleaved rounds (`make bench-edge`).",
        "",
        "| request | server | requests/s | ratio to httptools |",
        "|---|---|---|---|",
        *rows,
    ])
    print(body)
    write_section("The bounded edge vs httptools", body)


if __name__ == "__main__":
    main()
