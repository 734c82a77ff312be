"""Request bodies: pydantic models whose validators carry the contract's exact messages.

The same models check JSON bodies (through quart-schema, which also documents them)
and HTML forms (through :func:`parse_form`), so a rule is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from ticketing.errors import ValidationFailed
from ticketing.web.errors import field_errors_from_pydantic

BodyT = TypeVar("BodyT", bound="Body")


class Body(BaseModel):
    """Base of every request body: unknown fields are ignored, rules run on missing ones."""

    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True)


def rule_failed(message: str) -> PydanticCustomError:
    """The error a validator raises: its text reaches the client unchanged."""
    return PydanticCustomError("contract", message)


def trimmed_text(value: Any, message: str, *, min_length: int = 1,
                 max_length: int | None = None) -> str:
    """A string with surrounding blanks removed, within the length bounds, else ``message``."""
    if not isinstance(value, str):
        raise rule_failed(message)
    text = value.strip()
    if len(text) < min_length or (max_length is not None and len(text) > max_length):
        raise rule_failed(message)
    return text


def email_address(value: Any, message: str = "Email must be valid") -> str:
    if not isinstance(value, str) or len(value) > 254:
        raise rule_failed(message)
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise rule_failed(message) from None


def parse_form(model: type[BodyT], form: Mapping[str, Any]) -> BodyT:
    """Validate a submitted form with a body model; failures keep the field names."""
    try:
        return model.model_validate(dict(form))
    except ValidationError as error:
        raise ValidationFailed(field_errors_from_pydantic(error)) from None
