"""The ``ticketing`` command: ``serve``, ``migrate``, ``backup``, ``restore``, ``bus``."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import asyncpg
from tortoise.exceptions import DBConnectionError

from ticketing import __version__, db
from ticketing.serving import uvicorn_limits
from ticketing.settings import Settings, SettingsError
from ticketing.telemetry import logs, metrics

if TYPE_CHECKING:
    from ticketing.bus.runtime import Bus

SOURCE_DIR = Path(__file__).resolve().parent
# On SIGTERM uvicorn waits for open connections before the app's shutdown, and a live
# stream (Server-Sent Events) never ends by itself: after this long it is cut (the
# browser reconnects elsewhere) and the relays and consumers stop gracefully.
GRACEFUL_SHUTDOWN_SECONDS = 3


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"ticketing: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    if args.command == "migrate":
        try:
            asyncio.run(db.apply_migrations(settings))
        except (OSError, DBConnectionError) as error:
            print(f"ticketing: cannot reach the database to migrate: {error}", file=sys.stderr)
            return 1
        print(f"migrated: {', '.join(settings.modules)}")
        return 0
    if args.command == "check":
        return asyncio.run(run_check(settings, grace=args.grace, wait=args.wait))
    if args.command in ("backup", "restore"):
        return run_backup_command(settings, args.command, Path(args.path))
    if args.command == "serve":
        return serve(settings, args.host, args.port, reload=args.reload, workers=args.workers)
    if args.command == "bus":
        return asyncio.run(run_bus_command(settings, args))
    parser.print_help()
    return 2


def serve(settings: Settings, host: str, port: int, *, reload: bool, workers: int = 1) -> int:
    """Serve with uvicorn (ADR 6); the embedded SQLite default is migrated first.

    Several workers are safe: relays claim outbox rows with SKIP LOCKED on PostgreSQL,
    consumers are idempotent, and one expiration scheduler holds the lease.
    """
    import uvicorn

    if workers > 1 and settings.uses_embedded_database:
        print("ticketing: --workers above 1 needs PostgreSQL (TICKETING_DATABASE_URL): "
              "SQLite relays cannot share an outbox", file=sys.stderr)
        return 2
    if settings.uses_embedded_database:
        try:
            asyncio.run(db.apply_migrations(settings))
        except (OSError, DBConnectionError) as error:
            print(f"ticketing: cannot open the embedded databases: {error}", file=sys.stderr)
            return 1
    if workers > 1 and not reload:
        share_metrics_between_workers()
    uvicorn.run(
        "ticketing.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=None if reload else workers,
        reload_dirs=[str(SOURCE_DIR)] if reload else None,
        reload_includes=["*.py", "*.html"] if reload else None,
        access_log=False,
        **uvicorn_limits(),
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_level=settings.log_level.lower(),
        log_config=logs.log_config(settings.log_level, settings.log_format),
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return 0


def share_metrics_between_workers() -> None:
    """Give the workers a fresh directory for their metric files (prometheus-client's
    multiprocess mode): a scrape of any worker then reports them all. Set before uvicorn
    spawns them, which read it at import. A directory the operator chose is emptied of
    an earlier run's files, which would otherwise still be counted."""
    chosen = os.environ.get(metrics.MULTIPROCESS_DIR_VARIABLE)
    if chosen:
        for stale in Path(chosen).glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        directory = tempfile.mkdtemp(prefix="ticketing-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ[metrics.MULTIPROCESS_DIR_VARIABLE] = directory


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketing", description=__doc__)
    parser.add_argument("--version", action="version", version=f"ticketing {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve_cmd = commands.add_parser("serve", help="run the web app")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--reload", action="store_true",
                           help="restart when the code changes (development)")
    serve_cmd.add_argument("--workers", type=int, default=1,
                           help="worker processes (PostgreSQL: use one per core)")
    commands.add_parser("migrate", help="apply every enabled module's migrations (one "
                        "migrator at a time per database)")
    check_cmd = commands.add_parser(
        "check", help="audit the modules' promises to each other, read-only (exit 1 with "
                      "one line per violation)")
    check_cmd.add_argument("--grace", type=float, default=30.0, metavar="SECONDS",
                           help="how old a difference must be to count (events in flight)")
    check_cmd.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                           help="re-check for up to this long while violations remain")
    backup_cmd = commands.add_parser(
        "backup", help="copy every enabled module's data into a new folder (safe while serving)")
    backup_cmd.add_argument("path", metavar="PATH", help="the folder to create")
    restore_cmd = commands.add_parser(
        "restore", help="replace every enabled module's data with a backup, then migrate "
                        "(stop the servers first)")
    restore_cmd.add_argument("path", metavar="PATH", help="a folder made by ticketing backup")
    bus_cmd = commands.add_parser("bus", help="inspect and repair the event bus")
    bus_commands = bus_cmd.add_subparsers(dest="bus_command", required=True)
    status_cmd = bus_commands.add_parser(
        "status", help="outbox backlog, consumer lag and dead letters of the enabled modules")
    status_cmd.add_argument("--json", action="store_true", help="print one JSON document")
    replay_cmd = bus_commands.add_parser(
        "replay", help="deliver a dead-lettered event again (exit 1 if there is none)")
    replay_cmd.add_argument("event_id", metavar="EVENT_ID")
    return parser


async def run_check(settings: Settings, *, grace: float, wait: float,
                    out: TextIO | None = None) -> int:
    """``ticketing check``: 0 and one "ok" line, or 1 and one line per violation."""
    from datetime import timedelta

    from ticketing.audit import audit

    out = out or sys.stdout
    try:
        await db.open_databases(settings)
        try:
            found = await audit(settings, grace=timedelta(seconds=grace), wait=wait)
        finally:
            await db.close_databases()
    except (OSError, DBConnectionError, asyncpg.PostgresError) as error:
        print(f"ticketing: check: cannot reach the database: {error}", file=sys.stderr)
        return 1
    for line in found:
        print(line, file=out)
    if not found:
        print(f"ok: {', '.join(settings.modules)}", file=out)
    return 1 if found else 0


def run_backup_command(settings: Settings, command: str, path: Path) -> int:
    """``backup PATH`` or ``restore PATH``: one line per module, or one line saying why not."""
    from ticketing import backup

    action = backup.backup if command == "backup" else backup.restore
    try:
        lines = asyncio.run(action(settings, path))
    except backup.BackupError as error:
        print(f"ticketing: {command}: {error}", file=sys.stderr)
        return 1
    except (OSError, DBConnectionError, asyncpg.PostgresError) as error:
        print(f"ticketing: {command}: cannot reach the database: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


async def run_bus_command(settings: Settings, args: argparse.Namespace) -> int:
    """Open the enabled modules' databases and run one ``bus`` subcommand on their bus."""
    from ticketing.bootstrap import build_bus  # imports every module: only when needed

    bus, parts = build_bus(settings)
    await db.open_databases(settings)
    try:
        if args.bus_command == "status":
            try:
                await bus.transport.connect()
            except Exception as error:  # the outbox report is still worth printing
                print(f"ticketing: bus transport unreachable: {error}", file=sys.stderr)
            expiration = parts["expiration"].facade if "expiration" in parts else None
            return await bus_status(bus, as_json=args.json, expiration=expiration)
        return await bus_replay(bus, args.event_id)
    finally:
        await bus.transport.stop()
        await db.close_databases()


class ReportsStatus(Protocol):
    async def status(self) -> dict[str, Any]: ...


async def bus_status(bus: Bus, *, as_json: bool = False, out: TextIO | None = None,
                     expiration: ReportsStatus | None = None) -> int:
    """Print the bus status as a table (or JSON); always exit code 0.

    With the expiration module: its deadlines, task queue and workers too.
    """
    out = out or sys.stdout
    report = await bus.status()
    if expiration is not None:
        report["expiration"] = await expiration.status()
    if as_json:
        print(json.dumps(report, indent=2), file=out)
    else:
        print(format_status(report), file=out)
    return 0


async def bus_replay(bus: Bus, event_id: str, out: TextIO | None = None,
                     err: TextIO | None = None) -> int:
    """Re-deliver the dead letters of ``event_id``: 0 if any was replayed, else 1.

    The handler runs in this process; what it publishes waits in the module's outbox
    for the server's relay (its poll picks it up within a second).
    """
    out, err = out or sys.stdout, err or sys.stderr
    try:
        replayed = await bus.replay(event_id)
    except Exception as error:
        print(f"ticketing: replay of {event_id} failed, the dead letter stays: {error!r}",
              file=err)
        return 1
    if not replayed:
        print(f"ticketing: no dead letter of event {event_id} waits for a replay", file=err)
        return 1
    print(f"replayed {event_id} ({replayed} dead letter{'s' if replayed > 1 else ''})", file=out)
    return 0


def format_status(report: dict[str, Any]) -> str:
    """The status report as a few plain-text tables."""
    lines = ["Outbox", f"  {'module':<12} {'backlog':>8}  oldest unsent"]
    for module, outbox in report["outbox"].items():
        age = outbox["oldestUnsentSeconds"]
        lines.append(f"  {module:<12} {outbox['backlog']:>8}  "
                     f"{'-' if age is None else f'{age:.1f}s'}")
    lines += ["", "Consumer lag"]
    lag = report["consumerLag"]
    if "consumerLagError" in report:
        lines.append(f"  unknown: {report['consumerLagError']}")
    elif lag is None:
        lines.append("  in-process delivery: the outbox backlog is the lag")
    elif not lag:
        lines.append("  no durable consumers yet")
    else:
        lines += [f"  {name:<12} {waiting:>8}" for name, waiting in lag.items()]
    letters = report["deadLetters"]
    lines += ["", f"Dead letters: {len(letters) or 'none'}"]
    for letter in letters:
        lines.append(f"  {letter['eventId']}  {letter['type']}  consumer={letter['consumer']}"
                     f"  attempts={letter['attempts']}  at={letter['at']}")
        lines.append(f"    {letter['error'][:200]}")
    if "expiration" in report:
        lines += ["", *_format_expiration(report["expiration"])]
    return "\n".join(lines)


def _format_expiration(status: dict[str, Any]) -> list[str]:
    overdue = status["overdueSeconds"]
    backlog = status.get("taskBacklogError") or status["taskBacklog"]
    lines = ["Expiration",
             f"  pending deadlines {status['pending']}, oldest {status['oldestDeadline'] or '-'}"
             + (f" ({overdue:.1f}s overdue)" if overdue else ""),
             f"  task queue backlog {'in-process' if backlog is None else backlog}",
             f"  workers: {len(status['workers']) or 'none'}"]
    for worker in status["workers"]:
        lines.append(f"    {worker['holder']}  seen {worker['seenSecondsAgo']}s ago")
        for name, task in sorted(worker["tasks"].items()):
            lines.append(f"      {name:<22} {task['state']:<10} restarts={task['restarts']}"
                         + ("  FAILING" if task["failing"] else "")
                         + (f"  last error: {task['lastError'][:120]}"
                            if task["lastError"] else ""))
    return lines


if __name__ == "__main__":
    sys.exit(main())
