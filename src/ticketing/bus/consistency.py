"""Read-your-writes across modules, from the caller's own proof (ADR 0016).

A write that publishes events hands the caller a *consistency token*: the events it
caused, signed with the deployment's key so that no client can name an event it did not
cause. A later request that carries the token to another module waits, bounded, until
that module's consumer has applied those events, woken by the consumer itself, never by
polling. A request without a token is answered at once from what the module knows.

This is the bus's half: which events a request caused (:func:`collect_caused`), the
token's encoding, and :class:`AppliedEvents`, where consumers say what they applied and
readers wait for it (:class:`ticketing.signals.Signals`). The web shell carries the
token in a cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from ticketing.bus.contracts import Envelope
from ticketing.signals import Signals

# How many of a request's events a token names (a request causes one or two).
MAX_TOKEN_EVENTS = 4
# Long enough for the next page or two; after that every module has caught up anyway.
TOKEN_LIFETIME_SECONDS = 60
_SIGNATURE_BYTES = 16

_caused: ContextVar[list[CausedEvent] | None] = ContextVar("ticketing_caused", default=None)


@dataclass(frozen=True)
class CausedEvent:
    """An event a write caused, as a token names it: its type and id."""

    type: str
    id: str


def collect_caused() -> list[CausedEvent]:
    """From now on in this task (a request), the events it commits; a list that grows."""
    found: list[CausedEvent] = []
    _caused.set(found)
    return found


def record_caused(published: Sequence[Envelope]) -> None:
    """Note committed events for the context collecting them, if any (a consumer's are not)."""
    found = _caused.get()
    if found is not None:
        found.extend(CausedEvent(e.type, e.id) for e in published)


def _signature(payload: bytes, key: str) -> bytes:
    mac = hmac.new(key.encode(), b"consistency:" + payload, hashlib.sha256)
    return mac.digest()[:_SIGNATURE_BYTES]


def encode_token(events: Sequence[CausedEvent], key: str, issued_at: float) -> str:
    """The signed token naming the last :data:`MAX_TOKEN_EVENTS` of ``events``, good for
    :data:`TOKEN_LIFETIME_SECONDS` from ``issued_at`` (seconds since the epoch)."""
    named = [[e.type, e.id] for e in events[-MAX_TOKEN_EVENTS:]]
    payload = json.dumps({"at": int(issued_at), "events": named},
                         separators=(",", ":")).encode()
    return ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=")
                    for part in (payload, _signature(payload, key)))


def _unpadded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_token(token: str | None, key: str, now: float) -> list[CausedEvent]:
    """The events a token names; none for a missing, malformed, forged or expired one
    (a saved token replayed later makes nobody wait)."""
    if not token or len(token) > 1024 or token.count(".") != 1:
        return []
    encoded_payload, encoded_signature = token.split(".")
    try:
        payload, signature = _unpadded(encoded_payload), _unpadded(encoded_signature)
        if not hmac.compare_digest(signature, _signature(payload, key)):
            return []
        content = json.loads(payload)
        if not 0 <= now - float(content["at"]) <= TOKEN_LIFETIME_SECONDS:
            return []
        return [CausedEvent(str(kind), str(event_id)) for kind, event_id in content["events"]]
    except (binascii.Error, ValueError, TypeError, KeyError):
        return []


class AppliedEvents(Signals[tuple[str, str]]):
    """What this process's consumers applied lately, by (consumer, event id), and the
    readers waiting for it."""
