"""Sessions that ended, as every process learns them from the bus (never by asking auth).

Auth publishes ``auth:session-ended`` (one sign-out), ``auth:sessions-ended`` (sign
out everywhere) and ``auth:all-sessions-ended`` (its data was restored from a backup).
Every process keeps them in memory, a set and a map looked up once per request (a
dictionary lookup: ``make bench-sessions`` measures it), fed three ways:

- live, through :meth:`Bus.watch` (in one process right after auth's commit; over NATS
  every replica of every module hears every event);
- on start-up, from the bus's history: auth's outbox in one process, the JetStream
  stream over NATS (it keeps events longer than a session lives);
- again from that history every ``RELOAD_SECONDS``, a backstop for a watch message lost.

An entry is dropped once the token it ends would have expired anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from ticketing.bus.contracts import (
    AllSessionsEnded,
    Envelope,
    SessionEnded,
    SessionsEnded,
    UnknownEvent,
)
from ticketing.ids import created_at_ms

SESSION_EVENT_TYPES = (SessionEnded.WIRE_TYPE, SessionsEnded.WIRE_TYPE,
                       AllSessionsEnded.WIRE_TYPE)
RELOAD_SECONDS = 30.0


class Revocations:
    """What :class:`~ticketing.modules.auth.api.SessionReader` asks of every request."""

    def __init__(self, lifetime_seconds: int, clock: Callable[[], float] = time.time) -> None:
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._sessions: dict[str, float] = {}  # session id -> when its token expires
        self._users: dict[str, float] = {}  # user id -> sessions begun until then ended
        self._everyone = 0.0  # every session begun until then ended (a restore)

    def has_ended(self, session_id: str, user_id: str, issued_at: int) -> bool:
        """True if this session was signed out, or its user signed out everywhere after
        it began, or it began before a restore. Two dictionary lookups on every request;
        the session's start is read from its id only when one of the latter two exists."""
        if session_id and session_id in self._sessions:
            return True
        ended = max(self._users.get(user_id, 0.0), self._everyone)
        return ended > 0 and began_at(session_id, issued_at) <= ended

    def hear(self, envelope: Envelope) -> None:
        """A bus watcher: take note of a session event, ignore every other."""
        event = envelope.event
        if isinstance(event, SessionEnded):
            self._sessions[event.session_id] = event.expires_at.timestamp()
        elif isinstance(event, SessionsEnded):
            ended = event.ended_at.timestamp()
            self._users[event.user_id] = max(ended, self._users.get(event.user_id, ended))
        elif isinstance(event, AllSessionsEnded):
            self._everyone = max(self._everyone, event.ended_at.timestamp())
        else:
            return
        if (len(self._sessions) + len(self._users)) % 1024 == 0:
            self.forget_expired()

    def hear_all(self, bodies: Iterable[str | bytes]) -> int:
        """Replay the history; returns how many session events it held."""
        heard = 0
        for body in bodies:
            try:
                envelope = Envelope.from_json(body)
            except UnknownEvent:
                continue
            if envelope.type in SESSION_EVENT_TYPES:
                self.hear(envelope)
                heard += 1
        return heard

    def forget_expired(self) -> None:
        now = self._clock()
        self._sessions = {s: exp for s, exp in self._sessions.items() if exp > now}
        oldest_alive = now - self._lifetime
        self._users = {u: at for u, at in self._users.items() if at > oldest_alive}
        if self._everyone <= oldest_alive:
            self._everyone = 0.0


def began_at(session_id: str, issued_at: int) -> float:
    """When a session began: its id's millisecond, else the token's ``iat`` second."""
    if session_id:
        try:
            return created_at_ms(session_id) / 1000
        except ValueError:
            pass
    return float(issued_at)
