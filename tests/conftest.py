"""Shared fixtures: settings per backend, a migrated database, the app and its client.

Storage behaviour is written once and runs against every backend: SQLite always,
PostgreSQL when ``CI=true`` (then an unreachable server fails the run) or when
``TICKETING_TEST_POSTGRES_URL`` names a server. Each run gets its own PostgreSQL
database, dropped at the end; each test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from quart import Quart
from quart.testing.app import TestApp
from quart.typing import TestClientProtocol
from tortoise.backends.base.executor import EXECUTOR_CACHE

from tests.support.payments import LockAwareGateway
from ticketing import db
from ticketing.app import create_app
from ticketing.modules.payments.api import PaymentGateway
from ticketing.settings import MODULE_NAMES, Settings

# The real NATS JetStream server fixture (``nats_server``), for every test that wants it,
# the bus harness (``bus_harness``: written once, run on every transport), and the split
# deployment's processes (a failed test that ran them carries their logs).
pytest_plugins = ["tests.support.nats", "tests.support.bus", "tests.support.split"]

class PatientTestApp(TestApp):
    """Quart's test app with room for a graceful stop.

    Stopping lets relays and consumers finish the batch in hand (a cancelled query can
    wedge a connection), which on a loaded machine can take longer than Quart's default
    six seconds; a stop cut short would leave the databases open for the next test.
    """

    def __init__(self, app: Quart, startup_timeout: int = 60, shutdown_timeout: int = 60) -> None:
        super().__init__(app, startup_timeout, shutdown_timeout)


Quart.test_app_class = PatientTestApp

TEST_JWT_KEY = "test-signing-key-that-is-long-enough-0123456789"
POSTGRES_ADMIN_URL = os.environ.get(
    "TICKETING_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_REQUIRED = os.environ.get("CI", "").lower() == "true"
POSTGRES_ENABLED = POSTGRES_REQUIRED or "TICKETING_TEST_POSTGRES_URL" in os.environ

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=[
        pytest.mark.postgres,
        pytest.mark.skipif(
            not POSTGRES_ENABLED,
            reason="PostgreSQL leg runs with CI=true or TICKETING_TEST_POSTGRES_URL"),
    ]),
]


def base_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: embedded defaults, a fixed key, throttling on."""
    return replace(Settings(env="test", data_dir=data_dir, jwt_key=TEST_JWT_KEY), **overrides)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _create_postgres_database() -> str:
    """A new, empty database on the test server; its URL. Fails in CI if unreachable."""
    if not POSTGRES_ENABLED:
        pytest.skip("PostgreSQL leg not enabled")
    name = f"ticketing_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as error:
        message = f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {error}"
        if POSTGRES_REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_postgres_database(url: str) -> None:
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database made for this run, migrated once, dropped afterwards."""
    url = _create_postgres_database()
    asyncio.run(db.apply_migrations(Settings(env="test", database_url=url, jwt_key=TEST_JWT_KEY)))
    yield url
    _drop_postgres_database(url)


@pytest.fixture
def fresh_postgres_url() -> Iterator[Callable[[], str]]:
    """Make new, empty (unmigrated) PostgreSQL databases on demand; dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(_create_postgres_database())
        return made[-1]

    yield make
    for url in made:
        _drop_postgres_database(url)


async def empty_postgres(url: str) -> None:
    """Delete every row of every module table (the schema and migrations stay)."""
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY($1::text[])"
            " AND tablename <> 'tortoise_migrations'", list(MODULE_NAMES),
        )
        if tables:
            names = ", ".join(f'"{t["schemaname"]}"."{t["tablename"]}"' for t in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY")
    finally:
        await connection.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test run: ``sqlite`` or ``postgres``."""
    return str(request.param)


@pytest.fixture
def make_settings(backend: str, tmp_path: Path,
                  request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Build settings on the test's backend; keyword arguments override fields."""
    database_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None

    def build(**overrides: Any) -> Settings:
        return base_settings(tmp_path / "data", database_url=database_url, **overrides)

    return build


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every module's SQLite file, migrated once per run; each test starts from a copy.

    Migrating five databases costs a few hundred milliseconds; copying them, a few.
    """
    template = tmp_path_factory.mktemp("sqlite-migrated")
    asyncio.run(db.apply_migrations(base_settings(template)))
    return template


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Fields a test module's ``settings`` should have: override this fixture to set them."""
    return {}


@pytest.fixture
async def settings(make_settings: Callable[..., Settings], backend: str,
                   migrated_sqlite: Path, settings_overrides: dict[str, Any]) -> Settings:
    """Default test settings (and ``settings_overrides``) on a migrated, empty database."""
    built = make_settings(**settings_overrides)
    # Tortoise caches INSERT statements per (connection name, table), not per dialect;
    # tests switch one connection name between SQLite and PostgreSQL, so forget them.
    EXECUTOR_CACHE.clear()
    if backend == "postgres":
        assert built.database_url is not None
        await empty_postgres(built.database_url)
    else:
        shutil.copytree(migrated_sqlite, built.data_dir, dirs_exist_ok=True)
    return built


@pytest.fixture
def gateway() -> PaymentGateway:
    """The payment provider the app is built with, made here and passed in, so a test
    holds it instead of reaching into the app: the offline one (a Stripe test overrides
    it), noting any call made while a payments transaction is open."""
    return LockAwareGateway()


@pytest.fixture
async def app(settings: Settings, gateway: PaymentGateway) -> AsyncIterator[Quart]:
    """The app, started (databases open) for the test and stopped after it."""
    application = create_app(settings, gateway=gateway)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app: Quart) -> TestClientProtocol:
    return app.test_client()
