"""Logs: one JSON object per line with the ids bound where the line was written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ticketing.settings import LogFormat
from ticketing.telemetry import logs, tracing


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """The root logger set up as the CLI sets it, writing into a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    buffer = io.StringIO()

    def set_up(log_format: LogFormat) -> None:
        logs.configure("INFO", log_format)
        for handler in root.handlers:
            handler.setStream(buffer)  # type: ignore[attr-defined]

    buffer.set_up = set_up  # type: ignore[attr-defined]
    yield buffer
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def lines(buffer: io.StringIO) -> list[str]:
    return [line for line in buffer.getvalue().splitlines() if line]


def test_each_record_is_one_json_object_with_the_bound_ids(stream: io.StringIO) -> None:
    stream.set_up("json")  # type: ignore[attr-defined]
    tracing.configure("ticketing-tests")

    with tracing.span("work"), logs.bound(request_id="req-1", module="orders",
                                          event_id="ev-1", event_type="order:created"):
        logging.getLogger("ticketing.orders").info("order=%s held", "o-1",
                                                    extra={"status": 201})
        trace_id, span_id = tracing.ids() or ("", "")

    [line] = lines(stream)
    entry = json.loads(line)
    assert entry["message"] == "order=o-1 held"
    assert entry["level"] == "INFO"
    assert entry["logger"] == "ticketing.orders"
    assert entry["time"].endswith("Z")
    assert (entry["request_id"], entry["module"], entry["event_id"], entry["event_type"]) == (
        "req-1", "orders", "ev-1", "order:created")
    assert (entry["trace_id"], entry["span_id"]) == (trace_id, span_id)
    assert len(trace_id) == 32
    assert entry["status"] == 201


def test_a_message_with_newlines_and_an_exception_stays_on_one_line(
    stream: io.StringIO,
) -> None:
    stream.set_up("json")  # type: ignore[attr-defined]
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        logging.getLogger("ticketing").exception("failed:\n%s", "two\nlines")

    [line] = lines(stream)
    entry = json.loads(line)
    assert entry["message"] == "failed:\ntwo\nlines"
    assert "ValueError: bad" in entry["exception"]


def test_fields_are_unbound_when_the_block_ends(stream: io.StringIO) -> None:
    stream.set_up("json")  # type: ignore[attr-defined]
    with logs.bound(request_id="inside"):
        pass
    logging.getLogger("ticketing").info("after")

    assert "request_id" not in json.loads(lines(stream)[0])


def test_text_lines_end_with_the_bound_ids(stream: io.StringIO) -> None:
    stream.set_up("text")  # type: ignore[attr-defined]
    with logs.bound(request_id="req-2", module="orders", event_id=None):
        logging.getLogger("ticketing").warning("plain")

    [line] = lines(stream)
    assert line.endswith("WARNING ticketing plain request_id=req-2 module=orders")
