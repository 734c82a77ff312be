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
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from taskiq import AsyncBroker, InMemoryBroker, TaskiqScheduler
from taskiq.api import run_scheduler_task
from taskiq.receiver import Receiver

from ticketing.bus.consumer import Subscriptions
from ticketing.bus.contracts import ExpirationComplete, OrderCancelled, OrderCompleted, OrderCreated
from ticketing.bus.outbox import Outbox, UnitOfWork
from ticketing.modules.expiration.models import PendingExpiration
from ticketing.modules.expiration.schedule import EXPIRE_TASK, PendingExpirationSource
from ticketing.settings import Settings

__all__ = ["ExpirationService"]

log = logging.getLogger("ticketing.expiration")

# Schedules fire on the whole second before a deadline; the task waits out the rest.
MAX_EARLY_SECONDS = 2.0
STOP_GRACE_SECONDS = 3.0


def build_broker(settings: Settings) -> AsyncBroker:
    if settings.bus == "nats":
        from nats.js.api import ConsumerConfig, StorageType, StreamConfig
        from taskiq_nats import PullBasedJetStreamBroker

        return PullBasedJetStreamBroker(
            servers=[s.strip() for s in settings.nats_url.split(",")],
            subject="ticketing.tasks.expiration",
            stream_name="TICKETING_EXPIRATION_TASKS",
            durable="expiration-workers",
            stream_config=StreamConfig(storage=StorageType.FILE),
            consumer_config=ConsumerConfig(durable_name="expiration-workers", ack_wait=30,
                                           max_deliver=5),
            pull_consume_batch=64,
            pull_consume_timeout=1.0,
            max_reconnect_attempts=-1,
        )
    return InMemoryBroker()


class ExpirationService:
    def __init__(self, outbox: Outbox, settings: Settings) -> None:
        self._outbox = outbox
        self._broker = build_broker(settings)

        async def expire_order(order_id: str, expires_at: str) -> None:
            await self.expire_order(order_id, expires_at)

        self._broker.register_task(expire_order, task_name=EXPIRE_TASK)
        self._source = PendingExpirationSource()
        self._tasks: list[asyncio.Task[None]] = []
        self._finish = asyncio.Event()  # tells the Taskiq receiver to stop

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
        wait = (datetime.fromisoformat(expires_at) - datetime.now(UTC)).total_seconds()
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

    async def start(self) -> None:
        """Start the broker, scheduler and workers; a broker that is down is retried.

        Split, the broker is NATS: the process still starts (and says not-ready through
        the bus) while NATS is away, and expiration begins once it connects; the
        deadlines wait durably in the table meanwhile.
        """
        self._finish.clear()
        self._tasks.append(asyncio.create_task(self._run(), name="expiration"))

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._broker.startup()
                break
            except Exception as error:  # NATS not reachable yet
                failures += 1
                log.warning("expiration broker not started (attempt %d): %r", failures, error)
                await asyncio.sleep(min(5.0, 0.25 * 2 ** failures))
        scheduler = TaskiqScheduler(self._broker, [self._source])
        self._tasks.append(asyncio.create_task(
            run_scheduler_task(scheduler, interval=timedelta(seconds=1)),
            name="expiration-scheduler"))
        if isinstance(self._broker, InMemoryBroker):
            return
        # The workers run a Taskiq Receiver directly, so that stop() can end it through
        # its finish event: cancelling it mid-fetch can leave it spinning on a closed
        # connection (taskiq's run_receiver_task restarts a receiver that fails).
        self._broker.is_worker_process = True
        with ThreadPoolExecutor(max_workers=1) as executor:
            receiver = Receiver(broker=self._broker, executor=executor, run_startup=False)
            await receiver.listen(self._finish)

    async def stop(self) -> None:
        """End the workers through their finish event, the scheduler by cancelling it."""
        self._finish.set()
        for task in self._tasks[1:]:  # the scheduler: plain asyncio, safe to cancel
            task.cancel()
        stuck: set[asyncio.Task[None]] = set()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
            for task in stuck:
                task.cancel()
            if stuck:
                _, stuck = await asyncio.wait(stuck, timeout=STOP_GRACE_SECONDS)
        self._tasks.clear()
        with contextlib.suppress(Exception):  # the database or NATS may be gone already
            await self._source.release()
        if stuck:  # closing the broker under a live receiver would make it spin
            log.warning("expiration workers did not stop; leaving the broker open")
            return
        with contextlib.suppress(Exception):
            await self._broker.shutdown()
