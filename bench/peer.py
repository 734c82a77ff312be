"""Peer benchmark: pretix and ticketing in the same run, the same on-sale load at both.

Run with ``make bench-peer`` (or ``python -m bench.peer``). pretix, a real ticket shop in
Python, is installed from PyPI into a virtual environment of its own (never one of our
dependencies; bench/peer_pretix.py), migrated onto a fresh PostgreSQL database and
served by gunicorn with 2 workers. Ours is one ``ticketing serve`` process on another
fresh database of the same server. Each gets an event with one product of the same
quota, made through its own API, and wrk drives the same load at both through their own
APIs: 50 connections, each request one buyer's order of one ticket (pretix: its REST order
creation; ours: ``POST /api/orders`` of a signed-in buyer, no waiting room).

Two runs per system:

- **load**: a quota the run cannot sell out. Orders/s end to end counts what each
  database holds once the work is done (for ours: the saga's too, every order held by
  tickets, deadlined by expiration and known to payments), over the time from the start
  of the load to the last order done. p50/p99 are wrk's, of the answers. CPU per order:
  the app's processes, and the PostgreSQL backends serving the system's own database.
- **oversell**: a small quota and far more buyers; each must sell exactly the quota,
  read back from its own tables (for ours also: no ticket in two active orders).

Results go to docs/benchmarks.md (bench/peer_report.py writes the section).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import peer_pretix, peer_ticketing
from bench.common import postgres_database, server
from bench.peer_measure import Leg, Meter, Options, count, drive, scalar
from bench.peer_report import TITLE, report
from bench.report import write_section

SCRIPT = Path(__file__).with_name("peer.lua")


def wait_quiet(url: str, sql: str, *values: object, quiet: float = 2.0) -> None:
    """Until ``sql``'s count has not moved for ``quiet`` seconds (requests wrk left in
    flight still finish on the server)."""
    last, since = -1, time.monotonic()
    while time.monotonic() - since < quiet:
        now = count(url, sql, *values)
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.25)


def runs(options: Options) -> list[tuple[str, int, int]]:
    return [("load", options.quota, options.seconds),
            ("oversell", options.oversell_quota, options.oversell_seconds)]


def pretix_legs(options: Options, work: Path) -> list[Leg]:
    bin_dir = peer_pretix.ensure_venv()
    legs = []
    with postgres_database() as url:
        database = url.rsplit("/", 1)[1]
        config = peer_pretix.write_config(work, database)
        started = time.monotonic()
        organizer, token = peer_pretix.migrate_and_bootstrap(bin_dir, config,
                                                             work / "pretix-migrate.log")
        print(f"pretix migrated in {time.monotonic() - started:.0f} s", flush=True)
        with server(peer_pretix.gunicorn_command(bin_dir), peer_pretix.environment(config),
                    work / "pretix.log", ready_path=peer_pretix.READY_PATH) as app:
            for run, quota, seconds in runs(options):
                event = peer_pretix.create_event(app.url, organizer, token, f"on-sale-{run}",
                                                 quota)
                meter = Meter(app, database)
                began = meter.start()
                result = drive(app.url, SCRIPT,
                               ["pretix", event.orders_path, token, str(event.item_id), run],
                               connections=options.connections, seconds=seconds,
                               threads=options.threads)
                wait_quiet(url, peer_pretix.ORDERS_SQL, event.slug)
                done_at = scalar(url, peer_pretix.LAST_ORDER_SQL, event.slug)
                spent = meter.stop()
                legs.append(Leg(
                    "pretix", run, quota, result, count(url, peer_pretix.ORDERS_SQL, event.slug),
                    count(url, peer_pretix.SOLD_SQL, event.slug), None,
                    max(result.seconds, done_at - began), spent, True))
                print(legs[-1], flush=True)
    return legs


def ticketing_legs(options: Options, work: Path) -> list[Leg]:
    legs = []
    cookies = work / "cookies.txt"
    peer_ticketing.write_cookies(cookies, options.buyers)
    with postgres_database() as url:
        database = url.rsplit("/", 1)[1]
        env = peer_ticketing.prepare(url, work / "ticketing")
        with server(peer_ticketing.SERVE, env, work / "ticketing.log",
                    ready_path=peer_ticketing.READY_PATH) as app:
            for run, quota, seconds in runs(options):
                event_id = peer_ticketing.create_event(app.url, url, quota)
                meter = Meter(app, database)
                began = meter.start()
                result = drive(app.url, SCRIPT,
                               ["ticketing", str(cookies), event_id, str(options.threads)],
                               connections=options.connections, seconds=seconds,
                               threads=options.threads)
                saga, done_at = peer_ticketing.wait_until_settled(url, event_id)
                spent = meter.stop()
                legs.append(Leg(
                    "ticketing", run, quota, result, saga.orders,
                    count(url, peer_ticketing.SOLD_SQL, event_id),
                    count(url, peer_ticketing.TWICE_SQL, event_id),
                    max(result.seconds, done_at - began), spent, saga.settled))
                print(legs[-1], flush=True)
    return legs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="of the load run")
    parser.add_argument("--oversell-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--quota", type=int, default=40_000, help="of the load run's event")
    parser.add_argument("--oversell-quota", type=int, default=25)
    parser.add_argument("--buyers", type=int, default=20_000, help="our signed-in buyers")
    parser.add_argument("--systems", default="pretix,ticketing",
                        help="one alone only prints its runs, for trying it out")
    parser.add_argument("--workdir", help="keep the configs, logs and cookies here")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    options = Options(args.seconds, args.oversell_seconds, args.connections, args.threads,
                      args.quota, args.oversell_quota, args.buyers)
    load_before = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        systems = args.systems.split(",")
        legs = ((pretix_legs(options, work) if "pretix" in systems else [])
                + (ticketing_legs(options, work) if "ticketing" in systems else []))
    if len({leg.system for leg in legs}) < 2:
        return  # one side alone (a try-out): its legs were printed, there is no comparison
    text = report(legs, options, load_before, time.monotonic() - started)
    print(text)
    if not args.no_write:
        write_section(TITLE, text)


if __name__ == "__main__":
    main()
