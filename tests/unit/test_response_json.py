"""The slices turn the facades' views into the contract's JSON: prices as numbers, times in
UTC ending in ``Z``, ``orderId`` only while a ticket is held."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from ticketing.bus.contracts import OrderStatus
from ticketing.modules.orders.api import OrderedTicket, OrderView, RefundState
from ticketing.modules.tickets.api import TicketView
from ticketing.web.orders.schemas import OrderResponse, order_json
from ticketing.web.tickets.schemas import TicketResponse, ticket_json

TICKET = TicketView(id="t1", title="Concert", price=Decimal("1000000.00"), user_id="u1",
                    version=3)
ORDER = OrderView(id="o1", status=OrderStatus.AWAITING_PAYMENT, user_id="u2",
                  expires_at=datetime(2026, 1, 1, 14, 15, tzinfo=timezone(timedelta(hours=2))),
                  version=1, tickets=(OrderedTicket(id="t1", title="Concert",
                                                    price=Decimal("19.99"), version=4),))


def test_a_ticket_has_an_order_id_only_while_held() -> None:
    assert ticket_json(TICKET) == {"id": "t1", "title": "Concert", "price": 1000000.0,
                                   "userId": "u1", "version": 3}
    held = ticket_json(replace(TICKET, order_id="o1", refund_days=7))
    assert held == ticket_json(TICKET) | {"orderId": "o1", "refundDays": 7}
    assert set(held) == set(TicketResponse.model_fields)


def test_an_order_expires_in_utc_and_its_ticket_price_is_a_number() -> None:
    body = order_json(ORDER)

    assert body == {
        "id": "o1", "status": "awaiting:payment", "userId": "u2",
        "expiresAt": "2026-01-01T12:15:00Z", "version": 1,
        "ticket": {"id": "t1", "title": "Concert", "price": 19.99, "version": 4},
    }
    assert set(body) == set(OrderResponse.model_fields) - {
        "eventId", "quantity", "tickets", "refundableUntil", "refund"}
    assert type(body["status"]) is str


def test_an_order_of_an_event_lists_every_ticket_and_the_first_as_its_ticket() -> None:
    second = OrderedTicket(id="t2", title="Concert", price=Decimal("19.99"), version=1)
    body = order_json(replace(ORDER, tickets=(*ORDER.tickets, second), event_id="e1",
                              refundable_until=datetime(2026, 1, 8, tzinfo=UTC),
                              refund=RefundState("refused", None, "checked_in_refund")))

    assert body["ticket"] == body["tickets"][0]
    assert [t["id"] for t in body["tickets"]] == ["t1", "t2"]
    assert (body["eventId"], body["quantity"]) == ("e1", 2)
    assert set(body) == set(OrderResponse.model_fields)
    assert body["refundableUntil"] == "2026-01-08T00:00:00Z"
    assert body["refund"] == {"status": "refused", "at": None,
                              "reason": "A ticket let in at the door cannot be refunded"}
