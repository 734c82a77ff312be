"""A payment request waits for orders' verdict woken by the settler, never by polling.

Orders' consumer is held back on ``payment:authorized`` so the request is certainly
waiting when the verdict comes; the wait allowed is far longer than the test's own
bound, so a request that is not woken fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from quart import Quart, Response
from quart.typing import TestClientProtocol as Client

from tests.support.bus import hold_back
from tests.support.payments import open_order, pay, signed_up
from ticketing.bus.contracts import PaymentAuthorized
from ticketing.modules.payments import attempts
from ticketing.web.shell.runtime import Runtime

BOUND_SECONDS = 20.0


@pytest.fixture
def verdict_held(app: Quart, monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.Event]:
    monkeypatch.setattr(attempts, "DECISION_WAIT_SECONDS", 600.0)
    runtime: Runtime = app.extensions["ticketing"]
    consumer = runtime.bus.modules["orders"].consumer
    assert consumer is not None
    gate = hold_back(monkeypatch, consumer, PaymentAuthorized.WIRE_TYPE)
    yield gate
    gate.set()


async def paying(app: Quart) -> tuple[Client, str, asyncio.Task[Response]]:
    """A buyer, their open order, and their payment of it, under way."""
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    payment = asyncio.create_task(pay(buyer, order["id"]))
    await asyncio.sleep(0.2)
    assert not payment.done()  # held: orders has not decided
    return buyer, order["id"], payment


async def test_an_accepted_payment_is_answered_once_its_capture_is_recorded(
    app: Quart, verdict_held: asyncio.Event,
) -> None:
    _, _, payment = await paying(app)
    verdict_held.set()
    response = await asyncio.wait_for(payment, BOUND_SECONDS)

    assert response.status_code == 201, await response.get_json()


async def test_a_refused_payment_is_answered_once_its_hold_is_released(
    app: Quart, verdict_held: asyncio.Event,
) -> None:
    buyer, order_id, payment = await paying(app)
    assert (await buyer.delete(f"/api/orders/{order_id}")).status_code == 204
    verdict_held.set()
    response = await asyncio.wait_for(payment, BOUND_SECONDS)

    assert response.status_code == 400
    assert await response.get_json() == {
        "errors": [{"message": "Cannot pay for a cancelled order"}]}
