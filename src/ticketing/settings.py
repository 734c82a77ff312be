"""Typed settings read from the ``TICKETING_*`` environment variables.

Every value is checked once, at start-up: a bad one raises :class:`SettingsError`
naming the variable, and the CLI turns that into a one-line message and exit code 2.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

MODULE_NAMES: tuple[str, ...] = ("auth", "tickets", "orders", "expiration", "payments", "mail")
MIN_JWT_KEY_BYTES = 32
PASS_KEY_BYTES = 32
# Development keys, generated under the data dir (backup.py carries them along).
JWT_KEY_FILE = "jwt.key"
PASS_KEY_FILE = "pass.key"

Environment = Literal["development", "test", "production"]
BusKind = Literal["inproc", "nats"]
PaymentsKind = Literal["fake", "stripe"]
LogFormat = Literal["json", "text"]


class SettingsError(ValueError):
    """A ``TICKETING_*`` variable holds a value the application cannot run with."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Settings:
    """Everything the composition root needs; build it with :meth:`from_env`."""

    env: Environment = "development"
    modules: tuple[str, ...] = MODULE_NAMES
    bus: BusKind = "inproc"
    nats_url: str = "nats://127.0.0.1:4222"
    # Copies JetStream keeps of each stream (events and expiration tasks): 1 on a single
    # server, 3 on a three-node cluster so that losing one node loses nothing.
    nats_replicas: int = 1
    data_dir: Path = Path("var")
    database_url: str | None = None
    module_database_urls: Mapping[str, str] = field(default_factory=dict)
    jwt_key: str = ""
    # Keys that signed earlier, still accepted (rotation: the newest, jwt_key, signs).
    jwt_previous_keys: tuple[str, ...] = ()
    jwt_lifetime_seconds: int = 7 * 24 * 3600
    # The Ed25519 seed (32 bytes, base64url) that signs e-ticket passes; doors hold only its
    # public half. Empty: generated once under the data dir (never in production).
    pass_key: str = ""
    expiration_seconds: int = 900
    # An event's waiting room: buyers let in per minute (organisers change it per event),
    # how long a buyer let in has to reserve, and how many may be let in but not yet
    # reserved, as a percentage of the tickets left.
    queue_rate_per_minute: int = 600
    admission_seconds: int = 300
    queue_admit_percent: int = 100
    payments: PaymentsKind = "fake"
    stripe_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_publishable_key: str = ""
    stripe_api_base: str | None = None
    # Mail: an SMTP server to send through (smtp://user:password@host:587 with STARTTLS,
    # smtps:// for TLS from the start); empty writes each message as an .eml file under
    # the data dir instead, listed at /dev/mail.
    smtp_url: str = ""
    mail_from: str = "Ticketing <no-reply@ticketing.localhost>"
    # Where the site is reached, for the links in mails.
    public_url: str = "http://127.0.0.1:8000"
    throttle: bool = True
    log_level: str = "INFO"
    # One JSON object per line (production's default) or plain text (telemetry/logs.py).
    log_format: LogFormat = "text"
    # Peers whose X-Forwarded-For is believed (a reverse proxy or ingress controller);
    # uvicorn then takes the client address from the header, right to left.
    trusted_proxies: str = "127.0.0.1,::1"
    # PostgreSQL connections per module per process: PostgreSQL's default 100 must hold
    # every module of every replica (docs/deploy.md, "Connection budget").
    db_pool_size: int = 4
    # A request head (line and headers) must arrive within this long, or the connection
    # is closed (serving.py).
    request_head_timeout_seconds: int = 10
    # Requests in flight per process before the next is shed with a 503 (0: never).
    max_in_flight: int = 64
    # Milliseconds; 0 keeps the bound fixed (shedding.py).
    latency_target_ms: int = 0

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` everywhere but on a developer's or a test's plain HTTP."""
        return self.env == "production"

    def database_url_for(self, module: str) -> str:
        """The URL of one module's database: its own override, the shared server, or SQLite."""
        if module in self.module_database_urls:
            return self.module_database_urls[module]
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.data_dir / f'{module}.sqlite3'}"

    @property
    def uses_embedded_database(self) -> bool:
        """True when every enabled module runs on the embedded SQLite default."""
        return all(self.database_url_for(m).startswith("sqlite://") for m in self.modules)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check the environment; development keys are kept under the data dir."""
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        environment = reader.choice("TICKETING_ENV", ("development", "test", "production"),
                                    "development")
        data_dir = Path(reader.text("TICKETING_DATA_DIR", "var") or "var")
        settings = cls(
            env=environment,  # type: ignore[arg-type]
            modules=reader.modules(),
            bus=reader.choice("TICKETING_BUS", ("inproc", "nats"), "inproc"),  # type: ignore[arg-type]
            nats_url=reader.url("TICKETING_NATS_URL", "nats://127.0.0.1:4222", ("nats", "tls")),
            nats_replicas=reader.integer("TICKETING_NATS_REPLICAS", 1, minimum=1),
            data_dir=data_dir,
            database_url=reader.database_url("TICKETING_DATABASE_URL"),
            module_database_urls={
                module: url
                for module in MODULE_NAMES
                if (url := reader.database_url(f"TICKETING_{module.upper()}_DATABASE_URL"))
            },
            jwt_key=reader.text("TICKETING_JWT_KEY", ""),
            jwt_previous_keys=tuple(k.strip() for k in reader.text(
                "TICKETING_JWT_PREVIOUS_KEYS", "").split(",") if k.strip()),
            pass_key=reader.text("TICKETING_PASS_KEY", ""),
            jwt_lifetime_seconds=reader.integer("TICKETING_JWT_LIFETIME_SECONDS", 7 * 24 * 3600,
                                                minimum=60),
            expiration_seconds=reader.integer("TICKETING_EXPIRATION_SECONDS", 900, minimum=1),
            queue_rate_per_minute=reader.integer("TICKETING_QUEUE_RATE_PER_MINUTE", 600,
                                                 minimum=1),
            admission_seconds=reader.integer("TICKETING_ADMISSION_SECONDS", 300, minimum=10),
            queue_admit_percent=reader.integer("TICKETING_QUEUE_ADMIT_PERCENT", 100,
                                               minimum=1),
            payments=reader.choice("TICKETING_PAYMENTS", ("fake", "stripe"), "fake"),  # type: ignore[arg-type]
            stripe_key=reader.text("TICKETING_STRIPE_KEY", ""),
            stripe_webhook_secret=reader.text("TICKETING_STRIPE_WEBHOOK_SECRET", ""),
            stripe_publishable_key=reader.text("TICKETING_STRIPE_PUBLISHABLE_KEY", ""),
            stripe_api_base=reader.text("TICKETING_STRIPE_API_BASE", "") or None,
            smtp_url=reader.optional_url("TICKETING_SMTP_URL", ("smtp", "smtps")),
            mail_from=reader.address("TICKETING_MAIL_FROM", Settings.mail_from),
            public_url=reader.url("TICKETING_PUBLIC_URL", Settings.public_url,
                                  ("http", "https")).rstrip("/"),
            throttle=reader.choice("TICKETING_THROTTLE", ("on", "off"), "on") == "on",
            log_level=reader.choice("TICKETING_LOG_LEVEL",
                                    ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
            log_format=reader.choice(  # type: ignore[arg-type]
                "TICKETING_LOG_FORMAT", ("json", "text"),
                "json" if environment == "production" else "text"),
            trusted_proxies=reader.networks("TICKETING_TRUSTED_PROXIES", "127.0.0.1,::1"),
            db_pool_size=reader.integer("TICKETING_DB_POOL_SIZE", 4, minimum=1),
            max_in_flight=reader.integer("TICKETING_MAX_IN_FLIGHT", 64, minimum=0),
            latency_target_ms=reader.integer("TICKETING_LATENCY_TARGET_MS", 0, minimum=0),
            request_head_timeout_seconds=reader.integer(
                "TICKETING_REQUEST_HEAD_TIMEOUT_SECONDS", 10, minimum=1),
        )
        return settings.with_checked_secrets()

    def with_checked_secrets(self) -> Settings:
        """Require real keys in production; elsewhere keep generated ones on disk.

        Stripe's secret key is required only where the payments module runs (which also
        renders the pay page with the publishable key), the pass key only where tickets
        runs (it alone signs passes; doors and other modules need only the public key),
        an SMTP server only where mail runs (production mail must leave the pod).
        """
        if self.payments == "stripe" and "payments" in self.modules and not self.stripe_key:
            raise SettingsError("TICKETING_STRIPE_KEY",
                                "is required when TICKETING_PAYMENTS=stripe runs payments")
        if self.env == "production" and "mail" in self.modules and not self.smtp_url:
            raise SettingsError("TICKETING_SMTP_URL",
                                "is required when TICKETING_ENV=production runs mail")
        checked = self
        if self.jwt_key:
            if self.env == "production" and len(self.jwt_key.encode()) < MIN_JWT_KEY_BYTES:
                raise SettingsError("TICKETING_JWT_KEY",
                                    f"must be at least {MIN_JWT_KEY_BYTES} bytes in production")
        elif self.env == "production":
            raise SettingsError("TICKETING_JWT_KEY", "is required when TICKETING_ENV=production")
        else:
            checked = replace(checked, jwt_key=_development_key(self.data_dir, JWT_KEY_FILE, 48))
        if self.pass_key:
            _check_pass_key(self.pass_key)
        elif self.env == "production" and "tickets" in self.modules:
            raise SettingsError("TICKETING_PASS_KEY",
                                "is required when TICKETING_ENV=production runs tickets")
        elif self.env != "production":
            checked = replace(checked, pass_key=_development_key(self.data_dir, PASS_KEY_FILE,
                                                                 PASS_KEY_BYTES))
        return checked


def _check_pass_key(key: str) -> None:
    try:
        seed = base64.b64decode(key + "=" * (-len(key) % 4), altchars=b"-_", validate=True)
    except ValueError:
        seed = b""
    if len(seed) != PASS_KEY_BYTES:
        raise SettingsError("TICKETING_PASS_KEY", f"must be {PASS_KEY_BYTES} random bytes in "
                                                  "base64url (python -c 'import secrets; "
                                                  "print(secrets.token_urlsafe(32))')")


def _development_key(data_dir: Path, name: str, size: int) -> str:
    """A random key of ``size`` bytes (base64url) kept in the data dir as ``name``, so
    development sessions and printed passes survive restarts.

    The key file appears complete or not at all (written aside, then hard-linked into
    place), so a process starting at the same moment never reads a half-written key.
    """
    key_file = data_dir / name
    try:
        try:
            return _read_key(key_file)
        except FileNotFoundError:
            pass
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=data_dir, prefix=f".{name}.",
                                         delete=False) as draft:
            draft.write(secrets.token_urlsafe(size))
        try:
            os.link(draft.name, key_file)
        except FileExistsError:  # another process kept its key first; use that one
            pass
        finally:
            os.unlink(draft.name)
        return _read_key(key_file)
    except OSError as error:
        raise SettingsError("TICKETING_DATA_DIR",
                            f"cannot keep the development key in {key_file}: {error}") from error


def _read_key(key_file: Path) -> str:
    try:
        key = key_file.read_text().strip()
    except UnicodeDecodeError:
        key = ""
    if not key:
        raise SettingsError("TICKETING_DATA_DIR",
                            f"{key_file} holds no key; delete it to generate a new one")
    return key


class _Reader:
    """Parses one variable at a time and names it in every complaint."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, default).strip()

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.text(name, default) or default
        if value not in allowed:
            raise SettingsError(name, f"must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        raw = self.text(name, str(default)) or str(default)
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(name, f"must be a whole number (got {raw!r})") from None
        if value < minimum:
            raise SettingsError(name, f"must be at least {minimum} (got {value})")
        return value

    def url(self, name: str, default: str, schemes: tuple[str, ...]) -> str:
        value = self.text(name, default) or default
        for part in value.split(","):
            parsed = urlsplit(part.strip())
            if parsed.scheme not in schemes or not parsed.hostname:
                raise SettingsError(name, f"must be a {'/'.join(schemes)}:// URL (got {value!r})")
        return value

    def optional_url(self, name: str, schemes: tuple[str, ...]) -> str:
        """Empty, or one URL of one of ``schemes``."""
        value = self.text(name, "")
        if value:
            parsed = urlsplit(value)
            try:
                parsed.port  # noqa: B018 (raises on a port that is not a number)
            except ValueError:
                parsed = urlsplit("")
            if parsed.scheme not in schemes or not parsed.hostname:
                raise SettingsError(name, f"must be empty or a {'/'.join(schemes)}:// URL "
                                          f"(got {value!r})")
        return value

    def address(self, name: str, default: str) -> str:
        """A mailbox such as ``Ticketing <no-reply@example.com>``."""
        value = self.text(name, default) or default
        _, mailbox = parseaddr(value)
        if "@" not in mailbox or any(c in value for c in "\r\n"):
            raise SettingsError(name, f"must be an address like 'Ticketing <no-reply@example.com>'"
                                      f" (got {value!r})")
        return value

    def networks(self, name: str, default: str) -> str:
        """A comma list of IP addresses and CIDR networks; empty trusts no one."""
        value = self.text(name, default)
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise SettingsError(name, f"must be IP addresses or networks like 10.0.0.0/8 "
                                          f"(got {part!r})") from None
        return ",".join(p.strip() for p in value.split(",") if p.strip())

    def database_url(self, name: str) -> str | None:
        value = self.text(name, "")
        if not value:
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("postgres", "postgresql", "sqlite"):
            raise SettingsError(name, f"must be a postgres:// or sqlite:// URL (got {scheme!r})")
        return value

    def modules(self) -> tuple[str, ...]:
        name = "TICKETING_MODULES"
        raw = self.text(name, "all") or "all"
        if raw == "all":
            return MODULE_NAMES
        chosen = [part.strip() for part in raw.replace(" ", ",").split(",") if part.strip()]
        unknown = [m for m in chosen if m not in MODULE_NAMES]
        if unknown or not chosen:
            raise SettingsError(
                name, f"must be 'all' or a comma list of {', '.join(MODULE_NAMES)} (got {raw!r})"
            )
        return tuple(m for m in MODULE_NAMES if m in chosen)
