"""Domain errors shared by every module: a stable code and a human message each.

Modules raise these; ``ticketing.web.errors`` is the one place that turns them into
HTTP responses of the contract's shape.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One failed rule: the contract's message and the body field it concerns."""

    message: str
    field: str | None = None


class DomainError(Exception):
    """A broken business rule: 400 with the message, unless a subclass says otherwise."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status = 404
    code = "not_found"

    def __init__(self, message: str = "Not Found") -> None:
        super().__init__(message)


class NotAuthorized(DomainError):
    status = 401
    code = "not_authorized"

    def __init__(self, message: str = "Not authorized") -> None:
        super().__init__(message)


class Conflict(DomainError):
    """A concurrent change won: the client should re-read and retry."""

    status = 409
    code = "conflict"


class Throttled(DomainError):
    status = 429
    code = "throttled"

    def __init__(self, retry_after: int,
                 message: str = "Too many attempts, try again later") -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ValidationFailed(DomainError):
    """One or more body rules failed; each entry names its field."""

    code = "validation"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors
