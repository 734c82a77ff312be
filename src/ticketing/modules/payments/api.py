"""The payments module's public facade: pay for an order, take the provider's webhooks;
and its reactions to order events.

Money moves once, and only for an order that orders has accepted it for. A payment is an
attempt row written (with its own idempotency key) before the provider is called; a
unique partial index lets only one attempt per order be in flight, waiting for the
customer, held, or paid. The provider first only *authorises* (holds the amount); the
attempt turns ``authorized`` together with ``payment:authorized``; orders answers with
``order:completed`` naming it (the settler captures it: the payment row and
``payment:created`` commit together) or refuses (the settler releases the hold and
nothing is charged). The request waits a few seconds for that verdict.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

import stripe
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import (
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderPaymentRefused,
    PaymentAuthorized,
)
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.bus.replicas import replicated
from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.errors import DomainError, NotAuthorized, NotFound
from ticketing.ids import is_valid_id, new_id
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
    ReplicaStatus,
    WebhookEvent,
)
from ticketing.modules.payments.settler import Settler, record_payment, refund

__all__ = [
    "AlreadyPaid",
    "CannotPayCancelled",
    "InvalidWebhook",
    "OrderExpired",
    "PaymentGateway",
    "PaymentInProgress",
    "PaymentRefused",
    "PaymentResult",
    "PaymentsApi",
    "ProviderUnavailable",
]

log = logging.getLogger("ticketing.payments")

LockedT = TypeVar("LockedT", OrderReplica, PaymentAttempt)

# A pending attempt older than this lost its request (the provider call has long timed
# out): the next payment asks the provider again with the same idempotency key.
STALE_ATTEMPT = timedelta(seconds=120)
WEBHOOK_TOLERANCE_SECONDS = 300
WEBHOOK_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed",
                            "payment_intent.canceled", "payment_intent.requires_action",
                            "payment_intent.processing",
                            "payment_intent.amount_capturable_updated"})
# How long a payment request waits for orders' verdict on its authorisation; past it the
# answer is 202 "processing" and the order page shows how it ended.
DECISION_WAIT_SECONDS = 10.0
DECISION_POLL_SECONDS = 0.02
# The attempt is held and orders has not answered, or the settler has yet to act on it.
_UNDECIDED = (AttemptStatus.AUTHORIZED, *DECIDED_STATUSES)


class CannotPayCancelled(DomainError):
    code = "order_cancelled"

    def __init__(self) -> None:
        super().__init__("Cannot pay for a cancelled order")


class OrderExpired(DomainError):
    code = "order_expired"

    def __init__(self) -> None:
        super().__init__("Order has expired")


class AlreadyPaid(DomainError):
    code = "order_paid"

    def __init__(self) -> None:
        super().__init__("Order is already paid")


class InvalidWebhook(DomainError):
    code = "invalid_webhook"

    def __init__(self, message: str = "Invalid webhook signature") -> None:
        super().__init__(message)


# Why orders refused a payment: its reason codes, and the messages stored on attempts.
_REFUSALS: dict[str, Callable[[], DomainError]] = {
    error.code: error for error in (CannotPayCancelled, OrderExpired, AlreadyPaid)
}
_REFUSALS_BY_MESSAGE: dict[str, Callable[[], DomainError]] = {
    error().message: error for error in _REFUSALS.values()
}


@dataclass(frozen=True)
class PaymentResult:
    """A payment request's end: paid (``payment_id``), the customer must act first
    (``client_secret``), or orders has not decided yet (``processing_id``)."""

    payment_id: str | None = None
    client_secret: str | None = None
    processing_id: str | None = None

    def json(self) -> dict[str, Any]:
        if self.payment_id is not None:
            return {"id": self.payment_id}
        if self.client_secret is not None:
            return {"status": "requires_action", "clientSecret": self.client_secret}
        return {"status": "processing", "id": self.processing_id}


class PaymentsApi:
    def __init__(self, outbox: Outbox, gateway: PaymentGateway, webhook_secret: str = "",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 supervisor: Supervisor | None = None) -> None:
        self._outbox = outbox
        self._gateway = gateway
        self._webhook_secret = webhook_secret
        self._clock = clock
        self._supervisor = supervisor or Supervisor()
        self._settler = Settler(outbox, gateway, clock)
        self._settling: Supervised | None = None

    @property
    def gateway(self) -> PaymentGateway:
        return self._gateway

    @property
    def subscriptions(self) -> Subscriptions:
        """What payments reacts to: the life of every order, to know what may be paid,
        and orders' verdict on each authorised payment."""
        return {
            OrderCreated: self.on_order_created,
            OrderCancelled: self.on_order_cancelled,
            OrderCompleted: self.on_order_completed,
            OrderPaymentRefused: self.on_order_payment_refused,
        }

    async def start(self) -> None:
        """Start the settler (captures and releases) under the supervisor."""
        self._settling = self._supervisor.start("payments-settler", self._settler.run)

    async def close(self) -> None:
        """Stop the settler and close the gateway's connections (the process stops)."""
        if self._settling is not None:
            await self._settling.stop(ask=self._settler.finish)
            self._settling = None
        await self._gateway.close()

    async def order(self, user_id: str, order_id: str) -> dict[str, Any]:
        """What payments knows of one of the user's orders: 404 unknown, 401 not theirs."""
        replica = await _owned(user_id, order_id)
        assert replica.price is not None
        assert replica.expires_at is not None
        return {"id": replica.id, "status": replica.status.value, "price": float(replica.price),
                "expiresAt": replica.expires_at.astimezone(UTC).isoformat()
                .replace("+00:00", "Z")}

    async def pay(self, user_id: str, order_id: str, payment_method: str) -> PaymentResult:
        """Charge the order's exact price once; see the contract for each refusal."""
        order = await self._payable(user_id, order_id)
        # A second round only after the attempt in the way turned out to have failed.
        for _ in range(2):
            if not self._expired(order):
                attempt = await self._open_attempt(order, payment_method)
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

    async def receive_webhook(self, payload: str | bytes, signature: str | None) -> bool:
        """Apply a signed provider event once; False when it was handled before.

        The event only says *that* something happened: the PaymentIntent is read again
        and its current state settles the attempt, so an asynchronous (3-D Secure)
        payment ends exactly as a synchronous one does.
        """
        event = self._verified(payload, signature)
        event_id, event_type = event["id"], event["type"]
        if await WebhookEvent.exists(id=event_id):
            return False
        attempt = await _attempt_of(event) if event_type in WEBHOOK_EVENTS else None
        try:
            if attempt is None:  # not ours, or not about a payment: remember it, no more
                await WebhookEvent.create(id=event_id, type=event_type)
            else:
                intent = await self._gateway.retrieve(_intent_id(event))
                await self._settle(attempt.id, intent, webhook=(event_id, event_type))
        except IntegrityError:
            if await WebhookEvent.exists(id=event_id):
                return False  # a concurrent delivery of the same event won
            raise
        return True

    async def on_order_created(self, event: OrderCreated, unit: UnitOfWork) -> None:
        await self._apply_order(unit, event.id, event.version, ReplicaStatus.CREATED, {
            "user_id": event.user_id, "price": event.ticket.price,
            "expires_at": event.expires_at,
        })

    async def on_order_cancelled(self, event: OrderCancelled, unit: UnitOfWork) -> None:
        """The order ended unpaid: a hold for it is released. Money captured by the 0.1
        flow (it raced the expiry) goes back."""
        if not await self._apply_order(unit, event.id, event.version, ReplicaStatus.CANCELLED):
            return
        await self._decide(unit, event.id, None, CannotPayCancelled())
        payment = await Payment.filter(order_id=event.id).using_db(unit.connection).first()
        if payment is None:
            return
        attempt = await _locked(PaymentAttempt, payment.attempt_id, unit.connection)
        if attempt.status == AttemptStatus.SUCCEEDED:
            await refund(self._gateway, attempt, CannotPayCancelled(), self._clock())
            await attempt.save(using_db=unit.connection)

    async def on_order_completed(self, event: OrderCompleted, unit: UnitOfWork) -> None:
        """Orders accepted ``payment_id``: capture it; any other hold is released."""
        await self._apply_order(unit, event.id, event.version, ReplicaStatus.COMPLETE)
        await self._decide(unit, event.id, event.payment_id, AlreadyPaid())

    async def on_order_payment_refused(self, event: OrderPaymentRefused,
                                       unit: UnitOfWork) -> None:
        """Orders refused the authorised payment: release the hold, charge nothing."""
        reason = _REFUSALS.get(event.reason, CannotPayCancelled)()
        attempt = await PaymentAttempt.filter(id=event.payment_id, order_id=event.id) \
            .using_db(unit.connection).select_for_update().first()
        if attempt is not None and attempt.status == AttemptStatus.AUTHORIZED:
            self._mark_decided(unit, attempt, AttemptStatus.VOIDING, reason)
            await attempt.save(using_db=unit.connection)

    async def _decide(self, unit: UnitOfWork, order_id: str, accepted: str | None,
                      others: DomainError) -> None:
        """The order's verdict on its held attempts: capture ``accepted``, release the rest."""
        held = await PaymentAttempt.filter(order_id=order_id, status=AttemptStatus.AUTHORIZED) \
            .using_db(unit.connection).select_for_update()
        for attempt in held:
            if attempt.id == accepted:
                self._mark_decided(unit, attempt, AttemptStatus.CAPTURING, None)
            else:
                self._mark_decided(unit, attempt, AttemptStatus.VOIDING, others)
            await attempt.save(using_db=unit.connection)

    def _mark_decided(self, unit: UnitOfWork, attempt: PaymentAttempt, status: AttemptStatus,
                      reason: DomainError | None) -> None:
        attempt.status = status
        if reason is not None:
            attempt.failure_message = reason.message
        unit.after_commit(self._settler.wake)

    async def _apply_order(self, unit: UnitOfWork, order_id: str, version: int,
                           status: ReplicaStatus, details: dict[str, Any] | None = None) -> bool:
        """Record the order's state unless a newer one is known; True if this one is newest.

        Events may arrive in any order: a later state arriving first leaves a row that
        ``order:created`` completes with the owner, price and deadline.
        """
        connection = unit.connection
        replica = await OrderReplica.filter(id=order_id).using_db(connection) \
            .select_for_update().first()
        if replica is None:
            await OrderReplica.create(id=order_id, status=status, version=version,
                                      using_db=connection, **(details or {}))
            return True
        changed: list[str] = []
        if details and replica.user_id is None:
            for name, value in details.items():
                setattr(replica, name, value)
            changed += list(details)
        newer = version > replica.version
        if newer:
            replica.status, replica.version = status, version
            changed += ["status", "version"]
        if changed:
            await replica.save(using_db=connection, update_fields=changed)
        return newer

    async def _payable(self, user_id: str, order_id: str) -> OrderReplica:
        """404 → 401 → cancelled → already paid, in that order; expired is :meth:`pay`'s."""
        replica = await _owned(user_id, order_id)
        if replica.status == ReplicaStatus.CANCELLED:
            raise CannotPayCancelled()
        if replica.status == ReplicaStatus.COMPLETE or await Payment.exists(order_id=replica.id):
            raise AlreadyPaid()
        return replica

    async def _open_attempt(self, order: OrderReplica,
                            payment_method: str) -> PaymentAttempt | None:
        """Write a new attempt (and its key) before any call; None if another is in the way."""
        assert order.price is not None
        assert order.user_id is not None
        attempt_id = new_id()
        attempt = PaymentAttempt(
            id=attempt_id, order_id=order.id, user_id=order.user_id,
            payment_method=payment_method, amount_cents=cents(order.price), currency=CURRENCY,
            idempotency_key=f"ticketing-payment-{order.id}-{attempt_id}",
            status=AttemptStatus.PENDING,
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
            if not isinstance(error, OutcomeUnknown):
                # Nothing was charged: the order is free for the next attempt.
                await PaymentAttempt.filter(id=attempt.id, status=AttemptStatus.PENDING) \
                    .update(status=AttemptStatus.FAILED, failure_message=error.message)
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
        attempt, payment, changed = await self._settle(attempt_id, intent)
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
        ``DECISION_WAIT_SECONDS`` (in one process that takes milliseconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DECISION_WAIT_SECONDS
        while True:
            attempt = await PaymentAttempt.get(id=attempt_id)
            if attempt.status not in _UNDECIDED or loop.time() >= deadline:
                return attempt
            await asyncio.sleep(DECISION_POLL_SECONDS)

    async def _settle(self, attempt_id: str, intent: Intent,
                      webhook: tuple[str, str] | None = None,
                      ) -> tuple[PaymentAttempt, Payment | None, bool]:
        """Bring the attempt to the PaymentIntent's state, once, whoever reports it first.

        A hold becomes ``authorized`` with ``payment:authorized`` in one transaction, for
        orders to decide; one for an order that visibly cannot be paid any more is
        released at once. Money the provider captured by itself (the 0.1 flow) becomes
        the payment, or is refunded. Returns the attempt, its payment if any, and
        whether this call changed it.
        """
        order_id = (await PaymentAttempt.get(id=attempt_id)).order_id
        async with self._outbox.transaction() as unit:
            connection = unit.connection
            if webhook is not None:
                await WebhookEvent.create(id=webhook[0], type=webhook[1], using_db=connection)
            # Replica first, then attempt: the same order as the order-event handlers.
            replica = await _locked(OrderReplica, order_id, connection)
            attempt = await _locked(PaymentAttempt, attempt_id, connection)
            before = attempt.status
            attempt.intent_id = attempt.intent_id or intent.id
            if attempt.status not in (AttemptStatus.PENDING, AttemptStatus.REQUIRES_ACTION):
                pass  # settled before, by the request or by a webhook
            elif intent.status == IntentStatus.AUTHORIZED:
                refusal = await self._refusal(replica, attempt, connection)
                if refusal is not None:
                    self._mark_decided(unit, attempt, AttemptStatus.VOIDING, refusal)
                else:
                    attempt.status = AttemptStatus.AUTHORIZED
                    await unit.publish(PaymentAuthorized(
                        id=attempt.id, order_id=attempt.order_id, authorized_at=self._clock()))
            elif intent.status == IntentStatus.SUCCEEDED:
                refusal = await self._refusal(replica, attempt, connection)
                if refusal is not None:
                    await refund(self._gateway, attempt, refusal, self._clock())
                else:
                    await record_payment(unit, attempt, intent)
            elif intent.status == IntentStatus.FAILED:
                attempt.status = AttemptStatus.FAILED
                attempt.failure_message = intent.failure_message or DECLINED_MESSAGE
            else:
                attempt.status = AttemptStatus.REQUIRES_ACTION
            await attempt.save(using_db=connection)
            payment = await Payment.filter(attempt_id=attempt.id).using_db(connection).first()
        return attempt, payment, attempt.status != before

    async def _refusal(self, replica: OrderReplica, attempt: PaymentAttempt,
                       connection: BaseDBAsyncClient) -> DomainError | None:
        """Why money that arrived for this attempt cannot pay the order, if it cannot."""
        if replica.status == ReplicaStatus.CANCELLED:
            return CannotPayCancelled()
        if replica.status == ReplicaStatus.COMPLETE or await PaymentAttempt.filter(
            order_id=replica.id, status__in=BLOCKING_STATUSES,
        ).exclude(id=attempt.id).using_db(connection).exists():
            return AlreadyPaid()
        assert replica.expires_at is not None
        if self._clock() >= replica.expires_at:
            return OrderExpired()
        return None

    def _verified(self, payload: str | bytes, signature: str | None) -> dict[str, Any]:
        """The event, if Stripe signed it with our secret within the tolerance; else 400."""
        if not self._webhook_secret:
            log.warning("webhook refused: TICKETING_STRIPE_WEBHOOK_SECRET is not set")
            raise InvalidWebhook()
        try:
            stripe.WebhookSignature.verify_header(payload, signature, self._webhook_secret,
                                                  tolerance=WEBHOOK_TOLERANCE_SECONDS)
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, ValueError):
            raise InvalidWebhook() from None
        if not (isinstance(event, dict) and _short_text(event.get("id"))
                and _short_text(event.get("type"))):
            raise InvalidWebhook("Invalid webhook payload")
        return event


def _unpaid(attempt: PaymentAttempt) -> DomainError:
    """Why an attempt that ended without paying did not pay: orders' reason or the card's."""
    if attempt.status in (AttemptStatus.REFUNDED, AttemptStatus.VOIDED):
        return _REFUSALS_BY_MESSAGE.get(attempt.failure_message or "", AlreadyPaid)()
    return PaymentRefused(attempt.failure_message or DECLINED_MESSAGE)


def _short_text(value: Any) -> bool:
    """A string that fits the webhook table's columns and holds nothing unstorable."""
    return isinstance(value, str) and 0 < len(value) <= 100 and value.isprintable()


def _intent_object(event: dict[str, Any]) -> dict[str, Any]:
    """``data.object`` of a provider event, or ``{}`` when the event has another shape."""
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


def _intent_id(event: dict[str, Any]) -> str:
    found = _intent_object(event).get("id")
    return found if isinstance(found, str) and 0 < len(found) <= 255 else ""


async def _attempt_of(event: dict[str, Any]) -> PaymentAttempt | None:
    """The attempt a PaymentIntent event is about: by intent id, else by its metadata
    (the webhook can overtake the response that told us the intent's id)."""
    intent_id = _intent_id(event)
    if not intent_id:
        return None
    attempt = await PaymentAttempt.get_or_none(intent_id=intent_id)
    if attempt is not None:
        return attempt
    metadata = _intent_object(event).get("metadata")
    if not isinstance(metadata, dict):
        return None
    attempt_id = metadata.get("attempt_id")
    if not isinstance(attempt_id, str) or not is_valid_id(attempt_id):
        return None
    attempt = await PaymentAttempt.get_or_none(id=attempt_id)
    if attempt is None or attempt.order_id != metadata.get("order_id"):
        return None
    return attempt


async def _owned(user_id: str, order_id: str) -> OrderReplica:
    """404 for an unknown order, 401 for someone else's.

    An order made a moment ago may not have reached this replica yet (its events are on
    their way); an id whose time prefix says so is waited for briefly before the 404.
    """
    if not is_valid_id(order_id):
        raise NotFound()
    replica = await replicated(order_id, lambda: _replica(order_id))
    if replica is None:
        raise NotFound()
    if replica.user_id != user_id:
        raise NotAuthorized()
    return replica


async def _replica(order_id: str) -> OrderReplica | None:
    """The order as far as ``order:created`` has told this module (else ``None``)."""
    replica = await OrderReplica.get_or_none(id=order_id)
    if replica is None or replica.user_id is None or replica.price is None:
        return None
    return replica


async def _locked(model: type[LockedT], key: str, connection: BaseDBAsyncClient) -> LockedT:
    found = await model.filter(id=key).using_db(connection).select_for_update().first()
    if found is None:
        raise NotFound()
    return found
