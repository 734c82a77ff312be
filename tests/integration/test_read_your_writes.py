"""Read-your-writes across modules by the consistency cookie, not by polling (ADR 0016).

Payments' consumer is held back on ``order:created`` so the order is certainly unknown
to payments when the pay page is asked for: with the purchase's cookie the page waits
until the consumer applies the event (woken by it: the wait allowed is far longer than
the test's own bound), without one it answers at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.bus import hold_back
from tests.support.payments import signed_up
from tests.support.waiting import eventually
from ticketing.bus.contracts import OrderCreated, PaymentAuthorized
from ticketing.modules.payments import attempts
from ticketing.web.shell import consistency
from ticketing.web.shell.runtime import Runtime

# Far past the test's own bound: a wait that is not woken by the consumer fails the test.
PATIENT_SECONDS = 600.0
BOUND_SECONDS = 20.0


@pytest.fixture(autouse=True)
def patient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consistency, "WAIT_SECONDS", PATIENT_SECONDS)


@pytest.fixture
def held_back(app: Quart, monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.Event]:
    """Payments applies ``order:created`` only once the returned event is set."""
    runtime: Runtime = app.extensions["ticketing"]
    consumer = runtime.bus.modules["payments"].consumer
    assert consumer is not None
    gate = hold_back(monkeypatch, consumer, OrderCreated.WIRE_TYPE)
    yield gate
    gate.set()


async def purchase(app: Quart, buyer: TestClientProtocol) -> str:
    seller = await signed_up(app, "seller@test.com")
    created = await seller.post("/api/tickets", json={"title": "Concert", "price": 20})
    ticket_id = (await created.get_json())["id"]

    async def reserved() -> Any:
        answer = await buyer.post("/api/orders", json={"ticketId": ticket_id})
        return await answer.get_json() if answer.status_code == 201 else None

    order: dict[str, Any] = await eventually(reserved, "orders to know the ticket")
    return str(order["id"])


def token_of(client: TestClientProtocol) -> str | None:
    jar = client.cookie_jar  # type: ignore[attr-defined]
    return next((c.value for c in jar if c.name == consistency.COOKIE), None)


async def test_the_pay_page_after_a_purchase_waits_for_payments_to_hear_of_it(
    app: Quart, held_back: asyncio.Event,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order_id = await purchase(app, buyer)
    assert token_of(buyer) is not None

    page = asyncio.create_task(buyer.get(f"/payments/{order_id}"))
    await asyncio.sleep(0.2)
    assert not page.done()  # waiting: payments has not applied the order yet
    held_back.set()
    response = await asyncio.wait_for(page, BOUND_SECONDS)

    assert response.status_code == 200
    assert 'id="payment-form"' in await response.get_data(as_text=True)


async def test_without_the_cookie_an_unknown_order_is_answered_at_once(
    app: Quart, held_back: asyncio.Event,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order_id = await purchase(app, buyer)
    buyer.delete_cookie("localhost.local", consistency.COOKIE)  # type: ignore[attr-defined]

    response = await asyncio.wait_for(buyer.get(f"/api/orders/{order_id}"), BOUND_SECONDS)
    assert response.status_code == 200  # orders itself knows its order
    response = await asyncio.wait_for(buyer.get(f"/payments/{order_id}"), BOUND_SECONDS)
    assert response.status_code == 404


async def test_a_forged_cookie_makes_nobody_wait(
    app: Quart, held_back: asyncio.Event,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order_id = await purchase(app, buyer)
    token = token_of(buyer)
    assert token is not None
    payload, signature = token.split(".")
    buyer.set_cookie("localhost.local", consistency.COOKIE,  # type: ignore[attr-defined]
                     f"{payload}.{signature[::-1]}")

    response = await asyncio.wait_for(buyer.get(f"/payments/{order_id}"), BOUND_SECONDS)
    assert response.status_code == 404


async def test_my_orders_after_paying_waits_for_orders_to_apply_the_payment(
    app: Quart, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Orders is held back on ``payment:authorized``, so the payment answers "processing"
    and orders certainly has not applied it: with the payment's cookie the order waits
    for it and shows complete; without one it answers at once, not yet complete."""
    monkeypatch.setattr(attempts, "DECISION_WAIT_SECONDS", 0.2)
    runtime: Runtime = app.extensions["ticketing"]
    orders_consumer = runtime.bus.modules["orders"].consumer
    assert orders_consumer is not None
    gate = hold_back(monkeypatch, orders_consumer, PaymentAuthorized.WIRE_TYPE)
    buyer = await signed_up(app, "buyer@test.com")
    order_id = await purchase(app, buyer)
    await eventually(lambda: _payable(buyer, order_id), "payments to know the order")
    cookieless = app.test_client()
    cookieless.set_cookie("localhost.local", "session",  # type: ignore[attr-defined]
                          session_of(buyer))

    paid = await buyer.post("/api/payments", json={"orderId": order_id, "token": "tok_visa"})
    assert paid.status_code == 202, await paid.get_json()
    assert (await (await cookieless.get(f"/api/orders/{order_id}")).get_json())["status"] \
        == "created"
    shown = asyncio.create_task(buyer.get(f"/api/orders/{order_id}"))
    await asyncio.sleep(0.2)
    assert not shown.done()
    gate.set()
    response = await asyncio.wait_for(shown, BOUND_SECONDS)

    assert (await response.get_json())["status"] == "complete"


def session_of(client: TestClientProtocol) -> str:
    jar = client.cookie_jar  # type: ignore[attr-defined]
    return str(next(c.value for c in jar if c.name == "session"))


async def _payable(client: TestClientProtocol, order_id: str) -> bool:
    return (await client.get(f"/payments/{order_id}")).status_code == 200
