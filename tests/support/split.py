"""The split deployment as real processes on this machine, for the e2e and fault tests.

:func:`start_split` starts five ``python -m ticketing serve`` processes, one per module,
each on its own free port with its own data dir, all sharing one JWT key and one NATS
(a single server or a cluster): the same shape as ``deploy/k8s/split``. A
:class:`SplitCluster` can kill and restart any of them; when a test that uses one fails,
every process's log goes into its report (this module is a pytest plugin of the suite).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from tests.support.processes import (
    STARTUP_TIMEOUT_SECONDS,
    ServerProcess,
    free_port,
    server_environment,
)
from tests.support.waiting import eventually_blocking
from ticketing.settings import MODULE_NAMES

SPLIT_JWT_KEY = "split-mode-e2e-signing-key-0123456789abcdef"


class Nats(Protocol):
    """A NATS server or cluster the split talks to."""

    @property
    def url(self) -> str: ...

    def kill(self) -> None: ...

    def log_tails(self) -> dict[str, str]: ...


@dataclass
class SplitCluster:
    """NATS plus one process per module; ``url(module)`` is where that module serves."""

    nats: Nats
    processes: dict[str, ServerProcess] = field(default_factory=dict)

    def url(self, module: str) -> str:
        return self.processes[module].url

    def restart(self, module: str) -> None:
        """Start a killed module again and wait until it is ready."""
        process = self.processes[module]
        process.start()
        process.wait_ready(time.monotonic() + STARTUP_TIMEOUT_SECONDS)

    def logs(self) -> dict[str, str]:
        return {**{name: p.log_tail() for name, p in self.processes.items()},
                **self.nats.log_tails()}

    def stop(self) -> None:
        """Terminate every server, then kill what did not stop in time, then NATS."""
        running = [p.process for p in self.processes.values()
                   if p.process is not None and p.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + 5
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.nats.kill()


def module_environment(module: str, data_dir: Path, nats_url: str,
                       **overrides: str) -> dict[str, str]:
    """The environment of one module's process, as a split deployment's pod gets it."""
    return server_environment(data_dir, **{
        "TICKETING_MODULES": module, "TICKETING_BUS": "nats", "TICKETING_NATS_URL": nats_url,
        "TICKETING_JWT_KEY": SPLIT_JWT_KEY, **overrides,
    })


def start_split(workdir: Path, nats: Nats, **variables: str) -> SplitCluster:
    """The six modules as six processes over ``nats``, all ready; the caller stops it."""
    cluster = SplitCluster(nats)
    try:
        for module in MODULE_NAMES:
            data_dir = workdir / module
            cluster.processes[module] = ServerProcess(
                name=module, port=free_port(), data_dir=data_dir,
                log=workdir / f"{module}.log",
                env=module_environment(module, data_dir, nats.url, **variables),
            )
        for process in cluster.processes.values():
            process.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        for process in cluster.processes.values():
            process.wait_ready(deadline)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test that used a split cluster carries the log of every process."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, SplitCluster):
                for name, text in value.logs().items():
                    report.sections.append((f"log of {name}", text))
    return report


def order_status(http: httpx.Client, cluster: SplitCluster, order_id: str) -> str:
    response = http.get(f"{cluster.url('orders')}/api/orders/{order_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def reserve(http: httpx.Client, cluster: SplitCluster, ticket_id: str) -> dict[str, Any]:
    """POST /api/orders until orders has the ticket (404 before the replica lands)."""
    def attempt() -> dict[str, Any] | None:
        response = http.post(f"{cluster.url('orders')}/api/orders", json={"ticketId": ticket_id})
        if response.status_code == 404:
            return None
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()
        return order

    return eventually_blocking(attempt, f"orders accepts an order for ticket {ticket_id}")


def pay(http: httpx.Client, cluster: SplitCluster, order_id: str) -> httpx.Response:
    """POST /api/payments with the test card until payments has the order's replica."""
    def attempt() -> httpx.Response | None:
        response = http.post(f"{cluster.url('payments')}/api/payments",
                             json={"orderId": order_id, "token": "tok_visa"})
        return None if response.status_code == 404 else response

    return eventually_blocking(attempt, "payments has the order replica and takes the payment")
