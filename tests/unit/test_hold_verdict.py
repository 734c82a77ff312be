"""The hold rule: what an order event reaching tickets does to the ticket, as plain values."""

from __future__ import annotations

import pytest

from ticketing.bus.contracts import OrderStatus
from ticketing.modules.tickets.holds import Hold, Verdict, hold_verdict

ORDER, OTHER = "01order0000000000000000000", "01other0000000000000000000"
FREE = Hold(None)


def verdict(status: OrderStatus, *, ticket: Hold | None = FREE,
            holder_status: OrderStatus | None = None) -> Verdict:
    return hold_verdict(ORDER, status, ticket=ticket, holder_status=holder_status)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_nothing_moves_a_ticket_unknown_here_or_sold_for_good(status: OrderStatus) -> None:
    assert verdict(status, ticket=None) is Verdict.SETTLED
    assert verdict(status, ticket=Hold(OTHER, sold=True)) is Verdict.SETTLED


@pytest.mark.parametrize("holder", [None, ORDER, OTHER])
def test_a_paid_order_buys_the_ticket_whoever_held_it(holder: str | None) -> None:
    assert verdict(OrderStatus.COMPLETE, ticket=Hold(holder),
                   holder_status=OrderStatus.CREATED) is Verdict.SELL


@pytest.mark.parametrize("holder_status", [OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT])
@pytest.mark.parametrize("status", [OrderStatus.CREATED, OrderStatus.CANCELLED])
def test_another_order_still_open_keeps_its_hold(holder_status: OrderStatus,
                                                 status: OrderStatus) -> None:
    assert verdict(status, ticket=Hold(OTHER), holder_status=holder_status) is Verdict.REFUSED


@pytest.mark.parametrize("holder_status", [OrderStatus.CANCELLED, OrderStatus.COMPLETE, None])
def test_a_hold_of_an_order_seen_closed_or_never_seen_can_be_taken(
    holder_status: OrderStatus | None,
) -> None:
    assert verdict(OrderStatus.CREATED, ticket=Hold(OTHER),
                   holder_status=holder_status) is Verdict.HOLD
    assert verdict(OrderStatus.CANCELLED, ticket=Hold(OTHER),
                   holder_status=holder_status) is Verdict.RELEASE


@pytest.mark.parametrize("holder", [None, ORDER])
def test_a_cancellation_releases_a_free_ticket_or_its_own_hold(holder: str | None) -> None:
    assert verdict(OrderStatus.CANCELLED, ticket=Hold(holder),
                   holder_status=OrderStatus.CREATED) is Verdict.RELEASE


@pytest.mark.parametrize("holder", [None, ORDER])
def test_a_new_order_holds_a_free_ticket_or_the_one_it_holds(holder: str | None) -> None:
    assert verdict(OrderStatus.CREATED, ticket=Hold(holder),
                   holder_status=OrderStatus.CREATED) is Verdict.HOLD
