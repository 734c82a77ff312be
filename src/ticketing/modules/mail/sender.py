"""The sender: takes each queued message to its reader, at least once and as seldom as
it can.

It is a :class:`PollingWorker`: woken when a message commits, polling as a backstop.
A message is taken by moving its ``attempts`` on (only one replica's update
matches) and pushing ``next_attempt_at`` a lease ahead: a sender that dies while sending
leaves it to be sent again when the lease ends, with the same Message-ID (the reader's
mail program shows one message). A refused message (5xx) fails at once; one the server
could not take now is tried again later, less often each time, until
:data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from ticketing.bus.polling import PollingWorker
from ticketing.bus.sql import dialect_of, parameters
from ticketing.clock import Clock
from ticketing.modules.mail.compose import as_email
from ticketing.modules.mail.delivery import DeliveryFailed, MailTransport
from ticketing.modules.mail.models import Message, MessageState
from ticketing.telemetry import metrics

log = logging.getLogger("ticketing.mail")

POLL_SECONDS = 2.0
BATCH = 50
LEASE = timedelta(minutes=2)
SEND_SECONDS = LEASE.total_seconds() / 2
# A message still waiting for its reader's address after this long is given up on:
# an account announced late (after an upgrade, say) is not sent yesterday's news.
ADDRESS_GRACE = timedelta(days=1)
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)


async def address_waiting(connection: BaseDBAsyncClient, now: datetime,
                          user_id: str | None = None) -> int:
    """Queue the messages that wait for an address mail now knows (``user_id``'s, or
    anyone's) and give up on those that waited longer than :data:`ADDRESS_GRACE`; how
    many were queued."""
    p = parameters(dialect_of(connection))

    def whose(n: int) -> tuple[str, list[str]]:
        return (f" AND user_id = {p(n)}", [user_id]) if user_id else ("", [])

    only, values = whose(3)
    queued, _ = await connection.execute_query(
        "UPDATE mail_messages SET state = 'queued', next_attempt_at = "
        f"{p(1)}, to_address = (SELECT r.email FROM mail_recipients r "
        "WHERE r.user_id = mail_messages.user_id) WHERE state = 'unaddressed' AND "
        f"created_at >= {p(2)} AND user_id IN (SELECT user_id FROM mail_recipients)"
        + only, [now, now - ADDRESS_GRACE, *values])
    only, values = whose(2)
    await connection.execute_query(
        "UPDATE mail_messages SET state = 'failed', last_error = 'no address in time' "
        f"WHERE state = 'unaddressed' AND created_at < {p(1)}" + only,
        [now - ADDRESS_GRACE, *values])
    return int(queued)


def retry_after(attempts: int) -> timedelta:
    """How long after its ``attempts``-th failure a message is tried again."""
    backoff: timedelta = FIRST_RETRY * 2 ** (attempts - 1)
    return min(LAST_RETRY, backoff)


class Sender(PollingWorker):
    """Sends queued messages (see the module docstring)."""

    def __init__(self, transport: MailTransport, sender_address: str, clock: Clock) -> None:
        super().__init__(poll_seconds=POLL_SECONDS, batch=BATCH)
        self.transport = transport
        self.sender_address = sender_address
        self._clock = clock

    async def work_batch(self) -> int:
        """Send one batch of the messages due now; how many were looked at."""
        await self.address_waiting()
        due = await Message.filter(state=MessageState.QUEUED,
                                   next_attempt_at__lte=self._clock()) \
            .order_by("next_attempt_at").limit(BATCH)
        for message in due:
            if self.stopping:
                break
            await self._send(message)
        return len(due)

    async def address_waiting(self) -> None:
        """Catch a message written while its reader's sign-up was being applied (a
        transaction that could not see the other's rows yet)."""
        if await address_waiting(connections.get("mail"), self._clock()):
            self.wake()

    async def _send(self, message: Message) -> None:
        attempt = message.attempts + 1
        if not await Message.filter(id=message.id, state=MessageState.QUEUED,
                                    attempts=message.attempts).update(
                attempts=attempt, next_attempt_at=self._clock() + LEASE):
            return  # another sender took it
        try:
            if attempt > MAX_ATTEMPTS or message.to_address is None:
                # Taken this often without an outcome (each try died mid-way), or queued
                # by hand without an address: trying again cannot help.
                raise DeliveryFailed("no outcome after many tries" if message.to_address
                                     else "no address", permanent=True)
            email = as_email(sender=self.sender_address, to=message.to_address,
                             subject=message.subject, body=message.body,
                             message_id=message.message_id, created_at=message.created_at)
            async with asyncio.timeout(SEND_SECONDS):  # well inside the lease
                await self.transport.send(email)
        except DeliveryFailed as error:
            await self._failed(message, attempt, error)
            return
        except (ValueError, TypeError) as error:  # a message that cannot be written
            await self._failed(message, attempt, DeliveryFailed(str(error), permanent=True))
            return
        except TimeoutError:
            await self._failed(message, attempt, DeliveryFailed(
                f"no answer within {SEND_SECONDS:.0f}s"))
            return
        await Message.filter(id=message.id, attempts=attempt).update(
            state=MessageState.SENT, sent_at=self._clock(), last_error=None)
        metrics.MAIL.labels("sent").inc()
        log.info("mail=%s cause=%s sent to %s", message.id, message.cause, message.to_address)

    async def _failed(self, message: Message, attempt: int, error: DeliveryFailed) -> None:
        given_up = error.permanent or attempt >= MAX_ATTEMPTS
        changes: dict[str, object] = {"last_error": str(error)[:1000]}
        if given_up:
            changes["state"] = MessageState.FAILED
        else:
            changes["next_attempt_at"] = self._clock() + retry_after(attempt)
        await Message.filter(id=message.id, attempts=attempt).update(**changes)
        metrics.MAIL.labels("failed" if given_up else "retried").inc()
        (log.error if given_up else log.warning)(
            "mail=%s cause=%s to %s %s after %d attempt(s): %s", message.id, message.cause,
            message.to_address, "failed" if given_up else "not sent yet", attempt, error)
