"""Every ``/api/tickets`` row of the contract, on every database backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol

from tests.support.trading import (
    Person,
    error,
    list_ticket,
    person,
    reserve,
    settled,
    trading,
)
from ticketing.settings import Settings

NEW_PRICE_MESSAGE = "Price must be greater than 0"
EDIT_PRICE_MESSAGE = "Price must be provided and must be greater than 0"


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return trading(make_settings)


@pytest.fixture
def seller(settings: Settings) -> Person:
    return person(settings, "seller")


@pytest.fixture
def buyer(settings: Settings) -> Person:
    return person(settings, "buyer")


# --- POST /api/tickets -------------------------------------------------------------------

async def test_listing_a_ticket_needs_a_session(client: TestClientProtocol) -> None:
    response = await client.post("/api/tickets", json={"title": "Concert", "price": 10})

    assert response.status_code == 401
    assert await response.get_json() == error("Not authorized")


async def test_an_invalid_body_without_a_session_is_still_401(client: TestClientProtocol) -> None:
    """Authentication is checked before validation."""
    response = await client.post("/api/tickets", json={"title": "", "price": -1})

    assert response.status_code == 401
    assert await response.get_json() == error("Not authorized")


async def test_a_new_ticket_is_version_0_with_an_exact_price(
    client: TestClientProtocol, seller: Person,
) -> None:
    response = await client.post("/api/tickets", json={"title": "  Concert  ", "price": 19.99},
                                 headers=seller.headers)

    assert response.status_code == 201
    ticket = await response.get_json()
    assert ticket == {"id": ticket["id"], "title": "Concert", "price": 19.99,
                      "userId": seller.id, "version": 0}
    shown = await client.get(f"/api/tickets/{ticket['id']}")
    assert await shown.get_json() == ticket


async def answers(client: TestClientProtocol, method: str, url: str, bodies: list[Any],
                  person: Person | None = None) -> list[tuple[int, Any]]:
    """Status and JSON body of the same request with each body in turn."""
    found = []
    for body in bodies:
        response = await client.open(url, method=method, json=body,
                                     headers=person.headers if person else None)
        found.append((response.status_code, await response.get_json()))
    return found


async def test_a_blank_or_missing_title_is_required(
    client: TestClientProtocol, seller: Person,
) -> None:
    bodies = [{"title": title, "price": 10} for title in ("", "   ", "\t\n", None, 42, ["t"])]

    got = await answers(client, "POST", "/api/tickets", [*bodies, {"price": 10}], seller)

    assert got == [(400, error("Title is required", "title"))] * (len(bodies) + 1)


async def test_a_title_is_bounded_in_length_after_trimming(
    client: TestClientProtocol, seller: Person,
) -> None:
    longest = await client.post("/api/tickets", json={"title": f"  {'x' * 120}  ", "price": 10},
                                headers=seller.headers)
    too_long = await client.post("/api/tickets", json={"title": "x" * 121, "price": 10},
                                 headers=seller.headers)

    assert longest.status_code == 201
    assert (await longest.get_json())["title"] == "x" * 120
    assert too_long.status_code == 400
    assert await too_long.get_json() == error("Title must be at most 120 characters", "title")


async def test_a_title_is_one_line_of_storable_text(
    client: TestClientProtocol, seller: Person,
) -> None:
    titles = ["a\x00b", "bell\x07", "two\nlines", "\ud800 lone surrogate", "del\x7f"]

    got = await answers(client, "POST", "/api/tickets",
                        [{"title": title, "price": 10} for title in titles], seller)
    kept = await list_ticket(client, seller, "Café 🎸 — naïve", 10)

    assert got == [(400, error("Title must not contain control characters", "title"))] * 5
    assert kept["title"] == "Café 🎸 — naïve"


BAD_PRICES: list[tuple[Any, str]] = [
    (0, NEW_PRICE_MESSAGE),
    (0.0, NEW_PRICE_MESSAGE),
    (-10, NEW_PRICE_MESSAGE),
    (-0.01, NEW_PRICE_MESSAGE),
    (float("nan"), NEW_PRICE_MESSAGE),
    (float("inf"), NEW_PRICE_MESSAGE),
    (float("-inf"), NEW_PRICE_MESSAGE),
    ("NaN", NEW_PRICE_MESSAGE),
    ("Infinity", NEW_PRICE_MESSAGE),
    ("ten", NEW_PRICE_MESSAGE),
    ("", NEW_PRICE_MESSAGE),
    (None, NEW_PRICE_MESSAGE),
    (True, NEW_PRICE_MESSAGE),
    ([10], NEW_PRICE_MESSAGE),
    ({"amount": 10}, NEW_PRICE_MESSAGE),
    (10.005, "Price must have at most 2 decimal places"),
    (0.001, "Price must have at most 2 decimal places"),
    (1000000.01, "Price must be at most 1000000"),
    (10**30, "Price must be at most 1000000"),
    (1e300, "Price must be at most 1000000"),
]


async def test_a_bad_or_missing_price_is_refused_with_its_field(
    client: TestClientProtocol, seller: Person,
) -> None:
    bodies = [{"title": "Concert", "price": price} for price, _ in BAD_PRICES]

    got = await answers(client, "POST", "/api/tickets", [*bodies, {"title": "Concert"}],
                        seller)

    expected = [(400, error(message, "price")) for _, message in BAD_PRICES]
    assert got == [*expected, (400, error(NEW_PRICE_MESSAGE, "price"))]
    assert await (await client.get("/api/tickets")).get_json() == []


async def test_every_failed_rule_is_reported(client: TestClientProtocol, seller: Person) -> None:
    response = await client.post("/api/tickets", json={}, headers=seller.headers)

    assert response.status_code == 400
    assert (await response.get_json())["errors"] == [
        {"message": "Title is required", "field": "title"},
        {"message": NEW_PRICE_MESSAGE, "field": "price"},
    ]


async def test_good_prices_are_kept_exactly(client: TestClientProtocol, seller: Person) -> None:
    prices: list[tuple[Any, float]] = [
        (1000000, 1000000), (999999.99, 999999.99), (0.01, 0.01), (10.1, 10.1),
        ("12.50", 12.5), (7, 7), (19.99, 19.99),
    ]
    for price, stored in prices:
        ticket = await list_ticket(client, seller, price=price)
        shown = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()
        assert (ticket["price"], shown["price"]) == (stored, stored), price


async def test_a_body_that_is_not_a_json_object_is_400(
    client: TestClientProtocol, seller: Person,
) -> None:
    for body in ("not json", "[1, 2]", "null", '"text"'):
        response = await client.post("/api/tickets", data=body, headers=seller.headers
                                     | {"Content-Type": "application/json"})
        assert response.status_code == 400, body
        assert (await response.get_json())["errors"][0]["message"], body


# --- GET /api/tickets/:id ----------------------------------------------------------------

UNKNOWN_OR_MALFORMED_IDS = [
    "01m886b2m9kpb1nc5gh7y7yewb",  # well formed, unknown
    "not-an-id",
    "01m886b2m9kpb1nc5gh7y7yewbx",
    "01M886B2M9KPB1NC5GH7Y7YEWB",
    "%27%20OR%201%3D1",
]


async def test_an_unknown_or_malformed_ticket_is_404(client: TestClientProtocol) -> None:
    for ticket_id in UNKNOWN_OR_MALFORMED_IDS:
        response = await client.get(f"/api/tickets/{ticket_id}")
        assert response.status_code == 404, ticket_id
        assert await response.get_json() == error("Not Found")


# --- GET /api/tickets --------------------------------------------------------------------

async def test_the_listing_is_newest_first_and_needs_no_session(
    client: TestClientProtocol, seller: Person,
) -> None:
    made = [await list_ticket(client, seller, f"Show {n}") for n in range(3)]

    response = await client.get("/api/tickets")

    assert response.status_code == 200
    assert await response.get_json() == made[::-1]
    assert "Link" not in response.headers


async def test_the_listing_pages_with_limit_and_before(
    client: TestClientProtocol, seller: Person,
) -> None:
    made = [await list_ticket(client, seller, f"Show {n}") for n in range(5)]
    newest_first = [t["id"] for t in made[::-1]]

    seen: list[str] = []
    url = "/api/tickets?limit=2"
    links = []
    while url:
        response = await client.get(url)
        assert response.status_code == 200
        seen += [t["id"] for t in await response.get_json()]
        link = response.headers.get("Link")
        links.append(link)
        url = ""
        if link:
            assert link.startswith("<")
            assert link.endswith('>; rel="next"')
            url = link[1:link.index(">")].removeprefix("http://localhost")

    assert seen == newest_first
    assert len(links) == 3
    assert links[-1] is None
    assert f"before={newest_first[1]}" in links[0]
    assert "limit=2" in links[0]


async def test_before_shows_only_older_tickets(
    client: TestClientProtocol, seller: Person,
) -> None:
    made = [await list_ticket(client, seller, f"Show {n}") for n in range(3)]

    response = await client.get(f"/api/tickets?before={made[2]['id']}")

    assert [t["id"] for t in await response.get_json()] == [made[1]["id"], made[0]["id"]]


async def test_an_exact_last_page_has_no_next_link(
    client: TestClientProtocol, seller: Person,
) -> None:
    for n in range(2):
        await list_ticket(client, seller, f"Show {n}")

    response = await client.get("/api/tickets?limit=2")

    assert len(await response.get_json()) == 2
    assert "Link" not in response.headers


async def test_a_limit_out_of_range_is_400(client: TestClientProtocol) -> None:
    for limit in ("0", "501", "-1", "ten", "1.5", "", "1e3"):
        response = await client.get(f"/api/tickets?limit={limit}")
        assert response.status_code == 400, limit
        assert await response.get_json() == error("Limit must be between 1 and 500", "limit")


async def test_limits_1_and_500_are_accepted(client: TestClientProtocol, seller: Person) -> None:
    await list_ticket(client, seller)

    for limit in (1, 500):
        response = await client.get(f"/api/tickets?limit={limit}")
        assert response.status_code == 200
        assert len(await response.get_json()) == 1


async def test_a_malformed_before_is_400(client: TestClientProtocol) -> None:
    response = await client.get("/api/tickets?before=nonsense")

    assert response.status_code == 400
    assert (await response.get_json())["errors"][0]["field"] == "before"


async def test_a_reserved_ticket_leaves_the_listing_but_can_still_be_shown(
    app: Quart, client: TestClientProtocol, seller: Person, buyer: Person,
) -> None:
    kept = await list_ticket(client, seller, "Kept")
    taken = await list_ticket(client, seller, "Taken")
    await settled(app)
    order = await reserve(client, buyer, taken["id"])
    await settled(app)

    listed = await (await client.get("/api/tickets")).get_json()
    shown = await (await client.get(f"/api/tickets/{taken['id']}")).get_json()

    assert [t["id"] for t in listed] == [kept["id"]]
    assert shown["orderId"] == order["id"]
    assert shown["version"] == 1


# --- PUT /api/tickets/:id ----------------------------------------------------------------

async def test_editing_needs_a_session(client: TestClientProtocol, seller: Person) -> None:
    ticket = await list_ticket(client, seller)

    response = await client.put(f"/api/tickets/{ticket['id']}",
                                json={"title": "Changed", "price": 5})
    invalid = await client.put(f"/api/tickets/{ticket['id']}", json={"price": "free"})
    unknown = await client.put("/api/tickets/01m886b2m9kpb1nc5gh7y7yewb", json={})

    for refused in (response, invalid, unknown):
        assert refused.status_code == 401
        assert await refused.get_json() == error("Not authorized")


async def test_editing_validates_with_puts_own_price_message(
    client: TestClientProtocol, seller: Person,
) -> None:
    ticket = await list_ticket(client, seller)
    url = f"/api/tickets/{ticket['id']}"

    missing = await client.put(url, json={"title": "Changed"}, headers=seller.headers)
    negative = await client.put(url, json={"title": "Changed", "price": -5},
                                headers=seller.headers)
    blank = await client.put(url, json={"title": " ", "price": 5}, headers=seller.headers)
    places = await client.put(url, json={"title": "Changed", "price": 5.555},
                              headers=seller.headers)

    assert missing.status_code == negative.status_code == blank.status_code == 400
    assert await missing.get_json() == error(EDIT_PRICE_MESSAGE, "price")
    assert await negative.get_json() == error(EDIT_PRICE_MESSAGE, "price")
    assert await blank.get_json() == error("Title is required", "title")
    assert await places.get_json() == error("Price must have at most 2 decimal places", "price")


async def test_editing_an_unknown_or_malformed_ticket_is_404(
    client: TestClientProtocol, seller: Person,
) -> None:
    for ticket_id in UNKNOWN_OR_MALFORMED_IDS:
        response = await client.put(f"/api/tickets/{ticket_id}",
                                    json={"title": "T", "price": 5}, headers=seller.headers)
        assert response.status_code == 404, ticket_id
        assert await response.get_json() == error("Not Found")


async def test_editing_someone_elses_ticket_is_401(
    client: TestClientProtocol, seller: Person, buyer: Person,
) -> None:
    ticket = await list_ticket(client, seller)

    response = await client.put(f"/api/tickets/{ticket['id']}",
                                json={"title": "Mine now", "price": 1}, headers=buyer.headers)

    assert response.status_code == 401
    assert await response.get_json() == error("Not authorized")
    unchanged = await (await client.get(f"/api/tickets/{ticket['id']}")).get_json()
    assert unchanged == ticket


async def test_an_edit_bumps_the_version_each_time(
    client: TestClientProtocol, seller: Person,
) -> None:
    ticket = await list_ticket(client, seller, "Concert", 10)
    url = f"/api/tickets/{ticket['id']}"

    first = await client.put(url, json={"title": " Opera ", "price": 12.5},
                             headers=seller.headers)
    second = await client.put(url, json={"title": "Ballet", "price": "13.25", "version": 1},
                              headers=seller.headers)

    assert first.status_code == second.status_code == 200
    assert await first.get_json() == ticket | {"title": "Opera", "price": 12.5, "version": 1}
    assert await second.get_json() == ticket | {"title": "Ballet", "price": 13.25,
                                                 "version": 2}
    assert await (await client.get(url)).get_json() == await second.get_json()


async def test_an_edit_with_a_stale_version_is_409(
    client: TestClientProtocol, seller: Person,
) -> None:
    ticket = await list_ticket(client, seller)
    url = f"/api/tickets/{ticket['id']}"
    await client.put(url, json={"title": "First", "price": 5, "version": 0},
                     headers=seller.headers)

    stale = await client.put(url, json={"title": "Second", "price": 6, "version": 0},
                             headers=seller.headers)

    assert stale.status_code == 409
    body = await stale.get_json()
    assert list(body) == ["errors"]
    assert len(body["errors"]) == 1
    assert body["errors"][0]["message"]
    current = await (await client.get(url)).get_json()
    assert (current["title"], current["version"]) == ("First", 1)


async def test_a_malformed_version_is_400(client: TestClientProtocol, seller: Person) -> None:
    ticket = await list_ticket(client, seller)
    versions: list[Any] = [-1, "1", 1.5, True, [0]]

    got = await answers(client, "PUT", f"/api/tickets/{ticket['id']}",
                        [{"title": "T", "price": 5, "version": v} for v in versions], seller)

    assert got == [(400, error("Version must be a whole number", "version"))] * len(versions)


async def test_concurrent_edits_of_one_version_never_lose_an_update(
    client: TestClientProtocol, seller: Person,
) -> None:
    ticket = await list_ticket(client, seller)
    url = f"/api/tickets/{ticket['id']}"

    responses = await asyncio.gather(*(
        client.put(url, json={"title": f"Edit {n}", "price": 5, "version": 0},
                   headers=seller.headers)
        for n in range(5)
    ))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 409, 409, 409, 409]
    (winner,) = [await r.get_json() for r in responses if r.status_code == 200]
    assert await (await client.get(url)).get_json() == winner


async def test_a_reserved_ticket_cannot_be_edited_even_by_its_owner(
    app: Quart, client: TestClientProtocol, seller: Person, buyer: Person,
) -> None:
    ticket = await list_ticket(client, seller)
    await settled(app)
    await reserve(client, buyer, ticket["id"])
    await settled(app)
    url = f"/api/tickets/{ticket['id']}"

    by_owner = await client.put(url, json={"title": "T", "price": 5}, headers=seller.headers)
    by_stranger = await client.put(url, json={"title": "T", "price": 5}, headers=buyer.headers)

    # reserved (400) is checked before ownership (401)
    for refused in (by_owner, by_stranger):
        assert refused.status_code == 400
        assert await refused.get_json() == error("Cannot edit a reserved ticket")
