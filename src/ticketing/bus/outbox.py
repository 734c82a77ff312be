"""Publishing: an event is an outbox row written in the caller's database transaction.

No module and no request handler talks to a transport. :meth:`Outbox.transaction`
opens a transaction on the module's connection; :meth:`UnitOfWork.publish` adds the
event's row to it; after the commit the relay is woken, so delivery starts at once
instead of at the next poll. A rolled-back change leaves no row and so no event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from opentelemetry.trace import SpanKind
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from ticketing.bus import sql
from ticketing.bus.contracts import Envelope, Event
from ticketing.bus.tables import OutboxRecord
from ticketing.telemetry import tracing


class UnitOfWork:
    """One open transaction of one module, able to publish events atomically with it."""

    def __init__(self, outbox: Outbox, connection: BaseDBAsyncClient) -> None:
        self._outbox = outbox
        self.connection = connection
        self.published: list[Envelope] = []
        self.committed: list[Callable[[], None]] = []
        # In a consumer's transaction: when the event it applies happened (a replay's
        # are old), for reactions that would only mislead late.
        self.cause_at: datetime | None = None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once this transaction has committed (never if it rolls back).

        For work that must see the transaction's effects, such as waking a background
        task; it must be quick and must not raise.
        """
        self.committed.append(callback)

    async def publish(self, event: Event) -> Envelope:
        """Add the event's outbox row to this transaction; it leaves only if it commits."""
        with tracing.span(f"publish {event.WIRE_TYPE}", kind=SpanKind.PRODUCER,
                          attributes={"ticketing.module": self._outbox.module}) as span:
            envelope = Envelope.wrap(event, source=self._outbox.module,
                                     traceparent=tracing.current_traceparent())
            span.set_attribute("ticketing.event_id", envelope.id)
            await sql.insert_outbox(self.connection, self._outbox.table, envelope.id,
                                    envelope.type, envelope.to_json())
        self.published.append(envelope)
        return envelope


class Outbox:
    """A module's outbox table and the signal that wakes its relay."""

    def __init__(self, module: str, table: type[OutboxRecord]) -> None:
        self.module = module
        self.table = table
        self._listeners: list[Callable[[Sequence[Envelope]], None]] = []

    def on_commit(self, listener: Callable[[Sequence[Envelope]], None]) -> None:
        """Call ``listener`` with the envelopes of every commit that published something.

        It runs in the committing task, right after the commit: it must be quick and
        must not raise.
        """
        self._listeners.append(listener)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        async with in_transaction(self.module) as connection:
            unit = UnitOfWork(self, connection)
            yield unit
        for callback in unit.committed:
            callback()
        if unit.published:
            for listener in self._listeners:
                listener(unit.published)
