"""Consuming: each module declares one table of subscriptions (event type -> handler).

A handler's effects and the consumer's processed-event row commit in one transaction,
so a redelivered event has no second effect. A handler that raises leaves the event for
redelivery; after :data:`MAX_ATTEMPTS` deliveries it becomes a dead letter that
``ticketing bus replay`` can deliver again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from ticketing.bus.contracts import Envelope, Event
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.bus.tables import BusTables

log = logging.getLogger("ticketing.bus")

MAX_ATTEMPTS = 5

Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
Subscriptions = Mapping[type[Event], Handler]


class RetryLater(Exception):
    """The event cannot be applied yet (its predecessor has not arrived); deliver it again."""


class _AlreadyProcessed(Exception):
    pass


def retry_delay(attempt: int, *, first: float = 0.05, cap: float = 5.0) -> float:
    """Exponential backoff: ``first`` seconds after the first failure, doubling up to ``cap``."""
    return float(min(cap, first * 2 ** (attempt - 1)))


class Consumer:
    """One module's subscriptions, applied idempotently inside the module's transaction."""

    def __init__(self, module: str, outbox: Outbox, tables: BusTables,
                 subscriptions: Subscriptions) -> None:
        self.name = module
        self._outbox = outbox
        self._tables = tables
        self._handlers = {event.WIRE_TYPE: handler for event, handler in subscriptions.items()}

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def wants(self, event_type: str) -> bool:
        return event_type in self._handlers

    async def handle(self, envelope: Envelope) -> bool:
        """Apply the event once. False when it was already processed; raises on failure."""
        handler = self._handlers[envelope.type]
        try:
            async with self._outbox.transaction() as unit:
                try:
                    await self._tables.processed.create(
                        consumer=self.name, event_id=envelope.id, using_db=unit.connection
                    )
                except IntegrityError:
                    raise _AlreadyProcessed from None
                await handler(envelope.event, unit)
        except _AlreadyProcessed:
            log.debug("consumer=%s event_id=%s duplicate ignored", self.name, envelope.id)
            return False
        return True

    def log_failure(self, envelope: Envelope, error: BaseException, attempt: int) -> None:
        if isinstance(error, RetryLater):
            log.info("consumer=%s event_id=%s type=%s attempt=%d waiting: %s",
                     self.name, envelope.id, envelope.type, attempt, error)
        else:
            log.warning("consumer=%s event_id=%s type=%s attempt=%d failed: %r",
                        self.name, envelope.id, envelope.type, attempt, error)

    async def dead_letter(self, envelope: Envelope, error: BaseException, attempts: int) -> None:
        log.error("consumer=%s event_id=%s type=%s dead-lettered after %d attempts: %r",
                  self.name, envelope.id, envelope.type, attempts, error)
        await self._tables.dead_letters.create(
            consumer=self.name, event_id=envelope.id, event_type=envelope.type,
            body=envelope.to_json(), error=repr(error)[:2000], attempts=attempts,
        )

    async def replay(self, event_id: str) -> int:
        """Deliver this consumer's dead letters of ``event_id`` again; how many were replayed."""
        replayed = 0
        letters = await self._tables.dead_letters.filter(event_id=event_id, replayed_at=None)
        for letter in letters:
            await self.handle(Envelope.from_json(letter.body))
            letter.replayed_at = datetime.now(UTC)
            await letter.save(update_fields=["replayed_at"])
            replayed += 1
        return replayed

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Unreplayed dead letters, oldest first, for ``ticketing bus status``."""
        rows = await self._tables.dead_letters.filter(replayed_at=None).order_by("id")
        return [{"consumer": r.consumer, "eventId": r.event_id, "type": r.event_type,
                 "attempts": r.attempts, "error": r.error, "at": r.created_at.isoformat()}
                for r in rows]
