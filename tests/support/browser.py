"""A person at the browser: signing up, the header, selling and buying through pages.

Other modules hear of a change a moment later, so the helpers that depend on it reload
or press again until it shows, failing after ``WAIT_SECONDS``.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

if TYPE_CHECKING:
    from tests.browser.conftest import Server

PASSWORD = "correct horse"


def keep(page: Page, name: str) -> None:
    """With ``TICKETING_SCREENSHOTS=<dir>``, keep the page's screenshot there as
    ``<name>.png`` (docs/screenshots)."""
    target = os.environ.get("TICKETING_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


def unique_email() -> str:
    return f"buyer-{uuid.uuid4().hex[:12]}@example.com"


def header(page: Page) -> Locator:
    return page.locator("nav.navbar")


def expect_signed_out_header(page: Page) -> None:
    nav = header(page)
    expect(nav.get_by_role("link", name="Sign Up")).to_be_visible()
    expect(nav.get_by_role("link", name="Sign In")).to_be_visible()
    expect(nav.get_by_text("Sign Out")).to_have_count(0)
    expect(nav.get_by_text("Sell Tickets")).to_have_count(0)


def expect_signed_in_header(page: Page) -> None:
    nav = header(page)
    expect(nav.get_by_role("link", name="Sell Tickets")).to_be_visible()
    expect(nav.get_by_role("link", name="My Orders")).to_be_visible()
    expect(nav.get_by_role("link", name="My Tickets")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign Out")).to_be_visible()
    expect(nav.get_by_text("Sign Up")).to_have_count(0)
    expect(nav.get_by_text("Sign In")).to_have_count(0)


def submit_auth_form(page: Page, heading: str, email: str, password: str) -> None:
    form = page.locator("main form")
    form.get_by_label("Email Address").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name=heading).click()


def sign_up(page: Page, server: Server, email: str) -> None:
    page.goto(f"{server.base_url}/auth/signup")
    submit_auth_form(page, "Sign Up", email, PASSWORD)
    expect(page).to_have_url(f"{server.base_url}/")


WAIT_SECONDS = 5.0
NOT_YET_ORDERABLE = "cannot be ordered yet"


def reload_until(page: Page, holds: Callable[[], bool], what: str) -> None:
    """Reload until ``holds``: the other module hears of a change a moment later."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        page.reload()
        if holds():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {WAIT_SECONDS}s: {what}")
        page.wait_for_timeout(50)


def listed(page: Page, ticket_path: str) -> bool:
    return page.locator(f'#tickets a[href="{ticket_path}"]').count() == 1


def sell_ticket(page: Page, server: Server, title: str, price: str) -> str:
    """Sell through the header's link and the form; returns the ticket's path."""
    header(page).get_by_role("link", name="Sell Tickets").click()
    expect(page).to_have_url(f"{server.base_url}/tickets/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Price").fill(price)
    page.get_by_role("button", name="Sell").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base_url)}/tickets/\w+$"))
    return page.url.removeprefix(server.base_url)


def press_purchase(page: Page, server: Server) -> None:
    """Purchase, pressing again while orders has not yet heard of a brand-new ticket."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        page.get_by_role("button", name="Purchase").click()
        page.wait_for_load_state()
        if "/orders/" in page.url or NOT_YET_ORDERABLE not in page.locator("main").inner_text():
            break
        if time.monotonic() > deadline:
            pytest.fail("the ticket never became orderable")
        page.wait_for_timeout(50)
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.base_url)}/orders/\w+$"))


def switch_user(context: BrowserContext, page: Page, server: Server) -> str:
    """Sign out by forgetting the cookie, then sign up someone new."""
    context.clear_cookies()
    email = unique_email()
    sign_up(page, server, email)
    return email
