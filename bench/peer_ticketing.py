"""Our side of the peer benchmark (bench/peer.py): one ``ticketing serve`` process on the
run's PostgreSQL database, an event made through the API, and what the database says the
saga did with its orders."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.common import JWT_KEY, ROOT
from bench.peer_measure import count
from bench.reserve import app_env
from ticketing import db
from ticketing.ids import new_id
from ticketing.modules.auth.tokens import TokenCodec
from ticketing.settings import Settings

SERVE = [sys.executable, "-m", "ticketing", "serve", "--port", "{port}"]
READY_PATH = "/healthz"


def prepare(url: str, work: Path) -> dict[str, str]:
    """Our migrations on the run's database; the environment ``ticketing serve`` gets:
    the code of this checkout first on the path, whichever checkout the venv points at."""
    settings = Settings(env="test", data_dir=work, database_url=url, jwt_key=JWT_KEY)
    work.mkdir(parents=True, exist_ok=True)
    asyncio.run(db.apply_migrations(settings))
    return app_env(settings) | {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}


def code_version() -> str:
    """The commit ours ran at, and whether src/ had changes on top of it."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"],
                                 capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"commit {commit}" + (" with uncommitted changes in src/" if changed else "")


def write_cookies(path: Path, buyers: int) -> None:
    """One signed-in buyer per line (a session cookie each), as the wrk script reads them."""
    codec = TokenCodec(JWT_KEY, 24 * 3600)
    path.write_text("\n".join(codec.issue_cookie(new_id(), f"fan{n}@example.com")
                              for n in range(buyers)))


def create_event(app_url: str, database_url: str, quota: int) -> str:
    """An event of ``quota`` tickets at 40 through the API (no on-sale time: no waiting
    room), once the orders module has heard of all of its tickets."""
    seller = TokenCodec(JWT_KEY, 24 * 3600).issue_cookie(new_id(), "seller@example.com")
    answer = httpx.post(f"{app_url}/api/events", timeout=120,
                        headers={"Cookie": f"session={seller}"},
                        json={"title": "On sale", "price": 40, "quantity": quota})
    answer.raise_for_status()
    event_id: str = answer.json()["id"]
    deadline = time.monotonic() + 120
    while count(database_url, "SELECT COUNT(*) FROM orders.orders_tickets "
                "WHERE event_id = $1", event_id) < quota:
        if time.monotonic() > deadline:
            raise RuntimeError("the orders module never heard of all the event's tickets")
        time.sleep(0.2)
    return event_id


@dataclass(frozen=True)
class Saga:
    """An event's orders as each module holds them."""

    orders: int  # in orders
    held: int  # tickets held for an order, in tickets
    deadlined: int  # pending expirations, in expiration
    known_to_payments: int  # order replicas, in payments

    @property
    def settled(self) -> bool:
        return self.orders == self.held == self.deadlined == self.known_to_payments


SAGA_SQL = """
SELECT (SELECT COUNT(*) FROM orders.orders_orders WHERE event_id = $1) AS orders,
       (SELECT COUNT(*) FROM tickets.tickets_tickets
         WHERE event_id = $1 AND order_id IS NOT NULL) AS held,
       (SELECT COUNT(*) FROM expiration.expiration_pending p
          JOIN orders.orders_orders o ON o.id = p.order_id WHERE o.event_id = $1) AS deadlined,
       (SELECT COUNT(*) FROM payments.payments_orders r
          JOIN orders.orders_orders o ON o.id = r.id WHERE o.event_id = $1) AS known
"""


async def _saga(url: str, event_id: str) -> Saga:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(SAGA_SQL, event_id)
    finally:
        await connection.close()
    assert row is not None
    return Saga(int(row["orders"]), int(row["held"]), int(row["deadlined"]), int(row["known"]))


def wait_until_settled(url: str, event_id: str, within: float = 180) -> tuple[Saga, float]:
    """The saga's state once every order is held, deadlined and known to payments, the
    same in two looks in a row (a request wrk left in flight may still add one), or when
    the time ran out; and the wall-clock moment it was first seen so."""
    deadline = time.monotonic() + within
    seen, seen_at = None, time.time()
    while True:
        saga = asyncio.run(_saga(url, event_id))
        if saga.settled and saga == seen:
            return saga, seen_at
        if time.monotonic() > deadline:
            return saga, time.time()
        if saga != seen:
            seen, seen_at = saga, time.time()
        time.sleep(0.2)


# Active order lines of the event, and tickets held by more than one of them (must be 0).
SOLD_SQL = ("SELECT COUNT(*) FROM orders.orders_order_lines l JOIN orders.orders_orders o "
            "ON o.id = l.order_id WHERE l.active AND o.event_id = $1")
TWICE_SQL = ("SELECT COUNT(*) FROM (SELECT l.ticket_id FROM orders.orders_order_lines l "
             "JOIN orders.orders_orders o ON o.id = l.order_id WHERE l.active "
             "AND o.event_id = $1 GROUP BY l.ticket_id HAVING COUNT(*) > 1) AS twice")
