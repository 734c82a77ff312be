"""Every state-changing JSON route validates its body, or says here why it has none."""

from __future__ import annotations

from pathlib import Path

from quart import Quart
from quart_schema import validate_request
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE

from ticketing.app import create_app
from ticketing.settings import Settings
from ticketing.web.shell.validation import Body

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# (method, rule) of the mutating /api routes that take no body, and why.
BODILESS = {
    # Signs out whoever the cookie names; the contract gives it no body.
    ("POST", "/api/users/signout"),
    ("POST", "/api/users/signout-everywhere"),
    # The order's id is in the path; cancelling needs nothing else.
    ("DELETE", "/api/orders/<order_id>"),
    # Asking for a paid order's refund: the order is in the path, the buyer in the cookie.
    ("POST", "/api/orders/<order_id>/refund"),
    # Joining or leaving a waitlist: its event or ticket is the path.
    ("POST", "/api/waitlist/<scope_id>"),
    ("DELETE", "/api/waitlist/<scope_id>"),
    # Joining an event's queue: the event is in the path, the buyer in the cookie.
    ("POST", "/api/queue/<event_id>"),
    # Stripe's event: the raw bytes are checked against the Stripe-Signature header, and a
    # schema would have to re-serialise them first.
    ("POST", "/api/payments/webhook"),
    # Taking a resale off sale: the ticket is the path, its seller the cookie.
    ("DELETE", "/api/tickets/<ticket_id>/resale"),
    # Taking someone off a door's staff: the door and the email are the path.
    ("DELETE", "/api/doors/<scope_id>/staff/<email>"),
}


def unvalidated_routes(app: Quart) -> set[tuple[str, str]]:
    """(method, rule) of each mutating ``/api`` route whose view validates no request body."""
    found: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        if hasattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE):
            continue
        found.update((method, rule.rule) for method in (rule.methods or set()) & MUTATING)
    return found


def mutating_routes(app: Quart) -> set[tuple[str, str]]:
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/") for method in (rule.methods or set()) & MUTATING}


def full_app(tmp_path: Path) -> Quart:
    return create_app(Settings(env="test", data_dir=tmp_path, jwt_key="k" * 40))


def test_every_mutating_api_route_validates_its_body_or_is_listed_as_bodiless(
    tmp_path: Path,
) -> None:
    assert unvalidated_routes(full_app(tmp_path)) <= BODILESS


def test_every_bodiless_entry_names_a_real_route(tmp_path: Path) -> None:
    assert mutating_routes(full_app(tmp_path)) >= BODILESS


def test_the_walk_catches_a_mutating_route_without_a_body_schema(tmp_path: Path) -> None:
    app = full_app(tmp_path)

    async def forgot_the_schema() -> str:
        return "{}"

    @validate_request(Body)
    async def validated(data: Body) -> str:
        return "{}"

    app.add_url_rule("/api/test-only/forgot", "test_forgot", forgot_the_schema,
                     methods=["PATCH"])
    app.add_url_rule("/api/test-only/validated", "test_validated", validated, methods=["PUT"])

    assert unvalidated_routes(app) - BODILESS == {("PATCH", "/api/test-only/forgot")}
