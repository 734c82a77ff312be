"""TokenCodec: a cookie is base64 JSON {"jwt": HS256 token}; anything else is signed out."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from ticketing.modules.auth.tokens import SessionUser, TokenCodec, key_id

KEY = "unit-test-signing-key-0123456789abcdef"
LIFETIME = 3600


def cookie_for(token: str | Any) -> str:
    """The cookie value the app would set around ``token``."""
    return base64.b64encode(json.dumps({"jwt": token}).encode()).decode()


def b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    found: dict[str, Any] = {"id": "01abc", "email": "a@example.com", "iat": now,
                             "exp": now + LIFETIME}
    found.update(overrides)
    return {name: value for name, value in found.items() if value is not None}


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec(KEY, LIFETIME)


def test_an_issued_cookie_reads_back_as_its_user(codec: TokenCodec) -> None:
    before = int(time.time())

    user = codec.read_cookie(codec.issue_cookie("01abc", "a@example.com"))

    assert user is not None
    assert (user.id, user.email) == ("01abc", "a@example.com")
    assert before <= user.iat <= int(time.time())
    assert user.exp == user.iat + LIFETIME
    assert user.as_json() == {"id": "01abc", "email": "a@example.com", "iat": user.iat,
                              "exp": user.exp}


def test_the_cookie_is_base64_json_holding_an_hs256_jwt(codec: TokenCodec) -> None:
    envelope = json.loads(base64.b64decode(codec.issue_cookie("01abc", "a@example.com")))

    assert set(envelope) == {"jwt"}
    header = jwt.get_unverified_header(envelope["jwt"])
    assert header["alg"] == "HS256"
    assert header["kid"] == key_id(KEY)
    decoded = jwt.decode(envelope["jwt"], KEY, algorithms=["HS256"])
    assert set(decoded) == {"id", "email", "iat", "exp", "sid"}


def test_a_token_signed_with_the_right_key_is_accepted(codec: TokenCodec) -> None:
    assert codec.read_cookie(cookie_for(jwt.encode(claims(), KEY, algorithm="HS256"))) == \
        SessionUser(**claims())


@pytest.mark.parametrize("token", [
    pytest.param(f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims())}.", id="alg-none"),
    pytest.param(f"{b64url({'alg': 'None'})}.{b64url(claims())}.", id="alg-None"),
    pytest.param(jwt.encode(claims(), "another-key-of-a-decent-length-0123456789",
                            algorithm="HS256"), id="foreign-key"),
    pytest.param(jwt.encode(claims(), KEY + "-and-more-because-hs512-wants-it-longer-0123456789",
                            algorithm="HS512"), id="other-algorithm"),
    pytest.param(jwt.encode(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 1), KEY,
                            algorithm="HS256"), id="expired"),
    pytest.param(jwt.encode(claims(exp=None), KEY, algorithm="HS256"), id="no-exp"),
    pytest.param(jwt.encode(claims(iat=None), KEY, algorithm="HS256"), id="no-iat"),
    pytest.param(jwt.encode(claims(id=None), KEY, algorithm="HS256"), id="no-id"),
    pytest.param(jwt.encode(claims(email=None), KEY, algorithm="HS256"), id="no-email"),
    pytest.param(jwt.encode(claims(exp="tomorrow"), KEY, algorithm="HS256"), id="exp-not-a-number"),
    pytest.param("not.a.jwt", id="garbage-jwt"),
    pytest.param(12345, id="jwt-not-a-string"),
    pytest.param(None, id="jwt-null"),
])
def test_a_bad_token_means_signed_out(codec: TokenCodec, token: Any) -> None:
    assert codec.read_cookie(cookie_for(token)) is None


def test_a_tampered_payload_means_signed_out(codec: TokenCodec) -> None:
    header, _, signature = jwt.encode(claims(), KEY, algorithm="HS256").split(".")
    forged = f"{header}.{b64url(claims(id='someone-else'))}.{signature}"

    assert codec.read_cookie(cookie_for(forged)) is None


@pytest.mark.parametrize("cookie", [
    pytest.param(None, id="no-cookie"),
    pytest.param("", id="empty"),
    pytest.param("!!!not base64!!!", id="not-base64"),
    pytest.param("é", id="not-ascii"),
    pytest.param("eyJqd3Qi", id="truncated"),
    pytest.param(base64.b64encode(b"not json").decode(), id="not-json"),
    pytest.param(base64.b64encode(b"\xff\xfe\xfd").decode(), id="not-utf8"),
    pytest.param(base64.b64encode(b'["jwt"]').decode(), id="json-array"),
    pytest.param(base64.b64encode(b'"jwt"').decode(), id="json-string"),
    pytest.param(base64.b64encode(b"{}").decode(), id="no-jwt-field"),
])
def test_a_garbage_cookie_means_signed_out(codec: TokenCodec, cookie: str | None) -> None:
    assert codec.read_cookie(cookie) is None


def test_a_codec_with_another_key_does_not_read_our_cookies(codec: TokenCodec) -> None:
    other = TokenCodec("a-different-signing-key-0123456789abcdef", LIFETIME)

    assert other.read_cookie(codec.issue_cookie("01abc", "a@example.com")) is None


def test_a_rotated_key_still_reads_its_tokens_and_the_newest_signs() -> None:
    old = TokenCodec(KEY, LIFETIME)
    rotated = TokenCodec("the-next-key-of-a-decent-length-0123456789", LIFETIME,
                         previous_keys=(KEY,))
    dropped = TokenCodec("the-next-key-of-a-decent-length-0123456789", LIFETIME)
    cookie = old.issue_cookie("01abc", "a@example.com")

    assert rotated.read_cookie(cookie) is not None
    assert dropped.read_cookie(cookie) is None
    fresh = json.loads(base64.b64decode(rotated.issue_cookie("01abc", "a@example.com")))["jwt"]
    assert jwt.get_unverified_header(fresh)["kid"] == key_id(
        "the-next-key-of-a-decent-length-0123456789")
    assert old.read_cookie(rotated.issue_cookie("01abc", "a@example.com")) is None


def test_a_token_of_release_0_1_without_kid_or_sid_still_reads(codec: TokenCodec) -> None:
    user = codec.read_cookie(cookie_for(jwt.encode(claims(), KEY, algorithm="HS256")))

    assert user is not None
    assert user.session_id == ""
