"""A process killed with reservations pending expires every overdue one when it comes back."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import STARTUP_TIMEOUT_SECONDS, ServerProcess, free_port
from tests.support.split import SPLIT_JWT_KEY, module_environment
from ticketing.ids import new_id
from ticketing.modules.auth.tokens import TokenCodec

WINDOW_SECONDS = 2
# The dead process's scheduler lease must run out before the new one may fire.
LEASE_SECONDS = 5


@pytest.fixture
def one_process(tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "data"
    process = ServerProcess(
        name="all", port=free_port(), data_dir=data_dir, log=tmp_path / "server.log",
        env=module_environment("all", data_dir, "nats://127.0.0.1:1", TICKETING_BUS="inproc",
                               TICKETING_EXPIRATION_SECONDS=str(WINDOW_SECONDS)),
    )
    process.start()
    process.wait_ready(time.monotonic() + STARTUP_TIMEOUT_SECONDS)
    yield process
    process.kill()


def until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not seen within {seconds}s")


def test_overdue_reservations_expire_after_a_kill_and_restart(one_process: ServerProcess) -> None:
    user_id = new_id()
    cookie = TokenCodec(SPLIT_JWT_KEY, 3600).issue_cookie(user_id, f"{user_id}@test.com")
    client = httpx.Client(base_url=one_process.url, cookies={"session": cookie}, timeout=5)
    ticket = client.post("/api/tickets", json={"title": "Last show", "price": 25}).json()
    orders: list[httpx.Response] = []

    def reserved() -> bool:
        orders.append(client.post("/api/orders", json={"ticketId": ticket["id"]}))
        return orders[-1].status_code == 201

    until(reserved, 5, "the reservation")
    order_id = orders[-1].json()["id"]

    until(lambda: _pending(one_process), 5, "the deadline stored by the expiration module")
    one_process.kill()
    time.sleep(WINDOW_SECONDS + 1)  # the deadline passes while nothing runs

    one_process.start()
    one_process.wait_ready(time.monotonic() + STARTUP_TIMEOUT_SECONDS)
    restarted = time.monotonic()
    until(lambda: client.get(f"/api/orders/{order_id}").json()["status"] == "cancelled",
          LEASE_SECONDS + 5, "the overdue cancellation")
    assert time.monotonic() - restarted < LEASE_SECONDS + 5
    until(lambda: any(t["id"] == ticket["id"] for t in client.get("/api/tickets").json()),
          5, "the ticket back in the listing")


def _pending(process: ServerProcess) -> bool:
    with sqlite3.connect(process.data_dir / "expiration.sqlite3") as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM expiration_pending").fetchone()
    return bool(count)
