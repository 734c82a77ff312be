"""Buyer self-service through the API and the order page, on every backend: an open
order can be cancelled until it is paid; a paid one can be refunded inside the window its
seller set, if its passes are unused and still the buyer's. The refund crosses modules by
events (orders asks, tickets takes the tickets back or refuses, orders cancels, payments
gives the money back through the provider), so the tests wait for each step.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.passes import paid, pass_of, reserved
from tests.support.payments import errors, signed_up
from tests.support.refunds import listed, order_of, refund, refund_ended
from tests.support.waiting import eventually
from ticketing.modules.orders.models import Order
from ticketing.modules.payments.models import AttemptStatus, PaymentAttempt

REPLACED = "This pass is no longer valid: the ticket was transferred, resold or refunded"


async def bought(buyer: Client, ticket_id: str) -> tuple[str, str]:
    """The order that paid for the ticket, and its pass token."""
    order_id = await reserved(buyer, {"ticketId": ticket_id})
    await paid(buyer, order_id)
    return order_id, (await pass_of(buyer, ticket_id))["token"]


async def test_a_paid_order_is_refunded_inside_its_window_and_the_ticket_sells_again(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id = await listed(seller, refund_days=7)
    ticket = await (await buyer.get(f"/api/tickets/{ticket_id}")).get_json()
    assert ticket["refundDays"] == 7
    order_id, token = await bought(buyer, ticket_id)

    order = await eventually(lambda: _with_window(order_of(buyer, order_id)),
                             what="the order to be complete")
    until = datetime.fromisoformat(order["refundableUntil"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < until - datetime.now(UTC) <= timedelta(days=7)

    status, body = await refund(buyer, order_id)
    assert status == 202, body
    assert body["refund"]["status"] == "requested"
    assert await refund(buyer, order_id) == (
        400, errors("A refund of this order is already under way"))

    order = await refund_ended(buyer, order_id)
    assert (order["status"], order["refund"]["status"]) == ("cancelled", "refunded")
    assert (await buyer.get(f"/api/tickets/{ticket_id}/pass")).status_code == 404
    response = await seller.post("/api/checkins", json={"token": token})
    assert (response.status_code, await response.get_json()) == (400, errors(REPLACED))

    async def refunded_by_the_provider() -> bool:
        attempts = await PaymentAttempt.filter(order_id=order_id)
        return any(a.status == AttemptStatus.REFUNDED and a.refund_id for a in attempts)

    await eventually(refunded_by_the_provider, what="payments to refund the charge")
    other = await signed_up(app, "other@test.com")
    _, new_token = await bought(other, ticket_id)  # for sale again, to anyone
    # Its pass was voided, not forgotten: the next one is a new version, so the refunded
    # buyer's printout cannot pass for the new buyer's.
    assert new_token.startswith(f"T1.{ticket_id}.3.")
    response = await seller.post("/api/checkins", json={"token": token})
    assert (response.status_code, await response.get_json()) == (400, errors(REPLACED))
    assert (await seller.post("/api/checkins", json={"token": new_token})).status_code == 201
    selling = (await (await seller.get("/api/selling")).get_json())["listings"]
    assert [row["state"] for row in selling] == ["checked_in"]


async def _with_window(found: Any) -> dict[str, Any] | None:
    order: dict[str, Any] = await found
    return order if "refundableUntil" in order else None


async def test_a_refund_is_refused_with_the_reason(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    no_refunds = await listed(seller, refund_days=0)
    order_id, _ = await bought(buyer, no_refunds)
    assert "refundableUntil" not in await order_of(buyer, order_id)
    not_refundable = errors("This order cannot be refunded: its seller offers no refunds, "
                            "or it is not paid")
    assert await refund(buyer, order_id) == (400, not_refundable)

    unpaid = await reserved(buyer, {"ticketId": await listed(seller)})
    assert await refund(buyer, unpaid) == (400, not_refundable)
    assert (await refund(seller, unpaid))[0] == 401
    assert (await refund(app.test_client(), unpaid))[0] == 401
    assert (await refund(buyer, "01ARZ3NDEKTSV4RRFFQ69G5FAV"))[0] == 404

    late_id, _ = await bought(buyer, await listed(seller))
    await eventually(lambda: _with_window(order_of(buyer, late_id)), what="the window")
    await Order.filter(id=late_id).update(refundable_until=datetime.now(UTC)
                                          - timedelta(seconds=1))
    assert await refund(buyer, late_id) == (
        400, errors("The time to ask for a refund of this order is over"))


async def test_a_used_or_given_away_ticket_is_not_refunded_and_stays_valid(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    used_ticket = await listed(seller)
    used_order, token = await bought(buyer, used_ticket)
    assert (await seller.post("/api/checkins", json={"token": token})).status_code == 201
    assert (await refund(buyer, used_order))[0] == 202
    order = await refund_ended(buyer, used_order)
    assert (order["status"], order["refund"]) == ("complete", {
        "status": "refused", "at": None,
        "reason": "A ticket let in at the door cannot be refunded"})

    given_ticket = await listed(seller)
    given_order, token = await bought(buyer, given_ticket)
    response = await buyer.post(f"/api/tickets/{given_ticket}/transfer",
                                json={"email": "friend@test.com"})
    assert response.status_code == 200
    assert (await refund(buyer, given_order))[0] == 202
    order = await refund_ended(buyer, given_order)
    assert order["refund"]["reason"] == "A ticket given to someone else cannot be refunded"
    friend = await signed_up(app, "friend@test.com")
    friend_token = (await pass_of(friend, given_ticket))["token"]
    assert (await seller.post("/api/checkins", json={"token": friend_token})).status_code \
        == 201


async def test_an_event_orders_refund_frees_its_tickets_and_the_buyers_limit(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    response = await seller.post("/api/events", json={
        "title": "Gig", "price": 10, "quantity": 2, "perBuyerLimit": 2, "refundDays": 3})
    event = await response.get_json()
    assert event["refundDays"] == 3
    order_id = await reserved(buyer, {"eventId": event["id"], "quantity": 2})
    await paid(buyer, order_id)
    await eventually(lambda: _with_window(order_of(buyer, order_id)), what="the window")
    for ticket in (await order_of(buyer, order_id))["tickets"]:
        await pass_of(buyer, ticket["id"])
    assert (await refund(buyer, order_id))[0] == 202
    assert (await refund_ended(buyer, order_id))["refund"]["status"] == "refunded"

    again = await reserved(buyer, {"eventId": event["id"], "quantity": 2})
    assert len((await order_of(buyer, again))["tickets"]) == 2


async def test_an_events_refund_window_ends_when_it_starts(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    starts = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    soon, begun = [await (await seller.post("/api/events", json={
        "title": "Gig", "price": 10, "quantity": 1, "refundDays": 7,
        "startsAt": moment.isoformat()})).get_json()
        for moment in (starts, starts - timedelta(days=3))]
    page = await (await buyer.get(f"/events/{soon['id']}")).get_data(as_text=True)
    assert "Refundable up to 7 day(s) after paying, until it starts, while unused." in page

    order_id = await reserved(buyer, {"eventId": soon["id"], "quantity": 1})
    await paid(buyer, order_id)
    order = await eventually(lambda: _with_window(order_of(buyer, order_id)),
                             what="the window")
    assert order["refundableUntil"] == starts.isoformat().replace("+00:00", "Z")

    order_id = await reserved(buyer, {"eventId": begun["id"], "quantity": 1})
    await paid(buyer, order_id)
    order = await eventually(lambda: _complete(order_of(buyer, order_id)),
                             what="the order to be complete")
    assert "refundableUntil" not in order
    assert (await refund(buyer, order_id))[0] == 400


async def _complete(found: Any) -> dict[str, Any] | None:
    order: dict[str, Any] = await found
    return order if order["status"] == "complete" else None


async def test_refund_days_must_be_a_whole_number_of_days(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    for bad in (-1, 366, 1.5, "week", True):
        response = await seller.post("/api/tickets", json={"title": "T", "price": 5,
                                                           "refundDays": bad})
        assert (response.status_code, await response.get_json()) == (400, errors(
            "RefundDays must be a whole number from 0 to 365", "refundDays")), bad
    ticket = await (await seller.get(f"/api/tickets/{await listed(seller, None)}")).get_json()
    assert "refundDays" not in ticket


async def test_the_order_page_says_what_the_buyer_may_do_and_until_when(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id = await listed(seller, refund_days=2)
    order_id = await reserved(buyer, {"ticketId": ticket_id})
    page = await (await buyer.get(f"/orders/{order_id}")).get_data(as_text=True)
    assert 'id="cancel-until"' in page

    await paid(buyer, order_id)
    await eventually(lambda: _with_window(order_of(buyer, order_id)), what="the window")
    page = await (await buyer.get(f"/orders/{order_id}")).get_data(as_text=True)
    assert "You may ask for a refund until" in page
    response = await buyer.post(f"/orders/{order_id}/refund")
    assert (response.status_code, response.headers["Location"]) == (303, f"/orders/{order_id}")
    await refund_ended(buyer, order_id)
    page = await (await buyer.get(f"/orders/{order_id}")).get_data(as_text=True)
    assert "Refunded on" in page
    assert 'id="refund-form"' not in page
    response = await buyer.post(f"/orders/{order_id}/refund")
    assert response.status_code == 400
    assert "This order cannot be refunded" in await response.get_data(as_text=True)

    no_refunds = await listed(seller, refund_days=0)
    plain, _ = await bought(buyer, no_refunds)
    page = await (await buyer.get(f"/orders/{plain}")).get_data(as_text=True)
    assert "its seller offers no refunds" in page
    page = await (await buyer.get(f"/tickets/{no_refunds}")).get_data(as_text=True)
    assert "No refunds once paid." in page
    page = await (await buyer.get(f"/tickets/{ticket_id}")).get_data(as_text=True)
    assert "Refundable up to 2 day(s) after paying" in page


async def test_a_refunded_resale_purchase_takes_the_sellers_payout_back(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    first = await signed_up(app, "first@test.com")
    second = await signed_up(app, "second@test.com")
    ticket_id = await listed(seller, refund_days=7)
    await bought(first, ticket_id)
    response = await first.post(f"/api/tickets/{ticket_id}/resale", json={"price": 15})
    assert response.status_code == 201

    async def resale_bought() -> str | None:
        answer = await second.post("/api/orders", json={"ticketId": ticket_id})
        if answer.status_code == 400:
            return None  # orders has not freed the resale yet
        assert answer.status_code == 201, await answer.get_json()
        order_id: str = (await answer.get_json())["id"]
        return order_id

    order_id = await eventually(resale_bought, what="the resale to reach orders")
    await paid(second, order_id)
    await pass_of(second, ticket_id)
    await eventually(lambda: _with_window(order_of(second, order_id)), what="the window")
    assert (await refund(second, order_id))[0] == 202
    assert (await refund_ended(second, order_id))["refund"]["status"] == "refunded"

    async def taken_back() -> dict[str, Any] | None:
        body: dict[str, Any] = await (await first.get("/api/payouts")).get_json()
        return body if len(body["payouts"]) == 2 else None

    owed = await eventually(taken_back, what="the payout to be reversed")
    assert owed["total"] == 0
    assert sorted((p["cause"], p["amount"]) for p in owed["payouts"]) == [
        ("refunded", -15.0), ("resale", 15.0)]
    # Refunded, it is an ordinary ticket again: its earlier reseller may buy it too.
    await reserved(first, {"ticketId": ticket_id})

