"""Every background task of a process runs under one supervisor.

A task that raises, or returns while nobody asked it to stop, is logged at ERROR at once
and started again after a backoff (0.1 s doubling to 5 s). A task started with
``until_done=True`` (a start-up step such as connecting) may return: then it is done.
A task that fails ``FAILING_AFTER`` times in a row without a healthy stretch in between
is *failing*: ``/readyz`` names it and ``ticketing bus status`` shows its state. Nothing
dies silently and nothing waits for shutdown to surface an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger("ticketing.supervisor")

FIRST_DELAY_SECONDS = 0.1
MAX_DELAY_SECONDS = 5.0
FAILING_AFTER = 3
# A run that lasted this long before failing starts the count of failures afresh.
HEALTHY_AFTER_SECONDS = 60.0
STOP_GRACE_SECONDS = 5.0

State = Literal["running", "restarting", "done", "stopped"]


def describe(error: BaseException) -> str:
    """``Type: message``; for an exception group (Taskiq's task groups), of its leaves."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


@dataclass
class TaskHealth:
    """What the supervisor knows of one task, for readiness and ``bus status``."""

    name: str
    state: State = "running"
    restarts: int = 0
    failures_in_a_row: int = 0
    last_error: str | None = None

    @property
    def failing(self) -> bool:
        return self.failures_in_a_row >= FAILING_AFTER

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "restarts": self.restarts, "failing": self.failing,
                "lastError": self.last_error}


@dataclass
class Supervised:
    """The handle of one supervised task: its health, and a way to stop it."""

    health: TaskHealth
    task: asyncio.Task[None] | None = None
    stopping: bool = False

    async def stop(self, ask: Callable[[], None] | None = None,
                   grace: float = STOP_GRACE_SECONDS) -> bool:
        """``ask`` the task to finish (if it has a graceful way), cancel it after ``grace``.

        Returns False if it still runs ``grace`` seconds after the cancel too.
        """
        self.stopping = True
        task, self.task = self.task, None
        if task is None:
            return True
        if ask is not None:
            ask()
            await asyncio.wait({task}, timeout=grace)
        if not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=grace)
        if task.done() and not task.cancelled():
            with contextlib.suppress(Exception):  # already logged by the supervisor loop
                task.result()
        self.health.state = "stopped"
        return task.done()


@dataclass
class Supervisor:
    """Starts named tasks and keeps them running; see the module docstring."""

    first_delay: float = FIRST_DELAY_SECONDS
    max_delay: float = MAX_DELAY_SECONDS
    clock: Callable[[], float] = time.monotonic
    tasks: dict[str, Supervised] = field(default_factory=dict)

    def start(self, name: str, run: Callable[[], Awaitable[None]], *,
              until_done: bool = False) -> Supervised:
        """Run ``run()`` as the task ``name`` until it is stopped; restart it on failure."""
        handle = Supervised(TaskHealth(name))
        self.tasks[name] = handle
        handle.task = asyncio.create_task(self._keep_running(handle, run, until_done),
                                          name=name)
        return handle

    async def stop_all(self) -> None:
        """Stop every task still running (components stop their own first, gracefully)."""
        await asyncio.gather(*(h.stop() for h in self.tasks.values() if h.task is not None))

    def report(self) -> dict[str, dict[str, Any]]:
        return {name: handle.health.as_dict() for name, handle in self.tasks.items()}

    def failing(self) -> list[str]:
        return sorted(n for n, h in self.tasks.items() if h.health.failing and not h.stopping)

    def delay_after(self, failures_in_a_row: int) -> float:
        return float(min(self.max_delay, self.first_delay * 2 ** (failures_in_a_row - 1)))

    async def _keep_running(self, handle: Supervised, run: Callable[[], Awaitable[None]],
                            until_done: bool) -> None:
        health = handle.health
        while not handle.stopping:
            started = self.clock()
            health.state = "running"
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if handle.stopping:  # asked to stop: how it ended is no failure
                    break
                problem = describe(error)
                failure: BaseException | None = error
            else:
                if until_done:
                    health.failures_in_a_row = 0
                    health.state = "done"
                    return
                if handle.stopping:
                    break
                problem, failure = "returned while it should run", None
            if self.clock() - started >= HEALTHY_AFTER_SECONDS:
                health.failures_in_a_row = 0
            health.failures_in_a_row += 1
            health.restarts += 1
            health.last_error = problem
            health.state = "restarting"
            delay = self.delay_after(health.failures_in_a_row)
            log.error("task=%s failed (%d in a row), restarting in %.1fs: %s", health.name,
                      health.failures_in_a_row, delay, problem, exc_info=failure)
            await asyncio.sleep(delay)
        health.state = "stopped"
