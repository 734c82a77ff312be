"""Retention: sent outbox rows and processed-event rows do not grow for ever.

A processed row must outlive every redelivery that could still bring its event back:
JetStream keeps events for ``max_age`` (7 days), so processed rows are kept a day
longer than sent outbox rows. Unreplayed dead letters are kept until someone acts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.bus.tables import BusTables

log = logging.getLogger("ticketing.bus.retention")

SENT_OUTBOX_KEPT = timedelta(days=7)
PROCESSED_KEPT = timedelta(days=8)
REPLAYED_DEAD_LETTERS_KEPT = timedelta(days=30)
PRUNE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True)
class Pruned:
    outbox: int
    processed: int
    dead_letters: int


async def prune(tables: BusTables, now: datetime | None = None) -> Pruned:
    """Delete what no delivery can need any more; returns how many rows went."""
    now = now or datetime.now(UTC)
    return Pruned(
        outbox=await tables.outbox.filter(sent_at__lt=now - SENT_OUTBOX_KEPT).delete(),
        processed=await tables.processed.filter(
            processed_at__lt=now - PROCESSED_KEPT).delete(),
        dead_letters=await tables.dead_letters.filter(
            replayed_at__lt=now - REPLAYED_DEAD_LETTERS_KEPT).delete(),
    )


class Janitor:
    """Prunes every module's bus tables once an hour, starting an hour after start-up."""

    def __init__(self, tables: dict[str, BusTables],
                 every_seconds: float = PRUNE_EVERY_SECONDS) -> None:
        self._tables = tables
        self._every = every_seconds
        self._handle: Supervised | None = None

    def start(self, supervisor: Supervisor) -> None:
        self._handle = supervisor.start("bus-retention", self._run)

    async def stop(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            await handle.stop()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            for module, tables in self._tables.items():
                try:
                    pruned = await prune(tables)
                except Exception:  # next hour will do; never take the process down
                    log.exception("module=%s bus tables not pruned", module)
                    continue
                if pruned != Pruned(0, 0, 0):
                    log.info("module=%s pruned %s", module, pruned)
