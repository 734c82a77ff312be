"""The edge of a real ``ticketing serve``, probed with raw sockets as an attacker would.

A request head larger than the limit is refused at once; unfinished heads cost bounded
memory and are closed after the head timeout; an idle kept-alive connection is closed;
forwarded addresses count only from trusted proxies; every response carries the
security headers.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.processes import ServerProcess, running_server
from ticketing.serving import KEEP_ALIVE_SECONDS, MAX_HEAD_BYTES

HEAD_TIMEOUT = 1


def edge_server(workdir: Path, name: str, **variables: str) -> Any:
    return running_server(workdir, name, TICKETING_MODULES="auth,tickets",
                          TICKETING_REQUEST_HEAD_TIMEOUT_SECONDS=str(HEAD_TIMEOUT), **variables)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with edge_server(tmp_path_factory.mktemp("edge"), "edge") as process:
        yield process


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def closed_within(sock: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes; fails if it keeps the line open."""
    sock.settimeout(seconds)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the connection stayed open for {seconds}s (got {received[:80]!r})")


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_head_over_the_limit_is_refused_at_once(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (MAX_HEAD_BYTES * 4)
                     + b"\r\n\r\n")
        answer = closed_within(sock, 5)

    assert answer.startswith(b"HTTP/1.1 431 ")


def test_unfinished_huge_heads_cost_bounded_memory_and_are_closed(
    server: ServerProcess,
) -> None:
    assert server.process is not None
    before = resident_mib(server.process.pid)
    sockets = [connect(server) for _ in range(5)]
    try:
        for sock in sockets:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"a" * 65536
        for _ in range(16):  # 1 MiB per connection, the head never ends
            for sock in sockets:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    sock.sendall(chunk)
        grown = resident_mib(server.process.pid) - before
        answers = [closed_within(sock, 5) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()

    assert grown < 30, f"5 unfinished heads grew the server by {grown:.0f} MiB"
    assert all(a == b"" or a.startswith(b"HTTP/1.1 431 ") for a in answers)


def test_a_head_that_never_completes_is_closed_after_the_head_timeout(
    server: ServerProcess,
) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        started = time.monotonic()
        closed_within(sock, HEAD_TIMEOUT + 10)

    assert time.monotonic() - started >= HEAD_TIMEOUT * 0.9


def test_an_idle_kept_alive_connection_is_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = closed_within(sock, KEEP_ALIVE_SECONDS + HEAD_TIMEOUT + 10)

    assert answer.startswith(b"HTTP/1.1 200 ")


def forwarded_address_logged(server: ServerProcess) -> str:
    """The client address the access log shows for a request forwarded for 203.0.113.7."""
    marker = f"probe={time.monotonic_ns()}"
    httpx.get(f"{server.url}/healthz?{marker}", headers={"X-Forwarded-For": "203.0.113.7"},
              timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in server.log.read_text(errors="replace").splitlines()
                 if marker in line and "ticketing.access " in line]
        if lines:
            return lines[0].split("ticketing.access ", 1)[1].split(" ", 1)[0]
        time.sleep(0.05)
    pytest.fail(f"no access log line for {marker}")


def test_forwarded_addresses_count_only_from_trusted_proxies(
    server: ServerProcess, tmp_path: Path,
) -> None:
    with edge_server(tmp_path, "untrusting", TICKETING_TRUSTED_PROXIES="") as untrusting:
        assert forwarded_address_logged(server) == "203.0.113.7"  # loopback is trusted
        assert forwarded_address_logged(untrusting) == "127.0.0.1"


@pytest.mark.parametrize("path", ["/", "/api/tickets/nope", "/static/vendor/bootstrap/css/"
                                  "bootstrap.min.css", "/static/vendor/" + "x" * 300])
def test_every_response_carries_the_security_headers(server: ServerProcess, path: str) -> None:
    response = httpx.get(f"{server.url}{path}", timeout=10)

    assert response.status_code < 500
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    # The door page scans passes with this site's own camera access; nothing else may.
    assert "camera=(self)" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # not in development
