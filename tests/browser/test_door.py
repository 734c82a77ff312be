"""The seller at the door and the buyer with the pass, in two browsers that share nothing.

The buyer finds the e-tickets under My Tickets and opens a pass (a QR code and the code
to type). The seller opens the event's door page: a check-in elsewhere counts live, a
second scan is refused with when and by whom, and with the network cut by the test the
page still checks passes itself (signature, version, not in yet), queues them, and syncs
when the network is back, reporting the pass another door let in meanwhile.

``TICKETING_SCREENSHOTS=<dir>`` keeps the pages' screenshots there (docs/screenshots).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import APIRequestContext, Browser, BrowserContext, Page, expect

from tests.support.browser import PASSWORD, keep, unique_email

if TYPE_CHECKING:
    from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

WAIT_SECONDS = 10.0


def api(request: APIRequestContext, server: Server, method: str, path: str,
        body: dict[str, Any] | None = None) -> tuple[int, Any]:
    response = request.fetch(f"{server.base_url}{path}", method=method, data=body)
    return response.status, response.json()


def until(probe: Any, what: str) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def signed_up(request: APIRequestContext, server: Server) -> str:
    email = unique_email()
    assert api(request, server, "POST", "/api/users/signup",
               {"email": email, "password": PASSWORD})[0] == 201
    return email


def bought_event(seller: APIRequestContext, buyer: APIRequestContext, server: Server,
                 quantity: int) -> tuple[str, list[str]]:
    """An event of ``seller``'s with ``quantity`` tickets paid by ``buyer``: its id and the
    tickets' ids."""
    status, event = api(seller, server, "POST", "/api/events",
                        {"title": "Door night", "price": 15, "quantity": quantity})
    assert status == 201

    def reserve() -> str | None:
        status, order = api(buyer, server, "POST", "/api/orders",
                            {"eventId": event["id"], "quantity": quantity})
        assert status in (201, 404), order
        return str(order["id"]) if status == 201 else None

    order_id = until(reserve, "the event to reach orders")
    until(lambda: api(buyer, server, "POST", "/api/payments",
                      {"orderId": order_id, "token": "tok_visa"})[0] == 201,
          "the order to reach payments")
    _, order = api(buyer, server, "GET", f"/api/orders/{order_id}")
    tickets = sorted(t["id"] for t in order["tickets"])
    until(lambda: all(api(buyer, server, "GET", f"/api/tickets/{t}/pass")[0] == 200
                      for t in tickets), "the passes to be issued")
    return str(event["id"]), tickets


def test_the_door_checks_passes_in_live_and_offline(
    page: Page, server: Server, browser_context: BrowserContext, separate_browser: Browser,
) -> None:
    seller_context = separate_browser.new_context(viewport={"width": 420, "height": 900})
    seller_context.set_default_timeout(int(WAIT_SECONDS * 1000))
    other_door = separate_browser.new_context()  # a second device of the seller's
    try:
        seller_email = signed_up(seller_context.request, server)
        signed_up(browser_context.request, server)
        event_id, tickets = bought_event(seller_context.request, browser_context.request,
                                         server, quantity=3)
        assert api(other_door.request, server, "POST", "/api/users/signin",
                   {"email": seller_email, "password": PASSWORD})[0] == 200

        # The buyer: My Tickets lists the three passes; one opens as a QR code.
        page.goto(f"{server.base_url}/orders")
        page.locator("nav").get_by_role("link", name="My Tickets").click()
        expect(page.locator("#passes tbody tr")).to_have_count(3)
        keep(page, "my-tickets")
        page.locator(f'tr[data-ticket-id="{tickets[0]}"]').get_by_role(
            "link", name="Show pass").click()
        expect(page.locator("#pass-qr svg")).to_be_visible()
        keep(page, "pass")
        tokens = [api(browser_context.request, server, "GET", f"/api/tickets/{t}/pass")[1]
                  ["token"] for t in tickets]
        expect(page.locator("#pass-token")).to_have_text(tokens[0])

        # The seller at the door, online: another door's check-in counts here live.
        door = seller_context.new_page()
        door.goto(f"{server.base_url}/events/{event_id}/checkin")
        expect(door.locator("#door-state")).to_contain_text("List saved")
        expect(door.locator("#checked-in-count")).to_have_text("0")
        expect(door.locator("#issued-count")).to_have_text("3")
        assert api(other_door.request, server, "POST", "/api/checkins",
                   {"token": tokens[0]})[0] == 201
        expect(door.locator("#checked-in-count")).to_have_text("1")

        code = door.get_by_label("Pass code")
        code.fill(tokens[0])
        code.press("Enter")
        refusal = rf"Refused: Already checked in at \d\d:\d\d UTC by {re.escape(seller_email)}"
        expect(door.locator("#scan-result")).to_contain_text(re.compile(refusal))
        code.fill(tokens[1])
        code.press("Enter")
        expect(door.locator("#scan-result")).to_have_text(f"Let in: ticket {tickets[1]}")
        expect(door.locator("#checked-in-count")).to_have_text("2")

        # The network goes; the door goes on from what it saved.
        seller_context.set_offline(True)
        door.wait_for_function("() => !navigator.onLine")
        assert api(other_door.request, server, "POST", "/api/checkins",
                   {"token": tokens[2]})[0] == 201  # another door, still online
        forged = tokens[2][:-2] + ("AA" if not tokens[2].endswith("AA") else "BB")
        code.fill(forged)
        code.press("Enter")
        expect(door.locator("#scan-result")).to_contain_text("not genuine")
        code.fill(tokens[1])
        code.press("Enter")
        expect(door.locator("#scan-result")).to_contain_text("Already checked in")
        code.fill(tokens[2])  # this device has not heard of the other door's scan
        code.press("Enter")
        expect(door.locator("#scan-result")).to_contain_text(
            f"Let in: ticket {tickets[2]} (offline")
        expect(door.locator("#queue-state")).to_have_text("1 scan(s) waiting to sync.")
        keep(door, "door-offline")

        # Back online: the queue syncs and the clash with the other door is reported.
        seller_context.set_offline(False)
        expect(door.locator("#queue-state")).to_have_text("Every scan is synced.")
        expect(door.locator("#conflicts li")).to_have_count(1)
        expect(door.locator("#conflicts li")).to_contain_text(
            f"Ticket {tickets[2]}, let in here offline at")
        expect(door.locator("#conflicts li")).to_contain_text("Already checked in")
        expect(door.locator("#checked-in-count")).to_have_text("3")
        keep(door, "door-synced")
        _, listing = api(seller_context.request, server, "GET", f"/api/doors/{event_id}")
        assert listing["checkedIn"] == 3

        # The seller's view counts it all; the event's chart draws it.
        door.set_viewport_size({"width": 1000, "height": 800})
        door.locator("nav").get_by_role("link", name="Selling").click()
        row = door.locator(f'#listings tr[data-id="{event_id}"]')
        expect(row.locator(".state")).to_have_text("Checked in")
        keep(door, "selling")
        row.get_by_role("link", name="Chart").click()
        expect(door.locator("#figures")).to_have_text(
            "3 sold · 0 remaining · 3 checked in, of 3")
        expect(door.locator("#line-checked-in")).to_be_attached()
        keep(door, "selling-event")
    finally:
        other_door.close()
        seller_context.close()


def test_a_buyer_transfers_a_ticket_from_its_pass_page(
    page: Page, server: Server, browser_context: BrowserContext, separate_browser: Browser,
) -> None:
    friend_context = separate_browser.new_context()
    try:
        seller = separate_browser.new_context()
        signed_up(seller.request, server)
        signed_up(browser_context.request, server)
        _, tickets = bought_event(seller.request, browser_context.request, server, quantity=1)
        seller.close()
        page.goto(f"{server.base_url}/tickets/{tickets[0]}/pass")
        friend_email = unique_email()
        page.get_by_label("Give this ticket to someone").fill(friend_email)
        page.get_by_role("button", name="Transfer").click()
        expect(page.get_by_role("status")).to_have_text(f"Transferred to {friend_email}.")
        expect(page.locator(f'#given tr[data-ticket-id="{tickets[0]}"]')).to_contain_text(
            friend_email)
        expect(page.locator("#passes")).to_have_count(0)

        friend = friend_context.new_page()
        friend.goto(f"{server.base_url}/auth/signup")
        friend.get_by_label("Email Address").fill(friend_email)
        friend.get_by_label("Password").fill(PASSWORD)
        friend.locator("main form").get_by_role("button", name="Sign Up").click()
        friend.goto(f"{server.base_url}/passes")
        friend.locator(f'tr[data-ticket-id="{tickets[0]}"]').get_by_role(
            "link", name="Show pass").click()
        expect(friend.locator("#pass-token")).to_contain_text(f"T1.{tickets[0]}.2.")
    finally:
        friend_context.close()


def test_without_javascript_the_door_takes_a_typed_code(
    server: Server, separate_browser: Browser, browser_context: BrowserContext,
) -> None:
    seller_context = separate_browser.new_context(java_script_enabled=False)
    try:
        signed_up(seller_context.request, server)
        signed_up(browser_context.request, server)
        event_id, tickets = bought_event(seller_context.request, browser_context.request,
                                         server, quantity=1)
        token = api(browser_context.request, server, "GET",
                    f"/api/tickets/{tickets[0]}/pass")[1]["token"]
        door = seller_context.new_page()
        door.goto(f"{server.base_url}/events/{event_id}/checkin")
        door.get_by_label("Pass code").fill(token)
        door.get_by_role("button", name="Check in").click()
        expect(door.locator("#scan-result")).to_contain_text(f"Let in: ticket {tickets[0]}")
        expect(door.locator("#checked-in-count")).to_have_text("1")
        door.get_by_label("Pass code").fill(token)
        door.get_by_role("button", name="Check in").click()
        expect(door.locator("#scan-result")).to_contain_text("Refused: Already checked in")
        door.get_by_label("Staff email").fill("door@example.com")
        door.get_by_role("button", name="Add").click()
        expect(door.locator("#staff-list")).to_have_text("door@example.com")
    finally:
        seller_context.close()


def test_a_holder_resells_from_the_pass_page_and_sees_the_payout(
    page: Page, server: Server, browser_context: BrowserContext, separate_browser: Browser,
) -> None:
    """The holder lists the ticket at face value from its pass page; someone else buys it
    in their own browser; the holder's Payouts and Selling pages show the sale."""
    seller = separate_browser.new_context()
    other = separate_browser.new_context()
    try:
        signed_up(seller.request, server)
        signed_up(browser_context.request, server)
        signed_up(other.request, server)
        _, tickets = bought_event(seller.request, browser_context.request, server, quantity=1)
        page.goto(f"{server.base_url}/tickets/{tickets[0]}/pass")
        price = page.get_by_label("Sell it on at face value")
        expect(price).to_have_value("15.00")
        price.fill("12.50")
        page.get_by_role("button", name="Resell").click()
        expect(page.locator("#on-resale")).to_contain_text("On resale at $12.50")
        expect(page.locator("#pass-qr")).to_have_count(0)
        keep(page, "resale")

        with page.expect_navigation():  # the form's POST and its redirect, before polling
            page.get_by_role("button", name="Take it off sale").click()

        def pass_back() -> bool:
            page.goto(f"{server.base_url}/tickets/{tickets[0]}/pass")
            return page.locator("#pass-qr").count() == 1

        until(pass_back, "orders to confirm the withdrawal")
        page.get_by_label("Sell it on at face value").fill("12.50")
        page.get_by_role("button", name="Resell").click()
        expect(page.locator("#on-resale")).to_contain_text("On resale at $12.50")

        def bought_by_other() -> bool:
            status, order = api(other.request, server, "POST", "/api/orders",
                                {"ticketId": tickets[0]})
            if status != 201:
                return False
            return api(other.request, server, "POST", "/api/payments",
                       {"orderId": order["id"], "token": "tok_visa"})[0] == 201

        until(bought_by_other, "the resale to reach orders and payments")
        until(lambda: api(other.request, server, "GET", f"/api/tickets/{tickets[0]}/pass")[0]
              == 200, "the pass to move to the buyer")

        def payout_shown() -> bool:
            page.goto(f"{server.base_url}/payouts")
            return page.locator(f'#payouts tr[data-ticket-id="{tickets[0]}"]').count() == 1

        until(payout_shown, "the payout")
        expect(page.locator("#payout-total")).to_contain_text("total $12.50")
        keep(page, "payouts")
        page.goto(f"{server.base_url}/selling")
        expect(page.locator(f'#listings tr[data-id="{tickets[0]}"] .state')).to_have_text(
            "Resold")
    finally:
        seller.close()
        other.close()


def test_a_buyer_sees_what_they_may_do_with_an_order_and_asks_for_a_refund(
    page: Page, server: Server, browser_context: BrowserContext, separate_browser: Browser,
) -> None:
    """Before paying the order page offers Cancel until its deadline; once paid, a refund
    until the seller's window closes; after the refund, the pass is gone."""
    seller = separate_browser.new_context()
    try:
        signed_up(seller.request, server)
        signed_up(browser_context.request, server)
        status, ticket = api(seller.request, server, "POST", "/api/tickets",
                             {"title": "Refundable night", "price": 25, "refundDays": 5})
        assert status == 201

        def reserve() -> str | None:
            status, order = api(browser_context.request, server, "POST", "/api/orders",
                                {"ticketId": ticket["id"]})
            return str(order["id"]) if status == 201 else None

        order_id = until(reserve, "the ticket to reach orders")
        page.goto(f"{server.base_url}/orders/{order_id}")
        expect(page.locator("#cancel-until")).to_contain_text("You may cancel until you pay")
        until(lambda: api(browser_context.request, server, "POST", "/api/payments",
                          {"orderId": order_id, "token": "tok_visa"})[0] == 201,
              "the order to reach payments")

        def refund_offered() -> bool:
            page.goto(f"{server.base_url}/orders/{order_id}")
            return page.locator("#refund-form").count() == 1

        until(refund_offered, "the order to be complete")
        expect(page.locator("#refund-form")).to_contain_text("You may ask for a refund until")
        keep(page, "order-refundable")
        page.get_by_role("button", name="Ask for a refund").click()

        def refunded() -> bool:
            page.goto(f"{server.base_url}/orders/{order_id}")
            return "Refunded on" in page.locator("#order-options").inner_text()

        until(refunded, "the refund")
        expect(page.locator("#status")).to_have_text("Cancelled")
        keep(page, "order-refunded")
        assert api(browser_context.request, server, "GET",
                   f"/api/tickets/{ticket['id']}/pass")[0] == 404
    finally:
        seller.close()


def test_the_first_on_a_waitlist_hears_the_offer_live_and_reserves(
    page: Page, server: Server, browser_context: BrowserContext, separate_browser: Browser,
) -> None:
    """The waiting buyer's page, open in their browser, shows the offer the moment the
    holder (another browser) cancels; Reserve opens their order."""
    holder = separate_browser.new_context()
    try:
        signed_up(holder.request, server)
        signed_up(browser_context.request, server)
        status, ticket = api(holder.request, server, "POST", "/api/tickets",
                             {"title": "Sold out night", "price": 30})
        assert status == 201

        def held() -> str | None:
            status, order = api(holder.request, server, "POST", "/api/orders",
                                {"ticketId": ticket["id"]})
            return str(order["id"]) if status == 201 else None

        order_id = until(held, "the ticket to reach orders")
        page.goto(f"{server.base_url}/tickets/{ticket['id']}")
        page.locator("#waitlist-link").click()
        page.get_by_role("button", name="Join the waitlist").click()
        expect(page.locator("#waitlist-place")).to_have_text("You are number 1 in line.")
        keep(page, "waitlist")
        assert holder.request.delete(f"{server.base_url}/api/orders/{order_id}").status == 204
        expect(page.locator("#offer")).to_contain_text("it is yours to reserve until",
                                                       timeout=WAIT_SECONDS * 1000)
        keep(page, "waitlist-offer")
        page.get_by_role("button", name="Reserve it").click()
        expect(page).to_have_url(re.compile(r"/orders/[0-9a-z]{26}$"))
    finally:
        holder.close()
