"""The consistency token and the applied-event notifier (ADR 0016), over plain values."""

from __future__ import annotations

import asyncio

import pytest

from ticketing.bus.consistency import (
    MAX_TOKEN_EVENTS,
    AppliedEvents,
    CausedEvent,
    decode_token,
    encode_token,
)

KEY = "k" * 40
PAID = CausedEvent("payment:authorized", "01jd0z5c8y9x7w6v5t4s3r2q1p")


def test_a_token_names_the_events_it_was_made_for() -> None:
    ordered = CausedEvent("order:created", "01jd0z5c8y9x7w6v5t4s3r2q1q")

    assert decode_token(encode_token([ordered, PAID], KEY), KEY) == [ordered, PAID]


def test_a_token_keeps_only_the_latest_events() -> None:
    many = [CausedEvent("ticket:updated", f"id-{n}") for n in range(MAX_TOKEN_EVENTS + 3)]

    assert decode_token(encode_token(many, KEY), KEY) == many[-MAX_TOKEN_EVENTS:]


@pytest.mark.parametrize("token", [
    None, "", "no-dot", "a.b.c", "!!!.???", "e30.e30", "x" * 2000,
])
def test_a_missing_or_malformed_token_names_nothing(token: str | None) -> None:
    assert decode_token(token, KEY) == []


def test_a_token_signed_with_another_key_or_altered_names_nothing() -> None:
    token = encode_token([PAID], KEY)
    payload, signature = token.split(".")
    forged = encode_token([CausedEvent("order:created", "someone-elses")], "other" * 8)

    assert decode_token(encode_token([PAID], "other" * 8), KEY) == []
    assert decode_token(f"{forged.split('.')[0]}.{signature}", KEY) == []
    assert decode_token(f"{payload}.{signature[:-2]}", KEY) == []


async def test_a_waiter_is_woken_by_the_mark_without_asking_again() -> None:
    applied = AppliedEvents()
    asked = 0
    first_asked = asyncio.Event()

    async def applied_before() -> bool:
        nonlocal asked
        asked += 1
        first_asked.set()
        return False

    waiting = asyncio.create_task(applied.wait("orders", PAID.id, 60.0, applied_before))
    await first_asked.wait()
    applied.mark("orders", PAID.id)

    assert await asyncio.wait_for(waiting, 5.0) is True
    assert asked == 1


async def test_an_event_marked_lately_needs_no_question() -> None:
    applied = AppliedEvents()
    applied.mark("orders", PAID.id)

    async def never_asked() -> bool:
        raise AssertionError("the processed table was queried")

    assert await applied.wait("orders", PAID.id, 0.0, never_asked) is True


async def test_an_event_applied_elsewhere_is_found_in_the_table() -> None:
    async def applied_before() -> bool:
        return True

    assert await AppliedEvents().wait("orders", PAID.id, 60.0, applied_before) is True


async def test_at_the_deadline_the_table_has_the_last_word() -> None:
    answers = iter([False, True])

    async def applied_before() -> bool:
        return next(answers)

    assert await AppliedEvents().wait("orders", PAID.id, 0.0, applied_before) is True


async def test_an_event_never_applied_ends_the_wait_at_the_deadline() -> None:
    applied = AppliedEvents()

    async def applied_before() -> bool:
        return False

    assert await applied.wait("orders", PAID.id, 0.0, applied_before) is False
    applied.mark("orders", PAID.id)  # nobody waits any more: nothing is left behind


async def test_only_the_latest_marks_are_remembered() -> None:
    applied = AppliedEvents(remember=2)
    for event_id in ("a", "b", "c"):
        applied.mark("orders", event_id)

    async def not_in_the_table() -> bool:
        return False

    assert await applied.wait("orders", "c", 0.0, not_in_the_table) is True
    assert await applied.wait("orders", "a", 0.0, not_in_the_table) is False
