"""Persistence wiring: one Tortoise app and one connection per module.

On PostgreSQL every module lives in its own schema (the connection's ``search_path``),
so one server can host all five or each module can point at its own database. The
embedded default is one SQLite file per module under ``TICKETING_DATA_DIR``.
"""

from __future__ import annotations

import asyncio
import fcntl
import zlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as tortoise_migrate

from ticketing.settings import Settings

# pg_advisory_lock's key for `migrate`: any constant; derived from a name so it says whose.
MIGRATION_LOCK_KEY = zlib.crc32(b"ticketing.migrate")
MIGRATION_LOCK_FILE = ".migrate.lock"


def connection_config(settings: Settings, module: str) -> dict[str, Any]:
    """The Tortoise connection of one module, with its schema on PostgreSQL."""
    url = settings.database_url_for(module)
    if url.startswith("postgresql://"):
        url = "postgres://" + url.removeprefix("postgresql://")
    config = expand_db_url(url)
    credentials = config["credentials"]
    if config["engine"] == "tortoise.backends.asyncpg":
        credentials["schema"] = module
        credentials.setdefault("minsize", 1)
        credentials.setdefault("maxsize", settings.db_pool_size)
        credentials["reset"] = keep_session_state
    else:
        # Tortoise already turns on WAL; a busy timeout makes a second process (a CLI
        # command beside the server) wait for the write lock instead of failing.
        credentials.setdefault("busy_timeout", 5000)
    return config


async def keep_session_state(connection: object) -> None:
    """Return pooled connections as they are.

    asyncpg's default reset costs a round trip per release (advisory unlocks, CLOSE ALL,
    UNLISTEN, RESET ALL); this app uses none of those, and its one session setting, the
    module's ``search_path``, must survive anyway. Measured: about an eighth of the
    server's time under the reservation benchmark.
    """


def tortoise_config(settings: Settings) -> dict[str, Any]:
    """A Tortoise config with one app (and one connection) per enabled module."""
    return {
        "connections": {m: connection_config(settings, m) for m in settings.modules},
        "apps": {
            m: {
                "models": [f"ticketing.modules.{m}.models"],
                "default_connection": m,
                "migrations": f"ticketing_migrations.{m}",
            }
            for m in settings.modules
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _config_with_directories(settings: Settings) -> dict[str, Any]:
    config = tortoise_config(settings)
    for connection in config["connections"].values():
        if file_path := connection["credentials"].get("file_path"):
            Path(file_path).parent.mkdir(parents=True, exist_ok=True)
    return config


async def open_databases(settings: Settings) -> None:
    """Initialise Tortoise for the enabled modules; connections open lazily.

    The global fallback lets tasks that Quart starts outside the request context
    (the lifespan, background relays) see the same connections.
    """
    await Tortoise.init(config=_config_with_directories(settings), _enable_global_fallback=True)


async def close_databases() -> None:
    await Tortoise.close_connections()


def postgres_dsn(url: str) -> str | None:
    """The libpq form of a module's database URL, or None when it is not PostgreSQL.

    Tortoise's pool options in the query (``?maxsize=``) mean nothing to libpq, asyncpg
    and pg_dump; only ``sslmode`` is kept.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return None
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k == "sslmode"])
    return urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))


@asynccontextmanager
async def migration_lock(settings: Settings) -> AsyncIterator[None]:
    """Hold every database's migration lock: two replicas starting at once take turns.

    PostgreSQL: a session advisory lock on each distinct server database (taken in a
    fixed order, so two migrators never deadlock), released when its connection closes,
    even if the process dies. SQLite: an exclusive ``flock`` on a file in the data dir.
    """
    urls = [settings.database_url_for(m) for m in settings.modules]
    dsns = sorted({dsn for url in urls if (dsn := postgres_dsn(url))})
    async with AsyncExitStack() as held:
        for dsn in dsns:
            connection = await asyncpg.connect(dsn)
            held.push_async_callback(connection.close)
            await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        if len(dsns) < len(urls):  # some module is on SQLite
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            lock_file = held.enter_context((settings.data_dir / MIGRATION_LOCK_FILE).open("a"))
            await asyncio.to_thread(fcntl.flock, lock_file, fcntl.LOCK_EX)
        yield


async def apply_migrations(settings: Settings) -> None:
    """Create each module's PostgreSQL schema if needed, then apply its migrations.

    Under :func:`migration_lock`, so concurrent migrators never race on one database.
    """
    async with migration_lock(settings):
        await _apply_migrations(settings)


async def _apply_migrations(settings: Settings) -> None:
    config = _config_with_directories(settings)
    async with TortoiseContext():
        await Tortoise.init(config=config)
        for module in settings.modules:
            if config["connections"][module]["engine"] == "tortoise.backends.asyncpg":
                await connections.get(module).execute_script(
                    f'CREATE SCHEMA IF NOT EXISTS "{module}"'
                )
        await tortoise_migrate(config=config, app_labels=list(settings.modules))


async def ping(module: str) -> None:
    """Raise if the module's database cannot answer a trivial query."""
    await connections.get(module).execute_query("SELECT 1")
