"""The error catalogue and the domain errors: a stable code and one message each.

Codes are what travels between modules and pages (a refusal's reason in an event, a
stored attempt's refusal, a page's redirect); each message text is written once, here,
in :data:`MESSAGES`. Modules raise :class:`DomainError` subclasses naming their code;
``ticketing.web.shell.errors`` is the one place that turns them into HTTP responses of
the contract's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

MESSAGES: Mapping[str, str] = MappingProxyType({
    "bad_request": "Bad request",
    "not_json_object": "Request body must be a JSON object",
    "body_too_large": "Request body too large",
    "method_not_allowed": "Method Not Allowed",
    "not_found": "Not Found",
    "not_authorized": "Not authorized",
    "conflict": "Changed by someone else; reload and try again",
    "throttled": "Too many attempts, try again later",
    "cross_site": "Cross-site request refused",
    "malformed_json": "Request body must be valid JSON",
    "deeply_nested_json": "Request body is nested too deeply",
    "database_unavailable": "Error connecting to database",
    "unexpected": "Something went wrong",
    "overloaded": "The service is busy; try again in a moment",
    # auth
    "email_in_use": "Email in use",
    "invalid_credentials": "Invalid credentials",
    # tickets
    "reserved_ticket_edit": "Cannot edit a reserved ticket",
    "ticket_changed": "Ticket was changed by someone else; reload and try again",
    "event_ticket_edit": "A ticket of an event is edited through its event",
    "pass_unreadable": "This is not a ticket pass code",
    "pass_forged": "This pass is not genuine: its signature does not match",
    "pass_replaced": "This pass is no longer valid: the ticket was transferred, resold "
                     "or refunded",
    "already_checked_in": "Already checked in",
    "pass_other_door": "This pass is for another door",
    "not_door_staff": "Not on this door's staff",
    "checked_in_transfer": "A ticket let in at the door cannot be transferred",
    "self_transfer": "You cannot transfer a ticket to yourself",
    "pass_changed": "This pass changed meanwhile; reload and try again",
    "pass_on_resale": "This ticket is on resale: its pass admits nobody until it sells",
    "checked_in_resale": "A ticket let in at the door cannot be resold",
    "already_on_resale": "This ticket is on resale already",
    "resale_above_paid": "A resale cannot cost more than you paid",
    "resale_ticket_edit": "This ticket was sold; only its holder can put it back on sale",
    "not_on_resale": "This ticket is not on resale",
    "resale_reserved": "A buyer holds this ticket now; if their hold ends you can take it "
                       "off sale then",
    "resale_over_limit": "Its buyer holds as many tickets of this event as one may, so it "
                         "stays on sale",
    # orders
    "ticket_reserved": "Ticket is already reserved",
    "ticket_not_yet": "This ticket cannot be ordered yet; try again in a moment",
    "not_enough_tickets": "Not enough tickets left",
    "ticket_limit": "Ticket limit reached",
    "not_on_sale": "This event is not on sale yet",
    "no_queue": "This event has no queue",
    "admission_required": "Wait for your turn in this event's queue",
    "bad_rate": "RatePerMinute must be a whole number from 1 to 100000",
    "order_complete": "Cannot cancel a completed order",
    "own_resale": "You cannot buy back the ticket you put on resale",
    "offered_to_waitlist": "This ticket is held a few minutes for someone on its waitlist",
    "not_sold_out": "Tickets are left: reserve one now",
    "not_on_waitlist": "You are not on this waitlist",
    "not_refundable": "This order cannot be refunded: its seller offers no refunds, or it "
                      "is not paid",
    "refund_window_closed": "The time to ask for a refund of this order is over",
    "refund_under_way": "A refund of this order is already under way",
    "checked_in_refund": "A ticket let in at the door cannot be refunded",
    "on_resale_refund": "A ticket on resale cannot be refunded",
    "transferred_refund": "A ticket given to someone else cannot be refunded",
    "resold_refund": "A ticket sold on cannot be refunded",
    # payments
    "order_cancelled": "Cannot pay for a cancelled order",
    "order_expired": "Order has expired",
    "order_paid": "Order is already paid",
    "invalid_webhook": "Invalid webhook signature",
    "invalid_webhook_payload": "Invalid webhook payload",
    "card_declined": "Your card was declined.",
    "payment_in_progress": "A payment for this order is already in progress",
    "payment_refused": "The payment method was refused",
    "provider_unavailable": "Payment provider unavailable, please try again",
    "provider_outcome_unknown": "The payment provider did not answer; your payment may still "
                                "go through, so check your order before paying again",
    "invalid_payment_method": "Invalid payment method",
    "payment_canceled": "The payment was canceled.",
    "hold_released": "The hold was released",
    "confirm_needs_javascript": "Your bank asks you to confirm this payment; "
                                "this needs JavaScript turned on.",
})


def message_of(code: str) -> str:
    """The one message of ``code``."""
    return MESSAGES[code]


@dataclass(frozen=True)
class FieldError:
    """One failed rule: the contract's message and the body field it concerns."""

    message: str
    field: str | None = None


class DomainError(Exception):
    """A broken business rule: 400 with the message, unless a subclass says otherwise.

    The message is the catalogue's for the class's code unless one is given (a payment
    provider's own words for a decline, a field rule's text).
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str | None = None) -> None:
        self.message = message if message is not None else message_of(self.code)
        super().__init__(self.message)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class NotAuthorized(DomainError):
    status = 401
    code = "not_authorized"


class Conflict(DomainError):
    """A concurrent change won: the client should re-read and retry."""

    status = 409
    code = "conflict"


class Throttled(DomainError):
    status = 429
    code = "throttled"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)


class ValidationFailed(DomainError):
    """One or more body rules failed; each entry names its field."""

    code = "validation"

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors
