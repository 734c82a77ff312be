"""Why a purchase was refused, carried from the orders pages back to the ticket (or event)
page.

The ticket page and the purchase live in different slices (and, split, in different
processes), so a refusal travels as its error code in the redirect; only the catalogue's
messages for these codes are ever shown, never text from the query string.
"""

from __future__ import annotations

from ticketing.errors import DomainError, NotFound, message_of

# The codes a purchase redirect may carry, and the status the ticket page answers with.
# Orders hears of a new ticket through the bus a moment after it is listed: until then
# the ticket is unknown to it (``ticket_not_yet``).
REFUSAL_STATUS = {"ticket_reserved": 400, "ticket_not_yet": 409, "not_enough_tickets": 400,
                  "ticket_limit": 400, "not_on_sale": 400, "admission_required": 400}
UNKNOWN_TICKET = "ticket_not_yet"


def purchase_refusal(code: str | None) -> tuple[str, int] | None:
    """The message and status a ticket page shows for a redirect's refusal code."""
    status = REFUSAL_STATUS.get(code or "")
    return (message_of(code or ""), status) if status is not None else None


def refusal_code(error: DomainError) -> str:
    """The code a refused purchase carries back (any other refusal reads as reserved)."""
    if isinstance(error, NotFound):
        return UNKNOWN_TICKET
    return error.code if error.code in REFUSAL_STATUS else "ticket_reserved"
