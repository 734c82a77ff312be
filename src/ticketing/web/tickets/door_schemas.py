"""Bodies and JSON of passes and the door: the pass, the public key, check-ins, door lists
and door staff."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from ticketing.modules.tickets.api import (
    CheckIn,
    DoorList,
    PassKey,
    PassView,
    ResaleView,
    TransferView,
)
from ticketing.web.shell.schemas import wire_time
from ticketing.web.shell.validation import (
    EMAIL_SCHEMA,
    Body,
    email_address,
    required,
    rule_failed,
)
from ticketing.web.tickets.event_schemas import moment
from ticketing.web.tickets.schemas import MAX_PRICE, price_amount

MAX_TOKEN_LENGTH = 200


class CheckInBody(Body):
    token: str = required(min_length=1, max_length=MAX_TOKEN_LENGTH,
                          examples=["T1.01J0000000000000000000000.1.c2ln…"],
                          description="What the pass's QR code holds (or its typed code)")
    scannedAt: datetime | None = Field(
        default=None, description="When an offline door scanned it (ISO 8601); the server's "
                                  "time is used when absent, in the future or over a day old")

    scopeId: str | None = Field(default=None, description="The door being worked (an event "
                                "or lone ticket id): a pass for another door is refused")

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip() \
                or len(value.strip()) > MAX_TOKEN_LENGTH:
            raise rule_failed("Token must be the code of a pass")
        return value.strip()

    @field_validator("scannedAt", mode="before")
    @classmethod
    def _scanned_at(cls, value: Any) -> datetime | None:
        return moment(value, "ScannedAt must be an ISO 8601 time")


class StaffBody(Body):
    """Someone named by the email they sign in with."""

    email: str = required(examples=["door@example.com"], json_schema_extra=EMAIL_SCHEMA)

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str:
        return email_address(value)


class TransferBody(StaffBody):
    """The recipient: they need no account yet; the pass is theirs once they sign in."""


class TransferResponse(BaseModel):
    """The pass moved: to whom, and the version the giver's token was replaced by."""

    ticketId: str
    email: str
    version: int
    transferredAt: datetime = Field(description="ISO 8601 in UTC, ending in Z")


class ResaleBody(Body):
    price: Decimal = required(gt=0, le=MAX_PRICE, examples=[19.99],
                              description="In dollars, at most two places, and no more than "
                                          "you paid")

    @field_validator("price", mode="before")
    @classmethod
    def _price(cls, value: Any) -> Decimal:
        return price_amount(value, "Price must be greater than 0")


class ResaleResponse(BaseModel):
    """The ticket is for sale again at ``price``; your pass admits nobody until it sells."""

    ticketId: str
    title: str
    price: float
    state: str = Field(description="for_sale, reserved or resold")
    listedAt: datetime = Field(description="ISO 8601 in UTC, ending in Z")
    withdrawing: bool = Field(description="You asked to take it off sale; until that is "
                              "decided it may still sell")
    withdrawalRefusal: str | SkipJsonSchema[None] = Field(
        default=None, description="Why your last ask to take it off sale was refused")


class PassResponse(BaseModel):
    """The owner's pass: the token its QR code carries."""

    ticketId: str
    token: str


class PassKeyResponse(BaseModel):
    """The public key that verifies every pass (raw Ed25519, base64url)."""

    algorithm: str
    publicKey: str
    keyId: str


class CheckInResponse(BaseModel):
    """The pass is in."""

    ticketId: str
    checkedInAt: datetime = Field(description="ISO 8601 in UTC, ending in Z")
    checkedInBy: str


class DoorPassResponse(BaseModel):
    ticketId: str
    version: int
    checkedInAt: datetime | None
    checkedInBy: str | None


class DoorListResponse(BaseModel):
    """The door's valid passes, for a device that checks them offline."""

    scopeId: str
    title: str
    kind: str = Field(description='"event" or "ticket": what the door admits to')
    issued: int
    checkedIn: int
    passes: list[DoorPassResponse]


class StaffResponse(BaseModel):
    """The emails that may check passes in at this door."""

    staff: list[str]


def resale_json(resale: ResaleView) -> dict[str, Any]:
    body = {"ticketId": resale.ticket_id, "title": resale.title, "price": float(resale.price),
            "state": resale.state, "listedAt": wire_time(resale.listed_at),
            "withdrawing": resale.withdrawing}
    if resale.withdrawal_refusal is not None:
        body["withdrawalRefusal"] = resale.withdrawal_refusal
    return body


def pass_json(view: PassView) -> dict[str, Any]:
    return {"ticketId": view.ticket_id, "token": view.token}


def pass_key_json(key: PassKey) -> dict[str, Any]:
    return {"algorithm": key.algorithm, "publicKey": key.public_key, "keyId": key.key_id}


def check_in_json(check_in: CheckIn) -> dict[str, Any]:
    return {"ticketId": check_in.ticket_id, "checkedInAt": wire_time(check_in.checked_in_at),
            "checkedInBy": check_in.checked_in_by}


def transfer_json(transfer: TransferView) -> dict[str, Any]:
    return {"ticketId": transfer.ticket_id, "email": transfer.to_email,
            "version": transfer.version, "transferredAt": wire_time(transfer.transferred_at)}


def door_list_json(door: DoorList) -> dict[str, Any]:
    return {"scopeId": door.scope_id, "title": door.title, "kind": door.kind,
            "issued": len(door.passes),
            "checkedIn": door.checked_in,
            "passes": [{"ticketId": p.ticket_id, "version": p.version,
                        "checkedInAt": wire_time(p.checked_in_at),
                        "checkedInBy": p.checked_in_by} for p in door.passes]}
