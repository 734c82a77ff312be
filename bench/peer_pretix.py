"""The pretix side of the peer benchmark (bench/peer.py): its own venv, its config on the
run's PostgreSQL database, its migrations, gunicorn, and its events made through its
REST API.

pretix lives in a virtual environment of its own, made with the machine's Python 3.11
and kept in a cache directory outside the repository: it is a peer to measure against,
never a dependency of ours (it is not in pyproject.toml or uv.lock, and none of its code
is in this repository).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import ROOT

PRETIX_VERSION = "2026.8.0"
GUNICORN_VERSION = "27.0.1"
WORKERS = 2  # one per core, as pretix's own installation guide runs it
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ticketing-bench-peer"
ORG_SCRIPT = Path(__file__).with_name("peer_pretix_org.py")
SOLD_OUT_TEXT = "not enough quota available"  # in pretix's 400 once the quota is gone


@dataclass(frozen=True)
class PretixEvent:
    slug: str
    item_id: int
    orders_path: str  # what the wrk script POSTs to


def ensure_venv(version: str = PRETIX_VERSION, root: Path = CACHE_DIR) -> Path:
    """pretix's virtual environment (made and installed once, then reused): its bin dir."""
    venv = root / f"pretix-{version}"
    marker = venv / ".bench-peer-installed"
    if marker.exists():
        return venv / "bin"
    system_python = shutil.which("python3.11") or sys.executable
    subprocess.run([system_python, "-m", "venv", "--clear", str(venv)], check=True)
    print(f"installing pretix {version} into {venv} (once)", flush=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    f"pretix=={version}", f"gunicorn=={GUNICORN_VERSION}"], check=True)
    marker.write_text(version)
    return venv / "bin"


def write_config(work: Path, database_name: str) -> Path:
    """pretix.cfg for the run: PostgreSQL on 127.0.0.1, no Redis and no Celery (pretix
    then runs its tasks inside the request: an order is complete when the 201 comes)."""
    data = work / "pretix-data"
    data.mkdir(parents=True, exist_ok=True)
    config = work / "pretix.cfg"
    config.write_text(
        "[pretix]\ninstance_name=bench-peer\nurl=http://127.0.0.1\n"
        f"datadir={data}\ncurrency=EUR\necb_rates=False\n\n"
        f"[database]\nbackend=postgresql\nname={database_name}\nuser=postgres\n"
        "host=127.0.0.1\nport=5432\n\n"
        f"[django]\nsecret={secrets.token_urlsafe(48)}\ndebug=False\n\n"
        "[locale]\ntimezone=UTC\n")
    return config


def environment(config: Path) -> dict[str, str]:
    """What pretix's processes run with: its config, and none of our venv's paths."""
    return {"PRETIX_CONFIG_FILE": str(config), "DJANGO_SETTINGS_MODULE": "pretix.settings",
            "PYTHONPATH": "", "VIRTUAL_ENV": ""}


def migrate_and_bootstrap(bin_dir: Path, config: Path, log: Path) -> tuple[str, str]:
    """pretix's migrations on the fresh database, then the organizer and the API token."""
    env = os.environ | environment(config)
    with log.open("wb") as out:
        subprocess.run([str(bin_dir / "python"), "-m", "pretix", "migrate", "--noinput"],
                       env=env, stdout=out, stderr=subprocess.STDOUT, check=True, cwd=ROOT)
    made = subprocess.run([str(bin_dir / "python"), str(ORG_SCRIPT)], env=env, check=True,
                          capture_output=True, text=True, cwd=ROOT)
    found = json.loads(made.stdout.strip().splitlines()[-1])
    return str(found["organizer"]), str(found["token"])


def gunicorn_command(bin_dir: Path) -> list[str]:
    """2 sync workers as pretix's guide has them; without --max-requests, so no worker
    is replaced (and its CPU lost to the count) during a run."""
    return [str(bin_dir / "gunicorn"), "pretix.wsgi", "--name", "pretix-bench-peer",
            "--workers", str(WORKERS), "--bind", "127.0.0.1:{port}", "--timeout", "120",
            "--no-control-socket", "--log-level", "warning"]


READY_PATH = "/site.webmanifest"  # /healthcheck/ answers 503 without a real cache


def create_event(url: str, organizer: str, token: str, slug: str, quota: int) -> PretixEvent:
    """An event with one paid product (40.00, as ours) under one quota, live, made
    through pretix's REST API."""
    base = f"/api/v1/organizers/{organizer}/events/"
    with httpx.Client(base_url=url, timeout=60,
                      headers={"Authorization": f"Token {token}"}) as client:

        def post(path: str, body: dict[str, object]) -> dict[str, object]:
            answer = client.post(path, json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"pretix {path}: {answer.status_code} {answer.text}")
            found: dict[str, object] = answer.json()
            return found

        post(base, {"name": {"en": "On sale"}, "slug": slug, "currency": "EUR",
                    "date_from": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
                    "live": False, "plugins": ["pretix.plugins.manualpayment"]})
        item = post(f"{base}{slug}/items/", {"name": {"en": "Ticket"},
                                             "default_price": "40.00", "admission": True,
                                             "active": True, "personalized": False})
        item_id = int(str(item["id"]))
        post(f"{base}{slug}/quotas/", {"name": "Tickets", "size": quota, "items": [item_id],
                                       "variations": []})
        live = client.patch(f"{base}{slug}/", json={"live": True})
        if live.status_code != 200:
            raise RuntimeError(f"pretix event not live: {live.text}")
    return PretixEvent(slug, item_id, f"{base}{slug}/orders/")


# What was sold, read from pretix's own tables: positions of orders not cancelled.
SOLD_SQL = ("SELECT COUNT(*) FROM pretixbase_orderposition p "
            "JOIN pretixbase_order o ON o.id = p.order_id "
            "JOIN pretixbase_event e ON e.id = o.event_id "
            "WHERE e.slug = $1 AND o.status IN ('n', 'p') AND NOT p.canceled")
ORDERS_SQL = ("SELECT COUNT(*) FROM pretixbase_order o JOIN pretixbase_event e "
              "ON e.id = o.event_id WHERE e.slug = $1")
LAST_ORDER_SQL = ("SELECT EXTRACT(EPOCH FROM MAX(o.datetime)) FROM pretixbase_order o "
                  "JOIN pretixbase_event e ON e.id = o.event_id WHERE e.slug = $1")
