"""NATS JetStream transport: one file-backed stream, one durable pull consumer per module.

Publishing sets ``Nats-Msg-Id`` to the event id, so a relay's re-send inside the
stream's duplicate window is dropped by the server. A module's replicas share its
durable consumer (the original system's queue groups). Messages are acked explicitly
after the handler's transaction commits; a failure is nak'ed with a growing delay, and
on its last allowed delivery the event is dead-lettered and terminated. The stream and
consumers are created or updated idempotently at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from ticketing.bus.consumer import MAX_ATTEMPTS, Consumer, retry_delay
from ticketing.bus.contracts import Envelope, UnknownEvent, subject_of
from ticketing.bus.transport import TransportUnavailable

log = logging.getLogger("ticketing.bus.nats")


@dataclass(frozen=True)
class JetStreamLayout:
    """Names and limits of the stream and its consumers."""

    stream: str = "TICKETING_EVENTS"
    subject_prefix: str = "ticketing.events"
    duplicate_window_seconds: float = 120.0
    ack_wait_seconds: float = 30.0
    max_deliver: int = MAX_ATTEMPTS
    fetch_batch: int = 64
    publish_timeout_seconds: float = 2.0


class NatsTransport:
    def __init__(self, servers: str, layout: JetStreamLayout | None = None,
                 first_retry_delay: float = 0.2) -> None:
        self._servers = [s.strip() for s in servers.split(",")]
        self.layout = layout or JetStreamLayout()
        self._first_retry_delay = first_retry_delay
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._consumers: Sequence[Consumer] = ()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, consumers: Sequence[Consumer]) -> None:
        self._client = await nats.connect(
            servers=self._servers, max_reconnect_attempts=-1, reconnect_time_wait=0.25,
            allow_reconnect=True, connect_timeout=2, name="ticketing",
            error_cb=self._on_error, disconnected_cb=self._on_disconnect,
            reconnected_cb=self._on_reconnect,
        )
        self._js = self._client.jetstream()
        await self._ensure_stream()
        self._consumers = [c for c in consumers if c.event_types]
        for consumer in self._consumers:
            await self._ensure_consumer(consumer)
            self._tasks.append(asyncio.create_task(self._pull(consumer),
                                                   name=f"nats-pull-{consumer.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._client is not None:
            with contextlib.suppress(NatsError, OSError):
                await self._client.drain()
            self._client = None

    async def publish(self, envelope: Envelope, body: str) -> None:
        js = self._jetstream()
        try:
            await js.publish(
                subject_of(envelope.type, self.layout.subject_prefix), body.encode(),
                timeout=self.layout.publish_timeout_seconds,
                headers={"Nats-Msg-Id": envelope.id},
            )
        except (NatsError, TimeoutError, OSError) as error:
            raise TransportUnavailable(f"JetStream publish failed: {error!r}") from error

    async def consumer_lag(self) -> dict[str, int] | None:
        js = self._jetstream()
        lag: dict[str, int] = {}
        for consumer in self._consumers:
            info = await js.consumer_info(self.layout.stream, consumer.name, timeout=2)
            lag[consumer.name] = (info.num_pending or 0) + (info.num_ack_pending or 0)
        return lag

    async def ping(self) -> None:
        if self._client is None or not self._client.is_connected:
            raise TransportUnavailable("not connected to NATS")

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise TransportUnavailable("NATS transport not started")
        return self._js

    async def _ensure_stream(self) -> None:
        js = self._jetstream()
        config = StreamConfig(
            name=self.layout.stream,
            subjects=[f"{self.layout.subject_prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=self.layout.duplicate_window_seconds,
        )
        try:
            await js.stream_info(self.layout.stream)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)

    async def _ensure_consumer(self, consumer: Consumer) -> None:
        # add_consumer on an existing durable with a changed config updates it in place.
        await self._jetstream().add_consumer(self.layout.stream, ConsumerConfig(
            durable_name=consumer.name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.layout.ack_wait_seconds,
            max_deliver=self.layout.max_deliver,
            filter_subjects=[subject_of(t, self.layout.subject_prefix)
                             for t in consumer.event_types],
            max_ack_pending=1000,
        ))

    async def _pull(self, consumer: Consumer) -> None:
        js = self._jetstream()
        subscription = None
        failures = 0
        while True:
            try:
                if subscription is None:
                    subscription = await js.pull_subscribe_bind(
                        durable=consumer.name, stream=self.layout.stream)
                messages = await subscription.fetch(self.layout.fetch_batch, timeout=1.0)
                failures = 0
            except TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # disconnected, consumer missing, ...
                failures += 1
                log.warning("consumer=%s cannot fetch (attempt %d): %r",
                            consumer.name, failures, error)
                await asyncio.sleep(retry_delay(failures, first=0.1, cap=2.0))
                continue
            for message in messages:
                try:
                    await self._process(consumer, message)
                except asyncio.CancelledError:
                    raise
                except Exception:  # e.g. the dead-letter table is unreachable
                    log.exception("consumer=%s left a message for redelivery", consumer.name)

    async def _process(self, consumer: Consumer, message: Msg) -> None:
        try:
            envelope = Envelope.from_json(message.data)
        except UnknownEvent as error:
            log.error("consumer=%s unreadable message on %s terminated: %s",
                      consumer.name, message.subject, error)
            await _quietly(message.term())
            return
        attempt = message.metadata.num_delivered
        try:
            await consumer.handle(envelope)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            consumer.log_failure(envelope, error, attempt)
            if attempt >= self.layout.max_deliver:
                await consumer.dead_letter(envelope, error, attempt)
                await _quietly(message.term())
            else:
                delay = retry_delay(attempt, first=self._first_retry_delay)
                await _quietly(message.nak(delay=delay))
            return
        # If the ack is lost the event comes back and the processed row absorbs it.
        await _quietly(message.ack())

    async def _on_error(self, error: Exception) -> None:
        log.debug("nats error: %r", error)

    async def _on_disconnect(self) -> None:
        log.warning("disconnected from NATS; reconnecting")

    async def _on_reconnect(self) -> None:
        log.info("reconnected to NATS")


async def _quietly(acknowledgement: object) -> None:
    """Send an ack/nak/term; a lost one only means a redelivery, which is harmless."""
    with contextlib.suppress(NatsError, OSError, TimeoutError):
        await acknowledgement  # type: ignore[misc]
