"""Passes and the door with each module in its own process: the payment completes in
orders, tickets hears ``order:completed`` over NATS and issues the pass, the door checks
it in at the tickets process, and the door's live count hears it through NATS."""

from __future__ import annotations

import httpx

from tests.support.split import SplitCluster, pay, reserve
from tests.support.streams import cookie_for, streaming
from tests.support.waiting import eventually_blocking
from ticketing.ids import new_id

WITHIN = 20.0


def test_a_pass_issued_and_checked_in_across_the_processes(
    split_cluster: SplitCluster,
) -> None:
    tickets_url = split_cluster.url("tickets")
    seller_id = new_id()
    with httpx.Client(cookies={"session": cookie_for(seller_id)}, timeout=5.0) as seller, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as buyer:
        ticket = seller.post(f"{tickets_url}/api/tickets",
                             json={"title": "Split door", "price": 30}).json()
        order = reserve(buyer, split_cluster, ticket["id"])
        assert pay(buyer, split_cluster, order["id"]).status_code == 201

        def issued() -> httpx.Response | None:
            response = buyer.get(f"{tickets_url}/api/tickets/{ticket['id']}/pass")
            return None if response.status_code == 404 else response

        answer = eventually_blocking(issued, "tickets issues the pass", within=WITHIN)
        assert answer.status_code == 200, answer.text
        token = answer.json()["token"]
        assert seller.get(f"{tickets_url}/api/tickets/{ticket['id']}/pass").status_code == 401

        with streaming(tickets_url, f"/live/doors/{ticket['id']}",
                       cookie_for(seller_id)) as door:
            checked = seller.post(f"{tickets_url}/api/checkins", json={"token": token})
            assert checked.status_code == 201, checked.text
            heard = door.until("checkin", lambda c: c["ticketId"] == ticket["id"])
        assert heard["checkedInAt"] == checked.json()["checkedInAt"]
        again = seller.post(f"{tickets_url}/api/checkins", json={"token": token})
        assert again.status_code == 409
        assert again.json()["errors"][0]["message"].startswith("Already checked in at ")
