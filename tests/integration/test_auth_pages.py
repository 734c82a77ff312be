"""The server-rendered auth pages: forms without JavaScript, errors beside fields, the header."""

from __future__ import annotations

import re

import pytest
from quart.typing import TestClientProtocol as Client

from tests.support.apps import PASSWORD, nav_labels, session_cookie, sign_up
from ticketing.modules.auth.throttle import SIGNIN_PER_ACCOUNT_AND_ADDRESS

SIGNED_OUT_NAV = ["Sign Up", "Sign In"]
SIGNED_IN_NAV = ["Sell Tickets", "New Event", "My Orders", "My Tickets", "Selling", "Sign Out"]


async def page(client: Client, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, path
    assert response.mimetype == "text/html"
    return await response.get_data(as_text=True)


def field_error(html: str, name: str) -> str | None:
    """The error shown beside one input, or ``None``."""
    found = re.search(rf'<div class="invalid-feedback" id="{name}-error">(.*?)</div>', html, re.S)
    return found.group(1).strip() if found else None


def input_value(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html, re.S)
    assert tag is not None, name
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return value.group(1) if value else ""


def brand_and(labels: list[str]) -> list[str]:
    return ["Ticketing", *labels]


@pytest.mark.parametrize(("path", "heading"), [("/auth/signup", "Sign Up"),
                                               ("/auth/signin", "Sign In")])
async def test_get_renders_an_empty_form_that_posts_without_javascript(
    client: Client, path: str, heading: str,
) -> None:
    html = await page(client, path)

    assert f"<h1>{heading}</h1>" in html
    assert re.search(r'<form method="post"', html)
    assert 'name="email"' in html
    assert re.search(r'<input[^>]*name="password"[^>]*type="password"', html, re.S)
    assert field_error(html, "email") is None


async def test_signup_with_bad_input_shows_each_error_beside_its_field_and_keeps_the_email(
    client: Client,
) -> None:
    response = await client.post("/auth/signup",
                                 form={"email": "not-an-email", "password": "abc"})

    assert response.status_code == 400
    html = await response.get_data(as_text=True)
    assert field_error(html, "email") == "Email must be valid"
    assert field_error(html, "password") == "Password must be between 4 and 20 characters"
    assert input_value(html, "email") == "not-an-email"
    assert input_value(html, "password") == ""


async def test_signup_with_a_taken_email_says_so_and_never_echoes_the_password(
    client: Client,
) -> None:
    await sign_up(client, "taken@test.com")

    response = await client.post("/auth/signup",
                                 form={"email": "Taken@test.com", "password": "my-secret-pw"})

    assert response.status_code == 400
    html = await response.get_data(as_text=True)
    assert "Email in use" in html
    assert input_value(html, "email") == "Taken@test.com"
    assert "my-secret-pw" not in html
    assert response.headers.getlist("Set-Cookie") == []


async def test_signin_with_wrong_credentials_says_invalid_credentials_and_keeps_the_email(
    client: Client,
) -> None:
    response = await client.post("/auth/signin",
                                 form={"email": "nobody@test.com", "password": "not-this-one"})

    assert response.status_code == 400
    html = await response.get_data(as_text=True)
    assert "Invalid credentials" in html
    assert input_value(html, "email") == "nobody@test.com"
    assert "not-this-one" not in html


async def test_signin_with_an_empty_password_asks_for_one(client: Client) -> None:
    response = await client.post("/auth/signin", form={"email": "a@test.com", "password": ""})

    html = await response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_error(html, "password") == "You must supply a password"
    assert field_error(html, "email") is None


async def test_a_throttled_signin_page_is_429_with_retry_after(client: Client) -> None:
    for _ in range(SIGNIN_PER_ACCOUNT_AND_ADDRESS.failures):
        await client.post("/auth/signin", form={"email": "a@test.com", "password": "wrong"})

    response = await client.post("/auth/signin", form={"email": "a@test.com", "password": "x"})

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in await response.get_data(as_text=True)


async def test_signup_sets_the_session_and_redirects_home(client: Client) -> None:
    response = await client.post("/auth/signup",
                                 form={"email": "new@test.com", "password": PASSWORD})

    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/"
    cookie = session_cookie(response.headers.getlist("Set-Cookie"))
    assert cookie["httponly"] is True
    current = await client.get("/api/users/currentuser")
    assert (await current.get_json())["currentUser"]["email"] == "new@test.com"


@pytest.mark.parametrize(("next_path", "location"), [
    ("/orders", "/orders"),
    ("/tickets/01abc?from=list", "/tickets/01abc?from=list"),
    ("//evil.com", "/"),
    ("https://evil.com/", "/"),
    ("/\t/evil.com", "/"),
    ("", "/"),
])
async def test_signin_redirects_to_next_only_when_it_is_a_local_path(
    client: Client, next_path: str, location: str,
) -> None:
    await sign_up(client)

    response = await client.post("/auth/signin", form={"email": "test@test.com",
                                                       "password": PASSWORD,
                                                       "next": next_path})

    assert response.status_code in (302, 303)
    assert response.headers["Location"] == location
    session_cookie(response.headers.getlist("Set-Cookie"))


@pytest.mark.parametrize(("query", "kept"), [("?next=/orders", "/orders"),
                                             ("?next=//evil.com", "/")])
async def test_the_signin_form_carries_a_safe_next_through_the_post(
    client: Client, query: str, kept: str,
) -> None:
    html = await page(client, f"/auth/signin{query}")

    assert input_value(html, "next") == kept


async def test_a_failed_signin_keeps_next_for_the_retry(client: Client) -> None:
    response = await client.post("/auth/signin", form={"email": "x@test.com", "password": "no",
                                                       "next": "/orders"})

    assert input_value(await response.get_data(as_text=True), "next") == "/orders"


async def test_the_header_offers_sign_up_and_sign_in_when_signed_out(client: Client) -> None:
    for path in ("/", "/auth/signin", "/auth/signup"):
        assert nav_labels(await page(client, path)) == brand_and(SIGNED_OUT_NAV), path


async def test_the_header_offers_selling_orders_and_sign_out_when_signed_in(
    client: Client,
) -> None:
    await sign_up(client)

    for path in ("/", "/auth/signout"):
        assert nav_labels(await page(client, path)) == brand_and(SIGNED_IN_NAV), path


async def test_a_bad_cookie_shows_the_signed_out_header(client: Client) -> None:
    response = await client.get("/", headers={"Cookie": "session=garbage"})

    assert nav_labels(await response.get_data(as_text=True)) == brand_and(SIGNED_OUT_NAV)


async def test_signout_page_posts_to_sign_out_and_goes_home_signed_out(client: Client) -> None:
    await sign_up(client)
    assert 'action="/auth/signout"' in await page(client, "/auth/signout")

    response = await client.post("/auth/signout")

    assert response.status_code in (302, 303)
    assert response.headers["Location"] == "/"
    assert session_cookie(response.headers.getlist("Set-Cookie"))["max-age"] == "0"
    assert nav_labels(await page(client, "/")) == brand_and(SIGNED_OUT_NAV)


async def test_bootstrap_css_is_served_by_the_app_and_linked_by_every_page(
    client: Client,
) -> None:
    css = await client.get("/static/vendor/bootstrap/css/bootstrap.min.css")

    assert css.status_code == 200
    assert css.mimetype == "text/css"
    assert "Bootstrap" in (await css.get_data(as_text=True))[:500]
    html = await page(client, "/auth/signin")
    stylesheets = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', html)
    assert stylesheets == ["/static/vendor/bootstrap/css/bootstrap.min.css"]


async def test_the_bootstrap_route_serves_nothing_outside_the_package(client: Client) -> None:
    response = await client.get("/static/vendor/bootstrap/../../../../../etc/passwd")

    assert response.status_code == 404
