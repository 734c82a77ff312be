"""Ended sessions as every process keeps them: one session, or all of a user's until then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketing.bus.contracts import (
    AllSessionsEnded,
    Envelope,
    SessionEnded,
    SessionsEnded,
    TicketCreated,
)
from ticketing.bus.sessions import Revocations, began_at
from ticketing.ids import created_at_ms, new_id

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIFETIME = 3600


def ended(session_id: str, user_id: str = "u1", expires_in: int = 60) -> Envelope:
    return Envelope.wrap(SessionEnded(session_id=session_id, user_id=user_id,
                                      expires_at=NOW + timedelta(seconds=expires_in)), "auth")


def everywhere(user_id: str, at: datetime = NOW) -> Envelope:
    return Envelope.wrap(SessionsEnded(user_id=user_id, ended_at=at), "auth")


def test_a_signed_out_session_has_ended_and_no_other() -> None:
    revocations = Revocations(LIFETIME, clock=NOW.timestamp)
    revocations.hear(ended("s1"))

    assert revocations.has_ended("s1", "u1", NOW.timestamp())
    assert not revocations.has_ended("s2", "u1", NOW.timestamp())
    assert not revocations.has_ended("", "u1", NOW.timestamp())


def test_signing_out_everywhere_ends_what_began_until_then_only() -> None:
    revocations = Revocations(LIFETIME, clock=NOW.timestamp)
    revocations.hear(everywhere("u1"))

    assert revocations.has_ended("s1", "u1", NOW.timestamp() - 5)
    assert revocations.has_ended("s1", "u1", NOW.timestamp())
    assert not revocations.has_ended("s2", "u1", NOW.timestamp() + 0.001)
    assert not revocations.has_ended("s1", "u2", NOW.timestamp() - 5)


def test_an_older_sign_out_everywhere_heard_late_moves_nothing_back() -> None:
    revocations = Revocations(LIFETIME, clock=NOW.timestamp)
    revocations.hear(everywhere("u1", NOW))
    revocations.hear(everywhere("u1", NOW - timedelta(hours=1)))

    assert revocations.has_ended("s", "u1", NOW.timestamp() - 1)


def test_what_would_have_expired_anyway_is_forgotten() -> None:
    clock = [NOW.timestamp()]
    revocations = Revocations(LIFETIME, clock=lambda: clock[0])
    revocations.hear(ended("s1", expires_in=60))
    revocations.hear(everywhere("u1"))

    clock[0] += LIFETIME + 61
    revocations.forget_expired()

    assert not revocations.has_ended("s1", "u9", 0)
    assert not revocations.has_ended("x", "u1", NOW.timestamp() - 1)


def test_the_history_replay_takes_session_events_and_skips_the_rest() -> None:
    revocations = Revocations(LIFETIME, clock=NOW.timestamp)
    other = Envelope.wrap(TicketCreated(id="t", version=0, title="x", price=1,  # type: ignore[arg-type]
                                        user_id="u"), "tickets")

    heard = revocations.hear_all([ended("s1").to_json(), other.to_json(), b"not json"])

    assert heard == 1
    assert revocations.has_ended("s1", "u1", 0)


def test_a_session_began_at_its_ids_millisecond_else_at_the_tokens_second() -> None:
    session = new_id()

    assert began_at(session, 5) == created_at_ms(session) / 1000
    assert began_at("", 5) == 5.0
    assert began_at("not-an-id", 5) == 5.0


def test_a_restore_ends_every_session_begun_until_then_and_is_forgotten_after_a_lifetime(
) -> None:
    clock = [NOW.timestamp()]
    revocations = Revocations(LIFETIME, clock=lambda: clock[0])
    revocations.hear(Envelope.wrap(AllSessionsEnded(ended_at=NOW), "auth"))

    assert revocations.has_ended("", "anyone", int(NOW.timestamp()) - 60)
    assert revocations.has_ended("", "someone else", int(NOW.timestamp()))
    assert not revocations.has_ended("", "anyone", int(NOW.timestamp()) + 1)

    clock[0] += LIFETIME + 1
    revocations.forget_expired()
    assert not revocations.has_ended("", "anyone", int(NOW.timestamp()) - 60)
