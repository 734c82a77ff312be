"""An upgrade from the previous release keeps every account, listing, order and payment.

The previous release is built from git (``PREVIOUS_RELEASE``) into its own virtualenv,
migrates and serves a data dir (and, with the PostgreSQL leg, a database), and is used
over HTTP as people would use it: accounts, listings, a paid order. Then this release
migrates the same data and serves it. At every release, set ``PREVIOUS_RELEASE`` to the
commit of the release before it, so each upgrade path a user can take is tested once.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_JWT_KEY
from tests.release.installs import REPO, UV, locked_constraints, run, uv_venv
from tests.support.processes import ServerProcess, free_port, server_environment

pytestmark = pytest.mark.slow
# 0.1.0: the last commit before the locked set-up (the first release with a data format).
PREVIOUS_RELEASE = "fa35fc1edd72825f21820a9fec10fc2310c86b7d"
# What the previous release needs to build from source: its Bootstrap package is an sdist
# that imports pkg_resources, gone from setuptools 81.
PREVIOUS_BUILD_CONSTRAINTS = "setuptools<81\n"
PASSWORD = "password"
PAID_WITHIN_SECONDS = 30.0


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The previous release installed into a virtualenv of its own; its interpreter."""
    workdir = tmp_path_factory.mktemp("previous-release")
    archive = subprocess.run(["git", "archive", "--format=tar", PREVIOUS_RELEASE], cwd=REPO,
                             capture_output=True, check=False)
    assert archive.returncode == 0, (
        f"the previous release {PREVIOUS_RELEASE[:10]} is not in this clone's history "
        f"(a shallow clone?): {archive.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(workdir / "source", filter="data")
    (workdir / "build-constraints.txt").write_text(PREVIOUS_BUILD_CONSTRAINTS)
    python = uv_venv(workdir / "venv")
    run(UV, "pip", "install", "--no-config", "--python", python,
        "--constraints", locked_constraints(workdir / "constraints.txt"),
        "--build-constraints", workdir / "build-constraints.txt", workdir / "source")
    return python


class Deployment:
    """One data dir (and database), served by whichever release is installed."""

    def __init__(self, workdir: Path, database_url: str | None) -> None:
        self.workdir = workdir
        self.variables = {"TICKETING_JWT_KEY": TEST_JWT_KEY}
        if database_url:
            self.variables["TICKETING_DATABASE_URL"] = database_url
        self.environment = server_environment(workdir / "data", **self.variables)

    def migrate(self, python: str) -> None:
        result = subprocess.run([python, "-m", "ticketing", "migrate"], env=self.environment,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr

    def serve(self, python: str, name: str) -> ServerProcess:
        server = ServerProcess(name=name, port=free_port(), data_dir=self.workdir / "data",
                               log=self.workdir / f"{name}.log", env=self.environment,
                               python=python)
        server.start_and_wait()
        return server


def signed_in(server: ServerProcess, email: str, *, new: bool) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=10)
    response = client.post(f"/api/users/{'signup' if new else 'signin'}",
                           json={"email": email, "password": PASSWORD})
    assert response.status_code == (201 if new else 200), response.text
    return client


def wait_for_status(buyer: httpx.Client, order_id: str, status: str) -> None:
    deadline = time.monotonic() + PAID_WITHIN_SECONDS
    while (seen := buyer.get(f"/api/orders/{order_id}").json()["status"]) != status:
        assert time.monotonic() < deadline, f"order {order_id} stayed {seen}"
        time.sleep(0.1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def deployment(request: pytest.FixtureRequest, tmp_path: Path,
               fresh_postgres_url: Callable[[], str]) -> Deployment:
    return Deployment(tmp_path, fresh_postgres_url() if request.param == "postgres" else None)


def test_an_upgrade_serves_everything_the_previous_release_stored(
    previous_release: str, deployment: Deployment,
) -> None:
    deployment.migrate(previous_release)
    old = deployment.serve(previous_release, "previous-release")
    try:
        seller = signed_in(old, "seller@example.com", new=True)
        buyer = signed_in(old, "Buyer@Example.com", new=True)
        sold = seller.post("/api/tickets", json={"title": "Sold", "price": "25.50"}).json()
        kept = seller.post("/api/tickets", json={"title": "Kept", "price": 10}).json()
        order = buyer.post("/api/orders", json={"ticketId": sold["id"]}).json()
        paid = buyer.post("/api/payments", json={"orderId": order["id"], "token": "tok_visa"})
        assert paid.status_code == 201, paid.text
        wait_for_status(buyer, order["id"], "complete")
    finally:
        old.stop()

    deployment.migrate(sys.executable)
    new = deployment.serve(sys.executable, "this-release")
    try:
        seller = signed_in(new, "seller@example.com", new=False)
        buyer = signed_in(new, "buyer@example.com", new=False)
        listed = {t["id"]: t for t in seller.get("/api/tickets").json()}
        orders = buyer.get("/api/orders").json()
        again = buyer.post("/api/payments", json={"orderId": order["id"], "token": "tok_visa"})
        listed_now = seller.post("/api/tickets", json={"title": "New", "price": 5})
        reserved = buyer.post("/api/orders", json={"ticketId": kept["id"]})
    finally:
        new.stop()

    assert set(listed) == {kept["id"]}
    assert listed[kept["id"]]["price"] == kept["price"]
    assert [(o["id"], o["status"], o["ticket"]["price"]) for o in orders] == [
        (order["id"], "complete", sold["price"])]
    assert again.status_code == 400
    assert again.json() == {"errors": [{"message": "Order is already paid"}]}
    assert listed_now.status_code == 201
    assert reserved.status_code == 201, reserved.text
