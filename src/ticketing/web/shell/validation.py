"""Request bodies: pydantic models whose validators carry the contract's exact messages.

The same models check JSON bodies (through quart-schema, which also documents them)
and HTML forms (through :func:`parse_form`), so a rule is written once. A rule's bounds
are also its field's constraints (``Field(max_length=…)``): the description shows them,
and they always hold, since they are checked after the validator that enforces them with
the contract's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ticketing.errors import ValidationFailed
from ticketing.web.shell.errors import field_errors_from_pydantic

BodyT = TypeVar("BodyT", bound="Body")


# What no field of ours may hold: NUL and the other C0 controls but tab and newlines, DEL,
# and lone UTF-16 surrogates (JSON can spell them, UTF-8 and PostgreSQL cannot store them).
UNSAFE_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
MAX_EMAIL_LENGTH = 254
# An email's rules as the description shows them; no Field constraint, since the validator
# bounds the input and answers the normalized address.
EMAIL_SCHEMA = {"format": "email", "maxLength": MAX_EMAIL_LENGTH}


def required(**field: Any) -> Any:
    """A field the contract requires: ``Field(**field)``, documented as required.

    Its default (``""``) is a placeholder: a missing field then fails its own rule, with
    the contract's message rather than pydantic's "missing". The description leaves the
    placeholder out, and :class:`Body` lists each field documented without one as required.
    """
    extra: dict[str, Any] = field.pop("json_schema_extra", {})

    def document(schema: dict[str, Any]) -> None:
        schema.pop("default")
        schema.update(extra)

    return Field(default="", json_schema_extra=document, **field)


def _list_required(schema: dict[str, Any]) -> None:
    names = [name for name, found in schema.get("properties", {}).items()
             if "default" not in found]
    if names:
        schema["required"] = names


class Body(BaseModel):
    """Base of every request body: unknown fields are ignored, rules run on missing ones,
    and no string field may carry characters that cannot be stored or shown."""

    model_config = ConfigDict(extra="ignore", validate_default=True, frozen=True,
                              json_schema_extra=_list_required)

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


def whole_number(value: Any, low: int, high: int, message: str) -> int:
    """An integer from ``low`` to ``high``; a form's digits count, a float or bool does not."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise rule_failed(message)
    return value


def email_address(value: Any, message: str = "Email must be valid") -> str:
    if not isinstance(value, str) or len(value) > MAX_EMAIL_LENGTH:
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
