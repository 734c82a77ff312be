"""The waitlist through the API and its page, on every backend: on a sold-out ticket or
event a signed-in user asks to be told; when a ticket comes back (a hold cancelled or
expired, a resale, a refund) the first in line gets it alone for a head start, then the
next, then everyone. Each offer is a ``waitlist:offered`` event for their live pages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.passes import bought, listed, paid, reserved
from tests.support.payments import errors, signed_up
from tests.support.waiting import eventually
from tests.support.waitlists import join, offered, place
from ticketing.modules.orders.api import Orders
from ticketing.modules.orders.models import TicketReplica, WaitlistEntry

HELD_FOR_WAITLIST = "This ticket is held a few minutes for someone on its waitlist"


async def test_a_freed_ticket_goes_first_to_the_first_in_line(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    first = await signed_up(app, "first@test.com")
    second = await signed_up(app, "second@test.com")
    ticket_id = await listed(seller)

    async def refused_while_free() -> tuple[int, Any] | None:
        answer = await join(first, ticket_id)
        return None if answer[0] == 404 else answer  # orders has not seen the ticket yet

    assert await eventually(refused_while_free, what="the ticket to reach orders") == (
        400, errors("Tickets are left: reserve one now"))
    order_id = await reserved(holder, {"ticketId": ticket_id})

    status, body = await join(first, ticket_id)
    assert status == 201, body
    assert (body["scopeId"], body["title"], body["position"], body["offer"]) == (
        ticket_id, "Concert", 1, None)
    assert (await join(second, ticket_id))[1]["position"] == 2
    assert (await join(first, ticket_id))[1]["position"] == 1  # joining again keeps it

    assert (await holder.delete(f"/api/orders/{order_id}")).status_code == 204
    offer = (await offered(first, ticket_id))["offer"]
    assert offer["ticketId"] == ticket_id
    until = datetime.fromisoformat(offer["until"].replace("Z", "+00:00"))
    assert timedelta(minutes=4) < until - datetime.now(UTC) <= timedelta(minutes=5)
    assert (await place(second, ticket_id))[1]["position"] == 1

    response = await second.post("/api/orders", json={"ticketId": ticket_id})
    assert (response.status_code, await response.get_json()) == (
        400, errors(HELD_FOR_WAITLIST))
    await paid(first, await reserved(first, {"ticketId": ticket_id}))
    assert (await place(first, ticket_id))[0] == 404  # off the list once served


async def test_an_offer_not_taken_passes_to_the_next_then_to_everyone(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    first = await signed_up(app, "first@test.com")
    second = await signed_up(app, "second@test.com")
    anyone = await signed_up(app, "anyone@test.com")
    response = await seller.post("/api/events", json={"title": "Gig", "price": 10,
                                                      "quantity": 1})
    event_id = (await response.get_json())["id"]
    order_id = await reserved(holder, {"eventId": event_id, "quantity": 1})
    assert (await join(first, event_id))[0] == 201
    assert (await join(second, event_id))[0] == 201
    assert (await holder.delete(f"/api/orders/{order_id}")).status_code == 204
    await offered(first, event_id)

    orders: Orders = app.extensions["ticketing"].facades["orders"]
    await _end_offers()
    await orders.advance_queues()
    assert (await place(first, event_id))[0] == 404  # told, and passed over
    await offered(second, event_id)
    response = await anyone.post("/api/orders", json={"eventId": event_id, "quantity": 1})
    assert response.status_code == 400

    assert (await second.delete(f"/api/waitlist/{event_id}")).status_code == 204
    await reserved(anyone, {"eventId": event_id, "quantity": 1})  # nobody left waiting


async def first_offer_ended(app: Quart) -> tuple[str, Client, Client]:
    """A ticket came back with two waiting; the first's head start ended unclaimed (the
    rounds have not passed it on yet). The ticket, the first and the second in line."""
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    first = await signed_up(app, "first@test.com")
    second = await signed_up(app, "second@test.com")
    ticket_id = await listed(seller)
    order_id = await reserved(holder, {"ticketId": ticket_id})
    for client in (first, second):
        assert (await join(client, ticket_id))[0] == 201
    assert (await holder.delete(f"/api/orders/{order_id}")).status_code == 204
    await offered(first, ticket_id)
    await _end_offers()
    return ticket_id, first, second


async def test_a_ended_offer_of_a_ticket_taken_since_offers_nothing(app: Quart) -> None:
    ticket_id, _, second = await first_offer_ended(app)
    anyone = await signed_up(app, "anyone@test.com")
    await reserved(anyone, {"ticketId": ticket_id})  # free to everyone once it ended

    orders: Orders = app.extensions["ticketing"].facades["orders"]
    await orders.advance_queues()
    status, body = await place(second, ticket_id)
    assert (status, body["position"], body["offer"]) == (200, 1, None)  # still waiting


async def test_reserving_a_ticket_nobody_offered_them_takes_a_waiter_off_the_list(
    app: Quart,
) -> None:
    """The first's head start ended and the ticket shows to everyone: the second in line
    reserves it before the rounds would offer it to them, and is served."""
    ticket_id, first, second = await first_offer_ended(app)

    second_order = await reserved(second, {"ticketId": ticket_id})
    assert (await place(second, ticket_id))[0] == 404
    assert (await second.delete(f"/api/orders/{second_order}")).status_code == 204
    orders: Orders = app.extensions["ticketing"].facades["orders"]
    await orders.advance_queues()
    assert not await WaitlistEntry.filter(user_id__in=[
        await user_id(first), await user_id(second)]).exists()  # nobody left to offer it


async def user_id(client: Client) -> str:
    body = await (await client.get("/api/users/currentuser")).get_json()
    return str(body["currentUser"]["id"])


async def _end_offers() -> None:
    """Every offer's head start is over (the rounds compare it with the clock)."""
    past = int((datetime.now(UTC) - timedelta(seconds=1)).timestamp())
    await WaitlistEntry.filter(offer_ends__not_isnull=True).update(offer_ends=past)
    await TicketReplica.filter(offer_ends__not_isnull=True).update(offer_ends=past)


async def test_a_resale_is_offered_to_the_waitlist_first(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    waiting = await signed_up(app, "waiting@test.com")
    ticket_id, _ = await bought(app, holder, seller)
    assert (await join(waiting, ticket_id))[0] == 201
    response = await holder.post(f"/api/tickets/{ticket_id}/resale", json={"price": 15})
    assert response.status_code == 201
    assert (await offered(waiting, ticket_id))["offer"]["ticketId"] == ticket_id


async def test_a_resale_is_never_offered_to_its_own_seller(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    waiting = await signed_up(app, "waiting@test.com")
    ticket_id, _ = await bought(app, holder, seller)
    assert (await join(holder, ticket_id))[0] == 201  # first in line, for their own ticket
    assert (await join(waiting, ticket_id))[0] == 201
    response = await holder.post(f"/api/tickets/{ticket_id}/resale", json={"price": 15})
    assert response.status_code == 201
    assert (await offered(waiting, ticket_id))["offer"]["ticketId"] == ticket_id
    assert (await place(holder, ticket_id))[1]["offer"] is None


async def test_the_waitlist_answers_clearly(app: Quart) -> None:
    user = await signed_up(app, "user@test.com")
    assert (await join(user, "01ARZ3NDEKTSV4RRFFQ69G5FAV"))[0] == 404
    assert (await join(user, "not-an-id"))[0] == 404
    assert (await join(app.test_client(), "01ARZ3NDEKTSV4RRFFQ69G5FAV"))[0] == 401
    assert (await place(user, "01ARZ3NDEKTSV4RRFFQ69G5FAV")) == (
        404, errors("You are not on this waitlist"))
    response = await user.delete("/api/waitlist/01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert response.status_code == 404


async def test_the_waitlist_page_joins_and_shows_the_offer(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    holder = await signed_up(app, "holder@test.com")
    waiting = await signed_up(app, "waiting@test.com")
    ticket_id = await listed(seller)
    order_id = await reserved(holder, {"ticketId": ticket_id})
    page = await (await waiting.get(f"/waitlist/{ticket_id}")).get_data(as_text=True)
    assert 'id="join-waitlist"' in page
    response = await waiting.post(f"/waitlist/{ticket_id}")
    assert (response.status_code, response.headers["Location"]) == (
        303, f"/waitlist/{ticket_id}")
    page = await (await waiting.get(f"/waitlist/{ticket_id}")).get_data(as_text=True)
    assert "You are number 1 in line" in page
    assert (await holder.delete(f"/api/orders/{order_id}")).status_code == 204
    await offered(waiting, ticket_id)
    page = await (await waiting.get(f"/waitlist/{ticket_id}")).get_data(as_text=True)
    assert 'id="offer"' in page
    assert f'name="ticketId" value="{ticket_id}"' in page
    ticket_page = await (await holder.get(f"/tickets/{ticket_id}")).get_data(as_text=True)
    assert f'href="/waitlist/{ticket_id}"' not in ticket_page  # free again: no need
