"""The queue page in two browsers at once: both arrive before the sale, one is let in and
reserves, the other waits and then hears the event sell out, all without a reload."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.browser import sign_up, unique_email

if TYPE_CHECKING:
    from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

OPENS_IN = timedelta(seconds=4)
# The sale opens, a round lets the first buyer in, the page hears it: seconds, on CI.
TURN_MS = 15000


@pytest.fixture
def two_people(separate_browser: Browser) -> Iterator[tuple[Page, Page]]:
    first, second = separate_browser.new_context(), separate_browser.new_context()
    for context in (first, second):
        context.set_default_timeout(5000)
    try:
        yield first.new_page(), second.new_page()
    finally:
        first.close()
        second.close()


def create_queued_event(page: Page, server: Server, title: str) -> str:
    """As the signed-in seller: an event of one ticket on sale in a few seconds."""
    page.goto(f"{server.base_url}/events/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Price of each ticket").fill("30")
    page.get_by_label("Number of tickets").fill("1")
    opens = (datetime.now(UTC) + OPENS_IN).strftime("%Y-%m-%dT%H:%M:%S")
    page.locator("#onSaleAt").evaluate("(input, value) => { input.value = value; }", opens)
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_have_text(title)
    return page.url.rsplit("/", 1)[1]


def first_let_in(buyers: tuple[Page, Page]) -> Page:
    """The buyer whose page shows their turn first (within :data:`TURN_MS`)."""
    deadline = time.monotonic() + TURN_MS / 1000
    while time.monotonic() < deadline:
        for buyer in buyers:
            if buyer.locator("#queue-admitted").is_visible():
                return buyer
        buyers[0].wait_for_timeout(100)
    pytest.fail("nobody was let in")


def test_one_buyer_is_let_in_while_the_other_waits_and_then_hears_it_sell_out(
    page: Page, two_people: tuple[Page, Page], server: Server,
) -> None:
    sign_up(page, server, unique_email())
    event_id = create_queued_event(page, server, "Queue night")
    expect(page.locator("#room-panel")).to_contain_text("waiting")  # the seller's view

    buyers = two_people
    for buyer in buyers:
        sign_up(buyer, server, unique_email())
        buyer.goto(f"{server.base_url}/events/{event_id}")
        buyer.get_by_role("link", name="Join the queue").click()
        expect(buyer.locator("#queue-position")).to_contain_text("drawn at random")

    # One ticket, so one buyer at a time is let in; which one is the draw's choice.
    admitted = first_let_in(buyers)
    waiting = next(b for b in buyers if b is not admitted)
    expect(waiting.locator("#queue-position")).to_contain_text("number 2", timeout=TURN_MS)
    waiting.evaluate("window.__notReloaded = true")

    admitted.get_by_role("button", name="Reserve").click()
    expect(admitted).to_have_url(re.compile(r"/orders/[0-9a-z]{26}$"))
    expect(admitted.locator("main")).to_contain_text("Queue night")

    expect(waiting.locator("#queue-sold-out")).to_be_visible(timeout=TURN_MS)
    assert waiting.evaluate("window.__notReloaded === true")
