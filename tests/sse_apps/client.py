"""An SSE client over http.client for the real-server tests: reads the chunked
body as it arrives and parses it as a browser would. Every read is bounded."""

from __future__ import annotations

import http.client
import time

from .parser import Parser, Received

HOST = "127.0.0.1"


class SSEClient:
    """One open event stream; ``Last-Event-ID`` sent when given."""

    def __init__(
        self, port: int, path: str, *, last_event_id: str | None = None, timeout: float = 10.0
    ) -> None:
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=headers)
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers
        self.parser = Parser()
        self._seen = 0

    def _read(self) -> None:
        chunk = self.response.read1(65536)
        if not chunk:
            raise EOFError("the server ended the stream")
        self.parser.feed(chunk)

    def wait_open(self) -> None:
        """Read until the stream's opening comment has arrived."""
        deadline = time.monotonic() + self.timeout
        while not self.parser.comments:
            if time.monotonic() > deadline:
                raise TimeoutError("the stream did not open")
            self._read()

    def take(self, n: int) -> list[Received]:
        """The next ``n`` events (the socket timeout bounds each read, and the
        whole wait is bounded too)."""
        deadline = time.monotonic() + self.timeout
        while len(self.parser.events) - self._seen < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.parser.events) - self._seen} of {n} events arrived")
            self._read()
        events = self.parser.events[self._seen : self._seen + n]
        self._seen += n
        return events

    def close(self) -> None:
        self.response.close()
        self.conn.close()

    def __enter__(self) -> SSEClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
