"""Payments' rules over plain values: the attempt's state machine and the order copy.

No database and no provider: ``ticketing.modules.payments.rules`` is pure, the IO around
it is tests/integration/test_payments_api.py's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ticketing.bus.contracts import OrderStatus
from ticketing.modules.payments.errors import refusal
from ticketing.modules.payments.gateway import IntentStatus
from ticketing.modules.payments.models import AttemptStatus
from ticketing.modules.payments.rules import (
    OPEN_STATUSES,
    OrderUpdate,
    Step,
    Verdict,
    order_update,
    order_verdict,
    settlement,
)

REFUSALS = [v for v in Verdict if v.refuses]
STILL_PAYABLE = [Verdict.OPEN, Verdict.ACCEPTED]
DETAILS = {"user_id": "u" * 26, "price": Decimal("5.10"),
           "expires_at": datetime(2030, 1, 1, tzinfo=UTC)}


@pytest.mark.parametrize("attempt", OPEN_STATUSES)
@pytest.mark.parametrize(("intent", "payable", "refused"), [
    (IntentStatus.AUTHORIZED, Step.ASK_ORDERS, Step.RELEASE),
    (IntentStatus.SUCCEEDED, Step.COMPLETE, Step.REFUND),
    (IntentStatus.FAILED, Step.FAIL, Step.FAIL),
    (IntentStatus.PENDING, Step.WAIT, Step.WAIT),
])
def test_an_open_attempt_follows_the_providers_word_and_what_the_order_shows(
    attempt: AttemptStatus, intent: IntentStatus, payable: Step, refused: Step,
) -> None:
    for verdict in STILL_PAYABLE:
        assert settlement(attempt, intent, verdict) == payable
    for verdict in REFUSALS:
        assert settlement(attempt, intent, verdict) == refused


@pytest.mark.parametrize("attempt", OPEN_STATUSES)
def test_an_open_attempt_waits_for_the_providers_word(attempt: AttemptStatus) -> None:
    for verdict in Verdict:
        assert settlement(attempt, None, verdict) == Step.NOTHING


def test_a_held_attempt_is_captured_only_when_orders_accepts_it() -> None:
    held = AttemptStatus.AUTHORIZED
    assert settlement(held, None, Verdict.ACCEPTED) == Step.CAPTURE
    assert settlement(held, None, Verdict.OPEN) == Step.NOTHING
    for verdict in REFUSALS:
        assert settlement(held, None, verdict) == Step.RELEASE


@pytest.mark.parametrize("intent", list(IntentStatus))
def test_a_report_on_a_held_attempt_waits_for_orders(intent: IntentStatus) -> None:
    assert settlement(AttemptStatus.AUTHORIZED, intent) == Step.NOTHING


@pytest.mark.parametrize(("intent", "step"), [
    (IntentStatus.SUCCEEDED, Step.COMPLETE),
    (IntentStatus.FAILED, Step.FAIL),  # the hold was gone: complete but unpaid
    (IntentStatus.AUTHORIZED, Step.FAIL),
    (IntentStatus.PENDING, Step.FAIL),
    (None, Step.NOTHING),  # not captured yet
])
def test_a_capture_ends_in_the_payment_or_a_failure(intent: IntentStatus | None,
                                                    step: Step) -> None:
    assert settlement(AttemptStatus.CAPTURING, intent, Verdict.ACCEPTED) == step


@pytest.mark.parametrize(("intent", "step"), [
    (IntentStatus.FAILED, Step.VOID),
    (IntentStatus.SUCCEEDED, Step.REFUND),  # captured by the provider itself
    (None, Step.NOTHING),  # not released yet
])
def test_a_release_voids_the_hold_or_refunds_money_that_moved(intent: IntentStatus | None,
                                                              step: Step) -> None:
    assert settlement(AttemptStatus.VOIDING, intent, Verdict.CANCELLED) == step


def test_money_taken_goes_back_only_when_the_order_is_cancelled_after_all() -> None:
    paid = AttemptStatus.SUCCEEDED
    assert settlement(paid, None, Verdict.CANCELLED) == Step.REFUND
    for verdict in (Verdict.OPEN, Verdict.ACCEPTED, Verdict.PAID, Verdict.EXPIRED):
        assert settlement(paid, None, verdict) == Step.NOTHING
    assert settlement(paid, IntentStatus.SUCCEEDED, Verdict.PAID) == Step.NOTHING


@pytest.mark.parametrize("attempt", [AttemptStatus.FAILED, AttemptStatus.VOIDED,
                                     AttemptStatus.REFUNDING, AttemptStatus.REFUNDED])
def test_an_ended_or_refunding_attempt_is_left_alone(attempt: AttemptStatus) -> None:
    for intent in (None, *IntentStatus):
        for verdict in Verdict:
            assert settlement(attempt, intent, verdict) == Step.NOTHING


def test_orders_refusal_codes_are_verdicts_and_an_unknown_one_is_a_cancel() -> None:
    assert Verdict.refused_for("order_expired") == Verdict.EXPIRED
    assert Verdict.refused_for("order_paid") == Verdict.PAID
    assert Verdict.refused_for("order_cancelled") == Verdict.CANCELLED
    for unknown in ("payment_too_late", "open", "accepted", ""):
        assert Verdict.refused_for(unknown) == Verdict.CANCELLED


@pytest.mark.parametrize("verdict", REFUSALS)
def test_each_refusal_is_the_error_with_its_code(verdict: Verdict) -> None:
    assert refusal(verdict).code == verdict.value


@pytest.mark.parametrize(("status", "paid_otherwise", "expired", "verdict"), [
    (OrderStatus.CANCELLED, True, True, Verdict.CANCELLED),
    (OrderStatus.COMPLETE, False, True, Verdict.PAID),
    (OrderStatus.CREATED, True, True, Verdict.PAID),
    (OrderStatus.CREATED, False, True, Verdict.EXPIRED),
    (OrderStatus.CREATED, False, False, Verdict.OPEN),
])
def test_the_order_copy_refuses_money_cancelled_then_paid_then_expired(
    status: OrderStatus, paid_otherwise: bool, expired: bool, verdict: Verdict,
) -> None:
    assert order_verdict(status, paid_otherwise=paid_otherwise, expired=expired) == verdict


def test_the_first_event_of_an_order_makes_its_copy() -> None:
    assert order_update(0, OrderStatus.CREATED, DETAILS, known_version=None,
                        known_details=False) == OrderUpdate(
        {**DETAILS, "status": OrderStatus.CREATED, "version": 0}, newest=True)


def test_a_later_event_arriving_first_makes_a_copy_without_details() -> None:
    assert order_update(1, OrderStatus.CANCELLED, {}, known_version=None,
                        known_details=False) == OrderUpdate(
        {"status": OrderStatus.CANCELLED, "version": 1}, newest=True)


def test_a_newer_state_replaces_the_known_one() -> None:
    assert order_update(2, OrderStatus.COMPLETE, {}, known_version=1,
                        known_details=True) == OrderUpdate(
        {"status": OrderStatus.COMPLETE, "version": 2}, newest=True)


@pytest.mark.parametrize("version", [0, 1])
def test_a_stale_or_repeated_state_changes_nothing(version: int) -> None:
    assert order_update(version, OrderStatus.CANCELLED, {}, known_version=1,
                        known_details=True) == OrderUpdate({}, newest=False)


def test_a_late_order_created_fills_the_details_and_keeps_the_newer_state() -> None:
    assert order_update(0, OrderStatus.CREATED, DETAILS, known_version=1,
                        known_details=False) == OrderUpdate(dict(DETAILS), newest=False)


def test_details_never_overwrite_a_copy_that_has_them() -> None:
    other = {**DETAILS, "user_id": "v" * 26}
    assert order_update(0, OrderStatus.CREATED, other, known_version=0,
                        known_details=True) == OrderUpdate({}, newest=False)
