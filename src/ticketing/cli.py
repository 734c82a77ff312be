"""The ``ticketing`` command: ``serve``, ``migrate``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ticketing import db
from ticketing.settings import Settings, SettingsError

SOURCE_DIR = Path(__file__).resolve().parent


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"ticketing: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "migrate":
        asyncio.run(db.apply_migrations(settings))
        print(f"migrated: {', '.join(settings.modules)}")
        return 0
    if args.command == "serve":
        return serve(settings, args.host, args.port, reload=args.reload)
    parser.print_help()
    return 2


def serve(settings: Settings, host: str, port: int, *, reload: bool) -> int:
    """Serve with uvicorn; the embedded SQLite default is migrated first."""
    import uvicorn

    if settings.uses_embedded_database:
        asyncio.run(db.apply_migrations(settings))
    uvicorn.run(
        "ticketing.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        reload_dirs=[str(SOURCE_DIR)] if reload else None,
        reload_includes=["*.py", "*.html"] if reload else None,
        access_log=False,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ticketing", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    serve_cmd = commands.add_parser("serve", help="run the web app")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--reload", action="store_true",
                           help="restart when the code changes (development)")
    commands.add_parser("migrate", help="apply every enabled module's migrations")
    return parser


if __name__ == "__main__":
    sys.exit(main())
