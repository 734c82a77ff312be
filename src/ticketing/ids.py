"""Opaque, time-ordered identifiers.

Ids sort by creation time (48-bit milliseconds, then 80 random bits, like a UUIDv7),
which gives "newest first" listings and ``before=<id>`` cursors an index to walk.
Within one process, ids made in the same millisecond still sort in creation order (the
random part of the previous id plus a random step, as monotonic ULIDs do).
"""

from __future__ import annotations

import os
import threading
import time

_RANDOM_BITS = 80
_lock = threading.Lock()
_last = 0


def new_id(block: int = 0) -> str:
    """A 26-character Crockford base32 id; its time prefix makes ids sort by age.

    ``block`` > 0 keeps the next ``block`` values for :func:`unit_id`: this process hands
    none of them out (other processes' 80 random bits make a clash negligible).
    """
    global _last
    millis = time.time_ns() // 1_000_000
    with _lock:
        value = (millis << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
        if value <= _last:  # same millisecond (or the clock stepped back): keep the order
            value = _last + 1 + int.from_bytes(os.urandom(4), "big")
        _last = value + block
    return _encode(value)


def unit_id(first: str, index: int) -> str:
    """The id of unit ``index`` (from 0) of a block opened by ``new_id(block)``: every
    module derives the same ids from the first one, so an event of many tickets travels
    as one message instead of one per ticket."""
    return _encode(_decode(first) + index + 1)


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def created_at_ms(value: str) -> int:
    """When an id was made, in milliseconds since the epoch; ValueError if it is no id."""
    return _decode(value) >> _RANDOM_BITS


def _decode(value: str) -> int:
    if not is_valid_id(value):
        raise ValueError(f"{value!r} is not an id")
    number = 0
    for char in value:
        number = number * 32 + _ALPHABET.index(char)
    return number


def is_valid_id(value: str) -> bool:
    """True when ``value`` has the shape of an id (a malformed one is a 404, not a 500)."""
    return len(value) == 26 and all(c in _ALPHABET for c in value)
