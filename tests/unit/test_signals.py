"""Signals: a waiter is woken by the mark, never by polling; its own check has the last word."""

from __future__ import annotations

import asyncio

from ticketing.signals import Signals

ATTEMPT = "01jd0z5c8y9x7w6v5t4s3r2q1p"


async def test_a_waiter_is_woken_by_the_mark_without_asking_again() -> None:
    applied: Signals[str] = Signals()
    asked = 0
    first_asked = asyncio.Event()

    async def applied_before() -> bool:
        nonlocal asked
        asked += 1
        first_asked.set()
        return False

    waiting = asyncio.create_task(applied.wait(ATTEMPT, 60.0, applied_before))
    await first_asked.wait()
    applied.mark(ATTEMPT)

    assert await asyncio.wait_for(waiting, 5.0) is True
    assert asked == 1
    assert applied.waiters == 0


async def test_an_event_marked_lately_needs_no_question() -> None:
    applied: Signals[str] = Signals()
    applied.mark(ATTEMPT)

    async def never_asked() -> bool:
        raise AssertionError("the processed table was queried")

    assert await applied.wait(ATTEMPT, 0.0, never_asked) is True


async def test_an_event_applied_elsewhere_is_found_in_the_table() -> None:
    async def applied_before() -> bool:
        return True

    applied: Signals[str] = Signals()

    assert await applied.wait(ATTEMPT, 60.0, applied_before) is True
    assert applied.waiters == 0


async def test_at_the_deadline_the_table_has_the_last_word() -> None:
    answers = iter([False, True])

    async def applied_before() -> bool:
        return next(answers)

    assert await Signals[str]().wait(ATTEMPT, 0.0, applied_before) is True


async def test_an_event_never_applied_ends_the_wait_at_the_deadline() -> None:
    applied: Signals[str] = Signals()

    async def applied_before() -> bool:
        return False

    assert await applied.wait(ATTEMPT, 0.0, applied_before) is False
    assert applied.waiters == 0


async def test_a_wait_given_up_or_failing_leaves_nothing_behind() -> None:
    applied: Signals[str] = Signals()
    started = asyncio.Event()

    async def not_yet() -> bool:
        started.set()
        return False

    async def database_down() -> bool:
        raise ConnectionError("database unreachable")

    given_up = asyncio.create_task(applied.wait(ATTEMPT, 60.0, not_yet))
    await started.wait()
    given_up.cancel()  # the client went away
    await asyncio.gather(given_up, return_exceptions=True)
    failing = asyncio.gather(applied.wait(ATTEMPT, 60.0, database_down),
                             return_exceptions=True)

    assert isinstance((await failing)[0], ConnectionError)
    assert applied.waiters == 0


async def test_one_waiter_timing_out_does_not_deafen_another() -> None:
    applied: Signals[str] = Signals()
    both_waiting = asyncio.Event()
    asked = 0

    async def not_yet() -> bool:
        nonlocal asked
        asked += 1
        if asked == 2:
            both_waiting.set()
        return False

    patient = asyncio.create_task(applied.wait(ATTEMPT, 60.0, not_yet))
    hasty = asyncio.create_task(applied.wait(ATTEMPT, 0.01, not_yet))
    await both_waiting.wait()
    assert await hasty is False
    applied.mark(ATTEMPT)

    assert await asyncio.wait_for(patient, 5.0) is True
    assert applied.waiters == 0


async def test_only_the_latest_marks_are_remembered() -> None:
    applied: Signals[str] = Signals(remember=2)
    for event_id in ("a", "b", "c"):
        applied.mark(event_id)

    async def not_in_the_table() -> bool:
        return False

    assert await applied.wait("c", 0.0, not_in_the_table) is True
    assert await applied.wait("a", 0.0, not_in_the_table) is False
