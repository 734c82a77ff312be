"""The seller's view: ``GET /api/selling``, ``/selling`` (filterable, with totals),
``/selling.csv`` and ``/selling/events/<id>`` (an event's sales and check-ins over time
as a server-drawn SVG chart)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator
from quart import Blueprint, Response, jsonify, render_template, request
from quart_schema import document_response, validate_querystring
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.modules.tickets.api import LISTING_STATES, EventTimeline, Listing, SellerReport
from ticketing.web.shell.forms import sign_in_redirect
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.session import current_user, require_user, signed_in
from ticketing.web.shell.validation import Body, parse_form, rule_failed
from ticketing.web.tickets.routes import tickets

blueprint = Blueprint("selling", __name__, template_folder="templates")

STATE_LABELS = {"for_sale": "For sale", "reserved": "Reserved", "sold": "Sold",
                "checked_in": "Checked in", "resold": "Resold"}
CHART_WIDTH, CHART_HEIGHT, CHART_MARGIN = 600, 220, 30


class SellingQuery(Body):
    state: str | None = Field(default=None, description="for_sale, reserved, sold, "
                                                        "checked_in or resold: listings with "
                                                        "a unit so")

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if value not in LISTING_STATES:
            raise rule_failed(f"State must be one of {', '.join(LISTING_STATES)}")
        return str(value)


class ListingResponse(BaseModel):
    id: str
    kind: str = Field(description='"ticket", "event", or "resale" (a ticket you bought '
                                  'and put back on sale)')
    title: str
    price: float
    state: str
    quantity: int
    forSale: int
    reserved: int
    sold: int
    checkedIn: int
    resold: int
    revenue: float
    reservedUntil: datetime | None


class SellingResponse(BaseModel):
    """Everything you listed and the totals over what is shown."""

    listings: list[ListingResponse]
    totals: dict[str, float]


def listing_json(listing: Listing) -> dict[str, Any]:
    return {"id": listing.id, "kind": listing.kind, "title": listing.title,
            "price": float(listing.price), "state": listing.state,
            "quantity": listing.quantity, "forSale": listing.for_sale,
            "reserved": listing.reserved, "sold": listing.sold,
            "checkedIn": listing.checked_in, "resold": listing.resold,
            "revenue": float(listing.revenue),
            "reservedUntil": wire_time(listing.reserved_until)}


def report_json(report: SellerReport) -> dict[str, Any]:
    return {"listings": [listing_json(listing) for listing in report.listings],
            "totals": {"listings": len(report.listings), "sold": report.sold,
                       "checkedIn": report.checked_in, "revenue": float(report.revenue)}}


@blueprint.get("/api/selling")
@signed_in
@validate_querystring(SellingQuery)
@document_response(SellingResponse)
async def selling_api(query_args: SellingQuery) -> Response:
    """What you listed, with its state and totals; ``?state=`` filters."""
    return jsonify(report_json(await tickets().listings_of(require_user().id,
                                                           query_args.state)))


@blueprint.get("/selling")
async def selling_page() -> tuple[str, int] | WerkzeugResponse:
    """Your listings, filterable by state, with totals and a CSV export."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    query = parse_form(SellingQuery, {"state": request.args.get("state")})
    report = await tickets().listings_of(user.id, query.state)
    html = await render_template("tickets/selling.html", report=report,
                                 listings=[listing_json(x) for x in report.listings],
                                 state=query.state, labels=STATE_LABELS)
    return html, 200


@blueprint.get("/selling.csv")
async def selling_csv() -> Response | WerkzeugResponse:
    """The same listings as a spreadsheet."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    query = parse_form(SellingQuery, {"state": request.args.get("state")})
    report = await tickets().listings_of(user.id, query.state)
    out = io.StringIO()
    columns = ["id", "kind", "title", "price", "state", "quantity", "forSale", "reserved",
               "sold", "checkedIn", "resold", "revenue", "reservedUntil"]
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for listing in report.listings:
        row = listing_json(listing)
        # A title starting like a formula must not run as one in a spreadsheet.
        if str(row["title"])[:1] in ("=", "+", "-", "@"):
            row["title"] = "'" + str(row["title"])
        writer.writerow(row)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="selling.csv"'})


def chart_lines(timeline: EventTimeline) -> dict[str, str]:
    """Polyline points of sold, remaining and checked in over the event's selling time."""
    moments = [*timeline.sold_at, *timeline.checked_in_at]
    if not moments:
        return {}
    start, end = min(moments), max(moments)
    span = max((end - start).total_seconds(), 1.0)
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_MARGIN, CHART_HEIGHT - 2 * CHART_MARGIN
    top = max(timeline.quantity, 1)

    def point(at: datetime, value: int) -> str:
        x = CHART_MARGIN + inner_w * (at - start).total_seconds() / span
        y = CHART_MARGIN + inner_h * (1 - value / top)
        return f"{x:.1f},{y:.1f}"

    def steps(times: tuple[datetime, ...], value_at: Any) -> str:
        points = [point(start, value_at(0))]
        for n, at in enumerate(times, start=1):
            points += [point(at, value_at(n - 1)), point(at, value_at(n))]
        points.append(point(end, value_at(len(times))))
        return " ".join(points)

    return {"sold": steps(timeline.sold_at, lambda n: n),
            "remaining": steps(timeline.sold_at, lambda n: timeline.quantity - n),
            "checkedIn": steps(timeline.checked_in_at, lambda n: n)}


@blueprint.get("/selling/events/<event_id>")
async def event_chart(event_id: str) -> tuple[str, int] | WerkzeugResponse:
    """An event's sold, remaining and checked-in counts over time (yours only)."""
    user = current_user()
    if user is None:
        return sign_in_redirect()
    timeline = await tickets().event_timeline(event_id, user.id)
    html = await render_template(
        "tickets/selling-event.html", timeline=timeline, lines=chart_lines(timeline),
        width=CHART_WIDTH, height=CHART_HEIGHT, margin=CHART_MARGIN)
    return html, 200
