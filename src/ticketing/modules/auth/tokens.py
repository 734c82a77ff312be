"""Session tokens: HS256 JWTs in a cookie holding base64 JSON ``{"jwt": ...}``.

Each token names its session (``sid``, a time-ordered id: when it began, to the
millisecond) so a sign-out can end exactly it, and the key that signed it (``kid``), so
the signing key can be rotated: the newest key signs, older ones
(``TICKETING_JWT_PREVIOUS_KEYS``) are still accepted until their tokens have expired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt

from ticketing.ids import new_id

ALGORITHM = "HS256"


def key_id(key: str) -> str:
    """A name for a key that reveals nothing of it."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SessionUser:
    """Who the session cookie says is signed in, and which session it is."""

    id: str
    email: str
    iat: int
    exp: int
    session_id: str = ""  # empty for a token of release 0.1, which named no session

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "iat": self.iat, "exp": self.exp}


class TokenCodec:
    """Issues and reads session cookies; any bad cookie simply means "signed out"."""

    def __init__(self, key: str, lifetime_seconds: int,
                 previous_keys: tuple[str, ...] = ()) -> None:
        self._key = key
        self._kid = key_id(key)
        self._keys = {key_id(k): k for k in (*previous_keys, key)}
        self.lifetime_seconds = lifetime_seconds

    def issue_cookie(self, user_id: str, email: str) -> str:
        now = int(time.time())
        claims = {"id": user_id, "email": email, "iat": now, "exp": now + self.lifetime_seconds,
                  "sid": new_id()}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})
        return base64.b64encode(json.dumps({"jwt": token}).encode()).decode()

    def read_cookie(self, cookie: str | None) -> SessionUser | None:
        if not cookie:
            return None
        try:
            envelope = json.loads(base64.b64decode(cookie, validate=True))
            token = envelope["jwt"]
            kid = jwt.get_unverified_header(token).get("kid")
            # A token of release 0.1 has no kid: only the current key can have signed it.
            key = self._keys.get(kid) if kid is not None else self._key
            if key is None:
                return None
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "id", "email"]},
            )
            return SessionUser(
                id=str(claims["id"]), email=str(claims["email"]),
                iat=int(claims["iat"]), exp=int(claims["exp"]),
                session_id=str(claims.get("sid", "")),
            )
        except (binascii.Error, ValueError, TypeError, KeyError, AttributeError,
                jwt.PyJWTError):
            return None
