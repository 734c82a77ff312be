"""Passes and the door with each module in its own process: the payment completes in
orders, tickets hears ``order:completed`` over NATS and issues the pass, the door checks
it in at the tickets process, and the door's live count hears it through NATS; a resale
crosses tickets, orders and payments the same way."""

from __future__ import annotations

from typing import Any

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


def test_a_resale_sold_across_the_processes_moves_the_pass_and_records_the_payout(
    split_cluster: SplitCluster,
) -> None:
    """tickets lists it and tells orders (``ticket:resale-listed``) over NATS; orders
    hands it to another buyer; tickets moves the pass on ``order:completed`` and tells
    payments (``ticket:resold``), which records the first buyer's payout."""
    tickets_url, orders_url = split_cluster.url("tickets"), split_cluster.url("orders")
    with httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as seller, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as first, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as second:
        ticket = seller.post(f"{tickets_url}/api/tickets",
                             json={"title": "Split resale", "price": 30}).json()
        assert pay(first, split_cluster, reserve(first, split_cluster, ticket["id"])["id"]
                   ).status_code == 201

        def resold() -> httpx.Response | None:
            response = first.post(f"{tickets_url}/api/tickets/{ticket['id']}/resale",
                                  json={"price": 25})
            return None if response.status_code == 404 else response  # no pass yet

        listed = eventually_blocking(resold, "the pass to be issued", within=WITHIN)
        assert listed.status_code == 201, listed.text

        def reserved() -> dict[str, Any] | None:
            response = second.post(f"{orders_url}/api/orders", json={"ticketId": ticket["id"]})
            if response.status_code == 400:
                return None  # orders has not heard of the resale yet
            assert response.status_code == 201, response.text
            order: dict[str, Any] = response.json()
            return order

        order = eventually_blocking(reserved, "orders frees the resale", within=WITHIN)
        assert order["ticket"]["price"] == 25.0
        assert pay(second, split_cluster, order["id"]).status_code == 201

        def moved() -> httpx.Response | None:
            response = second.get(f"{tickets_url}/api/tickets/{ticket['id']}/pass")
            return None if response.status_code != 200 else response

        answer = eventually_blocking(moved, "the pass moves to the buyer", within=WITHIN)
        assert answer.json()["token"].startswith(f"T1.{ticket['id']}.2.")

        def owed() -> list[dict[str, Any]] | None:
            found: list[dict[str, Any]] = first.get(
                f"{split_cluster.url('payments')}/api/payouts").json()["payouts"]
            return found or None

        [payout] = eventually_blocking(owed, "payments records the payout", within=WITHIN)
        assert (payout["ticketId"], payout["orderId"], payout["amount"]) == (
            ticket["id"], order["id"], 25.0)


def test_a_resale_taken_off_sale_across_the_processes_gives_the_pass_back(
    split_cluster: SplitCluster,
) -> None:
    """tickets asks (``ticket:resale-withdrawal-requested``) over NATS; orders gives the
    ticket back to the first order (``order:resale-withdrawn``); tickets revives the pass,
    which the door at the tickets process lets in."""
    tickets_url, orders_url = split_cluster.url("tickets"), split_cluster.url("orders")
    with httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as seller, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as holder, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as other:
        ticket = seller.post(f"{tickets_url}/api/tickets",
                             json={"title": "Split withdrawal", "price": 30}).json()
        first = reserve(holder, split_cluster, ticket["id"])
        assert pay(holder, split_cluster, first["id"]).status_code == 201

        def issued() -> httpx.Response | None:
            response = holder.get(f"{tickets_url}/api/tickets/{ticket['id']}/pass")
            return None if response.status_code == 404 else response

        token = eventually_blocking(issued, "the pass to be issued", within=WITHIN).json()[
            "token"]
        assert holder.post(f"{tickets_url}/api/tickets/{ticket['id']}/resale",
                           json={"price": 25}).status_code == 201
        withdrawn = holder.delete(f"{tickets_url}/api/tickets/{ticket['id']}/resale")
        assert withdrawn.status_code == 202, withdrawn.text

        def back() -> dict[str, Any] | None:
            found: dict[str, Any] = seller.get(f"{tickets_url}/api/tickets/{ticket['id']}"
                                               ).json()
            return found if found.get("orderId") == first["id"] else None

        assert eventually_blocking(back, "the ticket back with its order",
                                   within=WITHIN)["price"] == 30.0
        refused = other.post(f"{orders_url}/api/orders", json={"ticketId": ticket["id"]})
        assert refused.status_code == 400, refused.text
        checked = seller.post(f"{tickets_url}/api/checkins", json={"token": token})
        assert checked.status_code == 201, checked.text


def test_a_refund_crosses_orders_tickets_and_payments(split_cluster: SplitCluster) -> None:
    """orders asks (``order:refund-requested``), tickets takes the ticket back over NATS
    (``ticket:refund-granted``), orders cancels the order, payments refunds the charge."""
    tickets_url, orders_url = split_cluster.url("tickets"), split_cluster.url("orders")
    with httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as seller, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as buyer:
        ticket = seller.post(f"{tickets_url}/api/tickets",
                             json={"title": "Split refund", "price": 30,
                                   "refundDays": 3}).json()
        order = reserve(buyer, split_cluster, ticket["id"])
        assert pay(buyer, split_cluster, order["id"]).status_code == 201
        eventually_blocking(
            lambda: buyer.get(f"{tickets_url}/api/tickets/{ticket['id']}/pass")
            .status_code == 200, "tickets issues the pass", within=WITHIN)

        def asked() -> httpx.Response | None:
            response = buyer.post(f"{orders_url}/api/orders/{order['id']}/refund")
            return None if response.status_code == 400 else response  # not complete yet

        assert eventually_blocking(asked, "orders completes the order",
                                   within=WITHIN).status_code == 202

        def refunded() -> dict[str, Any] | None:
            found: dict[str, Any] = buyer.get(f"{orders_url}/api/orders/{order['id']}").json()
            return found if found.get("refund", {}).get("status") == "refunded" else None

        done = eventually_blocking(refunded, "the refund is granted", within=WITHIN)
        assert done["status"] == "cancelled"
        assert buyer.get(f"{tickets_url}/api/tickets/{ticket['id']}/pass").status_code == 404
    with httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as other:
        again = reserve(other, split_cluster, ticket["id"])  # for sale again, in orders too
    assert again["ticket"]["id"] == ticket["id"]


def test_a_waitlist_offer_follows_a_cancel_across_the_processes(
    split_cluster: SplitCluster,
) -> None:
    """The hold is cancelled in orders, which offers the ticket to the first in line
    before anyone else; the offer is orders' own, so it holds in the split too."""
    tickets_url, orders_url = split_cluster.url("tickets"), split_cluster.url("orders")
    with httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as seller, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as holder, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as waiting, \
            httpx.Client(cookies={"session": cookie_for(new_id())}, timeout=5.0) as other:
        ticket = seller.post(f"{tickets_url}/api/tickets",
                             json={"title": "Split waitlist", "price": 30}).json()
        order = reserve(holder, split_cluster, ticket["id"])
        joined = waiting.post(f"{orders_url}/api/waitlist/{ticket['id']}")
        assert joined.status_code == 201, joined.text
        assert holder.delete(f"{orders_url}/api/orders/{order['id']}").status_code == 204
        offer = waiting.get(f"{orders_url}/api/waitlist/{ticket['id']}").json()["offer"]
        assert offer["ticketId"] == ticket["id"]
        refused = other.post(f"{orders_url}/api/orders", json={"ticketId": ticket["id"]})
        assert refused.status_code == 400
        assert reserve(waiting, split_cluster, ticket["id"])["ticket"]["id"] == ticket["id"]
