"""What the sign-up and sign-in forms and JSON bodies must hold, and the user JSON the API
answers with (:func:`user_json`, :func:`current_user_json`; the response models document
it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from ticketing.modules.auth.api import SessionUser, SignedIn
from ticketing.web.shell.validation import (
    EMAIL_SCHEMA,
    Body,
    email_address,
    required,
    trimmed_text,
)

MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = 4, 20


class SignInBody(Body):
    email: str = required(examples=["buyer@example.com"], json_schema_extra=EMAIL_SCHEMA)
    password: str = required(min_length=1, examples=["correct horse"],
                             description="Blanks around it are trimmed first")

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str:
        return email_address(value)

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, value: Any) -> str:
        return trimmed_text(value, "You must supply a password")


class SignUpBody(SignInBody):
    password: str = required(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH,
                             examples=["correct horse"],
                             description="Blanks around it are trimmed first")

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, value: Any) -> str:
        return trimmed_text(value, f"Password must be between {MIN_PASSWORD_LENGTH} and "
                            f"{MAX_PASSWORD_LENGTH} characters",
                            min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class SignedOutResponse(BaseModel):
    """The session has ended and its cookie is expired: ``{}``."""


class UserResponse(BaseModel):
    """The user just signed up or in; the session cookie comes with it."""

    id: str
    email: str


class SessionClaims(BaseModel):
    """The signed-in user, as the session's token names them."""

    id: str
    email: str
    iat: int = Field(description="When the session began, in seconds since the epoch")
    exp: int = Field(description="When it ends, in seconds since the epoch")


class CurrentUserResponse(BaseModel):
    """Who is signed in; ``null`` when nobody is."""

    currentUser: SessionClaims | None


def user_json(user: SignedIn) -> dict[str, Any]:
    """``{id, email}`` of a user who just signed up or in."""
    return {"id": user.id, "email": user.email}


def current_user_json(user: SessionUser | None) -> dict[str, Any]:
    """``{"currentUser": claims}``, or ``{"currentUser": null}`` when signed out."""
    return {"currentUser": user.as_json() if user else None}
