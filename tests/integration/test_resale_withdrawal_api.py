"""Taking a resale off sale, on every backend: its seller asks tickets, orders (which
hands tickets out) decides, and tickets revives the seller's pass, so these wait for the
events. A buyer holding the ticket keeps it; someone offered it from the waitlist waits
again in their place."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.passes import bought, paid, pass_of, reserved
from tests.support.payments import errors, signed_up
from tests.support.refunds import listed as refundable
from tests.support.refunds import refund, refund_ended
from tests.support.resales import check_in, resale_reserved, resell, resold_to
from tests.support.waiting import eventually
from tests.support.waitlists import join, offered, place
from ticketing.audit import audit
from ticketing.bus.consumer import RetryLater
from ticketing.bus.contracts import Envelope, TicketResaleWithdrawalRequested
from ticketing.settings import Settings

HELD = "A buyer holds this ticket now; if their hold ends you can take it off sale then"


async def withdraw(client: Client, ticket_id: str) -> tuple[int, Any]:
    response = await client.delete(f"/api/tickets/{ticket_id}/resale")
    return response.status_code, await response.get_json()


async def back_with(client: Client, ticket_id: str) -> dict[str, Any]:
    """The ticket once tickets sold it back to the seller's order."""
    async def sold_again() -> dict[str, Any] | None:
        body: dict[str, Any] = await (await client.get(f"/api/tickets/{ticket_id}")).get_json()
        return body if body.get("orderId") else None

    return await eventually(sold_again, what="the resale to be withdrawn")


async def order_of_ticket(client: Client, ticket_id: str) -> str:
    body: dict[str, Any] = await (await client.get(f"/api/tickets/{ticket_id}")).get_json()
    return str(body["orderId"])


async def test_a_resale_taken_off_sale_admits_its_seller_again(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    other = await signed_up(app, "other@test.com")
    ticket_id, token = await bought(app, holder, seller)
    bought_by = await order_of_ticket(seller, ticket_id)
    assert (await resell(holder, ticket_id, 15))[0] == 201

    status, body = await withdraw(holder, ticket_id)
    assert status == 202, body
    assert (body["ticketId"], body["price"], body["withdrawing"]) == (ticket_id, 15.0, True)
    assert "withdrawalRefusal" not in body
    ticket = await back_with(seller, ticket_id)
    assert (ticket["orderId"], ticket["price"]) == (bought_by, 20.0)  # what they paid
    answer = await other.post("/api/orders", json={"ticketId": ticket_id})
    assert (answer.status_code, await answer.get_json()) == (
        400, errors("Ticket is already reserved"))
    assert await withdraw(holder, ticket_id) == (404, errors("This ticket is not on resale"))
    selling = (await (await holder.get("/api/selling")).get_json())["listings"]
    assert [row for row in selling if row["kind"] == "resale"] == []

    assert (await resell(holder, ticket_id, 12))[0] == 201  # and may list it again
    await resold_to(other, ticket_id)
    assert await check_in(seller, token) == (400, errors(
        "This pass is no longer valid: the ticket was transferred, resold or refunded"))


async def test_a_withdrawn_pass_is_the_same_pass(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    ticket_id, token = await bought(app, holder, seller)
    assert (await resell(holder, ticket_id, 20))[0] == 201
    assert (await withdraw(holder, ticket_id))[0] == 202
    await back_with(seller, ticket_id)
    assert (await check_in(seller, token))[0] == 201  # the printed pass works again


async def test_only_its_seller_takes_a_resale_off_sale_while_no_buyer_holds_it(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, _ = await bought(app, holder, seller)
    assert await withdraw(holder, ticket_id) == (404, errors("This ticket is not on resale"))
    assert (await resell(holder, ticket_id, 15))[0] == 201
    assert (await withdraw(seller, ticket_id))[0] == 401
    assert (await withdraw(app.test_client(), ticket_id))[0] == 401
    assert (await withdraw(holder, "01ARZ3NDEKTSV4RRFFQ69G5FAV"))[0] == 404
    assert (await withdraw(holder, "not-an-id"))[0] == 404

    order_id = await resold_to_held(buyer, ticket_id)
    assert await withdraw(holder, ticket_id) == (400, errors(HELD))
    assert (await buyer.delete(f"/api/orders/{order_id}")).status_code == 204

    async def withdrawn_once_free() -> bool:
        status, body = await withdraw(holder, ticket_id)
        assert status in (202, 400), body  # 400 until tickets hears the hold ended
        return status == 202

    await eventually(withdrawn_once_free, what="the hold to end")
    await back_with(seller, ticket_id)


async def resold_to_held(buyer: Client, ticket_id: str) -> str:
    """Reserved by ``buyer`` (not paid), once tickets knows it is held."""
    order_id = await resale_reserved(buyer, ticket_id)

    async def held() -> bool:
        body = await (await buyer.get(f"/api/tickets/{ticket_id}")).get_json()
        return bool(body.get("orderId") == order_id)

    await eventually(held, what="tickets to hold it for the buyer")
    return order_id


async def test_orders_refuses_a_withdrawal_when_a_buyer_took_it_first(app: Quart) -> None:
    """The ask crossed a reservation tickets had not heard of yet: orders, which handed
    the ticket out, keeps it the buyer's and the seller's pass page says why."""
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, _ = await bought(app, holder, seller)
    bought_by = await order_of_ticket(seller, ticket_id)
    assert (await resell(holder, ticket_id, 15))[0] == 201
    order_id = await resold_to_held(buyer, ticket_id)

    await ask_orders(app, holder, ticket_id, bought_by)

    async def refused() -> str | None:
        page = await (await holder.get(f"/tickets/{ticket_id}/pass")).get_data(as_text=True)
        return page if 'id="withdraw-refusal"' in page else None

    assert HELD in await eventually(refused, what="the refusal to reach tickets")
    assert await order_of_ticket(seller, ticket_id) == order_id  # still the buyer's


async def ask_orders(app: Quart, seller: Client, ticket_id: str, previous_order_id: str,
                     *, version: int | None = None) -> None:
    """Hand orders a withdrawal request directly, as tickets would send it."""
    seller_id = (await (await seller.get("/api/users/currentuser")).get_json())[
        "currentUser"]["id"]
    if version is None:
        version = (await (await seller.get(f"/api/tickets/{ticket_id}")).get_json())[
            "version"]
    orders = app.extensions["ticketing"].bus.modules["orders"].consumer
    await orders.handle(Envelope.wrap(TicketResaleWithdrawalRequested(
        ticket_id=ticket_id, version=version, seller_id=seller_id,
        previous_order_id=previous_order_id), "tickets"))


async def test_orders_gives_a_resale_back_only_to_its_seller_and_once_it_has_caught_up(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    stranger = await signed_up(app, "stranger@test.com")
    ticket_id, _ = await bought(app, holder, seller)
    bought_by = await order_of_ticket(seller, ticket_id)
    assert (await resell(holder, ticket_id, 15))[0] == 201
    listed_at = (await (await seller.get(f"/api/tickets/{ticket_id}")).get_json())["version"]
    await resale_reserved(stranger, ticket_id)  # orders has applied the listing
    with pytest.raises(RetryLater):  # asked at a version orders has not seen yet
        await ask_orders(app, holder, ticket_id, bought_by, version=listed_at + 5)

    await ask_orders(app, stranger, ticket_id, bought_by)  # not the resale's seller
    ticket = await (await seller.get(f"/api/tickets/{ticket_id}")).get_json()
    assert ticket["orderId"] != bought_by


async def unit_on_resale(seller: Client, holder: Client) -> tuple[str, str]:
    """An event of three, one each per buyer: the holder bought a unit and resells it.
    The event's id and the unit's."""
    response = await seller.post("/api/events", json={"title": "Gig", "price": 10,
                                                      "quantity": 3, "perBuyerLimit": 1})
    event_id: str = (await response.get_json())["id"]
    order_id = await reserved(holder, {"eventId": event_id, "quantity": 1})
    await paid(holder, order_id)
    [unit] = [t["id"] for t in (await (await holder.get(f"/api/orders/{order_id}")
                                       ).get_json())["tickets"]]
    await pass_of(holder, unit)
    assert (await resell(holder, unit, 8))[0] == 201
    return event_id, str(unit)


async def test_a_withdrawal_never_takes_the_buyer_past_the_events_limit(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    event_id, unit = await unit_on_resale(seller, holder)

    async def another() -> str | None:
        answer = await holder.post("/api/orders", json={"eventId": event_id, "quantity": 1})
        if answer.status_code == 400:
            return None  # the resale has not freed the holding yet
        found: str = (await answer.get_json())["id"]
        return found

    await eventually(another, what="orders to free the holding")
    assert (await withdraw(holder, unit))[0] == 202

    async def refused() -> str | None:
        page = await (await holder.get(f"/tickets/{unit}/pass")).get_data(as_text=True)
        return page if 'id="withdraw-refusal"' in page else None

    assert ("Its buyer holds as many tickets of this event as one may, so it stays on sale"
            in await eventually(refused, what="the refusal"))


async def test_a_withdrawn_ticket_is_refunded_and_sold_again_as_any_other(
    app: Quart, settings: Settings,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    other = await signed_up(app, "other@test.com")
    ticket_id = await refundable(seller)
    order_id = await reserved(holder, {"ticketId": ticket_id})
    await paid(holder, order_id)
    await pass_of(holder, ticket_id)
    assert (await resell(holder, ticket_id, 15))[0] == 201
    assert (await withdraw(holder, ticket_id))[0] == 202
    await back_with(seller, ticket_id)

    assert (await refund(holder, order_id))[0] == 202
    assert (await refund_ended(holder, order_id))["refund"]["status"] == "refunded"
    await reserved(other, {"ticketId": ticket_id})
    assert await audit(settings, grace=timedelta(0), wait=10) == []


async def test_a_waitlist_offer_of_a_withdrawn_resale_ends_and_its_taker_waits_again(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    waiting = await signed_up(app, "waiting@test.com")
    ticket_id, _ = await bought(app, holder, seller)
    assert (await join(waiting, ticket_id))[0] == 201
    assert (await resell(holder, ticket_id, 15))[0] == 201
    assert (await offered(waiting, ticket_id))["offer"]["ticketId"] == ticket_id

    assert (await withdraw(holder, ticket_id))[0] == 202
    await back_with(seller, ticket_id)
    status, body = await place(waiting, ticket_id)
    assert (status, body["position"], body["offer"]) == (200, 1, None)


async def test_the_pass_page_takes_a_resale_off_sale(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    ticket_id, _ = await bought(app, holder, seller)
    assert (await resell(holder, ticket_id, 15))[0] == 201
    page = await (await holder.get(f"/tickets/{ticket_id}/pass")).get_data(as_text=True)
    assert 'id="withdraw-form"' in page
    assert 'id="pass-qr"' not in page

    response = await holder.post(f"/tickets/{ticket_id}/resale/withdraw")
    assert (response.status_code, response.headers["Location"]) == (
        303, f"/tickets/{ticket_id}/pass")
    await back_with(seller, ticket_id)
    page = await (await holder.get(f"/tickets/{ticket_id}/pass")).get_data(as_text=True)
    assert 'id="pass-qr"' in page
    assert 'id="on-resale"' not in page
    response = await holder.post(f"/tickets/{ticket_id}/resale/withdraw")
    assert response.status_code == 404


async def test_an_event_unit_taken_off_sale_counts_toward_the_buyers_limit_again(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    event_id, unit = await unit_on_resale(seller, holder)
    assert (await withdraw(holder, unit))[0] == 202
    await back_with(seller, unit)

    answer = await holder.post("/api/orders", json={"eventId": event_id, "quantity": 1})
    assert (answer.status_code, await answer.get_json()) == (
        400, errors("Ticket limit reached"))
