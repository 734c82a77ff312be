"""Helpers for the web-shell and auth tests: an app on custom settings, cookies, the nav."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from http.cookies import Morsel, SimpleCookie
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from ticketing.app import create_app
from ticketing.settings import Settings

PASSWORD = "password"


@asynccontextmanager
async def serving(settings: Settings,
                  setup: Callable[[Quart], None] | None = None) -> AsyncIterator[Client]:
    """A started app on ``settings`` (``setup`` may add test-only routes) and its client."""
    app = create_app(settings)
    if setup is not None:
        setup(app)
    async with app.test_app():
        yield app.test_client()


async def sign_up(client: Client, email: str = "test@test.com",
                  password: str = PASSWORD) -> dict[str, Any]:
    """Sign up through the API; returns the response body."""
    response = await client.post("/api/users/signup", json={"email": email, "password": password})
    assert response.status_code == 201, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body


def session_cookie(set_cookie_headers: list[str]) -> Morsel[str]:
    """The ``session`` cookie among a response's ``Set-Cookie`` headers."""
    found = [h for h in set_cookie_headers if h.startswith("session=")]
    assert len(found) == 1, set_cookie_headers
    jar: SimpleCookie = SimpleCookie()
    jar.load(found[0])
    return jar["session"]


def jwt_claims_of(cookie_value: str) -> dict[str, Any]:
    """The (unverified) claims inside a session cookie value."""
    token = json.loads(base64.b64decode(cookie_value))["jwt"]
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return claims


def assert_error_shape(body: Any) -> None:
    """``{"errors": [{"message": str, "field"?: str}, ...]}`` and nothing else."""
    assert isinstance(body, dict)
    assert set(body) == {"errors"}
    assert body["errors"]
    for entry in body["errors"]:
        assert set(entry) <= {"message", "field"}
        assert isinstance(entry["message"], str)
        assert entry["message"]
        assert isinstance(entry.get("field", ""), str)


class _NavLabels(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.labels: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "nav":
            self.depth += 1
        elif self.depth and tag in ("a", "button"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self.depth -= 1
        elif self._text is not None and tag in ("a", "button"):
            self.labels.append(" ".join("".join(self._text).split()))
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def nav_labels(html: str) -> list[str]:
    """The text of every link and button in the page's header navigation."""
    parser = _NavLabels()
    parser.feed(html)
    return parser.labels
