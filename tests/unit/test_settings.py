"""Settings.from_env: typed, checked once, every complaint naming its variable."""

from __future__ import annotations

import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ticketing.settings import MIN_JWT_KEY_BYTES, MODULE_NAMES, Settings, SettingsError

A_KEY = "k" * MIN_JWT_KEY_BYTES
A_PASS_KEY = "cGFzcy1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy0wMTI"  # 32 bytes, base64url


def from_env(tmp_path: Path, **variables: str) -> Settings:
    """Settings from exactly these variables, with the data dir under ``tmp_path``."""
    return Settings.from_env({"TICKETING_DATA_DIR": str(tmp_path / "data"), **variables})


def test_defaults_are_the_embedded_development_setup(tmp_path: Path) -> None:
    settings = from_env(tmp_path)

    assert settings.env == "development"
    assert settings.modules == MODULE_NAMES
    assert settings.bus == "inproc"
    assert settings.payments == "fake"
    assert settings.throttle is True
    assert settings.expiration_seconds == 900
    assert settings.jwt_lifetime_seconds == 7 * 24 * 3600
    assert settings.uses_embedded_database
    assert settings.database_url_for("auth") == f"sqlite://{tmp_path / 'data' / 'auth.sqlite3'}"
    assert settings.secure_cookies is False


@pytest.mark.parametrize(("variable", "value"), [
    ("TICKETING_ENV", "staging"),
    ("TICKETING_MODULES", "auth,billing"),
    ("TICKETING_MODULES", ","),
    ("TICKETING_BUS", "kafka"),
    ("TICKETING_NATS_URL", "http://127.0.0.1:4222"),
    ("TICKETING_NATS_URL", "nats://"),
    ("TICKETING_NATS_URL", "nats://127.0.0.1:4222,redis://127.0.0.1"),
    ("TICKETING_DATABASE_URL", "mysql://db/ticketing"),
    ("TICKETING_AUTH_DATABASE_URL", "redis://cache"),
    ("TICKETING_PAYMENTS_DATABASE_URL", "ticketing.sqlite3"),
    ("TICKETING_JWT_LIFETIME_SECONDS", "a week"),
    ("TICKETING_JWT_LIFETIME_SECONDS", "10"),
    ("TICKETING_EXPIRATION_SECONDS", "0"),
    ("TICKETING_EXPIRATION_SECONDS", "15m"),
    ("TICKETING_PAYMENTS", "paypal"),
    ("TICKETING_THROTTLE", "maybe"),
    ("TICKETING_LOG_LEVEL", "LOUD"),
    ("TICKETING_LOG_FORMAT", "xml"),
    ("TICKETING_MAX_IN_FLIGHT", "-1"),
    ("TICKETING_MAX_IN_FLIGHT", "many"),
    ("TICKETING_TRUSTED_PROXIES", "ingress-nginx"),
    ("TICKETING_TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.300"),
    ("TICKETING_REQUEST_HEAD_TIMEOUT_SECONDS", "0"),
    ("TICKETING_SMTP_URL", "http://smtp.test"),
    ("TICKETING_SMTP_URL", "smtp://smtp.test:notaport"),
    ("TICKETING_SMTP_URL", "smtp://"),
    ("TICKETING_MAIL_FROM", "no address here"),
    ("TICKETING_PUBLIC_URL", "tickets.example.com"),
])
def test_a_bad_value_raises_an_error_naming_its_variable(
    tmp_path: Path, variable: str, value: str,
) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, TICKETING_JWT_KEY=A_KEY, **{variable: value})

    assert raised.value.variable == variable
    assert str(raised.value).startswith(f"{variable}: ")
    assert "\n" not in str(raised.value)


def test_stripe_payments_require_a_stripe_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, TICKETING_PAYMENTS="stripe")

    assert raised.value.variable == "TICKETING_STRIPE_KEY"


# Production with its SMTP server, which every module set that includes mail needs.
PRODUCTION = {"TICKETING_ENV": "production", "TICKETING_SMTP_URL": "smtp://smtp.test:587"}


def test_production_requires_an_smtp_server_only_where_mail_runs(tmp_path: Path) -> None:
    keys = {"TICKETING_JWT_KEY": A_KEY, "TICKETING_PASS_KEY": A_PASS_KEY}
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, TICKETING_ENV="production", **keys)
    assert raised.value.variable == "TICKETING_SMTP_URL"

    tickets = from_env(tmp_path, TICKETING_ENV="production", TICKETING_MODULES="tickets", **keys)
    assert tickets.smtp_url == ""
    mail = from_env(tmp_path, **PRODUCTION, **keys)
    assert mail.smtp_url == "smtp://smtp.test:587"


def test_mail_settings_default_to_files_and_the_local_site(tmp_path: Path) -> None:
    settings = from_env(tmp_path, TICKETING_PUBLIC_URL="https://tickets.example.com/")
    assert (settings.smtp_url, settings.public_url) == ("", "https://tickets.example.com")
    assert settings.mail_from == "Ticketing <no-reply@ticketing.localhost>"


def test_production_requires_a_jwt_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, **PRODUCTION)

    assert raised.value.variable == "TICKETING_JWT_KEY"
    assert not (tmp_path / "data" / "jwt.key").exists()


@pytest.mark.parametrize("key", ["k" * (MIN_JWT_KEY_BYTES - 1), "é" * 15, "   "])
def test_production_refuses_a_jwt_key_shorter_than_32_bytes(tmp_path: Path, key: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, **PRODUCTION, TICKETING_JWT_KEY=key)

    assert raised.value.variable == "TICKETING_JWT_KEY"


@pytest.mark.parametrize("key", ["k" * MIN_JWT_KEY_BYTES, "é" * 16])
def test_production_accepts_a_jwt_key_of_32_bytes(tmp_path: Path, key: str) -> None:
    settings = from_env(tmp_path, **PRODUCTION, TICKETING_JWT_KEY=key,
                        TICKETING_PASS_KEY=A_PASS_KEY)

    assert settings.jwt_key == key
    assert settings.secure_cookies is True
    assert not (tmp_path / "data" / "jwt.key").exists()


def test_development_generates_a_key_once_and_keeps_it_in_the_data_dir(tmp_path: Path) -> None:
    first = from_env(tmp_path)
    second = from_env(tmp_path)

    key_file = tmp_path / "data" / "jwt.key"
    assert len(first.jwt_key.encode()) >= MIN_JWT_KEY_BYTES
    assert second.jwt_key == first.jwt_key
    assert key_file.read_text().strip() == first.jwt_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_another_data_dir_gets_another_development_key(tmp_path: Path) -> None:
    assert from_env(tmp_path / "a").jwt_key != from_env(tmp_path / "b").jwt_key


def test_processes_starting_together_all_read_the_same_development_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: from_env(tmp_path).jwt_key, range(16)))

    assert len(keys) == 1
    assert "" not in keys


def test_explicit_keys_are_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = from_env(tmp_path, TICKETING_JWT_KEY="short but fine in development",
                        TICKETING_PASS_KEY=A_PASS_KEY)

    assert settings.jwt_key == "short but fine in development"
    assert settings.pass_key == A_PASS_KEY
    assert not (tmp_path / "data").exists()


def test_production_requires_a_pass_key_only_where_tickets_runs(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, **PRODUCTION, TICKETING_JWT_KEY=A_KEY)
    assert raised.value.variable == "TICKETING_PASS_KEY"

    orders = from_env(tmp_path, **PRODUCTION, TICKETING_JWT_KEY=A_KEY,
                      TICKETING_MODULES="orders")
    assert orders.pass_key == ""
    assert not (tmp_path / "data" / "pass.key").exists()


@pytest.mark.parametrize("key", ["too-short", "k" * 44, "not base64!" * 4])
def test_a_pass_key_must_be_32_bytes_of_base64url(tmp_path: Path, key: str) -> None:
    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path, TICKETING_PASS_KEY=key)
    assert raised.value.variable == "TICKETING_PASS_KEY"


def test_development_keeps_a_generated_pass_key_beside_the_jwt_key(tmp_path: Path) -> None:
    first, second = from_env(tmp_path), from_env(tmp_path)

    assert first.pass_key == second.pass_key
    assert (tmp_path / "data" / "pass.key").read_text().strip() == first.pass_key
    assert len(base64.urlsafe_b64decode(first.pass_key + "=")) == 32


def test_a_data_dir_that_is_a_file_is_named_in_the_error(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-directory"
    a_file.write_text("")

    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"TICKETING_DATA_DIR": str(a_file)})

    assert raised.value.variable == "TICKETING_DATA_DIR"


def test_a_blank_key_file_is_refused_rather_than_signing_with_an_empty_key(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "jwt.key").write_text("\n")

    with pytest.raises(SettingsError) as raised:
        from_env(tmp_path)

    assert raised.value.variable == "TICKETING_DATA_DIR"


@pytest.mark.parametrize(("raw", "modules"), [
    ("all", MODULE_NAMES),
    ("", MODULE_NAMES),
    ("auth", ("auth",)),
    ("orders,auth", ("auth", "orders")),
    (" tickets , orders ", ("tickets", "orders")),
    ("payments auth", ("auth", "payments")),
    ("auth,auth", ("auth",)),
])
def test_modules_parse_to_the_canonical_order(
    tmp_path: Path, raw: str, modules: tuple[str, ...],
) -> None:
    assert from_env(tmp_path, TICKETING_MODULES=raw).modules == modules


def test_a_module_database_url_overrides_the_shared_one(tmp_path: Path) -> None:
    settings = from_env(
        tmp_path,
        TICKETING_DATABASE_URL="postgres://db/ticketing",
        TICKETING_PAYMENTS_DATABASE_URL="postgresql://payments-db/payments",
    )

    assert settings.database_url_for("auth") == "postgres://db/ticketing"
    assert settings.database_url_for("payments") == "postgresql://payments-db/payments"
    assert not settings.uses_embedded_database


@pytest.mark.parametrize(("raw", "throttle"), [("on", True), ("off", False), ("", True)])
def test_throttle_switch(tmp_path: Path, raw: str, throttle: bool) -> None:
    assert from_env(tmp_path, TICKETING_THROTTLE=raw).throttle is throttle


def test_blank_values_mean_the_defaults(tmp_path: Path) -> None:
    blank = {name: "" for name in (
        "TICKETING_ENV", "TICKETING_BUS", "TICKETING_NATS_URL", "TICKETING_DATABASE_URL",
        "TICKETING_JWT_LIFETIME_SECONDS", "TICKETING_EXPIRATION_SECONDS", "TICKETING_PAYMENTS",
        "TICKETING_LOG_LEVEL", "TICKETING_LOG_FORMAT",
    )}

    settings = from_env(tmp_path, **blank)

    assert settings == from_env(tmp_path)


def test_a_blank_data_dir_means_the_default_var(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)

    settings = Settings.from_env({"TICKETING_DATA_DIR": "", "TICKETING_JWT_KEY": A_KEY})

    assert settings.data_dir == Path("var")


def test_environment_values_are_trimmed(tmp_path: Path) -> None:
    settings = from_env(tmp_path, TICKETING_ENV=" test ", TICKETING_EXPIRATION_SECONDS=" 60 ")

    assert settings.env == "test"
    assert settings.expiration_seconds == 60


def test_trusted_proxies_are_addresses_and_networks_and_may_be_none(tmp_path: Path) -> None:
    assert from_env(tmp_path).trusted_proxies == "127.0.0.1,::1"
    assert from_env(tmp_path, TICKETING_TRUSTED_PROXIES=" 10.0.0.0/8 , fd00::/8 ").\
        trusted_proxies == "10.0.0.0/8,fd00::/8"
    assert from_env(tmp_path, TICKETING_TRUSTED_PROXIES="").trusted_proxies == ""
