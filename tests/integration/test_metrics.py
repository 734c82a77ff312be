"""``GET /metrics`` in one process: the figures a purchase moves, moved as they should.

Counters are process-wide (prometheus-client's registry), so each test compares a scrape
after the act with one before it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.support.payments import open_order, order_status, pay, signed_up
from tests.support.scrape import Series, has, label_values, moved, parse, value
from tests.support.trading import settled
from tests.support.waiting import eventually
from ticketing.modules.expiration.api import Expiration, sample_pending
from ticketing.modules.expiration.models import PendingExpiration
from ticketing.settings import MODULE_NAMES

ID = re.compile(r"[0-9a-f]{24}|[0-9a-f-]{36}")


async def scrape(client: Client) -> Series:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return parse(await response.get_data(as_text=True))


async def test_a_purchase_moves_every_figure_it_touches(app: Quart, client: Client) -> None:
    before = await scrape(client)
    buyer = await signed_up(app, "metrics-buyer@test.com")
    order = await open_order(app, buyer)
    assert (await pay(buyer, order["id"])).status_code == 201

    async def complete() -> bool:
        return await order_status(buyer, order["id"]) == "complete"

    await eventually(complete, what="the order to complete")
    await settled(app)
    after = await scrape(client)

    def rose(name: str, by: float = 1, **labels: str) -> None:
        assert moved(before, after, name, **labels) >= by, (name, labels)

    rose("ticketing_http_requests_total", route="/api/orders", method="POST", status="201")
    rose("ticketing_http_request_duration_seconds_count", route="/api/orders", method="POST")
    rose("ticketing_events_published_total", module="orders", type="order:created")
    rose("ticketing_events_published_total", module="tickets", type="ticket:created")
    for consumer in ("tickets", "expiration", "payments", "mail"):
        rose("ticketing_events_consumed_total", consumer=consumer, type="order:created",
             outcome="applied")
        rose("ticketing_event_handler_duration_seconds_count", consumer=consumer,
             type="order:created")
    rose("ticketing_reservations_total", outcome="made")
    rose("ticketing_orders_closed_total", state="complete")
    rose("ticketing_payments_total", outcome="succeeded")
    rose("ticketing_payment_provider_duration_seconds_count", operation="authorize",
         result="ok")
    rose("ticketing_payment_provider_duration_seconds_count", operation="capture", result="ok")
    # Sampled at the scrape: everything was relayed, and this order's deadline is gone.
    for module in MODULE_NAMES:
        assert value(after, "ticketing_outbox_backlog", module=module) == 0
        assert value(after, "ticketing_outbox_oldest_unsent_age_seconds", module=module) == 0
    assert has(after, "ticketing_expirations_pending")
    assert value(after, "ticketing_events_dead_lettered_total") == value(
        before, "ticketing_events_dead_lettered_total")

    async def mailed() -> bool:  # the welcome, the reservation, the payment
        return moved(before, await scrape(client), "ticketing_mail_messages_total",
                     outcome="sent") >= 3

    await eventually(mailed, what="three mails sent")


async def test_a_refused_reservation_is_counted_by_its_reason(app: Quart, client: Client) -> None:
    buyer = await signed_up(app, "first@test.com")
    order = await open_order(app, buyer)
    rival = await signed_up(app, "rival@test.com")
    before = await scrape(client)

    answer = await rival.post("/api/orders", json={"ticketId": order["ticket"]["id"]})
    unknown = await rival.post("/api/orders", json={"ticketId": "0" * 24})

    assert (answer.status_code, unknown.status_code) == (400, 404)
    after = await scrape(client)
    assert moved(before, after, "ticketing_reservations_total", outcome="ticket_reserved") == 1
    assert moved(before, after, "ticketing_reservations_total", outcome="not_found") == 1
    assert moved(before, after, "ticketing_reservations_total", outcome="made") == 0


async def test_each_way_an_order_ends_is_counted_with_its_figures(
    app: Quart, client: Client,
) -> None:
    before = await scrape(client)
    buyer = await signed_up(app, "endings@test.com")
    expiring, cancelled, declined = [await open_order(app, buyer) for _ in range(3)]
    await eventually(lambda: PendingExpiration.exists(order_id=expiring["id"]),
                     what="the deadline stored")
    await settled(app)
    pending = value(await scrape(client), "ticketing_expirations_pending")
    expiration: Expiration = app.extensions["ticketing"].facades["expiration"]
    ten_seconds_ago = (datetime.now(UTC) - timedelta(seconds=10)).isoformat()

    await expiration.expire_order(expiring["id"], ten_seconds_ago)
    assert (await buyer.delete(f"/api/orders/{cancelled['id']}")).status_code == 204
    assert (await pay(buyer, declined["id"], "tok_chargeDeclined")).status_code == 400
    await settled(app)
    after = await scrape(client)

    assert moved(before, after, "ticketing_orders_closed_total", state="expired") == 1
    assert moved(before, after, "ticketing_orders_closed_total", state="cancelled") == 1
    assert moved(before, after, "ticketing_expiry_lateness_seconds_count") == 1
    assert moved(before, after, "ticketing_expiry_lateness_seconds_sum") >= 10
    assert value(after, "ticketing_expirations_pending") == pending - 2  # fired, cancelled
    assert moved(before, after, "ticketing_payments_total", outcome="declined") == 1
    assert moved(before, after, "ticketing_payment_provider_duration_seconds_count",
                 operation="authorize", result="declined") == 1


async def test_labels_name_route_templates_never_ids(app: Quart, client: Client) -> None:
    buyer = await signed_up(app, "labels@test.com")
    order = await open_order(app, buyer)
    await buyer.get(f"/api/orders/{order['id']}")
    await buyer.get("/no/such/page/0123456789abcdef01234567")

    series = await scrape(client)

    routes = label_values(series, "route")
    assert "/api/orders/<order_id>" in routes
    assert "unmatched" in routes
    everything = {v for (_, labels) in series for _, v in labels}
    assert not [v for v in everything if ID.search(v)]


async def test_a_method_no_route_knows_counts_as_other(client: Client) -> None:
    before = await scrape(client)
    for method in ("FOO1", "BAR2"):
        await client.open("/api/tickets", method=method)

    after = await scrape(client)
    assert {"FOO1", "BAR2"}.isdisjoint(label_values(after, "method"))
    assert moved(before, after, "ticketing_http_requests_total", method="other") == 2


async def test_the_oldest_overdue_deadline_shows_how_late_it_is(app: Quart) -> None:
    buyer = await signed_up(app, "overdue@test.com")
    order = await open_order(app, buyer)
    await eventually(lambda: PendingExpiration.exists(order_id=order["id"]),
                     what="the deadline stored")
    deadline = datetime.fromisoformat(order["expiresAt"])

    await sample_pending(lambda: deadline - timedelta(seconds=5))
    assert REGISTRY.get_sample_value("ticketing_expiration_overdue_seconds") == 0
    await sample_pending(lambda: deadline + timedelta(seconds=90))
    assert REGISTRY.get_sample_value("ticketing_expiration_overdue_seconds") == 90


async def test_metrics_are_not_served_through_a_proxy(client: Client) -> None:
    response = await client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})

    assert response.status_code == 404
    assert "ticketing_" not in await response.get_data(as_text=True)


async def test_every_response_carries_its_request_id_and_counts_once(client: Client) -> None:
    before = await scrape(client)
    response = await client.get("/api/users/currentuser")

    after = await scrape(client)
    assert response.headers["X-Request-Id"]
    assert moved(before, after, "ticketing_http_requests_total",
                 route="/api/users/currentuser", method="GET", status="200") == 1
