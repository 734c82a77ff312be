"""E-ticket passes and the door through the API, on every backend: a pass for each paid
ticket, its signed token, door staff, the door list, and check-in exactly once.

Tickets are bought the real way (list, reserve, pay with the offline provider); the pass
is issued when ``order:completed`` reaches tickets, so the tests wait for it.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.apps import assert_error_shape
from tests.support.passes import bought, listed, paid, pass_of, reserved
from tests.support.payments import errors, signed_up
from ticketing.bus.contracts import Envelope, OrderCompleted, OrderCreated, TicketRef
from ticketing.ids import new_id
from ticketing.modules.tickets.passes import PassSigner
from ticketing.settings import Settings


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def check_in(client: Client, token: str, **extra: Any) -> tuple[int, Any]:
    response = await client.post("/api/checkins", json={"token": token} | extra)
    return response.status_code, await response.get_json()


async def test_a_paid_ticket_has_a_pass_that_verifies_with_the_public_key(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)

    key = await (await app.test_client().get("/api/passes/key")).get_json()
    assert key["algorithm"] == "Ed25519"
    assert key["keyId"]
    prefix, claimed_id, version, signature = token.split(".")
    assert (prefix, claimed_id, version) == ("T1", ticket_id, "1")
    Ed25519PublicKey.from_public_bytes(_decode(key["publicKey"])).verify(
        _decode(signature), f"T1.{ticket_id}.1".encode())  # raises if it does not verify
    assert await (await buyer.get(f"/api/tickets/{ticket_id}/pass")).get_json() == {
        "ticketId": ticket_id, "token": token}


async def test_only_the_owner_of_a_paid_ticket_gets_its_pass(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    unpaid = await listed(seller, "Unpaid")
    await reserved(buyer, {"ticketId": unpaid})
    assert (await buyer.get(f"/api/tickets/{unpaid}/pass")).status_code == 404
    assert (await buyer.get("/api/tickets/not-an-id/pass")).status_code == 404

    ticket_id, _ = await bought(app, buyer, seller)
    for other in (seller, app.test_client()):
        response = await other.get(f"/api/tickets/{ticket_id}/pass")
        assert response.status_code == 401
        assert await response.get_json() == errors("Not authorized")


async def test_a_pass_checks_in_once_and_a_second_scan_says_when_and_by_whom(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)

    status, body = await check_in(seller, token)
    assert status == 201, body
    assert (body["ticketId"], body["checkedInBy"]) == (ticket_id, "seller@test.com")
    at = datetime.fromisoformat(body["checkedInAt"].replace("Z", "+00:00"))

    status, body = await check_in(seller, token)
    assert status == 409
    assert body == errors(f"Already checked in at {at:%H:%M} UTC by seller@test.com")


async def test_two_doors_scanning_one_pass_at_once_let_it_in_once(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    _, token = await bought(app, buyer, seller)
    second_door = app.test_client()
    await second_door.post("/api/users/signin", json={"email": "seller@test.com",
                                                      "password": "secret"})
    outcomes = await asyncio.gather(*(check_in(door, token)
                                      for door in (seller, second_door) * 3))
    assert sorted(status for status, _ in outcomes) == [201, 409, 409, 409, 409, 409]


async def test_forged_unreadable_and_replaced_passes_are_refused_with_the_reason(
    app: Quart, settings: Settings,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)
    head, signature = token.rsplit(".", 1)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    other_key = PassSigner(base64.urlsafe_b64encode(b"\x07" * 32).decode().rstrip("="))
    own_key = PassSigner(settings.with_checked_secrets().pass_key)
    cases = {
        f"{head}.{flipped}": "This pass is not genuine: its signature does not match",
        other_key.token(ticket_id, 1): "This pass is not genuine: its signature does not match",
        own_key.token(ticket_id, 2): "This pass is no longer valid: the ticket was "
                                     "transferred, resold or refunded",
        "hello": "This is not a ticket pass code",
        f"{head}.!!": "This is not a ticket pass code",
        "T1.01ARZ3NDEKTSV4RRFFQ69G5FAV.x.abc": "This is not a ticket pass code",
    }
    for bad, message in cases.items():
        status, body = await check_in(seller, bad)
        assert (status, body) == (400, errors(message)), bad
    status, body = await check_in(seller, "")
    assert (status, body) == (400, errors("Token must be the code of a pass", "token"))
    assert (await check_in(seller, token))[0] == 201  # none of that let it in


async def test_only_the_seller_and_named_door_staff_check_passes_in(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    staff = await signed_up(app, "Door@Test.com")
    ticket_id, token = await bought(app, buyer, seller)

    for outsider in (buyer, staff, app.test_client()):
        status, body = await check_in(outsider, token)
        assert (status, body) == (401, errors("Not authorized"))
    assert (await buyer.get(f"/api/doors/{ticket_id}")).status_code == 401
    response = await buyer.post(f"/api/doors/{ticket_id}/staff", json={"email": "x@test.com"})
    assert response.status_code == 401

    response = await seller.post(f"/api/doors/{ticket_id}/staff", json={"email": "door@test.com"})
    assert response.status_code == 201
    assert await response.get_json() == {"staff": ["door@test.com"]}
    response = await seller.post(f"/api/doors/{ticket_id}/staff", json={"email": "nope"})
    assert response.status_code == 400
    assert_error_shape(await response.get_json())

    status, body = await check_in(staff, token)
    assert (status, body["checkedInBy"]) == (201, "door@test.com")
    doors = await (await staff.get("/doors")).get_data(as_text=True)
    assert f'href="/tickets/{ticket_id}/checkin"' in doors
    assert f'data-scope-id="{ticket_id}"' not in await (await buyer.get("/doors")).get_data(
        as_text=True)

    response = await seller.delete(f"/api/doors/{ticket_id}/staff/door@test.com")
    assert await response.get_json() == {"staff": []}
    assert (await staff.get(f"/api/doors/{ticket_id}")).status_code == 401


async def test_an_event_door_lists_its_passes_and_counts_check_ins(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    response = await seller.post("/api/events", json={"title": "Gig", "price": 10,
                                                      "quantity": 5})
    event_id = (await response.get_json())["id"]
    order_id = await reserved(buyer, {"eventId": event_id, "quantity": 2})
    await paid(buyer, order_id)
    order = await (await buyer.get(f"/api/orders/{order_id}")).get_json()
    ticket_ids = sorted(t["id"] for t in order["tickets"])
    tokens = [(await pass_of(buyer, t))["token"] for t in ticket_ids]

    scanned = datetime.now(UTC) - timedelta(minutes=5)
    status, body = await check_in(seller, tokens[0], scannedAt=scanned.isoformat())
    assert status == 201
    assert body["checkedInAt"].startswith(scanned.strftime("%Y-%m-%dT%H:%M"))

    door = await (await seller.get(f"/api/doors/{event_id}")).get_json()
    assert (door["scopeId"], door["title"], door["kind"]) == (event_id, "Gig", "event")
    assert (door["issued"], door["checkedIn"]) == (2, 1)
    assert [(p["ticketId"], p["version"], p["checkedInBy"]) for p in door["passes"]] == [
        (ticket_ids[0], 1, "seller@test.com"), (ticket_ids[1], 1, None)]
    assert (await seller.get("/api/doors/01ARZ3NDEKTSV4RRFFQ69G5FAV")).status_code == 404


async def test_a_scan_time_in_the_future_or_over_a_day_old_is_the_servers(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    before = datetime.now(UTC)
    for scanned in (before + timedelta(hours=2), before - timedelta(days=3)):
        _, token = await bought(app, buyer, seller)
        status, body = await check_in(seller, token, scannedAt=scanned.isoformat())
        assert status == 201
        at = datetime.fromisoformat(body["checkedInAt"].replace("Z", "+00:00"))
        assert before <= at <= datetime.now(UTC)
    status, body = await check_in(seller, token, scannedAt="yesterday")
    assert (status, body) == (400, errors("ScannedAt must be an ISO 8601 time", "scannedAt"))


async def transfer(client: Client, ticket_id: str, email: str) -> tuple[int, Any]:
    response = await client.post(f"/api/tickets/{ticket_id}/transfer", json={"email": email})
    return response.status_code, await response.get_json()


async def test_a_transfer_moves_the_pass_and_the_old_one_dies(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, old_token = await bought(app, buyer, seller)

    status, body = await transfer(buyer, ticket_id, "Friend@Test.com")
    assert status == 200, body
    assert (body["ticketId"], body["email"], body["version"]) == (
        ticket_id, "friend@test.com", 2)
    assert (await buyer.get(f"/api/tickets/{ticket_id}/pass")).status_code == 401
    assert await check_in(seller, old_token) == (400, errors(
        "This pass is no longer valid: the ticket was transferred, resold or refunded"))

    friend = await signed_up(app, "friend@test.com")  # no account until now
    new_token = (await pass_of(friend, ticket_id))["token"]
    assert new_token.startswith(f"T1.{ticket_id}.2.")
    page = await (await friend.get("/passes")).get_data(as_text=True)
    assert f'data-ticket-id="{ticket_id}"' in page
    given = await (await buyer.get("/passes")).get_data(as_text=True)
    assert "friend@test.com" in given

    # The recipient may pass it on; the door then takes only the newest.
    assert (await transfer(friend, ticket_id, "third@test.com"))[0] == 200
    third = await signed_up(app, "third@test.com")
    status, body = await check_in(seller, (await pass_of(third, ticket_id))["token"])
    assert status == 201, body


async def test_a_transfer_is_refused_with_the_reason(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)

    assert await transfer(buyer, ticket_id, "BUYER@test.com") == (
        400, errors("You cannot transfer a ticket to yourself", "email"))
    assert await transfer(buyer, ticket_id, "not-an-email") == (
        400, errors("Email must be valid", "email"))
    assert (await transfer(seller, ticket_id, "x@test.com"))[0] == 401
    assert (await transfer(buyer, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "x@test.com"))[0] == 404
    assert (await transfer(app.test_client(), ticket_id, "x@test.com"))[0] == 401
    assert (await check_in(seller, token))[0] == 201
    assert await transfer(buyer, ticket_id, "x@test.com") == (
        400, errors("A ticket let in at the door cannot be transferred"))


async def test_a_transfer_racing_a_check_in_lets_only_one_through(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)

    (moved, _), (admitted, _) = await asyncio.gather(
        transfer(buyer, ticket_id, "friend@test.com"), check_in(seller, token))
    assert sorted((moved, admitted)) in ([200, 400], [201, 400], [201, 409])
    door = await (await seller.get(f"/api/doors/{ticket_id}")).get_json()
    [only] = door["passes"]
    assert (only["version"] == 2) != (only["checkedInAt"] is not None)


async def test_a_door_refuses_a_pass_for_another_of_the_sellers_doors(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    ticket_id, token = await bought(app, buyer, seller)
    other_door = await listed(seller, "Another night")

    assert await check_in(seller, token, scopeId=other_door) == (
        400, errors("This pass is for another door"))
    status, body = await check_in(seller, token, scopeId=ticket_id)
    assert (status, body["ticketId"]) == (201, ticket_id)


async def test_taking_staff_off_checks_the_email_and_that_they_were_on(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    ticket_id = await listed(seller)
    for _ in range(2):  # naming someone twice changes nothing
        response = await seller.post(f"/api/doors/{ticket_id}/staff",
                                     json={"email": "door@test.com"})
        assert await response.get_json() == {"staff": ["door@test.com"]}
    response = await seller.delete(f"/api/doors/{ticket_id}/staff/nobody@test.com")
    assert (response.status_code, await response.get_json()) == (
        404, errors("Not on this door's staff"))
    response = await seller.delete(f"/api/doors/{ticket_id}/staff/x%00y")
    assert (response.status_code, await response.get_json()) == (
        400, errors("Email must be valid", "email"))
    response = await seller.delete(f"/api/doors/{ticket_id}/staff/Door@Test.com")
    assert await response.get_json() == {"staff": []}


async def test_a_scan_time_beyond_the_calendar_is_a_clear_400(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    for moment in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        status, body = await check_in(seller, "T1.x", scannedAt=moment)
        assert (status, body) == (400, errors("ScannedAt must be an ISO 8601 time",
                                              "scannedAt"))


async def test_a_completion_without_its_buyer_issues_the_pass_to_the_orders_creator(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    buyer_id = (await (await buyer.get("/api/users/currentuser")).get_json())["currentUser"]["id"]
    ticket_id = await listed(seller)
    consumer = app.extensions["ticketing"].bus.modules["tickets"].consumer
    order_id, ref = new_id(), TicketRef(id=ticket_id, price=Decimal("20.00"))
    for event in (
        OrderCreated(id=order_id, version=0, status="created", user_id=buyer_id,
                     expires_at=datetime.now(UTC) + timedelta(minutes=15), ticket=ref,
                     tickets=(ref,)),
        OrderCompleted(id=order_id, version=1, ticket=ref, tickets=(ref,)),  # an older orders
    ):
        await consumer.handle(Envelope.wrap(event, "orders"))
    assert (await pass_of(buyer, ticket_id))["token"].startswith(f"T1.{ticket_id}.1.")
