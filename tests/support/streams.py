"""A live stream read over real HTTP, line by line in a background thread, as a
browser's EventSource would; and session cookies for the split's processes."""

from __future__ import annotations

import contextlib
import http.client
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from tests.support.split import SPLIT_JWT_KEY
from ticketing.modules.auth.tokens import TokenCodec

EVENT_SECONDS = 10.0

Event = tuple[str, dict[str, Any]]


class EventStream:
    """One open ``text/event-stream`` response; its events arrive on a queue."""

    def __init__(self, base_url: str, path: str, cookie: str | None = None) -> None:
        url = urlsplit(base_url)
        assert url.hostname is not None
        self._connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        headers = {"Accept": "text/event-stream"}
        if cookie is not None:
            headers["Cookie"] = f"session={cookie}"
        self._connection.request("GET", path, headers=headers)
        self.response = self._connection.getresponse()
        self.opened = threading.Event()
        self._events: queue.Queue[Event] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError, http.client.HTTPException):  # closed
            while line := self.response.readline():
                text = line.decode().rstrip("\r\n")
                if text.startswith(": live"):
                    self.opened.set()
                elif text and not text.startswith(":"):
                    name, _, value = text.partition(":")
                    fields[name] = value.removeprefix(" ")
                elif not text and "data" in fields:
                    self._events.put((fields.get("event", "message"), json.loads(fields["data"])))
                    fields = {}

    def until(self, name: str, holds: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Skip events until one named ``name`` whose data ``holds``; that data."""
        deadline = time.monotonic() + EVENT_SECONDS
        while True:
            try:
                event, data = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching {name} event in {EVENT_SECONDS}s") from None
            if event == name and holds(data):
                return data

    def close(self) -> None:
        """Hang up; the reader sees the end of the stream and stops before the close."""
        if self._connection.sock is not None:
            with contextlib.suppress(OSError):
                self._connection.sock.shutdown(socket.SHUT_RDWR)
        self._reader.join(5)
        self._connection.close()


@contextlib.contextmanager
def streaming(base_url: str, path: str, cookie: str | None = None) -> Iterator[EventStream]:
    stream = EventStream(base_url, path, cookie)
    try:
        assert stream.response.status == 200, stream.response.read()
        assert stream.opened.wait(EVENT_SECONDS), "the stream never opened"
        yield stream
    finally:
        stream.close()


def cookie_for(user_id: str) -> str:
    return TokenCodec(SPLIT_JWT_KEY, 3600).issue_cookie(user_id, f"{user_id}@test.com")
