"""What checking for ended sessions costs each request: reading a session cookie with the
revocation check (10,000 sessions ended, 1,000 users signed out everywhere) against
reading it without, in the same run.

Run with ``make bench-sessions`` (or ``python -m bench.sessions``). Results go to
docs/benchmarks.md.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import machine
from bench.report import write_section
from ticketing.bus.contracts import Envelope, SessionEnded, SessionsEnded
from ticketing.bus.sessions import Revocations
from ticketing.ids import new_id
from ticketing.modules.auth.api import SessionReader
from ticketing.modules.auth.tokens import TokenCodec
from ticketing.settings import Settings

READS = 50_000
ROUNDS = 5


def per_read_microseconds(reader: SessionReader, cookie: str) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(READS):
            reader.read(cookie)
        best = min(best, time.perf_counter() - started)
    return best / READS * 1e6


def main() -> None:
    settings = Settings(env="test", data_dir=Path("var"), jwt_key="k" * 48)
    revocations = Revocations(settings.jwt_lifetime_seconds)
    later = datetime.now(UTC) + timedelta(days=1)
    for _ in range(10_000):
        revocations.hear(Envelope.wrap(SessionEnded(session_id=new_id(), user_id=new_id(),
                                                    expires_at=later), "auth"))
    for _ in range(1_000):
        revocations.hear(Envelope.wrap(SessionsEnded(user_id=new_id(),
                                                     ended_at=datetime.now(UTC)), "auth"))
    plain, checked = SessionReader(settings), SessionReader(settings, revocations)
    cookie = TokenCodec(settings.jwt_key, 3600).issue_cookie(new_id(), "bench@example.com")
    assert checked.read(cookie) is not None
    without = per_read_microseconds(plain, cookie)
    with_check = per_read_microseconds(checked, cookie)
    body = "\n".join([
        f"Machine: {machine()}. Best of {ROUNDS} rounds of {READS:,} cookie reads "
        "(`make bench-sessions`).",
        "",
        "| reading a session cookie | µs per request | ratio |",
        "|---|---|---|",
        f"| signature and claims only | {without:.1f} | 1.00 |",
        f"| plus the ended-session check (10,000 ended, 1,000 users out everywhere) "
        f"| {with_check:.1f} | {with_check / without:.2f} |",
    ])
    print(body)
    write_section("Ended-session check per request", body)


if __name__ == "__main__":
    main()
