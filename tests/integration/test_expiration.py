"""Expiration through Taskiq, in both transports: on time, once, and never for closed orders.

Whether a closed order stays closed past its deadline is asked of a clock the test moves
(``FakeClock``): a window that real time never ends, an unpaid order beside it that must
expire when the clock passes the deadline, and no waiting for a deadline to go by.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.clock import FakeClock
from tests.support.nats import NatsServer
from tests.support.trading import (
    TRANSPORTS,
    Person,
    deliver,
    list_ticket,
    person,
    reserve,
    settled,
    with_transport,
)
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.bus.contracts import PaymentCreated
from ticketing.modules.expiration.api import ExpirationService
from ticketing.modules.expiration.models import Outbox as ExpirationOutbox
from ticketing.modules.expiration.models import PendingExpiration
from ticketing.modules.orders.models import Outbox as OrdersOutbox
from ticketing.settings import Settings

WINDOW_SECONDS = 2
# On a FakeClock: long enough that no deadline falls unless the test moves the clock.
CLOCKED_WINDOW_SECONDS = 60


@pytest.fixture(params=TRANSPORTS)
def expiring_settings(request: pytest.FixtureRequest, settings: Settings,
                      make_settings: Callable[..., Settings]) -> Settings:
    """Settings on a migrated database with a short reservation window."""
    return with_transport(request, make_settings)(expiration_seconds=WINDOW_SECONDS)


@pytest.fixture
async def app(expiring_settings: Settings) -> AsyncIterator[Quart]:
    application = create_app(expiring_settings)
    async with application.test_app():
        yield application


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def clocked_app(expiring_settings: Settings, clock: FakeClock) -> AsyncIterator[Quart]:
    """The app on ``clock``, with a window that only moving the clock ends."""
    application = create_app(
        replace(expiring_settings, expiration_seconds=CLOCKED_WINDOW_SECONDS), clock=clock)
    async with application.test_app():
        yield application


async def reserved_order(app: Quart, client: TestClientProtocol) -> tuple[Person, dict[str, Any]]:
    settings: Settings = app.extensions["ticketing"].settings
    seller, buyer = person(settings, "seller"), person(settings, "buyer")
    ticket = await list_ticket(client, seller)
    await settled(app)
    return buyer, await reserve(client, buyer, ticket["id"])


async def order_status(client: TestClientProtocol, buyer: Person, order_id: str) -> str:
    response = await client.get(f"/api/orders/{order_id}", headers=buyer.headers)
    body: dict[str, Any] = await response.get_json()
    return str(body["status"])


def expiration_service(app: Quart) -> ExpirationService:
    service: ExpirationService = app.extensions["ticketing"].facades["expiration"]
    return service


async def test_an_unpaid_order_is_cancelled_when_its_window_ends_and_the_ticket_returns(
    app: Quart,
) -> None:
    client = app.test_client()
    buyer, order = await reserved_order(app, client)
    expires_at = datetime.fromisoformat(order["expiresAt"])

    async def cancelled() -> datetime | None:
        if await order_status(client, buyer, order["id"]) == "cancelled":
            return datetime.now(UTC)
        return None

    seen_at = await eventually(cancelled, within=WINDOW_SECONDS + 5, what="expiry")
    assert seen_at >= expires_at, "an order must never be cancelled before its deadline"
    assert seen_at - expires_at < timedelta(seconds=1.5)

    async def back_in_listing() -> bool:
        listing = await (await client.get("/api/tickets")).get_json()
        return any(t["id"] == order["ticket"]["id"] for t in listing)

    await eventually(back_in_listing, what="ticket back in the listing")


async def test_a_duplicate_firing_publishes_one_expiry_and_one_cancellation(app: Quart) -> None:
    client = app.test_client()
    buyer, order = await reserved_order(app, client)
    await eventually(lambda: PendingExpiration.exists(order_id=order["id"]),
                     what="pending expiration recorded")
    service = expiration_service(app)
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()

    await asyncio.gather(service.expire_order(order["id"], past),
                         service.expire_order(order["id"], past))
    await service.expire_order(order["id"], past)

    await eventually(lambda: _is(client, buyer, order["id"], "cancelled"), what="cancellation")
    await settled(app)
    expiries = await ExpirationOutbox.filter(event_type="expiration:complete",
                                             body__contains=order["id"]).count()
    cancellations = await OrdersOutbox.filter(event_type="order:cancelled",
                                              body__contains=order["id"]).count()
    assert (expiries, cancellations) == (1, 1)


async def test_a_paid_order_survives_its_deadline(clocked_app: Quart, clock: FakeClock) -> None:
    app = clocked_app
    client = app.test_client()
    buyer, order = await reserved_order(app, client)
    unpaid = await reserved_order(app, client)
    await settled(app)

    await deliver(app, "orders", PaymentCreated(id="pay_1", order_id=order["id"],
                                                stripe_id="pi_test"), source="payments")
    await eventually(lambda: _is(client, buyer, order["id"], "complete"), what="completion")
    await eventually(lambda: _absent(order["id"]), what="timer dropped after payment")

    await past_the_deadline(app, client, clock, unpaid)
    assert await order_status(client, buyer, order["id"]) == "complete"


async def test_a_cancelled_order_drops_its_timer(clocked_app: Quart, clock: FakeClock) -> None:
    app = clocked_app
    client = app.test_client()
    buyer, order = await reserved_order(app, client)
    unpaid = await reserved_order(app, client)
    await eventually(lambda: PendingExpiration.exists(order_id=order["id"]),
                     what="pending expiration recorded")

    response = await client.delete(f"/api/orders/{order['id']}", headers=buyer.headers)
    assert response.status_code == 204

    await eventually(lambda: _absent(order["id"]), what="timer dropped after cancel")
    await past_the_deadline(app, client, clock, unpaid)


async def past_the_deadline(app: Quart, client: TestClientProtocol, clock: FakeClock,
                            unpaid: tuple[Person, dict[str, Any]]) -> None:
    """Move ``clock`` past every deadline; the ``unpaid`` order expires, and it alone."""
    buyer, order = unpaid
    clock.advance(CLOCKED_WINDOW_SECONDS + 1)

    await eventually(lambda: _is(client, buyer, order["id"], "cancelled"),
                     what="the unpaid order's expiry")
    await settled(app)
    expiries = ExpirationOutbox.filter(event_type="expiration:complete")
    assert await expiries.count() == 1
    assert await expiries.filter(body__contains=order["id"]).exists()


async def _is(client: TestClientProtocol, buyer: Person, order_id: str, status: str) -> bool:
    return await order_status(client, buyer, order_id) == status


async def _absent(order_id: str) -> bool:
    return not await PendingExpiration.exists(order_id=order_id)


async def test_expiration_starts_working_once_nats_comes_up_after_the_process(
    settings: Settings, make_settings: Callable[..., Settings], nats_server: NatsServer,
) -> None:
    url = nats_server.url
    nats_server.stop()
    app = create_app(make_settings(bus="nats", nats_url=url, expiration_seconds=WINDOW_SECONDS))
    async with app.test_app():
        client = app.test_client()
        degraded = await client.get("/readyz")
        assert degraded.status_code == 200  # it serves; the outbox holds the events
        assert (await degraded.get_json())["status"] == "degraded"

        nats_server.start()

        async def ready() -> bool:
            return (await (await client.get("/readyz")).get_json())["status"] == "ready"

        await eventually(ready, what="ready once NATS is up")
        buyer, order = await reserved_order(app, client)
        await eventually(lambda: _is(client, buyer, order["id"], "cancelled"),
                         within=WINDOW_SECONDS + 10, what="expiry after a late NATS")
        await settled(app)
