"""The supervisor: nothing dies silently, everything comes back, failing tasks are named."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ticketing.bus.supervisor import FAILING_AFTER, HEALTHY_AFTER_SECONDS, Supervisor

FAST = {"first_delay": 0.001, "max_delay": 0.004}


class Script:
    """A task body that fails ``failures`` times, then runs until cancelled."""

    def __init__(self, failures: int, error: BaseException | None = None) -> None:
        self.failures = failures
        self.error = error or RuntimeError("boom")
        self.runs = 0
        self.running = asyncio.Event()
        self._ran = asyncio.Condition()

    async def wait_runs(self, count: int) -> None:
        async with self._ran:
            await asyncio.wait_for(self._ran.wait_for(lambda: self.runs >= count), 5)

    async def __call__(self) -> None:
        self.runs += 1
        async with self._ran:
            self._ran.notify_all()
        if self.runs <= self.failures:
            if isinstance(self.error, StopIteration):  # "returns while it should run"
                return
            raise self.error
        self.running.set()
        await asyncio.Event().wait()


async def test_a_task_that_raises_is_logged_at_once_and_started_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = Supervisor(**FAST)
    script = Script(failures=2, error=TimeoutError())
    with caplog.at_level(logging.ERROR, logger="ticketing.supervisor"):
        handle = supervisor.start("expiration-worker", script)
        await asyncio.wait_for(script.running.wait(), 5)

    assert script.runs == 3
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert all("task=expiration-worker failed" in r.getMessage() for r in errors)
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is TimeoutError
    assert supervisor.report()["expiration-worker"] == {
        "state": "running", "restarts": 2, "failing": False, "lastError": "TimeoutError: "}
    assert await handle.stop()


async def test_a_task_that_returns_while_it_should_run_is_started_again() -> None:
    supervisor = Supervisor(**FAST)
    script = Script(failures=1, error=StopIteration())
    handle = supervisor.start("relay-orders", script)
    await asyncio.wait_for(script.running.wait(), 5)

    assert script.runs == 2
    assert supervisor.report()["relay-orders"]["lastError"] == "returned while it should run"
    await handle.stop()


async def test_a_task_failing_again_and_again_is_named_as_failing() -> None:
    supervisor = Supervisor(**FAST)
    script = Script(failures=10**9)
    handle = supervisor.start("expiration-scheduler", script)
    await script.wait_runs(FAILING_AFTER)

    assert supervisor.failing() == ["expiration-scheduler"]
    assert supervisor.report()["expiration-scheduler"]["failing"] is True
    await handle.stop()
    assert supervisor.failing() == []
    assert supervisor.report()["expiration-scheduler"]["state"] == "stopped"


async def test_a_long_healthy_run_starts_the_count_of_failures_afresh() -> None:
    now = [0.0]
    supervisor = Supervisor(**FAST, clock=lambda: now[0])
    script = Script(failures=10**9)

    async def fails_after_a_while() -> None:
        now[0] += HEALTHY_AFTER_SECONDS  # each run lasted a minute before it failed
        await script()

    handle = supervisor.start("bus-retention", fails_after_a_while)
    await script.wait_runs(FAILING_AFTER * 2)

    assert supervisor.failing() == []
    await handle.stop()


def test_the_backoff_doubles_up_to_its_cap() -> None:
    supervisor = Supervisor(first_delay=0.1, max_delay=5.0)

    assert [supervisor.delay_after(n) for n in (1, 2, 3, 6, 7, 20)] == [
        0.1, 0.2, 0.4, 3.2, 5.0, 5.0]


async def test_a_start_up_step_that_succeeds_is_done_and_never_restarted() -> None:
    supervisor = Supervisor(**FAST)
    attempts = 0

    async def connect() -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionRefusedError("not yet")

    handle = supervisor.start("nats-connect", connect, until_done=True)
    assert handle.task is not None
    await asyncio.wait_for(handle.task, 5)

    assert attempts == 3
    assert supervisor.report()["nats-connect"]["state"] == "done"
    assert supervisor.failing() == []


async def test_stop_asks_first_and_cancels_only_after_the_grace() -> None:
    supervisor = Supervisor(**FAST)
    finish = asyncio.Event()
    cancelled = False

    async def graceful() -> None:
        await finish.wait()

    async def stubborn() -> None:
        nonlocal cancelled
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled = True
            raise

    polite = supervisor.start("worker", graceful)
    rude = supervisor.start("other", stubborn)
    await asyncio.sleep(0)

    assert await polite.stop(ask=finish.set, grace=5)
    assert await rude.stop(ask=lambda: None, grace=0.01)
    assert cancelled
    assert {h["state"] for h in supervisor.report().values()} == {"stopped"}
