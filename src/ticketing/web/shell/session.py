"""Who is signed in, and cross-site request protection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

from quart import Quart, Response, g, request
from quart_schema import security_scheme

from ticketing.errors import DomainError, NotAuthorized
from ticketing.modules.auth.api import SessionReader, SessionUser
from ticketing.web.shell.telemetry import request_id

SESSION_COOKIE = "session"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TRUSTED_FETCH_SITES = frozenset({"same-origin", "none"})

P = ParamSpec("P")
R = TypeVar("R")


class CrossSiteRequest(DomainError):
    status = 403
    code = "cross_site"


def current_user() -> SessionUser | None:
    """The signed-in user of this request, or ``None``."""
    user: SessionUser | None = g.get("user")
    return user


def require_user() -> SessionUser:
    """The signed-in user, or a 401 ``Not authorized``."""
    user = current_user()
    if user is None:
        raise NotAuthorized()
    return user


def signed_in(view: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Route decorator: 401 unless signed in, checked before the body is validated; the
    API description lists the session cookie as the route's security (``openapi.py``).

    Put it between the route and ``@validate_request`` so a signed-out request with a
    bad body is a 401, as the contract orders the checks (authentication first).
    """

    @wraps(view)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        require_user()
        return await view(*args, **kwargs)

    return security_scheme([{SESSION_COOKIE: []}])(guarded)


def client_address() -> str:
    return request.remote_addr or "unknown"


def is_cross_site() -> bool:
    """Browsers say where a request comes from; clients that send nothing are not browsers.

    ``Sec-Fetch-Site`` is trusted first; older browsers are judged by ``Origin``.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site not in TRUSTED_FETCH_SITES
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != request.host


def install_session(app: Quart, reader: SessionReader) -> None:
    """Read the session cookie, note the request's id, refuse cross-site writes."""

    @app.before_request
    async def identify() -> None:
        g.request_id = request_id()
        g.user = reader.read(request.cookies.get(SESSION_COOKIE))
        if request.method in STATE_CHANGING and is_cross_site():
            raise CrossSiteRequest()


def set_session_cookie(response: Response, value: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, value, max_age=max_age, path="/", httponly=True,
                        samesite="Lax", secure=secure)


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=secure)
