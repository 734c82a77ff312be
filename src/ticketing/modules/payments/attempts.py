"""A payment attempt, from the request that opens it to the verdict that settles it.

Money moves once, and only for an order that orders has accepted it for. A payment is an
attempt row written (with its own idempotency key) before the provider is called; a
unique partial index lets only one attempt per order be in flight, waiting for the
customer, held, or paid. The provider first only *authorises* (holds the amount); the
attempt turns ``authorized`` together with ``payment:authorized``; orders answers with
``order:completed`` naming it (the settler captures it: the payment row and
``payment:created`` commit together) or refuses (the settler releases the hold and
nothing is charged). The request waits a few seconds for that verdict.

The provider is called here only outside a transaction: :meth:`Attempts.settle` locks
the order's copy and the attempt, decides by :func:`~.rules.settlement` and records the
step; a release or a refund is the settler's to carry out once that commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from ticketing.bus.contracts import PaymentAuthorized
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.clock import Clock
from ticketing.errors import DomainError
from ticketing.ids import new_id
from ticketing.modules.payments.errors import AlreadyPaid, OrderExpired, refusal
from ticketing.modules.payments.figures import count_outcome
from ticketing.modules.payments.gateway import (
    CURRENCY,
    DECLINED_MESSAGE,
    ChargeRequest,
    Intent,
    IntentStatus,
    OutcomeUnknown,
    PaymentGateway,
    PaymentInProgress,
    PaymentRefused,
    ProviderUnavailable,
    cents,
)
from ticketing.modules.payments.models import (
    BLOCKING_STATUSES,
    DECIDED_STATUSES,
    AttemptStatus,
    OrderReplica,
    Payment,
    PaymentAttempt,
    WebhookEvent,
    locked,
)
from ticketing.modules.payments.rules import (
    OPEN_STATUSES,
    Step,
    Verdict,
    order_verdict,
    settlement,
)
from ticketing.modules.payments.settler import Settler, record_payment
from ticketing.telemetry import metrics

# A pending attempt older than this lost its request (the provider call has long timed
# out): the next payment asks the provider again with the same idempotency key.
STALE_ATTEMPT = timedelta(seconds=120)
# How long a payment request waits for orders' verdict on its authorisation; past it the
# answer is 202 "processing" and the order page shows how it ended.
DECISION_WAIT_SECONDS = 10.0
# The attempt is held and orders has not answered, or the settler has yet to act on it.
_UNDECIDED = (AttemptStatus.AUTHORIZED, *DECIDED_STATUSES)


@dataclass(frozen=True)
class PaymentResult:
    """A payment request's end: paid (``payment_id``), the customer must act first
    (``client_secret``), or orders has not decided yet (``processing_id``)."""

    payment_id: str | None = None
    client_secret: str | None = None
    processing_id: str | None = None


class Attempts:
    """Opens, authorises, resumes, concludes and settles payment attempts."""

    def __init__(self, outbox: Outbox, gateway: PaymentGateway, settler: Settler,
                 clock: Clock) -> None:
        self._outbox = outbox
        self._gateway = gateway
        self._settler = settler
        self._clock = clock

    async def pay(self, order: OrderReplica, payment_method: str) -> PaymentResult:
        """Charge a payable order's exact price once (a second round only after the
        attempt in the way turned out to have failed)."""
        for _ in range(2):
            if not self._expired(order):
                attempt = await self._open(order, payment_method)
                if attempt is not None:
                    return await self._authorize(attempt)
            # Past the deadline an attempt made before it may still be accepted (the
            # hold's time decides): its outcome is the answer, not "expired".
            result = await self._resume(order.id, payment_method)
            if result is not None:
                return result
            if self._expired(order):
                # The expiry event may not have arrived yet: the deadline alone decides.
                raise OrderExpired()
        raise PaymentInProgress()

    def _expired(self, order: OrderReplica) -> bool:
        assert order.expires_at is not None
        return self._clock() >= order.expires_at

    async def _open(self, order: OrderReplica, payment_method: str) -> PaymentAttempt | None:
        """Write a new attempt (and its key) before any call; None if another is in the way."""
        assert order.price is not None
        assert order.user_id is not None
        attempt_id = new_id()
        attempt = PaymentAttempt(
            id=attempt_id, order_id=order.id, user_id=order.user_id,
            payment_method=payment_method, amount_cents=cents(order.price), currency=CURRENCY,
            idempotency_key=f"ticketing-payment-{order.id}-{attempt_id}",
            status=AttemptStatus.PENDING,
            created_at=self._clock(),  # the stale-attempt rule reads it on the same clock
        )
        try:
            async with self._outbox.transaction() as unit:
                await attempt.save(using_db=unit.connection, force_create=True)
        except IntegrityError:
            return None
        return attempt

    async def _authorize(self, attempt: PaymentAttempt) -> PaymentResult:
        request = ChargeRequest(
            amount_cents=attempt.amount_cents, currency=attempt.currency,
            payment_method=attempt.payment_method, idempotency_key=attempt.idempotency_key,
            metadata={"order_id": attempt.order_id, "attempt_id": attempt.id},
        )
        try:
            intent = await self._gateway.authorize(request)
        except (PaymentRefused, ProviderUnavailable) as error:
            # Unless the outcome is unknown, nothing was charged: the order is free for
            # the next attempt.
            if not isinstance(error, OutcomeUnknown) and await PaymentAttempt.filter(
                    id=attempt.id, status=AttemptStatus.PENDING).update(
                    status=AttemptStatus.FAILED, failure_message=error.message):
                metrics.PAYMENTS.labels(
                    "declined" if isinstance(error, PaymentRefused) else "failed").inc()
            raise
        return await self._conclude(attempt.id, intent)

    async def _resume(self, order_id: str, payment_method: str) -> PaymentResult | None:
        """Deal with the attempt in the way; None once it turned out to have failed."""
        existing = await PaymentAttempt.filter(order_id=order_id,
                                               status__in=BLOCKING_STATUSES).first()
        if existing is None:
            return None
        if existing.status == AttemptStatus.SUCCEEDED:
            raise AlreadyPaid()
        if existing.status in _UNDECIDED:
            await self._raise_anothers_outcome(existing.id)
        try:
            if existing.status == AttemptStatus.PENDING or existing.intent_id is None:
                if self._clock() - existing.created_at < STALE_ATTEMPT:
                    raise PaymentInProgress()
                # Its request died without an answer: ask again with the same key,
                # which the provider answers with the first call's outcome.
                return await self._authorize(existing)
            intent = await self._gateway.retrieve(existing.intent_id)
            if intent.status == IntentStatus.PENDING and payment_method != existing.payment_method:
                # The customer gave up on confirming that card and chose another.
                intent = await self._gateway.cancel(existing.intent_id)
            return await self._conclude(existing.id, intent, own=False)
        except PaymentRefused:
            return None

    async def _conclude(self, attempt_id: str, intent: Intent, *,
                        own: bool = True) -> PaymentResult:
        """The request's answer from the settled attempt.

        ``own`` is False when this request took over an attempt made by an earlier one:
        it answers 201 only if it is the one that saw the payment through, so two
        requests never both report the same payment as theirs.
        """
        attempt, payment, changed = await self.settle(attempt_id, intent)
        if not own and not changed and attempt.status in (AttemptStatus.SUCCEEDED, *_UNDECIDED):
            await self._raise_anothers_outcome(attempt.id)
        if attempt.status in _UNDECIDED:
            attempt = await self._decision(attempt.id)
            if attempt.status in _UNDECIDED:
                return PaymentResult(processing_id=attempt.id)
            payment = await Payment.get_or_none(attempt_id=attempt.id)
        if attempt.status == AttemptStatus.SUCCEEDED and payment is not None:
            return PaymentResult(payment_id=payment.id)
        if attempt.status == AttemptStatus.REQUIRES_ACTION:
            return PaymentResult(client_secret=intent.client_secret)
        raise _unpaid(attempt)

    async def _raise_anothers_outcome(self, attempt_id: str) -> NoReturn:
        """Another request (a second tab, a webhook) saw this attempt authorised: the
        payment is that request's to report as its own; this one hears how it ended."""
        attempt = await self._decision(attempt_id)
        if await Payment.exists(attempt_id=attempt.id):
            raise AlreadyPaid()
        if attempt.status in _UNDECIDED:
            raise PaymentInProgress()
        raise _unpaid(attempt)

    async def _decision(self, attempt_id: str) -> PaymentAttempt:
        """The attempt once orders' verdict on it has been carried out, or as it is after
        ``DECISION_WAIT_SECONDS`` (in one process that takes milliseconds).

        Woken by the settler that ends it, never by polling; an attempt that another
        replica's settler ends is found when the wait is over.
        """

        async def decided() -> bool:
            return (await PaymentAttempt.get(id=attempt_id)).status not in _UNDECIDED

        await self._settler.settled.wait(attempt_id, DECISION_WAIT_SECONDS, decided)
        return await PaymentAttempt.get(id=attempt_id)

    async def settle(self, attempt_id: str, intent: Intent,
                     webhook: tuple[str, str] | None = None,
                     ) -> tuple[PaymentAttempt, Payment | None, bool]:
        """Bring an open attempt to the PaymentIntent's state, once, whoever reports it
        first (``webhook``: the event to record with it, so it is applied once).

        A hold becomes ``authorized`` with ``payment:authorized`` in one transaction, for
        orders to decide; one for an order that visibly cannot be paid any more is
        released. Money the provider captured by itself (the 0.1 flow) becomes the
        payment, or is refunded. Returns the attempt, its payment if any, and whether
        this call changed it.
        """
        order_id = (await PaymentAttempt.get(id=attempt_id)).order_id
        async with self._outbox.transaction() as unit:
            connection = unit.connection
            if webhook is not None:
                await WebhookEvent.create(id=webhook[0], type=webhook[1], using_db=connection)
            # Replica first, then attempt: the same order as the order-event reactions.
            replica = await locked(OrderReplica, order_id, connection)
            attempt = await locked(PaymentAttempt, attempt_id, connection)
            before = attempt.status
            attempt.intent_id = attempt.intent_id or intent.id
            if attempt.status in OPEN_STATUSES:  # else settled before, by a request or webhook
                verdict = await self._shown(replica, attempt, connection)
                step = settlement(attempt.status, intent.status, verdict)
                await self._carry_out(unit, attempt, step, intent, verdict)
            await attempt.save(using_db=connection)
            payment = await Payment.filter(attempt_id=attempt.id).using_db(connection).first()
        return attempt, payment, attempt.status != before

    async def _shown(self, replica: OrderReplica, attempt: PaymentAttempt,
                     connection: BaseDBAsyncClient) -> Verdict:
        """What payments' copy of the order says of money arriving for this attempt."""
        paid_otherwise = await PaymentAttempt.filter(
            order_id=replica.id, status__in=BLOCKING_STATUSES,
        ).exclude(id=attempt.id).using_db(connection).exists()
        return order_verdict(replica.status, paid_otherwise=paid_otherwise,
                             expired=self._expired(replica))

    async def _carry_out(self, unit: UnitOfWork, attempt: PaymentAttempt, step: Step,
                         intent: Intent, verdict: Verdict) -> None:
        """Record an open attempt's step in the locked transaction (never a provider call)."""
        if step == Step.ASK_ORDERS:
            attempt.status = AttemptStatus.AUTHORIZED
            await unit.publish(PaymentAuthorized(
                id=attempt.id, order_id=attempt.order_id, authorized_at=self._clock()))
        elif step == Step.COMPLETE:
            await record_payment(unit, attempt, intent)
        elif step == Step.FAIL:
            attempt.status = AttemptStatus.FAILED
            count_outcome(unit, "declined")
            attempt.failure_message = intent.failure_message or DECLINED_MESSAGE
        elif step == Step.WAIT:
            attempt.status = AttemptStatus.REQUIRES_ACTION
        else:  # a release or a refund: the settler calls the provider after the commit
            self._settler.decide(unit, attempt, step, verdict)


def _unpaid(attempt: PaymentAttempt) -> DomainError:
    """Why an attempt that ended without paying did not pay: orders' reason or the card's."""
    if attempt.status in (AttemptStatus.REFUNDED, AttemptStatus.VOIDED):
        return refusal(attempt.refusal_code)
    return PaymentRefused(attempt.failure_message or DECLINED_MESSAGE)
