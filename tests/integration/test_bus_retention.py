"""Retention: old sent outbox rows, processed rows and replayed dead letters are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketing import db
from ticketing.bus.retention import PROCESSED_KEPT, SENT_OUTBOX_KEPT, prune
from ticketing.bus.tables import BusTables
from ticketing.modules.tickets.models import DeadLetter, Outbox, Processed
from ticketing.settings import Settings

TABLES = BusTables(Outbox, Processed, DeadLetter)


async def test_only_rows_no_delivery_can_need_are_pruned(settings: Settings) -> None:
    now = datetime.now(UTC)
    await db.open_databases(settings)
    try:
        old_sent = await Outbox.create(event_id="old-sent", event_type="t", body="{}",
                                       sent_at=now - SENT_OUTBOX_KEPT - timedelta(hours=1))
        await Outbox.create(event_id="recent-sent", event_type="t", body="{}",
                            sent_at=now - timedelta(days=1))
        await Outbox.create(event_id="unsent", event_type="t", body="{}")
        await Processed.create(consumer="tickets", event_id="old")
        await Processed.filter(event_id="old").update(
            processed_at=now - PROCESSED_KEPT - timedelta(hours=1))
        await Processed.create(consumer="tickets", event_id="within-redelivery-reach")
        await Processed.filter(event_id="within-redelivery-reach").update(
            processed_at=now - SENT_OUTBOX_KEPT)
        await DeadLetter.create(consumer="tickets", event_id="waiting", event_type="t",
                                body="{}", error="e", attempts=8)

        pruned = await prune(TABLES, now)

        assert (pruned.outbox, pruned.processed, pruned.dead_letters) == (1, 1, 0)
        assert not await Outbox.exists(id=old_sent.id)
        assert sorted(await Outbox.all().values_list("event_id", flat=True)) == [
            "recent-sent", "unsent"]
        assert await Processed.exists(event_id="within-redelivery-reach")
        assert await DeadLetter.exists(event_id="waiting")
    finally:
        await db.close_databases()
