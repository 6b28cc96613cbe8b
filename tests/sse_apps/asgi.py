"""Driving an app's ASGI door by hand with a client that disconnects when told."""

from __future__ import annotations

import asyncio
import typing as t

import kolben
from kolben.sse import OPENING

from .parser import Parser

WAIT = 10.0


class Stream(t.NamedTuple):
    status: int
    headers: dict[str, str]
    parser: Parser


async def asgi_stream(
    app: kolben.Kolben,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    until: t.Callable[[Parser], bool],
    when_open: t.Callable[[], None] | None = None,
) -> Stream:
    """Request ``path`` through ``app.asgi_app``; the client disconnects once
    ``until(parser)`` is true. ``when_open`` runs in a thread once the stream has
    sent its opening comment."""
    parser = Parser()
    start: dict[str, t.Any] = {}
    gone = asyncio.Event()
    request_sent = False
    loop = asyncio.get_running_loop()
    helpers: list[asyncio.Future[None]] = []

    async def receive() -> dict[str, t.Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, t.Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        chunk = message.get("body", b"")
        parser.feed(chunk)
        if chunk == OPENING and when_open is not None and not helpers:
            helpers.append(loop.run_in_executor(None, when_open))
        if until(parser):
            gone.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }
    await asyncio.wait_for(app.asgi_app(scope, receive, send), WAIT)
    await asyncio.wait_for(asyncio.gather(*helpers), WAIT)
    return Stream(
        start["status"],
        {k.decode(): v.decode() for k, v in start["headers"]},
        parser,
    )
