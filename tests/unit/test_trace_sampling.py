"""Spans are recorded only while exported, yet their trace ids always travel, in envelopes
that keep only a well-formed ``traceparent``."""

from __future__ import annotations

from decimal import Decimal

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision

from ticketing.bus.contracts import Envelope, TicketCreated, traceparent_of
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
    def parent(is_remote: bool) -> Context:
        return trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
            trace_id=1, span_id=2, is_remote=is_remote, trace_flags=trace.TraceFlags(0))))

    # A client's (or an unexported process's) "not sampled" cannot switch recording off;
    # inside a process, a child follows its parent.
    assert sampler.should_sample(parent(True), 1, "child").decision is not Decision.DROP
    assert sampler.should_sample(parent(False), 1, "child").decision is Decision.DROP


def test_a_ratio_keeps_or_drops_a_trace_by_its_id_alone() -> None:
    sampler = WhileExported(ratio=0.5)
    sampler.exporting = True
    kept, dropped = 1, (1 << 64) - 1  # below and above half of the id space's low 64 bits

    for trace_id, decision in ((kept, Decision.RECORD_AND_SAMPLE), (dropped, Decision.DROP)):
        assert sampler.should_sample(None, trace_id, "root").decision is decision
        remote = trace.set_span_in_context(trace.NonRecordingSpan(trace.SpanContext(
            trace_id=trace_id, span_id=2, is_remote=True, trace_flags=trace.TraceFlags(1))))
        assert sampler.should_sample(remote, trace_id, "child").decision is decision

def test_an_envelope_carries_a_well_formed_traceparent_and_drops_any_other() -> None:
    event = TicketCreated(id="t1", version=0, title="Show", price=Decimal("10"), user_id="u1")
    good = f"00-{'a' * 32}-{'b' * 16}-01"

    carried = Envelope.from_json(Envelope.wrap(event, "tickets", good).to_json())
    assert carried.traceparent == good
    assert traceparent_of(carried.to_json()) == good
    assert "traceparent" not in Envelope.wrap(event, "tickets").to_json()
    for bad in ("00-xyz", f"00-{'A' * 32}-{'b' * 16}-01", "x" * 55, f"{good}\\nInjected: 1"):
        forged = Envelope.wrap(event, "tickets", bad).to_json()
        assert Envelope.from_json(forged).traceparent is None, bad
        assert traceparent_of(forged) is None, bad
