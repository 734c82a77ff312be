"""The ticket and order pages through the test client: rendering, forms, redirects, owners."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.settings import Settings

SOME_ID = "01jd0z5c8y9x7w6v5t4s3r2q1p"
WAIT_SECONDS = 5.0


def shown_status(page: str) -> str:
    """The order status the order page shows."""
    found = re.search(r'<dd [^>]*id="status"[^>]*>([^<]*)</dd>', page)
    assert found is not None, page
    return found[1]


async def settled(app: Quart) -> None:
    """Wait until every outbox is relayed (twice in a row, so nothing was in flight).

    Stopping the app while an event is being delivered can cancel a consumer inside
    ``BEGIN`` and leak its pooled PostgreSQL connection, which hangs the shutdown.
    """
    bus = app.extensions["ticketing"].bus
    quiet = 0

    async def quiet_twice() -> bool:
        nonlocal quiet
        status = await bus.status()
        idle = all(outbox["backlog"] == 0 for outbox in status["outbox"].values())
        quiet = quiet + 1 if idle else 0
        return quiet >= 2

    await eventually(quiet_twice, "the bus settles")


@pytest.fixture
async def app(app: Quart) -> AsyncIterator[Quart]:
    """The shared app fixture, settled before it stops."""
    yield app
    await settled(app)


async def signed_in(app: Quart, email: str) -> TestClientProtocol:
    """A client of its own (its own cookie jar) with ``email`` signed up and signed in."""
    client = app.test_client()
    response = await client.post("/api/users/signup",
                                 json={"email": email, "password": "password"})
    assert response.status_code == 201, await response.get_json()
    return client


async def text(response: object) -> str:
    body: str = await response.get_data(as_text=True)  # type: ignore[attr-defined]
    return body


def location(response: object) -> str:
    found: str = response.headers["Location"]  # type: ignore[attr-defined]
    return found


async def sell(client: TestClientProtocol, title: str = "Concert", price: str = "20") -> str:
    """List a ticket through the sell form; returns its id."""
    response = await client.post("/tickets/new", form={"title": title, "price": price})
    assert response.status_code == 303, await text(response)
    match = re.fullmatch(r"/tickets/(\w+)", location(response))
    assert match is not None
    return match.group(1)


async def purchase(client: TestClientProtocol, ticket_id: str) -> object:
    """Press Purchase, waiting out the moment before orders has heard of the ticket."""
    responses: list[object] = []

    async def attempt() -> bool:
        response = await client.post("/orders", form={"ticketId": ticket_id})
        responses.append(response)
        return "purchase=ticket_not_yet" not in location(response)

    await eventually(attempt, f"ticket {ticket_id} orderable")
    return responses[-1]


async def buy(client: TestClientProtocol, ticket_id: str) -> str:
    """Purchase and follow to the order page; returns the order's id."""
    response = await purchase(client, ticket_id)
    assert response.status_code == 303, await text(response)  # type: ignore[attr-defined]
    match = re.fullmatch(r"/orders/(\w+)", location(response))
    assert match is not None
    return match.group(1)


async def landing_lists(client: TestClientProtocol, ticket_id: str) -> bool:
    return f'href="/tickets/{ticket_id}"' in await text(await client.get("/"))


@pytest.fixture
async def seller(app: Quart) -> TestClientProtocol:
    return await signed_in(app, "seller@test.com")


@pytest.fixture
async def buyer(app: Quart) -> TestClientProtocol:
    return await signed_in(app, "buyer@test.com")


# --- landing -------------------------------------------------------------------------------

async def test_landing_page_says_when_nothing_is_for_sale(client: TestClientProtocol) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "No tickets for sale right now." in await text(response)


async def test_landing_page_lists_tickets_for_sale_with_title_price_and_link(
    seller: TestClientProtocol, client: TestClientProtocol,
) -> None:
    concert = await sell(seller, "Concert <live>", "1234.5")
    opera = await sell(seller, "Opera", "20")
    page = await text(await client.get("/"))
    assert "Concert &lt;live&gt;" in page
    assert "$1,234.50" in page
    assert "$20.00" in page
    assert f'href="/tickets/{concert}"' in page
    # newest first
    assert page.index(f"/tickets/{opera}") < page.index(f"/tickets/{concert}")


async def test_landing_page_renders_without_the_tickets_module(settings: Settings) -> None:
    app = create_app(replace(settings, modules=("auth",)))
    async with app.test_app():
        response = await app.test_client().get("/")
        assert response.status_code == 200
        assert "Tickets are not sold on this server." in await text(response)
        assert (await app.test_client().get("/tickets/new")).status_code == 404


async def test_landing_page_refuses_a_malformed_cursor(client: TestClientProtocol) -> None:
    response = await client.get("/?before=nonsense")
    assert response.status_code == 400
    assert "Before must be a ticket id" in await text(response)


# --- signed-out visitors -------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "back_to"), [
    ("GET", "/tickets/new", "/tickets/new"),
    ("POST", "/tickets/new", "/tickets/new"),
    ("GET", f"/tickets/{SOME_ID}/edit", f"/tickets/{SOME_ID}/edit"),
    ("GET", "/orders", "/orders"),
    ("GET", f"/orders/{SOME_ID}", f"/orders/{SOME_ID}"),
    ("POST", f"/orders/{SOME_ID}/cancel", f"/orders/{SOME_ID}"),
])
async def test_signed_out_visits_go_to_sign_in_and_name_the_way_back(
    client: TestClientProtocol, method: str, path: str, back_to: str,
) -> None:
    response = await client.open(path, method=method)
    assert response.status_code == 302
    target = urlsplit(location(response))
    assert target.path == "/auth/signin"
    assert parse_qs(target.query) == {"next": [back_to]}


async def test_a_signed_out_purchase_signs_in_and_comes_back_to_the_ticket(
    client: TestClientProtocol,
) -> None:
    response = await client.post("/orders", form={"ticketId": SOME_ID})
    target = urlsplit(location(response))
    assert target.path == "/auth/signin"
    assert parse_qs(target.query) == {"next": [f"/tickets/{SOME_ID}"]}


async def test_signing_in_from_the_redirect_comes_back_to_the_page(app: Quart) -> None:
    await signed_in(app, "returning@test.com")
    client = app.test_client()
    sign_in_page = await text(await client.get(location(await client.get("/orders"))))
    assert 'name="next" value="/orders"' in sign_in_page
    response = await client.post("/auth/signin", form={
        "email": "returning@test.com", "password": "password", "next": "/orders"})
    assert location(response) == "/orders"
    assert (await client.get("/orders")).status_code == 200


async def test_a_ticket_page_is_public(seller: TestClientProtocol,
                                       client: TestClientProtocol) -> None:
    ticket = await sell(seller, "Concert", "20")
    page = await text(await client.get(f"/tickets/{ticket}"))
    assert "<h1>Concert</h1>" in page
    assert "$20.00" in page
    assert ">Purchase</button>" in page
    assert "Edit" not in page


# --- sell ----------------------------------------------------------------------------------

async def test_sell_form_renders_empty(seller: TestClientProtocol) -> None:
    response = await seller.get("/tickets/new")
    assert response.status_code == 200
    page = await text(response)
    assert 'name="title"' in page
    assert 'name="price"' in page
    assert "is-invalid" not in page


@pytest.mark.parametrize(("title", "price", "field", "message"), [
    ("   ", "20", "title", "Title is required"),
    ("Concert", "", "price", "Price must be greater than 0"),
    ("Concert", "-10", "price", "Price must be greater than 0"),
    ("Concert", "abc", "price", "Price must be greater than 0"),
    ("Concert", "10.001", "price", "Price must have at most 2 decimal places"),
    ("Concert", "1000000.01", "price", "Price must be at most 1000000"),
    ("x" * 121, "20", "title", "Title must be at most 120 characters"),
])
async def test_sell_form_errors_sit_beside_their_fields_and_keep_the_values(
    seller: TestClientProtocol, client: TestClientProtocol,
    title: str, price: str, field: str, message: str,
) -> None:
    response = await seller.post("/tickets/new", form={"title": title, "price": price})
    assert response.status_code == 400
    page = await text(response)
    assert re.search(rf'class="form-control is-invalid" id="{field}"', page)
    assert f'<div class="invalid-feedback" id="{field}-error">{message}</div>' in page
    assert f'value="{title}"' in page
    assert f'value="{price}"' in page
    assert "No tickets for sale right now." in await text(await client.get("/"))


async def test_selling_opens_the_new_tickets_page(seller: TestClientProtocol) -> None:
    response = await seller.post("/tickets/new", form={"title": "  Concert  ", "price": "19.9"})
    assert response.status_code == 303
    page = await text(await seller.get(location(response)))
    assert "<h1>Concert</h1>" in page
    assert "$19.90" in page
    assert ">Edit</a>" in page


async def test_an_unknown_ticket_is_the_404_page(client: TestClientProtocol) -> None:
    for path in (f"/tickets/{SOME_ID}", "/tickets/not-an-id"):
        response = await client.get(path)
        assert response.status_code == 404
        assert "Page not found" in await text(response)


# --- edit ----------------------------------------------------------------------------------

async def test_the_owner_edits_a_ticket(seller: TestClientProtocol) -> None:
    ticket = await sell(seller, "Concert", "20")
    form = await text(await seller.get(f"/tickets/{ticket}/edit"))
    assert 'value="Concert"' in form
    assert 'value="20.00"' in form
    assert 'name="version" value="0"' in form
    response = await seller.post(f"/tickets/{ticket}/edit",
                                 form={"title": "Opera", "price": "25", "version": "0"})
    assert response.status_code == 303
    assert location(response) == f"/tickets/{ticket}"
    page = await text(await seller.get(f"/tickets/{ticket}"))
    assert "<h1>Opera</h1>" in page
    assert "$25.00" in page


async def test_edit_errors_sit_beside_their_fields_and_keep_the_values(
    seller: TestClientProtocol,
) -> None:
    ticket = await sell(seller, "Concert", "20")
    response = await seller.post(f"/tickets/{ticket}/edit",
                                 form={"title": "Opera", "price": "0", "version": "0"})
    assert response.status_code == 400
    page = await text(response)
    assert ('<div class="invalid-feedback" id="price-error">'
            "Price must be provided and must be greater than 0</div>") in page
    assert 'value="Opera"' in page
    assert "<h1>Concert</h1>" in await text(await seller.get(f"/tickets/{ticket}"))


async def test_an_edit_from_a_stale_form_is_refused_in_place(seller: TestClientProtocol) -> None:
    ticket = await sell(seller, "Concert", "20")
    stale = {"title": "Opera", "price": "25", "version": "0"}
    assert (await seller.post(f"/tickets/{ticket}/edit", form=stale)).status_code == 303
    response = await seller.post(f"/tickets/{ticket}/edit", form=stale | {"title": "Ballet"})
    assert response.status_code == 409
    page = await text(response)
    assert "Ticket was changed by someone else; reload and try again" in page
    assert 'value="Ballet"' in page


async def test_a_tampered_version_is_reported_above_the_form(seller: TestClientProtocol) -> None:
    ticket = await sell(seller, "Concert", "20")
    response = await seller.post(f"/tickets/{ticket}/edit",
                                 form={"title": "Opera", "price": "25", "version": "x"})
    assert response.status_code == 400
    assert 'role="alert">Version must be a whole number</div>' in await text(response)


async def test_only_the_owner_may_edit(seller: TestClientProtocol,
                                       buyer: TestClientProtocol) -> None:
    ticket = await sell(seller, "Concert", "20")
    assert ">Edit</a>" not in await text(await buyer.get(f"/tickets/{ticket}"))
    for method in ("GET", "POST"):
        response = await buyer.open(f"/tickets/{ticket}/edit", method=method,
                                    form={"title": "Mine", "price": "1", "version": "0"})
        assert response.status_code == 401
        assert "Not authorized" in await text(response)
    assert "<h1>Concert</h1>" in await text(await seller.get(f"/tickets/{ticket}"))


async def test_a_reserved_ticket_cannot_be_edited(seller: TestClientProtocol,
                                                  buyer: TestClientProtocol) -> None:
    ticket = await sell(seller, "Concert", "20")
    await buy(buyer, ticket)

    async def held() -> bool:
        return "Someone holds this ticket" in await text(await seller.get(f"/tickets/{ticket}"))

    await eventually(held, "the ticket shows the hold")
    response = await seller.post(f"/tickets/{ticket}/edit",
                                 form={"title": "Opera", "price": "25"})
    assert response.status_code == 400
    assert "Cannot edit a reserved ticket" in await text(response)


# --- purchase and orders -------------------------------------------------------------------

async def test_purchase_opens_the_order_with_its_countdown(
    seller: TestClientProtocol, buyer: TestClientProtocol,
) -> None:
    ticket = await sell(seller, "Concert", "20")
    order = await buy(buyer, ticket)
    response = await buyer.get(f"/orders/{order}")
    assert response.status_code == 200
    page = await text(response)
    assert "Order for Concert" in page
    assert shown_status(page) == "Reserved"
    countdown = re.search(r'<strong id="countdown">(\d+):(\d\d)</strong>', page)
    assert countdown is not None
    assert 14 * 60 <= int(countdown[1]) * 60 + int(countdown[2]) <= 15 * 60
    assert re.search(r'data-seconds-left="(89\d|900)"', page)
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[\d:.]+Z">[\d-]+ [\d:]+ UTC</time>', page)
    assert ">Cancel Order</button>" in page
    assert "/static/app/js/countdown.js" in page  # ticks the countdown down


async def test_a_second_buyer_is_told_in_place_the_ticket_is_reserved(
    app: Quart, seller: TestClientProtocol, buyer: TestClientProtocol,
) -> None:
    ticket = await sell(seller, "Concert", "20")
    await buy(buyer, ticket)
    late = await signed_in(app, "late@test.com")
    response = await late.post("/orders", form={"ticketId": ticket})
    assert location(response) == f"/tickets/{ticket}?purchase=ticket_reserved"
    response = await late.get(location(response))
    assert response.status_code == 400
    page = await text(response)
    assert '<div class="alert alert-danger" role="alert">Ticket is already reserved</div>' in page
    assert "<h1>Concert</h1>" in page


async def test_purchase_posts_to_the_orders_module_wherever_it_runs(
    settings: Settings,
) -> None:
    app = create_app(replace(settings, modules=("auth", "tickets")))
    async with app.test_app():
        client = await signed_in(app, "solo@test.com")
        ticket = await sell(client, "Concert", "20")
        page = await text(await client.get(f"/tickets/{ticket}"))
        assert '<form method="post" action="/orders">' in page
        assert f'<input type="hidden" name="ticketId" value="{ticket}">' in page
        # A tickets-only process leaves POST /orders to the orders deployment.
        response = await client.post("/orders", form={"ticketId": ticket})
        assert response.status_code in (404, 405)
        await settled(app)


async def test_a_refusal_reason_shows_only_the_fixed_messages(
    seller: TestClientProtocol,
) -> None:
    ticket = await sell(seller, "Concert", "20")
    page = await text(await seller.get(f"/tickets/{ticket}?purchase=<script>alert(1)</script>"))
    assert "alert(1)" not in page
    assert 'class="alert' not in page


async def test_my_orders_lists_title_status_and_link(
    seller: TestClientProtocol, buyer: TestClientProtocol,
) -> None:
    assert "You have no orders yet." in await text(await buyer.get("/orders"))
    first = await buy(buyer, await sell(seller, "Concert", "20"))
    second = await buy(buyer, await sell(seller, "Opera", "30"))
    await buyer.post(f"/orders/{second}/cancel")
    page = await text(await buyer.get("/orders"))
    assert page.index("Concert") < page.index("Opera")
    assert re.search(rf'Concert</td>\s*<td[^>]*>\$20.00</td>\s*<td>Reserved</td>\s*'
                     rf'<td[^>]*><a href="/orders/{first}"', page)
    assert re.search(rf'Opera</td>\s*<td[^>]*>\$30.00</td>\s*<td>Cancelled</td>\s*'
                     rf'<td[^>]*><a href="/orders/{second}"', page)
    assert "Concert" not in await text(await seller.get("/orders"))


async def test_cancel_closes_the_order_and_the_ticket_returns(
    seller: TestClientProtocol, buyer: TestClientProtocol, client: TestClientProtocol,
) -> None:
    ticket = await sell(seller, "Concert", "20")
    await eventually(lambda: landing_lists(client, ticket), "ticket listed")
    order = await buy(buyer, ticket)
    await eventually(lambda: _not(landing_lists(client, ticket)), "reserved ticket hidden")
    response = await buyer.post(f"/orders/{order}/cancel")
    assert response.status_code == 303
    assert location(response) == f"/orders/{order}"
    page = await text(await buyer.get(f"/orders/{order}"))
    assert shown_status(page) == "Cancelled"
    assert "Cancel Order" not in page
    assert "countdown" not in page
    await eventually(lambda: landing_lists(client, ticket), "cancelled ticket back on sale")
    # Cancelling again changes nothing.
    assert (await buyer.post(f"/orders/{order}/cancel")).status_code == 303


async def _not(check: Awaitable[bool]) -> bool:
    return not await check


async def test_someone_elses_order_is_the_401_page_and_an_unknown_one_404(
    seller: TestClientProtocol, buyer: TestClientProtocol,
) -> None:
    order = await buy(buyer, await sell(seller, "Concert", "20"))
    for method, path in (("GET", f"/orders/{order}"), ("POST", f"/orders/{order}/cancel")):
        response = await seller.open(path, method=method)
        assert response.status_code == 401
        assert "Not authorized" in await text(response)
    assert '>Reserved</dd>' in await text(await buyer.get(f"/orders/{order}"))
    for path in (f"/orders/{SOME_ID}", "/orders/nonsense"):
        assert (await buyer.get(path)).status_code == 404


async def test_the_way_to_pay_shows_only_while_the_order_is_payable(
    seller: TestClientProtocol, buyer: TestClientProtocol,
) -> None:
    order = await buy(buyer, await sell(seller, "Concert", "20"))
    page = await text(await buyer.get(f"/orders/{order}"))
    assert f'href="/payments/{order}"' in page
    assert page.index("Time left to pay") < page.index('id="pay-link"') \
        < page.index("Cancel Order")
    pay_page = await text(await buyer.get(f"/payments/{order}"))
    assert f'action="/payments/{order}"' in pay_page
    assert 'id="payment-form"' in pay_page
    await buyer.post(f"/orders/{order}/cancel")
    assert 'id="pay-link"' not in await text(await buyer.get(f"/orders/{order}"))

    async def refused() -> str | None:
        pay_page = await text(await buyer.get(f"/payments/{order}"))
        return pay_page if "Cannot pay for a cancelled order" in pay_page else None

    assert 'id="payment-form"' not in await eventually(refused, "the pay page to refuse")
