"""Tables of the payments module (schema ``payments``), and how one of its rows is locked."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from ticketing.bus.contracts import OrderStatus
from ticketing.bus.tables import DeadLetter as DeadLetterRecord
from ticketing.bus.tables import OutboxRecord, ProcessedEvent
from ticketing.errors import NotFound


class AttemptStatus(StrEnum):
    """An attempt's life: pending -> (requires_action ->) authorized -> capturing ->
    succeeded, or -> voiding -> voided when orders refuses; failed when declined;
    -> refunding -> refunded when money moved for an order that could not take it."""

    # The provider call is in flight (or its outcome is not known yet).
    PENDING = "pending"
    # The provider waits for the customer (3-D Secure) or for the bank.
    REQUIRES_ACTION = "requires_action"
    # The amount is held; ``payment:authorized`` asks orders whether it may be taken.
    AUTHORIZED = "authorized"
    # Orders accepted (``order:completed``): the hold is to be captured.
    CAPTURING = "capturing"
    # Orders refused, or the order ended: the hold is to be released.
    VOIDING = "voiding"
    # Money was taken for an order that cannot be paid any more: it is to be given back.
    REFUNDING = "refunding"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # The hold was released: the order was not paid and no money moved.
    VOIDED = "voided"
    # Money was taken for an order that could not be paid any more, and given back.
    REFUNDED = "refunded"


# Attempts that block a new one for the same order: a unique partial index over
# ``order_id`` (migration 0004) lets at most one of them exist per order.
BLOCKING_STATUSES = (AttemptStatus.PENDING, AttemptStatus.REQUIRES_ACTION,
                     AttemptStatus.AUTHORIZED, AttemptStatus.CAPTURING,
                     AttemptStatus.SUCCEEDED)
# Attempts the settler has to take to the provider (capture, release or refund).
DECIDED_STATUSES = (AttemptStatus.CAPTURING, AttemptStatus.VOIDING, AttemptStatus.REFUNDING)


class OrderReplica(Model):
    """What payments knows of an order, from order events applied in version order.

    A later event may arrive before ``order:created``: it leaves a row with the newer
    status and version but no owner, price or deadline until ``order:created`` fills them.
    """

    id = fields.CharField(max_length=26, primary_key=True)
    user_id = fields.CharField(max_length=26, null=True)
    price = fields.DecimalField(max_digits=9, decimal_places=2, null=True)
    expires_at = fields.DatetimeField(null=True)
    status = fields.CharEnumField(OrderStatus, max_length=20)
    version = fields.IntField()

    class Meta:
        table = "payments_orders"


class PaymentAttempt(Model):
    """One try at charging an order, written before the provider is called.

    Its idempotency key is unique per order and attempt, so a retried call can never
    charge twice and a declined card never blocks the next try.
    """

    id = fields.CharField(max_length=26, primary_key=True)
    order_id = fields.CharField(max_length=26, db_index=True)
    user_id = fields.CharField(max_length=26)
    payment_method = fields.CharField(max_length=255)
    amount_cents = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    idempotency_key = fields.CharField(max_length=80, unique=True)
    status = fields.CharEnumField(AttemptStatus, max_length=20, db_index=True)
    intent_id = fields.CharField(max_length=255, null=True, db_index=True)
    failure_message = fields.TextField(null=True)
    # Orders' reason code when orders refused the payment (the attempt was released or
    # refunded): the refusal the payment request hears (payments/errors.py).
    refusal_code = fields.CharField(max_length=32, null=True)
    refund_id = fields.CharField(max_length=255, null=True)
    refunded_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payments_attempts"


class Payment(Model):
    """A charge that paid an order: at most one per order."""

    id = fields.CharField(max_length=26, primary_key=True)
    order_id = fields.CharField(max_length=26, unique=True)
    attempt_id = fields.CharField(max_length=26, unique=True)
    stripe_id = fields.CharField(max_length=255)
    amount_cents = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payments_payments"


class Payout(Model):
    """What the marketplace owes someone for a resale of theirs that sold, one entry per
    ticket per order that bought it (the ledger: paying it out to a bank is out of scope)."""

    id = fields.IntField(primary_key=True)
    payee_id = fields.CharField(max_length=26, db_index=True)
    ticket_id = fields.CharField(max_length=26)
    order_id = fields.CharField(max_length=26)
    amount_cents = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    cause = fields.CharField(max_length=20)
    recorded_at = fields.DatetimeField()

    class Meta:
        table = "payments_payouts"
        unique_together = (("order_id", "ticket_id", "cause"),)


class OfflineIntent(Model):
    """A PaymentIntent of the offline provider (``TICKETING_PAYMENTS=fake``).

    Stripe remembers an intent whatever happens to us; the offline provider keeps its
    intents here for the same reason: a hold made before a restart is still there to be
    captured or released after it, by any replica.
    """

    id = fields.CharField(max_length=40, primary_key=True)
    authorize_key = fields.CharField(max_length=255, unique=True)
    payment_method = fields.CharField(max_length=255)
    # The first answer to the authorising call, replayed for its idempotency key.
    declined = fields.BooleanField(default=False)
    status = fields.CharField(max_length=16)
    amount_cents = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    metadata = fields.TextField()
    failure_message = fields.TextField(null=True)
    capture_key = fields.CharField(max_length=255, null=True)
    refund_id = fields.CharField(max_length=40, null=True)
    refund_key = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payments_offline_intents"


class WebhookEvent(Model):
    """A provider event already handled, kept so a redelivery has no second effect."""

    id = fields.CharField(max_length=255, primary_key=True)
    type = fields.CharField(max_length=100)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payments_webhook_events"


class Outbox(OutboxRecord):
    class Meta:
        table = "payments_outbox"


class Processed(ProcessedEvent):
    class Meta:
        table = "payments_processed_events"
        unique_together = (("consumer", "event_id"),)


class DeadLetter(DeadLetterRecord):
    class Meta:
        table = "payments_dead_letters"


LockedT = TypeVar("LockedT", OrderReplica, PaymentAttempt)


async def locked(model: type[LockedT], key: str, connection: BaseDBAsyncClient) -> LockedT:
    """The row, locked until the caller's transaction ends (so no provider call until then)."""
    found = await model.filter(id=key).using_db(connection).select_for_update().first()
    if found is None:
        raise NotFound()
    return found
