"""Payments from the outside: a payable order made the real way, paying, the provider.

A seller lists a ticket, a buyer reserves it, and the in-process relay carries
``order:created`` to payments; these helpers wait for that instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.waiting import eventually
from ticketing.bus.contracts import Envelope, Event
from ticketing.modules.payments.api import PaymentsApi
from ticketing.modules.payments.gateway import FakeGateway
from ticketing.modules.payments.models import OrderReplica


async def signed_up(app: Quart, email: str) -> Client:
    """A client of its own (its own cookie jar), signed in as a new user."""
    client = app.test_client()
    response = await client.post("/api/users/signup", json={"email": email, "password": "secret"})
    assert response.status_code == 201, await response.get_json()
    return client


async def open_order(app: Quart, buyer: Client, price: float = 19.99,
                     seller_email: str | None = None) -> dict[str, Any]:
    """List a ticket, reserve it as ``buyer``, and wait until payments knows the order."""
    seller = await signed_up(app, seller_email or f"seller{time.monotonic_ns()}@test.com")
    response = await seller.post("/api/tickets", json={"title": "Concert", "price": price})
    assert response.status_code == 201, await response.get_json()
    ticket_id = (await response.get_json())["id"]

    async def reserve() -> dict[str, Any] | None:
        answer = await buyer.post("/api/orders", json={"ticketId": ticket_id})
        if answer.status_code == 404:  # orders has not seen the ticket yet
            return None
        assert answer.status_code == 201, await answer.get_json()
        body: dict[str, Any] = await answer.get_json()
        return body

    order = await eventually(reserve, what="the ticket to reach orders")
    await eventually(lambda: OrderReplica.exists(id=order["id"]),
                     what="order:created to reach payments")
    return order


async def order_status(client: Client, order_id: str) -> str:
    status: str = (await (await client.get(f"/api/orders/{order_id}")).get_json())["status"]
    return status


async def pay(client: Client, order_id: str, token: str = "tok_visa") -> Any:
    return await client.post("/api/payments", json={"orderId": order_id, "token": token})


def facade(app: Quart) -> PaymentsApi:
    found = app.extensions["ticketing"].facades["payments"]
    assert isinstance(found, PaymentsApi)
    return found


def fake_gateway(app: Quart) -> FakeGateway:
    gateway = facade(app).gateway
    assert isinstance(gateway, FakeGateway)
    return gateway


async def deliver(app: Quart, event: Event, source: str = "orders") -> None:
    """Hand one event straight to the payments consumer, as a transport would."""
    consumer = app.extensions["ticketing"].bus.modules["payments"].consumer
    await consumer.handle(Envelope.wrap(event, source))


def errors(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message} | ({"field": field} if field else {})]}
