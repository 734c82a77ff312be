"""Live updates in the browser: open pages follow sales, purchases and cancellations unreloaded."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.browser import press_purchase, sell_ticket, sign_up, switch_user, unique_email

if TYPE_CHECKING:
    from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

LIVE_MS = 2000  # "within milliseconds"; two seconds leaves room for a loaded CI machine
MARK = "window.__notReloaded = true"
STILL_MARKED = "window.__notReloaded === true"


@pytest.fixture
def second_tab(browser_context: BrowserContext) -> Iterator[Page]:
    """Another tab of the same browser (the same cookies as ``page``)."""
    tab = browser_context.new_page()
    try:
        yield tab
    finally:
        tab.close()


def open_live(page: Page, url: str, stream: str) -> None:
    """Open ``url`` and wait until its live stream answers, then mark the document."""
    with page.expect_response(lambda response: response.url.endswith(stream)) as answered:
        page.goto(url)
    assert answered.value.status == 200
    page.evaluate(MARK)


def test_a_sale_shows_on_an_open_landing_page_and_the_purchase_takes_it_away(
    page: Page, second_tab: Page, server: Server, browser_context: BrowserContext,
) -> None:
    title = f"Live {uuid.uuid4().hex[:8]}"
    open_live(page, server.base_url, "/live/tickets")
    second_tab.goto(server.base_url)

    sign_up(second_tab, server, unique_email())  # a second user, in the other tab
    ticket_path = sell_ticket(second_tab, server, title, "42.5")

    row = page.locator("#tickets tr", has_text=title)
    expect(row).to_be_visible(timeout=LIVE_MS)
    expect(row).to_contain_text("$42.50")
    expect(row.get_by_role("link", name=f"View {title}")).to_have_attribute("href", ticket_path)
    expect(page.locator("#tickets tbody tr").first).to_contain_text(title)  # newest first

    switch_user(browser_context, second_tab, server)
    second_tab.goto(f"{server.base_url}{ticket_path}")
    press_purchase(second_tab, server)

    expect(row).to_have_count(0, timeout=LIVE_MS)
    assert page.evaluate(STILL_MARKED), "the landing page was reloaded"
    assert page.url == f"{server.base_url}/"


def test_an_order_cancelled_in_another_tab_shows_cancelled_without_its_actions(
    page: Page, second_tab: Page, server: Server, browser_context: BrowserContext,
) -> None:
    sign_up(page, server, unique_email())
    ticket_path = sell_ticket(page, server, f"Live {uuid.uuid4().hex[:8]}", "10")
    switch_user(browser_context, page, server)
    page.goto(f"{server.base_url}{ticket_path}")
    press_purchase(page, server)
    order_url = page.url
    open_live(page, order_url, re.sub(r"^.*/orders/", "/live/orders/", order_url))
    expect(page.locator("#status")).to_have_text("Reserved")

    second_tab.goto(order_url)  # the same buyer
    second_tab.get_by_role("button", name="Cancel Order").click()
    expect(second_tab.locator("#status")).to_have_text("Cancelled")

    expect(page.locator("#status")).to_have_text("Cancelled", timeout=LIVE_MS)
    expect(page.locator("#order-actions")).to_be_hidden()
    expect(page.get_by_role("button", name="Cancel Order")).to_be_hidden()
    expect(page.locator("#countdown")).to_be_hidden()
    assert page.evaluate(STILL_MARKED), "the order page was reloaded"


def test_an_event_is_one_row_whose_count_follows_a_sell_out_and_a_ticket_coming_back(
    page: Page, second_tab: Page, server: Server, browser_context: BrowserContext,
) -> None:
    title = f"Event {uuid.uuid4().hex[:8]}"
    open_live(page, server.base_url, "/live/tickets")
    sign_up(second_tab, server, unique_email())
    second_tab.goto(f"{server.base_url}/events/new")
    second_tab.get_by_label("Title").fill(title)
    second_tab.get_by_label("Price of each ticket").fill("12")
    second_tab.get_by_label("Number of tickets").fill("2")
    second_tab.get_by_role("button", name="Create").click()
    event_url = second_tab.url

    row = page.locator("#events tr", has_text=title)
    expect(row).to_be_visible(timeout=LIVE_MS)  # one row for the event, not one per ticket
    expect(row.locator('[data-field="remaining"]')).to_have_text("2")
    expect(page.locator("#tickets tr", has_text=title)).to_have_count(0)

    switch_user(browser_context, second_tab, server)
    second_tab.goto(event_url)
    second_tab.get_by_label("Tickets").fill("2")
    reserved = False
    for _ in range(50):  # orders hears of the event a moment after it is created
        second_tab.get_by_role("button", name="Reserve").click()
        if "/orders/" in second_tab.url:
            reserved = True
            break
        second_tab.goto(event_url)
        second_tab.get_by_label("Tickets").fill("2")
    assert reserved, "the event never became reservable"
    expect(row.locator('[data-field="remaining"]')).to_have_text("Sold out", timeout=LIVE_MS)

    second_tab.get_by_role("button", name="Cancel Order").click()
    expect(row.locator('[data-field="remaining"]')).to_have_text("2", timeout=LIVE_MS)
    assert page.evaluate(STILL_MARKED), "the landing page was reloaded"
