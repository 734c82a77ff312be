"""Payments from the outside: a payable order made the real way, paying, the provider.

A seller lists a ticket, a buyer reserves it, and the in-process relay carries
``order:created`` to payments; these helpers wait for that instead of sleeping. The
provider is made by the test and passed to ``create_app`` (the ``gateway`` fixture), so
a test holds it without reaching into the app.
"""

from __future__ import annotations

import time
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from tests.support.waiting import eventually
from ticketing.bus.contracts import Envelope, Event
from ticketing.modules.payments.gateway import ChargeRequest, FakeGateway, Intent
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


class LockAwareGateway(FakeGateway):
    """The offline provider, noting every call made while a payments transaction is open
    in the calling task: a row locked in it stays locked for as long as the provider
    takes to answer, which must never happen (``calls_under_lock`` stays empty)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls_under_lock: list[str] = []

    def _note(self, call: str) -> None:
        # Inside ``in_transaction`` the connection's name resolves to the transaction.
        if isinstance(connections.get("payments"), TransactionalDBClient):
            self.calls_under_lock.append(call)

    async def authorize(self, request: ChargeRequest) -> Intent:
        self._note("authorize")
        return await super().authorize(request)

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        self._note("capture")
        return await super().capture(intent_id, idempotency_key)

    async def retrieve(self, intent_id: str) -> Intent:
        self._note("retrieve")
        return await super().retrieve(intent_id)

    async def cancel(self, intent_id: str) -> Intent:
        self._note("cancel")
        return await super().cancel(intent_id)

    async def refund(self, intent_id: str, idempotency_key: str) -> str:
        self._note("refund")
        return await super().refund(intent_id, idempotency_key)


async def deliver(app: Quart, event: Event | Envelope, source: str = "orders") -> None:
    """Hand one event straight to the payments consumer, as a transport would."""
    consumer = app.extensions["ticketing"].bus.modules["payments"].consumer
    await consumer.handle(event if isinstance(event, Envelope) else Envelope.wrap(event, source))


def errors(message: str, field: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message} | ({"field": field} if field else {})]}
