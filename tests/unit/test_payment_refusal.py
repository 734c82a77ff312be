"""Why an order refuses a payment held for it: the first of a cancel, a payment or the
deadline to reach orders wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing.bus.contracts import OrderStatus
from ticketing.modules.orders.rules import payment_refusal

DEADLINE = datetime(2026, 12, 1, 12, 15, tzinfo=UTC)
BEFORE = DEADLINE - timedelta(microseconds=1)


@pytest.mark.parametrize(("status", "reason"), [(OrderStatus.CANCELLED, "order_cancelled"),
                                                (OrderStatus.COMPLETE, "order_paid")])
def test_a_closed_order_refuses_even_a_payment_held_in_time(status: OrderStatus,
                                                           reason: str) -> None:
    assert payment_refusal(status, DEADLINE, BEFORE) == reason


@pytest.mark.parametrize("held_at", [DEADLINE, DEADLINE + timedelta(minutes=1)])
def test_money_held_at_or_after_the_deadline_is_refused(held_at: datetime) -> None:
    assert payment_refusal(OrderStatus.CREATED, DEADLINE, held_at) == "order_expired"


@pytest.mark.parametrize("status", [OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT])
def test_an_open_order_takes_money_held_before_its_deadline(status: OrderStatus) -> None:
    assert payment_refusal(status, DEADLINE, BEFORE) is None
