"""Payments' rules as pure functions over plain values: no database, no provider.

:func:`settlement` is the attempt's state machine: what to do next, from the attempt's
status, the provider's word on its PaymentIntent and the verdict on it.
:func:`order_verdict` is what payments' copy of an order says of money arriving for it,
and :func:`order_update` how an order event changes that copy. The callers keep the IO:
they lock and read the rows, carry the step out, and call the provider only after the
commit (tests/unit/test_payment_rules.py runs these in milliseconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ticketing.bus.contracts import OrderStatus, PaymentRefusal
from ticketing.modules.payments.gateway import IntentStatus
from ticketing.modules.payments.models import AttemptStatus

# The provider has not settled these yet: its word on the intent decides them.
OPEN_STATUSES = (AttemptStatus.PENDING, AttemptStatus.REQUIRES_ACTION)


class Verdict(StrEnum):
    """Orders' say on an attempt; for an attempt still open, what payments' copy of the
    order shows (orders has not heard of the money yet)."""

    OPEN = "open"  # nothing against it: the order may still be paid
    ACCEPTED = "accepted"  # ``order:completed`` named this attempt
    # Refusals, by the reason codes orders sends (the codes of payments' errors).
    CANCELLED = PaymentRefusal.ORDER_CANCELLED.value
    EXPIRED = PaymentRefusal.ORDER_EXPIRED.value
    PAID = PaymentRefusal.ORDER_PAID.value  # paid, or being paid, by another attempt

    @property
    def refuses(self) -> bool:
        return self not in (Verdict.OPEN, Verdict.ACCEPTED)

    @classmethod
    def refused_for(cls, reason: str) -> Verdict:
        """Orders' refusal by its reason code; a code this release does not know counts
        as a cancellation (the money is released either way)."""
        return next((v for v in cls if v.refuses and v.value == reason), cls.CANCELLED)


class Step(StrEnum):
    """What to do with an attempt next."""

    NOTHING = "nothing"  # settled before, or nothing new to act on
    WAIT = "wait"  # the customer (3-D Secure) or the bank must act first
    FAIL = "fail"  # declined, given up, or the hold is gone: no money moved
    ASK_ORDERS = "ask_orders"  # held: ``payment:authorized`` asks orders to decide
    CAPTURE = "capture"  # orders accepted the hold: the settler takes the money
    RELEASE = "release"  # refused: the settler releases the hold
    REFUND = "refund"  # money moved for an order that cannot take it: it goes back
    COMPLETE = "complete"  # the money moved and the order takes it: the payment
    VOID = "void"  # the hold was released: nothing was charged


def settlement(attempt: AttemptStatus, intent: IntentStatus | None,
               verdict: Verdict = Verdict.OPEN) -> Step:
    """What to do with an attempt, given the provider's latest word on its intent
    (``None`` when the provider was not asked) and the verdict on it.

    An open attempt follows the provider's word, brought by a request or a webhook:
    money for an order that visibly cannot take it is released, or given back if the
    provider captured it by itself. A held attempt waits for orders' verdict. A decided
    one follows the provider's answer to the settler's capture or release. Money already
    taken goes back if the order is cancelled after all (the 0.1 flow could capture
    before the expiry).
    """
    if attempt in OPEN_STATUSES and intent is not None:
        return _reported(intent, verdict.refuses)
    if attempt == AttemptStatus.AUTHORIZED:
        if verdict == Verdict.ACCEPTED:
            return Step.CAPTURE
        return Step.RELEASE if verdict.refuses else Step.NOTHING
    if attempt == AttemptStatus.CAPTURING and intent is not None:
        # Anything but captured money: the hold was gone (released, or expired after
        # days); the order is complete but unpaid, which an operator must resolve.
        return Step.COMPLETE if intent == IntentStatus.SUCCEEDED else Step.FAIL
    if attempt == AttemptStatus.VOIDING and intent is not None:
        # A hold cannot be released once the provider captured it by itself.
        return Step.REFUND if intent == IntentStatus.SUCCEEDED else Step.VOID
    if attempt == AttemptStatus.SUCCEEDED and verdict == Verdict.CANCELLED:
        return Step.REFUND
    return Step.NOTHING


def _reported(intent: IntentStatus, refused: bool) -> Step:
    if intent == IntentStatus.AUTHORIZED:
        return Step.RELEASE if refused else Step.ASK_ORDERS
    if intent == IntentStatus.SUCCEEDED:
        return Step.REFUND if refused else Step.COMPLETE
    return Step.FAIL if intent == IntentStatus.FAILED else Step.WAIT


def order_verdict(status: OrderStatus, *, paid_otherwise: bool, expired: bool) -> Verdict:
    """What payments' copy of the order says of money arriving for one of its attempts:
    cancelled, then paid (complete, or another attempt live), then past the deadline."""
    if status == OrderStatus.CANCELLED:
        return Verdict.CANCELLED
    if status == OrderStatus.COMPLETE or paid_otherwise:
        return Verdict.PAID
    return Verdict.EXPIRED if expired else Verdict.OPEN


@dataclass(frozen=True)
class OrderUpdate:
    """The fields an order event changes in payments' copy, and whether its state is
    the newest known (only then does the event's verdict follow)."""

    changes: dict[str, object]
    newest: bool


def order_update(version: int, status: OrderStatus, details: Mapping[str, object], *,
                 known_version: int | None, known_details: bool) -> OrderUpdate:
    """Apply an order event in version order, whatever order events arrive in.

    A newer state replaces an older one, never the reverse; ``order:created``'s
    ``details`` (owner, price, deadline) fill a copy that a later event made first,
    whatever the versions. ``known_version`` is ``None`` for an order not seen yet.
    """
    if known_version is None:
        return OrderUpdate({**details, "status": status, "version": version}, newest=True)
    changes: dict[str, object] = {} if known_details else dict(details)
    newest = version > known_version
    if newest:
        changes |= {"status": status, "version": version}
    return OrderUpdate(changes, newest)
