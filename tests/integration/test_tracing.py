"""One purchase is one trace: the request's span is the ancestor of every module's work.

Spans are caught by an in-memory exporter on the process's tracer provider. In one
process the events travel in-process; with ``bus=nats`` they cross a real JetStream
server, carrying the trace context in the envelope and in the message headers. (The split
e2e checks the same across five processes, exported over OTLP.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import nats
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from quart import Quart

from tests.support.nats import NatsServer
from tests.support.payments import open_order, signed_up
from tests.support.trading import settled
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.modules.payments.api import PaymentGateway
from ticketing.settings import Settings
from ticketing.telemetry import tracing

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
# Each step of a reservation, as the module that applies it names its span.
RESERVATION_STEPS = {
    "tickets apply order:created",  # the hold
    "expiration apply order:created",  # the deadline
    "payments apply order:created",  # payments' replica of the order
    "orders apply ticket:updated",  # orders hears of the hold
}

@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Every span recorded during the test (spans are recorded from the moment something
    exports them: for the rest of this process, into exporters shut after their test)."""
    tracing.configure("ticketing-tests")
    exporter = InMemorySpanExporter()
    tracing.export_to(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def trace_of(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    """Every span in the trace of the (one) successful span called ``name``; a
    reservation retried while orders had not heard of the ticket was answered 404."""
    roots = [s for s in exporter.get_finished_spans() if s.name == name
             and (s.attributes or {}).get("http.response.status_code", 200) < 400]
    assert len(roots) == 1, [s.name for s in exporter.get_finished_spans()]
    trace_id = roots[0].context.trace_id
    return [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]


def steps_seen(exporter: InMemorySpanExporter) -> Callable[[], Any]:
    async def probe() -> bool:
        names = {s.name for s in trace_of(exporter, "POST /api/orders")}
        return names >= RESERVATION_STEPS

    return probe


async def reserve_and_follow(app: Quart, spans: InMemorySpanExporter) -> list[ReadableSpan]:
    buyer = await signed_up(app, "traced@test.com")
    await open_order(app, buyer)
    await settled(app)
    await eventually(steps_seen(spans), what="every module's span of the reservation")
    return trace_of(spans, "POST /api/orders")


def assert_one_tree(trace: list[ReadableSpan]) -> None:
    """Every span's parent is in the trace, but the request's: one tree, no orphans."""
    ids = {s.context.span_id for s in trace}
    roots = [s for s in trace if s.parent is None or s.parent.span_id not in ids]
    assert [s.name for s in roots] == ["POST /api/orders"]
    modules = {s.attributes.get("ticketing.module") for s in trace if s.attributes}
    assert {"orders", "tickets", "expiration", "payments"} <= modules


async def test_a_reservation_is_one_trace_in_one_process(
    app: Quart, spans: InMemorySpanExporter,
) -> None:
    trace = await reserve_and_follow(app, spans)

    assert_one_tree(trace)
    assert "publish order:created" in {s.name for s in trace}


async def test_a_reservation_is_one_trace_over_jetstream(
    settings: Settings, nats_server: NatsServer, make_settings: Callable[..., Settings],
    gateway: PaymentGateway, spans: InMemorySpanExporter,
) -> None:
    application = create_app(make_settings(bus="nats", nats_url=nats_server.url),
                             gateway=gateway)
    heard: list[dict[str, str]] = []
    listener = await nats.connect(nats_server.url)

    async def note(message: Any) -> None:
        if message.subject.endswith("order.created"):
            heard.append(dict(message.headers or {}))

    await listener.subscribe("ticketing.events.>", cb=note)
    try:
        async with application.test_app():
            trace = await reserve_and_follow(application, spans)
    finally:
        await listener.close()

    assert_one_tree(trace)
    publish = next(s for s in trace if s.name == "publish order:created")
    assert heard, "order:created was not heard on NATS"
    assert heard[0]["traceparent"].split("-")[1:3] == [
        format(publish.context.trace_id, "032x"), format(publish.context.span_id, "016x")]


async def test_probes_and_scrapes_make_no_spans(
    client: Any, spans: InMemorySpanExporter,
) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/api/tickets"):
        assert (await client.get(path)).status_code == 200

    assert [s.name for s in spans.get_finished_spans()] == ["GET /api/tickets"]


async def test_a_request_continues_the_trace_it_came_with(
    client: Any, spans: InMemorySpanExporter,
) -> None:
    await client.get("/api/tickets",
                     headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})

    server = next(s for s in spans.get_finished_spans() if s.name == "GET /api/tickets")
    assert format(server.context.trace_id, "032x") == TRACE_ID
