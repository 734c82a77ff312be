"""Logs: one JSON object per line in production, or plain text, with the ids in hand.

Every record carries what the code handling it is about, where that applies: the
request's id (``X-Request-Id``, echoed on the response), the trace and span ids, the
module, the event's id and type. They come from context variables set by the web
layer around a request and by the consumer around an event, so no call site passes them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.config
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ticketing.settings import LogFormat
from ticketing.telemetry import tracing

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s%(context)s"
# The standard attributes of a LogRecord: anything else was passed in ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "context", "bound", "taskName"}

_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar(
    "ticketing_log_context", default={})  # noqa: B039 (never mutated: always replaced)
_process: dict[str, str] = {}


@contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """Add ``fields`` (those not ``None``) to every record logged inside the block."""
    token = _context.set(_context.get() | {k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, str]:
    """The process's and the bound fields, with the current span's trace and span ids
    (over a ``trace_id`` bound before the span opened)."""
    fields = _process | _context.get()
    found = tracing.ids()
    if found is not None:
        fields["trace_id"], fields["span_id"] = found
    return fields


def bind_process(**fields: str) -> None:
    """Fields for every record of this process (``module`` when it runs only one)."""
    _process.update(fields)


def bind_request(**fields: str | None) -> None:
    """Add fields for the rest of the current task (a request's, which ends with it)."""
    _context.set(_context.get() | {k: v for k, v in fields.items() if v is not None})


class ContextFilter(logging.Filter):
    """Puts the bound fields on each record: ``record.bound`` (a dict, for JSON) and
    ``record.context`` (`` key=value`` pairs, for text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current()
        record.bound = fields
        record.context = "".join(f" {key}={value}" for key, value in fields.items())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the bound ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "bound", {}),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


def configure(level: str, log_format: LogFormat) -> None:
    """Route every logger (uvicorn's and the libraries' too) to stderr in ``log_format``."""
    logging.config.dictConfig(log_config(level, log_format))


def log_config(level: str, log_format: LogFormat) -> dict[str, Any]:
    """The logging set-up, as a ``dictConfig``: also uvicorn's ``log_config``, which it
    applies again in each worker it spawns."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"json": {"()": JsonFormatter},
                       "text": {"format": TEXT_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "filters": ["context"], "formatter": log_format}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"uvicorn": {"handlers": [], "propagate": True},
                    "uvicorn.error": {"handlers": [], "propagate": True}},
    }
