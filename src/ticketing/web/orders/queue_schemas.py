"""The waiting room's JSON: a buyer's place, the organiser's figures, and the body that
pauses the queue or changes its rate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from ticketing.modules.orders.api import QueuePlace, RoomView
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.validation import Body, rule_failed, whole_number

MAX_RATE = 100_000


class QueuePlaceResponse(BaseModel):
    """Where you stand: ``waiting`` (``rank`` drawn when the sale opens), ``admitted``
    (reserve with ``admissionToken`` until ``admittedUntil``), ``lapsed`` or ``sold_out``."""

    eventId: str
    state: str
    rank: int | None
    ahead: int | None = Field(description="People in front of you")
    waitSeconds: int | None = Field(description="About how long until your turn")
    opensAt: datetime | None
    ratePerMinute: int
    paused: bool
    admissionToken: str | None
    admittedUntil: datetime | None


class RoomResponse(BaseModel):
    """An event's queue, as its seller sees it."""

    eventId: str
    waiting: int
    admitted: int
    ratePerMinute: int
    paused: bool
    soldOut: bool
    openedAt: datetime | None
    remaining: int


class RoomChangeBody(Body):
    paused: bool | None = Field(default=None, description="Stop (true) or resume letting "
                                "buyers in")
    ratePerMinute: int | None = Field(default=None, ge=1, le=MAX_RATE)

    @field_validator("paused", mode="before")
    @classmethod
    def _paused(cls, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        if value in ("true", "on", "1"):
            return True
        if value in ("false", "off", "0"):
            return False
        raise rule_failed("Paused must be true or false")

    @field_validator("ratePerMinute", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> int | None:
        if value in (None, ""):
            return None
        return whole_number(value, 1, MAX_RATE,
                            f"RatePerMinute must be a whole number from 1 to {MAX_RATE}")


def place_json(place: QueuePlace) -> dict[str, Any]:
    return {
        "eventId": place.event_id, "state": place.state, "rank": place.rank,
        "ahead": place.ahead, "waitSeconds": place.wait_seconds,
        "opensAt": wire_time(place.opens_at), "ratePerMinute": place.rate_per_minute,
        "paused": place.paused, "admissionToken": place.token,
        "admittedUntil": wire_time(place.admitted_until),
    }


def room_json(room: RoomView) -> dict[str, Any]:
    return {
        "eventId": room.event_id, "waiting": room.waiting, "admitted": room.admitted,
        "ratePerMinute": room.rate_per_minute, "paused": room.paused,
        "soldOut": room.sold_out, "openedAt": wire_time(room.opened_at),
        "remaining": room.remaining,
    }
