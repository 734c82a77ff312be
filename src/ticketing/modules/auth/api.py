"""The auth module's public facade: the only names the web layer may use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from tortoise.exceptions import IntegrityError

from ticketing.bus.contracts import SessionEnded, SessionsEnded, UserRegistered
from ticketing.bus.outbox import Outbox
from ticketing.bus.sessions import Revocations
from ticketing.clock import Clock, utc_now
from ticketing.errors import DomainError, Throttled
from ticketing.ids import new_id
from ticketing.modules.auth.models import User
from ticketing.modules.auth.passwords import hash_password, verify_password
from ticketing.modules.auth.throttle import (
    SIGNIN_PER_ACCOUNT,
    SIGNIN_PER_ACCOUNT_AND_ADDRESS,
    SIGNIN_PER_ADDRESS,
    SIGNUP_PER_ADDRESS,
    Limit,
    Throttle,
)
from ticketing.modules.auth.tokens import SessionUser, TokenCodec
from ticketing.settings import Settings

__all__ = ["Auth", "AuthApi", "EmailInUse", "InvalidCredentials", "SessionReader",
           "SessionUser", "SignedIn"]


class EmailInUse(DomainError):
    code = "email_in_use"


class InvalidCredentials(DomainError):
    """One message for an unknown email and a wrong password: no account probing."""

    code = "invalid_credentials"


@dataclass(frozen=True)
class SignedIn:
    """A user who just signed up or in, and the cookie value that proves it."""

    id: str
    email: str
    cookie: str


class SessionReader:
    """Reads session cookies without a database: every process can tell who is signed in,
    and which sessions ended (learned from the bus, ``ticketing.bus.sessions``)."""

    def __init__(self, settings: Settings, revocations: Revocations | None = None) -> None:
        self._codec = TokenCodec(settings.jwt_key, settings.jwt_lifetime_seconds,
                                 settings.jwt_previous_keys)
        self._revocations = revocations

    def read(self, cookie: str | None) -> SessionUser | None:
        user = self._codec.read_cookie(cookie)
        if user is not None and self._revocations is not None and self._revocations.has_ended(
                user.session_id, user.id, user.iat):
            return None
        return user


@runtime_checkable
class Auth(Protocol):
    """What the web layer may ask of auth: commands only (reading a session is
    :class:`SessionReader`'s, in every process)."""

    async def sign_up(self, email: str, password: str, client_address: str) -> SignedIn:
        """Create an account; emails are unique whatever their case."""

    async def sign_in(self, email: str, password: str, client_address: str) -> SignedIn:
        """Check the password; unknown email and wrong password fail alike, and too many
        failures are throttled (429)."""

    async def sign_out(self, session: SessionUser | None, *, everywhere: bool = False) -> None:
        """End this session in every process, or with ``everywhere`` every session of the
        user begun until now; nothing to do when signed out (the caller expires the
        cookie either way)."""


class AuthApi(Auth):
    """Sign-up and sign-in against the auth schema.

    ``clock`` times the throttle's windows. Sessions stay on the system clock: PyJWT
    checks a token's expiry against it, and an ended session is compared with the
    token's issue time.
    """

    def __init__(self, settings: Settings, outbox: Outbox | None = None,
                 clock: Clock = utc_now) -> None:
        self._codec = TokenCodec(settings.jwt_key, settings.jwt_lifetime_seconds,
                                 settings.jwt_previous_keys)
        self._outbox = outbox
        self._throttle = Throttle(enabled=settings.throttle, clock=clock)

    async def sign_up(self, email: str, password: str, client_address: str) -> SignedIn:
        await self._throttle.check(SIGNUP_PER_ADDRESS, client_address)
        await self._throttle.count(SIGNUP_PER_ADDRESS, client_address)
        email = canonical_email(email)
        if await User.exists(email=email):
            raise EmailInUse()
        password_hash = await hash_password(password)
        assert self._outbox is not None, "the auth module publishes through its outbox"
        try:
            async with self._outbox.transaction() as unit:
                user = await User.create(id=new_id(), email=email, password_hash=password_hash,
                                         using_db=unit.connection)
                await unit.publish(UserRegistered(user_id=user.id, email=user.email))
        except IntegrityError:  # a concurrent sign-up took the address first
            raise EmailInUse() from None
        return SignedIn(user.id, user.email, self._codec.issue_cookie(user.id, user.email))

    async def sign_in(self, email: str, password: str, client_address: str) -> SignedIn:
        """The password is checked once a slot of each sign-in window is taken
        (throttle.py); a success gives them back and forgets the account's failures."""
        email = canonical_email(email)
        windows = ((SIGNIN_PER_ADDRESS, client_address),
                   (SIGNIN_PER_ACCOUNT_AND_ADDRESS, f"{email}|{client_address}"),
                   (SIGNIN_PER_ACCOUNT, email))
        taken: list[tuple[Limit, str]] = []
        try:
            for limit, subject in windows:
                await self._throttle.take(limit, subject)
                taken.append((limit, subject))
        except Throttled:
            for limit, subject in taken:  # a refused attempt costs no other window
                await self._throttle.give_back(limit, subject)
            raise
        user = await User.get_or_none(email=email)
        if not await verify_password(user.password_hash if user else None, password):
            raise InvalidCredentials()
        assert user is not None
        await self._throttle.give_back(SIGNIN_PER_ADDRESS, client_address)
        for limit, subject in windows[1:]:
            await self._throttle.clear(limit, subject)
        return SignedIn(user.id, user.email, self._codec.issue_cookie(user.id, user.email))

    async def sign_out(self, session: SessionUser | None, *, everywhere: bool = False) -> None:
        if session is None:
            return
        event: SessionEnded | SessionsEnded = (
            SessionsEnded(user_id=session.id, ended_at=datetime.now(UTC)) if everywhere
            else SessionEnded(session_id=session.session_id, user_id=session.id,
                              expires_at=datetime.fromtimestamp(session.exp, UTC)))
        assert self._outbox is not None, "the auth module publishes through its outbox"
        async with self._outbox.transaction() as unit:
            await unit.publish(event)


def canonical_email(email: str) -> str:
    return email.strip().lower()
