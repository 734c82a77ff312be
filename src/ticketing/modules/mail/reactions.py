"""Mail's reactions: each cause becomes one stored message, in the consumer's transaction.

The event and its message commit together (the bus's processed-event row with them), so
a crash before the commit redelivers the event and a crash after it finds the message
stored: a cause is written once, whatever arrives twice (the unique ``cause``). The
sender takes it to the reader once the transaction has committed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import cache

from tortoise.backends.base.client import BaseDBAsyncClient

from ticketing.bus.consumer import RetryLater, Subscriptions
from ticketing.bus.contracts import (
    EventCreated,
    OrderCancelled,
    OrderCompleted,
    OrderCreated,
    TicketCreated,
    TicketResaleListed,
    TicketResold,
    TicketTransferred,
    UserRegistered,
    WaitlistOffered,
)
from ticketing.bus.outbox import UnitOfWork
from ticketing.bus.sql import dialect_of, parameters
from ticketing.clock import Clock
from ticketing.ids import created_at_ms, new_id
from ticketing.modules.mail import compose
from ticketing.modules.mail.compose import Draft
from ticketing.modules.mail.models import Listing, MessageState, OrderCopy, Recipient
from ticketing.modules.mail.sender import Sender, address_waiting

UNTITLED = "your tickets"
# How long an order's later events wait for its order:created (delivered out of order).
ORDER_CREATED_WAIT = timedelta(minutes=10)
# A cause older than this gets no mail: what mail's first run in the split replays from
# the stream's retained week (a welcome, a receipt) is news to nobody by now.
STALE_AFTER = timedelta(days=1)


log = logging.getLogger("ticketing.mail")


@cache
def _new_message(dialect: str) -> str:
    p = parameters(dialect)
    return ("INSERT INTO mail_messages (id, cause, message_id, user_id, to_address, subject, "
            "body, state, created_at, next_attempt_at, attempts) VALUES "
            f"({', '.join(p(n) for n in range(1, 11))}, 0) "
            "ON CONFLICT (cause) DO NOTHING RETURNING id")


class Reactions:
    """The handlers of mail's subscriptions."""

    def __init__(self, sender: Sender, site: str, sender_address: str, clock: Clock) -> None:
        self._sender = sender
        self._site = site
        self._from = sender_address
        self._clock = clock

    @property
    def subscriptions(self) -> Subscriptions:
        """Who people are (addresses, titles, orders) and each cause of a mail."""
        return {
            UserRegistered: self.on_user_registered,
            TicketCreated: self.on_ticket_created,
            EventCreated: self.on_event_created,
            TicketResaleListed: self.on_resale_listed,
            OrderCreated: self.on_order_created,
            OrderCompleted: self.on_order_completed,
            OrderCancelled: self.on_order_cancelled,
            TicketTransferred: self.on_ticket_transferred,
            TicketResold: self.on_ticket_resold,
            WaitlistOffered: self.on_waitlist_offered,
        }

    async def on_user_registered(self, event: UserRegistered, unit: UnitOfWork) -> None:
        """The address, any message that waited for it, and the welcome of a new account
        (not of one announced late: auth's migration 0003 announces the older ones)."""
        connection = unit.connection
        if await Recipient.filter(user_id=event.user_id).using_db(connection).exists():
            return
        await Recipient.create(user_id=event.user_id, email=event.email, using_db=connection)
        now = self._clock()
        if await address_waiting(connection, now, event.user_id):
            unit.after_commit(self._sender.wake)
        if now - _made_at(event.user_id) <= STALE_AFTER:
            await self._store(unit, compose.welcome(event.user_id, event.email, self._site),
                              user_id=event.user_id, to=event.email)

    async def on_ticket_created(self, event: TicketCreated, unit: UnitOfWork) -> None:
        await _remember_title(unit.connection, event.id, event.title, event.version)

    async def on_event_created(self, event: EventCreated, unit: UnitOfWork) -> None:
        await _remember_title(unit.connection, event.id, event.title, event.version)

    async def on_resale_listed(self, event: TicketResaleListed, unit: UnitOfWork) -> None:
        await _remember_title(unit.connection, event.ticket_id, event.title, event.version)

    async def on_order_created(self, event: OrderCreated, unit: UnitOfWork) -> None:
        """The order's copy (the later mails about it need it) and its reservation mail,
        unless the deadline passed already (an old event delivered late)."""
        connection = unit.connection
        listing_id = event.event_id or event.ticket.id
        if await OrderCopy.filter(id=event.id).using_db(connection).exists():
            return
        await OrderCopy.create(id=event.id, user_id=event.user_id, listing_id=listing_id,
                               quantity=len(event.tickets), total=event.total,
                               expires_at=event.expires_at,
                               ticket_ids=[t.id for t in event.tickets], using_db=connection)
        if event.expires_at > self._clock():
            title = await _title(connection, listing_id)
            await self._store(unit, compose.order_reserved(
                event.id, title, len(event.tickets), event.total, event.expires_at,
                self._site), user_id=event.user_id)

    async def on_order_completed(self, event: OrderCompleted, unit: UnitOfWork) -> None:
        order = await _order(unit.connection, event.id, self._clock())
        if order is None:
            return
        await self._store(unit, compose.order_paid(
            order.id, await _title(unit.connection, order.listing_id), list(order.ticket_ids),
            self._site), user_id=order.user_id)

    async def on_order_cancelled(self, event: OrderCancelled, unit: UnitOfWork) -> None:
        order = await _order(unit.connection, event.id, self._clock())
        if order is None:
            return
        await self._store(unit, compose.order_cancelled(
            order.id, await _title(unit.connection, order.listing_id), event.reason,
            self._site), user_id=order.user_id)

    async def on_ticket_transferred(self, event: TicketTransferred, unit: UnitOfWork) -> None:
        """To the address the giver typed: its reader may have no account yet."""
        giver = await Recipient.get_or_none(user_id=event.from_user_id,
                                            using_db=unit.connection)
        title = event.title or await _title(unit.connection, event.ticket_id)
        await self._store(unit, compose.ticket_transferred(
            event.ticket_id, event.version, title, giver.email if giver else None,
            self._site), to=event.to_email)

    async def on_ticket_resold(self, event: TicketResold, unit: UnitOfWork) -> None:
        await self._store(unit, compose.resale_sold(
            event.ticket_id, event.order_id, await _title(unit.connection, event.ticket_id),
            event.price, self._site), user_id=event.seller_id)

    async def on_waitlist_offered(self, event: WaitlistOffered, unit: UnitOfWork) -> None:
        """Told while the head start lasts; after it, the mail would only mislead."""
        if event.until <= self._clock():
            return
        await self._store(unit, compose.waitlist_offer(
            event.scope_id, event.ticket_id, event.user_id,
            await _title(unit.connection, event.scope_id), event.until, self._site),
            user_id=event.user_id)

    async def _store(self, unit: UnitOfWork, draft: Draft, *, user_id: str | None = None,
                     to: str | None = None) -> None:
        """Keep the draft as a message, once per cause; it waits for its reader's address
        when mail does not know it yet."""
        connection = unit.connection
        if unit.cause_at is not None and self._clock() - unit.cause_at > STALE_AFTER:
            log.info("cause=%s of %s: too old to mail", draft.cause, unit.cause_at)
            return
        if to is None and user_id is not None:
            recipient = await Recipient.get_or_none(user_id=user_id, using_db=connection)
            to = recipient.email if recipient else None
        now = self._clock()
        state = MessageState.QUEUED if to else MessageState.UNADDRESSED
        if await connection.execute_query_dict(_new_message(dialect_of(connection)), [
                new_id(), draft.cause, compose.message_id(draft.cause, self._from), user_id,
                to, draft.subject[:200], draft.body, state.value, now, now]) and to:
            unit.after_commit(self._sender.wake)


async def _remember_title(connection: BaseDBAsyncClient, listing_id: str, title: str,
                          version: int) -> None:
    known = await Listing.filter(id=listing_id).using_db(connection).select_for_update().first()
    if known is None:
        await Listing.create(id=listing_id, title=title, version=version, using_db=connection)
    elif version > known.version:
        known.title, known.version = title, version
        await known.save(using_db=connection, update_fields=["title", "version"])


async def _title(connection: BaseDBAsyncClient, listing_id: str) -> str:
    known = await Listing.get_or_none(id=listing_id, using_db=connection)
    return known.title if known else UNTITLED


def _made_at(entity_id: str) -> datetime:
    return datetime.fromtimestamp(created_at_ms(entity_id) / 1000, UTC)


async def _order(connection: BaseDBAsyncClient, order_id: str, now: datetime) -> OrderCopy | None:
    """Mail's copy of the order; an order made moments ago waits for its
    ``order:created``, one made before mail knew of orders (an upgrade) gets no mail."""
    order = await OrderCopy.get_or_none(id=order_id, using_db=connection)
    if order is None:
        if now - _made_at(order_id) < ORDER_CREATED_WAIT:
            raise RetryLater(f"order {order_id} before its order:created")
        log.info("order=%s unknown to mail (made before it ran): no mail", order_id)
    return order
