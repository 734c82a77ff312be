"""A replica lookup waits briefly only for ids made a moment ago."""

from __future__ import annotations

import asyncio
import time

import pytest

from ticketing import ids
from ticketing.bus.replicas import replicated


@pytest.fixture(autouse=True)
def _fresh_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_last", 0)


async def test_a_just_made_id_is_waited_for_until_its_event_arrives() -> None:
    arrived: list[str] = []
    entity_id = ids.new_id()

    async def fetch() -> str | None:
        return arrived[0] if arrived else None

    async def arrive() -> None:
        await asyncio.sleep(0.2)
        arrived.append("replica")

    found, _ = await asyncio.gather(replicated(entity_id, fetch), arrive())
    assert found == "replica"


async def test_an_old_unknown_id_is_answered_at_once() -> None:
    old_id = "01jd0z5c8y9x7w6v5t4s3r2q1p"  # made in 2024
    calls = 0

    async def fetch() -> str | None:
        nonlocal calls
        calls += 1
        return None

    started = time.monotonic()
    assert await replicated(old_id, fetch) is None
    assert calls == 1
    assert time.monotonic() - started < 0.1


async def test_a_just_made_id_that_never_arrives_gives_up_after_the_grace() -> None:
    async def fetch() -> str | None:
        return None

    started = time.monotonic()
    assert await replicated(ids.new_id(), fetch, grace=0.3) is None
    assert 0.25 < time.monotonic() - started < 1.0
