"""The one error mapping: every failure becomes the contract's shape.

``/api/*`` and the live streams (``/live/*``) answer ``{"errors": [{"message", "field"?}]}``;
pages get an HTML error page.
Unexpected exceptions are logged with the request id and never leak a traceback.
"""

from __future__ import annotations

import errno
import logging
import socket
import sqlite3
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError
from quart import Quart, Request, Response, g, jsonify, render_template, request
from quart_schema import RequestSchemaValidationError
from tortoise.exceptions import DBConnectionError, OperationalError
from werkzeug.exceptions import HTTPException

from ticketing.errors import DomainError, FieldError, Throttled, ValidationFailed, message_of
from ticketing.web.shell.schemas import ErrorEntry, ErrorResponse

log = logging.getLogger("ticketing.web")

DATABASE_RETRY_AFTER_SECONDS = 5


class MalformedJson(DomainError):
    code = "malformed_json"


class DeeplyNestedJson(MalformedJson):
    code = "deeply_nested_json"


class DatabaseUnavailable(Exception):
    """A module's database did not answer."""


def is_api_request() -> bool:
    return request.path.startswith(("/api/", "/live/"))


async def error_response(status: int, errors: list[FieldError],
                         headers: dict[str, str] | None = None) -> Response:
    """Render ``errors`` as JSON for the API or as an HTML page for browsers."""
    if is_api_request():
        body = ErrorResponse(errors=[ErrorEntry(message=e.message, field=e.field or None)
                                     for e in errors])
        response = jsonify(body.model_dump(exclude_none=True))
    else:
        html = await render_template("error.html", status=status, errors=errors)
        response = Response(html, mimetype="text/html")
    response.status_code = status
    response.headers.update(headers or {})
    return response


def field_errors_from_pydantic(error: ValidationError | Exception) -> list[FieldError]:
    """Turn a schema failure into contract entries; our validators carry the exact text."""
    if not isinstance(error, ValidationError):
        return [FieldError(message_of("not_json_object"))]
    found: list[FieldError] = []
    for detail in error.errors():
        location = detail.get("loc", ())
        if not location:
            return [FieldError(message_of("not_json_object"))]
        message = detail["msg"] if detail["type"] == "contract" else f"Invalid {location[0]}"
        found.append(FieldError(message, str(location[0])))
    return found


_NO_SUCH_FILE = (errno.ENAMETOOLONG, errno.ENOENT, errno.ENOTDIR, errno.EISDIR)
_UNREACHABLE_HINTS = ("unable to open database", "connection", "could not connect")


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """``error`` and what caused it, innermost last."""
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _is_database_failure(error: BaseException | None) -> bool:
    """True when ``error`` (or what caused it) says a database could not be reached."""
    for cause in _causes(error):
        # Not every OSError: a file name too long for the disk is no database failure.
        if isinstance(cause, DBConnectionError | ConnectionError | TimeoutError
                      | socket.gaierror | DatabaseUnavailable):
            return True
        if isinstance(cause, OperationalError | sqlite3.OperationalError) and any(
            hint in str(cause).lower() for hint in _UNREACHABLE_HINTS
        ):
            return True
        if type(cause).__module__.startswith("asyncpg") and (
            "Connection" in type(cause).__name__ or "Interface" in type(cause).__name__
        ):
            return True
    return False


def _refused_for_lack_of_connections(error: BaseException | None) -> bool:
    return any(type(cause).__name__ == "TooManyConnectionsError" for cause in _causes(error))


def register_error_handlers(app: Quart) -> None:
    """Install the mapping; routes only raise."""

    @app.errorhandler(RequestSchemaValidationError)
    async def on_schema_error(error: RequestSchemaValidationError) -> Response:
        return await error_response(400, field_errors_from_pydantic(error.validation_error))

    @app.errorhandler(ValidationFailed)
    async def on_validation(error: ValidationFailed) -> Response:
        return await error_response(400, error.errors)

    @app.errorhandler(Throttled)
    async def on_throttled(error: Throttled) -> Response:
        return await error_response(429, [FieldError(error.message)],
                                    {"Retry-After": str(error.retry_after)})

    @app.errorhandler(DomainError)
    async def on_domain(error: DomainError) -> Response:
        return await error_response(error.status, [FieldError(error.message)])

    @app.errorhandler(HTTPException)
    async def on_http(error: HTTPException) -> Response:
        status = error.code or 500
        messages = {400: message_of("bad_request"), 404: message_of("not_found"),
                    405: message_of("method_not_allowed"), 413: message_of("body_too_large")}
        response = await error_response(status, [FieldError(messages.get(status, error.name))])
        allow = dict(error.get_headers()).get("Allow")
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.errorhandler(OSError)
    async def on_os_error(error: OSError) -> Response:
        """A file the request named cannot be opened (its name is too long, say): 404."""
        if error.errno not in _NO_SUCH_FILE or _is_database_failure(error):
            return await on_unexpected(error)
        log.info("request_id=%s file error answered 404: %s", getattr(g, "request_id", "-"),
                 error)
        return await error_response(404, [FieldError(message_of("not_found"))])

    @app.errorhandler(Exception)
    async def on_unexpected(error: Exception) -> Response:
        request_id = getattr(g, "request_id", "-")
        if _is_database_failure(error):
            if _refused_for_lack_of_connections(error):
                log.error("PostgreSQL refused a connection: too many clients (its "
                          "max_connections); lower TICKETING_DB_POOL_SIZE or the replicas, or "
                          "raise max_connections (docs/deploy.md) request_id=%s", request_id)
            log.error("database unreachable request_id=%s: %s", request_id, error)
            return await error_response(
                503, [FieldError(message_of("database_unavailable"))],
                {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            )
        log.exception("unexpected error request_id=%s", request_id)
        return await error_response(500, [FieldError(message_of("unexpected"))])


class ApiRequest(Request):
    """Quart's request, with malformed JSON turned into the contract's 400."""

    async def get_json(self, force: bool = False, silent: bool = False,
                       cache: bool = True) -> Any:
        # Quart decodes the body as UTF-8 before parsing; bytes that are not UTF-8 raised
        # UnicodeDecodeError there, a 500, instead of reaching on_json_loading_failed.
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)
        except UnicodeDecodeError:
            if silent:
                return None
            raise MalformedJson() from None
        except RecursionError:  # nested deeper than the parser's stack: no body of ours is
            if silent:
                return None
            raise DeeplyNestedJson() from None

    def on_json_loading_failed(self, error: Exception) -> None:
        raise MalformedJson()
