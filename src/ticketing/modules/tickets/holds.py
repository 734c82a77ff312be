"""The hold rule: what an order's new state does to the ticket it names, over plain values.

Order events may arrive late, early or twice (over NATS), so the decision weighs the
event against what tickets has seen: who holds the ticket, and the latest status seen of
that holder. (A state of the order older than one applied never gets here: recording
the order's state is guarded by its version, ``statements.record_state``.)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ticketing.bus.contracts import OPEN_ORDER_STATUSES, OrderStatus


@dataclass(frozen=True)
class Hold:
    """Who holds a ticket (an order id, or nobody) and whether it is sold to them."""

    order_id: str | None
    sold: bool = False


class Verdict(enum.Enum):
    """What an order's new state does to its ticket."""

    SETTLED = "settled"  # the ticket is unknown here or sold for good: nothing moves it
    REFUSED = "refused"  # another order, still open as far as we know, holds it
    HOLD = "hold"  # the order holds the ticket
    SELL = "sell"  # the order was paid: the ticket is sold to it
    RELEASE = "release"  # the order lets go: the newest other open order, if any, holds it


def hold_verdict(order_id: str, status: OrderStatus, *, ticket: Hold | None,
                 holder_status: OrderStatus | None) -> Verdict:
    """The verdict on order ``order_id`` reaching ``status``.

    ``ticket`` is the ticket's hold (None: tickets does not know it), ``holder_status``
    the latest status seen of the order holding it (None: nobody holds it, or never seen).
    """
    if ticket is None or ticket.sold:
        return Verdict.SETTLED
    if status == OrderStatus.COMPLETE:
        return Verdict.SELL
    if ticket.order_id not in (None, order_id) and holder_status in OPEN_ORDER_STATUSES:
        # At most one of the two is really open, and the other's cancellation is on its way.
        return Verdict.REFUSED
    if status == OrderStatus.CANCELLED:
        return Verdict.RELEASE
    return Verdict.HOLD
