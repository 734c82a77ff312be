"""Traces that follow a purchase across processes: W3C trace context in every event.

A request's span is the parent of the events its transaction publishes: each event's
envelope carries the ``traceparent`` of a *publish* span (it is in the outbox row's body
and, over NATS, in the message headers too), and a consumer applies the event inside a
span whose parent that is. So ``POST /api/orders`` -> orders' commit -> tickets' hold ->
expiration's deadline -> payments' replica is one trace, in one process or five.

Spans go nowhere unless an exporter is configured: the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) turns on the
OTLP/HTTP exporter; tests add an in-memory exporter to the provider instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind

TRACER_NAME = "ticketing"
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACEPARENT = "traceparent"


def configure(service: str) -> TracerProvider:
    """Install this process's tracer provider once (the first app built wins); returns it.

    ``service`` names the process in the traces, e.g. ``ticketing-orders``.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


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
    with tracer().start_as_current_span(name, context=parent, kind=kind,
                                        attributes=attributes) as opened:
        yield opened


def ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span in hex, for logs; ``None`` outside a trace."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return format(found.trace_id, "032x"), format(found.span_id, "016x")
