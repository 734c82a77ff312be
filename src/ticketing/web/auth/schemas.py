"""What the sign-up and sign-in forms and JSON bodies must hold."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

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
