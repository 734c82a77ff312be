"""``serve --workers 2``: a scrape of either worker reports both workers' figures.

prometheus-client's multiprocess mode (the CLI gives the workers a shared directory):
requests spread over the two workers by the kernel are all counted, whichever worker
answers the scrape. Several workers need PostgreSQL (SQLite relays cannot share an
outbox), so this runs in the PostgreSQL leg.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_ENABLED, TEST_JWT_KEY
from tests.support.processes import ServerProcess, free_port, server_environment
from tests.support.scrape import parse, value

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_ENABLED,
                       reason="PostgreSQL leg runs with CI=true or TICKETING_TEST_POSTGRES_URL"),
]
REQUESTS = 40


def test_a_scrape_of_any_worker_counts_every_workers_requests(
    tmp_path: Path, fresh_postgres_url: Callable[[], str],
) -> None:
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"an earlier run's figures")  # must not count
    variables = {"TICKETING_DATABASE_URL": fresh_postgres_url(),
                 "TICKETING_JWT_KEY": TEST_JWT_KEY, "TICKETING_THROTTLE": "off"}
    subprocess.run([sys.executable, "-m", "ticketing", "migrate"], check=True, timeout=120,
                   env=server_environment(tmp_path / "migrate", **variables))
    (tmp_path / "data").mkdir()
    server = ServerProcess(name="workers", port=free_port(), data_dir=tmp_path / "data",
                           log=tmp_path / "workers.log", serve_options=("--workers", "2"),
                           env=server_environment(tmp_path / "data", **variables,
                                                  PROMETHEUS_MULTIPROC_DIR=str(shared)))
    server.start_and_wait()
    try:
        for _ in range(REQUESTS):
            # A connection each, so the kernel spreads them over both workers.
            assert httpx.get(f"{server.url}/api/tickets", timeout=10).status_code == 200
        scrapes = [parse(httpx.get(f"{server.url}/metrics", timeout=10).text)
                   for _ in range(6)]
    finally:
        server.stop()

    counted = {value(s, "ticketing_http_requests_total", route="/api/tickets", method="GET",
                     status="200") for s in scrapes}
    assert counted == {REQUESTS}, server.log_tail()
    # Both workers wrote their figures there (files are named <kind>_<pid>.db), and only
    # they: the earlier run's file was cleared before they started.
    writers = {path.stem.rsplit("_", 1)[1] for path in shared.glob("counter_*.db")}
    assert len(writers) == 2, sorted(p.name for p in shared.iterdir())
