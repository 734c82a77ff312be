"""What a new event's JSON body (and its form) must hold, and the event JSON the API
answers with (:func:`event_json`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, RootModel, field_validator

from ticketing.modules.tickets.api import EventPlan, EventView
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.validation import required, rule_failed, whole_number
from ticketing.web.tickets.schemas import MAX_TITLE_LENGTH, NewTicketBody, ticket_title

MAX_QUANTITY = 100_000
MAX_PER_BUYER = 100
DEFAULT_PER_BUYER = 4


def moment(value: Any, message: str) -> datetime | None:
    """An ISO 8601 time, in UTC; one without an offset (a form's) is read as UTC."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise rule_failed(message)
    try:
        found = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (found if found.tzinfo else found.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # year 1 an hour east of UTC has no UTC time
        raise rule_failed(message) from None


class NewEventBody(NewTicketBody):
    """A ticket's title and price (of each of the event's tickets), and the event's own."""

    quantity: int = required(ge=1, le=MAX_QUANTITY, examples=[1000],
                             description="How many tickets the event has")
    venue: str | None = Field(default=None, max_length=MAX_TITLE_LENGTH, examples=["Arena"])
    startsAt: datetime | None = Field(default=None, description="ISO 8601; UTC if no offset")
    onSaleAt: datetime | None = Field(
        default=None, description="ISO 8601; before it nobody can reserve, and buyers who "
        "come early wait in the event's queue")
    perBuyerLimit: int = Field(default=DEFAULT_PER_BUYER, ge=1, le=MAX_PER_BUYER,
                               description="Most tickets one buyer may hold at once")

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> int:
        return whole_number(value, 1, MAX_QUANTITY,
                            f"Quantity must be a whole number from 1 to {MAX_QUANTITY}")

    @field_validator("venue", mode="before")
    @classmethod
    def _venue(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return ticket_title(value)
        except ValueError:
            raise rule_failed(f"Venue must be one line of at most {MAX_TITLE_LENGTH} "
                              "characters") from None

    @field_validator("startsAt", mode="before")
    @classmethod
    def _starts_at(cls, value: Any) -> datetime | None:
        return moment(value, "StartsAt must be a date and time (ISO 8601)")

    @field_validator("onSaleAt", mode="before")
    @classmethod
    def _on_sale_at(cls, value: Any) -> datetime | None:
        return moment(value, "OnSaleAt must be a date and time (ISO 8601)")

    @field_validator("perBuyerLimit", mode="before")
    @classmethod
    def _per_buyer_limit(cls, value: Any) -> int:
        if value is None or value == "":
            return DEFAULT_PER_BUYER
        return whole_number(value, 1, MAX_PER_BUYER,
                            f"PerBuyerLimit must be a whole number from 1 to {MAX_PER_BUYER}")

    def plan(self) -> EventPlan:
        return EventPlan(title=self.title, price=self.price, quantity=self.quantity,
                         per_buyer_limit=self.perBuyerLimit, venue=self.venue,
                         starts_at=self.startsAt, on_sale_at=self.onSaleAt,
                         refund_days=self.refundDays)


class EventResponse(BaseModel):
    """An event; ``remaining`` counts its tickets neither held nor sold."""

    id: str
    title: str
    price: float = Field(description="Of each ticket, in dollars, at most two places")
    quantity: int
    remaining: int
    venue: str | None
    startsAt: datetime | None = Field(description="ISO 8601 in UTC, ending in Z")
    onSaleAt: datetime | None = Field(description="ISO 8601 in UTC, ending in Z")
    perBuyerLimit: int
    userId: str
    version: int
    refundDays: int = Field(description="Days after paying a buyer may ask for a refund "
                                        "(0: none), and never once the event starts")


class EventListResponse(RootModel[list[EventResponse]]):
    """The newest events."""


def event_json(event: EventView) -> dict[str, Any]:
    """The event JSON: every field present, the unset optional ones null."""
    return {
        "id": event.id, "title": event.title, "price": float(event.price),
        "quantity": event.quantity, "remaining": event.remaining, "venue": event.venue,
        "startsAt": wire_time(event.starts_at), "onSaleAt": wire_time(event.on_sale_at),
        "perBuyerLimit": event.per_buyer_limit, "userId": event.user_id,
        "version": event.version, "refundDays": event.refund_days,
    }
