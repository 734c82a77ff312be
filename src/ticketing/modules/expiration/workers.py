"""The expiration module's running parts: the Taskiq broker, its scheduler and workers,
and the heartbeat that tells ``ticketing bus status`` (another process) what they do.

Each runs under the process's supervisor, started after the databases open and stopped
before they close (``ModuleParts.on_start`` / ``on_stop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from taskiq import AsyncBroker, InMemoryBroker, TaskiqScheduler
from taskiq.api import run_scheduler_task
from taskiq.receiver import Receiver

from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.clock import Clock
from ticketing.modules.expiration.models import WorkerHeartbeat
from ticketing.modules.expiration.schedule import EXPIRE_TASK, PendingExpirationSource

log = logging.getLogger("ticketing.expiration")

STOP_GRACE_SECONDS = 3.0
HEARTBEAT_SECONDS = 5.0
HEARTBEATS_KEPT = timedelta(hours=1)

ExpireOrder = Callable[[str, str], Awaitable[None]]


class ExpirationWorkers:
    """Fires ``expire_order`` through ``broker`` when the pending deadlines fall due."""

    def __init__(self, broker: AsyncBroker, supervisor: Supervisor, clock: Clock,
                 expire: ExpireOrder) -> None:
        self._broker = broker
        self._supervisor = supervisor
        self._clock = clock

        async def expire_order(order_id: str, expires_at: str) -> None:
            await expire(order_id, expires_at)

        self._broker.register_task(expire_order, task_name=EXPIRE_TASK)
        self._source = PendingExpirationSource(clock)
        self._starting: Supervised | None = None
        self._scheduler: Supervised | None = None
        self._worker: Supervised | None = None
        self._heartbeat: Supervised | None = None
        self._finish = asyncio.Event()  # tells the Taskiq receiver to stop
        self._quiet = asyncio.Event()  # tells the heartbeat to stop

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
