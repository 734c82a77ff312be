"""End-to-end fixtures: the split deployment as real processes on this machine.

``split_cluster`` starts one JetStream server and five ``python -m ticketing serve``
processes, one per module, each on its own free port with its own data dir (so its own
SQLite files), all sharing one JWT key: the same shape as ``deploy/k8s/split``. Every
process is killed at teardown; when a test fails, each process's log is appended to its
report.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.nats_server import NatsServer
from ticketing.settings import MODULE_NAMES

SPLIT_JWT_KEY = "split-mode-e2e-signing-key-0123456789abcdef"
STARTUP_TIMEOUT_SECONDS = 30.0
LOG_TAIL_CHARACTERS = 6000


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ModuleProcess:
    """One ``ticketing serve`` process running a single module."""

    module: str
    port: int
    data_dir: Path
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or restart, on the same port and data dir) the server."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        with self.log.open("ab") as output:
            output.write(f"\n===== start #{self.starts} =====\n".encode())
            output.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ticketing", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=self.env, stdout=output, stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """SIGKILL, as a crashed pod or an OOM kill would end it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def wait_ready(self, deadline: float) -> None:
        """Poll ``/readyz`` until it answers 200; fail with the log if the process dies."""
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.module} exited with {self.process.returncode}:\n"
                            f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.module} not ready after {STARTUP_TIMEOUT_SECONDS}s:\n"
                    f"{self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL_CHARACTERS:]
        except FileNotFoundError:
            return "(no log)"


@dataclass
class SplitCluster:
    """NATS plus one process per module; ``url(module)`` is where that module serves."""

    nats: NatsServer
    processes: dict[str, ModuleProcess] = field(default_factory=dict)

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
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TICKETING_")}
    env.update({
        "TICKETING_MODULES": module,
        "TICKETING_BUS": "nats",
        "TICKETING_NATS_URL": nats_url,
        "TICKETING_JWT_KEY": SPLIT_JWT_KEY,
        "TICKETING_ENV": "test",
        "TICKETING_DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
        **overrides,
    })
    return env


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
            cluster.processes[module] = ModuleProcess(
                module=module, port=free_port(), data_dir=data_dir,
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
