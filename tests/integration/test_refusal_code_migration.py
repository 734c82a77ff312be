"""payments/0006: attempts refused before it stored the refusal's message; after it, the
code, read back from the message, is what the payment request hears (ADR 15)."""

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
from ticketing.errors import message_of
from ticketing.ids import new_id
from ticketing.settings import Settings

BEFORE = "payments.0005_offline_intents"


@pytest.fixture
def unmigrated(backend: str, tmp_path: Path,
               fresh_postgres_url: Callable[[], str]) -> Settings:
    """Payments alone, on a database no migration has touched."""
    (tmp_path / "data").mkdir()
    settings = base_settings(tmp_path / "data", modules=("payments",))
    return replace(settings, database_url=fresh_postgres_url()) if backend == "postgres" \
        else settings


async def test_refusals_stored_as_messages_become_their_codes(
    backend: str, unmigrated: Settings,
) -> None:
    settings = unmigrated
    config = db.tortoise_config(settings)
    refused = {new_id(): code for code in ("order_cancelled", "order_expired", "order_paid")}
    declined = new_id()
    async with TortoiseContext():
        await Tortoise.init(config=config)
        if backend == "postgres":
            await connections.get("payments").execute_script('CREATE SCHEMA "payments"')
        await migrate(config=config, app_labels=["payments"], target=BEFORE)
        rows = [(attempt_id, "voided", message_of(code)) for attempt_id, code in refused.items()]
        rows.append((declined, "failed", message_of("card_declined")))
        for attempt_id, status, message in rows:
            await connections.get("payments").execute_query(
                "INSERT INTO payments_attempts (id, order_id, user_id, payment_method, "
                "amount_cents, currency, idempotency_key, status, failure_message, "
                "created_at, updated_at) VALUES "
                f"('{attempt_id}', '{new_id()}', '{new_id()}', 'tok_visa', 100, 'usd', "
                f"'key-{attempt_id}', '{status}', '{message}', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")

        await migrate(config=config, app_labels=["payments"])

        _, found = await connections.get("payments").execute_query(
            "SELECT id, refusal_code FROM payments_attempts")
    codes = {row["id"]: row["refusal_code"] for row in found}
    assert codes == refused | {declined: None}
