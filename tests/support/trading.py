"""Helpers for the tickets and orders tests: minted sessions, both transports, waiting.

Sessions are minted with the app's own signing key (no sign-up, no password hash), so a
test can have fifty buyers for the price of fifty JWTs. Events travel asynchronously
(after the commit, through the relay), so tests wait for the bus to settle or poll for
the state they expect instead of sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.waiting import eventually
from ticketing.bus.contracts import Envelope, Event
from ticketing.bus.runtime import Bus
from ticketing.ids import new_id
from ticketing.modules.auth.tokens import TokenCodec
from ticketing.settings import Settings

T = TypeVar("T")

TRANSPORTS = ["inproc", "nats"]
# The modules these tests are about; a module being reworked elsewhere cannot break them.
TRADING_MODULES = ("tickets", "orders")
SETTLE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Person:
    """A signed-in user: send :attr:`headers` with a request to act as them."""

    id: str
    email: str
    cookie: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"session={self.cookie}"}


def person(settings: Settings, name: str = "user") -> Person:
    """A user with a valid session cookie (the auth tables never see them)."""
    user_id = new_id()
    email = f"{name}-{user_id}@test.com"
    return Person(user_id, email, TokenCodec(settings.jwt_key, 3600).issue_cookie(user_id, email))


def trading(make_settings: Callable[..., Settings], transport: str = "inproc",
            request: pytest.FixtureRequest | None = None,
            modules: tuple[str, ...] | None = TRADING_MODULES) -> Callable[..., Settings]:
    """Wrap conftest's ``make_settings``: only ``modules`` (``None``: all), on ``transport``.

    For ``nats`` a fresh JetStream server (the ``nats_server`` fixture) serves the test.
    """
    overrides: dict[str, Any] = {} if modules is None else {"modules": modules}
    if transport == "nats":
        assert request is not None, "the NATS leg needs the fixture request"
        server = request.getfixturevalue("nats_server")
        overrides |= {"bus": "nats", "nats_url": server.url}

    def build(**more: Any) -> Settings:
        return make_settings(**(overrides | more))

    return build


def with_transport(request: pytest.FixtureRequest,
                   make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Wrap conftest's ``make_settings``: every module, on ``request.param``'s transport."""
    return trading(make_settings, request.param, request, modules=None)


def bus_of(app: Quart) -> Bus:
    bus: Bus = app.extensions["ticketing"].bus
    return bus


async def settled(app: Quart, timeout: float = SETTLE_TIMEOUT) -> None:  # noqa: ASYNC109
    """Wait until every outbox is relayed and every consumer has caught up."""
    bus = bus_of(app)
    deadline = time.monotonic() + timeout
    quiet = 0
    while True:
        status = await bus.status()
        backlog = sum(o["backlog"] for o in status["outbox"].values())
        lag = sum((status["consumerLag"] or {}).values())
        quiet = quiet + 1 if backlog == 0 and lag == 0 else 0
        if quiet == 2:  # twice in a row: nothing was between a commit and its relay
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"bus did not settle in {timeout}s: {status}")
        await asyncio.sleep(0.01)


async def deliver(app: Quart, module: str, event: Event, source: str = "test") -> bool:
    """Hand one event straight to ``module``'s consumer, as a transport would."""
    return await deliver_envelope(app, module, Envelope.wrap(event, source))


async def deliver_envelope(app: Quart, module: str, envelope: Envelope) -> bool:
    consumer = bus_of(app).modules[module].consumer
    assert consumer is not None, f"{module} consumes nothing"
    return await consumer.handle(envelope)


async def list_ticket(client: TestClientProtocol, seller: Person, title: str = "Concert",
                      price: Any = 20) -> dict[str, Any]:
    """``POST /api/tickets`` as ``seller``; the created ticket."""
    response = await client.post("/api/tickets", json={"title": title, "price": price},
                                 headers=seller.headers)
    assert response.status_code == 201, await response.get_json()
    ticket: dict[str, Any] = await response.get_json()
    return ticket


async def reserve(client: TestClientProtocol, buyer: Person, ticket_id: str) -> dict[str, Any]:
    """``POST /api/orders`` as ``buyer``, expecting the reservation to succeed."""
    response = await client.post("/api/orders", json={"ticketId": ticket_id},
                                 headers=buyer.headers)
    assert response.status_code == 201, await response.get_json()
    order: dict[str, Any] = await response.get_json()
    return order


def error(message: str, field: str | None = None) -> dict[str, Any]:
    """The contract's error body with one entry."""
    entry = {"message": message} | ({"field": field} if field else {})
    return {"errors": [entry]}


async def reserve_when_known(client: TestClientProtocol, buyer: Person, ticket_id: str,
                             within: float = SETTLE_TIMEOUT) -> dict[str, Any]:
    """Reserve as soon as orders has heard of the ticket (404 until then)."""

    async def attempt() -> dict[str, Any] | None:
        response = await client.post("/api/orders", json={"ticketId": ticket_id},
                                     headers=buyer.headers)
        if response.status_code == 404:
            return None
        assert response.status_code == 201, await response.get_json()
        order: dict[str, Any] = await response.get_json()
        return order

    return await eventually(attempt, "orders knowing the ticket", within=within)
