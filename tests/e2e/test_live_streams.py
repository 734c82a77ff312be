"""Live streams over real HTTP: split across processes over NATS, and a clean stop with one open.

A stream is read line by line in a background thread, as a browser's EventSource would
(``tests/support/streams.py``).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import STARTUP_TIMEOUT_SECONDS, ServerProcess, free_port
from tests.support.split import SplitCluster, module_environment
from tests.support.streams import EVENT_SECONDS, cookie_for, streaming
from ticketing.cli import GRACEFUL_SHUTDOWN_SECONDS
from ticketing.ids import new_id


def test_in_the_split_each_page_hears_what_the_other_processes_did(
    split_cluster: SplitCluster,
) -> None:
    seller, buyer = cookie_for(new_id()), cookie_for(new_id())
    tickets_url, orders_url = split_cluster.url("tickets"), split_cluster.url("orders")

    with streaming(tickets_url, "/live/tickets") as listing:
        ticket = httpx.post(f"{tickets_url}/api/tickets", json={"title": "Split", "price": 12},
                            cookies={"session": seller}).json()
        assert listing.until("ticket", lambda t: t["id"] == ticket["id"])["available"] is True

        order = None
        deadline = time.monotonic() + EVENT_SECONDS
        while order is None:  # orders hears of the ticket through NATS a moment later
            response = httpx.post(f"{orders_url}/api/orders", json={"ticketId": ticket["id"]},
                                  cookies={"session": buyer})
            if response.status_code == 201:
                order = response.json()
            else:
                assert response.status_code == 404
                assert time.monotonic() < deadline
                time.sleep(0.1)
        held = listing.until("ticket", lambda t: t["id"] == ticket["id"] and t["version"] == 1)
        assert held["available"] is False  # the tickets process heard orders' order:created

        # Nobody pays: the expiration process fires, orders cancels, tickets frees the ticket.
        with streaming(orders_url, f"/live/orders/{order['id']}", buyer) as mine:
            cancelled = mine.until("order", lambda o: o["status"] == "cancelled")
        freed = listing.until("ticket", lambda t: t["id"] == ticket["id"] and t["version"] == 2)

    assert cancelled == {"id": order["id"], "status": "cancelled", "version": 1}
    assert freed["available"] is True


@pytest.fixture
def one_process(tmp_path: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_path / "data"
    process = ServerProcess(
        name="all", port=free_port(), data_dir=data_dir, log=tmp_path / "server.log",
        env=module_environment("all", data_dir, "nats://127.0.0.1:1", TICKETING_BUS="inproc"),
    )
    process.start()
    process.wait_ready(time.monotonic() + STARTUP_TIMEOUT_SECONDS)
    yield process
    process.kill()


def test_a_server_with_a_stream_open_still_stops_gracefully_and_soon(
    one_process: ServerProcess,
) -> None:
    # uvicorn waits for open connections before the app's shutdown; a stream never closes
    # by itself, so without a graceful-shutdown timeout SIGTERM would wait forever.
    assert one_process.process is not None
    with streaming(one_process.url, "/live/tickets"):
        started = time.monotonic()
        one_process.process.send_signal(signal.SIGTERM)
        code = one_process.process.wait(timeout=GRACEFUL_SHUTDOWN_SECONDS + 15)
        elapsed = time.monotonic() - started

    log = one_process.log.read_text()
    assert code == -signal.SIGTERM  # uvicorn re-raises the signal it handled, once done
    assert elapsed < GRACEFUL_SHUTDOWN_SECONDS + 10
    assert "timeout graceful shutdown exceeded" in log  # the stream was cut...
    assert "Application shutdown complete" in log  # ...and the app then stopped in order
