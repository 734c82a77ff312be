"""Reading a replica that may lag a moment behind the module that owns the data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ticketing.ids import age_seconds

T = TypeVar("T")

# How long a lookup of something made a moment ago waits for its event to arrive.
REPLICATION_GRACE_SECONDS = 2.0
POLL_SECONDS = 0.05


async def replicated(entity_id: str, fetch: Callable[[], Awaitable[T | None]],
                     grace: float = REPLICATION_GRACE_SECONDS) -> T | None:
    """``fetch()``, waiting up to ``grace`` seconds if the id says it was just made.

    Ids carry their creation time: an unknown id that is seconds old is on its way
    through the bus, an old one is simply unknown (answered at once).
    """
    found = await fetch()
    if found is not None or not 0 <= age_seconds(entity_id) < grace:
        return found
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while found is None and loop.time() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        found = await fetch()
    return found
