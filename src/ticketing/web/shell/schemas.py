"""The shell's response shape, the contract's error body, and helpers for the slices'
response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema


def absent_when_unset(schema: dict[str, Any]) -> None:
    """Document an optional key as absent, not as ``null``: the JSON never holds one."""
    schema.pop("default")


def wire_time(value: datetime | None) -> str | None:
    """A time as the API writes it: ISO 8601 in UTC, ending in Z (None stays null)."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ErrorEntry(BaseModel):
    """One failed rule: its message, and the body field it concerns, if any."""

    message: str
    field: str | SkipJsonSchema[None] = Field(default=None, json_schema_extra=absent_when_unset)


class ErrorResponse(BaseModel):
    """The contract's error shape: one entry per failed rule."""

    errors: list[ErrorEntry] = Field(min_length=1)
