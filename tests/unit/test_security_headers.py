"""The security headers: a policy with no inline script, Stripe only where it is used,
HSTS only in production."""

from __future__ import annotations

from pathlib import Path

from ticketing.settings import Settings
from ticketing.web.shell.security import content_security_policy, security_headers


def settings(**values: str) -> Settings:
    return Settings(env=values.get("env", "development"), data_dir=Path("var"),  # type: ignore[arg-type]
                    jwt_key="k" * 40, payments=values.get("payments", "fake"))  # type: ignore[arg-type]


def test_the_policy_allows_this_origin_only_and_no_inline_script() -> None:
    policy = dict(part.split(" ", 1) for part in content_security_policy(settings()).split("; "))

    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["frame-src"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert all("unsafe" not in value for value in policy.values())


def test_with_stripe_the_policy_lets_stripe_js_and_its_frames_in() -> None:
    policy = content_security_policy(settings(payments="stripe"))

    assert "script-src 'self' https://js.stripe.com" in policy
    assert "frame-src https://js.stripe.com https://hooks.stripe.com" in policy
    assert "connect-src 'self' https://api.stripe.com" in policy


def test_hsts_only_in_production() -> None:
    assert "Strict-Transport-Security" not in security_headers(settings())
    assert security_headers(settings(env="production"))["Strict-Transport-Security"] \
        .startswith("max-age=31536000")
