"""The provider's webhooks: Stripe's signature checked, the event parsed, applied once.

An event only says *that* something happened: the PaymentIntent is read again through
the gateway (outside any transaction) and its current state settles the attempt, so an
asynchronous (3-D Secure) payment ends exactly as a synchronous one does.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from tortoise.exceptions import IntegrityError

from ticketing.ids import is_valid_id
from ticketing.modules.payments.attempts import Attempts
from ticketing.modules.payments.errors import InvalidWebhook, InvalidWebhookPayload
from ticketing.modules.payments.gateway import PaymentGateway
from ticketing.modules.payments.models import PaymentAttempt, WebhookEvent

log = logging.getLogger("ticketing.payments")

WEBHOOK_TOLERANCE_SECONDS = 300
WEBHOOK_EVENTS = frozenset({"payment_intent.succeeded", "payment_intent.payment_failed",
                            "payment_intent.canceled", "payment_intent.requires_action",
                            "payment_intent.processing",
                            "payment_intent.amount_capturable_updated"})


class Webhooks:
    """Takes signed provider events to the attempts they are about."""

    def __init__(self, secret: str, gateway: PaymentGateway, attempts: Attempts) -> None:
        self._secret = secret
        self._gateway = gateway
        self._attempts = attempts

    async def receive(self, payload: str | bytes, signature: str | None) -> bool:
        """Apply a signed provider event once; False when it was handled before."""
        event = verified(payload, signature, self._secret)
        event_id, event_type = event["id"], event["type"]
        if await WebhookEvent.exists(id=event_id):
            return False
        attempt = await _attempt_of(event) if event_type in WEBHOOK_EVENTS else None
        try:
            if attempt is None:  # not ours, or not about a payment: remember it, no more
                await WebhookEvent.create(id=event_id, type=event_type)
            else:
                intent = await self._gateway.retrieve(_intent_id(event))
                await self._attempts.settle(attempt.id, intent, webhook=(event_id, event_type))
        except IntegrityError:
            if await WebhookEvent.exists(id=event_id):
                return False  # a concurrent delivery of the same event won
            raise
        return True


def verified(payload: str | bytes, signature: str | None, secret: str) -> dict[str, Any]:
    """The event, if Stripe signed it with ``secret`` within the tolerance; else 400."""
    if not secret:
        log.warning("webhook refused: TICKETING_STRIPE_WEBHOOK_SECRET is not set")
        raise InvalidWebhook()
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret,
                                              tolerance=WEBHOOK_TOLERANCE_SECONDS)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError):
        raise InvalidWebhook() from None
    if not (isinstance(event, dict) and _short_text(event.get("id"))
            and _short_text(event.get("type"))):
        raise InvalidWebhookPayload()
    return event


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
