"""Consuming: each module declares one table of subscriptions (event type -> handler).

A handler's effects and the consumer's processed-event row commit in one transaction,
so a redelivered event has no second effect. A handler that raises leaves the event for
redelivery (logged with the event id); after :data:`MAX_ATTEMPTS` deliveries it becomes
a dead letter that ``ticketing bus replay`` can deliver again.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from tortoise.exceptions import IntegrityError

from ticketing.bus import sql
from ticketing.bus.contracts import Envelope, Event, traceparent_of
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.bus.tables import BusTables, DeadLetter
from ticketing.telemetry import logs, metrics, tracing

log = logging.getLogger("ticketing.bus")

# With the transports' backoff (doubling, capped at 5 s) this gives a failing event
# about 6 s in-process and 16 s over NATS before it is dead-lettered.
MAX_ATTEMPTS = 8
# An event whose predecessor is late (RetryLater) is not failing, it waits; over NATS its
# predecessor may be one that a killed process had fetched, back only after JetStream's
# ack wait (30 s). So waiting has its own budget there: about three minutes.
MAX_WAITS = 40

Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
Subscriptions = Mapping[type[Event], Handler]


class RetryLater(Exception):
    """The event cannot be applied yet (its predecessor has not arrived); deliver it again."""


class _AlreadyProcessed(Exception):
    pass


def retry_delay(attempt: int, *, first: float = 0.05, cap: float = 5.0) -> float:
    """Exponential backoff: ``first`` seconds after the first failure, doubling up to ``cap``."""
    return float(min(cap, first * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class Delivery:
    """One event as a transport hands it over: still undecoded."""

    event_id: str
    event_type: str
    body: str | bytes


class Outcome(enum.Enum):
    """What became of one delivery attempt."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTERED = "dead-lettered"


class Consumer:
    """One module's subscriptions, applied idempotently inside the module's transaction."""

    def __init__(self, module: str, outbox: Outbox, tables: BusTables,
                 subscriptions: Subscriptions,
                 on_applied: Callable[[str], None] | None = None) -> None:
        self.name = module
        self._outbox = outbox
        self._tables = tables
        self._handlers = {event.WIRE_TYPE: handler for event, handler in subscriptions.items()}
        # Told each event id once it is applied (committed), for readers waiting on it.
        self._on_applied = on_applied or (lambda event_id: None)

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(sorted(self._handlers))

    def wants(self, event_type: str) -> bool:
        return event_type in self._handlers

    async def handle(self, envelope: Envelope) -> bool:
        """Apply the event once. False when it was already processed; raises on failure."""
        try:
            async with self._outbox.transaction() as unit:
                await self._apply(envelope, unit)
        except _AlreadyProcessed:
            log.debug("consumer=%s event_id=%s duplicate ignored", self.name, envelope.id)
            self._on_applied(envelope.id)
            return False
        self._on_applied(envelope.id)
        return True

    async def _apply(self, envelope: Envelope, unit: UnitOfWork, *, record: bool = True) -> None:
        """The handler, in a span whose parent published the event (one trace per
        purchase, ``telemetry/tracing.py``), with the event's ids on every log line;
        ``record`` writes its processed row first (a group wrote its rows already).

        A duplicate or an event that must wait is no error of the span's: only a failing
        handler marks it so."""
        handler = self._handlers[envelope.type]
        with (tracing.span(f"{self.name} apply {envelope.type}", kind=SpanKind.CONSUMER,
                           traceparent=envelope.traceparent,
                           attributes={"ticketing.module": self.name,
                                       "ticketing.event_id": envelope.id}) as span,
              logs.bound(module=self.name, event_id=envelope.id, event_type=envelope.type)):
            if record:
                try:
                    await sql.insert_processed(unit.connection, self._tables.processed,
                                               self.name, envelope.id)
                except IntegrityError:
                    span.set_attribute("ticketing.outcome", Outcome.DUPLICATE.value)
                    raise _AlreadyProcessed from None
            try:
                unit.cause_at = envelope.occurred_at
                with metrics.timed(metrics.HANDLER_LATENCY, consumer=self.name,
                                   type=envelope.type):
                    await handler(envelope.event, unit)
            except RetryLater:
                span.set_attribute("ticketing.outcome", "waiting")
                raise
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                raise
            # DEBUG: at INFO one line per event cost a fifth of the bus's throughput.
            log.debug("consumer=%s applied %s", self.name, envelope.type)

    async def deliver_together(self, deliveries: Sequence[Delivery]) -> list[Outcome] | None:
        """Apply several events in one transaction (a group commit), in order.

        Their effects and processed rows commit together, so each event still has its
        effect exactly once, for the price of one commit (and one insert of the rows,
        which tells the events processed before).
        All or nothing: if any event fails (or cannot be decoded) nothing is applied and
        ``None`` tells the caller to deliver them one at a time, where failures are
        retried, logged and dead-lettered.
        """
        try:
            envelopes = [Envelope.from_json(d.body) for d in deliveries]
            async with self._outbox.transaction() as unit:
                fresh = await sql.record_processed(
                    unit.connection, self._tables.processed, self.name,
                    list(dict.fromkeys(e.id for e in envelopes)))
                outcomes = []
                for envelope in envelopes:
                    if envelope.id not in fresh:
                        outcomes.append(Outcome.DUPLICATE)
                        continue
                    fresh.discard(envelope.id)
                    await self._apply(envelope, unit, record=False)
                    outcomes.append(Outcome.APPLIED)
        except Exception as error:  # a handler failed, or a body cannot be decoded
            log.debug("consumer=%s group of %d falls back to one by one: %r",
                      self.name, len(deliveries), error)
            return None
        for envelope, outcome in zip(envelopes, outcomes, strict=True):
            self._on_applied(envelope.id)
            self._count(envelope.type, outcome, attempt=1)
        return outcomes

    async def deliver(self, delivery: Delivery, attempt: int, max_attempts: int,
                      max_waits: int | None = None) -> Outcome:
        """One delivery attempt, as both transports make it.

        A failure (the handler raised, or the body cannot be decoded by this code) is
        logged and asks for a retry, until ``attempt`` reaches ``max_attempts`` (for an
        event waiting for its predecessor, ``max_waits`` if given): then the event is
        dead-lettered. Raises only if the dead letter itself cannot be written.
        """
        # Bound here too, for the lines logged after a failure has left the handler.
        with logs.bound(module=self.name, event_id=delivery.event_id,
                        event_type=delivery.event_type,
                        trace_id=tracing.trace_id_of(traceparent_of(delivery.body))):
            outcome = await self._attempt(delivery, attempt, max_attempts, max_waits)
        self._count(delivery.event_type, outcome, attempt)
        return outcome

    async def _attempt(self, delivery: Delivery, attempt: int, max_attempts: int,
                       max_waits: int | None) -> Outcome:
        try:
            envelope = Envelope.from_json(delivery.body)
            applied = await self.handle(envelope)
        except Exception as error:
            self.log_failure(delivery, error, attempt)
            waiting = isinstance(error, RetryLater) and max_waits is not None
            if attempt < (max(max_attempts, max_waits or 0) if waiting else max_attempts):
                return Outcome.RETRY
            await self.dead_letter(delivery, error, attempt)
            return Outcome.DEAD_LETTERED
        return Outcome.APPLIED if applied else Outcome.DUPLICATE

    def _count(self, event_type: str, outcome: Outcome, attempt: int) -> None:
        # A type this code has no handler for is one bounded label: "unknown".
        label = event_type if event_type in self._handlers else "unknown"
        metrics.EVENTS_CONSUMED.labels(self.name, label, outcome.value).inc()
        if attempt > 1:
            metrics.EVENTS_REDELIVERED.labels(self.name, label).inc()
        if outcome is Outcome.DEAD_LETTERED:
            metrics.EVENTS_DEAD_LETTERED.labels(self.name, label).inc()

    def log_failure(self, delivery: Delivery, error: BaseException, attempt: int) -> None:
        if isinstance(error, RetryLater):
            log.info("consumer=%s event_id=%s type=%s attempt=%d waiting: %s",
                     self.name, delivery.event_id, delivery.event_type, attempt, error)
        else:
            log.warning("consumer=%s event_id=%s type=%s attempt=%d failed: %r",
                        self.name, delivery.event_id, delivery.event_type, attempt, error)

    async def dead_letter(self, delivery: Delivery, error: BaseException, attempts: int) -> None:
        """Record the event for ``ticketing bus replay``; once per consumer and event."""
        log.error("consumer=%s event_id=%s type=%s dead-lettered after %d attempts: %r",
                  self.name, delivery.event_id, delivery.event_type, attempts, error)
        letters = self._tables.dead_letters
        if await letters.filter(consumer=self.name, event_id=delivery.event_id,
                                replayed_at=None).exists():
            return  # a lost acknowledgement brought it back: it is recorded already
        body = delivery.body if isinstance(delivery.body, str) else delivery.body.decode(
            "utf-8", "replace")
        await letters.create(
            consumer=self.name, event_id=delivery.event_id[:36],
            event_type=delivery.event_type[:64], body=body, error=repr(error)[:2000],
            attempts=attempts,
        )

    async def replay(self, event_id: str) -> int:
        """Deliver this consumer's dead letters of ``event_id`` again; how many were replayed.

        The handler's effects, the processed row and the letter's ``replayed_at`` commit
        together. If the handler raises again the letter stays and the error propagates.
        """
        replayed = 0
        letters = await self._tables.dead_letters.filter(
            consumer=self.name, event_id=event_id, replayed_at=None)
        for letter in letters:
            envelope = Envelope.from_json(letter.body)
            try:
                async with self._outbox.transaction() as unit:
                    await self._apply(envelope, unit)
                    await self._mark_replayed(letter, unit)
            except _AlreadyProcessed:
                await self._mark_replayed(letter, None)  # applied before; only the mark was lost
            self._on_applied(envelope.id)
            replayed += 1
        return replayed

    async def _mark_replayed(self, letter: DeadLetter, unit: UnitOfWork | None) -> None:
        query = self._tables.dead_letters.filter(id=letter.id)
        if unit is not None:
            query = query.using_db(unit.connection)
        await query.update(replayed_at=datetime.now(UTC))

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Unreplayed dead letters, oldest first, for ``ticketing bus status``."""
        rows = await self._tables.dead_letters.filter(
            consumer=self.name, replayed_at=None).order_by("id")
        return [{"consumer": r.consumer, "eventId": r.event_id, "type": r.event_type,
                 "attempts": r.attempts, "error": r.error, "at": r.created_at.isoformat()}
                for r in rows]


def peek_identity(body: str | bytes) -> tuple[str | None, str | None]:
    """The envelope's id and type from a body this code may not fully decode."""
    try:
        raw = json.loads(body)
        return str(raw["id"]), str(raw["type"])
    except (ValueError, KeyError, TypeError):
        return None, None
