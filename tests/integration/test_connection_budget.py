"""PostgreSQL's connection budget: a server that refuses more clients gets a clear answer.

A role limited to no connections stands in for a server whose ``max_connections`` is
used up: asyncpg raises the same ``TooManyConnectionsError``. The app answers 503 with
Retry-After and logs what to change, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

import asyncpg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL
from ticketing.app import create_app
from ticketing.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def refusing_url(fresh_postgres_url: Callable[[], str]) -> Iterator[str]:
    """A database URL whose role may hold no connection at all."""
    url = fresh_postgres_url()
    role = "ticketing_no_connections"

    async def admin(*statements: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f"DROP ROLE IF EXISTS {role}",
                      f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
    yield url.replace("postgres@", f"{role}@", 1)
    asyncio.run(admin(f"DROP ROLE IF EXISTS {role}"))


async def test_a_refused_connection_is_a_503_that_says_what_to_change(
    settings: Settings, refusing_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(replace(settings, database_url=refusing_url, modules=("tickets",)))
    async with app.test_app():
        with caplog.at_level(logging.ERROR, logger="ticketing.web"):
            response = await app.test_client().get("/api/tickets")

    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert await response.get_json() == {"errors": [{"message": "Error connecting to database"}]}
    assert any("too many clients" in r.getMessage() and "TICKETING_DB_POOL_SIZE" in
               r.getMessage() for r in caplog.records)
