"""A sell-out rush: many buyers, one ticket, exactly one order, whatever the backend.

The unique partial index of ``migrations/orders/0003`` (one order per ticket whose
status is not ``cancelled``) is what picks the winner: the early "already reserved"
check in the orders module only makes the common refusal cheap.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import pytest
from quart import Quart
from quart.typing import TestClientProtocol
from tortoise.exceptions import IntegrityError

from tests.support.trading import (
    TRANSPORTS,
    error,
    list_ticket,
    person,
    settled,
    trading,
)
from ticketing.bus.contracts import OrderStatus
from ticketing.ids import new_id
from ticketing.modules.orders.models import Order, OrderLine
from ticketing.modules.orders.models import Outbox as OrdersOutbox
from ticketing.settings import Settings

BUYERS = 50


@pytest.fixture(params=TRANSPORTS)
def make_settings(request: pytest.FixtureRequest,
                  make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return trading(make_settings, request.param, request)


async def test_fifty_buyers_racing_for_one_ticket_make_exactly_one_order(
    app: Quart, client: TestClientProtocol, settings: Settings,
) -> None:
    seller = person(settings, "seller")
    buyers = [person(settings, f"buyer{n}") for n in range(BUYERS)]
    ticket = await list_ticket(client, seller)
    await settled(app)

    responses = await asyncio.gather(*(
        client.post("/api/orders", json={"ticketId": ticket["id"]}, headers=buyer.headers)
        for buyer in buyers
    ))

    assert Counter(r.status_code for r in responses) == {201: 1, 400: BUYERS - 1}
    bodies = [await r.get_json() for r in responses]
    (winner,) = [body for r, body in zip(responses, bodies, strict=True) if r.status_code == 201]
    refusals = [body for r, body in zip(responses, bodies, strict=True) if r.status_code == 400]
    assert refusals == [error("Ticket is already reserved")] * (BUYERS - 1)
    assert winner["userId"] in {buyer.id for buyer in buyers}

    orders = await Order.filter(ticket_id=ticket["id"])
    assert [(o.id, o.status) for o in orders] == [(winner["id"], OrderStatus.CREATED)]
    assert await OrdersOutbox.filter(event_type="order:created").count() == 1

    await settled(app)
    shown = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()
    assert shown["orderId"] == winner["id"]
    assert await (await client.get("/api/tickets")).get_json() == []


def a_line(ticket_id: str, active: bool = True) -> OrderLine:
    return OrderLine(order_id=new_id(), ticket_id=ticket_id, active=active)


@pytest.mark.parametrize("make_settings", ["inproc"], indirect=True)
async def test_the_database_refuses_a_second_active_order_line_for_a_ticket(app: Quart) -> None:
    ticket_id = new_id()
    await a_line(ticket_id).save()

    with pytest.raises(IntegrityError):
        await a_line(ticket_id).save()

    assert await OrderLine.filter(ticket_id=ticket_id).count() == 1


@pytest.mark.parametrize("make_settings", ["inproc"], indirect=True)
async def test_lines_of_cancelled_orders_do_not_count_against_the_one_active(app: Quart) -> None:
    ticket_id = new_id()
    for active in (False, False, True):
        await a_line(ticket_id, active).save()

    with pytest.raises(IntegrityError):
        await a_line(ticket_id).save()

    assert await OrderLine.filter(ticket_id=ticket_id).count() == 3
