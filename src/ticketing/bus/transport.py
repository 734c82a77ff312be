"""Transports carry envelopes from relays to consumers; the in-process one is the default."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from ticketing.bus.consumer import MAX_ATTEMPTS, Consumer, retry_delay
from ticketing.bus.contracts import Envelope


class TransportUnavailable(Exception):
    """The transport could not take the event now; the relay will retry."""


class Transport(Protocol):
    async def start(self, consumers: Sequence[Consumer]) -> None:
        """Begin delivering to the consumers of the modules running in this process."""

    async def publish(self, envelope: Envelope, body: str) -> None:
        """Hand over one event; returning means the transport has it (or it was handled)."""

    async def stop(self) -> None: ...

    async def consumer_lag(self) -> dict[str, int] | None:
        """Events waiting per consumer, where the transport can tell."""

    async def ping(self) -> None:
        """Raise if the transport cannot take events now."""


class InProcessTransport:
    """Delivers straight to this process's consumers before the relay marks a row sent.

    Each consumer retries a failing handler with backoff and dead-letters the event after
    ``MAX_ATTEMPTS``, so one broken consumer delays, but never blocks, the others for good.
    """

    def __init__(self, first_retry_delay: float = 0.05) -> None:
        self._consumers: Sequence[Consumer] = ()
        self._first_retry_delay = first_retry_delay

    async def start(self, consumers: Sequence[Consumer]) -> None:
        self._consumers = consumers

    async def publish(self, envelope: Envelope, body: str) -> None:
        targets = [c for c in self._consumers if c.wants(envelope.type)]
        await asyncio.gather(*(self._deliver(c, envelope) for c in targets))

    async def _deliver(self, consumer: Consumer, envelope: Envelope) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await consumer.handle(envelope)
                return
            except Exception as error:
                consumer.log_failure(envelope, error, attempt)
                if attempt == MAX_ATTEMPTS:
                    await consumer.dead_letter(envelope, error, attempt)
                    return
                await asyncio.sleep(retry_delay(attempt, first=self._first_retry_delay))

    async def stop(self) -> None:
        self._consumers = ()

    async def consumer_lag(self) -> dict[str, int] | None:
        return None

    async def ping(self) -> None:
        return None
