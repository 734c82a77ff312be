"""The Taskiq broker that carries expiration tasks: in memory, or a JetStream work stream.

The JetStream broker is taskiq-nats' pull-based one with two corrections:

- under CPU load nats-py's ``fetch`` can raise a plain ``asyncio.TimeoutError`` instead of
  its own subclass; taskiq-nats' ``listen`` catches only the latter, so its receiver
  ended and expiries stopped. An empty fetch of either kind means "no task yet" here;
- the stream is bounded (tasks older than ``TASK_MAX_AGE_SECONDS`` or beyond
  ``TASK_MAX_MESSAGES`` are dropped: a deadline still pending by then is swept again from
  the table under a fresh schedule id) and an existing stream gets those limits too
  (taskiq-nats keeps an existing stream's old configuration).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from nats.js.api import ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError
from taskiq import AckableMessage, AsyncBroker, InMemoryBroker
from taskiq_nats import PullBasedJetStreamBroker

from ticketing.settings import Settings

TASK_STREAM = "TICKETING_EXPIRATION_TASKS"
TASK_SUBJECT = "ticketing.tasks.expiration"
WORKERS = "expiration-workers"
TASK_MAX_AGE_SECONDS = 600
TASK_MAX_MESSAGES = 1_000_000
STATUS_TIMEOUT_SECONDS = 5.0


class ExpirationTaskBroker(PullBasedJetStreamBroker):
    """taskiq-nats' pull broker, patient with empty fetches and bounded (module docstring)."""

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        while True:
            try:
                messages = await self.consumer.fetch(batch=self.pull_consume_batch,
                                                     timeout=self.pull_consume_timeout)
            except TimeoutError:  # nats' own TimeoutError subclasses the builtin one
                continue
            for message in messages:
                yield AckableMessage(data=message.data, ack=message.ack)

    async def _add_or_reuse_stream(self) -> None:
        try:
            await self.js.stream_info(self.stream_config.name or TASK_STREAM)
        except NotFoundError:
            await self.js.add_stream(config=self.stream_config)
        else:
            await self.js.update_stream(config=self.stream_config)

    async def task_backlog(self) -> int:
        """Tasks waiting for a worker or for their acknowledgement.

        From another process (``bus status``) the broker is not started: it connects
        for the question and closes again.
        """
        if self.client.is_connected:
            return await self._backlog()
        await asyncio.wait_for(self.client.connect(
            self.servers, connect_timeout=2, allow_reconnect=False), STATUS_TIMEOUT_SECONDS)
        try:
            self.js = self.client.jetstream()
            return await self._backlog()
        finally:
            await self.client.close()

    async def _backlog(self) -> int:
        info = await self.js.consumer_info(TASK_STREAM, WORKERS, timeout=2)
        return (info.num_pending or 0) + (info.num_ack_pending or 0)


def build_broker(settings: Settings) -> AsyncBroker:
    """In memory in one process; the JetStream work stream when the bus is NATS."""
    if settings.bus != "nats":
        return InMemoryBroker()
    return ExpirationTaskBroker(
        servers=[s.strip() for s in settings.nats_url.split(",")],
        subject=TASK_SUBJECT,
        stream_name=TASK_STREAM,
        durable=WORKERS,
        stream_config=StreamConfig(
            name=TASK_STREAM, subjects=[TASK_SUBJECT], storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS, max_age=TASK_MAX_AGE_SECONDS,
            max_msgs=TASK_MAX_MESSAGES, discard=DiscardPolicy.OLD,
            num_replicas=settings.nats_replicas),
        consumer_config=ConsumerConfig(durable_name=WORKERS, ack_wait=30, max_deliver=5),
        pull_consume_batch=64,
        pull_consume_timeout=1.0,
        max_reconnect_attempts=-1,
    )
