"""Selling and buying as people do it: sell, see it listed, purchase, watch the clock, cancel."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import (
    PASSWORD,
    header,
    listed,
    press_purchase,
    reload_until,
    sell_ticket,
    sign_up,
    switch_user,
    unique_email,
)

if TYPE_CHECKING:
    from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

def test_sell_purchase_countdown_cancel_and_the_ticket_is_back(
    page: Page, server: Server, browser_context: BrowserContext, tmp_path: Path,
) -> None:
    title = f"Concert {uuid.uuid4().hex[:8]}"
    sign_up(page, server, unique_email())
    ticket_path = sell_ticket(page, server, title, "42.5")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("#price")).to_have_text("$42.50")

    page.goto(server.base_url)
    row = page.locator("#tickets tr", has_text=title)
    expect(row).to_contain_text("$42.50")

    switch_user(browser_context, page, server)
    page.goto(server.base_url)
    page.locator("#tickets tr", has_text=title).get_by_role("link").click()
    expect(page).to_have_url(f"{server.base_url}{ticket_path}")
    press_purchase(page, server)
    order_path = page.url.removeprefix(server.base_url)

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order for {title}")
    expect(page.locator("#status")).to_have_text("Reserved")
    countdown = page.locator("#countdown")
    expect(countdown).to_have_text(re.compile(r"^1[45]:\d\d$"))
    first = countdown.inner_text()
    # The inline script ticks it down; the server had already rendered it.
    expect(countdown).not_to_have_text(first, timeout=3000)
    minutes, seconds = countdown.inner_text().split(":")
    assert 14 * 60 <= int(minutes) * 60 + int(seconds) < 15 * 60
    expect(page.locator("#time-left time")).to_have_attribute(
        "datetime", re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z$"))
    screenshot = tmp_path / "order-page.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG")

    page.goto(server.base_url)
    reload_until(page, lambda: not listed(page, ticket_path), "the reserved ticket leaves")

    header(page).get_by_role("link", name="My Orders").click()
    mine = page.locator("#orders tr", has_text=title)
    expect(mine).to_contain_text("Reserved")
    mine.get_by_role("link").click()
    expect(page).to_have_url(f"{server.base_url}{order_path}")
    page.get_by_role("button", name="Cancel Order").click()
    expect(page).to_have_url(f"{server.base_url}{order_path}")
    expect(page.locator("#status")).to_have_text("Cancelled")
    expect(page.locator("#countdown")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel Order")).to_have_count(0)

    page.goto(server.base_url)
    reload_until(page, lambda: listed(page, ticket_path), "the freed ticket returns")


def test_a_second_buyer_sees_ticket_is_already_reserved_in_place(
    page: Page, server: Server, browser_context: BrowserContext,
) -> None:
    sign_up(page, server, unique_email())
    ticket_path = sell_ticket(page, server, f"Opera {uuid.uuid4().hex[:8]}", "10")
    switch_user(browser_context, page, server)
    page.goto(f"{server.base_url}{ticket_path}")
    press_purchase(page, server)
    switch_user(browser_context, page, server)
    page.goto(f"{server.base_url}{ticket_path}")
    page.get_by_role("button", name="Purchase").click()
    expect(page).to_have_url(f"{server.base_url}{ticket_path}?purchase=ticket_reserved")
    expect(page.locator("main").get_by_role("alert")).to_have_text("Ticket is already reserved")


def test_sell_form_errors_sit_beside_their_fields_and_keep_the_values(
    page: Page, server: Server,
) -> None:
    sign_up(page, server, unique_email())
    page.goto(f"{server.base_url}/tickets/new")
    page.get_by_label("Title").fill("Ballet")
    page.get_by_label("Price").fill("-3")
    page.get_by_role("button", name="Sell").click()
    expect(page).to_have_url(f"{server.base_url}/tickets/new")
    price = page.get_by_label("Price")
    expect(price).to_have_value("-3")
    expect(price).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator("#price-error")).to_have_text("Price must be greater than 0")
    expect(page.get_by_label("Title")).to_have_value("Ballet")
    expect(page.get_by_label("Title")).not_to_have_class(re.compile(r"\bis-invalid\b"))


def test_signed_out_seller_signs_in_and_comes_back_to_the_form(
    page: Page, server: Server, browser_context: BrowserContext,
) -> None:
    email = unique_email()
    sign_up(page, server, email)
    browser_context.clear_cookies()
    page.goto(f"{server.base_url}/tickets/new")
    expect(page).to_have_url(re.compile(r"/auth/signin\?next=%2Ftickets%2Fnew$"))
    form = page.locator("main form")
    form.get_by_label("Email Address").fill(email)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(f"{server.base_url}/tickets/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sell a Ticket")
