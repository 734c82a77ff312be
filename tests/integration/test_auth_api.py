"""The auth rows of the contract (``/api/users``), on every database backend."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import argon2
import jwt
import pytest
from quart.typing import TestClientProtocol as Client

from tests.support.apps import (
    PASSWORD,
    assert_error_shape,
    jwt_claims_of,
    serving,
    session_cookie,
    sign_up,
)
from tests.support.clock import FakeClock
from ticketing.app import create_app
from ticketing.modules.auth import api as auth_api
from ticketing.modules.auth.models import User
from ticketing.modules.auth.throttle import (
    SIGNIN_PER_ACCOUNT_AND_ADDRESS,
    Limit,
)
from ticketing.settings import Settings

EMAIL_INVALID = {"message": "Email must be valid", "field": "email"}
PASSWORD_LENGTH = {"message": "Password must be between 4 and 20 characters", "field": "password"}
PASSWORD_MISSING = {"message": "You must supply a password", "field": "password"}
INVALID_CREDENTIALS = {"errors": [{"message": "Invalid credentials"}]}


async def post(client: Client, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
    response = await client.post(f"/api/users/{path}", json=body, **kwargs)
    return response.status_code, await response.get_json()


def cookie_header(value: str) -> dict[str, str]:
    return {"Cookie": f"session={value}"}


# --- sign up ---------------------------------------------------------------------------

async def test_signup_answers_201_with_id_and_email_and_sets_a_session(client: Client) -> None:
    response = await client.post("/api/users/signup",
                                 json={"email": "test@test.com", "password": PASSWORD})

    assert response.status_code == 201
    body = await response.get_json()
    assert body["email"] == "test@test.com"
    assert isinstance(body["id"], str)
    assert body["id"]
    claims = jwt_claims_of(session_cookie(response.headers.getlist("Set-Cookie")).value)
    assert (claims["id"], claims["email"]) == (body["id"], "test@test.com")


async def test_signup_response_never_contains_the_password_or_its_hash(client: Client) -> None:
    response = await client.post("/api/users/signup",
                                 json={"email": "test@test.com", "password": "s3cret-pass"})

    text = await response.get_data(as_text=True)
    assert "s3cret-pass" not in text
    assert "argon2" not in text
    assert "password" not in text.lower()


SIGNUP_RULES: list[tuple[str, dict[str, Any], list[dict[str, str]]]] = [
    ("email missing", {"password": PASSWORD}, [EMAIL_INVALID]),
    ("email invalid", {"email": "not-an-email", "password": PASSWORD}, [EMAIL_INVALID]),
    ("email without domain", {"email": "test@", "password": PASSWORD}, [EMAIL_INVALID]),
    ("email a number", {"email": 42, "password": PASSWORD}, [EMAIL_INVALID]),
    ("email a list", {"email": ["a@b.com"], "password": PASSWORD}, [EMAIL_INVALID]),
    ("email null", {"email": None, "password": PASSWORD}, [EMAIL_INVALID]),
    ("password missing", {"email": "test@test.com"}, [PASSWORD_LENGTH]),
    ("password of 3", {"email": "test@test.com", "password": "abc"}, [PASSWORD_LENGTH]),
    ("password of 3 after trim", {"email": "test@test.com", "password": "   abc   "},
     [PASSWORD_LENGTH]),
    ("password of 21", {"email": "test@test.com", "password": "x" * 21}, [PASSWORD_LENGTH]),
    ("password a number", {"email": "test@test.com", "password": 12345}, [PASSWORD_LENGTH]),
    ("both missing", {}, [EMAIL_INVALID, PASSWORD_LENGTH]),
]


async def test_signup_validation_names_each_failed_field(client: Client) -> None:
    for case, body, errors in SIGNUP_RULES:
        assert await post(client, "signup", body) == (400, {"errors": errors}), case


async def test_signup_accepts_4_and_20_characters_after_trimming(client: Client) -> None:
    await sign_up(client, "four@test.com", "  abcd  ")
    await sign_up(client, "twenty@test.com", " " + "x" * 20 + "\t")

    status, _ = await post(client, "signin", {"email": "twenty@test.com", "password": "x" * 20})
    assert status == 200


async def test_signup_with_a_taken_email_in_any_case_is_in_use(client: Client) -> None:
    await sign_up(client, "test@test.com")

    for second in ("test@test.com", "TEST@test.com", "Test@Test.COM", "  test@test.com "):
        answer = await post(client, "signup", {"email": second, "password": PASSWORD})
        assert answer == (400, {"errors": [{"message": "Email in use"}]}), second


async def test_an_email_signed_up_in_capitals_is_taken_in_lower_case(client: Client) -> None:
    await sign_up(client, "Mixed.Case@Example.COM")

    status, answer = await post(client, "signup",
                                {"email": "mixed.case@example.com", "password": PASSWORD})

    assert status == 400
    assert answer == {"errors": [{"message": "Email in use"}]}


async def test_concurrent_signups_with_one_email_create_one_account(client: Client) -> None:
    answers = await asyncio.gather(*[
        post(client, "signup", {"email": f"{prefix}@test.com", "password": PASSWORD})
        for prefix in ("race", "RACE", "Race")
    ])

    assert sorted(status for status, _ in answers) == [201, 400, 400]


async def test_passwords_are_stored_only_as_salted_argon2id_hashes(client: Client) -> None:
    await sign_up(client, "one@test.com", "same-password")
    await sign_up(client, "two@test.com", "same-password")

    stored = [user.password_hash for user in await User.all().order_by("email")]

    assert stored[0] != stored[1]
    for password_hash in stored:
        assert "same-password" not in password_hash
        parameters = argon2.extract_parameters(password_hash)
        assert parameters.type is argon2.Type.ID
        assert parameters.memory_cost >= 19 * 1024
        assert parameters.time_cost >= 2
        assert parameters.parallelism == 1


# --- sign in ---------------------------------------------------------------------------

async def test_signin_answers_200_with_the_user_and_a_fresh_session(client: Client) -> None:
    user = await sign_up(client)

    response = await client.post("/api/users/signin",
                                 json={"email": "TEST@test.com", "password": PASSWORD})

    assert response.status_code == 200
    assert await response.get_json() == {"id": user["id"], "email": "test@test.com"}
    claims = jwt_claims_of(session_cookie(response.headers.getlist("Set-Cookie")).value)
    assert claims["id"] == user["id"]


async def test_unknown_email_and_wrong_password_get_the_same_answer(client: Client) -> None:
    await sign_up(client)

    unknown = await post(client, "signin", {"email": "nobody@test.com", "password": PASSWORD})
    wrong = await post(client, "signin", {"email": "test@test.com", "password": "wrong-one"})

    assert unknown == wrong == (400, INVALID_CREDENTIALS)


async def test_a_failed_signin_sets_no_cookie(client: Client) -> None:
    response = await client.post("/api/users/signin",
                                 json={"email": "nobody@test.com", "password": PASSWORD})

    assert response.status_code == 400
    assert response.headers.getlist("Set-Cookie") == []


SIGNIN_RULES: list[tuple[str, dict[str, Any], list[dict[str, str]]]] = [
    ("password missing", {"email": "test@test.com"}, [PASSWORD_MISSING]),
    ("password empty", {"email": "test@test.com", "password": ""}, [PASSWORD_MISSING]),
    ("password blank", {"email": "test@test.com", "password": "   "}, [PASSWORD_MISSING]),
    ("password a number", {"email": "test@test.com", "password": 1234}, [PASSWORD_MISSING]),
    ("email invalid", {"email": "nope", "password": PASSWORD}, [EMAIL_INVALID]),
    ("both missing", {}, [EMAIL_INVALID, PASSWORD_MISSING]),
]


async def test_signin_validation_names_each_failed_field(client: Client) -> None:
    for case, body, errors in SIGNIN_RULES:
        assert await post(client, "signin", body) == (400, {"errors": errors}), case


# --- sign out and the current user ----------------------------------------------------

async def test_signout_answers_an_empty_object_and_expires_the_cookie(client: Client) -> None:
    await sign_up(client)

    response = await client.post("/api/users/signout")

    assert response.status_code == 200
    assert await response.get_json() == {}
    cookie = session_cookie(response.headers.getlist("Set-Cookie"))
    assert cookie.value == ""
    assert cookie["max-age"] == "0"
    assert cookie["path"] == "/"
    current = await client.get("/api/users/currentuser")
    assert await current.get_json() == {"currentUser": None}


async def test_signout_when_signed_out_is_fine(client: Client) -> None:
    response = await client.post("/api/users/signout")

    assert response.status_code == 200
    assert await response.get_json() == {}


async def test_currentuser_is_null_when_signed_out(client: Client) -> None:
    response = await client.get("/api/users/currentuser")

    assert response.status_code == 200
    assert await response.get_json() == {"currentUser": None}


async def test_currentuser_holds_the_session_claims(client: Client, settings: Settings) -> None:
    user = await sign_up(client)
    before = int(time.time())

    response = await client.get("/api/users/currentuser")

    current = (await response.get_json())["currentUser"]
    assert current["id"] == user["id"]
    assert current["email"] == "test@test.com"
    assert before - 5 <= current["iat"] <= before + 5
    assert current["exp"] == current["iat"] + settings.jwt_lifetime_seconds
    assert "password" not in current


def foreign_key_cookie(claims: dict[str, Any]) -> str:
    token = jwt.encode(claims, "someone-elses-key-that-is-long-enough-0123", algorithm="HS256")
    return base64.b64encode(json.dumps({"jwt": token}).encode()).decode()


def alg_none_cookie(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
    return base64.b64encode(json.dumps({"jwt": token}).encode()).decode()


def expired_cookie(claims: dict[str, Any], key: str) -> str:
    token = jwt.encode({**claims, "exp": int(time.time()) - 10}, key, algorithm="HS256")
    return base64.b64encode(json.dumps({"jwt": token}).encode()).decode()


async def test_a_bad_session_cookie_means_signed_out_not_an_error(
    client: Client, settings: Settings,
) -> None:
    now = int(time.time())
    claims = {"id": "01aaaaaaaaaaaaaaaaaaaaaaaa", "email": "a@test.com", "iat": now,
              "exp": now + 3600}
    cookies = {
        "garbage": "garbage!!!",
        "foreign key": foreign_key_cookie(claims),
        "alg none": alg_none_cookie(claims),
        "expired": expired_cookie(claims, settings.jwt_key),
        "not base64 JSON": base64.b64encode(b"{jwt:").decode(),
    }

    for kind, value in cookies.items():
        response = await client.get("/api/users/currentuser", headers=cookie_header(value))
        assert response.status_code == 200, kind
        assert await response.get_json() == {"currentUser": None}, kind


async def test_a_bad_session_cookie_does_not_stop_a_signup(client: Client) -> None:
    response = await client.post("/api/users/signup", headers=cookie_header("garbage"),
                                 json={"email": "test@test.com", "password": PASSWORD})

    assert response.status_code == 201


# --- the session cookie ----------------------------------------------------------------

async def test_session_cookie_is_httponly_lax_site_wide_and_not_secure_in_test(
    client: Client, settings: Settings,
) -> None:
    body = {"email": "test@test.com", "password": PASSWORD}
    signed_up = await client.post("/api/users/signup", json=body)
    signed_in = await client.post("/api/users/signin", json=body)

    for response in (signed_up, signed_in):
        cookie = session_cookie(response.headers.getlist("Set-Cookie"))
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert not cookie["secure"]
        assert cookie["max-age"] == str(settings.jwt_lifetime_seconds)


async def test_session_cookie_is_secure_in_production(settings: Settings) -> None:
    production = replace(settings, env="production",  # its own pass key and SMTP server
                         pass_key="cGFzcy1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy0wMTI",
                         smtp_url="smtp://127.0.0.1:1")
    async with serving(production) as client:
        signed_up = await client.post("/api/users/signup",
                                      json={"email": "test@test.com", "password": PASSWORD})
        signed_out = await client.post("/api/users/signout")

    for response in (signed_up, signed_out):
        cookie = session_cookie(response.headers.getlist("Set-Cookie"))
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"


# --- login throttling ------------------------------------------------------------------

async def fail_signin(client: Client, email: str, address: str = "198.51.100.1") -> Any:
    return await client.post("/api/users/signin", json={"email": email, "password": "wrong"},
                             scope_base={"client": (address, 50000)})


async def right_signin(client: Client, address: str = "198.51.100.1") -> Any:
    return await client.post("/api/users/signin", scope_base={"client": (address, 50000)},
                             json={"email": "test@test.com", "password": PASSWORD})


@pytest.fixture
async def clocked(settings: Settings) -> AsyncIterator[tuple[Client, FakeClock]]:
    """A client of an app whose throttle windows run on a clock the test moves."""
    clock = FakeClock()
    app = create_app(settings, clock=clock)
    async with app.test_app():
        yield app.test_client(), clock


async def test_repeated_failures_for_one_account_from_one_address_answer_429(
    clocked: tuple[Client, FakeClock],
) -> None:
    client, _ = clocked
    await sign_up(client)
    limit = SIGNIN_PER_ACCOUNT_AND_ADDRESS
    for _ in range(limit.failures):
        assert (await fail_signin(client, "test@test.com")).status_code == 400

    throttled = await fail_signin(client, "Test@test.com")
    right_password = await right_signin(client)

    for response in (throttled, right_password):
        assert response.status_code == 429
        assert_error_shape(await response.get_json())
        assert response.headers["Retry-After"] == str(limit.window_seconds)  # no time passed
    other_account = await fail_signin(client, "someone-else@test.com")
    assert other_account.status_code == 400


async def test_a_throttled_account_may_sign_in_again_once_its_window_has_passed(
    clocked: tuple[Client, FakeClock],
) -> None:
    client, clock = clocked
    await sign_up(client)
    limit = SIGNIN_PER_ACCOUNT_AND_ADDRESS
    for _ in range(limit.failures):
        await fail_signin(client, "test@test.com")

    clock.advance(limit.window_seconds - 1)
    a_second_early = await right_signin(client)
    clock.advance(1)
    on_time = await right_signin(client)

    assert a_second_early.status_code == 429
    assert a_second_early.headers["Retry-After"] == "1"
    assert on_time.status_code == 200


async def test_someone_elses_guesses_never_lock_the_owner_out(client: Client) -> None:
    await sign_up(client)
    for _ in range(SIGNIN_PER_ACCOUNT_AND_ADDRESS.failures + 3):
        await fail_signin(client, "test@test.com", "203.0.113.66")

    owner = await right_signin(client, "198.51.100.7")

    assert owner.status_code == 200


async def test_the_account_throttle_follows_the_account_across_addresses(
    client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth_api, "SIGNIN_PER_ACCOUNT", Limit("signin-account", 2, 900))
    await fail_signin(client, "victim@test.com", "198.51.100.1")
    await fail_signin(client, "victim@test.com", "198.51.100.2")

    response = await fail_signin(client, "victim@test.com", "198.51.100.3")

    assert response.status_code == 429


async def test_a_successful_signin_forgets_the_accounts_failures(
    client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth_api, "SIGNIN_PER_ACCOUNT", Limit("signin-account", 2, 900))
    await sign_up(client)
    await fail_signin(client, "test@test.com")
    status, _ = await post(client, "signin", {"email": "test@test.com", "password": PASSWORD})
    assert status == 200

    await fail_signin(client, "test@test.com")

    assert (await fail_signin(client, "test@test.com")).status_code == 400


async def test_repeated_failures_from_one_address_answer_429_for_any_account(
    client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(auth_api, "SIGNIN_PER_ADDRESS", Limit("signin-address", 3, 900))
    for n in range(3):
        assert (await fail_signin(client, f"probe{n}@test.com", "203.0.113.9")).status_code == 400

    from_that_address = await fail_signin(client, "fresh@test.com", "203.0.113.9")
    from_elsewhere = await fail_signin(client, "fresh@test.com", "203.0.113.10")

    assert from_that_address.status_code == 429
    assert int(from_that_address.headers["Retry-After"]) > 0
    assert from_elsewhere.status_code == 400


async def test_concurrent_guesses_check_no_more_passwords_than_the_limit(
    client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked = 0
    real_verify = auth_api.verify_password

    async def counting(password_hash: str | None, password: str) -> bool:
        nonlocal checked
        checked += 1
        return await real_verify(password_hash, password)

    monkeypatch.setattr(auth_api, "verify_password", counting)
    await sign_up(client)
    responses = await asyncio.gather(*[fail_signin(client, "test@test.com") for _ in range(40)])

    statuses = sorted(r.status_code for r in responses)
    limit = SIGNIN_PER_ACCOUNT_AND_ADDRESS.failures
    assert statuses == [400] * limit + [429] * (40 - limit)
    assert checked == limit


async def test_throttle_off_never_throttles(settings: Settings) -> None:
    async with serving(replace(settings, throttle=False)) as client:
        statuses = [(await fail_signin(client, "test@test.com")).status_code
                    for _ in range(SIGNIN_PER_ACCOUNT_AND_ADDRESS.failures + 2)]

    assert statuses == [400] * (SIGNIN_PER_ACCOUNT_AND_ADDRESS.failures + 2)


async def test_a_hundred_signups_a_minute_from_one_address_are_not_throttled(
    client: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def cheap_hash(password: str) -> str:  # argon2 costs ~30 ms; the count is the point
        return f"not-a-real-hash:{password}"

    monkeypatch.setattr(auth_api, "hash_password", cheap_hash)

    for n in range(100):
        response = await client.post("/api/users/signup",
                                     json={"email": f"u{n}@test.com", "password": PASSWORD},
                                     scope_base={"client": ("192.0.2.7", 40000)})
        assert response.status_code == 201, (n, await response.get_json())
