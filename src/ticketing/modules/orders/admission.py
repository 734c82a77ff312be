"""Admission tokens: a buyer's signed, short-lived pass out of an event's waiting room.

A token names the event, the user and when it stops counting, signed (HMAC-SHA256, like
``bus/consistency.py``'s tokens, with its own purpose prefix) by the deployment's key,
so every replica checks it without a lookup and nobody can make one up or hand theirs
to another account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import UTC, datetime

_SIGNATURE_BYTES = 16
MAX_TOKEN_LENGTH = 512


def _signature(payload: bytes, key: str) -> bytes:
    return hmac.new(key.encode(), b"admission:" + payload, hashlib.sha256).digest()[
        :_SIGNATURE_BYTES]


def _unpadded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: str, event_id: str, user_id: str, expires_at: datetime) -> str:
    """A token letting ``user_id`` reserve tickets of ``event_id`` until ``expires_at``."""
    payload = json.dumps({"e": event_id, "u": user_id, "x": int(expires_at.timestamp())},
                         separators=(",", ":")).encode()
    return ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=")
                    for part in (payload, _signature(payload, key)))


def admits(token: str | None, key: str, event_id: str, user_id: str, now: datetime) -> bool:
    """True when ``token`` is a genuine, unexpired pass for this user and event."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return False
    encoded_payload, encoded_signature = token.split(".")
    try:
        payload, signature = _unpadded(encoded_payload), _unpadded(encoded_signature)
        if not hmac.compare_digest(signature, _signature(payload, key)):
            return False
        content = json.loads(payload)
        expires_at = datetime.fromtimestamp(int(content["x"]), UTC)
        return bool(content["e"] == event_id and content["u"] == user_id
                    and now < expires_at)
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError):
        return False
