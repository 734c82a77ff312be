"""One description of the HTTP API in every layout: ``/openapi.json``, which ``/docs`` renders.

A process describes every slice's JSON API, not only its own modules': split, the ingress
sends ``/openapi.json`` to one process, and what a client reads there must be the
product's API. quart-schema writes the document from the routes' own decorators, on a
throwaway app holding every slice's blueprints (their views reach a facade only when they
answer a request, so no module is needed), once per process, at the first request.

Only ``/api/`` is described. Pages, static files, the probes and metrics are no API; nor
are the live streams under ``/live/``: they are the pages' progressive enhancement, not in
the contract, and endless ``text/event-stream`` bodies that no schema describes (and that
a fuzzer of the description would wait on forever).

What the contract says of every operation is added to quart-schema's document:

- the error shape (:class:`ErrorResponse`) for each status the operation can answer: 400
  when it validates a body (and 413) or a query, 401 behind :func:`signed_in`, 403 for a
  state-changing method (the cross-site check), 404 with an id in its path, 500 and 503
  always (every request to a slice may wait on its module's database, for the consistency
  cookie), and what :func:`refuses` declares for the rules no decorator shows;
- the session cookie as a security scheme, required by every operation behind
  :func:`signed_in`;
- a tag per resource (``/api/<tag>/…``); a 204 has no content.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from quart import Quart, Response, jsonify
from quart_schema import Info, QuartSchema
from quart_schema.conversion import model_schema
from quart_schema.openapi import QUART_SCHEMA_SECURITY_ATTRIBUTE, OpenAPIProvider
from quart_schema.validation import (
    QUART_SCHEMA_QUERYSTRING_ATTRIBUTE,
    QUART_SCHEMA_REQUEST_ATTRIBUTE,
)
from werkzeug.routing import Rule

from ticketing import __version__
from ticketing.errors import message_of
from ticketing.web.shell.schemas import ErrorResponse
from ticketing.web.shell.session import SESSION_COOKIE, STATE_CHANGING
from ticketing.web.shell.slices import Slice

API_PREFIX = "/api/"
INFO = Info(title="Ticketing", version=__version__,
            description="Buy and sell tickets; see docs/ for the event contracts.")
REFUSES_ATTRIBUTE = "_ticketing_refuses"
ViewT = TypeVar("ViewT", bound=Callable[..., Any])


@dataclass(frozen=True)
class Refusal:
    """How the description shows one error status: a shared response, an example message."""

    name: str
    code: str
    meaning: str
    retry_after: bool = False


REFUSALS: dict[int, Refusal] = {
    400: Refusal("BadRequest", "bad_request", "A field rule failed (one entry per rule, "
                 "`field` naming it), the body is not a JSON object, or a business rule "
                 "refused the request: the message says which."),
    401: Refusal("NotAuthorized", "not_authorized", "Not signed in, or not yours."),
    403: Refusal("CrossSite", "cross_site", "A browser sent it from another site."),
    404: Refusal("NotFound", "not_found", "No such id."),
    409: Refusal("Conflict", "conflict", "Changed, or being changed, by someone else: "
                 "read it again and retry."),
    413: Refusal("TooLarge", "body_too_large", "More than the server reads of a request."),
    429: Refusal("Throttled", "throttled", "Too many attempts from this address or for "
                 "this account; retry after `Retry-After` seconds.", retry_after=True),
    500: Refusal("Unexpected", "unexpected", "Logged with the request's `X-Request-Id`."),
    503: Refusal("Unavailable", "database_unavailable", "A database (or the payment "
                 "provider) did not answer; retry after `Retry-After` seconds.",
                 retry_after=True),
}


def refuses(*statuses: int) -> Callable[[ViewT], ViewT]:
    """Route decorator: the error statuses its rules answer that no other decorator shows
    (a rule's 400 on a route without a body, 404 for an id in the body, 409, 429)."""
    unknown = set(statuses) - REFUSALS.keys()
    if unknown:
        raise ValueError(f"no such refusal: {sorted(unknown)}")

    def mark(view: ViewT) -> ViewT:
        setattr(view, REFUSES_ATTRIBUTE, frozenset(statuses))
        return view

    return mark


def refusals(rule: Rule, method: str, view: Callable[..., Any]) -> list[int]:
    """The error statuses an operation can answer, from its route and decorators."""
    found = {500, 503, *getattr(view, REFUSES_ATTRIBUTE, ())}
    if hasattr(view, QUART_SCHEMA_REQUEST_ATTRIBUTE):
        found |= {400, 413}
    if hasattr(view, QUART_SCHEMA_QUERYSTRING_ATTRIBUTE):
        found.add(400)
    if getattr(view, QUART_SCHEMA_SECURITY_ATTRIBUTE, None):
        found.add(401)
    if method.upper() in STATE_CHANGING:
        found.add(403)
    if rule.arguments:
        found.add(404)
    return sorted(found)


def shared_response(refusal: Refusal) -> dict[str, Any]:
    """The response object of one error status, which every operation answering it names."""
    response: dict[str, Any] = {
        "description": f"{message_of(refusal.code)}. {refusal.meaning}",
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ErrorResponse"},
            "example": {"errors": [{"message": message_of(refusal.code)}]},
        }},
    }
    if refusal.retry_after:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait",
                                               "schema": {"type": "integer"}}}
    return response


class ApiDescription(OpenAPIProvider):
    """quart-schema's description of ``/api/``, with the contract's errors and session."""

    def generate_rules(self) -> Iterable[Rule]:
        return (rule for rule in super().generate_rules() if rule.rule.startswith(API_PREFIX))

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        view = self._app.view_functions[rule.endpoint]
        for path, operations in paths.items():
            for method, operation in operations.items():
                # quart-schema shares one responses dict between a rule's methods: copy it.
                responses = dict(operation["responses"])
                if 204 in responses:
                    responses[204] = {"description": responses[204]["description"]}
                for status in refusals(rule, method, view):
                    responses[status] = {"$ref": "#/components/responses/"
                                                 + REFUSALS[status].name}
                operation["responses"] = responses
                operation["tags"] = [path.removeprefix(API_PREFIX).split("/")[0]]
        return paths, components

    def schema(self) -> dict[str, Any]:
        document = super().schema()
        components = document["components"]
        error_schema = model_schema(ErrorResponse, schema_mode="serialization")
        components["schemas"].update(error_schema.pop("$defs", {}), ErrorResponse=error_schema)
        components["responses"] = {refusal.name: shared_response(refusal)
                                   for refusal in REFUSALS.values()}
        components["securitySchemes"] = {SESSION_COOKIE: {
            "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
            "description": "Set by signing up or in (HttpOnly), ended by signing out. A "
                           "browser sends it by itself: sign in here and try the rest.",
        }}
        return document


@cache
def describe(slices: tuple[Slice, ...]) -> dict[str, Any]:
    """The API of ``slices``, described once per process."""
    describer = Quart(__name__, static_folder=None)
    QuartSchema(describer, info=INFO, openapi_path=None, openapi_provider_class=ApiDescription)
    for web_slice in slices:
        for blueprint in web_slice.blueprints:
            describer.register_blueprint(blueprint)
    document: dict[str, Any] = describer.extensions["QUART_SCHEMA"].openapi_provider.schema()
    return document


def install_api_description(app: Quart, every_slice: Sequence[Slice]) -> None:
    """quart-schema for the routes ``app`` serves (their bodies validated, their answers
    converted), and ``GET /openapi.json``: the API of ``every_slice``, served or not."""
    QuartSchema(app, openapi_path=None, swagger_ui_path=None,  # web/shell/assets.py: /docs
                redoc_ui_path=None, scalar_ui_path=None)
    slices = tuple(every_slice)

    @app.get("/openapi.json")
    async def openapi() -> Response:
        """The HTTP API of every module, whichever this process runs."""
        return jsonify(describe(slices))

