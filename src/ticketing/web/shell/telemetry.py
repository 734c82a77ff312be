"""Each request measured, traced and logged; ``GET /metrics`` for Prometheus (ADR 17).

An ASGI middleware around the whole app (load shedding included) gives every request an
id (a well-formed ``X-Request-Id`` it came with, or a new one, echoed on the response), a
server span (joining the trace a ``traceparent`` it came with names; none for the probes
and the scrape), the request counter and latency histogram by route template and a
bounded method, and one access-log line. The route template is what the router
matched (``/api/orders/<order_id>``), never the path, so the labels stay bounded; a
path nothing matched counts as ``unmatched``.

``/metrics`` first asks the samplers (the bus's outbox and lag, the modules' own) to
refresh the gauges they own, then answers the text format. It is for Prometheus, which
scrapes the pods directly: a request that came through a proxy (``X-Forwarded-For``) is
answered 404, so the Ingress never exposes it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from opentelemetry import context as trace_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from quart import Quart, Response, request
from quart_schema import hide

from ticketing.errors import FieldError, message_of
from ticketing.telemetry import logs, metrics, tracing
from ticketing.web.shell.errors import error_response
from ticketing.web.shell.shedding import Shedding

log = logging.getLogger("ticketing.access")

# The ASGI shapes, loosely: the middleware reads a few keys and adds its own.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_KEY = "ticketing.request_id"
ROUTE_KEY = "ticketing.route"
MODULE_KEY = "ticketing.module"
UNMATCHED = "unmatched"
# The method label's values: any other token a client sends counts as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _request_id(offered: str) -> str:
    """A proxy's request id when it is a plain token, else a fresh one.

    The id is written into every log line of the request: free text from a client could
    forge fields there (``x request_id=someone-else``) or bloat each line.
    """
    return offered if REQUEST_ID_SHAPE.fullmatch(offered) else uuid.uuid4().hex


def request_id() -> str:
    """The id of the request being handled."""
    return str(_scope().get(REQUEST_ID_KEY) or "-")


def _scope() -> Scope:
    return cast(Scope, request.scope)


class Instrumented:
    """The ASGI app wrapped: request id, server span, request metrics and access log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1")
                   for key, value in scope.get("headers", ())}
        scope[REQUEST_ID_KEY] = request_id = _request_id(headers.get(REQUEST_ID_HEADER, ""))
        method = scope["method"] if scope["method"] in METHODS else OTHER_METHOD
        started = time.perf_counter()
        status = 500  # if the app fails before it answers, the server answers 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()),
                                      (REQUEST_ID_HEADER.encode(), request_id.encode())]
                route = scope.get(ROUTE_KEY) or UNMATCHED
                metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
                metrics.HTTP_LATENCY.labels(route, method).observe(
                    time.perf_counter() - started)
            await send(message)

        with _server_span(scope, method, headers, lambda: status), \
                logs.bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                _log_access(scope, request_id, status, time.perf_counter() - started)


@contextmanager
def _server_span(scope: Scope, method: str, headers: Mapping[str, str],
                 status: Callable[[], int]) -> Iterator[None]:
    """The request's span, continuing the trace a ``traceparent`` names; none for the
    probes and the scrape, which come every few seconds and say nothing of a purchase."""
    if scope.get("path") in UNTRACED_PATHS:
        yield
        return
    span = tracing.tracer().start_span(
        method, kind=SpanKind.SERVER, context=tracing.context_of(headers),
        attributes={"http.request.method": method, "url.path": scope.get("path", "")})
    token = trace_context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        route = scope.get(ROUTE_KEY) or UNMATCHED
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status())
        if status() >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        trace_context.detach(token)


def _log_access(scope: Scope, request_id: str, status: int, seconds: float) -> None:
    """One line per request: client, method, path, status and duration in the message;
    the route template and the figures as fields too (JSON logs)."""
    client = (scope.get("client") or ("unknown",))[0]
    query = scope.get("query_string", b"").decode("latin-1")
    path = scope.get("path", "") + (f"?{query}" if query else "")
    route = scope.get(ROUTE_KEY) or UNMATCHED
    # The module is a bound field ("module" is a LogRecord attribute, no extra's name).
    with logs.bound(module=scope.get(MODULE_KEY)):
        log.info('%s "%s %s" %d %.1fms', client, scope["method"], path, status,
                 seconds * 1000,
                 extra={"request_id": request_id, "client": client,
                        "method": scope["method"], "route": route, "status": status,
                        "duration_ms": round(seconds * 1000, 2)})


def install_telemetry(app: Quart, samplers: Sequence[metrics.Sampler],
                      modules_by_blueprint: Mapping[str, str], max_in_flight: int,
                      latency_target_ms: int) -> None:
    """Wrap ``app`` in :class:`Instrumented` around load shedding (a shed request is
    counted, logged and traced like any), note each request's route template and the
    module whose slice serves it, and serve ``/metrics`` after running ``samplers``."""
    app.asgi_app = Instrumented(  # type: ignore[method-assign]
        Shedding(app.asgi_app, max_in_flight, latency_target_ms / 1000))

    @app.before_request
    async def note_route() -> None:
        if request.url_rule is not None:
            _scope()[ROUTE_KEY] = request.url_rule.rule
        module = modules_by_blueprint.get(request.blueprint or "")
        if module is not None:
            _scope()[MODULE_KEY] = module
            logs.bind_request(module=module)

    @app.get("/metrics")
    @hide
    async def scrape() -> Response:
        """Prometheus' text format, for scrapers that reach the pod directly."""
        if "X-Forwarded-For" in request.headers:
            return await error_response(404, [FieldError(message_of("not_found"))])
        for sample in samplers:
            try:
                await sample()
            except Exception as error:  # a database away must not fail the scrape
                logging.getLogger("ticketing.metrics").warning(
                    "a gauge was not refreshed: %r", error)
        return Response(metrics.exposition(), content_type=metrics.CONTENT_TYPE)
