"""Why a purchase was refused, carried from the orders pages back to the ticket page.

The ticket page and the purchase live in different modules (and, split, in different
processes), so a refusal travels as a short reason code in the redirect; only these
fixed messages are ever shown, never text from the query string.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    message: str
    status: int


REFUSALS = {
    "reserved": Refusal("Ticket is already reserved", 400),
    # The orders module hears of a new ticket through the bus a moment after it is listed.
    "not-yet": Refusal("This ticket cannot be ordered yet; try again in a moment", 409),
}


def purchase_refusal(reason: str | None) -> Refusal | None:
    return REFUSALS.get(reason or "")


def reason_for(message: str) -> str:
    """The reason code of a domain error's message (unknown messages read as reserved)."""
    for reason, refusal in REFUSALS.items():
        if refusal.message == message:
            return reason
    return "reserved"
