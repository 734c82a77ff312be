"""The HTTP edge of ``ticketing serve``: uvicorn with bounded requests (ADR 6, ADR 12).

uvicorn's httptools parser has no limit on the request line and headers (a 60 MB header
froze a process for seconds; five unfinished 100 MB ones took 600 MB) and uvicorn waits
forever for a request head that never completes. So the server runs uvicorn's h11
protocol with two additions: a request head (line and headers) over ``MAX_HEAD_BYTES``
is answered 431 and the connection closed, however it arrives (h11's own limit counts
only an unfinished head); and a head must arrive within ``HEAD_TIMEOUT_SECONDS`` of the
connection or of the previous response, else the connection is closed. Idle keep-alive connections
close after ``KEEP_ALIVE_SECONDS`` (uvicorn's own timer); a body that trickles is
Quart's ``BODY_TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT_SECONDS = 10.0
KEEP_ALIVE_SECONDS = 5
MAX_CONCURRENCY = 1000
_REFUSAL = b'{"errors":[{"message":"Request head too large"}]}'
HEAD_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                  b"content-type: application/json\r\nconnection: close\r\n"
                  b"content-length: " + str(len(_REFUSAL)).encode() + b"\r\n\r\n" + _REFUSAL)


@functools.cache
def head_timeout_seconds() -> float:
    """``TICKETING_REQUEST_HEAD_TIMEOUT_SECONDS`` (checked by the settings at start-up).

    Read here rather than passed in: uvicorn hands worker processes only an importable
    protocol class.
    """
    return float(os.environ.get("TICKETING_REQUEST_HEAD_TIMEOUT_SECONDS",
                                HEAD_TIMEOUT_SECONDS))


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout = head_timeout_seconds()
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0  # of the head being received
        self._tail = b""  # its last bytes, for an end marker split across reads

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            if self._head_deadline is None:
                self._await_head()  # the next request on a kept-alive connection
            end = (self._tail + data).find(b"\r\n\r\n")
            head = len(data) if end < 0 else end - len(self._tail) + 4
            if self._head_bytes + head > MAX_HEAD_BYTES:
                self._refuse_head()
                return
            self._head_bytes += len(data)
            self._tail = data[-3:]
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._head_arrived()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is not h11.IDLE:
            self._head_arrived()  # a pipelined request was read at once

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_bytes, self._tail = 0, b""
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_late)

    def _refuse_head(self) -> None:
        self._head_arrived()
        if not self.transport.is_closing():
            self.transport.write(HEAD_TOO_LARGE)
            self.transport.close()

    def _head_arrived(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_late(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("closing a connection whose request head did not arrive in %ss",
                             self.head_timeout)
            self.transport.close()


def uvicorn_limits() -> dict[str, Any]:
    """The ``uvicorn.run`` keywords that bound what one client can hold."""
    return {
        "http": "ticketing.serving:BoundedH11Protocol",
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "limit_concurrency": MAX_CONCURRENCY,
    }
