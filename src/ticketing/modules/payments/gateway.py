"""The payment gateway: what payments needs of a provider, and the offline provider.

A gateway speaks in PaymentIntents with manual capture: ``authorize`` creates and
confirms one, so the card's bank *holds* the amount; ``capture`` takes the held money
once orders has accepted the payment; ``cancel`` releases a hold (or an intent still
waiting for the customer) and nothing is charged. Intents are read back by id and a
captured one can be refunded. Amounts are integer cents; the idempotency key of each
call comes from the caller, who has stored it before calling, so a retried call never
moves money twice.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from tortoise.exceptions import IntegrityError

from ticketing.errors import Conflict, DomainError, message_of
from ticketing.modules.payments.models import OfflineIntent

__all__ = [
    "CANCELED_MESSAGE",
    "CURRENCY",
    "ChargeRequest",
    "FakeGateway",
    "Intent",
    "IntentStatus",
    "OutcomeUnknown",
    "PaymentDeclined",
    "PaymentGateway",
    "PaymentInProgress",
    "PaymentRefused",
    "ProviderUnavailable",
    "cents",
]

CURRENCY = "usd"
DECLINED_MESSAGE = message_of("card_declined")
CANCELED_MESSAGE = message_of("payment_canceled")


def cents(amount: Decimal) -> int:
    """Exact integer cents of a dollar amount (19.99 -> 1999); never through a float."""
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{amount} is not an amount of money")
    scaled = amount.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than two decimal places")
    return int(scaled)


class PaymentRefused(DomainError):
    """The provider refused the payment method; no money moved. 400 with its message."""

    code = "payment_refused"


class PaymentDeclined(PaymentRefused):
    code = "card_declined"



class PaymentInProgress(Conflict):
    """Another attempt for the same order is being charged right now."""

    code = "payment_in_progress"



class ProviderUnavailable(DomainError):
    """The provider could not be asked, or refused us (not the card); no money moved."""

    status = 503
    code = "provider_unavailable"



class OutcomeUnknown(ProviderUnavailable):
    """The call may or may not have charged: the attempt stays open until it is known."""

    code = "provider_outcome_unknown"


@dataclass(frozen=True)
class ChargeRequest:
    """One charge: exact cents, a provider payment-method reference, and its key."""

    amount_cents: int
    currency: str
    payment_method: str
    idempotency_key: str
    metadata: Mapping[str, str] = field(default_factory=dict)


class IntentStatus(StrEnum):
    # The amount is held on the card (Stripe: requires_capture); nothing is charged yet.
    AUTHORIZED = "authorized"
    # The held amount was captured: the money moved.
    SUCCEEDED = "succeeded"
    # Waiting for the customer (3-D Secure) or the bank; a webhook will say how it ended.
    PENDING = "pending"
    # Declined, given up, or cancelled (a hold released): no money moved.
    FAILED = "failed"


@dataclass(frozen=True)
class Intent:
    """A PaymentIntent as payments cares about it."""

    id: str
    status: IntentStatus
    amount_cents: int
    currency: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    client_secret: str | None = None
    failure_message: str | None = None


class PaymentGateway(Protocol):
    async def authorize(self, request: ChargeRequest) -> Intent:
        """Create and confirm a PaymentIntent with manual capture: hold the amount.

        Raises :class:`PaymentRefused` (declined, unknown payment method),
        :class:`PaymentInProgress` (the same key is being used right now),
        :class:`ProviderUnavailable` (nothing held) or :class:`OutcomeUnknown`.
        """

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        """Take the held amount of an authorised PaymentIntent: the money moves.

        An intent that cannot be captured any more (released, expired) comes back as it
        is; :class:`ProviderUnavailable` means "not known: ask again".
        """

    async def retrieve(self, intent_id: str) -> Intent:
        """Read a PaymentIntent again: the truth behind a webhook or a resumed attempt."""

    async def cancel(self, intent_id: str) -> Intent:
        """Release a hold, or give up an intent waiting for the customer; a captured or
        failed intent comes back as it is."""

    async def refund(self, intent_id: str, idempotency_key: str) -> str:
        """Give back all of a captured PaymentIntent; returns the refund's id."""

    async def close(self) -> None:
        """Release connections (called when the process stops serving)."""


@dataclass(frozen=True)
class FakeCharge:
    """What the offline provider was asked to take, for tests to assert on."""

    intent_id: str
    amount_cents: int
    currency: str
    payment_method: str
    idempotency_key: str
    metadata: Mapping[str, str]


@dataclass(frozen=True)
class FakeRefund:
    refund_id: str
    intent_id: str
    amount_cents: int
    idempotency_key: str


class FakeGateway:
    """The offline provider (``TICKETING_PAYMENTS=fake``), faithful to Stripe's test mode.

    ``tok_visa`` / ``pm_card_visa`` are authorised, ``tok_chargeDeclined`` /
    ``pm_card_chargeDeclined`` are declined, anything else is an unknown payment
    method. Like Stripe, a repeated idempotency key replays the first answer instead of
    acting again, intent ids are unique across restarts, and the intents outlive the
    process: they are rows of :class:`~.models.OfflineIntent` in payments' database,
    changed only by conditional updates, so every replica sees one truth.

    For tests, ``holds`` records what this instance authorised, ``charges`` what it
    captured (money that moved), ``releases`` the holds it gave back without a charge,
    ``refunds`` captured money it gave back.
    """

    SUCCEEDING = frozenset({"tok_visa", "pm_card_visa"})
    DECLINING = frozenset({"tok_chargeDeclined", "pm_card_chargeDeclined"})

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        # Tests set this to lose the next answer: the charge is made, the caller hears
        # nothing (a timeout after Stripe took the money).
        self.lose_next_answer = False
        self.calls = 0
        self.holds: list[FakeCharge] = []
        self.charges: list[FakeCharge] = []
        self.releases: list[str] = []
        self.refunds: list[FakeRefund] = []

    async def authorize(self, request: ChargeRequest) -> Intent:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        method = request.payment_method
        if method not in self.SUCCEEDING | self.DECLINING:
            kind = "token" if method.startswith("tok_") else "PaymentMethod"
            raise PaymentRefused(f"No such {kind}: '{method}'")
        row = await OfflineIntent.get_or_none(authorize_key=request.idempotency_key)
        if row is None:
            row = await self._create(request)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise OutcomeUnknown()
        if row.declined:
            raise PaymentDeclined()
        # The first answer, as it was: the hold, whatever became of it since.
        return replace(_intent(row), status=IntentStatus.AUTHORIZED, failure_message=None)

    async def _create(self, request: ChargeRequest) -> OfflineIntent:
        declined = request.payment_method in self.DECLINING
        try:
            row = await OfflineIntent.create(
                id=_unique("pi_fake"), authorize_key=request.idempotency_key,
                payment_method=request.payment_method, declined=declined,
                status=IntentStatus.FAILED if declined else IntentStatus.AUTHORIZED,
                amount_cents=request.amount_cents, currency=request.currency,
                metadata=json.dumps(dict(request.metadata)),
                failure_message=DECLINED_MESSAGE if declined else None)
        except IntegrityError:  # the same key at the same moment: one intent, replayed
            return await OfflineIntent.get(authorize_key=request.idempotency_key)
        if not declined:
            self.holds.append(_charge(row))
        return row

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        self.calls += 1
        row = await self._row(intent_id)
        if row.capture_key != idempotency_key and row.status == IntentStatus.AUTHORIZED:
            if await OfflineIntent.filter(id=intent_id, status=IntentStatus.AUTHORIZED) \
                    .update(status=IntentStatus.SUCCEEDED, capture_key=idempotency_key):
                self.charges.append(_charge(row))
            row = await self._row(intent_id)
        # Captured before, released, or failed: Stripe answers with the intent as it is.
        return _intent(row)

    async def retrieve(self, intent_id: str) -> Intent:
        return _intent(await self._row(intent_id))

    async def cancel(self, intent_id: str) -> Intent:
        row = await self._row(intent_id)
        if row.status in (IntentStatus.PENDING, IntentStatus.AUTHORIZED):
            if await OfflineIntent.filter(id=intent_id, status=row.status).update(
                    status=IntentStatus.FAILED, failure_message=CANCELED_MESSAGE) \
                    and row.status == IntentStatus.AUTHORIZED:
                self.releases.append(intent_id)
            row = await self._row(intent_id)
        return _intent(row)

    async def refund(self, intent_id: str, idempotency_key: str) -> str:
        row = await self._row(intent_id)
        if row.refund_id is None:
            refund_id = _unique("re_fake")
            if await OfflineIntent.filter(id=intent_id, refund_id=None).update(
                    refund_id=refund_id, refund_key=idempotency_key):
                self.refunds.append(FakeRefund(refund_id, intent_id, row.amount_cents,
                                               idempotency_key))
            row = await self._row(intent_id)
        assert row.refund_id is not None
        return row.refund_id

    async def close(self) -> None:
        return None

    @staticmethod
    async def _row(intent_id: str) -> OfflineIntent:
        row = await OfflineIntent.get_or_none(id=intent_id)
        if row is None:
            raise ProviderUnavailable(f"No such payment_intent: '{intent_id}'")
        return row


def _intent(row: OfflineIntent) -> Intent:
    return Intent(id=row.id, status=IntentStatus(row.status), amount_cents=row.amount_cents,
                  currency=row.currency, metadata=json.loads(row.metadata),
                  failure_message=row.failure_message)


def _charge(row: OfflineIntent) -> FakeCharge:
    return FakeCharge(row.id, row.amount_cents, row.currency, row.payment_method,
                      row.authorize_key, json.loads(row.metadata))


def _unique(prefix: str) -> str:
    """An id no other process or restart of the offline provider makes again."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"
