"""The relay: forwards a module's committed outbox rows, in order, and marks them sent.

It wakes as soon as a transaction publishes (see :meth:`Outbox.on_commit`) and also
polls as a backstop. While the transport is down it retries with backoff; a crash
between sending and marking means the row is sent again, never lost (consumers and
JetStream's duplicate window drop the copy). On PostgreSQL rows are claimed with
``FOR UPDATE SKIP LOCKED``, so several relays (replicas) can run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise import connections
from tortoise.transactions import in_transaction

from ticketing.bus.consumer import retry_delay
from ticketing.bus.contracts import Envelope, UnknownEvent
from ticketing.bus.outbox import Outbox
from ticketing.bus.tables import OutboxRecord
from ticketing.bus.transport import Transport

log = logging.getLogger("ticketing.bus.relay")


class Relay:
    def __init__(self, outbox: Outbox, transport: Transport, *, batch_size: int = 100,
                 poll_interval: float = 1.0) -> None:
        self.outbox = outbox
        self._transport = transport
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        outbox.on_commit(self._wakeup.set)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"relay-{self.outbox.module}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                sent = await self.relay_batch()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                delay = retry_delay(failures, first=0.1, cap=5.0)
                log.warning("relay=%s cannot forward (attempt %d, next in %.1fs): %r",
                            self.outbox.module, failures, delay, error)
                await asyncio.sleep(delay)
                continue
            if sent < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._poll_interval)
                self._wakeup.clear()

    async def relay_batch(self) -> int:
        """Forward up to one batch of unsent rows; returns how many were sent.

        Rows sent before a transport failure are still marked, then the failure is raised.
        """
        table = self.outbox.table
        pending = table.filter(sent_at=None).order_by("id").limit(self._batch_size)
        if connections.get(self.outbox.module).capabilities.dialect == "postgres":
            async with in_transaction(self.outbox.module):
                rows = await pending.select_for_update(skip_locked=True)
                sent, failure = await self._forward(rows)
        else:
            rows = await pending
            sent, failure = await self._forward(rows)
        if failure is not None:
            raise failure
        return sent

    async def _forward(self, rows: Sequence[OutboxRecord]) -> tuple[int, Exception | None]:
        sent: list[int] = []
        failure: Exception | None = None
        for row in rows:
            try:
                await self._transport.publish(Envelope.from_json(row.body), row.body)
            except UnknownEvent as error:
                log.error("relay=%s outbox row %s is unreadable and skipped: %s",
                          self.outbox.module, row.id, error)
            except Exception as error:
                failure = error
                break
            sent.append(row.id)
        if sent:
            await self.outbox.table.filter(id__in=sent).update(sent_at=datetime.now(UTC))
        return len(sent), failure
