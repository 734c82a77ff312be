"""Waiting for a condition: the suite's one way to let asynchronous effects arrive.

Events travel after the commit, through a relay and maybe NATS, so a test polls for the
state it expects and fails naming it; it never sleeps a fixed time and hopes.
:func:`eventually` is for async tests; :func:`eventually_blocking` is the same loop for
the tests that drive real processes from plain threads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

SETTLE_SECONDS = 10.0
POLL_SECONDS = 0.02


async def eventually(probe: Callable[[], Awaitable[T]], what: str = "the condition", *,
                     within: float = SETTLE_SECONDS) -> T:
    """Await ``probe`` until it returns something truthy, and return that; fail the test
    naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        found = await probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)


def eventually_blocking(probe: Callable[[], T], what: str = "the condition", *,
                        within: float = SETTLE_SECONDS, interval: float = 0.1) -> T:
    """:func:`eventually` for a test without an event loop (real processes over HTTP)."""
    deadline = time.monotonic() + within
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within}s waiting for {what}")
        time.sleep(interval)
