"""Mail with each module in its own process: the sign-up (auth), the reservation
(orders) and the payment (orders, after payments) reach the mail process over NATS, with
the ticket's title from tickets, and leave through a real SMTP server (aiosmtpd). The
mail process killed and started again sends nothing twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.nats import NatsServer
from tests.support.smtp import Inbox, smtp_server
from tests.support.split import SplitCluster, pay, reserve, start_split
from tests.support.waiting import eventually_blocking

WITHIN = 20.0


@pytest.fixture
def mailing_split(tmp_path: Path) -> Iterator[tuple[SplitCluster, Inbox]]:
    with smtp_server() as (inbox, controller):
        nats = NatsServer(tmp_path / "nats")
        nats.workdir.mkdir()
        nats.start()
        cluster = start_split(tmp_path, nats,
                              TICKETING_SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
                              TICKETING_PUBLIC_URL="https://tickets.test")
        try:
            yield cluster, inbox
        finally:
            cluster.stop()


def sign_up(client: httpx.Client, cluster: SplitCluster, email: str) -> None:
    response = client.post(f"{cluster.url('auth')}/api/users/signup",
                           json={"email": email, "password": "secret"})
    assert response.status_code == 201, response.text


def test_each_cause_mails_once_across_the_processes(
    mailing_split: tuple[SplitCluster, Inbox],
) -> None:
    cluster, inbox = mailing_split
    with httpx.Client(timeout=5.0) as seller, httpx.Client(timeout=5.0) as buyer:
        sign_up(seller, cluster, "seller@example.com")
        sign_up(buyer, cluster, "buyer@example.com")
        ticket = seller.post(f"{cluster.url('tickets')}/api/tickets",
                             json={"title": "Split gig", "price": 25}).json()
        order = reserve(buyer, cluster, ticket["id"])
        assert pay(buyer, cluster, order["id"]).status_code == 201

        expected = ["Welcome to Ticketing", "Reserved: Split gig", "Payment received: Split gig"]

        def all_arrived() -> bool:
            subjects = inbox.subjects("buyer@example.com")
            return all(any(s.startswith(e) for s in subjects) for e in expected)

        eventually_blocking(all_arrived, "the buyer's three mails", within=WITHIN)
        [receipt] = [m for m in inbox.to("buyer@example.com")
                     if str(m["Subject"]).startswith("Payment received")]
        assert f"https://tickets.test/tickets/{ticket['id']}/pass" in receipt.get_content()
        assert inbox.subjects("seller@example.com") == ["Welcome to Ticketing"]

        mail = cluster.processes["mail"]
        mail.kill()
        mail.start()
        mail.wait_ready(time.monotonic() + 60)
        # A mail written after the restart arrives only once the restarted process has
        # caught up; by then a resend of anything before it would have gone too.
        sign_up(seller, cluster, "later@example.com")
        eventually_blocking(lambda: inbox.subjects("later@example.com"),
                            "the welcome of a sign-up after the restart", within=WITHIN)
        assert len(inbox.to("buyer@example.com")) == 3
        assert len(inbox.to("seller@example.com")) == 1
