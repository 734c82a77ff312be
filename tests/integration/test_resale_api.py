"""Resale at face value through the API, on every backend: a pass's holder puts the ticket
back on sale at no more than they paid, someone else buys it through the normal flow, the
pass moves to them, and the seller's payout is recorded. Every step crosses modules by
events (tickets -> orders frees it; tickets -> payments records the payout), so the tests
wait for each.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.apps import assert_error_shape
from tests.support.passes import bought, listed, paid, pass_of, reserved
from tests.support.payments import errors, signed_up
from tests.support.resales import check_in, resell, resold_to
from tests.support.waiting import eventually

ON_RESALE = "This ticket is on resale: its pass admits nobody until it sells"
REPLACED = "This pass is no longer valid: the ticket was transferred, resold or refunded"


async def payouts(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get("/api/payouts")).get_json()
    return body


async def test_a_resale_sells_through_the_normal_flow_and_records_the_payout(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    first = await signed_up(app, "first@test.com")
    second = await signed_up(app, "second@test.com")
    ticket_id, first_token = await bought(app, first, seller)  # listed at 20

    status, body = await resell(first, ticket_id, "15.50")
    assert status == 201, body
    assert (body["ticketId"], body["price"], body["state"]) == (ticket_id, 15.5, "for_sale")
    assert body["listedAt"].endswith("Z")
    ticket = await (await second.get(f"/api/tickets/{ticket_id}")).get_json()
    assert (ticket["price"], ticket.get("orderId")) == (15.5, None)
    assert await check_in(seller, first_token) == (400, errors(ON_RESALE))

    order_id = await resold_to(second, ticket_id)
    order = await (await second.get(f"/api/orders/{order_id}")).get_json()
    assert order["ticket"]["price"] == 15.5
    new_token = (await pass_of(second, ticket_id))["token"]
    assert new_token.startswith(f"T1.{ticket_id}.2.")
    assert (await first.get(f"/api/tickets/{ticket_id}/pass")).status_code == 401
    assert await check_in(seller, first_token) == (400, errors(REPLACED))

    owed = await eventually(lambda: _nonempty(payouts(first)), what="the payout")
    assert owed["total"] == 15.5
    [entry] = owed["payouts"]
    assert (entry["ticketId"], entry["orderId"], entry["amount"], entry["cause"]) == (
        ticket_id, order_id, 15.5, "resale")
    assert (await payouts(second))["payouts"] == []
    assert (await app.test_client().get("/api/payouts")).status_code == 401

    mine = (await (await first.get("/api/selling?state=resold")).get_json())["listings"]
    assert [(row["id"], row["kind"], row["state"], row["revenue"]) for row in mine] == [
        (ticket_id, "resale", "resold", 15.5)]
    theirs = (await (await seller.get("/api/selling")).get_json())["listings"]
    assert [(row["state"], row["sold"], row["price"]) for row in theirs] == [("sold", 1, 20.0)]
    assert (await check_in(seller, new_token))[0] == 201


async def _nonempty(found: Any) -> dict[str, Any] | None:
    body: dict[str, Any] = await found
    return body if body["payouts"] else None


async def test_a_resale_is_refused_with_the_reason(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)

    assert await resell(buyer, ticket_id, 20.01) == (
        400, errors("A resale cannot cost more than you paid (20.00)", "price"))
    for bad in (0, -1, "lots", None, 1.234, True):
        status, body = await resell(buyer, ticket_id, bad)
        assert status == 400, bad
        assert_error_shape(body)
        assert body["errors"][0]["field"] == "price"
    assert (await resell(seller, ticket_id, 10))[0] == 401
    assert (await resell(app.test_client(), ticket_id, 10))[0] == 401
    assert (await resell(buyer, "01ARZ3NDEKTSV4RRFFQ69G5FAV", 10))[0] == 404
    unpaid = await listed(seller, "Unpaid")
    assert (await resell(seller, unpaid, 10))[0] == 404

    assert (await check_in(seller, token))[0] == 201
    assert await resell(buyer, ticket_id, 10) == (
        400, errors("A ticket let in at the door cannot be resold"))


async def test_a_ticket_on_resale_admits_nobody_and_moves_only_by_selling(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)
    assert (await resell(buyer, ticket_id, 20))[0] == 201  # at face value: allowed

    assert await resell(buyer, ticket_id, 10) == (400, errors("This ticket is on resale already"))
    response = await buyer.post(f"/api/tickets/{ticket_id}/transfer",
                                json={"email": "friend@test.com"})
    assert (response.status_code, await response.get_json()) == (400, errors(ON_RESALE))
    door = await (await seller.get(f"/api/doors/{ticket_id}")).get_json()
    assert door["passes"] == []
    response = await seller.put(f"/api/tickets/{ticket_id}", json={"title": "Mine again",
                                                                   "price": 99})
    assert (response.status_code, await response.get_json()) == (400, errors(
        "This ticket was sold; only its holder can put it back on sale"))
    assert await check_in(seller, token) == (400, errors(ON_RESALE))
    page = await (await buyer.get(f"/tickets/{ticket_id}/pass")).get_data(as_text=True)
    assert 'id="on-resale"' in page
    assert 'id="pass-qr"' not in page
    assert 'id="pass-token"' not in page


async def test_a_resale_cannot_be_bought_by_its_own_seller(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, _ = await bought(app, buyer, seller)
    assert (await resell(buyer, ticket_id, 12))[0] == 201

    async def refused_as_own() -> bool:
        answer = await buyer.post("/api/orders", json={"ticketId": ticket_id})
        body = await answer.get_json()
        assert answer.status_code == 400, body
        return body == errors("You cannot buy back the ticket you put on resale")

    await eventually(refused_as_own, what="orders to free the resale")
    other = await signed_up(app, "other@test.com")
    await resold_to(other, ticket_id)


async def test_an_event_units_resale_frees_the_sellers_limit_but_not_for_their_own(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    response = await seller.post("/api/events", json={"title": "Gig", "price": 10,
                                                      "quantity": 3, "perBuyerLimit": 2})
    event_id = (await response.get_json())["id"]
    order_id = await reserved(buyer, {"eventId": event_id, "quantity": 2})
    await paid(buyer, order_id)
    order = await (await buyer.get(f"/api/orders/{order_id}")).get_json()
    first_unit = sorted(t["id"] for t in order["tickets"])[0]
    await pass_of(buyer, first_unit)
    assert (await resell(buyer, first_unit, 8))[0] == 201

    async def another() -> dict[str, Any] | None:
        answer = await buyer.post("/api/orders", json={"eventId": event_id, "quantity": 1})
        body: dict[str, Any] = await answer.get_json()
        if answer.status_code == 400 and body == errors("Ticket limit reached"):
            return None  # the resale has not reached orders yet
        assert answer.status_code == 201, body
        return body

    # Back to one held, the buyer may take one more, and it is not their own resale.
    again = await eventually(another, what="orders to free the resale")
    assert [t["id"] for t in again["tickets"]] != [first_unit]

    async def remaining() -> bool:
        event = await (await seller.get(f"/api/events/{event_id}")).get_json()
        return bool(event["remaining"] == 1)  # the resale, not yet bought

    await eventually(remaining, what="tickets to hold the third unit")
    listings = (await (await seller.get("/api/selling")).get_json())["listings"]
    [gig] = [row for row in listings if row["id"] == event_id]
    assert (gig["sold"], gig["reserved"], gig["forSale"]) == (2, 1, 0)


async def test_a_resale_racing_a_check_in_lets_only_one_through(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)

    (listed_status, _), (admitted, _) = await asyncio.gather(
        resell(buyer, ticket_id, 10), check_in(seller, token))
    assert sorted((listed_status, admitted)) in ([201, 400], [201, 409], [400, 409])
    ticket = await (await seller.get(f"/api/tickets/{ticket_id}")).get_json()
    door = await (await seller.get(f"/api/doors/{ticket_id}")).get_json()
    on_sale = ticket.get("orderId") is None
    assert on_sale == (listed_status == 201)
    assert on_sale != any(p["checkedInAt"] for p in door["passes"])


async def test_the_new_holder_may_resell_again_at_no_more_than_they_paid(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    first = await signed_up(app, "first@test.com")
    second = await signed_up(app, "second@test.com")
    third = await signed_up(app, "third@test.com")
    ticket_id, _ = await bought(app, first, seller)
    assert (await resell(first, ticket_id, 15))[0] == 201
    await resold_to(second, ticket_id)
    await pass_of(second, ticket_id)

    assert await resell(second, ticket_id, 16) == (
        400, errors("A resale cannot cost more than you paid (15.00)", "price"))
    assert (await resell(second, ticket_id, 15))[0] == 201
    await resold_to(first, ticket_id)  # the first seller may buy it back from another
    assert (await pass_of(first, ticket_id))["token"].startswith(f"T1.{ticket_id}.3.")
    await resold_to_nobody_else(third, ticket_id)
    owed = await eventually(lambda: _nonempty(payouts(second)), what="the second payout")
    assert owed["total"] == 15.0


async def resold_to_nobody_else(client: Client, ticket_id: str) -> None:
    """Sold: nobody else can reserve it."""
    answer = await client.post("/api/orders", json={"ticketId": ticket_id})
    assert (answer.status_code, await answer.get_json()) == (
        400, errors("Ticket is already reserved"))


async def test_the_pass_page_resells_and_the_payouts_page_shows_what_sold(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    other = await signed_up(app, "other@test.com")
    ticket_id, _ = await bought(app, buyer, seller)
    page = await (await buyer.get(f"/tickets/{ticket_id}/pass")).get_data(as_text=True)
    assert 'id="resale-form"' in page
    assert 'max="20.00"' in page

    response = await buyer.post(f"/tickets/{ticket_id}/resale", form={"price": "25"})
    assert response.status_code == 400
    page = await response.get_data(as_text=True)
    assert "A resale cannot cost more than you paid (20.00)" in page
    assert 'id="pass-qr"' in page  # still theirs, still valid

    response = await buyer.post(f"/tickets/{ticket_id}/resale", form={"price": "18"})
    assert (response.status_code, response.headers["Location"]) == (
        303, f"/tickets/{ticket_id}/pass")
    page = await (await buyer.get(f"/tickets/{ticket_id}/pass")).get_data(as_text=True)
    assert "On resale at $18.00" in page
    assert 'id="resale-form"' not in page
    assert (await other.post(f"/tickets/{ticket_id}/resale", form={"price": "1"})
            ).status_code == 401

    await resold_to(other, ticket_id)
    await eventually(lambda: _nonempty(payouts(buyer)), what="the payout")
    page = await (await buyer.get("/payouts")).get_data(as_text=True)
    assert f'data-ticket-id="{ticket_id}"' in page
    assert "total $18.00" in page
    selling = await (await buyer.get("/selling?state=resold")).get_data(as_text=True)
    assert f'data-id="{ticket_id}"' in selling
    assert "Resold" in selling
    assert (await app.test_client().get("/payouts")).status_code == 302
