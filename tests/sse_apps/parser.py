"""A ``text/event-stream`` parser following the HTML Living Standard's
"Interpreting an event stream" steps, for the tests (what a browser would see)."""

from __future__ import annotations

import dataclasses
import re

_LINE = re.compile(r"\r\n|\r|\n")


@dataclasses.dataclass
class Received:
    """A dispatched event as a browser's EventSource reports it."""

    data: str
    event: str = "message"
    last_event_id: str = ""


@dataclasses.dataclass
class Parser:
    """Feed bytes, collect dispatched events; comments are counted."""

    events: list[Received] = dataclasses.field(default_factory=list)
    comments: list[str] = dataclasses.field(default_factory=list)
    retry: int | None = None
    last_event_id: str = ""
    _buffer: str = ""
    _data: str = ""
    _event: str = ""
    _pending: bytes = b""

    def feed(self, chunk: bytes) -> list[Received]:
        """Parse ``chunk``; the events it completed."""
        self._pending += chunk
        try:
            text = self._pending.decode("utf-8")
            self._pending = b""
        except UnicodeDecodeError:
            return []  # a character split across chunks: wait for the rest
        buffer = self._buffer + text
        # A trailing "\r" may be the first half of "\r\n": keep it for the next chunk.
        held = "\r" if buffer.endswith("\r") else ""
        before = len(self.events)
        lines = _LINE.split(buffer[: len(buffer) - len(held)])
        # The last piece is an incomplete line (empty after a line break).
        self._buffer = lines.pop() + held
        for line in lines:
            self._line(line)
        return self.events[before:]

    def _line(self, line: str) -> None:
        if line == "":
            self._dispatch()
            return
        if line.startswith(":"):
            self.comments.append(line[1:].strip())
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data += value + "\n"
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value.isdigit():
            self.retry = int(value)

    def _dispatch(self) -> None:
        if self._data == "":
            self._event = ""
            return
        data = self._data[:-1] if self._data.endswith("\n") else self._data
        self.events.append(Received(data, self._event or "message", self.last_event_id))
        self._data = ""
        self._event = ""


def parse(body: bytes) -> Parser:
    """Parse a whole body."""
    parser = Parser()
    parser.feed(body)
    return parser
