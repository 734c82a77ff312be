"""A Taskiq schedule source over the pending-expiration table.

Taskiq's scheduler reloads its sources every ``update_interval`` and fires "time"
schedules on whole-second ticks. This source keeps that cheap and on time:

- it returns only deadlines inside a short horizon (an index range scan), never the
  whole table, so 10,000 pending orders cost nothing while they are far off;
- a schedule is due at the whole second *before* its deadline and the task sleeps the
  remaining fraction, so firing is not up to a second late;
- the deadlines are read by the module's clock, while Taskiq fires by the system's: each
  schedule is handed over as far from the system's now as its deadline is from the
  clock's (the same instant in production; a test's clock moves expiries without waiting);
- only the replica holding a lease in the database returns schedules, so one scheduler
  fires at a time; the task stays idempotent anyway;
- deadlines that were due a while ago and are still pending (a worker died, the broker
  lost the message, the process was down) come back under a fresh schedule id every
  ``RETRY_SECONDS``: that is the sweep that makes a restart fire everything overdue.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from taskiq import ScheduledTask, ScheduleSource
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from ticketing.clock import Clock, utc_now
from ticketing.modules.expiration.models import PendingExpiration, SchedulerLease

log = logging.getLogger("ticketing.expiration")

EXPIRE_TASK = "expiration.expire_order"
HORIZON = timedelta(seconds=3)
LEASE = timedelta(seconds=5)
RETRY_SECONDS = 10
MAX_BATCH = 20_000


class PendingExpirationSource(ScheduleSource):
    def __init__(self, clock: Clock = utc_now) -> None:
        self.holder = f"{uuid.uuid4().hex[:12]}"
        self._clock = clock

    async def get_schedules(self) -> list[ScheduledTask]:
        now = self._clock()
        to_taskiq = utc_now() - now
        if not await self._hold_lease(now):
            return []
        due = await (PendingExpiration.filter(expires_at__lte=now + HORIZON)
                     .order_by("expires_at").limit(MAX_BATCH))
        return [self._schedule(pending, now, to_taskiq) for pending in due]

    async def release(self) -> None:
        await SchedulerLease.filter(name="scheduler", holder=self.holder).delete()

    def _schedule(self, pending: PendingExpiration, now: datetime,
                  to_taskiq: timedelta) -> ScheduledTask:
        deadline = pending.expires_at.astimezone(UTC)
        overdue = (now - deadline).total_seconds()
        schedule_id = pending.order_id
        if overdue > RETRY_SECONDS:
            schedule_id = f"{pending.order_id}:retry:{int(now.timestamp()) // RETRY_SECONDS}"
        return ScheduledTask(
            task_name=EXPIRE_TASK, labels={}, args=[],
            kwargs={"order_id": pending.order_id, "expires_at": deadline.isoformat()},
            schedule_id=schedule_id, time=(deadline + to_taskiq).replace(microsecond=0),
        )

    async def _hold_lease(self, now: datetime) -> bool:
        renewed = await SchedulerLease.filter(
            Q(name="scheduler") & (Q(holder=self.holder) | Q(expires_at__lt=now))
        ).update(holder=self.holder, expires_at=now + LEASE)
        if renewed:
            return True
        try:
            await SchedulerLease.create(name="scheduler", holder=self.holder,
                                        expires_at=now + LEASE)
        except IntegrityError:
            return False
        log.info("scheduler lease taken by %s", self.holder)
        return True
