"""Publishing: an event is an outbox row written in the caller's database transaction.

No module and no request handler talks to a transport. :meth:`Outbox.transaction`
opens a transaction on the module's connection; :meth:`UnitOfWork.publish` adds the
event's row to it; after the commit the relay is woken, so delivery starts at once
instead of at the next poll. A rolled-back change leaves no row and so no event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from ticketing.bus.contracts import Envelope, Event
from ticketing.bus.tables import OutboxRecord


class UnitOfWork:
    """One open transaction of one module, able to publish events atomically with it."""

    def __init__(self, outbox: Outbox, connection: BaseDBAsyncClient) -> None:
        self._outbox = outbox
        self.connection = connection
        self.published: list[Envelope] = []

    async def publish(self, event: Event) -> Envelope:
        envelope = Envelope.wrap(event, source=self._outbox.module)
        await self._outbox.table.create(
            event_id=envelope.id, event_type=envelope.type, body=envelope.to_json(),
            using_db=self.connection,
        )
        self.published.append(envelope)
        return envelope


class Outbox:
    """A module's outbox table and the signal that wakes its relay."""

    def __init__(self, module: str, table: type[OutboxRecord]) -> None:
        self.module = module
        self.table = table
        self._listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that published something."""
        self._listeners.append(listener)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        async with in_transaction(self.module) as connection:
            unit = UnitOfWork(self, connection)
            yield unit
        if unit.published:
            for listener in self._listeners:
                listener()
