"""auth/0003: the accounts made before mail ran are announced once, through auth's outbox,
so mail learns their addresses (it sends them no welcome: they are not new)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from tortoise import Tortoise, connections
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate

from tests.conftest import base_settings
from ticketing import db
from ticketing.bus.contracts import Envelope, UserRegistered
from ticketing.ids import new_id
from ticketing.settings import Settings

BEFORE = "auth.0002_unsent_outbox_index"


@pytest.fixture
def unmigrated(backend: str, tmp_path: Path,
               fresh_postgres_url: Callable[[], str]) -> Settings:
    """Auth alone, on a database no migration has touched."""
    (tmp_path / "data").mkdir()
    settings = base_settings(tmp_path / "data", modules=("auth",))
    return replace(settings, database_url=fresh_postgres_url()) if backend == "postgres" \
        else settings


async def test_every_account_made_before_is_announced_once(
    backend: str, unmigrated: Settings,
) -> None:
    config = db.tortoise_config(unmigrated)
    accounts = {new_id(): "first@test.com", new_id(): "second@test.com"}
    async with TortoiseContext():
        await Tortoise.init(config=config)
        if backend == "postgres":
            await connections.get("auth").execute_script('CREATE SCHEMA "auth"')
        await migrate(config=config, app_labels=["auth"], target=BEFORE)
        for user_id, email in accounts.items():
            await connections.get("auth").execute_query(
                "INSERT INTO auth_users (id, email, password_hash, created_at) VALUES "
                f"('{user_id}', '{email}', 'x', CURRENT_TIMESTAMP)")

        await migrate(config=config, app_labels=["auth"])

        _, rows = await connections.get("auth").execute_query(
            "SELECT event_type, body, sent_at FROM auth_outbox ORDER BY id")
    assert [(r["event_type"], r["sent_at"]) for r in rows] == [
        ("auth:user-registered", None)] * 2
    announced = [Envelope.from_json(r["body"]).event for r in rows]
    assert announced == [UserRegistered(user_id=user_id, email=email)
                         for user_id, email in sorted(accounts.items())]
