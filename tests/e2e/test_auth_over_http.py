"""Sign up, see yourself, sign out: over real HTTP against ``python -m ticketing serve``.

The server runs in a subprocess on a free port with a temporary data dir and no JWT key
(so the development key path runs too), once with every module and once with
``TICKETING_MODULES=auth``. The process is always stopped, and its log is shown when a
test fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ServerProcess, free_port, server_environment


@dataclass(frozen=True)
class Server:
    """The running server and the modules it was started with."""

    process: ServerProcess
    modules: str

    @property
    def base_url(self) -> str:
        return self.process.url

    @property
    def data_dir(self) -> Path:
        return self.process.data_dir

    def log_text(self) -> str:
        return self.process.log.read_text(errors="replace")


@pytest.fixture(scope="module", params=["all", "auth"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``ticketing serve`` with ``TICKETING_MODULES`` = the param, stopped afterwards."""
    workdir = tmp_path_factory.mktemp(f"e2e-{request.param}")
    process = ServerProcess(
        name=f"modules={request.param}", port=free_port(), data_dir=workdir / "data",
        log=workdir / "server.log",
        env=server_environment(workdir / "data", TICKETING_MODULES=request.param),
    )
    try:
        process.start_and_wait()
        yield Server(process, request.param)
    finally:
        process.stop()


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
