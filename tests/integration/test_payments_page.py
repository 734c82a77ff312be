"""Paying from the order page: the form, and its no-JavaScript post."""

from __future__ import annotations

from dataclasses import replace

import pytest
from quart import Quart

from tests.support.payments import (
    open_order,
    order_status,
    signed_up,
)
from tests.support.waiting import eventually
from ticketing.bus.contracts import OrderStatus
from ticketing.modules.payments.gateway import FakeGateway
from ticketing.modules.payments.models import OrderReplica
from ticketing.settings import Settings


async def test_the_pay_page_shows_the_offline_card_form(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer, price=19.99)

    html = await (await buyer.get(f"/payments/{order['id']}")).get_data(as_text=True)

    assert 'id="payment-form"' in html
    assert f'action="/payments/{order["id"]}"' in html
    assert 'value="tok_visa"' in html
    assert "Pay $19.99" in html
    assert "js.stripe.com" not in html


async def test_paying_lands_on_my_orders_with_the_order_complete(
    app: Quart, gateway: FakeGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)

    response = await buyer.post(f"/payments/{order['id']}", form={"token": "tok_visa"})

    assert response.status_code == 303
    assert response.headers["Location"] == "/orders"
    assert await order_status(buyer, order["id"]) == "complete"
    assert [c.amount_cents for c in gateway.charges] == [1999]


async def test_a_decline_shows_the_message_and_keeps_the_form(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)

    response = await buyer.post(f"/payments/{order['id']}",
                                form={"token": "tok_chargeDeclined"})

    assert response.status_code == 400
    html = await response.get_data(as_text=True)
    assert "Your card was declined." in html
    assert 'id="payment-form"' in html
    assert 'value="tok_chargeDeclined"' in html
    again = await buyer.post(f"/payments/{order['id']}", form={"token": "tok_visa"})
    assert again.status_code == 303


async def test_a_cancelled_order_shows_why_without_a_form(app: Quart) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    assert (await buyer.delete(f"/api/orders/{order['id']}")).status_code == 204
    await eventually(lambda: OrderReplica.exists(id=order["id"],
                                                 status=OrderStatus.CANCELLED))

    response = await buyer.post(f"/payments/{order['id']}", form={"token": "tok_visa"})

    assert response.status_code == 400
    html = await response.get_data(as_text=True)
    assert "Cannot pay for a cancelled order" in html
    assert 'id="payment-form"' not in html


async def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(
    app: Quart, gateway: FakeGateway,
) -> None:
    buyer = await signed_up(app, "buyer@test.com")
    order = await open_order(app, buyer)
    response = await app.test_client().post(f"/payments/{order['id']}",
                                            form={"token": "tok_visa"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/signin?next=")
    assert gateway.calls == 0


async def test_someone_elses_order_is_refused(app: Quart) -> None:
    owner = await signed_up(app, "owner@test.com")
    order = await open_order(app, owner)
    stranger = await signed_up(app, "stranger@test.com")
    response = await stranger.post(f"/payments/{order['id']}", form={"token": "tok_visa"})
    assert response.status_code == 401


@pytest.fixture
def stripe_settings(settings: Settings) -> Settings:
    return replace(settings, payments="stripe", stripe_key="sk_test_x",
                   stripe_publishable_key="pk_test_publishable")


async def test_with_stripe_the_form_mounts_the_payment_element(stripe_settings: Settings) -> None:
    from ticketing.app import create_app

    app = create_app(stripe_settings)
    async with app.test_app():
        buyer = await signed_up(app, "buyer@test.com")
        order = await open_order(app, buyer, price=19.99)
        html = await (await buyer.get(f"/payments/{order['id']}")).get_data(as_text=True)
    assert 'id="payment-element"' in html
    assert 'data-publishable-key="pk_test_publishable"' in html
    assert 'data-amount-cents="1999"' in html
    assert "https://js.stripe.com/v3/" in html
