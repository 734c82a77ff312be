"""Sign up, see yourself, sign out: over real HTTP against ``python -m ticketing serve``.

The server runs in a subprocess on a free port with a temporary data dir and no JWT key
(so the development key path runs too), once with every module and once with
``TICKETING_MODULES=auth``. The process is always stopped, and its log is shown when a
test fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Server:
    base_url: str
    modules: str
    data_dir: Path
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(process: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{server.log_text()[-3000:]}")
        try:
            if httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    pytest.fail(f"not ready after {STARTUP_TIMEOUT_SECONDS}s:\n{server.log_text()[-3000:]}")


@pytest.fixture(scope="module", params=["all", "auth"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``ticketing serve`` with ``TICKETING_MODULES`` = the param, stopped afterwards."""
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    running = Server(f"http://127.0.0.1:{free_port()}", request.param, workdir / "data",
                     workdir / "server.log")
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TICKETING_")}
    env.update(TICKETING_ENV="test", TICKETING_DATA_DIR=str(running.data_dir),
               TICKETING_MODULES=request.param, PYTHONUNBUFFERED="1")
    with running.log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "ticketing", "serve", "--host", "127.0.0.1",
             "--port", running.base_url.rsplit(":", 1)[1]],
            env=env, stdout=output, stderr=subprocess.STDOUT, cwd=workdir,
        )
    try:
        wait_until_ready(process, running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    """A client with its own cookie jar, as one browser profile."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def test_signup_currentuser_signout_over_http(http: httpx.Client) -> None:
    email = f"e2e-{uuid.uuid4().hex[:10]}@test.com"

    signed_up = http.post("/api/users/signup", json={"email": email, "password": "password"})
    assert signed_up.status_code == 201
    user = signed_up.json()
    set_cookie = signed_up.headers["set-cookie"]
    assert set_cookie.startswith("session=")
    assert "HttpOnly" in set_cookie
    assert "Secure" not in set_cookie

    me = http.get("/api/users/currentuser").json()["currentUser"]
    assert (me["id"], me["email"]) == (user["id"], email)
    assert me["exp"] > me["iat"]

    signed_out = http.post("/api/users/signout")
    assert signed_out.status_code == 200
    assert signed_out.json() == {}
    assert http.get("/api/users/currentuser").json() == {"currentUser": None}

    signed_in = http.post("/api/users/signin", json={"email": email, "password": "password"})
    assert signed_in.status_code == 200
    assert signed_in.json()["id"] == user["id"]
    assert http.get("/api/users/currentuser").json()["currentUser"]["id"] == user["id"]


def test_the_development_key_is_kept_in_the_data_dir(server: Server) -> None:
    key_file = server.data_dir / "jwt.key"

    assert len(key_file.read_text().strip()) >= 32


def test_the_app_serves_exactly_the_modules_it_was_started_with(
    http: httpx.Client, server: Server,
) -> None:
    tickets = http.get("/api/tickets")

    if server.modules == "auth":
        assert tickets.status_code == 404
        assert tickets.json() == {"errors": [{"message": "Not Found"}]}
    else:
        assert tickets.status_code == 200
    assert http.get("/api/users/currentuser").status_code == 200


def test_a_cross_site_post_is_refused_over_http(http: httpx.Client) -> None:
    response = http.post("/api/users/signin", json={"email": "a@test.com", "password": "x"},
                         headers={"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert response.json()["errors"][0]["message"]


def test_each_request_is_logged_with_its_request_id(http: httpx.Client, server: Server) -> None:
    request_id = f"e2e-{uuid.uuid4().hex}"

    http.get("/api/users/currentuser", headers={"X-Request-Id": request_id})

    deadline = time.monotonic() + 5
    while request_id not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [line for line in server.log_text().splitlines() if request_id in line]
    assert len(lines) == 1
    assert "GET /api/users/currentuser" in lines[0]
    assert " 200 " in lines[0]
