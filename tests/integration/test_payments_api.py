"""The payments rows of the contract, with the offline provider, on every backend.

Orders reach the payments module the real way: a seller lists a ticket, a buyer
reserves it, and the in-process relay carries ``order:created`` across.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.clock import FakeClock
from tests.support.payments import (
    deliver,
    errors,
    open_order,
    order_status,
    pay,
    signed_up,
)
from tests.support.waiting import eventually
from ticketing.bus.consistency import CausedEvent, encode_token
from ticketing.bus.contracts import Envelope, OrderCancelled, OrderCreated, TicketRef
from ticketing.ids import new_id
from ticketing.modules.payments import attempts
from ticketing.modules.payments.gateway import FakeGateway
from ticketing.modules.payments.models import (
    AttemptStatus,
    OrderReplica,
    OrderStatus,
    Outbox,
    Payment,
    PaymentAttempt,
)
from ticketing.settings import Settings
from ticketing.web.shell.consistency import COOKIE


async def test_signed_out_is_refused_before_the_body_is_checked(
    client: Client,
) -> None:
    response = await client.post("/api/payments", json={})
    assert response.status_code == 401
    assert await response.get_json() == errors("Not authorized")


async def test_order_id_and_token_are_required(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    response = await buyer.post("/api/payments", json={"orderId": " ", "token": ""})
    assert response.status_code == 400
    assert await response.get_json() == {"errors": [
        {"message": "OrderId must be provided", "field": "orderId"},
        {"message": "Token must be provided", "field": "token"},
    ]}


async def test_a_body_that_is_not_an_object_is_a_400(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    response = await buyer.post("/api/payments", data="[1]",
                                headers={"Content-Type": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("order_id", ["01jd0z5c8y9x7w6v5t4s3r2q1p", "not-an-id"])
async def test_unknown_order_is_404(app: Quart, order_id: str) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    response = await pay(buyer, order_id)
    assert response.status_code == 404
    assert await response.get_json() == errors("Not Found")


async def test_a_payment_for_a_just_made_order_waits_for_the_order_to_arrive(
    app: Quart, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The buyer's consistency cookie names the order's event (ADR 16), which reaches
    payments only (orders never heard of it): the payment waits for it, its price is
    held, and the request answers "processing" when no verdict comes."""
    monkeypatch.setattr(attempts, "DECISION_WAIT_SECONDS", 0.3)
    buyer = await signed_up(app, "buyer@test.com")
    user_id = (await (await buyer.get("/api/users/currentuser")).get_json())["currentUser"]["id"]
    order_id = new_id()
    late_event = Envelope.wrap(OrderCreated(
        id=order_id, version=0, status="created", user_id=user_id,
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        ticket=(ticket := TicketRef(id=new_id(), price=Decimal("19.99"))), tickets=(ticket,),
    ), "orders")
    token = encode_token([CausedEvent(late_event.type, late_event.id)],
                         app.extensions["ticketing"].settings.jwt_key, time.time())
    buyer.set_cookie("localhost", COOKIE, token)  # type: ignore[attr-defined]

    async def arrive_late() -> None:
        await asyncio.sleep(0.3)
        await deliver(app, late_event)

    response, _ = await asyncio.gather(pay(buyer, order_id), arrive_late())
    assert response.status_code == 202, await response.get_json()
    assert (await response.get_json())["status"] == "processing"
    [hold] = gateway.holds
    assert hold.amount_cents == 1999
    assert gateway.charges == []


async def test_someone_elses_order_is_401_and_charges_nothing(
    app: Quart, gateway: FakeGateway,
) -> None:
    owner = await signed_up(app, "owner@test.com")
    order = await open_order(app, owner)
    stranger = await signed_up(app, "stranger@test.com")
    response = await pay(stranger, order["id"])
    assert response.status_code == 401
    assert gateway.calls == 0


async def test_paying_charges_exact_cents_once_and_completes_the_order(
    app: Quart, gateway: FakeGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer, price=19.99)

    response = await pay(buyer, order["id"], "tok_visa")

    assert response.status_code == 201
    payment_id = (await response.get_json())["id"]
    [charge] = gateway.charges
    assert charge.amount_cents == 1999
    assert charge.currency == "usd"
    assert charge.payment_method == "tok_visa"
    assert charge.metadata["order_id"] == order["id"]
    assert order["id"] in charge.idempotency_key
    payment = await Payment.get(id=payment_id)
    assert (payment.order_id, payment.stripe_id, payment.amount_cents) == (
        order["id"], charge.intent_id, 1999)
    [outbox_row] = await Outbox.filter(event_type="payment:created")
    event = Envelope.from_json(outbox_row.body).event
    assert (event.id, event.order_id, event.stripe_id) == (  # type: ignore[attr-defined]
        payment_id, order["id"], charge.intent_id)
    await eventually(lambda: _has_status(buyer, order["id"], "complete"),
                     what="orders to complete the order")
    ticket = await (await buyer.get(f"/api/tickets/{order['ticket']['id']}")).get_json()
    assert ticket["orderId"] == order["id"]
    listing = await (await buyer.get("/api/tickets")).get_json()
    assert order["ticket"]["id"] not in {t["id"] for t in listing}


async def _has_status(client: Client, order_id: str, status: str) -> bool:
    return await order_status(client, order_id) == status


async def test_a_payment_method_reference_pays_too(app: Quart, gateway: FakeGateway) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer, price=250)
    response = await pay(buyer, order["id"], "pm_card_visa")
    assert response.status_code == 201
    assert [c.amount_cents for c in gateway.charges] == [25000]


async def test_paying_twice_is_refused_without_a_second_charge(
    app: Quart, gateway: FakeGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"])).status_code == 201

    again = await pay(buyer, order["id"], "pm_card_visa")

    assert again.status_code == 400
    assert await again.get_json() == errors("Order is already paid")
    assert (len(gateway.holds), len(gateway.charges)) == (1, 1)
    await eventually(lambda: _has_status(buyer, order["id"], "complete"), what="completion")
    later = await pay(buyer, order["id"])
    assert await later.get_json() == errors("Order is already paid")
    assert (len(gateway.holds), len(gateway.charges)) == (1, 1)


async def test_a_declined_card_says_so_and_the_order_stays_payable(
    app: Quart, gateway: FakeGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)

    declined = await pay(buyer, order["id"], "tok_chargeDeclined")

    assert declined.status_code == 400
    assert await declined.get_json() == errors("Your card was declined.")
    assert await order_status(buyer, order["id"]) == "created"
    retried = await pay(buyer, order["id"], "pm_card_visa")
    assert retried.status_code == 201
    attempts = await PaymentAttempt.filter(order_id=order["id"]).order_by("created_at")
    assert [a.status for a in attempts] == [AttemptStatus.FAILED, AttemptStatus.SUCCEEDED]
    assert attempts[0].idempotency_key != attempts[1].idempotency_key
    assert len(gateway.charges) == 1


async def test_an_unknown_payment_method_is_refused(app: Quart, gateway: FakeGateway) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    response = await pay(buyer, order["id"], "pm_nonsense")
    assert response.status_code == 400
    assert await response.get_json() == errors("No such PaymentMethod: 'pm_nonsense'")
    assert gateway.charges == []


async def test_a_cancelled_order_cannot_be_paid(app: Quart, gateway: FakeGateway) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await buyer.delete(f"/api/orders/{order['id']}")).status_code == 204
    await eventually(lambda: OrderReplica.exists(id=order["id"],
                                                 status=OrderStatus.CANCELLED),
                     what="order:cancelled to reach payments")

    response = await pay(buyer, order["id"])

    assert response.status_code == 400
    assert await response.get_json() == errors("Cannot pay for a cancelled order")
    assert gateway.calls == 0


async def test_concurrent_payments_for_one_order_charge_once(
    app: Quart, gateway: FakeGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    gateway.latency = 0.2

    answers = await asyncio.gather(*(pay(buyer, order["id"]) for _ in range(6)))

    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1
    assert set(statuses) <= {201, 400, 409}
    for answer in answers:
        if answer.status_code == 409:
            assert await answer.get_json() == errors(
                "A payment for this order is already in progress")
        elif answer.status_code == 400:
            assert await answer.get_json() == errors("Order is already paid")
    assert len(gateway.holds) == 1
    assert len(gateway.charges) == 1
    assert await Payment.filter(order_id=order["id"]).count() == 1


async def test_an_order_cancelled_while_its_payment_is_in_flight_is_never_charged(
    app: Quart, gateway: FakeGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    gateway.latency = 0.5

    async def cancel_meanwhile() -> None:
        await asyncio.sleep(0.1)
        assert (await buyer.delete(f"/api/orders/{order['id']}")).status_code == 204
        await eventually(lambda: OrderReplica.exists(id=order["id"],
                                                     status=OrderStatus.CANCELLED),
                         what="the cancellation to reach payments")

    response, _ = await asyncio.gather(pay(buyer, order["id"]), cancel_meanwhile())

    assert response.status_code == 400
    assert await response.get_json() == errors("Cannot pay for a cancelled order")
    [hold] = gateway.holds
    assert gateway.releases == [hold.intent_id]
    assert gateway.charges == gateway.refunds == []
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    assert attempt.status == AttemptStatus.VOIDED
    assert not await Payment.exists(order_id=order["id"])
    assert not await Outbox.exists(event_type="payment:created")


async def test_a_payment_right_after_a_cancel_that_payments_has_not_heard_of_is_released(
    app: Quart, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe's "money moved twice": the cancel answered 204 but its event is still
    in orders' outbox, so payments' copy says payable. Orders decides: no charge."""
    monkeypatch.setattr(attempts, "DECISION_WAIT_SECONDS", 0.3)
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    bus = app.extensions["ticketing"].bus
    [orders_relay] = [r for r in bus.relays if r.outbox.module == "orders"]
    await orders_relay.stop()  # orders' events wait in its outbox
    assert (await buyer.delete(f"/api/orders/{order['id']}")).status_code == 204

    response = await pay(buyer, order["id"])
    orders_relay.start(bus.supervisor)

    assert response.status_code == 202  # held; orders' refusal was still in its outbox
    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    await eventually(lambda: PaymentAttempt.exists(id=attempt.id, status=AttemptStatus.VOIDED),
                     what="the hold released")
    assert gateway.releases == [h.intent_id for h in gateway.holds]
    assert gateway.charges == gateway.refunds == []
    assert await order_status(buyer, order["id"]) == "cancelled"
    again = await pay(buyer, order["id"])
    assert await again.get_json() == errors("Cannot pay for a cancelled order")


async def test_money_captured_for_an_order_that_is_then_cancelled_is_refunded(
    app: Quart, gateway: FakeGateway,
) -> None:
    """Never in this release's flow (orders never cancels a completed order), but money
    captured under the 0.1 flow, which raced the expiry, still goes back: the settler
    refunds it once the consumer's transaction has committed."""
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"])).status_code == 201

    ticket = TicketRef(id=order["ticket"]["id"])
    await deliver(app, OrderCancelled(id=order["id"], version=5, ticket=ticket,
                                      tickets=(ticket,)))

    [attempt] = await PaymentAttempt.filter(order_id=order["id"])
    await eventually(lambda: PaymentAttempt.exists(id=attempt.id,
                                                   status=AttemptStatus.REFUNDED),
                     what="the refund")
    [refund] = gateway.refunds
    assert refund.amount_cents == 1999
    await attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.REFUNDED
    assert attempt.refusal_code == "order_cancelled"


async def test_replica_applies_order_events_in_version_order(app: Quart) -> None:
    order_id, ticket = "01jd0z5c8y9x7w6v5t4s3r2q1p", TicketRef(id="01jd0z5c8y9x7w6v5t4s3r2q1q")
    created = OrderCreated(id=order_id, version=0, status="created", user_id="u" * 26,
                           expires_at=datetime(2030, 1, 1, tzinfo=UTC),
                           ticket=(priced := replace(ticket, price=Decimal("5.10"))),
                           tickets=(priced,))
    await deliver(app, OrderCancelled(id=order_id, version=1, ticket=ticket, tickets=(ticket,)))
    replica = await OrderReplica.get(id=order_id)
    assert (replica.status, replica.version, replica.user_id) == (
        OrderStatus.CANCELLED, 1, None)

    await deliver(app, created)  # late, and stale: fills the details, keeps the state

    replica = await OrderReplica.get(id=order_id)
    assert (replica.status, replica.version, replica.user_id) == (
        OrderStatus.CANCELLED, 1, "u" * 26)
    assert str(replica.price) == "5.10"
    await deliver(app, OrderCancelled(id=order_id, version=0, ticket=ticket, tickets=(ticket,)))
    assert (await OrderReplica.get(id=order_id)).version == 1


@asynccontextmanager
async def without_expiration(settings: Settings, clock: FakeClock, gateway: FakeGateway,
                             window_seconds: int = 60) -> AsyncIterator[
        tuple[Quart, Client, dict[str, Any]]]:
    """An app on ``clock`` and ``gateway`` with no expiration module (only the deadline
    itself can refuse), a buyer, and an open order (of a minute) that payments knows of."""
    from ticketing.app import create_app

    app = create_app(replace(settings, modules=("auth", "tickets", "orders", "payments"),
                             expiration_seconds=window_seconds), clock=clock, gateway=gateway)
    async with app.test_app():
        buyer = await signed_up(app, "buyer@test.com")
        yield app, buyer, await open_order(app, buyer)


async def test_an_order_past_its_deadline_is_refused_before_any_expiry_event(
    settings: Settings, gateway: FakeGateway,
) -> None:
    clock = FakeClock()
    async with without_expiration(settings, clock, gateway) as (_app, buyer, order):
        clock.advance(60)

        response = await pay(buyer, order["id"])

        assert response.status_code == 400
        assert await response.get_json() == errors("Order has expired")
        assert gateway.calls == 0
        assert await order_status(buyer, order["id"]) == "created"


async def test_a_payment_retried_past_the_deadline_hears_how_the_earlier_hold_ended(
    settings: Settings, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fault run found it: the first try held the card before the deadline and got no
    answer; the retry, after the deadline, was told "Order has expired" while orders
    accepted the hold and the money was captured."""
    monkeypatch.setattr(attempts, "DECISION_WAIT_SECONDS", 0.3)
    clock = FakeClock()
    async with without_expiration(settings, clock, gateway) as (app, buyer, order):
        bus = app.extensions["ticketing"].bus
        [payments_relay] = [r for r in bus.relays if r.outbox.module == "payments"]
        await payments_relay.stop()  # payment:authorized waits in payments' outbox
        assert (await pay(buyer, order["id"])).status_code == 202
        clock.advance(60)
        monkeypatch.setattr(attempts, "DECISION_WAIT_SECONDS", 10.0)
        payments_relay.start(bus.supervisor)

        again = await pay(buyer, order["id"])

        assert await again.get_json() == errors("Order is already paid")
        assert await order_status(buyer, order["id"]) == "complete"
        assert len(gateway.charges) == 1


async def test_a_charge_whose_answer_was_lost_is_asked_again_with_the_same_key(
    settings: Settings, gateway: FakeGateway,
) -> None:
    clock = FakeClock()
    async with without_expiration(settings, clock, gateway, window_seconds=900) as (
            _app, buyer, order):
        gateway.lose_next_answer = True

        lost = await pay(buyer, order["id"])

        assert lost.status_code == 503
        assert len(gateway.holds) == 1  # the provider holds the money; we do not know yet
        clock.advance(attempts.STALE_ATTEMPT.total_seconds() - 0.001)
        soon = await pay(buyer, order["id"])
        assert soon.status_code == 409
        [attempt] = await PaymentAttempt.filter(order_id=order["id"])
        assert attempt.status == AttemptStatus.PENDING
        # Once its request has surely died, the next payment asks the provider again.
        clock.advance(0.001)

        later = await pay(buyer, order["id"], "pm_card_visa")

        assert later.status_code == 201
        assert (len(gateway.holds), len(gateway.charges)) == (1, 1)
        [payment] = await Payment.filter(order_id=order["id"])
        assert payment.attempt_id == attempt.id
