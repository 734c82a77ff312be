"""Schemathesis over ``/openapi.json`` of a real server: every documented operation fuzzed,
anonymous and signed in; no 5xx, and every refusal in the contract's error shape."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ServerProcess, running_server

pytestmark = pytest.mark.slow

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
EXAMPLES = "15"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("fuzz")
    with running_server(workdir, "fuzz", TICKETING_THROTTLE="off") as process:
        yield process


def session_cookie(server: ServerProcess) -> str:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.post("/api/users/signup", json={"email": "fuzz@example.com", "password": "pw12"})
        return str(http.cookies["session"])


@pytest.mark.parametrize("who", ["anonymous", "signed-in"])
def test_no_operation_answers_a_5xx_or_an_error_of_another_shape(
    server: ServerProcess, who: str,
) -> None:
    headers = ["-H", f"Cookie: session={session_cookie(server)}"] if who == "signed-in" else []
    result = subprocess.run(
        [SCHEMATHESIS, "run", f"{server.url}/openapi.json", "--checks",
         "not_a_server_error,errors_in_contract_shape", "--max-examples", EXAMPLES,
         "--seed", "1", "--no-color", *headers,
         # A shared 2-core CI box: slow generation or a slow answer is not the server's fault.
         "--suppress-health-check", "too_slow", "--request-timeout", "60"],
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.e2e.schemathesis_hooks",
             "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True, text=True, timeout=600, check=False)

    assert result.returncode == 0, result.stdout[-12000:] + result.stderr[-2000:] \
        + server.log_tail()
