"""Session tokens: HS256 JWTs in a cookie holding base64 JSON ``{"jwt": ...}``."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"


@dataclass(frozen=True)
class SessionUser:
    """Who the session cookie says is signed in."""

    id: str
    email: str
    iat: int
    exp: int

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "iat": self.iat, "exp": self.exp}


class TokenCodec:
    """Issues and reads session cookies; any bad cookie simply means "signed out"."""

    def __init__(self, key: str, lifetime_seconds: int) -> None:
        self._key = key
        self.lifetime_seconds = lifetime_seconds

    def issue_cookie(self, user_id: str, email: str) -> str:
        now = int(time.time())
        claims = {"id": user_id, "email": email, "iat": now, "exp": now + self.lifetime_seconds}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return base64.b64encode(json.dumps({"jwt": token}).encode()).decode()

    def read_cookie(self, cookie: str | None) -> SessionUser | None:
        if not cookie:
            return None
        try:
            envelope = json.loads(base64.b64decode(cookie, validate=True))
            token = envelope["jwt"]
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "id", "email"]},
            )
            return SessionUser(
                id=str(claims["id"]), email=str(claims["email"]),
                iat=int(claims["iat"]), exp=int(claims["exp"]),
            )
        except (binascii.Error, ValueError, TypeError, KeyError, jwt.PyJWTError):
            return None
