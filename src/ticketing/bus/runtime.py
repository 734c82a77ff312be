"""The bus of one process: outboxes, relays, consumers and the chosen transport."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ticketing.bus.consistency import AppliedEvents, record_caused
from ticketing.bus.consumer import Consumer, Subscriptions
from ticketing.bus.contracts import Envelope, UnknownEvent
from ticketing.bus.outbox import Outbox
from ticketing.bus.relay import Relay
from ticketing.bus.retention import Janitor
from ticketing.bus.sessions import RELOAD_SECONDS, SESSION_EVENT_TYPES, Revocations
from ticketing.bus.supervisor import Supervised, Supervisor
from ticketing.bus.tables import BusTables
from ticketing.bus.transport import InProcessTransport, Transport
from ticketing.settings import Settings
from ticketing.telemetry import metrics

log = logging.getLogger("ticketing.bus")

Watcher = Callable[[Envelope], None]
# A relay may send an event twice (a lost acknowledgement, two relays on one SQLite
# outbox): JetStream drops the copy, core subscribers still get it. Watchers hear it once
# if the copy comes within this many events.
WATCH_DEDUP_EVENTS = 4096
HISTORY_TIMEOUT_SECONDS = 5.0


def build_transport(settings: Settings, supervisor: Supervisor) -> Transport:
    """``TICKETING_BUS`` chooses: in-process delivery or NATS JetStream."""
    if settings.bus == "nats":
        from ticketing.bus.nats import JetStreamLayout, NatsTransport

        return NatsTransport(settings.nats_url, JetStreamLayout(replicas=settings.nats_replicas),
                             supervisor=supervisor)
    return InProcessTransport()


@dataclass
class ModuleBus:
    """One module's part of the bus."""

    name: str
    tables: BusTables
    outbox: Outbox
    consumer: Consumer | None = None


@dataclass
class Bus:
    """Every enabled module's outbox and subscriptions over one transport."""

    transport: Transport
    supervisor: Supervisor = field(default_factory=Supervisor)
    # Ended sessions, learned from the bus; None for a bus that serves no requests.
    revocations: Revocations | None = None
    modules: dict[str, ModuleBus] = field(default_factory=dict)
    relays: list[Relay] = field(default_factory=list)
    poll_interval: float = 1.0
    batch_size: int = 100
    watchers: list[Watcher] = field(default_factory=list)
    applied: AppliedEvents = field(default_factory=AppliedEvents)
    _janitor: Janitor | None = field(default=None, init=False, repr=False)
    _sessions: Supervised | None = field(default=None, init=False, repr=False)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    # None until the first watch(); then whether the transport hears every process.
    _broadcast: bool | None = field(default=None, init=False, repr=False)
    _heard_ids: OrderedDict[str, None] = field(default_factory=OrderedDict, init=False,
                                               repr=False)

    def add_module(self, name: str, tables: BusTables) -> Outbox:
        """Register a module's tables; returns the outbox its code publishes through."""
        outbox = Outbox(name, tables.outbox)
        outbox.on_commit(self._committed)
        self.modules[name] = ModuleBus(name, tables, outbox)
        return outbox

    def subscribe(self, name: str, subscriptions: Subscriptions) -> None:
        """Declare a registered module's table of subscriptions (event type -> handler)."""
        part = self.modules[name]
        part.consumer = Consumer(name, part.outbox, part.tables, subscriptions,
                                 on_applied=lambda event_id: self.applied.mark((name, event_id)))

    async def await_applied(self, module: str, event_type: str, event_id: str,
                            within: float) -> bool:
        """Until ``module`` has applied the event, if it consumes its type here (ADR 0016).

        At most ``within`` seconds; woken by the module's consumer, never by polling. True when
        there is nothing to wait for or it was applied.
        """
        part = self.modules.get(module)
        consumer = part.consumer if part is not None else None
        if part is None or consumer is None or not consumer.wants(event_type):
            return True
        processed = part.tables.processed

        async def applied_before() -> bool:
            return await processed.filter(consumer=consumer.name, event_id=event_id).exists()

        return await self.applied.wait((module, event_id), within, applied_before)

    def watch(self, callback: Watcher) -> Callable[[], None]:
        """Call ``callback`` with each committed event, for live views; returns an unwatch.

        Best effort and not durable, never a module's way to learn of an event (that is
        :meth:`subscribe`). ``callback`` runs on the event loop and must not block or
        await; what it raises is logged and swallowed. In-process it hears this
        process's commits, right after each one; over NATS it hears every event any
        process relays (its own commits included, once), a little after the commit.
        """
        if self._broadcast is None:
            self._broadcast = self.transport.watch(self._heard)
        self.watchers.append(callback)

        def unwatch() -> None:
            with contextlib.suppress(ValueError):
                self.watchers.remove(callback)

        return unwatch

    def _committed(self, published: Sequence[Envelope]) -> None:
        record_caused(published)
        if self.revocations is not None:  # this process's own sign-outs count at once
            for envelope in published:
                if envelope.type in SESSION_EVENT_TYPES:
                    self.revocations.hear(envelope)
        if self.watchers and not self._broadcast:
            for envelope in published:
                self._notify(envelope)

    def _heard(self, body: str | bytes) -> None:
        if not self.watchers:
            return
        try:
            envelope = Envelope.from_json(body)
        except UnknownEvent as error:
            log.debug("watchers skip an event this code cannot read: %s", error)
            return
        if envelope.id in self._heard_ids:
            return
        self._heard_ids[envelope.id] = None
        if len(self._heard_ids) > WATCH_DEDUP_EVENTS:
            self._heard_ids.popitem(last=False)
        self._notify(envelope)

    def _notify(self, envelope: Envelope) -> None:
        for callback in tuple(self.watchers):
            try:
                callback(envelope)
            except Exception:
                log.exception("watcher %r failed on event_id=%s", callback, envelope.id)

    @property
    def consumers(self) -> list[Consumer]:
        return [m.consumer for m in self.modules.values() if m.consumer is not None]

    async def start(self) -> None:
        """Start consuming, then one relay per module (the databases must be open)."""
        await self.transport.start(self.consumers)
        self.relays = [
            Relay(m.outbox, self.transport, batch_size=self.batch_size,
                  poll_interval=self.poll_interval)
            for m in self.modules.values()
        ]
        for relay in self.relays:
            relay.start(self.supervisor)
        self._janitor = Janitor({name: m.tables for name, m in self.modules.items()})
        self._janitor.start(self.supervisor)
        if self.revocations is not None:
            await self._learn_ended_sessions()

    async def _learn_ended_sessions(self) -> None:
        """Hear session events live, and read their history now (before the first request
        is served, when the transport answers) and every ``RELOAD_SECONDS`` after."""
        revocations = self.revocations
        assert revocations is not None
        self.watch(revocations.hear)
        self._stopping.clear()
        try:
            revocations.hear_all(await asyncio.wait_for(self.session_history(),
                                                        HISTORY_TIMEOUT_SECONDS))
        except Exception as error:  # the transport is away: the reload task retries
            log.warning("ended sessions not read at start-up, retrying: %r", error)

        async def reload() -> None:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RELOAD_SECONDS)
                if not self._stopping.is_set():
                    revocations.hear_all(await self.session_history())
                    revocations.forget_expired()

        self._sessions = self.supervisor.start("sessions-history", reload)

    async def session_history(self) -> list[str | bytes]:
        """Session events: auth's own outbox where auth runs here, and the transport's."""
        local: list[str | bytes] = []
        if "auth" in self.modules:
            rows = await self.modules["auth"].tables.outbox.filter(
                event_type__in=SESSION_EVENT_TYPES).order_by("id").values_list("body",
                                                                                flat=True)
            local = [str(body) for body in rows]
        return local + await self.transport.history(SESSION_EVENT_TYPES)

    async def stop(self) -> None:
        if self._sessions is not None:
            await self._sessions.stop(ask=self._stopping.set)
            self._sessions = None
        if self._janitor is not None:
            await self._janitor.stop()
            self._janitor = None
        for relay in self.relays:
            await relay.stop()
        self.relays = []
        await self.transport.stop()

    async def _outbox_figures(self, part: ModuleBus, now: datetime) -> dict[str, Any]:
        unsent = part.tables.outbox.filter(sent_at=None)
        oldest = await unsent.order_by("id").first()
        return {"backlog": await unsent.count(),
                "oldestUnsentSeconds": round((now - oldest.created_at).total_seconds(), 3)
                if oldest else None}

    async def sample(self) -> None:
        """Refresh the gauges a scrape reads from the database and the broker: each
        module's outbox backlog and oldest unsent row, its consumer's unreplayed dead
        letters, and (over NATS) consumer lag."""
        now = datetime.now(UTC)
        for name, part in self.modules.items():
            figures = await self._outbox_figures(part, now)
            metrics.OUTBOX_BACKLOG.labels(name).set(figures["backlog"])
            metrics.OUTBOX_OLDEST_AGE.labels(name).set(figures["oldestUnsentSeconds"] or 0)
            if part.consumer is not None:
                metrics.DEAD_LETTERS_WAITING.labels(name).set(
                    await part.tables.dead_letters.filter(consumer=name,
                                                          replayed_at=None).count())
        try:
            lag = await self.transport.consumer_lag([c.name for c in self.consumers])
        except Exception as error:  # a scrape must not fail for lack of the broker
            log.debug("consumer lag not sampled: %r", error)
            return
        for consumer, pending in (lag or {}).items():
            metrics.CONSUMER_LAG.labels(consumer).set(pending)

    async def replay(self, event_id: str) -> int:
        """Re-deliver every dead letter of ``event_id`` in this process's modules."""
        return sum([await c.replay(event_id) for c in self.consumers])

    async def status(self) -> dict[str, Any]:
        """Outbox backlog and oldest unsent age per module, consumer lag, dead letters.

        The transport need only be connected (not started); a lag it cannot read is
        reported as ``None`` with the reason under ``consumerLagError``.
        """
        now = datetime.now(UTC)
        outboxes = {name: await self._outbox_figures(part, now)
                    for name, part in self.modules.items()}
        dead = [letter for c in self.consumers for letter in await c.dead_letters()]
        report: dict[str, Any] = {"checkedAt": now.isoformat(), "outbox": outboxes,
                                  "consumerLag": None, "deadLetters": dead}
        try:
            report["consumerLag"] = await self.transport.consumer_lag(
                [c.name for c in self.consumers])
        except Exception as error:  # a status report must not fail for lack of the broker
            report["consumerLagError"] = repr(error)
        return report
