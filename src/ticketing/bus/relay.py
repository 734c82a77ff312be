"""The relay: forwards a module's committed outbox rows, in order, and marks them sent.

It wakes as soon as a transaction publishes (see :meth:`Outbox.on_commit`) and also
polls as a backstop. While the transport is down it retries with backoff; a crash
between sending and marking means the row is sent again, never lost (consumers and
JetStream's duplicate window drop the copy). It marks only the rows the transport took.

On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` inside a transaction
that lasts for the batch, so several relays (replicas) can run at once and never send
the same row twice. On SQLite the relay holds no transaction across a transport call:
Tortoise serialises a SQLite connection, and a long transaction there would stall every
request of the module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from ticketing.bus import sql
from ticketing.bus.consumer import retry_delay
from ticketing.bus.contracts import traceparent_of
from ticketing.bus.outbox import Outbox
from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.bus.transport import Outgoing, Transport, TransportUnavailable
from ticketing.telemetry import metrics

log = logging.getLogger("ticketing.bus.relay")

BACKOFF_FIRST = 0.1
BACKOFF_CAP = 2.0
STOP_GRACE = 5.0


class Relay:
    """Moves one module's outbox to the transport; run one per module and process."""

    def __init__(self, outbox: Outbox, transport: Transport, *, batch_size: int = 100,
                 poll_interval: float = 1.0) -> None:
        self.outbox = outbox
        self._transport = transport
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._handle: Supervised | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        outbox.on_commit(lambda _published: self._wakeup.set())

    def start(self, supervisor: Supervisor) -> None:
        self._stopping = False
        self._stopped.clear()
        self._handle = supervisor.start(f"relay-{self.outbox.module}", self._run)

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Finish the batch in hand, then stop; cancel only if that takes over ``grace``.

        Cancelling a query can wedge a connection: Tortoise 1.1 keeps a SQLite
        connection's lock if cancelled while it opens the connection.
        """
        handle, self._handle = self._handle, None
        if handle is not None:
            await handle.stop(ask=self._ask_to_stop, grace=grace)

    def _ask_to_stop(self) -> None:
        self._stopping = True
        self._stopped.set()
        self._wakeup.set()

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                sent = await self.relay_batch()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                delay = retry_delay(failures, first=BACKOFF_FIRST, cap=BACKOFF_CAP)
                log.warning("relay=%s cannot forward (attempt %d, next in %.1fs): %r",
                            self.outbox.module, failures, delay, error)
                # Commits do not cut a backoff short (only stop() does): a down broker
                # is not retried at the rate events are published.
                await _wait(self._stopped, delay)
                continue
            if sent < self._batch_size:
                # Cleared only after the wait: a commit that lands while a batch is
                # being sent has set the flag, and the next round starts at once.
                await _wait(self._wakeup, self._poll_interval)
                self._wakeup.clear()

    async def relay_batch(self) -> int:
        """Forward up to one batch of unsent rows; returns how many were sent.

        Rows the transport took before a failure are still marked, then the failure is
        raised.
        """
        name = self.outbox.module
        connection = connections.get(name)
        if connection.capabilities.dialect == "postgres":
            async with in_transaction(name) as transaction:
                await sql.plan_afresh(transaction)
                rows = await sql.claim_unsent(transaction, self.outbox.table, self._batch_size,
                                              lock=True)
                return await self._forward(rows, transaction)
        rows = await sql.claim_unsent(connection, self.outbox.table, self._batch_size, lock=False)
        return await self._forward(rows, connection)

    async def _forward(self, rows: Sequence[sql.UnsentRow],
                       connection: BaseDBAsyncClient) -> int:
        if not rows:
            return 0
        messages = [Outgoing(r.event_id, r.event_type, r.body, traceparent_of(r.body))
                    for r in rows]
        try:
            await self._transport.publish(messages)
        except TransportUnavailable as error:
            await self._mark(rows[: error.sent], connection)
            self._count(rows[: error.sent])
            raise
        await self._mark(rows, connection)
        self._count(rows)
        return len(rows)

    def _count(self, rows: Sequence[sql.UnsentRow]) -> None:
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(self.outbox.module, row.event_type).inc()

    async def _mark(self, rows: Sequence[sql.UnsentRow], connection: BaseDBAsyncClient) -> None:
        if rows:
            await sql.mark_sent(connection, self.outbox.table, [r.id for r in rows])


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until ``event`` is set or ``seconds`` pass, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
