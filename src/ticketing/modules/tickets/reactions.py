"""What tickets does when orders change: holds placed, released and made permanent.

An order's new state is recorded by a version-guarded upsert (a stale one stops there);
each ticket then moves by one guarded statement when the move is plain
(``statements.py``), else :func:`~.holds.hold_verdict` decides over the locked ticket.
"""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from ticketing.bus.consumer import RetryLater, Subscriptions
from ticketing.bus.contracts import (
    OPEN_ORDER_STATUSES,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    OrderRefundRequested,
    OrderResaleWithdrawalRefused,
    OrderResaleWithdrawn,
    OrderStatus,
    TicketRef,
    TicketRefundGranted,
    TicketRefundRefused,
    TicketResold,
)
from ticketing.bus.outbox import UnitOfWork
from ticketing.clock import utc_now
from ticketing.modules.tickets import statements
from ticketing.modules.tickets.holds import Hold, Verdict, hold_verdict
from ticketing.modules.tickets.models import OrderState, Pass, Resale, Ticket, WaitingOrder
from ticketing.modules.tickets.resales import on_resale_withdrawal_refused, on_resale_withdrawn


async def on_order_created(event: OrderCreated, unit: UnitOfWork) -> None:
    """The order holds its tickets, except those another still-open order already holds."""
    await _order_changed(unit, event.id, event.tickets, event.version, OrderStatus.CREATED,
                         event.expires_at, event.user_id)


async def on_order_cancelled(event: OrderCancelled, unit: UnitOfWork) -> None:
    """Free each ticket only if this very order holds it (a late cancel is a no-op)."""
    await _order_changed(unit, event.id, event.tickets, event.version, OrderStatus.CANCELLED)


async def on_order_completed(event: OrderCompleted, unit: UnitOfWork) -> None:
    """The order was paid: its tickets are sold for good, each with a pass for the buyer
    (named by the completion, or, from an orders release before it did, by the creation)."""
    if not await _order_changed(unit, event.id, event.tickets, event.version,
                                OrderStatus.COMPLETE):
        return
    buyer = event.user_id
    if buyer is None:
        state = await OrderState.get(order_id=event.id, using_db=unit.connection)
        buyer = state.buyer_id
    if buyer is not None:
        await _issue_passes(unit, event.id, event.tickets, buyer)


async def on_refund_requested(event: OrderRefundRequested, unit: UnitOfWork) -> None:
    """Grant the refund only if every pass of the order is still its buyer's, unused and
    not on resale: then, in the transaction of the answer, the passes are void (their
    rows locked first, so a check-in racing this finds none) and the tickets for sale."""
    connection = unit.connection
    state = await OrderState.get_or_none(order_id=event.id, using_db=connection)
    if state is None or state.status != OrderStatus.COMPLETE:
        raise RetryLater(f"refund of order {event.id} before its completion")
    ids = sorted(t.id for t in event.tickets)
    passes = await Pass.filter(ticket_id__in=ids, order_id=event.id, void=False) \
        .using_db(connection) \
        .order_by("ticket_id").select_for_update()
    tickets = await Ticket.filter(id__in=ids, order_id=event.id, sold=True) \
        .using_db(connection).order_by("id").select_for_update()
    reason = refund_refusal(passes, event.user_id, len(ids))
    if reason is None and len(tickets) != len(ids):
        reason = "resold_refund"
    if reason is not None:
        await unit.publish(TicketRefundRefused(order_id=event.id, reason=reason))
        return
    await Pass.filter(ticket_id__in=ids).using_db(connection).update(
        void=True, version=F("version") + 1, owner_id=None, owner_email=None)
    for ticket in tickets:
        ticket.sold, ticket.order_id = False, None
        ticket.version += 1
        await ticket.save(using_db=connection, update_fields=["sold", "order_id", "version"])
        await unit.publish(ticket.updated_event())
    await unit.publish(TicketRefundGranted(order_id=event.id))


def refund_refusal(passes: list[Pass], buyer_id: str, tickets: int) -> str | None:
    """Why the passes of an order of ``tickets`` tickets cannot be refunded to
    ``buyer_id`` (an error code), or None when they can."""
    if len(passes) != tickets:
        return "resold_refund"  # a pass moved to another order: it was resold
    if any(p.checked_in_at is not None for p in passes):
        return "checked_in_refund"
    if any(p.on_resale for p in passes):
        return "on_resale_refund"
    if any(p.owner_id != buyer_id for p in passes):
        return "transferred_refund"
    return None


SUBSCRIPTIONS: Subscriptions = {
    OrderCreated: on_order_created,
    OrderCancelled: on_order_cancelled,
    OrderCompleted: on_order_completed,
    OrderRefundRequested: on_refund_requested,
    OrderResaleWithdrawn: on_resale_withdrawn,
    OrderResaleWithdrawalRefused: on_resale_withdrawal_refused,
}


async def _order_changed(unit: UnitOfWork, order_id: str, tickets: tuple[TicketRef, ...],
                         version: int, status: OrderStatus,
                         expires_at: datetime | None = None,
                         buyer_id: str | None = None) -> bool:
    """Record the order's new state unless stale (then False), and move each ticket as its
    verdict says."""
    connection = unit.connection
    if not await statements.record_state(connection, order_id, version, status, expires_at,
                                         buyer_id):
        return False  # this state of the order, or a newer one, was applied already
    for ref in sorted(tickets, key=lambda t: t.id):  # one lock order for every order
        moved = await statements.move_plainly(connection, order_id, ref.id, status)
        if moved is not None:
            await unit.publish(moved)
        else:
            await _move_ticket(unit, order_id, ref.id, status)
    return True


async def _issue_passes(unit: UnitOfWork, order_id: str, tickets: tuple[TicketRef, ...],
                        owner_id: str) -> None:
    """A pass for each ticket this order now holds sold. A ticket sold before (a resale)
    keeps its pass row under a new owner and version, so the old token stops verifying,
    and its resale is sold: ``ticket:resold`` tells payments what the seller is owed."""
    connection = unit.connection
    sold = await Ticket.filter(id__in=[t.id for t in tickets], order_id=order_id, sold=True) \
        .using_db(connection)
    existing = {p.ticket_id: p for p in await Pass.filter(ticket_id__in=[t.id for t in sold])
                .using_db(connection)}
    now = utc_now()
    await Pass.bulk_create([  # one INSERT for an order of many tickets
        Pass(ticket_id=t.id, owner_id=owner_id, order_id=order_id, seller_id=t.user_id,
             scope_id=t.event_id or t.id, issued_at=now, paid_price=t.price,
             face_value=t.price)
        for t in sold if t.id not in existing], using_db=connection)
    for ticket in sold:
        earlier = existing.get(ticket.id)
        if earlier is not None and earlier.order_id != order_id:
            await Pass.filter(ticket_id=ticket.id).using_db(connection).update(
                owner_id=owner_id, owner_email=None, order_id=order_id,
                version=earlier.version + 1, paid_price=ticket.price, on_resale=False,
                void=False, issued_at=now, checked_in_at=None, checked_in_by=None)
            if not earlier.void:
                await _resold(unit, ticket.id, order_id, owner_id)


async def _resold(unit: UnitOfWork, ticket_id: str, order_id: str, buyer_id: str) -> None:
    """The ticket's open resale, if any, was bought by ``order_id``."""
    resale = await Resale.filter(ticket_id=ticket_id, sold_order_id=None) \
        .using_db(unit.connection).first()
    if resale is None:
        return
    resale.sold_order_id, resale.sold_at = order_id, utc_now()
    await resale.save(using_db=unit.connection, update_fields=["sold_order_id", "sold_at"])
    await unit.publish(TicketResold(ticket_id=ticket_id, order_id=order_id,
                                    seller_id=resale.seller_id, buyer_id=buyer_id,
                                    price=resale.price))


async def _move_ticket(unit: UnitOfWork, order_id: str, ticket_id: str,
                       status: OrderStatus) -> None:
    """The general path: the ticket locked, its holder's state read, the verdict applied."""
    connection = unit.connection
    ticket = await Ticket.filter(id=ticket_id).using_db(connection) \
        .select_for_update().first()
    current = Hold(ticket.order_id, ticket.sold) if ticket is not None else None
    verdict = hold_verdict(order_id, status, ticket=current,
                           holder_status=await _status_of(connection, current))
    if verdict is Verdict.REFUSED:
        await WaitingOrder.get_or_create(order_id=order_id, ticket_id=ticket_id,
                                         using_db=connection)
    if ticket is None or verdict in (Verdict.SETTLED, Verdict.REFUSED):
        return
    if verdict is Verdict.RELEASE:
        target = Hold(await _newest_open_order(connection, ticket_id, other_than=order_id))
    else:
        target = Hold(order_id, sold=verdict is Verdict.SELL)
    if target == current:
        return
    ticket.order_id, ticket.sold = target.order_id, target.sold
    ticket.version += 1
    await ticket.save(using_db=connection, update_fields=["order_id", "sold", "version"])
    await unit.publish(ticket.updated_event())


async def _status_of(connection: BaseDBAsyncClient, hold: Hold | None) -> OrderStatus | None:
    """The latest status seen of the order holding the ticket, if any."""
    if hold is None or hold.order_id is None:
        return None
    state = await OrderState.get_or_none(order_id=hold.order_id, using_db=connection)
    return OrderStatus(state.status) if state is not None else None


async def _newest_open_order(connection: BaseDBAsyncClient, ticket_id: str, *,
                             other_than: str) -> str | None:
    """The newest order still open for the ticket besides ``other_than``: one whose creation
    arrived while ``other_than`` held it."""
    waiting = await WaitingOrder.filter(ticket_id=ticket_id).exclude(order_id=other_than) \
        .using_db(connection).values_list("order_id", flat=True)
    if not waiting:
        return None
    successor = await OrderState.filter(order_id__in=list(waiting),
                                        status__in=OPEN_ORDER_STATUSES) \
        .using_db(connection).order_by("-order_id").first()
    return successor.order_id if successor is not None else None
