"""Paying on the order page with JavaScript: a decline shows in place, success lands on
My Orders with the order paid."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import APIRequestContext, BrowserContext, Page, expect

from tests.support.browser import PASSWORD, unique_email

if TYPE_CHECKING:
    from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

WAIT_SECONDS = 5.0


def api(request: APIRequestContext, server: Server, method: str, path: str,
        body: dict[str, Any]) -> tuple[int, Any]:
    response = request.fetch(f"{server.base_url}{path}", method=method, data=body)
    return response.status, response.json()


def reserved_order(context: BrowserContext, server: Server, price: float) -> str:
    """A ticket listed by one user and reserved by another, who stays signed in."""
    request = context.request
    assert api(request, server, "POST", "/api/users/signup",
               {"email": unique_email(), "password": PASSWORD})[0] == 201
    status, ticket = api(request, server, "POST", "/api/tickets",
                         {"title": "Payment page concert", "price": price})
    assert status == 201
    context.clear_cookies()
    assert api(request, server, "POST", "/api/users/signup",
               {"email": unique_email(), "password": PASSWORD})[0] == 201
    deadline = time.monotonic() + WAIT_SECONDS
    while True:  # orders hears of the new ticket a moment later
        status, order = api(request, server, "POST", "/api/orders", {"ticketId": ticket["id"]})
        if status == 201:
            return str(order["id"])
        assert status == 404, order
        assert time.monotonic() < deadline, "the ticket never reached orders"
        time.sleep(0.05)


def test_a_decline_shows_in_place_then_paying_lands_on_my_orders(
    page: Page, server: Server, browser_context: BrowserContext,
) -> None:
    order_id = reserved_order(browser_context, server, 19.99)
    page.goto(f"{server.base_url}/orders/{order_id}")
    page.get_by_role("link", name="Pay $19.99").click()
    expect(page).to_have_url(f"{server.base_url}/payments/{order_id}")
    pay_button = page.get_by_role("button", name="Pay $19.99")

    page.get_by_label("Card").fill("tok_chargeDeclined")
    pay_button.click()

    expect(page.locator("#payment-error")).to_have_text("Your card was declined.")
    expect(page).to_have_url(f"{server.base_url}/payments/{order_id}")
    expect(pay_button).to_be_enabled()

    page.get_by_label("Card").fill("tok_visa")
    pay_button.click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base_url)}/orders$"))
    row = page.locator("#orders tr", has=page.locator(f'a[href="/orders/{order_id}"]'))
    expect(row).to_contain_text("Paid")
