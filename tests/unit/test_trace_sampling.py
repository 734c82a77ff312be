"""Spans are recorded only while exported, yet their trace ids always travel."""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision

from ticketing.telemetry.tracing import TRACEPARENT, WhileExported

SAMPLED = 0x01  # W3C trace flags: the sampled bit


def traceparent_inside_a_span(sampler: WhileExported) -> tuple[str, bool]:
    tracer = TracerProvider(sampler=sampler).get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return carrier[TRACEPARENT], span.is_recording()


def test_without_an_exporter_spans_are_not_recorded_but_their_context_travels() -> None:
    traceparent, recording = traceparent_inside_a_span(WhileExported())

    version, trace_id, span_id, flags = traceparent.split("-")
    assert not recording
    assert version == "00"
    assert not int(flags, 16) & SAMPLED  # a real trace id, marked not sampled
    assert int(trace_id, 16)
    assert int(span_id, 16)


def test_once_exported_spans_are_recorded_and_follow_their_parent() -> None:
    sampler = WhileExported()
    sampler.exporting = True

    traceparent, recording = traceparent_inside_a_span(sampler)

    assert recording
    assert int(traceparent.rsplit("-", 1)[1], 16) & SAMPLED
    unsampled_parent = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
        trace_id=1, span_id=2, is_remote=True, trace_flags=trace.TraceFlags(0))))
    assert sampler.should_sample(unsampled_parent, 1, "child").decision is Decision.DROP
