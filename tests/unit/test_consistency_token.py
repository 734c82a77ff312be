"""The consistency token (ADR 16), over plain values."""

from __future__ import annotations

import pytest

from ticketing.bus.consistency import (
    MAX_TOKEN_EVENTS,
    TOKEN_LIFETIME_SECONDS,
    CausedEvent,
    decode_token,
    encode_token,
)

KEY = "k" * 40
NOW = 1_796_000_000.0
PAID = CausedEvent("payment:authorized", "01jd0z5c8y9x7w6v5t4s3r2q1p")


def test_a_token_names_the_events_it_was_made_for() -> None:
    ordered = CausedEvent("order:created", "01jd0z5c8y9x7w6v5t4s3r2q1q")

    assert decode_token(encode_token([ordered, PAID], KEY, NOW), KEY, NOW) == [ordered, PAID]


def test_a_token_keeps_only_the_latest_events() -> None:
    many = [CausedEvent("ticket:updated", f"id-{n}") for n in range(MAX_TOKEN_EVENTS + 3)]

    assert decode_token(encode_token(many, KEY, NOW), KEY, NOW) == many[-MAX_TOKEN_EVENTS:]


@pytest.mark.parametrize("token", [
    None, "", "no-dot", "a.b.c", "!!!.???", "e30.e30", "x" * 2000,
])
def test_a_missing_or_malformed_token_names_nothing(token: str | None) -> None:
    assert decode_token(token, KEY, NOW) == []


def test_a_token_signed_with_another_key_or_altered_names_nothing() -> None:
    token = encode_token([PAID], KEY, NOW)
    payload, signature = token.split(".")
    forged = encode_token([CausedEvent("order:created", "someone-elses")], "other" * 8, NOW)

    assert decode_token(encode_token([PAID], "other" * 8, NOW), KEY, NOW) == []
    assert decode_token(f"{forged.split('.')[0]}.{signature}", KEY, NOW) == []
    assert decode_token(f"{payload}.{signature[:-2]}", KEY, NOW) == []


def test_a_token_lives_a_minute_and_never_comes_from_the_future() -> None:
    token = encode_token([PAID], KEY, NOW)

    assert decode_token(token, KEY, NOW + TOKEN_LIFETIME_SECONDS) == [PAID]
    assert decode_token(token, KEY, NOW + TOKEN_LIFETIME_SECONDS + 1) == []
    assert decode_token(token, KEY, NOW - 5) == []
