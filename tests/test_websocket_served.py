"""WebSocket routes served for real: one uvicorn process on a free 127.0.0.1 port
(stopped by its PID), real clients from the ``websockets`` package.

The app module is written to a temporary folder; views report back through
marker files there (a view's ``finally`` writes one), and through ``/stats``.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import sys
import textwrap
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from serving import HOST, ServerProcess, answers, free_port, server_env

WAIT = 10.0
#: The issue's promise: a vanished client's view runs its ``finally`` within 1 s.
VANISH_LIMIT = 1.0

APP_SOURCE = textwrap.dedent(
    """
    import asyncio
    import os
    import pathlib

    from kolben import Kolben, abort, websocket, current_app

    MARKS = pathlib.Path(os.environ["KOLBEN_TEST_MARKS"])

    app = Kolben(__name__)
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 1024


    def mark(name, text="done"):
        (MARKS / name).write_text(text)


    @app.get("/ping")
    def ping():
        return "pong"


    @app.get("/stats/<channel>")
    def stats(channel):
        return {"subscribers": app.broker.subscriber_count(channel)}


    @app.post("/publish/<channel>/<text>")
    def publish(channel, text):
        return {"id": app.broker.publish(channel, text)}


    @app.websocket("/echo")
    async def echo():
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)


    @app.websocket("/listen/<token>")
    async def listen(token):
        await websocket.accept()
        try:
            while True:
                await websocket.receive()
        except BaseException as e:
            mark(f"{token}.exc", f"{type(e).__name__} {getattr(e, 'code', '')}")
            raise
        finally:
            mark(f"{token}.finally")


    @app.websocket("/feed/<channel>/<token>")
    async def feed(channel, token):
        try:
            await websocket.accept()
            await websocket.send("subscribed")
            await websocket.relay(channel)
        finally:
            mark(f"{token}.finally")


    @app.websocket("/close/<int:code>")
    async def close(code):
        await websocket.accept()
        await websocket.close(code, "server says bye")


    @app.websocket("/boom")
    async def boom():
        await websocket.accept()
        await websocket.receive()
        raise ZeroDivisionError("boom in a websocket")


    @app.websocket("/private")
    async def private():
        await websocket.accept()
        await websocket.send("secret")


    @app.before_websocket
    def gate():
        if websocket.path == "/private" and websocket.args.get("token") != "ok":
            abort(401)
    """
)


class Server(ServerProcess):
    """uvicorn serving the app module in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.marks = folder / "marks"
        self.marks.mkdir()
        (folder / "kolben_ws_app.py").write_text(APP_SOURCE)
        self.port = free_port()
        super().__init__(
            [
                *(sys.executable, "-m", "uvicorn", "kolben_ws_app:app"),
                *("--app-dir", str(folder), "--host", HOST, "--port", str(self.port)),
                *("--log-level", "info", "--no-access-log", "--timeout-graceful-shutdown", "2"),
            ],
            name="uvicorn",
            env=server_env(KOLBEN_TEST_MARKS=str(self.marks)),
            log_path=folder / "uvicorn.log",
            ready=lambda: answers(self.port, "/ping"),
        )

    def request(self, method: str, path: str, timeout: float = WAIT) -> tuple[int, t.Any]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            raw = response.read()
            if response.headers.get("Content-Type") == "application/json":
                return response.status, json.loads(raw)
            return response.status, raw
        finally:
            conn.close()

    def url(self, path: str) -> str:
        return f"ws://{HOST}:{self.port}{path}"

    def connect(self, path: str, **kwargs: t.Any) -> t.Any:
        return connect(self.url(path), proxy=None, open_timeout=WAIT, close_timeout=WAIT, **kwargs)

    async def wait_for_mark(self, name: str, limit: float = WAIT) -> str:
        path = self.marks / name
        deadline = time.monotonic() + limit
        while not path.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"no marker {name!r} after {limit} s:\n{self.log()}")
            await asyncio.sleep(0.01)
        return path.read_text()

    async def wait_for_subscribers(self, channel: str, count: int) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            status, body = await asyncio.to_thread(self.request, "GET", f"/stats/{channel}")
            assert status == 200
            if body["subscribers"] == count:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"{body['subscribers']} subscribers on {channel!r}, expected {count}")
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("ws-served"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def run(coro: t.Awaitable[t.Any]) -> t.Any:
    async def main() -> t.Any:
        return await asyncio.wait_for(coro, WAIT * 3)

    return asyncio.run(main())


async def recv(ws: ClientConnection) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), WAIT)


def test_echo_text_and_binary(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/echo") as ws:
            await ws.send("héllo")
            assert await recv(ws) == "héllo"
            await ws.send(b"\x00\x01\xff")
            assert await recv(ws) == b"\x00\x01\xff"
            big = "x" * 1000  # under the app's 1024-byte limit
            await ws.send(big)
            assert await recv(ws) == big

    run(main())


def test_client_close_code_reaches_the_view(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/listen/c4000") as ws:
            await ws.close(4000, "client says bye")
        assert await server.wait_for_mark("c4000.exc") == "WebsocketDisconnect 4000"
        await server.wait_for_mark("c4000.finally")

    run(main())


def test_server_close_code_reaches_the_client(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/close/4001") as ws:
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "server says bye")

    run(main())


async def _vanish(ws: ClientConnection) -> None:
    """Drop the TCP connection without a close frame, as a crashed client would."""
    ws.transport.abort()


def test_a_vanished_client_ends_a_receiving_view_within_a_second(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/listen/gone1") as ws:
            await ws.send("hi")
            await _vanish(ws)
            await server.wait_for_mark("gone1.finally", VANISH_LIMIT)
        assert (await server.wait_for_mark("gone1.exc")).startswith("WebsocketDisconnect")

    run(main())


def test_a_vanished_client_ends_a_relaying_view_within_a_second(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/feed/quiet/gone2") as ws:
            assert await recv(ws) == "subscribed"
            await server.wait_for_subscribers("quiet", 1)
            await _vanish(ws)
            # The view waits on the broker, not the client: it is cancelled.
            await server.wait_for_mark("gone2.finally", VANISH_LIMIT)
        await server.wait_for_subscribers("quiet", 0)

    run(main())


def test_200_sockets_receive_a_broker_broadcast(server: Server) -> None:
    count = 200

    async def main() -> None:
        async with contextlib.AsyncExitStack() as stack:
            sockets = await asyncio.gather(
                *(
                    stack.enter_async_context(server.connect(f"/feed/news/n{i}"))
                    for i in range(count)
                )
            )
            assert set(await asyncio.gather(*(recv(ws) for ws in sockets))) == {"subscribed"}
            await server.wait_for_subscribers("news", count)
            status, body = await asyncio.to_thread(server.request, "POST", "/publish/news/extra")
            assert status == 200, body
            got = await asyncio.gather(*(recv(ws) for ws in sockets))
            assert got == ["extra"] * count
        for i in range(count):
            await server.wait_for_mark(f"n{i}.finally")
        await server.wait_for_subscribers("news", 0)

    run(main())


def test_an_oversized_message_closes_1009(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/listen/big") as ws:
            await ws.send(b"x" * 2000)
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        assert await server.wait_for_mark("big.exc") == "WebsocketDisconnect 1009"

    run(main())


def test_a_non_utf8_text_frame_closes_1007_and_the_server_goes_on(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/listen/utf8") as ws:
            await ws.send(b"\xff\xfe not utf-8", text=True)
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1007
        await server.wait_for_mark("utf8.finally")
        async with server.connect("/echo") as ws:
            await ws.send("still here")
            assert await recv(ws) == "still here"

    run(main())


def test_a_view_that_raises_closes_1011_and_is_logged(server: Server) -> None:
    async def main() -> None:
        async with server.connect("/boom") as ws:
            await ws.send("go")
            with pytest.raises(ConnectionClosed) as info:
                await recv(ws)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1011

    run(main())
    deadline = time.monotonic() + WAIT
    while "boom in a websocket" not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.02)
    assert "Exception in websocket /boom" in server.log()


def test_refused_handshakes_get_http_responses(server: Server) -> None:
    async def main() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with server.connect("/nowhere"):
                pass
        assert info.value.response.status_code == 404
        with pytest.raises(InvalidStatus) as info:
            async with server.connect("/private"):
                pass
        assert info.value.response.status_code == 401
        async with server.connect("/private?token=ok") as ws:
            assert await recv(ws) == "secret"

    run(main())


def test_plain_http_to_a_websocket_route_gets_400(server: Server) -> None:
    status, body = server.request("GET", "/echo")
    assert status == 400
    assert b"connect to it with a WebSocket client" in body
