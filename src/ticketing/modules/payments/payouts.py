"""The payout ledger: what the marketplace owes the people whose resales sold.

An entry is written when tickets says a resale was bought (``ticket:resold``), once per
ticket per order (the consumer drops a redelivered event; a unique key backs it); if
that order is refunded later, a reversing entry takes it back. Moving the money
to a bank account is out of scope; the ledger is what such a transfer would settle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ticketing.bus.contracts import OrderStatus, TicketResold
from ticketing.bus.outbox import UnitOfWork
from ticketing.clock import Clock
from ticketing.modules.payments.gateway import CURRENCY, cents
from ticketing.modules.payments.models import OrderReplica, Payout

RESALE = "resale"
REVERSAL = "refunded"  # the buyer of the resale was refunded: its payout is taken back


@dataclass(frozen=True)
class PayoutView:
    ticket_id: str
    order_id: str
    amount: Decimal
    currency: str
    cause: str
    recorded_at: datetime


async def record_resale(event: TicketResold, unit: UnitOfWork, clock: Clock) -> None:
    """The seller of a resale is owed what its buyer paid for it, unless that order was
    refunded already. The order's copy is locked, as its cancellation locks it, so the
    entry and its reversal (:func:`reverse_for`) never miss each other."""
    order = await OrderReplica.filter(id=event.order_id).using_db(unit.connection) \
        .select_for_update().first()
    if await Payout.filter(order_id=event.order_id, ticket_id=event.ticket_id, cause=RESALE) \
            .using_db(unit.connection).exists():
        return
    await Payout.create(payee_id=event.seller_id, ticket_id=event.ticket_id,
                        order_id=event.order_id, amount_cents=cents(event.price),
                        currency=CURRENCY, cause=RESALE, recorded_at=clock(),
                        using_db=unit.connection)
    if order is not None and order.status == OrderStatus.CANCELLED:
        await reverse_for(unit, event.order_id, clock)


async def reverse_for(unit: UnitOfWork, order_id: str, clock: Clock) -> None:
    """The order that bought resales was cancelled after all (refunded): what their
    sellers were owed for it is taken back by a reversing entry each."""
    owed = await Payout.filter(order_id=order_id, cause=RESALE).using_db(unit.connection)
    reversed_ = {entry.ticket_id for entry in await Payout.filter(
        order_id=order_id, cause=REVERSAL).using_db(unit.connection)}
    for entry in owed:
        if entry.ticket_id not in reversed_:
            await Payout.create(payee_id=entry.payee_id, ticket_id=entry.ticket_id,
                                order_id=order_id, amount_cents=-entry.amount_cents,
                                currency=entry.currency, cause=REVERSAL,
                                recorded_at=clock(), using_db=unit.connection)


async def payouts_of(user_id: str) -> list[PayoutView]:
    """The user's payouts, newest first."""
    return [PayoutView(p.ticket_id, p.order_id, Decimal(p.amount_cents).scaleb(-2),
                       p.currency, p.cause, p.recorded_at)
            for p in await Payout.filter(payee_id=user_id).order_by("-id")]
