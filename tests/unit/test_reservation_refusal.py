"""What a reservation is refused for, before the database's own one-winner check."""

from __future__ import annotations

import pytest

from ticketing.bus.contracts import OrderStatus
from ticketing.errors import NotFound
from ticketing.modules.orders.rules import TicketAlreadyReserved, reservation_refusal


def test_a_ticket_orders_does_not_know_is_not_found() -> None:
    assert isinstance(reservation_refusal(False, []), NotFound)


@pytest.mark.parametrize("active", [OrderStatus.CREATED, OrderStatus.AWAITING_PAYMENT,
                                    OrderStatus.COMPLETE])
def test_a_ticket_an_open_or_paid_order_holds_is_already_reserved(active: OrderStatus) -> None:
    refusal = reservation_refusal(True, [OrderStatus.CANCELLED, active])

    assert isinstance(refusal, TicketAlreadyReserved)
    assert refusal.message == "Ticket is already reserved"


@pytest.mark.parametrize("statuses", [[], [OrderStatus.CANCELLED, OrderStatus.CANCELLED]])
def test_a_known_ticket_without_an_active_order_can_be_reserved(
    statuses: list[OrderStatus],
) -> None:
    assert reservation_refusal(True, statuses) is None
