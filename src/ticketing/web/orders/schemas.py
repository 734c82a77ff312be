"""What a new order's JSON body must hold, and the order JSON the API answers with
(:func:`order_json`; the response models document it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, RootModel, field_validator

from ticketing.bus.contracts import OrderStatus
from ticketing.modules.orders.api import OrderView
from ticketing.web.shell.validation import Body, required, trimmed_text


class NewOrderBody(Body):
    ticketId: str = required(min_length=1, examples=["01jd0z5c8y9x7w6v5t4s3r2q1p"])

    @field_validator("ticketId", mode="before")
    @classmethod
    def _ticket_id(cls, value: Any) -> str:
        return trimmed_text(value, "TicketId must be provided")


class OrderedTicketResponse(BaseModel):
    """The ticket the order holds."""

    id: str
    title: str
    price: float = Field(description="In dollars, at most two places")
    version: int


class OrderResponse(BaseModel):
    """An order, its ticket embedded."""

    id: str
    status: OrderStatus
    userId: str
    expiresAt: datetime = Field(description="ISO 8601 in UTC, ending in Z")
    version: int
    ticket: OrderedTicketResponse


class OrderListResponse(RootModel[list[OrderResponse]]):
    """The caller's orders, oldest first."""


class CancelledResponse(BaseModel):
    """Cancelled, or it already was (no new event then); no body."""


def order_json(order: OrderView) -> dict[str, Any]:
    """The contract's order JSON, its ticket embedded."""
    return {
        "id": order.id,
        "status": order.status.value,
        "userId": order.user_id,
        "expiresAt": order.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "version": order.version,
        "ticket": {"id": order.ticket.id, "title": order.ticket.title,
                   "price": float(order.ticket.price), "version": order.ticket.version},
    }
