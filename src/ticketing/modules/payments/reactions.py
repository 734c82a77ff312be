"""Payments' reactions to order events: its copy of each order, and orders' verdicts.

They are registered through the module's subscriptions table (never called through the
facade) and run in the consumer's transaction, which locks the order's copy and its
attempts: there they only record what is to happen (:func:`~.rules.settlement`); the
settler calls the provider once that transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderPaymentRefused,
    OrderStatus,
    TicketResold,
)
from ticketing.bus.outbox import UnitOfWork
from ticketing.bus.sql import dialect_of, parameters
from ticketing.clock import Clock
from ticketing.modules.payments import payouts
from ticketing.modules.payments.models import OrderReplica, PaymentAttempt
from ticketing.modules.payments.rules import Step, Verdict, order_update, settlement
from ticketing.modules.payments.settler import Settler


@cache
def _new_copy(dialect: str) -> str:
    p = parameters(dialect)
    return ("INSERT INTO payments_orders (id, user_id, price, expires_at, status, version) "
            f"VALUES ({p(1)}, {p(2)}, {p(3)}, {p(4)}, {p(5)}, {p(6)}) "
            "ON CONFLICT (id) DO NOTHING RETURNING id")


class Reactions:
    """The handlers of payments' subscriptions."""

    def __init__(self, settler: Settler, clock: Clock) -> None:
        self._settler = settler
        self._clock = clock

    @property
    def subscriptions(self) -> Subscriptions:
        """What payments reacts to: the life of every order, to know what may be paid,
        orders' verdict on each authorised payment, and resales sold (a payout owed)."""
        return {
            OrderCreated: self.on_order_created,
            OrderCancelled: self.on_order_cancelled,
            OrderCompleted: self.on_order_completed,
            OrderPaymentRefused: self.on_order_payment_refused,
            TicketResold: self.on_ticket_resold,
        }

    async def on_ticket_resold(self, event: TicketResold, unit: UnitOfWork) -> None:
        await payouts.record_resale(event, unit, self._clock)

    async def on_order_created(self, event: OrderCreated, unit: UnitOfWork) -> None:
        """A new order's copy, in one statement; a copy some later event of the order made
        first takes the general path."""
        connection = unit.connection
        if await connection.execute_query_dict(_new_copy(dialect_of(connection)), [
                event.id, event.user_id, event.total, event.expires_at,
                OrderStatus.CREATED.value, event.version]):
            return
        await self._apply_order(unit, event.id, event.version, OrderStatus.CREATED, {
            "user_id": event.user_id, "price": event.total,
            "expires_at": event.expires_at,
        })

    async def on_order_cancelled(self, event: OrderCancelled, unit: UnitOfWork) -> None:
        """The order ended unpaid: a hold for it is released. Money captured by the 0.1
        flow (it raced the expiry) goes back."""
        if await self._apply_order(unit, event.id, event.version, OrderStatus.CANCELLED):
            await self._decide(unit, event.id, lambda attempt: Verdict.CANCELLED)
            await payouts.reverse_for(unit, event.id, self._clock)

    async def on_order_completed(self, event: OrderCompleted, unit: UnitOfWork) -> None:
        """Orders accepted ``payment_id``: capture it; any other hold is released."""
        await self._apply_order(unit, event.id, event.version, OrderStatus.COMPLETE)
        await self._decide(unit, event.id, lambda attempt: (
            Verdict.ACCEPTED if attempt.id == event.payment_id else Verdict.PAID))

    async def on_order_payment_refused(self, event: OrderPaymentRefused,
                                       unit: UnitOfWork) -> None:
        """Orders refused the authorised payment: release the hold, charge nothing."""
        attempt = await PaymentAttempt.filter(id=event.payment_id, order_id=event.id) \
            .using_db(unit.connection).select_for_update().first()
        if attempt is not None:
            await self._judge(unit, attempt, Verdict.refused_for(event.reason))

    async def _decide(self, unit: UnitOfWork, order_id: str,
                      verdict_on: Callable[[PaymentAttempt], Verdict]) -> None:
        """The order's verdict on each of its attempts; those it concerns change."""
        attempts = await PaymentAttempt.filter(order_id=order_id).using_db(unit.connection) \
            .order_by("id").select_for_update()
        for attempt in attempts:
            await self._judge(unit, attempt, verdict_on(attempt))

    async def _judge(self, unit: UnitOfWork, attempt: PaymentAttempt, verdict: Verdict) -> None:
        step = settlement(attempt.status, None, verdict)
        if step != Step.NOTHING:
            self._settler.decide(unit, attempt, step, verdict)
            await attempt.save(using_db=unit.connection)

    async def _apply_order(self, unit: UnitOfWork, order_id: str, version: int,
                           status: OrderStatus,
                           details: Mapping[str, object] | None = None) -> bool:
        """Record the order's state in version order (:func:`~.rules.order_update`);
        True if this state is the newest known."""
        connection = unit.connection
        replica = await OrderReplica.filter(id=order_id).using_db(connection) \
            .select_for_update().first()
        update = order_update(
            version, status, details or {},
            known_version=None if replica is None else replica.version,
            known_details=replica is not None and replica.user_id is not None)
        if replica is None:
            await OrderReplica.create(id=order_id, using_db=connection, **update.changes)
        elif update.changes:
            for name, value in update.changes.items():
                setattr(replica, name, value)
            await replica.save(using_db=connection, update_fields=list(update.changes))
        return update.newest
