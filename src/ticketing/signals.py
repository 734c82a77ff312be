"""Waiting for something to happen in this process, woken when it does, never polling.

A :class:`Signals` is told when a key's thing has happened (an event applied, a payment
attempt settled) and wakes whoever waits for that key. It remembers the latest keys, so
a wait that starts just after is answered at once; anything older, or done by another
process, is for the waiter's own check (a database read) to find, once before waiting
and once at the deadline.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)

REMEMBERED = 4096


class Signals(Generic[K]):
    """Keys whose thing happened lately, and the tasks waiting for one."""

    def __init__(self, remember: int = REMEMBERED) -> None:
        self._remember = remember
        self._recent: OrderedDict[K, None] = OrderedDict()
        # Per key: the event its waiters wait on, and how many wait.
        self._waiting: dict[K, tuple[asyncio.Event, int]] = {}

    @property
    def waiters(self) -> int:
        """How many waits are under way (every one removes itself when it ends)."""
        return sum(count for _, count in self._waiting.values())

    def mark(self, key: K) -> None:
        """``key``'s thing has happened (committed): wake whoever waits for it."""
        self._recent[key] = None
        self._recent.move_to_end(key)
        if len(self._recent) > self._remember:
            self._recent.popitem(last=False)
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting[0].set()

    async def wait(self, key: K, within: float,
                   happened_before: Callable[[], Awaitable[bool]]) -> bool:
        """Until ``key`` is marked, at most ``within`` seconds; True once it has happened.

        ``happened_before`` is the waiter's own check, for what happened before this
        process remembers or elsewhere: asked once before waiting and once at the deadline.
        """
        if key in self._recent or await happened_before():
            return True
        if key in self._recent:  # marked while the check ran
            return True
        # No await between that look and joining the waiters: no mark can slip between.
        event, count = self._waiting.get(key, (asyncio.Event(), 0))
        self._waiting[key] = (event, count + 1)
        try:
            await asyncio.wait_for(event.wait(), within)
        except TimeoutError:
            # Done elsewhere (another replica), or not yet.
            return await happened_before()
        finally:
            self._leave(key)
        return True

    def _leave(self, key: K) -> None:
        event, count = self._waiting[key]
        if count > 1:
            self._waiting[key] = (event, count - 1)
        else:
            del self._waiting[key]
