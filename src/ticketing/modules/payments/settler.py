"""The settler: takes orders' verdict on each authorised payment to the provider.

Orders accepts an authorisation (``order:completed`` naming it) or refuses it
(``order:payment-refused``, or the order was cancelled). The reactions only mark the
attempt *capturing* or *voiding* in the consumer's transaction, never call the provider
there; this task then captures (money moves once: the idempotency key is per attempt) or
releases the hold (no money moves), and records the end. It runs under the process's
supervisor, wakes when a verdict commits, and polls as a backstop: a provider that is
away is asked again until it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from ticketing.bus.contracts import PaymentCreated
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.errors import DomainError
from ticketing.modules.payments.gateway import Intent, IntentStatus, PaymentGateway
from ticketing.modules.payments.models import (
    DECIDED_STATUSES,
    AttemptStatus,
    Payment,
    PaymentAttempt,
)

log = logging.getLogger("ticketing.payments")

POLL_SECONDS = 1.0
BATCH = 50


async def record_payment(unit: UnitOfWork, attempt: PaymentAttempt, intent: Intent) -> None:
    """The captured money pays the order: the payment row and ``payment:created``.

    The payment's id is the attempt's: the id ``payment:authorized`` announced.
    """
    await Payment.create(
        id=attempt.id, order_id=attempt.order_id, attempt_id=attempt.id, stripe_id=intent.id,
        amount_cents=attempt.amount_cents, currency=attempt.currency, using_db=unit.connection,
    )
    attempt.status = AttemptStatus.SUCCEEDED
    await unit.publish(PaymentCreated(id=attempt.id, order_id=attempt.order_id,
                                      stripe_id=intent.id))
    log.info("order=%s paid payment=%s intent=%s amount_cents=%d", attempt.order_id,
             attempt.id, intent.id, attempt.amount_cents)


async def refund(gateway: PaymentGateway, attempt: PaymentAttempt, reason: DomainError,
                 now: datetime) -> None:
    """Give captured money back and record why (the caller saves the attempt).

    Only for money that moved without orders' acceptance (a provider that captured by
    itself); the refund's own idempotency key makes a retry safe.
    """
    assert attempt.intent_id is not None
    attempt.refund_id = await gateway.refund(attempt.intent_id,
                                             f"ticketing-refund-{attempt.id}")
    attempt.status = AttemptStatus.REFUNDED
    attempt.refunded_at = now
    attempt.failure_message = reason.message
    log.warning("order=%s refunded intent=%s refund=%s: %s", attempt.order_id,
                attempt.intent_id, attempt.refund_id, reason.message)


class Settler:
    """Captures accepted holds and releases refused ones (see the module docstring)."""

    def __init__(self, outbox: Outbox, gateway: PaymentGateway,
                 clock: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._gateway = gateway
        self._clock = clock
        self._wakeup = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wakeup.set()

    def finish(self) -> None:
        """End :meth:`run` after the attempt in hand (a query cancelled on SQLite can keep
        the connection's lock)."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        """Settle decided attempts until :meth:`finish`; the supervisor restarts it on
        failure."""
        self._stopping = False
        while not self._stopping:
            self._wakeup.clear()
            if await self.settle_decided() < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), POLL_SECONDS)

    async def settle_decided(self) -> int:
        """Take one batch of decided attempts to the provider; how many were looked at.

        An attempt the provider cannot be asked about now stays decided for the next
        round; a failure of one never holds up the others.
        """
        decided = await PaymentAttempt.filter(status__in=DECIDED_STATUSES) \
            .order_by("updated_at").limit(BATCH)
        for attempt in decided:
            try:
                if attempt.status == AttemptStatus.CAPTURING:
                    await self._capture(attempt)
                else:
                    await self._release(attempt)
            except DomainError as error:  # provider away or refusing us: next round
                log.warning("order=%s attempt=%s not settled yet: %s", attempt.order_id,
                            attempt.id, error.message)
        return len(decided)

    async def _capture(self, attempt: PaymentAttempt) -> None:
        assert attempt.intent_id is not None
        intent = await self._gateway.capture(attempt.intent_id,
                                             f"ticketing-capture-{attempt.id}")
        async with self._outbox.transaction() as unit:
            current = await _locked(attempt.id, unit.connection)
            if current.status != AttemptStatus.CAPTURING:
                return
            if intent.status == IntentStatus.SUCCEEDED:
                await record_payment(unit, current, intent)
            else:
                # The hold was gone (released at the provider, or expired after days):
                # the order is complete but unpaid, which an operator must resolve.
                current.status = AttemptStatus.FAILED
                current.failure_message = intent.failure_message or "The hold was released"
                log.error("order=%s attempt=%s accepted but its hold could not be captured "
                          "(intent %s is %s)", current.order_id, current.id, intent.id,
                          intent.status)
            await current.save(using_db=unit.connection)

    async def _release(self, attempt: PaymentAttempt) -> None:
        assert attempt.intent_id is not None
        intent = await self._gateway.cancel(attempt.intent_id)
        if intent.status == IntentStatus.SUCCEEDED:  # captured by the provider itself
            await refund(self._gateway, attempt, _Reason(attempt.failure_message), self._clock())
        async with self._outbox.transaction() as unit:
            current = await _locked(attempt.id, unit.connection)
            if current.status != AttemptStatus.VOIDING:
                return
            if attempt.status == AttemptStatus.REFUNDED:
                current.status, current.refund_id = attempt.status, attempt.refund_id
                current.refunded_at = attempt.refunded_at
            else:
                current.status = AttemptStatus.VOIDED
            await current.save(using_db=unit.connection)
        log.info("order=%s attempt=%s hold released: %s", attempt.order_id, attempt.id,
                 attempt.failure_message)


class _Reason(DomainError):
    """The reason already stored on the attempt, for a refund's record."""

    code = "payment_refused_by_orders"

    def __init__(self, message: str | None) -> None:
        super().__init__(message or "The order could not be paid any more")


async def _locked(attempt_id: str, connection: BaseDBAsyncClient) -> PaymentAttempt:
    return await PaymentAttempt.filter(id=attempt_id).using_db(connection) \
        .select_for_update().get()
