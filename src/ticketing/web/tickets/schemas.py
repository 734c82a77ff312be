"""What a ticket's JSON body, its forms and the listing's query must hold, and the
ticket JSON the API answers with (:func:`ticket_json`; the response models document it)."""

from __future__ import annotations

import unicodedata
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, Field, RootModel, field_validator
from pydantic.json_schema import SkipJsonSchema

from ticketing.ids import is_valid_id
from ticketing.modules.tickets.api import TicketView
from ticketing.web.shell.schemas import absent_when_unset
from ticketing.web.shell.validation import (
    Body,
    required,
    rule_failed,
    trimmed_text,
    whole_number,
)

MAX_PRICE = Decimal("1000000")
MAX_TITLE_LENGTH = 120


def price_amount(value: Any, message: str) -> Decimal:
    """An exact amount in dollars: more than 0, at most two places, at most 1,000,000."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise rule_failed(message)
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise rule_failed(message) from None
    if not amount.is_finite() or amount <= 0:
        raise rule_failed(message)
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise rule_failed("Price must have at most 2 decimal places")
    if amount > MAX_PRICE:
        raise rule_failed("Price must be at most 1000000")
    return amount.quantize(Decimal("0.01"))


def ticket_title(value: Any) -> str:
    """A trimmed, bounded, one-line title.

    Control characters (NUL among them: PostgreSQL cannot store it) and lone surrogates
    (they have no UTF-8 form) would otherwise reach the database and fail there, a 500.
    """
    title = trimmed_text(value, "Title is required")
    if len(title) > MAX_TITLE_LENGTH:
        raise rule_failed(f"Title must be at most {MAX_TITLE_LENGTH} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in title):
        raise rule_failed("Title must not contain control characters")
    return title


MAX_REFUND_DAYS = 365


class ListingBody(Body):
    title: str = required(min_length=1, max_length=MAX_TITLE_LENGTH, examples=["Concert"],
                          description="One line; blanks around it are trimmed first")
    price: Decimal = required(gt=0, le=MAX_PRICE, examples=[19.99],
                              description="In dollars, at most two decimal places; a number "
                              "or a string of one")

    @field_validator("title", mode="before")
    @classmethod
    def _title(cls, value: Any) -> str:
        return ticket_title(value)

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, value: Any) -> Decimal:
        return price_amount(value, "Price must be greater than 0")


class NewTicketBody(ListingBody):
    refundDays: int = Field(default=0, ge=0, le=MAX_REFUND_DAYS, examples=[7],
                            description="Days after paying a buyer may ask for a refund "
                            "(0, the default: no refunds); fixed once listed")

    @field_validator("refundDays", mode="before")
    @classmethod
    def _refund_days(cls, value: Any) -> int:
        if value is None or value == "":
            return 0
        return whole_number(value, 0, MAX_REFUND_DAYS, "RefundDays must be a whole number "
                            f"from 0 to {MAX_REFUND_DAYS}")


# Versions are 32-bit integer columns; anything larger is no version a ticket can have.
MAX_VERSION = 2**31 - 1


class TicketEditBody(ListingBody):
    version: int | None = Field(default=None, ge=0, le=MAX_VERSION,
                                description="Refuse the edit (409) unless the ticket still "
                                "has this version.")

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, value: Any) -> Decimal:
        return price_amount(value, "Price must be provided and must be greater than 0")

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VERSION:
            raise rule_failed("Version must be a whole number")
        return value


MAX_LIMIT = 500


class ListingQuery(Body):
    limit: int = Field(default=100, ge=1, le=MAX_LIMIT, description="Tickets per page")
    before: str | None = Field(default=None, description="Show tickets older than this id")

    @field_validator("limit", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> int:
        try:
            limit = int(value)
        except (TypeError, ValueError):
            raise rule_failed(f"Limit must be between 1 and {MAX_LIMIT}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise rule_failed(f"Limit must be between 1 and {MAX_LIMIT}")
        return limit

    @field_validator("before", mode="before")
    @classmethod
    def _before(cls, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not is_valid_id(value):
            raise rule_failed("Before must be a ticket id")
        return value


class TicketResponse(BaseModel):
    """A ticket; ``orderId`` only while an order holds it."""

    id: str
    title: str
    price: float = Field(description="In dollars, at most two places")
    userId: str
    version: int
    orderId: str | SkipJsonSchema[None] = Field(default=None,
                                                json_schema_extra=absent_when_unset)
    refundDays: int | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=absent_when_unset,
        description="Days after paying its buyer may ask for a refund; absent: none")


class TicketListResponse(RootModel[list[TicketResponse]]):
    """Tickets for sale, newest first."""


def ticket_json(ticket: TicketView) -> dict[str, Any]:
    """The contract's ticket JSON; a price is a number (two places survive a float's
    shortest repr exactly)."""
    body: dict[str, Any] = {
        "id": ticket.id, "title": ticket.title, "price": float(ticket.price),
        "userId": ticket.user_id, "version": ticket.version,
    }
    if ticket.order_id:
        body["orderId"] = ticket.order_id
    if ticket.refund_days:
        body["refundDays"] = ticket.refund_days
    return body
