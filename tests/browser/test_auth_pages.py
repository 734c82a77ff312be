"""The auth pages as a person uses them: header, forms, errors, Bootstrap's look."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (
    PASSWORD,
    expect_signed_in_header,
    expect_signed_out_header,
    header,
    sign_up,
    submit_auth_form,
    unique_email,
)

if TYPE_CHECKING:
    from tests.browser.conftest import Server

pytestmark = pytest.mark.browser

def test_signed_out_header_offers_sign_up_and_sign_in(page: Page, server: Server) -> None:
    page.goto(server.base_url)
    expect(header(page).get_by_role("link", name="Ticketing")).to_be_visible()
    expect_signed_out_header(page)


def test_sign_up_lands_on_home_signed_in(page: Page, server: Server, tmp_path: Path) -> None:
    email = unique_email()
    page.goto(server.base_url)
    header(page).get_by_role("link", name="Sign Up").click()
    expect(page).to_have_url(f"{server.base_url}/auth/signup")
    submit_auth_form(page, "Sign Up", email, PASSWORD)
    expect(page).to_have_url(f"{server.base_url}/")
    expect_signed_in_header(page)
    expect(page.locator("main")).to_contain_text(email)
    screenshot = tmp_path / "signed-in-landing.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.read_bytes().startswith(b"\x89PNG")


def test_sign_up_errors_sit_beside_their_fields_and_keep_the_email(
    page: Page, server: Server,
) -> None:
    page.goto(f"{server.base_url}/auth/signup")
    submit_auth_form(page, "Sign Up", "not-an-email", "ab")
    expect(page).to_have_url(f"{server.base_url}/auth/signup")
    email = page.get_by_label("Email Address")
    password = page.get_by_label("Password")
    expect(email).to_have_value("not-an-email")
    expect(password).to_have_value("")
    for field, message in ((email, "Email must be valid"),
                           (password, "Password must be between 4 and 20 characters")):
        expect(field).to_have_class(re.compile(r"\bis-invalid\b"))
        error = page.locator(f"#{field.get_attribute('aria-describedby')}")
        expect(error).to_have_text(message)
        expect(error).to_be_visible()
        # The message sits in the field's own group, right under the input.
        expect(field.locator("xpath=..").locator(".invalid-feedback")).to_have_text(message)
        field_box, error_box = field.bounding_box(), error.bounding_box()
        assert field_box is not None
        assert error_box is not None
        assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 20
    expect(page.locator(".alert")).to_have_count(0)
    expect_signed_out_header(page)


def test_sign_out_from_the_header(page: Page, server: Server) -> None:
    sign_up(page, server, unique_email())
    expect_signed_in_header(page)
    header(page).get_by_role("button", name="Sign Out").click()
    expect(page).to_have_url(f"{server.base_url}/")
    expect_signed_out_header(page)
    page.reload()
    expect_signed_out_header(page)


def test_wrong_password_shows_invalid_credentials_in_place(page: Page, server: Server) -> None:
    email = unique_email()
    sign_up(page, server, email)
    header(page).get_by_role("button", name="Sign Out").click()
    expect_signed_out_header(page)
    header(page).get_by_role("link", name="Sign In").click()
    submit_auth_form(page, "Sign In", email, "wrong password")
    expect(page).to_have_url(f"{server.base_url}/auth/signin")
    expect(page.locator("main form").get_by_role("alert")).to_have_text("Invalid credentials")
    expect(page.get_by_label("Email Address")).to_have_value(email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect_signed_out_header(page)


def test_bootstrap_styles_load_from_the_app_itself(page: Page, server: Server) -> None:
    stylesheets: list[int] = []
    page.on("response", lambda response: stylesheets.append(response.status)
            if response.request.resource_type == "stylesheet" else None)
    page.goto(f"{server.base_url}/auth/signin")
    assert stylesheets == [200]
    style = header(page).evaluate(
        "nav => { const s = getComputedStyle(nav);"
        " return {display: s.display, background: s.backgroundColor}; }"
    )
    # Unstyled, a <nav> is a transparent block; Bootstrap makes .navbar.bg-light a grey flexbox.
    assert style == {"display": "flex", "background": "rgb(248, 249, 250)"}
    button = page.locator("main form").get_by_role("button", name="Sign In")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(13, 110, 253)"
    own_host = urlsplit(server.base_url).netloc
    assert server.requests
    assert {urlsplit(url).netloc for url in server.requests} == {own_host}


def test_header_labels_stay_on_one_line_on_a_phone(page: Page, server: Server) -> None:
    page.set_viewport_size({"width": 375, "height": 700})
    sign_up(page, server, unique_email())
    expect_signed_in_header(page)
    lines_per_label = header(page).locator(".navbar-brand, .nav-link").evaluate_all(
        "items => Object.fromEntries(items.map(item => { const text = document.createRange();"
        " text.selectNodeContents(item);"
        " return [item.textContent.trim(), text.getClientRects().length]; }))"
    )
    assert lines_per_label == {"Ticketing": 1, "Sell Tickets": 1, "New Event": 1, "My Orders": 1,
                               "My Tickets": 1, "Selling": 1,
                               "Sign Out": 1}
