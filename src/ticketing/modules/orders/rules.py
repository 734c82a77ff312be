"""The orders module's rules, over plain values: what a reservation or a payment is refused
for, and which ticket event the replica applies next."""

from __future__ import annotations

import enum
from datetime import datetime

from ticketing.bus.contracts import OrderStatus, PaymentRefusal
from ticketing.errors import DomainError


class TicketAlreadyReserved(DomainError):
    code = "ticket_reserved"


class OwnResale(DomainError):
    code = "own_resale"


class OfferedToWaitlist(DomainError):
    code = "offered_to_waitlist"


class NotEnoughTickets(DomainError):
    code = "not_enough_tickets"


class TicketLimitReached(DomainError):
    code = "ticket_limit"


class NotOnSale(DomainError):
    code = "not_on_sale"


def payment_refusal(status: OrderStatus, expires_at: datetime,
                    authorized_at: datetime) -> PaymentRefusal | None:
    """Why an order in ``status`` with its window closing at ``expires_at`` cannot take a
    payment held at ``authorized_at``: a reason code, or None if it can."""
    if status == OrderStatus.CANCELLED:
        return PaymentRefusal.ORDER_CANCELLED
    if status == OrderStatus.COMPLETE:
        return PaymentRefusal.ORDER_PAID
    if authorized_at >= expires_at:
        return PaymentRefusal.ORDER_EXPIRED
    return None


class ReplicaStep(enum.Enum):
    """What the ticket replica does with one ticket event."""

    APPLY = "apply"  # the next version: apply it
    IGNORE = "ignore"  # this version or a newer one is applied already
    WAIT = "wait"  # a predecessor is missing: deliver it again later


def replica_step(known_version: int | None, version: int) -> ReplicaStep:
    """The step for an event of ``version`` when the replica is at ``known_version``
    (None: the ticket is not known yet, so only its creation, version 0, applies)."""
    expected = 0 if known_version is None else known_version + 1
    if version < expected:
        return ReplicaStep.IGNORE
    if version > expected:
        return ReplicaStep.WAIT
    return ReplicaStep.APPLY
