"""End-to-end fixtures: the split deployment as real processes on this machine.

``split_cluster`` starts one JetStream server and five ``python -m ticketing serve``
processes, one per module, each on its own free port with its own data dir (so its own
SQLite files), all sharing one JWT key: the same shape as ``deploy/k8s/split``. Every
process is killed at teardown; when a test fails, each process's log is appended to its
report.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.nats_server import NatsServer
from tests.servers import (
    LOG_TAIL_CHARACTERS,
    STARTUP_TIMEOUT_SECONDS,
    ServerProcess,
    free_port,
    server_environment,
)
from ticketing.settings import MODULE_NAMES

SPLIT_JWT_KEY = "split-mode-e2e-signing-key-0123456789abcdef"


@dataclass
class SplitCluster:
    """NATS plus one process per module; ``url(module)`` is where that module serves."""

    nats: NatsServer
    processes: dict[str, ServerProcess] = field(default_factory=dict)

    def url(self, module: str) -> str:
        return self.processes[module].url

    def restart(self, module: str) -> None:
        """Start a killed module again and wait until it is ready."""
        process = self.processes[module]
        process.start()
        process.wait_ready(time.monotonic() + STARTUP_TIMEOUT_SECONDS)

    def logs(self) -> dict[str, str]:
        logs = {name: p.log_tail() for name, p in self.processes.items()}
        nats_log = self.nats.workdir / "nats-server.log"
        if nats_log.exists():
            logs["nats-server"] = nats_log.read_text(errors="replace")[-LOG_TAIL_CHARACTERS:]
        return logs

    def stop(self) -> None:
        """Terminate every server, then kill what did not stop in time, then NATS."""
        running = [p.process for p in self.processes.values()
                   if p.process is not None and p.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + 5
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.nats.kill()


def module_environment(module: str, data_dir: Path, nats_url: str,
                       **overrides: str) -> dict[str, str]:
    """The environment of one module's process, as a split deployment's pod gets it."""
    return server_environment(data_dir, **{
        "TICKETING_MODULES": module, "TICKETING_BUS": "nats", "TICKETING_NATS_URL": nats_url,
        "TICKETING_JWT_KEY": SPLIT_JWT_KEY, **overrides,
    })


@pytest.fixture
def split_cluster(tmp_path: Path) -> Iterator[SplitCluster]:
    """The five modules as five processes over one JetStream server, all ready."""
    nats = NatsServer(tmp_path / "nats")
    nats.workdir.mkdir()
    nats.start()
    cluster = SplitCluster(nats)
    try:
        for module in MODULE_NAMES:
            data_dir = tmp_path / module
            cluster.processes[module] = ServerProcess(
                name=module, port=free_port(), data_dir=data_dir,
                log=tmp_path / f"{module}.log",
                env=module_environment(module, data_dir, nats.url,
                                       TICKETING_EXPIRATION_SECONDS="3"),
            )
        for process in cluster.processes.values():
            process.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        for process in cluster.processes.values():
            process.wait_ready(deadline)
        yield cluster
    finally:
        cluster.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed split-mode test carries the log of every process in its report."""
    report = yield
    cluster = getattr(item, "funcargs", {}).get("split_cluster")
    if report.failed and isinstance(cluster, SplitCluster):
        for name, text in cluster.logs().items():
            report.sections.append((f"log of {name}", text))
    return report
