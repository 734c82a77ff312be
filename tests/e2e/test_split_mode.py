"""The whole story over real HTTP, with each module in its own process over NATS JetStream.

Every request goes to the process that owns its route, as the split Ingress sends it.
The orders process is killed with SIGKILL while its order's deadline passes, and
restarted: the order, the expiry that fired meanwhile and the cancellation it causes
must all survive.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest

from tests.support.split import SplitCluster, order_status, pay, reserve
from tests.support.waiting import eventually_blocking
from ticketing.bus.nats import JetStreamLayout

T = TypeVar("T")

EXPIRATION_SECONDS = 3
REPLICATION_TIMEOUT = 10.0
ACK_WAIT_SECONDS = JetStreamLayout().ack_wait_seconds
PASSWORD = "split-secret"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """One client for every process: the session cookie is per host, not per port."""
    with httpx.Client(timeout=5.0) as client:
        yield client


def listed_ids(http: httpx.Client, cluster: SplitCluster) -> set[str]:
    response = http.get(f"{cluster.url('tickets')}/api/tickets")
    assert response.status_code == 200, response.text
    return {ticket["id"] for ticket in response.json()}


def test_the_story_runs_across_six_processes_and_survives_a_killed_orders_process(
    split_cluster: SplitCluster, http: httpx.Client,
) -> None:
    cluster = split_cluster

    signed_up = http.post(f"{cluster.url('auth')}/api/users/signup",
                          json={"email": "split@example.com", "password": PASSWORD})
    assert signed_up.status_code == 201, signed_up.text
    assert http.get(f"{cluster.url('orders')}/api/users/currentuser").status_code == 404, \
        "orders must not serve the auth routes"

    listed = http.post(f"{cluster.url('tickets')}/api/tickets",
                       json={"title": "Split concert", "price": 20})
    assert listed.status_code == 201, listed.text
    ticket_id = listed.json()["id"]
    assert ticket_id in listed_ids(http, cluster)

    # First hold: orders learns of the ticket over NATS, tickets hides it once reserved.
    first = reserve(http, cluster, ticket_id)
    assert first["status"] == "created"
    eventually_blocking(
        lambda: ticket_id not in listed_ids(http, cluster),
        "the reserved ticket leaves the listing")

    # Orders dies while its order is open; the deadline passes while it is down.
    cluster.processes["orders"].kill()
    time.sleep(EXPIRATION_SECONDS + 0.5)
    cluster.restart("orders")

    assert order_status(http, cluster, first["id"]) in ("created", "cancelled"), \
        "the order survived the kill"
    # An event handed to the killed process's last pull comes back only after JetStream's
    # ack wait (30 s), so this may take that long on a busy machine.
    eventually_blocking(
        lambda: order_status(http, cluster, first["id"]) == "cancelled",
        "the expiry that fired while orders was down cancels the order",
        within=ACK_WAIT_SECONDS + REPLICATION_TIMEOUT)
    eventually_blocking(
        lambda: ticket_id in listed_ids(http, cluster),
        "the expired order's ticket is listed again")

    # Second hold, then payment.
    second = reserve(http, cluster, ticket_id)
    assert second["id"] != first["id"]
    mine = http.get(f"{cluster.url('orders')}/api/orders")
    assert [o["id"] for o in mine.json()] == [first["id"], second["id"]], \
        "both orders are kept, oldest first"
    eventually_blocking(
        lambda: ticket_id not in listed_ids(http, cluster),
        "the ticket leaves the listing again")

    paid = pay(http, cluster, second["id"])
    assert paid.status_code == 201, paid.text

    eventually_blocking(
        lambda: order_status(http, cluster, second["id"]) == "complete",
        "the paid order is complete")
    # Past the second order's deadline the ticket stays sold.
    time.sleep(max(0.0, seconds_until_expiry(second) + 1.5))
    assert order_status(http, cluster, second["id"]) == "complete"
    assert ticket_id not in listed_ids(http, cluster), "a sold ticket never returns"


def seconds_until_expiry(order: dict[str, Any]) -> float:
    """Seconds from now until the order's ``expiresAt``."""
    expires = datetime.fromisoformat(order["expiresAt"].replace("Z", "+00:00"))
    return (expires - datetime.now(UTC)).total_seconds()


def test_a_sign_out_at_auth_ends_the_session_in_the_tickets_process_even_after_its_restart(
    split_cluster: SplitCluster, http: httpx.Client,
) -> None:
    """Tickets never asks auth: it learns the sign-out from the bus (live, then from the
    stream's history when it starts again)."""
    cluster = split_cluster
    signed_up = http.post(f"{cluster.url('auth')}/api/users/signup",
                          json={"email": "leaving@example.com", "password": PASSWORD})
    assert signed_up.status_code == 201, signed_up.text
    cookie = {"session": signed_up.cookies["session"]}

    def lists_a_ticket() -> int:
        return httpx.post(f"{cluster.url('tickets')}/api/tickets", cookies=cookie,
                          json={"title": "Show", "price": 5}, timeout=10).status_code

    assert lists_a_ticket() == 201
    assert httpx.post(f"{cluster.url('auth')}/api/users/signout", cookies=cookie,
                      timeout=10).status_code == 200

    eventually_blocking(
        lambda: lists_a_ticket() == 401,
        what="the tickets process refuses the signed-out cookie")
    cluster.processes["tickets"].kill()
    cluster.restart("tickets")
    assert lists_a_ticket() == 401
