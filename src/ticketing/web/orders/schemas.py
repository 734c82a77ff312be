"""What a new order's JSON body must hold."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from ticketing.web.shell.validation import Body, trimmed_text


class NewOrderBody(Body):
    ticketId: str = Field(default="", examples=["01jd0z5c8y9x7w6v5t4s3r2q1p"])

    @field_validator("ticketId", mode="before")
    @classmethod
    def _ticket_id(cls, value: Any) -> str:
        return trimmed_text(value, "TicketId must be provided")
