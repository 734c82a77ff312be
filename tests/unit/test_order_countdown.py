"""The time left to pay, as the order page renders it before any script runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketing.web.orders.pages import clock, seconds_left

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("expires_at", "left"), [
    ("2026-01-01T12:15:00Z", 900),
    ("2026-01-01T12:00:00.999999Z", 0),
    ("2026-01-01T12:00:01.5Z", 1),
    ("2026-01-01T11:59:00Z", 0),
])
def test_seconds_left_counts_whole_seconds_and_never_goes_negative(expires_at: str,
                                                                    left: int) -> None:
    assert seconds_left(datetime.fromisoformat(expires_at), NOW) == left


@pytest.mark.parametrize(("seconds", "shown"), [
    (0, "0:00"), (9, "0:09"), (61, "1:01"), (900, "15:00"), (3599, "59:59"), (3600, "1:00:00"),
    (3661, "1:01:01"),
])
def test_clock_shows_minutes_and_seconds_and_hours_only_when_needed(seconds: int,
                                                                     shown: str) -> None:
    assert clock(seconds) == shown
