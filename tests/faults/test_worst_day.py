"""The worst day, in CI: the split on PostgreSQL under a steady mixed load while every
module is killed with SIGKILL and restarted, and NATS goes away for ten seconds.

Run twice: over one JetStream server (killed outright), and over a three-node JetStream
cluster with every stream at three replicas (its stream leader killed). Each run makes
at least :data:`MIN_ORDERS` orders with a short reservation window, so that races,
cancels, payments and expiries all happen during the faults. Then:

- ``ticketing check`` passes: nothing lost, doubled, or left behind between modules;
- every buyer was told the truth: a cancel that answered 204 ended cancelled and charged
  nothing, even when a payment followed at once; a payment that answered 201 completed
  its order; no ticket was won twice;
- outside the fault windows, every expiry fired within :data:`EXPIRY_P99_SECONDS` of its
  deadline (p99) and took effect in orders as soon, and no request got a 5xx or no
  answer; inside them, the modules still running answered every request.

A fault window runs from the kill until the part is back (ready, or accepting clients)
plus :data:`AFTERMATH_SECONDS` for what was in flight: a deadline that passed while the
expiration worker or NATS was away fires on the next sweep (every
``RETRY_SECONDS``) after it returns. For expiries it opens 2 s before the kill: an expiry
fetched by the process that dies comes back only after JetStream's 30 s ack wait.
``docs/reliability.md`` has a run's numbers.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.faults.load import MixedLoad
from tests.support.nats import NatsCluster, NatsServer
from tests.support.processes import server_environment
from tests.support.split import SplitCluster, start_split
from ticketing.bus.nats import JetStreamLayout
from ticketing.modules.expiration.schedule import RETRY_SECONDS
from ticketing.settings import MODULE_NAMES

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.postgres]

MIN_ORDERS = 2000
EXPIRATION_SECONDS = 6
WARM_UP_ORDERS = 100
DOWN_SECONDS = 1.0  # a killed module stays down this long before its restart
NATS_DOWN_SECONDS = 10.0
AFTERMATH_SECONDS = RETRY_SECONDS + 5.0
# Between faults, and after the last one before the load stops: longer than the
# aftermath, so that no two windows overlap and calm stretches remain to measure.
CALM_SECONDS = AFTERMATH_SECONDS + 5.0
EXPIRY_P99_SECONDS = 2.0
CHECK_WAIT_SECONDS = 120
CHECK_GRACE_SECONDS = 5


@dataclass(frozen=True)
class Fault:
    """What was down, from when until it was back (wall clock)."""

    target: str
    began: float
    ended: float

    def covers(self, moment: float, before: float = 0.0) -> bool:
        return self.began - before <= moment <= self.ended + AFTERMATH_SECONDS


def migrated_environment(workdir: Path, database_url: str) -> dict[str, str]:
    """Migrate the run's database as the split's migrate Job does; the servers' variables."""
    variables = {"TICKETING_DATABASE_URL": database_url,
                 "TICKETING_EXPIRATION_SECONDS": str(EXPIRATION_SECONDS),
                 "TICKETING_THROTTLE": "off"}
    subprocess.run([sys.executable, "-m", "ticketing", "migrate"], check=True,
                   env=server_environment(workdir / "migrate", **variables), timeout=120)
    return variables


@pytest.fixture
def database(fresh_postgres_url: Callable[[], str]) -> str:
    return fresh_postgres_url()


@pytest.fixture
def single_nats_split(tmp_path: Path, database: str) -> Iterator[SplitCluster]:
    nats = NatsServer(tmp_path / "nats", sync_always=True)
    nats.workdir.mkdir()
    nats.start()
    cluster = start_split(tmp_path, nats, **migrated_environment(tmp_path, database))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def clustered_nats_split(tmp_path: Path, database: str) -> Iterator[SplitCluster]:
    nats = NatsCluster(tmp_path / "nats")
    nats.start()
    cluster = start_split(tmp_path, nats, TICKETING_NATS_REPLICAS="3",
                          **migrated_environment(tmp_path, database))
    try:
        yield cluster
    finally:
        cluster.stop()


def test_the_worst_day_on_one_nats_server(single_nats_split: SplitCluster,
                                          database: str) -> None:
    nats = single_nats_split.nats
    assert isinstance(nats, NatsServer)

    async def outage(faults: list[Fault]) -> None:
        began = time.time()
        nats.kill()
        await asyncio.sleep(NATS_DOWN_SECONDS)
        await asyncio.to_thread(nats.start)
        faults.append(Fault("nats", began, time.time()))

    worst_day(single_nats_split, database, outage)


def test_the_worst_day_on_a_three_node_jetstream_cluster(clustered_nats_split: SplitCluster,
                                                         database: str) -> None:
    nats = clustered_nats_split.nats
    assert isinstance(nats, NatsCluster)

    async def leader_lost(faults: list[Fault]) -> None:
        leader = await nats.stream_leader(JetStreamLayout().stream)
        began = time.time()
        nats.nodes[leader].kill()
        await asyncio.sleep(NATS_DOWN_SECONDS)
        await asyncio.to_thread(nats.nodes[leader].start)
        faults.append(Fault(f"nats leader {leader}", began, time.time()))

    worst_day(clustered_nats_split, database, leader_lost)


def worst_day(cluster: SplitCluster, database: str,
              nats_fault: Callable[[list[Fault]], Awaitable[None]]) -> None:
    load = MixedLoad({module: cluster.url(module) for module in MODULE_NAMES})
    faults: list[Fault] = []

    async def run() -> None:
        stop = asyncio.Event()
        shopping = asyncio.create_task(load.run(stop))
        await until(lambda: len(load.orders) >= WARM_UP_ORDERS, shopping)
        for module in MODULE_NAMES:
            began = time.time()
            cluster.processes[module].kill()
            await asyncio.sleep(DOWN_SECONDS)
            await asyncio.to_thread(cluster.restart, module)
            faults.append(Fault(module, began, time.time()))
            await asyncio.sleep(CALM_SECONDS)
        await nats_fault(faults)
        await asyncio.sleep(CALM_SECONDS)
        await until(lambda: len(load.orders) >= MIN_ORDERS, shopping)
        stop.set()
        await shopping

    asyncio.run(run())
    assert len(load.orders) >= MIN_ORDERS
    # The check counts an order still open past its window only beyond its grace.
    last_deadline = max(story.expires_at.timestamp() for story in load.orders.values())
    time.sleep(max(0.0, last_deadline + CHECK_GRACE_SECONDS + 1 - time.time()))

    check = subprocess.run(
        [sys.executable, "-m", "ticketing", "check", "--grace", str(CHECK_GRACE_SECONDS),
         "--wait", str(CHECK_WAIT_SECONDS)],
        env=server_environment(cluster.processes["orders"].data_dir,
                               TICKETING_DATABASE_URL=database),
        capture_output=True, text=True, timeout=CHECK_WAIT_SECONDS + 60)
    assert check.returncode == 0, f"ticketing check:\n{check.stdout}{check.stderr}"

    outcome = asyncio.run(read_outcome(
        database, {s.id for s in load.orders.values() if s.fate == "expire"}))
    report(load, faults, outcome)
    assert not load.surprises, f"answers the contract does not allow: {load.surprises[:10]}"
    assert not load.double_wins, f"tickets won twice: {load.double_wins}"
    assert_buyers_were_told_the_truth(load, outcome)
    assert_answers_outside_and_inside_the_windows(load, faults)
    assert_expiries_on_time(outcome, faults)


async def until(condition: Callable[[], bool], shopping: asyncio.Task[None]) -> None:
    """Wait for ``condition``; fail at once if the load itself failed."""
    while not condition():
        if shopping.done():
            shopping.result()
            pytest.fail("the load stopped before it was told to")
        await asyncio.sleep(0.2)


@dataclass(frozen=True)
class Outcome:
    """What the databases say after the run."""

    statuses: dict[str, str]
    paid: set[str]
    # Orders left to expire: seconds from the deadline to expiration:complete, and to the
    # order's cancellation in orders.
    fired: dict[str, float]
    took_effect: dict[str, float]
    deadlines: dict[str, float]


async def read_outcome(database: str, left_to_expire: set[str]) -> Outcome:
    connection = await asyncpg.connect(database)
    try:
        orders = await connection.fetch("SELECT id, status, expires_at FROM orders.orders_orders")
        paid = await connection.fetch("SELECT order_id FROM payments.payments_payments")
        fired = await connection.fetch(
            "SELECT body, created_at FROM expiration.expiration_outbox "
            "WHERE event_type = 'expiration:complete'")
        cancelled = await connection.fetch(
            "SELECT body, created_at FROM orders.orders_outbox "
            "WHERE event_type = 'order:cancelled'")
    finally:
        await connection.close()
    deadlines = {row["id"]: row["expires_at"].timestamp() for row in orders
                 if row["id"] in left_to_expire}

    def after_deadline(rows: list[asyncpg.Record], key: str) -> dict[str, float]:
        found = {}
        for row in rows:
            order_id = json.loads(row["body"])["data"][key]
            if order_id in deadlines:
                found[order_id] = row["created_at"].timestamp() - deadlines[order_id]
        return found

    return Outcome(
        statuses={row["id"]: row["status"] for row in orders},
        paid={row["order_id"] for row in paid},
        fired=after_deadline(fired, "orderId"),
        took_effect=after_deadline(cancelled, "id"),
        deadlines=deadlines,
    )


def assert_buyers_were_told_the_truth(load: MixedLoad, outcome: Outcome) -> None:
    wrong = []
    for story in load.orders.values():
        status = outcome.statuses.get(story.id)
        charged = story.id in outcome.paid
        if story.cancel_status == 204 and (status != "cancelled" or charged):
            wrong.append(f"{story.id}: cancelled (204), then {status}, charged={charged}")
        if story.cancel_status == 204 and story.pay_status == 201:
            wrong.append(f"{story.id}: a payment after a 204 cancel answered 201")
        if story.pay_status == 201 and (status != "complete" or not charged):
            wrong.append(f"{story.id}: paid (201), then {status}, charged={charged}")
        if story.pay_status == 400 and story.pay_message != "Order is already paid" \
                and (status != "cancelled" or charged):
            wrong.append(f"{story.id}: payment refused ({story.pay_message}), then {status}, "
                         f"charged={charged}")
        if story.fate == "expire" and (status != "cancelled" or story.id not in outcome.fired):
            wrong.append(f"{story.id}: left to expire, then {status}, "
                         f"expired={story.id in outcome.fired}")
    assert not wrong, f"{len(wrong)} orders ended otherwise than their buyers were told:\n" \
                      + "\n".join(wrong[:20])


def assert_answers_outside_and_inside_the_windows(load: MixedLoad, faults: list[Fault]) -> None:
    calm_failures = []
    unanswered_live = []
    for answer in load.answers:
        failed = answer.status is None or answer.status >= 500
        if not failed:
            continue
        # A request sent up to its timeout before a kill may still be in flight at it.
        during = [f for f in faults if f.covers(answer.sent_at, before=20.0)]
        if not during:
            calm_failures.append(answer)
        elif answer.status is None and not any(f.target == answer.module for f in during):
            unanswered_live.append(answer)
    assert not calm_failures, f"{len(calm_failures)} requests failed outside the fault " \
                              f"windows: {calm_failures[:10]}"
    assert not unanswered_live, f"{len(unanswered_live)} requests to modules that were up " \
                                f"got no answer: {unanswered_live[:10]}"


def calm_deadline(deadline: float, faults: list[Fault]) -> bool:
    """Outside every window; an expiry due just before a kill is still in flight at it
    (fetched by the process that dies, it returns after JetStream's 30 s ack wait)."""
    return not any(f.covers(deadline, before=EXPIRY_P99_SECONDS) for f in faults)


def expiry_lateness(outcome: Outcome, faults: list[Fault]) -> dict[str, list[float]]:
    """Seconds from deadline to expiry, sorted, outside the fault windows and inside."""
    def calm(order_id: str) -> bool:
        return calm_deadline(outcome.deadlines[order_id], faults)

    return {
        "fired, calm": sorted(v for k, v in outcome.fired.items() if calm(k)),
        "took effect, calm": sorted(v for k, v in outcome.took_effect.items() if calm(k)),
        "fired, in a fault window": sorted(v for k, v in outcome.fired.items() if not calm(k)),
        "took effect, in a fault window": sorted(
            v for k, v in outcome.took_effect.items() if not calm(k)),
    }


def assert_expiries_on_time(outcome: Outcome, faults: list[Fault]) -> None:
    lateness = expiry_lateness(outcome, faults)
    for what in ("fired, calm", "took effect, calm"):
        values = lateness[what]
        assert len(values) >= 100, f"too few expiries outside the fault windows ({what})"
        assert percentile(values, 99) <= EXPIRY_P99_SECONDS, \
            f"expiries {what}: p99 {percentile(values, 99):.2f}s after the deadline " \
            f"(worst {values[-5:]})"


def percentile(sorted_values: list[float], pct: float) -> float:
    index = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


def report(load: MixedLoad, faults: list[Fault], outcome: Outcome) -> None:
    """The run's figures on stdout (``-s``, or the CI log of a failure): docs/reliability.md."""
    fates: dict[str, int] = {}
    for story in load.orders.values():
        fates[story.fate] = fates.get(story.fate, 0) + 1
    lines = [f"orders {len(load.orders)} ({fates}), requests {len(load.answers)}, "
             f"stories given up {load.abandoned}"]
    for fault in faults:
        within = [a for a in load.answers if fault.covers(a.sent_at)]
        to_it = [a for a in within if a.module == fault.target]
        others = [a for a in within if a.module != fault.target]
        lines.append(
            f"{fault.target}: back after {fault.ended - fault.began:.1f}s; in its window "
            f"{sum(a.status is None for a in to_it)} of {len(to_it)} requests to it "
            f"unanswered, {sum(a.status is None for a in others)} of {len(others)} to the "
            f"others; {sum(a.status is not None and a.status >= 500 for a in within)} 5xx")
    calm = [(late, order_id) for order_id, late in outcome.took_effect.items()
            if calm_deadline(outcome.deadlines[order_id], faults)]
    if calm:
        late, order_id = max(calm)
        deadline = outcome.deadlines[order_id]
        before = [f for f in faults if f.ended < deadline]
        when = (f"{deadline - before[-1].ended:.1f}s after {before[-1].target} was back"
                if before else "before the first fault")
        lines.append(f"slowest calm expiry: order {order_id} took effect {late:.3f}s after "
                     f"its deadline, {when}")
    for what, values in expiry_lateness(outcome, faults).items():
        if values:
            lines.append(f"expiry {what}: n={len(values)} p50 {percentile(values, 50):.3f}s "
                         f"p99 {percentile(values, 99):.3f}s max {values[-1]:.3f}s")
    print("\n".join(lines), file=sys.stderr)
