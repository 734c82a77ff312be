"""Fixed-window failure counters kept in the database, so every replica sees them.

A sign-in *takes* a slot from each of its windows before the password is checked, in
one locked transaction per window, so concurrent guesses cannot all slip through
between a read and a write; a success gives the slots back. The windows (ASVS V6.3,
NIST 800-63B §5.2.2): 5 failures per account *and* address in 15 minutes (the real owner
elsewhere is never locked out by someone else's guesses), 50 per address (one client
guessing many accounts), and a slower budget of 100 per account per hour across all
addresses (a distributed guesser): only that last one can lock the owner out, and only
after a hundred guesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from ticketing.clock import Clock, utc_now
from ticketing.errors import Throttled
from ticketing.modules.auth.models import ThrottleWindow


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` counted events per ``window_seconds`` for keys of one kind."""

    kind: str
    failures: int
    window_seconds: int


SIGNIN_PER_ACCOUNT_AND_ADDRESS = Limit("signin-account-address", failures=5,
                                       window_seconds=15 * 60)
SIGNIN_PER_ADDRESS = Limit("signin-address", failures=50, window_seconds=15 * 60)
SIGNIN_PER_ACCOUNT = Limit("signin-account", failures=100, window_seconds=60 * 60)
SIGNUP_PER_ADDRESS = Limit("signup-address", failures=100, window_seconds=60)


class Throttle:
    """Raises :class:`Throttled` once a key has used up its window; off for load tests."""

    def __init__(self, enabled: bool, clock: Clock = utc_now) -> None:
        self.enabled = enabled
        self._clock = clock

    async def check(self, limit: Limit, subject: str) -> None:
        if not self.enabled:
            return
        window = await ThrottleWindow.get_or_none(key=_key(limit, subject))
        if window is None:
            return
        remaining = self._seconds_left(window, limit)
        if remaining > 0 and window.failures >= limit.failures:
            raise Throttled(retry_after=remaining)

    async def count(self, limit: Limit, subject: str) -> None:
        """Count one event, whatever the window holds (sign-ups: counted, then checked)."""
        await self._add(limit, subject, refuse_when_full=False)

    async def take(self, limit: Limit, subject: str) -> None:
        """Take one slot of the window, or raise :class:`Throttled` if none is left.

        The check and the count are one locked step, so N concurrent requests take at
        most the window's N slots.
        """
        await self._add(limit, subject, refuse_when_full=True)

    async def give_back(self, limit: Limit, subject: str) -> None:
        """Return a slot taken by :meth:`take` (the attempt succeeded)."""
        if not self.enabled:
            return
        async with in_transaction("auth") as connection:
            window = await ThrottleWindow.filter(key=_key(limit, subject)) \
                .using_db(connection).select_for_update().first()
            if window is not None and window.failures > 0:
                window.failures -= 1
                await window.save(using_db=connection, update_fields=["failures"])

    async def _add(self, limit: Limit, subject: str, *, refuse_when_full: bool) -> None:
        if not self.enabled:
            return
        key = _key(limit, subject)
        now = self._clock()
        async with in_transaction("auth") as connection:
            # Insert-if-absent, then lock: concurrent first failures for one key must not
            # race on its primary key (on PostgreSQL the losers raised IntegrityError).
            await ThrottleWindow.bulk_create(
                [ThrottleWindow(key=key, window_started_at=now, failures=0)],
                ignore_conflicts=True, using_db=connection,
            )
            window = await ThrottleWindow.filter(key=key).using_db(connection) \
                .select_for_update().get()
            remaining = self._seconds_left(window, limit)
            if remaining <= 0:
                window.window_started_at, window.failures = now, 0
            elif refuse_when_full and window.failures >= limit.failures:
                raise Throttled(retry_after=remaining)
            window.failures += 1
            await window.save(using_db=connection,
                              update_fields=["window_started_at", "failures"])

    async def clear(self, limit: Limit, subject: str) -> None:
        if self.enabled:
            await ThrottleWindow.filter(key=_key(limit, subject)).delete()

    def _seconds_left(self, window: ThrottleWindow, limit: Limit) -> int:
        ends = window.window_started_at + timedelta(seconds=limit.window_seconds)
        return int((ends - self._clock()).total_seconds() + 0.999)


def _key(limit: Limit, subject: str) -> str:
    return f"{limit.kind}:{subject}"[:300]
