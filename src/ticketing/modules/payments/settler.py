"""The settler: the one place a decided attempt is taken to the provider.

Whoever decides an attempt's fate (the reactions hearing orders' verdict, a request or a
webhook finding money the order cannot take) does so in a transaction that locks the
order's copy or the attempt, and there only records the decision: the attempt becomes
*capturing*, *voiding* or *refunding* (:meth:`Settler.decide`). No provider call is made
while such a lock is held. Once it commits, this task captures (money moves once: the
idempotency key is per attempt), releases the hold (no money moves) or refunds, and
records the end. It is a :class:`PollingWorker`, woken when a decision commits and
polling as a backstop: a provider that is away, or a process that stopped between the
commit and the call, is asked again until it answers.
"""

from __future__ import annotations

import logging

from ticketing.bus.contracts import OrderStatus, PaymentCreated
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.bus.polling import PollingWorker
from ticketing.clock import Clock
from ticketing.errors import DomainError, message_of
from ticketing.modules.payments.figures import count_outcome
from ticketing.modules.payments.gateway import Intent, PaymentGateway
from ticketing.modules.payments.models import (
    DECIDED_STATUSES,
    AttemptStatus,
    OrderReplica,
    Payment,
    PaymentAttempt,
    locked,
)
from ticketing.modules.payments.rules import Step, Verdict, settlement
from ticketing.signals import Signals

log = logging.getLogger("ticketing.payments")

POLL_SECONDS = 1.0
BATCH = 50
# What a decided step leaves on the attempt until the settler has carried it out.
_DECIDED = {Step.CAPTURE: AttemptStatus.CAPTURING, Step.RELEASE: AttemptStatus.VOIDING,
            Step.REFUND: AttemptStatus.REFUNDING}


async def record_payment(unit: UnitOfWork, attempt: PaymentAttempt, intent: Intent) -> None:
    """The captured money pays the order: the payment row and ``payment:created``.

    The payment's id is the attempt's: the id ``payment:authorized`` announced.
    """
    await Payment.create(
        id=attempt.id, order_id=attempt.order_id, attempt_id=attempt.id, stripe_id=intent.id,
        amount_cents=attempt.amount_cents, currency=attempt.currency, using_db=unit.connection,
    )
    attempt.status = AttemptStatus.SUCCEEDED
    count_outcome(unit, "succeeded")
    await unit.publish(PaymentCreated(id=attempt.id, order_id=attempt.order_id,
                                      stripe_id=intent.id))
    log.info("order=%s paid payment=%s intent=%s amount_cents=%d", attempt.order_id,
             attempt.id, intent.id, attempt.amount_cents)


class Settler(PollingWorker):
    """Carries out captures, releases and refunds (see the module docstring)."""

    def __init__(self, outbox: Outbox, gateway: PaymentGateway, clock: Clock) -> None:
        super().__init__(poll_seconds=POLL_SECONDS, batch=BATCH)
        self._outbox = outbox
        self._gateway = gateway
        self._clock = clock
        # Attempts this settler brought to their end, for the payment requests waiting.
        self.settled: Signals[str] = Signals()

    def decide(self, unit: UnitOfWork, attempt: PaymentAttempt, step: Step,
               verdict: Verdict) -> None:
        """Record a capture, release or refund on the attempt, in the caller's (locked)
        transaction; the caller saves it. The provider is called once that commits."""
        attempt.status = _DECIDED[step]
        if verdict.refuses:
            attempt.refusal_code = verdict.value
        unit.after_commit(self.wake)

    async def work_batch(self) -> int:
        """Take one batch of decided attempts to the provider; how many were looked at.

        An attempt the provider cannot be asked about now stays decided for the next
        round; a failure of one never holds up the others.
        """
        decided = await PaymentAttempt.filter(status__in=DECIDED_STATUSES) \
            .order_by("updated_at").limit(BATCH)
        for attempt in decided:
            try:
                await self._settle(attempt)
            except DomainError as error:  # provider away or refusing us: next round
                log.warning("order=%s attempt=%s not settled yet: %s", attempt.order_id,
                            attempt.id, error.message)
        return len(decided)

    async def _settle(self, attempt: PaymentAttempt) -> None:
        assert attempt.intent_id is not None
        if attempt.status == AttemptStatus.REFUNDING:
            await self._refund(attempt)
            return
        if attempt.status == AttemptStatus.CAPTURING:
            answer = await self._gateway.capture(attempt.intent_id,
                                                 f"ticketing-capture-{attempt.id}")
        else:
            answer = await self._gateway.cancel(attempt.intent_id)
        step = settlement(attempt.status, answer.status)
        if step == Step.REFUND:
            await self._refund(attempt)
        else:
            await self._record(attempt, step, answer)

    async def _record(self, attempt: PaymentAttempt, step: Step, answer: Intent) -> None:
        """The provider's answer to a capture or a release, unless another settler (a
        replica of this process) recorded the attempt's end first."""
        async with self._outbox.transaction() as unit:
            current = await locked(PaymentAttempt, attempt.id, unit.connection)
            if current.status != attempt.status:
                return
            if step == Step.COMPLETE:
                await record_payment(unit, current, answer)
                order = await OrderReplica.get_or_none(id=current.order_id,
                                                       using_db=unit.connection)
                if order is not None and order.status == OrderStatus.CANCELLED:
                    # Refunded while the capture was on its way: the money goes back.
                    self.decide(unit, current, Step.REFUND, Verdict.CANCELLED)
            elif step == Step.VOID:
                current.status = AttemptStatus.VOIDED
                count_outcome(unit, "voided")
                log.info("order=%s attempt=%s hold released: %s", current.order_id,
                         current.id, current.refusal_code)
            else:
                current.status = AttemptStatus.FAILED
                count_outcome(unit, "failed")
                current.failure_message = answer.failure_message or message_of("hold_released")
                log.error("order=%s attempt=%s accepted but its hold could not be captured "
                          "(intent %s is %s)", current.order_id, current.id, answer.id,
                          answer.status)
            await current.save(using_db=unit.connection)
            self._tell_settled(unit, current.id)

    def _tell_settled(self, unit: UnitOfWork, attempt_id: str) -> None:
        unit.after_commit(lambda: self.settled.mark(attempt_id))

    async def _refund(self, attempt: PaymentAttempt) -> None:
        """Give the captured money back; the refund's own idempotency key makes a retry
        (after a crash, or by another replica) safe."""
        assert attempt.intent_id is not None
        refund_id = await self._gateway.refund(attempt.intent_id,
                                               f"ticketing-refund-{attempt.id}")
        async with self._outbox.transaction() as unit:
            current = await locked(PaymentAttempt, attempt.id, unit.connection)
            if current.status != attempt.status:
                return
            current.status, current.refund_id = AttemptStatus.REFUNDED, refund_id
            count_outcome(unit, "refunded")
            current.refunded_at = self._clock()
            await current.save(using_db=unit.connection)
            self._tell_settled(unit, current.id)
        log.warning("order=%s refunded intent=%s refund=%s: %s", attempt.order_id,
                    attempt.intent_id, refund_id, attempt.refusal_code)
