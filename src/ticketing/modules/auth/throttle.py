"""Fixed-window failure counters kept in the database, so every replica sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from ticketing.errors import Throttled
from ticketing.modules.auth.models import ThrottleWindow


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` counted events per ``window_seconds`` for keys of one kind."""

    kind: str
    failures: int
    window_seconds: int


SIGNIN_PER_ACCOUNT = Limit("signin-account", failures=5, window_seconds=15 * 60)
SIGNIN_PER_ADDRESS = Limit("signin-address", failures=50, window_seconds=15 * 60)
SIGNUP_PER_ADDRESS = Limit("signup-address", failures=100, window_seconds=60)


class Throttle:
    """Raises :class:`Throttled` once a key has used up its window; off for load tests."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    async def check(self, limit: Limit, subject: str) -> None:
        if not self.enabled:
            return
        window = await ThrottleWindow.get_or_none(key=_key(limit, subject))
        if window is None:
            return
        remaining = _seconds_left(window, limit)
        if remaining > 0 and window.failures >= limit.failures:
            raise Throttled(retry_after=remaining)

    async def count(self, limit: Limit, subject: str) -> None:
        if not self.enabled:
            return
        key = _key(limit, subject)
        now = datetime.now(UTC)
        async with in_transaction("auth"):
            # Insert-if-absent, then lock: concurrent first failures for one key must not
            # race on its primary key (on PostgreSQL the losers raised IntegrityError).
            await ThrottleWindow.bulk_create(
                [ThrottleWindow(key=key, window_started_at=now, failures=0)],
                ignore_conflicts=True,
            )
            window = await ThrottleWindow.select_for_update().get(key=key)
            if _seconds_left(window, limit) <= 0:
                window.window_started_at, window.failures = now, 1
            else:
                window.failures += 1
            await window.save(update_fields=["window_started_at", "failures"])

    async def clear(self, limit: Limit, subject: str) -> None:
        if self.enabled:
            await ThrottleWindow.filter(key=_key(limit, subject)).delete()


def _key(limit: Limit, subject: str) -> str:
    return f"{limit.kind}:{subject}"[:300]


def _seconds_left(window: ThrottleWindow, limit: Limit) -> int:
    ends = window.window_started_at + timedelta(seconds=limit.window_seconds)
    return int((ends - datetime.now(UTC)).total_seconds() + 0.999)
