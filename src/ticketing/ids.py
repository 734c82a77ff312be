"""Opaque, time-ordered identifiers.

Ids sort by creation time (48-bit milliseconds, then 80 random bits, like a UUIDv7),
which gives "newest first" listings and ``before=<id>`` cursors an index to walk.
"""

from __future__ import annotations

import os
import time


def new_id() -> str:
    """A 26-character Crockford base32 id; its time prefix makes ids sort by age."""
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return _encode(value)


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_valid_id(value: str) -> bool:
    """True when ``value`` has the shape of an id (a malformed one is a 404, not a 500)."""
    return len(value) == 26 and all(c in _ALPHABET for c in value)
