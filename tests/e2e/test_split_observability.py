"""The split as an operator sees it: every process's /metrics, one trace, JSON logs.

Five ``ticketing serve`` processes over one JetStream server export their spans over
OTLP/HTTP to a stand-in collector (:mod:`tests.support.collector`) and log JSON. A buyer
signs up, a seller lists, the buyer reserves and pays, each request sent with the
client's own trace context (as a browser's tracing would): the purchase is then one
trace across the six processes, and each process's figures moved as they should.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.collector import CollectedSpan, Collector, running_collector
from tests.support.nats import NatsServer
from tests.support.scrape import Series, has, parse, value
from tests.support.split import SplitCluster, order_status, pay, reserve, start_split
from tests.support.waiting import eventually_blocking
from ticketing.settings import MODULE_NAMES

PASSWORD = "observed-secret"


@pytest.fixture
def collector() -> Iterator[Collector]:
    with running_collector() as running:
        yield running


@pytest.fixture
def observed_split(tmp_path: Path, collector: Collector) -> Iterator[SplitCluster]:
    nats = NatsServer(tmp_path / "nats")
    nats.workdir.mkdir()
    nats.start()
    # DEBUG: each applied event's line (the consumer's) is logged at DEBUG.
    cluster = start_split(tmp_path, nats, TICKETING_LOG_FORMAT="json", TICKETING_LOG_LEVEL="DEBUG",
                          OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
                          OTEL_BSP_SCHEDULE_DELAY="200")
    try:
        yield cluster
    finally:
        cluster.stop()


def scrape(cluster: SplitCluster, module: str) -> Series:
    response = httpx.get(f"{cluster.url(module)}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return parse(response.text)


def descendants(spans: list[CollectedSpan], root: CollectedSpan) -> list[CollectedSpan]:
    below, frontier = [], {root.span_id}
    while frontier:
        found = [s for s in spans if s.parent_id in frontier]
        below.extend(found)
        frontier = {s.span_id for s in found}
    return below


def purchase(cluster: SplitCluster, traceparent: str) -> str:
    """Sign up, list, reserve, pay; the order's id once it is complete."""
    headers = {"traceparent": traceparent}
    with httpx.Client(timeout=10, headers=headers) as http:
        signed = http.post(f"{cluster.url('auth')}/api/users/signup",
                           json={"email": "observed@example.com", "password": PASSWORD})
        assert signed.status_code == 201, signed.text
        listed = http.post(f"{cluster.url('tickets')}/api/tickets",
                           json={"title": "Observed", "price": 25})
        assert listed.status_code == 201, listed.text

        order = reserve(http, cluster, listed.json()["id"])
        paid = pay(http, cluster, order["id"])
        assert paid.status_code == 201, paid.text
        eventually_blocking(lambda: order_status(http, cluster, order["id"]) == "complete",
                            "the order completes")
        return str(order["id"])


def test_one_purchase_is_one_trace_and_moves_each_process_figures(
    observed_split: SplitCluster, collector: Collector,
) -> None:
    cluster = observed_split
    trace_id = secrets.token_hex(16)
    purchase(cluster, f"00-{trace_id}-{secrets.token_hex(8)}-01")

    # --- one trace across the six processes --------------------------------------------
    services = {f"ticketing-{module}" for module in MODULE_NAMES}
    steps = {"tickets apply order:created", "expiration apply order:created",
             "payments apply order:created", "mail apply order:created",
             "orders apply payment:authorized",
             "tickets apply order:completed", "POST /api/orders", "POST /api/payments"}

    def whole() -> bool:
        spans = collector.in_trace(trace_id)
        return services <= {s.service for s in spans} and steps <= {s.name for s in spans}

    eventually_blocking(whole, "every process's spans of the purchase reach the collector")
    spans = collector.in_trace(trace_id)
    by_id = {s.span_id: s for s in spans}
    # Each event's handler is a child of the span that published it, in another process.
    held = next(s for s in spans if s.name == "tickets apply order:created")
    publisher = by_id[held.parent_id]
    assert (publisher.name, publisher.service) == ("publish order:created", "ticketing-orders")
    # The reservation alone, as the servers chain it (no client header needed): the
    # request's descendants reach the five modules it touches.
    [reservation] = [s for s in spans if s.name == "POST /api/orders"
                     and s.attributes.get("http.response.status_code") == "201"]
    assert {s.service for s in descendants(spans, reservation)} == {
        "ticketing-orders", "ticketing-tickets", "ticketing-expiration", "ticketing-payments",
        "ticketing-mail"}

    # --- every process's figures --------------------------------------------------------
    figures = {module: scrape(cluster, module) for module in MODULE_NAMES}
    for module, series in figures.items():
        assert has(series, "ticketing_outbox_backlog", {"module": module}), module
        assert has(series, "ticketing_consumer_lag") or module == "auth", module
    assert value(figures["auth"], "ticketing_http_requests_total",
                 route="/api/users/signup", method="POST", status="201") == 1
    assert value(figures["tickets"], "ticketing_events_published_total",
                 module="tickets", type="ticket:created") == 1
    assert value(figures["tickets"], "ticketing_events_consumed_total", consumer="tickets",
                 type="order:created", outcome="applied") == 1
    assert value(figures["orders"], "ticketing_reservations_total", outcome="made") == 1
    assert value(figures["orders"], "ticketing_orders_closed_total", state="complete") == 1
    assert value(figures["expiration"], "ticketing_events_consumed_total",
                 consumer="expiration", type="order:created", outcome="applied") == 1
    assert has(figures["expiration"], "ticketing_expirations_pending")
    assert value(figures["payments"], "ticketing_payments_total", outcome="succeeded") == 1
    assert value(figures["payments"], "ticketing_payment_provider_duration_seconds_count",
                 operation="capture", result="ok") == 1
    # No process counts what it does not run.
    assert value(figures["auth"], "ticketing_reservations_total") == 0

    # --- JSON logs carry the ids --------------------------------------------------------
    entries = [json.loads(line) for line in
               cluster.processes["orders"].log.read_text().splitlines()
               if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "ticketing.access"
              and e.get("route") == "/api/orders" and e.get("status") == 201]
    assert access
    assert access[0]["trace_id"] == trace_id
    assert access[0]["module"] == "orders"
    assert access[0]["request_id"]
    assert access[0]["duration_ms"] >= 0
    applied = [e for e in entries if e.get("event_type") == "payment:authorized"]
    assert applied, "no log line of orders applying payment:authorized"
    assert applied[0]["module"] == "orders"
    assert applied[0]["trace_id"] == trace_id

    # --- one API description, whichever process answers --------------------------------
    descriptions = [httpx.get(f"{cluster.url(m)}/openapi.json", timeout=10).json()
                    for m in MODULE_NAMES]
    assert all(d == descriptions[0] for d in descriptions)
    assert set(descriptions[0]["paths"]) >= {"/api/users/signup", "/api/tickets",
                                              "/api/orders", "/api/payments"}
