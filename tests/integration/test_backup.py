"""``ticketing backup`` / ``restore`` and the migration lock, on SQLite and PostgreSQL.

A backup taken while the app keeps writing is a consistent snapshot (every ticket's
``ticket:created`` outbox row is in it, or neither is); a restore brings back exactly the
data of the backup and refuses, before touching anything, a backup it cannot restore.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from quart import Quart
from tortoise import connections

from tests.conftest import base_settings
from tests.support.apps import session_cookie
from tests.support.processes import server_environment
from tests.support.trading import list_ticket, person
from ticketing import backup, db
from ticketing.app import create_app
from ticketing.settings import MODULE_NAMES, Settings

TRADING = ("auth", "tickets")


async def listed_titles(app: Quart) -> set[str]:
    response = await app.test_client().get("/api/tickets?limit=500")
    assert response.status_code == 200
    return {ticket["title"] for ticket in await response.get_json()}


async def tickets_and_their_events(settings: Settings) -> tuple[int, int]:
    """Rows in the tickets table, and ticket:created rows in the tickets outbox."""
    await db.open_databases(settings)
    try:
        connection = connections.get("tickets")
        _, tickets = await connection.execute_query("SELECT id FROM tickets_tickets")
        _, created = await connection.execute_query(
            "SELECT id FROM tickets_outbox WHERE event_type = 'ticket:created'")
        return len(tickets), len(created)
    finally:
        await db.close_databases()


async def test_a_backup_taken_while_writing_restores_exactly_its_snapshot(
    settings: Settings, tmp_path: Path,
) -> None:
    settings = replace(settings, modules=TRADING)
    seller = person(settings, "seller")
    app = create_app(settings)
    async with app.test_app():
        client = app.test_client()
        before = {(await list_ticket(client, seller, f"before {i}"))["title"] for i in range(3)}
        writing = asyncio.Event()

        async def keep_listing() -> None:
            for i in range(40):
                await list_ticket(client, seller, f"during {i}")
                writing.set()

        writer = asyncio.create_task(keep_listing())
        await writing.wait()
        lines = await backup.backup(settings, tmp_path / "backup")
        await writer
        await list_ticket(client, seller, "after")
        everything = await listed_titles(app)

    assert len(lines) == len(TRADING)
    await backup.restore(settings, tmp_path / "backup")

    restored_app = create_app(settings)
    async with restored_app.test_app():
        restored = await listed_titles(restored_app)
    assert before <= restored < everything
    assert "after" not in restored
    tickets, created_events = await tickets_and_their_events(settings)
    assert tickets == created_events == len(restored)


def session_header(set_cookie_headers: list[str]) -> dict[str, str]:
    """The session cookie a response set, as a header for a request to another app."""
    return {"Cookie": f"session={session_cookie(set_cookie_headers).value}"}


async def test_a_restore_ends_every_session_so_no_cookie_names_an_account_it_lost(
    settings: Settings, tmp_path: Path,
) -> None:
    """A cookie issued after the backup names a user the restored data does not have."""
    settings = replace(settings, modules=TRADING)
    await backup.backup(settings, tmp_path / "backup")
    app = create_app(settings)
    async with app.test_app():
        signed_up = await app.test_client().post("/api/users/signup", json={
            "email": "after@example.com", "password": "restore-secret"})
        assert signed_up.status_code == 201
    cookie = session_header(signed_up.headers.getlist("Set-Cookie"))

    lines = await backup.restore(settings, tmp_path / "backup")

    assert "every session issued before the restore has ended" in lines[-1]
    restored = create_app(settings)
    async with restored.test_app():
        client = restored.test_client()
        listed = await client.post("/api/tickets", headers=cookie,
                                   json={"title": "Ghost", "price": 5})
        assert listed.status_code == 401
        again = await client.post("/api/users/signup", json={
            "email": "after@example.com", "password": "restore-secret"})
        assert again.status_code == 201
        fresh = session_header(again.headers.getlist("Set-Cookie"))
        assert (await client.post("/api/tickets", headers=fresh,
                                  json={"title": "Real", "price": 5})).status_code == 201


async def test_restore_refuses_a_backup_it_cannot_restore_before_touching_anything(
    migrated_sqlite: Path, tmp_path: Path,
) -> None:
    settings = base_settings(tmp_path / "data", modules=TRADING)
    shutil.copytree(migrated_sqlite, settings.data_dir, dirs_exist_ok=True)
    await backup.backup(settings, tmp_path / "good")
    untouched = (settings.data_dir / "auth.sqlite3").read_bytes()

    def broken(name: str, edit: Callable[[Path], None]) -> Path:
        copy = tmp_path / name
        shutil.copytree(tmp_path / "good", copy)
        edit(copy)
        return copy

    def edit_manifest(change: Callable[[dict[str, object]], None]) -> Callable[[Path], None]:
        def apply(folder: Path) -> None:
            manifest = json.loads((folder / "manifest.json").read_text())
            change(manifest)
            (folder / "manifest.json").write_text(json.dumps(manifest))
        return apply

    cases = {
        "not a ticketing backup": broken("empty", lambda f: (f / "manifest.json").unlink()),
        "has no tickets module": broken("partial", edit_manifest(
            lambda m: m["modules"].pop("tickets"))),  # type: ignore[attr-defined]
        r"migrations this release does not know \(0099_future\)": broken("newer", edit_manifest(
            lambda m: m["modules"]["tickets"]["migrations"].append(  # type: ignore[index]
                "0099_future"))),
        "the backup is of postgres": broken("other-engine", edit_manifest(
            lambda m: m["modules"]["tickets"].update(engine="postgres"))),  # type: ignore[index]
        "not a readable SQLite database": broken("corrupt", lambda f: (
            f / "tickets.sqlite3").write_bytes(b"garbage" * 1000)),
    }
    for reason, folder in cases.items():
        with pytest.raises(backup.BackupError, match=reason):
            await backup.restore(settings, folder)

    assert (settings.data_dir / "auth.sqlite3").read_bytes() == untouched


async def test_backup_never_overwrites_and_leaves_nothing_when_it_fails(
    migrated_sqlite: Path, tmp_path: Path,
) -> None:
    settings = base_settings(tmp_path / "data", modules=TRADING)
    shutil.copytree(migrated_sqlite, settings.data_dir, dirs_exist_ok=True)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")

    with pytest.raises(backup.BackupError, match="already exists"):
        await backup.backup(settings, tmp_path / "taken")
    (settings.data_dir / "tickets.sqlite3").unlink()
    with pytest.raises(backup.BackupError, match="nothing to back up"):
        await backup.backup(settings, tmp_path / "new")

    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["data", "taken"]


async def test_without_pg_dump_a_postgres_backup_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    settings = base_settings(tmp_path / "data", modules=TRADING,
                             database_url="postgres://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))

    with pytest.raises(backup.BackupError, match="pg_dump is not installed: install"):
        await backup.backup(settings, tmp_path / "backup")
    assert not (tmp_path / "backup").exists()


def run_cli(*args: str, data_dir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ticketing", *args],
                          env=server_environment(data_dir, **variables), capture_output=True,
                          text=True, timeout=120, check=False)


def test_the_cli_backs_up_and_restores_and_says_why_not_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_cli("migrate", data_dir=data).returncode == 0

    made = run_cli("backup", str(tmp_path / "backup"), data_dir=data)
    again = run_cli("backup", str(tmp_path / "backup"), data_dir=data)
    restored = run_cli("restore", str(tmp_path / "backup"), data_dir=tmp_path / "elsewhere")
    missing = run_cli("restore", str(tmp_path / "nothing"), data_dir=data)

    assert made.returncode == 0, made.stderr
    assert len(made.stdout.splitlines()) == len(MODULE_NAMES)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        f"ticketing: backup: {tmp_path / 'backup'} already exists and is not an empty folder"]
    assert restored.returncode == 0, restored.stderr
    assert sorted(p.name for p in (tmp_path / "elsewhere").glob("*.sqlite3")) == sorted(
        p.name for p in data.glob("*.sqlite3"))
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "is not a ticketing backup" in missing.stderr


def test_replicas_migrating_at_once_take_turns(
    backend: str, tmp_path: Path, fresh_postgres_url: Callable[[], str],
) -> None:
    variables = {"TICKETING_DATABASE_URL": fresh_postgres_url()} if backend == "postgres" else {}
    data = tmp_path / "data"
    migrators = [subprocess.Popen(
        [sys.executable, "-m", "ticketing", "migrate"], env=server_environment(data, **variables),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(m.wait(timeout=120), m.communicate()[1]) for m in migrators]

    assert [code for code, _ in results] == [0, 0, 0, 0], [err for _, err in results]
    if backend == "postgres":
        applied = asyncio.run(_postgres_migrations(variables["TICKETING_DATABASE_URL"]))
    else:
        applied = _sqlite_migrations(data)
    assert applied == {(m, n) for m in MODULE_NAMES for n in
                       backup.known_migrations(m)}


async def _postgres_migrations(url: str) -> set[tuple[str, str]]:
    connection = await asyncpg.connect(url)
    try:
        rows = []
        for module in MODULE_NAMES:
            rows += await connection.fetch(
                f'SELECT app, name FROM "{module}".tortoise_migrations')
    finally:
        await connection.close()
    pairs = [(row["app"], row["name"]) for row in rows]
    assert len(pairs) == len(set(pairs)), "a migration was recorded twice"
    return set(pairs)


def _sqlite_migrations(data: Path) -> set[tuple[str, str]]:
    pairs = []
    for file in data.glob("*.sqlite3"):
        with closing(sqlite3.connect(file)) as connection:
            pairs += connection.execute("SELECT app, name FROM tortoise_migrations").fetchall()
    assert len(pairs) == len(set(pairs)), "a migration was recorded twice"
    return set(pairs)
