"""Traces that follow a purchase across processes: W3C trace context in every event.

A request's span is the parent of the events its transaction publishes: each event's
envelope carries the ``traceparent`` of a *publish* span (it is in the outbox row's body
and, over NATS, in the message headers too), and a consumer applies the event inside a
span whose parent that is. So ``POST /api/orders`` -> orders' commit -> tickets' hold ->
expiration's deadline -> payments' replica is one trace, in one process or five.

Spans are recorded only while something exports them: the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) turns on the
OTLP/HTTP exporter, tests :func:`export_to` an in-memory one. Without an exporter every
span is still *made*, unsampled, so trace ids are still carried from request to events and
written in the logs (grep one purchase across the pods), at a fraction of the cost of
recording (docs/benchmarks.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, Span, SpanKind, TraceState
from opentelemetry.util.types import Attributes

TRACER_NAME = "ticketing"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACEPARENT = "traceparent"


class WhileExported(Sampler):
    """Records spans once an exporter is attached; before that, none: an unsampled span
    costs little and still carries its trace id.

    A trace is kept or dropped by its id alone (``OTEL_TRACES_SAMPLER_ARG``, a ratio,
    default 1), the same way in every process, and whatever the sampled flag of a
    context that came from outside says: a client's ``traceparent`` joins its trace but
    cannot switch recording off, nor can a process that was not exporting. Spans started
    inside a process follow their parent.
    """

    def __init__(self, ratio: float = 1.0) -> None:
        self.exporting = False
        by_id = ALWAYS_ON if ratio >= 1 else TraceIdRatioBased(ratio)
        self._when_exporting = ParentBased(by_id, remote_parent_sampled=by_id,
                                           remote_parent_not_sampled=by_id)

    def should_sample(self, parent_context: context.Context | None, trace_id: int,
                      name: str, kind: SpanKind | None = None, attributes: Attributes = None,
                      links: Sequence[Link] | None = None,
                      trace_state: TraceState | None = None) -> SamplingResult:
        if not self.exporting:
            return SamplingResult(Decision.DROP)
        return self._when_exporting.should_sample(parent_context, trace_id, name, kind,
                                                  attributes, links, trace_state)

    def get_description(self) -> str:
        return "WhileExported"


def _ratio() -> float:
    """``OTEL_TRACES_SAMPLER_ARG``: the share of traces recorded (malformed: all)."""
    try:
        return min(1.0, max(0.0, float(os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1"))))
    except ValueError:
        return 1.0


_SAMPLER = WhileExported(_ratio())


def configure(service: str) -> TracerProvider:
    """Install this process's tracer provider once (the first app built wins); returns it.

    ``service`` names the process in the traces, e.g. ``ticketing-orders``.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service}),
                              sampler=_SAMPLER)
    trace.set_tracer_provider(provider)
    if any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_to(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def export_to(processor: SpanProcessor) -> None:
    """Hand every span from now on to ``processor`` (an exporter's), recording them."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "configure() first"
    provider.add_span_processor(processor)
    _SAMPLER.exporting = True


# A proxy that finds the provider once configure() installs it: the SDK's get_tracer()
# builds a new tracer on every call (about 50 us, more than a span).
_TRACER = trace.get_tracer(TRACER_NAME)


def tracer() -> trace.Tracer:
    """The process's tracer (its provider is the one :func:`configure` installed)."""
    return _TRACER


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or ``None`` outside any trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(headers: Mapping[str, str]) -> context.Context:
    """The trace context a carrier (HTTP or NATS headers, an envelope) names."""
    return propagate.extract(headers)


@contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, traceparent: str | None = None,
         attributes: Mapping[str, str] | None = None) -> Iterator[Span]:
    """A current span; its parent is ``traceparent`` when given, else the current span."""
    parent = context_of({TRACEPARENT: traceparent}) if traceparent else None
    # Exceptions are the caller's to judge: a duplicate delivery is no error.
    with tracer().start_as_current_span(name, context=parent, kind=kind,
                                        attributes=attributes, record_exception=False,
                                        set_status_on_exception=False) as opened:
        yield opened


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id a ``traceparent`` names (for logs about an event not yet opened)."""
    return traceparent.split("-")[1] if traceparent else None


def ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span in hex, for logs; ``None`` outside a trace."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return format(found.trace_id, "032x"), format(found.span_id, "016x")
