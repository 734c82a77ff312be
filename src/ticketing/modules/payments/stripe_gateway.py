"""The Stripe gateway: PaymentIntents with manual capture, created and confirmed
server-side, asynchronously.

Calls go through the ``stripe`` library's :class:`~stripe.StripeClient` with its httpx
client, pointed at ``TICKETING_STRIPE_API_BASE`` when set (tests use a local fake of
Stripe's API). A ``pm_…`` reference is confirmed as the payment method; a legacy
``tok_…`` card token is wrapped as card data, which Stripe turns into a PaymentMethod.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

import stripe

from ticketing.errors import message_of
from ticketing.modules.payments.gateway import (
    CANCELED_MESSAGE,
    DECLINED_MESSAGE,
    ChargeRequest,
    Intent,
    IntentStatus,
    OutcomeUnknown,
    PaymentDeclined,
    PaymentInProgress,
    PaymentRefused,
    ProviderUnavailable,
)

if TYPE_CHECKING:
    from stripe.params import PaymentIntentCreateParams

log = logging.getLogger("ticketing.payments.stripe")

# Statuses in which the customer or the bank still has to act.
_WAITING = frozenset({"requires_action", "requires_confirmation", "processing"})
# Errors about what the customer gave us: their message is for the customer.
_CUSTOMER_ERRORS = frozenset({"resource_missing", "amount_too_small", "amount_too_large",
                              "payment_method_unactivated", "payment_method_invalid_parameter",
                              "token_already_used", "payment_intent_authentication_failure"})


class StripeGateway:
    """A :class:`~ticketing.modules.payments.gateway.PaymentGateway` backed by Stripe."""

    def __init__(self, api_key: str, api_base: str | None = None, *, timeout: float = 20.0,
                 max_network_retries: int = 2) -> None:
        # Only the async half is used: the client's sync session is never opened.
        self._http = stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")} if api_base else None,
            http_client=self._http,
            max_network_retries=max_network_retries,
        )

    async def authorize(self, request: ChargeRequest) -> Intent:
        params: dict[str, Any] = {
            "amount": request.amount_cents,
            "currency": request.currency,
            "confirm": True,
            # Hold only: the money moves at capture, once orders has accepted the payment.
            "capture_method": "manual",
            # Cards only: no redirect-based method can appear, so no return_url is needed;
            # 3-D Secure comes back as requires_action for Stripe.js to handle.
            "payment_method_types": ["card"],
            "metadata": dict(request.metadata),
        }
        if request.payment_method.startswith("tok_"):
            params["payment_method_data"] = {"type": "card",
                                             "card": {"token": request.payment_method}}
        else:
            params["payment_method"] = request.payment_method
        try:
            intent = await self._client.v1.payment_intents.create_async(
                cast("PaymentIntentCreateParams", params),
                {"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as error:
            raise _translate(error) from error
        return _intent(intent)

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        return await self._reading_back(intent_id, self._client.v1.payment_intents.capture_async(
            intent_id, None, {"idempotency_key": idempotency_key}))

    async def retrieve(self, intent_id: str) -> Intent:
        try:
            return _intent(await self._client.v1.payment_intents.retrieve_async(intent_id))
        except stripe.StripeError as error:
            raise _translate(error, charging=False) from error

    async def cancel(self, intent_id: str) -> Intent:
        return await self._reading_back(
            intent_id, self._client.v1.payment_intents.cancel_async(intent_id))

    async def _reading_back(self, intent_id: str,
                            call: Awaitable[stripe.PaymentIntent]) -> Intent:
        """A capture or cancel; an intent that finished (or was captured by an earlier
        try) meanwhile is read back and reported as it is."""
        try:
            return _intent(await call)
        except stripe.InvalidRequestError as error:
            if error.code == "payment_intent_unexpected_state":
                return await self.retrieve(intent_id)
            raise _translate(error, charging=False) from error
        except stripe.StripeError as error:
            raise _translate(error, charging=False) from error

    async def refund(self, intent_id: str, idempotency_key: str) -> str:
        try:
            refund = await self._client.v1.refunds.create_async(
                {"payment_intent": intent_id}, {"idempotency_key": idempotency_key})
        except stripe.StripeError as error:
            raise _translate(error, charging=False) from error
        return refund.id

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


def _intent(found: stripe.PaymentIntent) -> Intent:
    if found.status == "succeeded":
        status = IntentStatus.SUCCEEDED
    elif found.status == "requires_capture":
        status = IntentStatus.AUTHORIZED
    elif found.status in _WAITING:
        status = IntentStatus.PENDING
    else:  # requires_payment_method after a failure, or canceled
        status = IntentStatus.FAILED
    failure = found.last_payment_error.message if found.last_payment_error else None
    if status == IntentStatus.FAILED and not failure:
        failure = CANCELED_MESSAGE if found.status == "canceled" else DECLINED_MESSAGE
    return Intent(
        id=found.id, status=status, amount_cents=found.amount, currency=found.currency,
        metadata=_plain(found.metadata),
        client_secret=found.client_secret,
        failure_message=failure,
    )


def _plain(metadata: Any) -> dict[str, str]:
    # Stripe 15+ objects are no longer mappings; to_dict() is their plain form.
    found = metadata.to_dict() if isinstance(metadata, stripe.StripeObject) else metadata
    return {str(k): str(v) for k, v in (found or {}).items()}


def _translate(error: stripe.StripeError, *, charging: bool = True) -> Exception:
    """Stripe's error as the gateway's: the customer's fault, ours, or unknown."""
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(error.user_message or DECLINED_MESSAGE)
    if (charging and isinstance(error, stripe.InvalidRequestError)
            and error.code in _CUSTOMER_ERRORS):
        return PaymentRefused(error.user_message or message_of("invalid_payment_method"))
    if isinstance(error, stripe.IdempotencyError):
        return PaymentInProgress()
    if isinstance(error, stripe.APIConnectionError | stripe.APIError):
        log.warning("stripe unreachable or failing: %r", error)
        return OutcomeUnknown() if charging else ProviderUnavailable()
    # Authentication, permission, rate limit, a request Stripe found malformed: our side.
    log.error("stripe refused the request: %r", error)
    return ProviderUnavailable()
