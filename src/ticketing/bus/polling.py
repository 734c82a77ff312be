"""The loop of a background worker that drains a table of work a batch at a time.

A worker (payments' settler, mail's sender) runs under the process's supervisor, is
woken when a transaction commits work for it, and polls as a backstop: work committed
by another replica, or left by a process that stopped half-way, is found within
``poll_seconds``. A full batch means more is waiting, so the next round starts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod


class PollingWorker(ABC):
    """Calls :meth:`work_batch` until :meth:`finish`; subclasses say what a batch is."""

    def __init__(self, *, poll_seconds: float, batch: int) -> None:
        self.poll_seconds = poll_seconds
        self.batch = batch
        self._wakeup = asyncio.Event()
        self._stopping = False

    @property
    def stopping(self) -> bool:
        """Asked to finish: a batch in hand should stop after its current item."""
        return self._stopping

    def wake(self) -> None:
        self._wakeup.set()

    def finish(self) -> None:
        """End :meth:`run` after the item in hand (a query cancelled on SQLite can keep
        the connection's lock, so the supervisor asks before it cancels)."""
        self._stopping = True
        self._wakeup.set()

    async def run(self) -> None:
        self._stopping = False
        while not self._stopping:
            self._wakeup.clear()
            if await self.work_batch() < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_seconds)

    @abstractmethod
    async def work_batch(self) -> int:
        """Handle up to :attr:`batch` items of work; how many were looked at."""
