"""``ticketing bus status`` and ``ticketing bus replay``: in-process on a harness bus, and
as the real command on the real wiring (``build_bus``), on every database and transport.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import TEST_JWT_KEY
from tests.support.bus import BusHarness, ticket_created
from tests.support.nats import NatsServer
from tests.support.waiting import eventually
from ticketing.app import create_app
from ticketing.bus.contracts import Envelope
from ticketing.cli import bus_status
from ticketing.modules import load_module
from ticketing.modules.expiration.models import PendingExpiration, WorkerHeartbeat
from ticketing.settings import Settings


async def test_status_shows_backlog_and_dead_letters_as_a_table_and_as_json(
    bus_harness: BusHarness,
) -> None:
    bus = await bus_harness.started()
    envelope = await bus_harness.dead_lettered(bus)
    await bus.stop()  # nothing relays now: the next event stays in the outbox
    await bus_harness.emit(bus)

    table, document = io.StringIO(), io.StringIO()
    assert await bus_status(bus, out=table) == 0
    assert await bus_status(bus, as_json=True, out=document) == 0

    text = table.getvalue()
    assert "tickets" in text
    assert "payments" in text
    assert envelope.id in text
    assert "Dead letters: 1" in text
    report = json.loads(document.getvalue())
    assert report["outbox"]["tickets"]["backlog"] == 1
    assert report["outbox"]["tickets"]["oldestUnsentSeconds"] >= 0
    assert report["outbox"]["payments"] == {"backlog": 0, "oldestUnsentSeconds": None}
    assert [(d["eventId"], d["consumer"]) for d in report["deadLetters"]] == [
        (envelope.id, "payments")]


def run_ticketing(settings: Settings, *args: str,
                  **variables: str) -> subprocess.CompletedProcess[str]:
    """The real command, on the test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TICKETING_")}
    env.update({"TICKETING_ENV": "test", "TICKETING_DATA_DIR": str(settings.data_dir),
                "TICKETING_JWT_KEY": TEST_JWT_KEY, "TICKETING_LOG_LEVEL": "WARNING",
                **variables})
    if settings.database_url:
        env["TICKETING_DATABASE_URL"] = settings.database_url
    return subprocess.run([sys.executable, "-m", "ticketing", "bus", *args], env=env,
                          cwd=Path(settings.data_dir).parent, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("transport", ["inproc", "nats"])
def test_the_status_command_reports_every_enabled_module(
    settings: Settings, transport: str, request: pytest.FixtureRequest,
) -> None:
    variables = {"TICKETING_BUS": transport}
    if transport == "nats":
        server: NatsServer = request.getfixturevalue("nats_server")
        variables["TICKETING_NATS_URL"] = server.url

    table = run_ticketing(settings, "status", **variables)
    document = run_ticketing(settings, "status", "--json", **variables)

    assert table.returncode == 0, table.stderr
    for module in settings.modules:
        assert module in table.stdout
    assert "Dead letters: none" in table.stdout
    assert document.returncode == 0, document.stderr
    report = json.loads(document.stdout)
    assert set(report["outbox"]) == set(settings.modules)
    assert report["consumerLag"] == (None if transport == "inproc" else {})


def test_the_status_command_still_reports_the_outbox_when_nats_is_unreachable(
    settings: Settings,
) -> None:
    result = run_ticketing(settings, "status", "--json", TICKETING_BUS="nats",
                           TICKETING_NATS_URL="nats://127.0.0.1:9")

    assert result.returncode == 0, result.stderr
    assert "unreachable" in result.stderr
    report = json.loads(result.stdout)
    assert set(report["outbox"]) == set(settings.modules)
    assert "consumerLagError" in report


def test_the_replay_command_exits_1_when_there_is_no_such_dead_letter(
    settings: Settings,
) -> None:
    result = run_ticketing(settings, "replay", "no-such-event")

    assert result.returncode == 1
    assert "no dead letter" in result.stderr


async def _dead_letter_for_orders(settings: Settings) -> Envelope:
    """A ``ticket:created`` that the orders consumer gave up on (written as the bus would)."""
    from ticketing import db

    envelope = Envelope.wrap(ticket_created(), "tickets")
    tables = load_module("orders").tables
    await db.open_databases(settings)
    try:
        await tables.dead_letters.create(
            consumer="orders", event_id=envelope.id, event_type=envelope.type,
            body=envelope.to_json(), error="RuntimeError('database hiccup')", attempts=5)
    finally:
        await db.close_databases()
    return envelope


async def _processed_by_orders(settings: Settings, event_id: str) -> tuple[int, bool]:
    from ticketing import db

    tables = load_module("orders").tables
    await db.open_databases(settings)
    try:
        processed = await tables.processed.filter(consumer="orders", event_id=event_id).count()
        letter = await tables.dead_letters.get(event_id=event_id)
        return processed, letter.replayed_at is not None
    finally:
        await db.close_databases()


async def test_the_replay_command_applies_a_real_dead_letter_once(settings: Settings) -> None:
    envelope = await _dead_letter_for_orders(settings)

    first = await _run_async(settings, "replay", envelope.id)
    again = await _run_async(settings, "replay", envelope.id)

    assert first.returncode == 0, first.stderr
    assert envelope.id in first.stdout
    assert again.returncode == 1
    assert await _processed_by_orders(settings, envelope.id) == (1, True)


async def _run_async(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    import asyncio

    return await asyncio.to_thread(run_ticketing, settings, *args)


@pytest.mark.parametrize("transport", ["inproc", "nats"])
async def test_the_status_command_shows_the_expiration_queue_and_each_workers_state(
    settings: Settings, transport: str, request: pytest.FixtureRequest,
) -> None:
    variables = {}
    if transport == "nats":
        server: NatsServer = request.getfixturevalue("nats_server")
        variables = {"TICKETING_BUS": "nats", "TICKETING_NATS_URL": server.url}
    app = create_app(replace(settings, **{"bus": transport, **(
        {"nats_url": variables["TICKETING_NATS_URL"]} if variables else {})}))
    async with app.test_app():
        later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        await PendingExpiration.create(order_id="01later", expires_at=later)

        async def beat_with_scheduler() -> bool:
            beat = await WorkerHeartbeat.first()
            return beat is not None and "expiration-scheduler" in json.loads(beat.tasks)

        await eventually(beat_with_scheduler, what="a heartbeat naming the scheduler")
        result = await asyncio.to_thread(run_ticketing, settings, "status", "--json",
                                         **variables)
        table = await asyncio.to_thread(run_ticketing, settings, "status", **variables)

    assert result.returncode == 0, result.stderr
    expiration = json.loads(result.stdout)["expiration"]
    assert (expiration["pending"], expiration["oldestDeadline"]) == (1, later.isoformat())
    assert expiration["overdueSeconds"] == 0
    [worker] = expiration["workers"]
    assert worker["tasks"]["expiration-scheduler"]["state"] == "running"
    assert worker["seenSecondsAgo"] < 30
    if transport == "nats":
        assert set(worker["tasks"]) >= {"expiration-worker", "expiration-broker"}
        assert isinstance(expiration["taskBacklog"], int)
    else:
        assert expiration["taskBacklog"] is None
    assert "Expiration" in table.stdout
    assert "expiration-scheduler" in table.stdout
