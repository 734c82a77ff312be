"""``ticketing backup PATH`` and ``ticketing restore PATH``: every enabled module, whole.

A backup is a folder: one file per module (SQLite: a copy made through SQLite's online
backup API, consistent while the server keeps writing; PostgreSQL: ``pg_dump`` of the
module's schema in the custom format) and ``manifest.json`` naming the release, each
module's engine and the migrations it had. It is written aside and renamed into place,
so a folder at PATH is always a complete backup.

A restore checks the whole backup before it touches anything, replaces each module's
data (PostgreSQL: the old schema is kept aside until the new one is in), then migrates,
so a backup of an older release comes back upgraded. Restoring auth ends every session
issued until then (``auth:all-sessions-ended``, heard by every process): one issued after
the backup was taken may name an account the restored data does not have. Stop the
servers first.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import asyncpg

from ticketing import __version__, db
from ticketing.bus.contracts import AllSessionsEnded
from ticketing.bus.outbox import Outbox
from ticketing.modules import load_module
from ticketing.settings import JWT_KEY_FILE, PASS_KEY_FILE, Settings

MANIFEST = "manifest.json"
DEVELOPMENT_KEYS = (JWT_KEY_FILE, PASS_KEY_FILE)
BACKUP_FORMAT = 1
MIGRATIONS_TABLE = "tortoise_migrations"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why in one line."""


@dataclass(frozen=True)
class ModuleStore:
    """Where one module's data lives: a SQLite file or a PostgreSQL schema."""

    module: str
    sqlite_file: Path | None
    postgres_dsn: str | None

    @classmethod
    def of(cls, settings: Settings, module: str) -> ModuleStore:
        url = settings.database_url_for(module)
        dsn = db.postgres_dsn(url)
        if dsn is not None:
            return cls(module, None, dsn)
        return cls(module, Path(url.removeprefix("sqlite://")), None)

    @property
    def engine(self) -> str:
        return "postgres" if self.postgres_dsn else "sqlite"

    @property
    def file_name(self) -> str:
        return f"{self.module}.{'dump' if self.postgres_dsn else 'sqlite3'}"


def known_migrations(module: str) -> set[str]:
    """The migrations this release ships for ``module``."""
    package = files(f"ticketing_migrations.{module}")
    return {entry.name.removesuffix(".py") for entry in package.iterdir()
            if entry.name[:4].isdigit() and entry.name.endswith(".py")}


async def backup(settings: Settings, target: Path) -> list[str]:
    """Write a backup of every enabled module to ``target``; return one line per module."""
    stores = [ModuleStore.of(settings, m) for m in settings.modules]
    draft = await asyncio.to_thread(_start_draft, target)
    try:
        modules: dict[str, Any] = {}
        for store in stores:
            destination = draft / store.file_name
            if store.sqlite_file is not None:
                applied = await asyncio.to_thread(_sqlite_backup, store.sqlite_file,
                                                  destination)
            else:
                applied = await _postgres_backup(store, destination)
            modules[store.module] = {"engine": store.engine, "file": store.file_name,
                                     "migrations": sorted(applied)}
        manifest = {"format": BACKUP_FORMAT, "ticketing": __version__,
                    "createdAt": datetime.now(UTC).isoformat(), "modules": modules}
        await asyncio.to_thread(_finish_draft, draft, target, settings.data_dir, manifest)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, draft, True)
        raise
    return [f"{m}: {info['engine']}, {len(info['migrations'])} migrations -> "
            f"{target / info['file']}" for m, info in modules.items()]


def _start_draft(target: Path) -> Path:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} already exists and is not an empty folder")
    draft = target.with_name(f".{target.name}.partial")
    shutil.rmtree(draft, ignore_errors=True)
    draft.mkdir(parents=True, mode=0o700)  # it holds every account's data
    return draft


def _finish_draft(draft: Path, target: Path, data_dir: Path, manifest: dict[str, Any]) -> None:
    """Add the development keys and the manifest, then move the whole folder into place."""
    _copy_development_keys(data_dir, draft)
    (draft / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if target.exists():
        target.rmdir()
    draft.rename(target)


async def restore(settings: Settings, source: Path) -> list[str]:
    """Replace every enabled module's data with the backup at ``source``, then migrate."""
    manifest = read_manifest(source)
    stores = [ModuleStore.of(settings, m) for m in settings.modules]
    for store in stores:
        _check_restorable(store, manifest, source)
    lines = []
    for store in stores:
        file = source / manifest["modules"][store.module]["file"]
        if store.sqlite_file is not None:
            await asyncio.to_thread(_sqlite_restore, file, store.sqlite_file)
        else:
            await _postgres_restore(store, file)
        lines.append(f"{store.module}: restored from {file}")
    if settings.env != "production":
        await asyncio.to_thread(_restore_development_key, source, settings.data_dir)
    await db.apply_migrations(settings)
    if "auth" in settings.modules:
        await _end_every_session(settings)
        lines.append("auth: every session issued before the restore has ended; "
                     "users sign in again")
    return lines


async def _end_every_session(settings: Settings) -> None:
    """Publish ``auth:all-sessions-ended`` from auth's outbox; its relay sends it."""
    tables = load_module("auth").tables
    await db.open_databases(replace(settings, modules=("auth",)))
    try:
        async with Outbox("auth", tables.outbox).transaction() as unit:
            await unit.publish(AllSessionsEnded(ended_at=datetime.now(UTC)))
    finally:
        await db.close_databases()


def _restore_development_key(source: Path, data_dir: Path) -> None:
    """Sessions signed and passes printed before the backup stay valid (production keys
    live in secrets)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _copy_development_keys(source, data_dir)


def _copy_development_keys(source: Path, target: Path) -> None:
    for name in DEVELOPMENT_KEYS:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)


def read_manifest(source: Path) -> dict[str, Any]:
    """The backup's manifest, checked for its format; BackupError if it is no backup."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{source} is not a ticketing backup: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != BACKUP_FORMAT \
            or not isinstance(manifest.get("modules"), dict):
        raise BackupError(f"{source}/{MANIFEST}: not a backup of format {BACKUP_FORMAT}")
    return manifest


def _check_restorable(store: ModuleStore, manifest: dict[str, Any], source: Path) -> None:
    entry = manifest["modules"].get(store.module)
    if not isinstance(entry, dict):
        raise BackupError(f"the backup at {source} has no {store.module} module")
    if entry.get("engine") != store.engine:
        raise BackupError(f"{store.module}: the backup is of {entry.get('engine')}, this "
                          f"installation runs it on {store.engine}")
    newer = set(entry.get("migrations", [])) - known_migrations(store.module)
    if newer:
        raise BackupError(f"{store.module}: the backup has migrations this release does not "
                          f"know ({', '.join(sorted(newer))}); restore it with ticketing "
                          f"{manifest.get('ticketing')} or newer")
    file = source / str(entry.get("file"))
    if not file.is_file():
        raise BackupError(f"{store.module}: {file} is missing")
    if store.engine == "sqlite":
        _check_sqlite_file(file)


def _sqlite_backup(source: Path, destination: Path) -> set[str]:
    if not source.is_file():
        raise BackupError(f"{source} does not exist: nothing to back up (run migrate first?)")
    _sqlite_copy(source, destination)
    return _sqlite_migrations(destination)


def _sqlite_restore(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    _sqlite_copy(source, destination)


def _sqlite_copy(source: Path, destination: Path) -> None:
    """Copy page by page under SQLite's locks: consistent while other connections write."""
    with closing(sqlite3.connect(source, timeout=30)) as origin, \
            closing(sqlite3.connect(destination, timeout=30)) as target:
        origin.backup(target)


def _check_sqlite_file(file: Path) -> None:
    try:
        with closing(sqlite3.connect(file, timeout=30)) as connection:
            result = connection.execute("PRAGMA integrity_check").fetchone()
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{file} is not a readable SQLite database: {error}") from None
    if result is None or result[0] != "ok":
        raise BackupError(f"{file} fails SQLite's integrity check: {result}")


def _sqlite_migrations(file: Path) -> set[str]:
    with closing(sqlite3.connect(file, timeout=30)) as connection:
        try:
            rows = connection.execute(f"SELECT name FROM {MIGRATIONS_TABLE}").fetchall()
        except sqlite3.OperationalError:
            return set()
    return {row[0] for row in rows}


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client tools "
                          "(Debian: postgresql-client) or see docs/operations.md")
    return tool


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, stderr = await process.communicate()
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: "
                          f"{message[-1] if message else f'exit {process.returncode}'}")


async def _postgres_backup(store: ModuleStore, destination: Path) -> set[str]:
    assert store.postgres_dsn is not None
    await _run(_pg_tool("pg_dump"), "--format=custom", f"--schema={store.module}",
               "--no-owner", "--no-privileges", f"--file={destination}",
               f"--dbname={store.postgres_dsn}")
    connection = await asyncpg.connect(store.postgres_dsn)
    try:
        rows = await connection.fetch(
            f'SELECT name FROM "{store.module}".{MIGRATIONS_TABLE}')
    except asyncpg.UndefinedTableError:
        return set()
    finally:
        await connection.close()
    return {row["name"] for row in rows}


async def _postgres_restore(store: ModuleStore, file: Path) -> None:
    """Restore one schema; the old one is renamed aside and dropped only once this worked."""
    assert store.postgres_dsn is not None
    pg_restore = _pg_tool("pg_restore")
    aside = f"{store.module}_before_restore"
    connection = await asyncpg.connect(store.postgres_dsn)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{aside}" CASCADE')
        existed = await connection.fetchval(
            "SELECT count(*) FROM pg_namespace WHERE nspname = $1", store.module)
        if existed:
            await connection.execute(f'ALTER SCHEMA "{store.module}" RENAME TO "{aside}"')
        try:
            await _run(pg_restore, "--no-owner", "--no-privileges", "--single-transaction",
                       f"--dbname={store.postgres_dsn}", str(file))
        except BaseException:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{store.module}" CASCADE')
            if existed:
                await connection.execute(f'ALTER SCHEMA "{aside}" RENAME TO "{store.module}"')
            raise
        await connection.execute(f'DROP SCHEMA IF EXISTS "{aside}" CASCADE')
    finally:
        await connection.close()
