"""What the bus tells an operator about a failing event, on every transport: the failure's
log line names the event and its trace, its span is an error (a duplicate's is not), and
an unreplayed dead letter shows in the sampled gauge until it is replayed."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client import REGISTRY

from tests.support.bus import BusHarness
from ticketing.cli import bus_replay
from ticketing.telemetry import logs, tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    tracing.configure("ticketing-tests")
    exporter = InMemorySpanExporter()
    tracing.export_to(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


async def test_a_failure_is_logged_with_the_events_ids_and_its_span_is_an_error(
    bus_harness: BusHarness, spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ticketing.bus")
    caplog.handler.addFilter(logs.ContextFilter())
    bus_harness.probe.fail_times = 1
    bus = await bus_harness.started()
    with tracing.span("the request") as request:
        [envelope] = await bus_harness.emit(bus)

    await bus_harness.wait_for_effects(1)

    [failure] = [r for r in caplog.records if "failed" in r.getMessage()]
    assert failure.bound["event_id"] == envelope.id  # type: ignore[attr-defined]
    assert failure.bound["event_type"] == "ticket:created"  # type: ignore[attr-defined]
    assert failure.bound["module"] == "payments"  # type: ignore[attr-defined]
    assert failure.bound["trace_id"] == format(  # type: ignore[attr-defined]
        request.get_span_context().trace_id, "032x")
    applies = [s for s in spans.get_finished_spans() if s.name == "payments apply ticket:created"]
    assert [s.status.status_code for s in applies] == [StatusCode.ERROR, StatusCode.UNSET]
    assert {s.context.trace_id for s in applies} == {request.get_span_context().trace_id}


async def test_a_duplicate_delivery_is_no_error_of_its_span(
    bus_harness: BusHarness, spans: InMemorySpanExporter,
) -> None:
    bus = await bus_harness.started()
    [envelope] = await bus_harness.emit(bus)
    await bus_harness.wait_for_effects(1)
    consumer = bus.modules["payments"].consumer
    assert consumer is not None

    assert await consumer.handle(envelope) is False

    applies = [s for s in spans.get_finished_spans() if s.name == "payments apply ticket:created"]
    assert len(applies) == 2
    assert {s.status.status_code for s in applies} == {StatusCode.UNSET}
    assert applies[1].attributes is not None
    assert applies[1].attributes["ticketing.outcome"] == "duplicate"


def unreplayed() -> float | None:
    return REGISTRY.get_sample_value("ticketing_dead_letters_unreplayed",
                                     {"consumer": "payments"})


async def test_an_unreplayed_dead_letter_shows_until_it_is_replayed(
    bus_harness: BusHarness,
) -> None:
    bus = await bus_harness.started()
    envelope = await bus_harness.dead_lettered(bus)

    await bus.sample()
    assert unreplayed() == 1
    bus_harness.probe.always_fail = False
    assert await bus_replay(bus, envelope.id, io.StringIO(), io.StringIO()) == 0
    await bus.sample()
    assert unreplayed() == 0
