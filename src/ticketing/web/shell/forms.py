"""Helpers shared by the server-rendered forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart import redirect, request
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers.response import Response as WerkzeugResponse

from ticketing.errors import DomainError, ValidationFailed


def errors_by_field(error: DomainError) -> dict[str, str]:
    """Map a failure to ``{field: message}``; a rule about no field goes under ``""``."""
    if isinstance(error, ValidationFailed):
        found: dict[str, str] = {}
        for entry in error.errors:
            found.setdefault(entry.field or "", entry.message)
        return found
    return {"": error.message}


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be a post-sign-in destination (no open redirects).

    Browsers drop tabs and newlines from a URL (``/<TAB>/evil.com`` becomes
    ``//evil.com``), so control characters and blanks disqualify a target; non-ASCII
    is percent-encoded because a ``Location`` header carries only ASCII.
    """
    if (not target or not target.startswith("/") or target.startswith("//")
            or "\\" in target or any(c <= " " or c == "\x7f" for c in target)):
        return default
    return iri_to_uri(target)


def sign_in_redirect() -> WerkzeugResponse:
    """Send a signed-out visitor to sign in, then back to where they were going."""
    from urllib.parse import urlencode

    return redirect("/auth/signin?" + urlencode({"next": request.full_path.rstrip("?")}))


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """What the user typed, to put back into the form (never the password)."""
    return {key: str(value) for key, value in form.items() if key != "password"}
