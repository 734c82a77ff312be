"""Why payments refuses: its domain errors, keyed by a stable code.

Orders' refusals travel as these codes (``order:payment-refused``'s reason) and are
stored on an attempt as the message: either way one of these errors is what the payment
request hears.
"""

from __future__ import annotations

from collections.abc import Callable

from ticketing.errors import DomainError


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


_BY_CODE: dict[str, Callable[[], DomainError]] = {
    error.code: error for error in (CannotPayCancelled, OrderExpired, AlreadyPaid)
}
_BY_MESSAGE = {error().message: error for error in _BY_CODE.values()}


def refusal(code: str) -> DomainError:
    """The refusal a reason code names."""
    return _BY_CODE[code]()


def stored_refusal(message: str | None) -> DomainError:
    """The refusal whose message an attempt stored (an unknown one: paid otherwise)."""
    return _BY_MESSAGE.get(message or "", AlreadyPaid)()
