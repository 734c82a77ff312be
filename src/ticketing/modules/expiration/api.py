"""The expiration module's public facade: durable deadlines for open orders.

On ``order:created`` the deadline is stored (``reactions.py``); Taskiq's scheduler (fed by
:class:`~.schedule.PendingExpirationSource`, run by ``workers.py``) kicks
:meth:`ExpirationService.expire_order` when it is due; the task deletes the pending row
and, only if it did, writes ``expiration:complete`` to the outbox in the same
transaction — so running twice publishes once. A cancelled or paid order deletes its
row, so closed orders cost no timer work.

One process uses Taskiq's in-memory broker; split deployments (``TICKETING_BUS=nats``)
use the taskiq-nats JetStream broker, with scheduler and workers in this module's pods.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from taskiq import AsyncBroker

from ticketing.bus.contracts import ExpirationComplete
from ticketing.bus.outbox import Outbox
from ticketing.clock import Clock, utc_now
from ticketing.modules.expiration.broker import ExpirationTaskBroker
from ticketing.modules.expiration.models import PendingExpiration, WorkerHeartbeat
from ticketing.telemetry import metrics

__all__ = ["Expiration", "ExpirationService"]

# Schedules fire on the whole second before a deadline; the task waits out the rest.
MAX_EARLY_SECONDS = 2.0


@runtime_checkable
class Expiration(Protocol):
    """What the task broker and ``ticketing bus status`` may ask of expiration."""

    async def expire_order(self, order_id: str, expires_at: str) -> None:
        """Fire one deadline: never early, and ``expiration:complete`` at most once."""

    async def status(self) -> dict[str, Any]:
        """Pending deadlines, the task queue's backlog and every live worker's state."""


class ExpirationService(Expiration):
    def __init__(self, outbox: Outbox, broker: AsyncBroker, clock: Clock = utc_now) -> None:
        self._outbox = outbox
        self._broker = broker
        self._clock = clock

    async def expire_order(self, order_id: str, expires_at: str) -> None:
        """The Taskiq task: a schedule more than a moment early is ignored (it comes round
        again); one a moment early waits out the rest."""
        wait = (datetime.fromisoformat(expires_at) - self._clock()).total_seconds()
        if wait > MAX_EARLY_SECONDS:
            return
        if wait > 0:
            await asyncio.sleep(wait)
        async with self._outbox.transaction() as unit:
            fired = await PendingExpiration.filter(order_id=order_id) \
                .using_db(unit.connection).delete()
            if fired:
                await unit.publish(ExpirationComplete(order_id=order_id))
                late = (self._clock() - datetime.fromisoformat(expires_at)).total_seconds()
                unit.after_commit(lambda: metrics.EXPIRY_LATENESS.observe(max(0.0, late)))

    async def status(self) -> dict[str, Any]:
        now = self._clock()
        oldest = await PendingExpiration.all().order_by("expires_at").first()
        report: dict[str, Any] = {
            "pending": await PendingExpiration.all().count(),
            "oldestDeadline": oldest.expires_at.astimezone(UTC).isoformat() if oldest else None,
            "overdueSeconds": max(0.0, round((now - oldest.expires_at).total_seconds(), 3))
            if oldest else None,
            "taskBacklog": None,
            "workers": [
                {"holder": beat.holder, "tasks": json.loads(beat.tasks),
                 "seenSecondsAgo": round((now - beat.seen_at).total_seconds(), 1)}
                for beat in await WorkerHeartbeat.all().order_by("holder")],
        }
        if isinstance(self._broker, ExpirationTaskBroker):
            try:
                report["taskBacklog"] = await self._broker.task_backlog()
            except Exception as error:  # a status report must not fail for lack of NATS
                report["taskBacklogError"] = repr(error)
        return report


async def sample_pending(clock: Clock = utc_now) -> None:
    """The pending deadlines and how overdue the oldest is, read from the table when the
    metrics are scraped: a scheduler that stopped shows as a growing overdue."""
    oldest = await PendingExpiration.all().order_by("expires_at").first()
    metrics.EXPIRATIONS_PENDING.set(await PendingExpiration.all().count())
    overdue = (clock() - oldest.expires_at).total_seconds() if oldest else 0.0
    metrics.EXPIRATION_OVERDUE.set(max(0.0, overdue))
