"""The bus of one process: outboxes, relays, consumers and the chosen transport."""

from __future__ import annotations

import time
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
    transport: Transport
    modules: dict[str, ModuleBus] = field(default_factory=dict)
    relays: list[Relay] = field(default_factory=list)

    def add_module(self, name: str, tables: BusTables) -> Outbox:
        """Register a module's tables; returns the outbox its code publishes through."""
        outbox = Outbox(name, tables.outbox)
        self.modules[name] = ModuleBus(name, tables, outbox)
        return outbox

    def subscribe(self, name: str, subscriptions: Subscriptions) -> None:
        part = self.modules[name]
        part.consumer = Consumer(name, part.outbox, part.tables, subscriptions)

    @property
    def consumers(self) -> list[Consumer]:
        return [m.consumer for m in self.modules.values() if m.consumer is not None]

    async def start(self) -> None:
        await self.transport.start(self.consumers)
        self.relays = [Relay(m.outbox, self.transport) for m in self.modules.values()]
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
        """Outbox backlog and oldest unsent age per module, consumer lag, dead letters."""
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
        return {"checkedAt": time.time(), "outbox": outboxes,
                "consumerLag": await self.transport.consumer_lag(), "deadLetters": dead}
