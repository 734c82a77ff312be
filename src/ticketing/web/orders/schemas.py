"""What a new order's JSON body must hold, and the order JSON the API answers with
(:func:`order_json`; the response models document it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, RootModel, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from ticketing.bus.contracts import OrderStatus
from ticketing.errors import message_of
from ticketing.modules.orders.api import OrderedTicket, OrderView
from ticketing.web.shell.schemas import absent_when_unset, wire_time
from ticketing.web.shell.validation import Body, rule_failed, trimmed_text, whole_number

MAX_QUANTITY = 100


class NewOrderBody(Body):
    """A ticket by its id, or ``quantity`` tickets of an event (``eventId``)."""

    # Declared first: the ticket id's rule reads them.
    eventId: str | None = Field(default=None, min_length=1,
                                examples=["01jd0z5c8y9x7w6v5t4s3r2q1n"],
                                description="Reserve tickets of this event instead of one "
                                "ticket by its id")
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY,
                          description="How many tickets of the event (with eventId)")
    admission: str | None = Field(default=None, max_length=512,
                                  description="Your admission token from the event's queue "
                                  "(an event with an on-sale time)")
    ticketId: str | None = Field(default=None, min_length=1,
                                 examples=["01jd0z5c8y9x7w6v5t4s3r2q1p"],
                                 description="Required unless eventId is given")

    @field_validator("eventId", mode="before")
    @classmethod
    def _event_id(cls, value: Any) -> str | None:
        return None if value is None else trimmed_text(value, "EventId must be an event id")

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> int:
        return whole_number(value, 1, MAX_QUANTITY,
                            f"Quantity must be a whole number from 1 to {MAX_QUANTITY}")

    @field_validator("ticketId", mode="before")
    @classmethod
    def _ticket_id(cls, value: Any, info: ValidationInfo) -> str | None:
        if info.data.get("eventId") is not None:
            if value is not None:
                raise rule_failed("Give ticketId or eventId, not both")
            return None
        return trimmed_text(value, "TicketId must be provided")


class OrderedTicketResponse(BaseModel):
    """The ticket the order holds."""

    id: str
    title: str
    price: float = Field(description="In dollars, at most two places")
    version: int


class RefundResponse(BaseModel):
    status: str = Field(description='"requested", "refunded" or "refused"')
    at: datetime | None = Field(description="When it was asked for, or refunded")
    reason: str | None = Field(description="Why it was refused")


class OrderResponse(BaseModel):
    """An order, its (first) ticket embedded; an order of an event's tickets also has
    ``eventId``, ``quantity`` and all its ``tickets``."""

    id: str
    status: OrderStatus
    userId: str
    expiresAt: datetime = Field(description="ISO 8601 in UTC, ending in Z")
    version: int
    ticket: OrderedTicketResponse
    eventId: str | SkipJsonSchema[None] = Field(default=None,
                                                json_schema_extra=absent_when_unset)
    quantity: int | SkipJsonSchema[None] = Field(default=None,
                                                 json_schema_extra=absent_when_unset)
    tickets: list[OrderedTicketResponse] | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=absent_when_unset)
    refundableUntil: datetime | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=absent_when_unset,
        description="Paid, and its seller allows refunds: until when you may ask for one")
    refund: RefundResponse | SkipJsonSchema[None] = Field(
        default=None, json_schema_extra=absent_when_unset,
        description="Once you asked for a refund: how far it got")


class OrderListResponse(RootModel[list[OrderResponse]]):
    """The caller's orders, oldest first."""


class CancelledResponse(BaseModel):
    """Cancelled, or it already was (no new event then); no body."""


def _ticket_json(ticket: OrderedTicket) -> dict[str, Any]:
    return {"id": ticket.id, "title": ticket.title, "price": float(ticket.price),
            "version": ticket.version}


def order_json(order: OrderView) -> dict[str, Any]:
    """The contract's order JSON, its ticket embedded; an event's order adds the rest."""
    body: dict[str, Any] = {
        "id": order.id,
        "status": order.status.value,
        "userId": order.user_id,
        "expiresAt": wire_time(order.expires_at),
        "version": order.version,
        "ticket": _ticket_json(order.ticket),
    }
    if order.event_id is not None:
        body |= {"eventId": order.event_id, "quantity": len(order.tickets),
                 "tickets": [_ticket_json(t) for t in order.tickets]}
    if order.refundable_until is not None:
        body["refundableUntil"] = wire_time(order.refundable_until)
    if order.refund is not None:
        body["refund"] = {"status": order.refund.status, "at": wire_time(order.refund.at),
                          "reason": message_of(order.refund.reason)
                          if order.refund.reason else None}
    return body
