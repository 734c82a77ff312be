"""Real ``python -m ticketing serve`` processes, for the end-to-end and browser tests and
for ``deploy/split.py`` (the split on a developer's machine).

A :class:`ServerProcess` runs on a free port with its own data dir and log; it can be
killed (as a crashed pod would be) and started again on the same port and data dir.
Every test that starts one stops it. :func:`wait_ready` is how anything here waits for a
process to serve.
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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_SECONDS = 30.0
LOG_TAIL_CHARACTERS = 6000
READY_POLL_SECONDS = 0.05


class NotServing(AssertionError):
    """A process exited while starting, or was not ready in time (a test failure)."""


def wait_ready(name: str, process: subprocess.Popen[bytes], url: str, deadline: float) -> None:
    """Until ``url`` (a ``/readyz``) answers 200; :class:`NotServing` if the process dies
    or the deadline (``time.monotonic()``) passes."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NotServing(f"{name} exited with {process.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(READY_POLL_SECONDS)
    raise NotServing(f"{name} was not ready at {url} in time")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(data_dir: Path, **variables: str) -> dict[str, str]:
    """This process's environment without any ``TICKETING_*``, plus a test server's own."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TICKETING_")}
    env.update({"TICKETING_ENV": "test", "TICKETING_DATA_DIR": str(data_dir),
                "PYTHONUNBUFFERED": "1", **variables})
    return env


@dataclass
class ServerProcess:
    """One ``ticketing serve`` process; ``name`` labels it in failures.

    ``python`` is the interpreter it runs under: this test run's, or another installation's
    (a wheel installed into a clean venv, the previous release).
    """

    name: str
    port: int
    data_dir: Path
    log: Path
    env: dict[str, str]
    python: str = sys.executable
    serve_options: tuple[str, ...] = ()  # more ``ticketing serve`` options, e.g. --workers
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
                [self.python, "-m", "ticketing", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), *self.serve_options],
                env=self.env, stdout=output, stderr=subprocess.STDOUT, cwd=self.data_dir.parent,
            )

    def start_and_wait(self) -> None:
        self.start()
        self.wait_ready(time.monotonic() + STARTUP_TIMEOUT_SECONDS)

    def kill(self) -> None:
        """SIGKILL, as a crashed pod or an OOM kill would end it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within five seconds."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()

    def wait_ready(self, deadline: float) -> None:
        """Until ``/readyz`` answers 200; fails with the log if the process dies."""
        assert self.process is not None
        try:
            wait_ready(self.name, self.process, f"{self.url}/readyz", deadline)
        except NotServing as error:
            raise NotServing(f"{error}:\n{self.log_tail()}") from None

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL_CHARACTERS:]
        except FileNotFoundError:
            return "(no log)"


@contextmanager
def running_server(workdir: Path, name: str, **variables: str) -> Iterator[ServerProcess]:
    """A started ``ticketing serve`` of its own data dir under ``workdir``, stopped after."""
    (workdir / name).mkdir(parents=True, exist_ok=True)
    process = ServerProcess(name=name, port=free_port(), data_dir=workdir / name / "data",
                            log=workdir / f"{name}.log",
                            env=server_environment(workdir / name / "data", **variables))
    process.start_and_wait()
    try:
        yield process
    finally:
        process.stop()
