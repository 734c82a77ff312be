"""The seller's view on every backend: each listing's state and counts, totals, the state
filter, the CSV export and an event's chart over time."""

from __future__ import annotations

import csv
import io
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.passes import bought, listed, paid, pass_of, reserved
from tests.support.payments import errors, signed_up


async def selling(client: Client, query: str = "") -> tuple[int, Any]:
    response = await client.get(f"/api/selling{query}")
    return response.status_code, await response.get_json()


async def test_each_listing_shows_its_state_and_the_totals_add_up(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    for_sale = await listed(seller, "Still for sale")
    held = await listed(seller, "Held")
    await reserved(buyer, {"ticketId": held})
    sold, token = await bought(app, buyer, seller)
    assert (await seller.post("/api/checkins", json={"token": token})).status_code == 201
    response = await seller.post("/api/events", json={"title": "Gig", "price": 10,
                                                      "quantity": 3})
    event_id = (await response.get_json())["id"]
    await paid(buyer, await reserved(buyer, {"eventId": event_id, "quantity": 2}))

    status, body = await selling(seller)
    assert status == 200
    rows = {row["id"]: row for row in body["listings"]}
    assert (rows[for_sale]["state"], rows[for_sale]["forSale"]) == ("for_sale", 1)
    assert rows[held]["state"] == "reserved"
    assert rows[held]["reservedUntil"] is not None
    assert (rows[sold]["state"], rows[sold]["checkedIn"]) == ("checked_in", 1)
    gig = rows[event_id]
    assert (gig["kind"], gig["forSale"], gig["sold"], gig["revenue"]) == ("event", 1, 2, 20.0)
    assert body["totals"] == {"listings": 4, "sold": 3, "checkedIn": 1, "revenue": 40.0}

    _, body = await selling(seller, "?state=sold")
    assert {row["id"] for row in body["listings"]} == {sold, event_id}
    assert await selling(seller, "?state=gone") == (400, errors(
        "State must be one of for_sale, reserved, sold, checked_in, resold", "state"))
    assert (await selling(buyer))[1]["listings"] == []
    assert (await selling(app.test_client()))[0] == 401


async def test_the_csv_export_has_every_listing_and_no_formula(app: Quart) -> None:
    seller = await signed_up(app, "seller@test.com")
    await listed(seller, "=HYPERLINK(\"x\")")
    await listed(seller, "Plain")
    response = await seller.get("/selling.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await response.get_data(as_text=True))))
    assert sorted(row["title"] for row in rows) == ["'=HYPERLINK(\"x\")", "Plain"]
    assert {row["state"] for row in rows} == {"for_sale"}


async def test_an_event_chart_draws_sales_and_check_ins_for_its_seller_only(
    app: Quart,
) -> None:
    seller = await signed_up(app, "seller@test.com")
    buyer = await signed_up(app, "buyer@test.com")
    response = await seller.post("/api/events", json={"title": "Gig", "price": 10,
                                                      "quantity": 4})
    event_id = (await response.get_json())["id"]
    order_id = await reserved(buyer, {"eventId": event_id, "quantity": 2})
    await paid(buyer, order_id)
    order = await (await buyer.get(f"/api/orders/{order_id}")).get_json()
    token = (await pass_of(buyer, order["tickets"][0]["id"]))["token"]
    assert (await seller.post("/api/checkins", json={"token": token})).status_code == 201

    page = await (await seller.get(f"/selling/events/{event_id}")).get_data(as_text=True)
    assert "2 sold · 2 remaining · 1 checked in, of 4" in page
    for line in ("line-sold", "line-remaining", "line-checked-in"):
        assert f'id="{line}"' in page
    assert (await buyer.get(f"/selling/events/{event_id}")).status_code == 401
    assert (await seller.get("/selling/events/nope")).status_code == 404
