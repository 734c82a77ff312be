"""NATS JetStream transport: one file-backed stream, one durable pull consumer per module.

Publishing sets ``Nats-Msg-Id`` to the event id, so a relay's re-send inside the
stream's duplicate window is dropped by the server. A module's replicas share its
durable consumer (the original system's queue groups). Messages are acked explicitly
after the handler's transaction commits; a failure is nak'ed with a growing delay, and
on its last allowed delivery the event is dead-lettered and terminated. The stream and
consumers are created or updated idempotently at start-up.

While the server is unreachable, :meth:`NatsTransport.publish` fails at once instead of
letting the client buffer the message and wait for an acknowledgement that cannot
come; the relay backs off and the client reconnects in the background.

:meth:`NatsTransport.watch` adds one plain core-NATS subscription to every event subject:
JetStream stores a published message and core subscribers receive it too, so each
process hears every event once, its own included. It is not durable (what is published
while this process is disconnected is missed) and serves live views only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    PubAck,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from ticketing.bus.consumer import (
    MAX_ATTEMPTS,
    MAX_WAITS,
    Consumer,
    Delivery,
    Outcome,
    peek_identity,
    retry_delay,
)
from ticketing.bus.contracts import subject_of
from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.bus.transport import Outgoing, TransportUnavailable
from ticketing.telemetry.tracing import TRACEPARENT

log = logging.getLogger("ticketing.bus.nats")

# Deliveries the server still makes after the last attempt, only so that a dead letter
# that could not be written (database down) is tried again rather than dropped.
DEAD_LETTER_GRACE = 3
BACKOFF_CAP = 2.0


@dataclass(frozen=True)
class JetStreamLayout:
    """Names and limits of the stream and its consumers."""

    stream: str = "TICKETING_EVENTS"
    subject_prefix: str = "ticketing.events"
    duplicate_window_seconds: float = 120.0
    ack_wait_seconds: float = 30.0
    max_deliver: int = MAX_ATTEMPTS
    max_waits: int = MAX_WAITS  # deliveries of an event waiting for its predecessor
    fetch_batch: int = 64
    fetch_timeout_seconds: float = 1.0
    publish_timeout_seconds: float = 2.0
    max_ack_pending: int = 1000
    # The stream is a transport, not an archive: without a limit its file store grows
    # forever. A consumer that stays away longer than this misses what expired (every
    # event stays in its source module's outbox table).
    max_age_seconds: float = 7 * 24 * 3600.0
    # Copies of the stream in a JetStream cluster (TICKETING_NATS_REPLICAS); its
    # consumers inherit it.
    replicas: int = 1


class NatsTransport:
    """Carries events through JetStream; see the module docstring."""

    def __init__(self, servers: str, layout: JetStreamLayout | None = None,
                 first_retry_delay: float = 0.2, *, reconnect_wait: float = 0.25,
                 supervisor: Supervisor | None = None) -> None:
        self._servers = [s.strip() for s in servers.split(",")]
        self._supervisor = supervisor or Supervisor()
        self.layout = layout or JetStreamLayout()
        self._first_retry_delay = first_retry_delay
        self._reconnect_wait = reconnect_wait
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._tasks: list[Supervised] = []
        self._busy: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._listeners: list[Callable[[str | bytes], None]] = []
        self._watching = False

    async def connect(self) -> None:
        """Connect (failing within seconds if no server answers) and declare the stream."""
        if self._client is not None:
            return
        try:
            # One pass over the servers: with -1 the client would retry forever right
            # here. Once connected it reconnects without limit (see below).
            client = await nats.connect(
                servers=self._servers, max_reconnect_attempts=1,
                reconnect_time_wait=self._reconnect_wait, allow_reconnect=True,
                connect_timeout=2, name="ticketing", error_cb=self._on_error,
                disconnected_cb=self._on_disconnect, reconnected_cb=self._on_reconnect,
            )
        except (NatsError, OSError) as error:
            raise TransportUnavailable(f"cannot connect to NATS: {error!r}") from error
        client.options["max_reconnect_attempts"] = -1  # nats-py reads it on each reconnect
        js = client.jetstream(timeout=self.layout.publish_timeout_seconds)
        try:
            await self._ensure_stream(js)
        except (NatsError, OSError) as error:
            with contextlib.suppress(NatsError, OSError):
                await client.close()
            raise TransportUnavailable(f"cannot declare the stream: {error!r}") from error
        self._client, self._js = client, js
        self._start_watching()

    async def start(self, consumers: Sequence[Consumer]) -> None:
        """Connect and consume; if NATS is down, keep trying in the background.

        The process starts either way: requests are served, events wait in the outboxes,
        ``/readyz`` says the bus is unreachable until the connection is made.
        """
        self._stopping = False
        wanted = [c for c in consumers if c.event_types]
        try:
            await self.connect()
            for consumer in wanted:
                await self._ensure_consumer(consumer)
        except (TransportUnavailable, NatsError, OSError) as error:
            log.warning("NATS unreachable at start-up, retrying in the background: %r", error)
            self._tasks.append(self._supervisor.start(
                "nats-connect", lambda: self._start_later(wanted), until_done=True))
            return
        self._consume(wanted, declared=True)

    async def _start_later(self, consumers: Sequence[Consumer]) -> None:
        failures = 0
        while not self._stopping:
            try:
                await self.connect()
                break
            except TransportUnavailable:
                failures += 1
                await asyncio.sleep(retry_delay(failures, first=0.25, cap=BACKOFF_CAP))
        if not self._stopping:
            log.info("connected to NATS")
            self._consume(consumers, declared=False)

    def _consume(self, consumers: Sequence[Consumer], *, declared: bool) -> None:
        for consumer in consumers:
            self._tasks.append(self._supervisor.start(
                f"nats-pull-{consumer.name}", partial(self._pull, consumer, declared)))

    async def stop(self, grace: float = 5.0) -> None:
        """Let each consumer finish the messages in hand, then close the connection.

        A consumer waiting for messages is cancelled at once; one inside a handler is
        given ``grace`` seconds (a cancelled query can wedge a SQLite connection).
        """
        self._stopping = True
        handles, self._tasks = self._tasks, []
        # A busy consumer ends by itself after its batch (it sees _stopping); the rest
        # are cancelled at once.
        await asyncio.gather(*(
            handle.stop(ask=_finishes_by_itself if handle.task in self._busy else None,
                        grace=grace)
            for handle in handles))
        self._busy.clear()
        self._watching = False  # closing the client ends the subscription
        client, self._client, self._js = self._client, None, None
        if client is None:
            return
        # Not drain(): nats-py's drain of a pull subscription waits on a queue that is
        # never marked done, and it refuses a reconnecting client. A flush sends the last
        # acks; close() also ends the background reconnect loop.
        if client.is_connected:
            with contextlib.suppress(NatsError, OSError, TimeoutError):
                await client.flush(timeout=1)
        with contextlib.suppress(NatsError, OSError, TimeoutError):
            await client.close()

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Pipeline the batch and wait for every acknowledgement (or the first failure)."""
        js = self._jetstream()
        if self._client is None or not self._client.is_connected:
            raise TransportUnavailable("not connected to NATS")
        pending: list[asyncio.Future[PubAck]] = []
        failure: BaseException | None = None
        for message in messages:
            try:
                pending.append(await js.publish_async(
                    subject_of(message.event_type, self.layout.subject_prefix),
                    message.body.encode(),
                    # No stall timeout: it costs a task per message, and a batch (at most
                    # a few hundred) never fills the client's 4,000 in-flight slots.
                    wait_stall=None,
                    headers=_headers(message),
                ))
            except (NatsError, OSError) as error:
                failure = error
                break
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.layout.publish_timeout_seconds)
            for future in late:
                future.cancel()  # frees the client's slot; a late ack is harmless
        taken = 0
        for future in pending:
            if future.cancelled():
                failure = failure or TimeoutError("no acknowledgement from JetStream")
                break
            if (refused := future.exception()) is not None:
                failure = refused
                break
            taken += 1
        if failure is not None or taken < len(messages):
            raise TransportUnavailable(f"JetStream publish failed: {failure!r}", sent=taken)

    async def consumer_lag(self, consumers: Sequence[str]) -> dict[str, int] | None:
        js = self._jetstream()
        lag: dict[str, int] = {}
        for name in consumers:
            try:
                info = await js.consumer_info(self.layout.stream, name, timeout=2)
            except NotFoundError:
                continue  # never started anywhere: JetStream counts nothing for it yet
            except (NatsError, OSError) as error:
                raise TransportUnavailable(f"cannot read consumer {name}: {error!r}") from error
            lag[name] = (info.num_pending or 0) + (info.num_ack_pending or 0)
        return lag

    async def ping(self) -> None:
        """A round trip to the JetStream API, so a server without JetStream is not ready."""
        js = self._jetstream()
        if self._client is None or not self._client.is_connected:
            raise TransportUnavailable("not connected to NATS")
        try:
            await js.account_info()
        except (NatsError, OSError) as error:
            raise TransportUnavailable(f"JetStream unavailable: {error!r}") from error

    async def history(self, event_types: Sequence[str]) -> list[str | bytes]:
        """The stream's events of these types (it keeps them for ``max_age``), read with a
        short-lived consumer that acknowledges nothing."""
        js = self._jetstream()
        bodies: list[str | bytes] = []
        for event_type in event_types:
            try:
                reader = await js.pull_subscribe(
                    subject_of(event_type, self.layout.subject_prefix),
                    stream=self.layout.stream,
                    config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL,
                                          ack_policy=AckPolicy.NONE, inactive_threshold=60))
            except (NatsError, OSError) as error:
                raise TransportUnavailable(f"cannot read the history: {error!r}") from error
            try:
                while (pending := (await reader.consumer_info()).num_pending or 0) > 0:
                    bodies += [m.data for m in await reader.fetch(min(pending, 500), timeout=5)]
            except (NatsError, OSError, TimeoutError) as error:
                raise TransportUnavailable(f"cannot read the history: {error!r}") from error
            finally:
                with contextlib.suppress(NatsError, OSError):
                    await reader.unsubscribe()
        return bodies

    def watch(self, listener: Callable[[str | bytes], None]) -> bool:
        """Hand ``listener`` every event's body, from any process (see the module docstring).

        Subscribes once connected (at once if already). A listener that raises is logged.
        """
        self._listeners.append(listener)
        self._start_watching()
        return True

    def _start_watching(self) -> None:
        if self._client is not None and self._listeners and not self._watching:
            self._watching = True
            self._tasks.append(self._supervisor.start("nats-watch", self._watch_events))

    async def _watch_events(self) -> None:
        """Hold the subscription while the transport runs; a failed subscribe is retried.

        nats-py subscribes again by itself after a reconnect.
        """
        client = self._client
        if client is None:
            raise TransportUnavailable("not connected to NATS")
        subscription = await client.subscribe(f"{self.layout.subject_prefix}.>",
                                              cb=self._heard)
        try:
            await asyncio.Event().wait()  # until stop() cancels it
        finally:
            with contextlib.suppress(NatsError, OSError):
                await subscription.unsubscribe()

    async def _heard(self, message: Msg) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(message.data)
            except Exception:
                log.exception("event watcher failed on %s", message.subject)

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise TransportUnavailable("NATS transport not started")
        return self._js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = StreamConfig(
            name=self.layout.stream,
            subjects=[f"{self.layout.subject_prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=self.layout.duplicate_window_seconds,
            max_age=self.layout.max_age_seconds,
            num_replicas=self.layout.replicas,
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
            max_deliver=max(self.layout.max_deliver, self.layout.max_waits) + DEAD_LETTER_GRACE,
            filter_subjects=[subject_of(t, self.layout.subject_prefix)
                             for t in consumer.event_types],
            max_ack_pending=self.layout.max_ack_pending,
        ))

    async def _pull(self, consumer: Consumer, declared: bool) -> None:
        js = self._jetstream()
        subscription: JetStreamContext.PullSubscription | None = None
        failures = 0
        task = asyncio.current_task()
        assert task is not None
        while not self._stopping:
            try:
                if subscription is None:
                    if not declared:  # first run after a late connect, or after an error
                        await self._ensure_consumer(consumer)
                    subscription = await js.pull_subscribe_bind(
                        durable=consumer.name, stream=self.layout.stream)
                messages = await subscription.fetch(
                    self.layout.fetch_batch, timeout=self.layout.fetch_timeout_seconds)
                failures = 0
            except TimeoutError:
                continue  # nothing to do (or a dropped connection: the next fetch tells)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # consumer deleted, server lost its store, ...
                failures += 1
                log.warning("consumer=%s cannot fetch (attempt %d): %r",
                            consumer.name, failures, error)
                if subscription is not None:
                    with contextlib.suppress(Exception):
                        await subscription.unsubscribe()
                subscription, declared = None, False
                await asyncio.sleep(retry_delay(failures, first=0.1, cap=BACKOFF_CAP))
                continue
            # Marked busy with no await since the fetch returned: stop() cancels only a
            # task that is waiting on NATS, never one inside a handler's transaction.
            self._busy.add(task)
            try:
                if not await self._process_together(consumer, messages):
                    for message in messages:
                        await self._process(consumer, message)
            except Exception:
                # The supervisor restarts this consumer; what it held comes back now
                # instead of after the ack wait (a nak of an acked message is ignored).
                for message in messages:
                    await _quietly(message.nak())
                raise
            finally:
                self._busy.discard(task)

    async def _process_together(self, consumer: Consumer, messages: Sequence[Msg]) -> bool:
        """Apply a batch of first deliveries in one transaction and ack them all.

        False (nothing applied) for a single message, a redelivery among them, or any
        failure: then each message goes through :meth:`_process` on its own.
        """
        if len(messages) < 2 or any((m.metadata.num_delivered or 1) > 1 for m in messages):
            return False
        outcomes = await consumer.deliver_together([self._delivery(m) for m in messages])
        if outcomes is None:
            return False
        for message in messages:
            await _quietly(message.ack())
        return True

    def _delivery(self, message: Msg) -> Delivery:
        """The event's id from ``Nats-Msg-Id`` and its type from the subject (the inverse
        of :func:`subject_of`); the body is read for them only if the header is missing."""
        event_id = (message.headers or {}).get("Nats-Msg-Id")
        event_type = message.subject.removeprefix(
            self.layout.subject_prefix + ".").replace(".", ":", 1)
        if not event_id:
            body_id, body_type = peek_identity(message.data)
            event_id, event_type = body_id or "", body_type or event_type
        return Delivery(event_id, event_type, message.data)

    async def _process(self, consumer: Consumer, message: Msg) -> None:
        delivery = self._delivery(message)
        attempt = message.metadata.num_delivered or 1
        try:
            outcome = await consumer.deliver(delivery, attempt, self.layout.max_deliver,
                                             self.layout.max_waits)
        except asyncio.CancelledError:
            raise
        except Exception:  # the dead letter could not be written: try again later
            log.exception("consumer=%s event_id=%s left for redelivery",
                          consumer.name, delivery.event_id)
            outcome = Outcome.RETRY
        if outcome is Outcome.RETRY:
            delay = retry_delay(attempt, first=self._first_retry_delay)
            await _quietly(message.nak(delay=delay))
        elif outcome is Outcome.DEAD_LETTERED:
            await _quietly(message.term())
        else:
            # If the ack is lost the event comes back and the processed row absorbs it.
            await _quietly(message.ack())

    async def _on_error(self, error: Exception) -> None:
        log.debug("nats error: %r", error)

    async def _on_disconnect(self) -> None:
        log.warning("disconnected from NATS; reconnecting")

    async def _on_reconnect(self) -> None:
        log.info("reconnected to NATS")


def _headers(message: Outgoing) -> dict[str, str]:
    """The id JetStream deduplicates on, and the W3C trace context beside the body."""
    headers = {"Nats-Msg-Id": message.event_id}
    if message.traceparent is not None:
        headers[TRACEPARENT] = message.traceparent
    return headers


def _finishes_by_itself() -> None:
    """A busy consumer needs no nudge to stop: it checks ``_stopping`` after its batch."""


async def _quietly(acknowledgement: object) -> None:
    """Send an ack/nak/term; a lost one only means a redelivery, which is harmless."""
    with contextlib.suppress(NatsError, OSError, TimeoutError):
        await acknowledgement  # type: ignore[misc]
