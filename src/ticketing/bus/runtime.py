"""The bus of one process: outboxes, relays, consumers and the chosen transport."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ticketing.bus.consumer import Consumer, Subscriptions
from ticketing.bus.outbox import Outbox
from ticketing.bus.relay import Relay
from ticketing.bus.tables import BusTables
from ticketing.bus.transport import InProcessTransport, Transport
from ticketing.settings import Settings


def build_transport(settings: Settings) -> Transport:
    """``TICKETING_BUS`` chooses: in-process delivery or NATS JetStream."""
    if settings.bus == "nats":
        from ticketing.bus.nats import NatsTransport

        return NatsTransport(settings.nats_url)
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
    modules: dict[str, ModuleBus] = field(default_factory=dict)
    relays: list[Relay] = field(default_factory=list)
    poll_interval: float = 1.0
    batch_size: int = 100

    def add_module(self, name: str, tables: BusTables) -> Outbox:
        """Register a module's tables; returns the outbox its code publishes through."""
        outbox = Outbox(name, tables.outbox)
        self.modules[name] = ModuleBus(name, tables, outbox)
        return outbox

    def subscribe(self, name: str, subscriptions: Subscriptions) -> None:
        """Declare a registered module's table of subscriptions (event type -> handler)."""
        part = self.modules[name]
        part.consumer = Consumer(name, part.outbox, part.tables, subscriptions)

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
            relay.start()

    async def stop(self) -> None:
        for relay in self.relays:
            await relay.stop()
        self.relays = []
        await self.transport.stop()

    async def replay(self, event_id: str) -> int:
        """Re-deliver every dead letter of ``event_id`` in this process's modules."""
        return sum([await c.replay(event_id) for c in self.consumers])

    async def status(self) -> dict[str, Any]:
        """Outbox backlog and oldest unsent age per module, consumer lag, dead letters.

        The transport need only be connected (not started); a lag it cannot read is
        reported as ``None`` with the reason under ``consumerLagError``.
        """
        now = datetime.now(UTC)
        outboxes: dict[str, Any] = {}
        for name, part in self.modules.items():
            unsent = part.tables.outbox.filter(sent_at=None)
            oldest = await unsent.order_by("id").first()
            outboxes[name] = {
                "backlog": await unsent.count(),
                "oldestUnsentSeconds": round((now - oldest.created_at).total_seconds(), 3)
                if oldest else None,
            }
        dead = [letter for c in self.consumers for letter in await c.dead_letters()]
        report: dict[str, Any] = {"checkedAt": now.isoformat(), "outbox": outboxes,
                                  "consumerLag": None, "deadLetters": dead}
        try:
            report["consumerLag"] = await self.transport.consumer_lag(
                [c.name for c in self.consumers])
        except Exception as error:  # a status report must not fail for lack of the broker
            report["consumerLagError"] = repr(error)
        return report
