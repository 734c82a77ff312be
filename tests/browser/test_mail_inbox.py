"""The development inbox in a browser: signing up and reserving write mails, which
``/dev/mail`` lists and opens (the server runs without an SMTP server, its default).

``TICKETING_SCREENSHOTS=<dir>`` keeps the pages' screenshots there (docs/screenshots).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (
    keep,
    press_purchase,
    reload_until,
    sell_ticket,
    sign_up,
    unique_email,
)

if TYPE_CHECKING:
    from tests.browser.conftest import Server

pytestmark = pytest.mark.browser


def test_signing_up_and_reserving_write_mails_the_inbox_shows(page: Page,
                                                               server: Server) -> None:
    email = unique_email()
    sign_up(page, server, email)
    sell_ticket(page, server, "Jazz night", "18")
    press_purchase(page, server)

    rows = page.locator(f"#messages tr[data-state='sent']:has-text('{email}')")
    page.goto(f"{server.base_url}/dev/mail")
    reload_until(page, lambda: rows.count() == 2, "both mails sent")
    expect(rows.first).to_contain_text("Reserved: Jazz night")
    expect(rows.last).to_contain_text("Welcome to Ticketing")
    keep(page, "mail")

    rows.first.get_by_role("link").click()
    expect(page.locator("#subject")).to_contain_text("Reserved: Jazz night — pay by")
    expect(page.locator("#body")).to_contain_text("You reserved 1 x Jazz night for $18.00")
    expect(page.get_by_role("link", name="Download .eml")).to_be_visible()
    keep(page, "mail-message")
