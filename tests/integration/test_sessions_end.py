"""Sessions that end: a signed-out cookie is refused at once and after a restart, on both
transports (the split, where another process learns it from the bus, is in
``tests/e2e/test_split_mode.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.apps import session_cookie
from tests.support.trading import TRANSPORTS, trading
from ticketing.app import create_app
from ticketing.settings import Settings

PASSWORD = "password"


async def signed_up(client: Client, email: str = "leaver@example.com") -> str:
    """Sign up; the session cookie's value."""
    response = await client.post("/api/users/signup", json={"email": email,
                                                            "password": PASSWORD})
    assert response.status_code == 201, await response.get_json()
    return session_cookie(response.headers.getlist("Set-Cookie")).value


async def signed_in(client: Client, email: str = "leaver@example.com") -> str:
    response = await client.post("/api/users/signin", json={"email": email,
                                                            "password": PASSWORD})
    assert response.status_code == 200, await response.get_json()
    return session_cookie(response.headers.getlist("Set-Cookie")).value


async def lists_a_ticket(app: Quart, cookie: str) -> int:
    """The status of ``POST /api/tickets`` with this cookie (201 or 401)."""
    response = await app.test_client().post(
        "/api/tickets", json={"title": "Show", "price": 5},
        headers={"Cookie": f"session={cookie}"})
    return response.status_code


async def sign_out(app: Quart, cookie: str, *, everywhere: bool = False) -> None:
    path = "/api/users/signout-everywhere" if everywhere else "/api/users/signout"
    response = await app.test_client().post(path, headers={"Cookie": f"session={cookie}"})
    assert response.status_code == 200


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def build(request: pytest.FixtureRequest, transport: str, settings: Settings,
          make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return trading(make_settings, transport, request, modules=None)


async def test_a_signed_out_cookie_is_refused_and_stays_refused_after_a_restart(
    build: Callable[..., Settings],
) -> None:
    settings = build()
    app = create_app(settings)
    async with app.test_app():
        cookie = await signed_up(app.test_client())
        assert await lists_a_ticket(app, cookie) == 201
        await sign_out(app, cookie)

        assert await lists_a_ticket(app, cookie) == 401
        current = await app.test_client().get("/api/users/currentuser",
                                              headers={"Cookie": f"session={cookie}"})
        assert await current.get_json() == {"currentUser": None}
        fresh = await signed_in(app.test_client())
        assert await lists_a_ticket(app, fresh) == 201

    restarted = create_app(settings)
    async with restarted.test_app():
        assert await lists_a_ticket(restarted, cookie) == 401
        assert await lists_a_ticket(restarted, fresh) == 201


async def test_signing_out_everywhere_ends_every_session_of_the_user_only(
    build: Callable[..., Settings],
) -> None:
    app = create_app(build())
    async with app.test_app():
        laptop = await signed_up(app.test_client())
        phone = await signed_in(app.test_client())
        someone_else = await signed_up(app.test_client(), "stays@example.com")

        await sign_out(app, phone, everywhere=True)

        assert await lists_a_ticket(app, laptop) == 401
        assert await lists_a_ticket(app, phone) == 401
        assert await lists_a_ticket(app, someone_else) == 201
        assert await lists_a_ticket(app, await signed_in(app.test_client())) == 201
