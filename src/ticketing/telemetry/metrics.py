"""Every Prometheus series the product exposes, on prometheus-client's default registry.

Labels are bounded: a route template, a method, a status, a module, an event's wire type,
an outcome or reason from a closed set; never an id. With ``serve --workers`` above 1
each worker writes its figures to ``PROMETHEUS_MULTIPROC_DIR`` (set by the CLI before the
workers start) and a scrape of any worker reads them all (:func:`exposition`).

Gauges that describe the database (outbox backlog, pending expirations) or the broker
(consumer lag) are sampled when scraped, by the samplers the bus and the modules
register: every worker sees the same rows, so the most recent sample is the value.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: 1 ms to 10 s, for requests, handlers and provider calls alike.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds late: an expiration fires on the whole second, so lateness under 2 s is on time.
LATENESS_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)

Sampler = Callable[[], Awaitable[None]]

HTTP_REQUESTS = Counter(
    "ticketing_http_requests", "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"])
HTTP_LATENCY = Histogram(
    "ticketing_http_request_duration_seconds",
    "Time from a request's arrival to its response head, by route template and method",
    ["route", "method"], buckets=LATENCY_BUCKETS)
HTTP_IN_FLIGHT = Gauge(
    "ticketing_http_requests_in_flight",
    "Requests being handled that count against the load-shedding bound",
    multiprocess_mode="livesum")
REQUESTS_SHED = Counter(
    "ticketing_requests_shed", "Requests refused at once (503) because too many were in "
    "flight, by kind (api, page)", ["kind"])
SHEDDING_BOUND = Gauge(
    "ticketing_shedding_bound", "Requests this process admits in flight now (adapted to the "
    "latency target when one is set)", multiprocess_mode="liveall")
LIVE_STREAMS = Gauge(
    "ticketing_live_streams_open", "Server-Sent Event streams connected to this process",
    multiprocess_mode="livesum")

OUTBOX_BACKLOG = Gauge(
    "ticketing_outbox_backlog", "Outbox rows committed but not yet relayed, by module",
    ["module"], multiprocess_mode="mostrecent")
OUTBOX_OLDEST_AGE = Gauge(
    "ticketing_outbox_oldest_unsent_age_seconds",
    "Age of the oldest outbox row not yet relayed (0 when none), by module",
    ["module"], multiprocess_mode="mostrecent")
EVENTS_PUBLISHED = Counter(
    "ticketing_events_published", "Events the relay handed to the transport, by module and type",
    ["module", "type"])
EVENTS_CONSUMED = Counter(
    "ticketing_events_consumed",
    "Delivery attempts by consumer, type and outcome (applied, duplicate, retry, "
    "dead-lettered)", ["consumer", "type", "outcome"])
EVENTS_REDELIVERED = Counter(
    "ticketing_events_redelivered", "Deliveries after the first of the same event, by consumer "
    "and type", ["consumer", "type"])
EVENTS_DEAD_LETTERED = Counter(
    "ticketing_events_dead_lettered", "Events a consumer gave up on (see ticketing bus replay)",
    ["consumer", "type"])
HANDLER_LATENCY = Histogram(
    "ticketing_event_handler_duration_seconds",
    "Time a consumer's handler took to apply one event, by consumer and type",
    ["consumer", "type"], buckets=LATENCY_BUCKETS)
DEAD_LETTERS_WAITING = Gauge(
    "ticketing_dead_letters_unreplayed",
    "Dead letters a consumer holds that nobody has replayed yet, by consumer",
    ["consumer"], multiprocess_mode="mostrecent")
CONSUMER_LAG = Gauge(
    "ticketing_consumer_lag",
    "Events stored in JetStream that a consumer has not acknowledged (num_pending plus "
    "num_ack_pending); absent in one process, where the outbox backlog is the lag",
    ["consumer"], multiprocess_mode="mostrecent")

RESERVATIONS = Counter(
    "ticketing_reservations", "Reservation requests by outcome: made, or the refusal's code",
    ["outcome"])
ORDERS_CLOSED = Counter(
    "ticketing_orders_closed", "Orders that reached a final state: complete, cancelled, expired",
    ["state"])
EXPIRATIONS_PENDING = Gauge(
    "ticketing_expirations_pending", "Order deadlines stored and not yet fired",
    multiprocess_mode="mostrecent")
EXPIRATION_OVERDUE = Gauge(
    "ticketing_expiration_overdue_seconds",
    "How far past its deadline the oldest pending expiration is (0 when none is due)",
    multiprocess_mode="mostrecent")
EXPIRY_LATENESS = Histogram(
    "ticketing_expiry_lateness_seconds", "How long after its deadline an order was expired",
    buckets=LATENESS_BUCKETS)
PAYMENTS = Counter(
    "ticketing_payments", "Payment attempts that ended, by outcome (succeeded, declined, "
    "voided, refunded, failed)", ["outcome"])
MAIL = Counter(
    "ticketing_mail_messages", "Mail sending attempts, by outcome (sent, retried: the server "
    "could not take it now, failed: refused for good or given up on)", ["outcome"])
PROVIDER_LATENCY = Histogram(
    "ticketing_payment_provider_duration_seconds",
    "Calls to the payment provider, by operation and result (ok, declined, error)",
    ["operation", "result"], buckets=LATENCY_BUCKETS)


@contextmanager
def timed(histogram: Histogram, **labels: str) -> Iterator[None]:
    """Observe the block's duration in ``histogram`` (with ``labels``), even if it raises."""
    started = time.perf_counter()
    try:
        yield
    finally:
        target = histogram.labels(**labels) if labels else histogram
        target.observe(time.perf_counter() - started)


def multiprocess_dir() -> str | None:
    """Where the workers of ``serve --workers N`` write their figures; ``None`` alone."""
    return os.environ.get(MULTIPROCESS_DIR_VARIABLE) or None


def exposition() -> bytes:
    """The text format of every series: this process's, or every worker's in multiprocess
    mode."""
    if multiprocess_dir() is None:
        from prometheus_client import REGISTRY

        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def worker_exited(pid: int) -> None:
    """Drop a finished worker's live gauges (its counters stay: they were counted)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
