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
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from ticketing.errors import Conflict, DomainError

__all__ = [
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
DECLINED_MESSAGE = "Your card was declined."


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

    def __init__(self, message: str = DECLINED_MESSAGE) -> None:
        super().__init__(message)


class PaymentInProgress(Conflict):
    """Another attempt for the same order is being charged right now."""

    code = "payment_in_progress"

    def __init__(self) -> None:
        super().__init__("A payment for this order is already in progress")


class ProviderUnavailable(DomainError):
    """The provider could not be asked, or refused us (not the card); no money moved."""

    status = 503
    code = "provider_unavailable"

    def __init__(self, message: str = "Payment provider unavailable, please try again") -> None:
        super().__init__(message)


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
    acting again, and intent ids are unique across restarts. ``holds`` records what was
    authorised, ``charges`` what was captured (money that moved), ``releases`` the holds
    given back without a charge, ``refunds`` captured money given back.
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
        self.intents: dict[str, Intent] = {}
        self._answers: dict[str, Intent | PaymentRefused] = {}
        self._captured: dict[str, Intent] = {}
        self._refunded: dict[str, FakeRefund] = {}

    async def authorize(self, request: ChargeRequest) -> Intent:
        self.calls += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        answer = self._answers.get(request.idempotency_key)
        if answer is None:
            answer = self._answers[request.idempotency_key] = self._first_answer(request)
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise OutcomeUnknown()
        if isinstance(answer, PaymentRefused):
            raise answer
        return answer

    def _first_answer(self, request: ChargeRequest) -> Intent | PaymentRefused:
        method = request.payment_method
        if method not in self.SUCCEEDING | self.DECLINING:
            kind = "token" if method.startswith("tok_") else "PaymentMethod"
            return PaymentRefused(f"No such {kind}: '{method}'")
        intent = Intent(id=_unique("pi_fake"), status=IntentStatus.AUTHORIZED,
                        amount_cents=request.amount_cents, currency=request.currency,
                        metadata=dict(request.metadata))
        if method in self.DECLINING:
            self.intents[intent.id] = replace(intent, status=IntentStatus.FAILED,
                                              failure_message=DECLINED_MESSAGE)
            return PaymentDeclined()
        self.intents[intent.id] = intent
        self.holds.append(FakeCharge(intent.id, request.amount_cents, request.currency,
                                     method, request.idempotency_key, intent.metadata))
        return intent

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        self.calls += 1
        if idempotency_key in self._captured:
            return self._captured[idempotency_key]
        intent = await self.retrieve(intent_id)
        if intent.status != IntentStatus.AUTHORIZED:
            return intent  # Stripe: payment_intent_unexpected_state; the caller re-reads
        intent = self.intents[intent_id] = replace(intent, status=IntentStatus.SUCCEEDED)
        self._captured[idempotency_key] = intent
        hold = next(h for h in self.holds if h.intent_id == intent_id)
        self.charges.append(hold)
        return intent

    async def retrieve(self, intent_id: str) -> Intent:
        try:
            return self.intents[intent_id]
        except KeyError:
            raise ProviderUnavailable(f"No such payment_intent: '{intent_id}'") from None

    async def cancel(self, intent_id: str) -> Intent:
        intent = await self.retrieve(intent_id)
        if intent.status in (IntentStatus.PENDING, IntentStatus.AUTHORIZED):
            if intent.status == IntentStatus.AUTHORIZED:
                self.releases.append(intent_id)
            intent = self.intents[intent_id] = replace(
                intent, status=IntentStatus.FAILED, failure_message="The payment was canceled.")
        return intent

    async def refund(self, intent_id: str, idempotency_key: str) -> str:
        if idempotency_key in self._refunded:
            return self._refunded[idempotency_key].refund_id
        intent = await self.retrieve(intent_id)
        refund = FakeRefund(_unique("re_fake"), intent_id, intent.amount_cents,
                            idempotency_key)
        self._refunded[idempotency_key] = refund
        self.refunds.append(refund)
        return refund.refund_id

    async def close(self) -> None:
        return None


def _unique(prefix: str) -> str:
    """An id no other process or restart of the offline provider makes again."""
    return f"{prefix}_{uuid.uuid4().hex[:24]}"
