"""The expiration module: durable deadlines for open orders, fired through Taskiq.

On ``order:created`` the deadline is stored; Taskiq's scheduler (fed by
:class:`~.schedule.PendingExpirationSource`) kicks ``expire_order`` when it is due; the
task deletes the pending row and, only if it did, writes ``expiration:complete`` to the
outbox in the same transaction — so running twice publishes once. A cancelled or paid
order deletes its row, so closed orders cost no timer work.

One process uses Taskiq's in-memory broker; split deployments (``TICKETING_BUS=nats``)
use the taskiq-nats JetStream broker, with scheduler and workers in this module's pods.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker, TaskiqScheduler
from taskiq.api import run_scheduler_task
from taskiq.receiver import Receiver

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import ExpirationComplete, OrderCancelled, OrderCompleted, OrderCreated
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.clock import Clock, utc_now
from ticketing.modules.expiration.broker import ExpirationTaskBroker
from ticketing.modules.expiration.models import PendingExpiration, WorkerHeartbeat
from ticketing.modules.expiration.schedule import EXPIRE_TASK, PendingExpirationSource

__all__ = ["ExpirationService"]

log = logging.getLogger("ticketing.expiration")

# Schedules fire on the whole second before a deadline; the task waits out the rest.
MAX_EARLY_SECONDS = 2.0
STOP_GRACE_SECONDS = 3.0
HEARTBEAT_SECONDS = 5.0
HEARTBEATS_KEPT = timedelta(hours=1)


class ExpirationService:
    def __init__(self, outbox: Outbox, broker: AsyncBroker, supervisor: Supervisor,
                 clock: Clock = utc_now) -> None:
        self._outbox = outbox
        self._supervisor = supervisor
        self._broker = broker
        self._clock = clock

        async def expire_order(order_id: str, expires_at: str) -> None:
            await self.expire_order(order_id, expires_at)

        self._broker.register_task(expire_order, task_name=EXPIRE_TASK)
        self._source = PendingExpirationSource(clock)
        self._starting: Supervised | None = None
        self._scheduler: Supervised | None = None
        self._worker: Supervised | None = None
        self._heartbeat: Supervised | None = None
        self._finish = asyncio.Event()  # tells the Taskiq receiver to stop
        self._quiet = asyncio.Event()  # tells the heartbeat to stop

    @property
    def subscriptions(self) -> Subscriptions:
        return {
            OrderCreated: self.on_order_created,
            OrderCancelled: self.on_order_closed,
            OrderCompleted: self.on_order_closed,
        }

    async def on_order_created(self, event: OrderCreated, unit: UnitOfWork) -> None:
        await PendingExpiration.get_or_create(
            order_id=event.id, defaults={"expires_at": event.expires_at},
            using_db=unit.connection,
        )

    async def on_order_closed(self, event: OrderCancelled | OrderCompleted,
                              unit: UnitOfWork) -> None:
        """The order ended first: drop its timer."""
        await PendingExpiration.filter(order_id=event.id).using_db(unit.connection).delete()

    async def expire_order(self, order_id: str, expires_at: str) -> None:
        """The Taskiq task: fire at the deadline, publish at most once."""
        wait = (datetime.fromisoformat(expires_at) - self._clock()).total_seconds()
        if wait > MAX_EARLY_SECONDS:
            return  # not due: never cancel early; the schedule comes round again
        if wait > 0:
            await asyncio.sleep(wait)
        async with self._outbox.transaction() as unit:
            fired = await PendingExpiration.filter(order_id=order_id) \
                .using_db(unit.connection).delete()
            if fired:
                await unit.publish(ExpirationComplete(order_id=order_id))

    async def pending_count(self) -> int:
        return await PendingExpiration.all().count()

    async def _beat(self) -> None:
        """Tell ``bus status`` (another process) what this process's tasks are doing.

        It stops between beats, never inside one: a query cancelled on SQLite can keep
        the connection's lock (Tortoise 1.1).
        """
        while not self._quiet.is_set():
            now = self._clock()
            tasks = json.dumps({name: health for name, health in self._supervisor.report()
                                .items() if name.startswith("expiration-")})
            holder = self._source.holder
            if not await WorkerHeartbeat.filter(holder=holder).update(tasks=tasks, seen_at=now):
                await WorkerHeartbeat.create(holder=holder, tasks=tasks, seen_at=now)
            await WorkerHeartbeat.filter(seen_at__lt=now - HEARTBEATS_KEPT).delete()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), HEARTBEAT_SECONDS)

    async def status(self) -> dict[str, Any]:
        """Pending deadlines, the task queue's backlog and every live worker's state."""
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

    async def start(self) -> None:
        """Start the broker, then the scheduler and workers, each under the supervisor.

        Split, the broker is NATS: the process still starts while NATS is away (the
        start-up step is retried with backoff) and expiration begins once it connects;
        the deadlines wait durably in the table meanwhile. A scheduler or worker that
        fails (a fetch that times out the wrong way, a lost connection) is restarted.
        """
        self._finish.clear()
        self._quiet.clear()
        self._starting = self._supervisor.start("expiration-broker", self._start_broker,
                                                until_done=True)
        self._heartbeat = self._supervisor.start("expiration-heartbeat", self._beat)

    async def _start_broker(self) -> None:
        await self._broker.startup()
        self._scheduler = self._supervisor.start("expiration-scheduler", self._schedule)
        if not isinstance(self._broker, InMemoryBroker):
            self._worker = self._supervisor.start("expiration-worker", self._work)

    async def _schedule(self) -> None:
        scheduler = TaskiqScheduler(self._broker, [self._source])
        await run_scheduler_task(scheduler, interval=timedelta(seconds=1))

    async def _work(self) -> None:
        # The workers run a Taskiq Receiver directly, so that stop() can end it through
        # its finish event: cancelling it mid-fetch can leave it spinning on a closed
        # connection.
        self._broker.is_worker_process = True
        with ThreadPoolExecutor(max_workers=1) as executor:
            receiver = Receiver(broker=self._broker, executor=executor, run_startup=False)
            await receiver.listen(self._finish)

    async def stop(self) -> None:
        """End the workers through their finish event, the rest by cancelling them."""
        stopped = True
        if self._worker is not None:
            stopped = await self._worker.stop(ask=self._finish.set, grace=STOP_GRACE_SECONDS)
        if self._heartbeat is not None:
            await self._heartbeat.stop(ask=self._quiet.set, grace=STOP_GRACE_SECONDS)
        for handle in (self._scheduler, self._starting):
            if handle is not None:
                await handle.stop(grace=STOP_GRACE_SECONDS)
        self._worker = self._scheduler = self._starting = self._heartbeat = None
        with contextlib.suppress(Exception):  # the database or NATS may be gone already
            await self._source.release()
            await WorkerHeartbeat.filter(holder=self._source.holder).delete()
        if not stopped:  # closing the broker under a live receiver would make it spin
            log.warning("expiration workers did not stop; leaving the broker open")
            return
        with contextlib.suppress(Exception):
            await self._broker.shutdown()
