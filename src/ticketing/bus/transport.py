"""Transports carry committed outbox rows from relays to consumers; in-process is the default.

A transport never needs to decode an event to carry it: it gets the event id, the wire
type and the JSON body, exactly as the outbox row holds them. So a relay running older
code (a rolling deploy) still forwards an event of a newer schema version, and an event
no consumer here can read is dead-lettered for a later replay instead of lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ticketing.bus.consumer import MAX_ATTEMPTS, Consumer, Delivery, Outcome, retry_delay


@dataclass(frozen=True)
class Outgoing:
    """One committed event on its way from an outbox to the consumers."""

    event_id: str
    event_type: str
    body: str
    # The envelope's trace context, for transports that carry it beside the body.
    traceparent: str | None = None


class TransportUnavailable(Exception):
    """The transport could not take every event now; the relay will retry the rest.

    ``sent`` counts the leading events of the batch that the transport did take.
    """

    def __init__(self, message: str, *, sent: int = 0) -> None:
        super().__init__(message)
        self.sent = sent


class Transport(Protocol):
    async def connect(self) -> None:
        """Open connections and declare what the transport needs, without consuming."""

    async def start(self, consumers: Sequence[Consumer]) -> None:
        """Connect, then begin delivering to the consumers of the modules in this process."""

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Hand over events in order; on failure raise :class:`TransportUnavailable`.

        Returning means the transport holds every event (or has delivered it).
        """

    async def stop(self) -> None:
        """Stop consuming and close connections; never hangs on a dead server."""

    async def consumer_lag(self, consumers: Sequence[str]) -> dict[str, int] | None:
        """Events waiting (pending or unacknowledged) per consumer, where the transport can
        tell; ``None`` when it cannot."""

    async def ping(self) -> None:
        """Raise if the transport cannot take events now."""

    def watch(self, listener: Callable[[str | bytes], None]) -> bool:
        """Hand ``listener`` the body of every event any process publishes: a best-effort,
        non-durable broadcast for live views. ``False`` if this transport sees only this
        process (the bus then reports this process's own commits instead)."""

    async def history(self, event_types: Sequence[str]) -> list[str | bytes]:
        """Every stored event of these types, oldest first, from every process; ``[]`` if
        the transport keeps none (in one process the outboxes are the history)."""


class InProcessTransport:
    """Delivers straight to this process's consumers before the relay marks a row sent.

    Each consumer retries a failing handler with backoff and dead-letters the event after
    ``max_attempts``, so one broken consumer delays, but never blocks, the others for good.
    """

    def __init__(self, first_retry_delay: float = 0.05, max_attempts: int = MAX_ATTEMPTS) -> None:
        self._consumers: Sequence[Consumer] = ()
        self._first_retry_delay = first_retry_delay
        self._max_attempts = max_attempts

    async def connect(self) -> None:
        return None

    async def start(self, consumers: Sequence[Consumer]) -> None:
        self._consumers = consumers

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        """Deliver the batch to every consumer that wants it, the consumers side by side.

        Each consumer first takes its share in one transaction; if that fails it takes
        the events one at a time, each retried and at worst dead-lettered. ``sent`` of a
        failure is the first event some consumer could not take: the relay sends it and
        the rest again, and whoever took them already ignores the copies.
        """
        stuck = await asyncio.gather(*(self._deliver_all(c, messages) for c in self._consumers))
        failures = [(index, error) for index, error in stuck if error is not None]
        if failures:
            index, error = min(failures, key=lambda failure: failure[0])
            raise TransportUnavailable(
                f"in-process delivery of {messages[index].event_id} failed: {error!r}",
                sent=index) from error

    async def _deliver_all(self, consumer: Consumer, messages: Sequence[Outgoing],
                           ) -> tuple[int, BaseException | None]:
        """(index, error) of the first event ``consumer`` could not take; error None if none."""
        wanted = [(i, m) for i, m in enumerate(messages) if consumer.wants(m.event_type)]
        if len(wanted) > 1 and await consumer.deliver_together(
                [Delivery(m.event_id, m.event_type, m.body) for _, m in wanted]) is not None:
            return len(messages), None
        for index, message in wanted:
            try:
                await self._deliver(consumer, message)
            except Exception as error:  # the dead letter could not be written
                return index, error
        return len(messages), None

    async def _deliver(self, consumer: Consumer, message: Outgoing) -> None:
        delivery = Delivery(message.event_id, message.event_type, message.body)
        attempt = 1
        while await consumer.deliver(delivery, attempt, self._max_attempts) is Outcome.RETRY:
            await asyncio.sleep(retry_delay(attempt, first=self._first_retry_delay))
            attempt += 1

    async def stop(self) -> None:
        self._consumers = ()

    async def consumer_lag(self, consumers: Sequence[str]) -> dict[str, int] | None:
        return None  # delivery happens inside the relay: the outbox backlog is the lag

    async def ping(self) -> None:
        return None

    def watch(self, listener: Callable[[str | bytes], None]) -> bool:
        return False  # nothing beyond this process: the bus reports its commits itself

    async def history(self, event_types: Sequence[str]) -> list[str | bytes]:
        return []
