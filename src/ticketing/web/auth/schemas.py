"""What the sign-up and sign-in forms and JSON bodies must hold, and the user JSON the API
answers with (:func:`user_json`, :func:`current_user_json`; the response models document
it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from ticketing.modules.auth.api import SessionUser, SignedIn
from ticketing.web.shell.validation import Body, email_address, trimmed_text


class SignInBody(Body):
    email: str = Field(default="", examples=["buyer@example.com"])
    password: str = Field(default="", examples=["correct horse"])

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str:
        return email_address(value)

    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, value: Any) -> str:
        return trimmed_text(value, "You must supply a password")


class SignUpBody(SignInBody):
    @field_validator("password", mode="before")
    @classmethod
    def _password(cls, value: Any) -> str:
        return trimmed_text(value, "Password must be between 4 and 20 characters",
                            min_length=4, max_length=20)


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
