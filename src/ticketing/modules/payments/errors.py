"""Why payments refuses: its domain errors, keyed by a stable code.

Orders' refusals travel as these codes (``order:payment-refused``'s reason) and are
stored on an attempt as its ``refusal_code``: either way one of these errors is what the
payment request hears. Their messages are the catalogue's (``ticketing.errors``).
"""

from __future__ import annotations

from ticketing.bus.contracts import PaymentRefusal
from ticketing.errors import DomainError


class CannotPayCancelled(DomainError):
    code = PaymentRefusal.ORDER_CANCELLED


class OrderExpired(DomainError):
    code = PaymentRefusal.ORDER_EXPIRED


class AlreadyPaid(DomainError):
    code = PaymentRefusal.ORDER_PAID


class InvalidWebhook(DomainError):
    code = "invalid_webhook"


class InvalidWebhookPayload(InvalidWebhook):
    code = "invalid_webhook_payload"


_BY_CODE: dict[str, type[DomainError]] = {
    error.code: error for error in (CannotPayCancelled, OrderExpired, AlreadyPaid)
}


def refusal(code: str | None) -> DomainError:
    """The refusal a reason code names; an unknown or missing one reads as paid otherwise."""
    return _BY_CODE.get(code or "", AlreadyPaid)()
