"""Request bodies: pydantic models whose validators carry the contract's exact messages.

The same models check JSON bodies (through quart-schema, which also documents them)
and HTML forms (through :func:`parse_form`), so a rule is written once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ticketing.errors import ValidationFailed
from ticketing.web.shell.errors import field_errors_from_pydantic

BodyT = TypeVar("BodyT", bound="Body")


# What no field of ours may hold: NUL and the other C0 controls but tab and newlines, DEL,
# and lone UTF-16 surrogates (JSON can spell them, UTF-8 and PostgreSQL cannot store them).
UNSAFE_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class Body(BaseModel):
    """Base of every request body: unknown fields are ignored, rules run on missing ones,
    and no string field may carry characters that cannot be stored or shown."""

    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text_only(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and UNSAFE_CHARACTERS.search(value):
            name = info.field_name or "field"
            raise rule_failed(f"{name[:1].upper()}{name[1:]} contains characters that are "
                              "not allowed")
        return value


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
