"""WebSocket routes driven in-process through the ASGI callable: the client side is
a pair of queues speaking the ASGI websocket messages, as a server would. Every
wait is bounded by ``WAIT`` seconds. (Real clients against uvicorn are in
test_websocket_served.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import sys
import typing as t

import pytest

import kolben
from kolben import Blueprint, g, request, session, url_for, websocket
from kolben.websocket import (
    DISCONNECT_GRACE,
    WATCH_AFTER,
    NeedsASGI,
    ReadOnlySessionError,
    WebsocketDisconnect,
)

WAIT = 5.0
#: The module (``kolben.websocket`` is the ``websocket`` global).
WEBSOCKET_MODULE = sys.modules["kolben.websocket"]
EXT = {"websocket.http.response": {}}


class Conn:
    """One websocket connection to ``app``, as an ASGI server would make it."""

    def __init__(
        self,
        app: kolben.Kolben,
        path: str = "/ws",
        query: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
        subprotocols: list[str] | None = None,
        extensions: dict[str, t.Any] | None = None,
        scheme: str = "ws",
    ) -> None:
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": scheme,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"testserver"), *(headers or [])],
            "server": ("testserver", 80),
            "client": ("127.0.0.1", 5000),
            "subprotocols": subprotocols or [],
            "extensions": extensions if extensions is not None else EXT,
        }
        self.app = app
        self.incoming: asyncio.Queue[dict[str, t.Any]] = asyncio.Queue()
        self.outgoing: asyncio.Queue[dict[str, t.Any]] = asyncio.Queue()
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.task: asyncio.Task[None] | None = None
        self.client_gone = False

    async def _receive(self) -> dict[str, t.Any]:
        return await self.incoming.get()

    async def _send(self, message: dict[str, t.Any]) -> None:
        if self.client_gone and message["type"] in ("websocket.send", "websocket.close"):
            raise OSError("the client is gone")  # what uvicorn raises (ClientDisconnected)
        await self.outgoing.put(message)

    async def __aenter__(self) -> Conn:
        self.task = asyncio.get_running_loop().create_task(
            self.app(self.scope, self._receive, self._send)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.finished()

    async def finished(self) -> None:
        assert self.task is not None
        await asyncio.wait_for(self.task, WAIT)

    async def next(self) -> dict[str, t.Any]:
        return await asyncio.wait_for(self.outgoing.get(), WAIT)

    async def accepted(self) -> dict[str, t.Any]:
        message = await self.next()
        assert message["type"] == "websocket.accept", message
        return message

    async def say(self, data: str | bytes) -> None:
        key = "text" if isinstance(data, str) else "bytes"
        await self.incoming.put({"type": "websocket.receive", key: data})

    async def hear(self) -> str | bytes:
        message = await self.next()
        assert message["type"] == "websocket.send", message
        return t.cast("str | bytes", message.get("text", message.get("bytes")))

    async def hang_up(self, code: int = 1000, reason: str = "") -> None:
        await self.incoming.put({"type": "websocket.disconnect", "code": code, "reason": reason})

    async def vanish(self) -> None:
        self.client_gone = True
        await self.hang_up(1006)

    async def leaves(self, code: int | None = None) -> None:
        """The client vanishes (or, with ``code``, hangs up): the app's task
        ends within WAIT."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await (self.vanish() if code is None else self.hang_up(code))
        await self.finished()
        assert loop.time() - started < WAIT

    async def refusal(self) -> tuple[int, dict[str, str], bytes]:
        """The HTTP response refusing the handshake."""
        start = await self.next()
        assert start["type"] == "websocket.http.response.start", start
        body = await self.next()
        assert body["type"] == "websocket.http.response.body"
        headers = {k.decode(): v.decode() for k, v in start["headers"]}
        return start["status"], headers, body["body"]


def run(coro: t.Awaitable[t.Any]) -> t.Any:
    async def main() -> t.Any:
        return await asyncio.wait_for(coro, WAIT * 2)

    return asyncio.run(main())


@pytest.fixture
def app() -> kolben.Kolben:
    app = kolben.Kolben("test_websocket")
    app.config.update(SECRET_KEY="test key")
    return app


# -- talking ---------------------------------------------------------------------------


def test_echo_text_and_binary(app: kolben.Kolben) -> None:
    @app.websocket("/ws")
    async def echo() -> None:
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("héllo")
            assert await conn.hear() == "héllo"
            await conn.say(b"\x00\xff")
            assert await conn.hear() == b"\x00\xff"
            await conn.hang_up()
        # The client closed: the app sends nothing more.
        assert conn.outgoing.empty()

    run(main())


def test_receive_and_send_accept_for_you_and_close_at_the_end(app: kolben.Kolben) -> None:
    @app.websocket("/ws")
    async def view() -> None:
        name = await websocket.receive()
        await websocket.send_json({"hello": name})

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("ada")
            assert json.loads(await conn.hear()) == {"hello": "ada"}
            assert await conn.next() == {"type": "websocket.close", "code": 1000, "reason": ""}

    run(main())


def test_json_round_trip_and_subprotocol_and_headers(app: kolben.Kolben) -> None:
    @app.websocket("/ws")
    async def view() -> None:
        assert websocket.subprotocols == ["v1", "v2"]
        await websocket.accept(subprotocol="v2", headers={"X-Room": "blue"})
        data = await websocket.receive_json()
        await websocket.send_json({"got": data})

    async def main() -> None:
        async with Conn(app, subprotocols=["v1", "v2"]) as conn:
            accept = await conn.accepted()
            assert accept["subprotocol"] == "v2"
            assert accept["headers"] == [(b"x-room", b"blue")]
            await conn.say('{"a": [1, 2]}')
            assert json.loads(await conn.hear()) == {"got": {"a": [1, 2]}}

    run(main())


def test_accept_rejects_a_subprotocol_the_client_did_not_offer(app: kolben.Kolben) -> None:
    errors: list[BaseException] = []

    @app.websocket("/ws")
    async def view() -> None:
        try:
            await websocket.accept(subprotocol="nope")
        except ValueError as e:
            errors.append(e)
            raise

    async def main() -> None:
        async with Conn(app, subprotocols=["v1"]) as conn:
            status, _, _ = await conn.refusal()
            assert status == 500

    run(main())
    assert "was not offered by the client" in str(errors[0])


def test_send_refuses_other_types(app: kolben.Kolben) -> None:
    seen: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        try:
            await websocket.send({"a": 1})  # type: ignore[arg-type]
        except TypeError as e:
            seen.append(str(e))
        await websocket.close(4001, "bye")

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            assert await conn.next() == {"type": "websocket.close", "code": 4001, "reason": "bye"}

    run(main())
    assert "send_json" in seen[0]


def test_close_checks_code_and_reason(app: kolben.Kolben) -> None:
    seen: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        for args in ((1006, ""), (2000, ""), (1000, "x" * 124)):
            try:
                await websocket.close(*args)
            except ValueError as e:
                seen.append(str(e))

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            assert (await conn.next())["code"] == 1000

    run(main())
    assert len(seen) == 3
    assert "3000-4999" in seen[0]
    assert "123 bytes" in seen[2]


def test_client_close_code_reaches_the_view(app: kolben.Kolben) -> None:
    seen: list[tuple[int, str]] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        try:
            await websocket.receive()
        except WebsocketDisconnect as e:
            seen.append((e.code, e.reason))
            assert websocket.closed
            assert websocket.close_code == 4000
            raise

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.hang_up(4000, "done")

    run(main())
    assert seen == [(4000, "done")]


# A view away from receive() for less than WATCH_AFTER keeps receiving straight
# from the server; longer, and a watcher task receives for it.
AWAY = pytest.mark.parametrize("away", [0.0, WATCH_AFTER * 3], ids=["direct", "watched"])


@AWAY
def test_messages_sent_before_the_close_are_delivered_first(
    app: kolben.Kolben, away: float
) -> None:
    got: list[str | bytes] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await asyncio.sleep(away)  # the client sends and leaves meanwhile
        got.extend([m async for m in websocket])

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("one")
            await conn.say("two")
            await conn.hang_up()

    run(main())
    assert got == ["one", "two"]


def test_send_after_the_client_left_raises(app: kolben.Kolben) -> None:
    seen: list[int] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await websocket.receive()
        try:
            await websocket.send("late")
        except WebsocketDisconnect as e:
            seen.append(e.code)

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            conn.client_gone = True
            await conn.say("hi")

    run(main())
    assert seen == [1006]


def test_a_busy_view_is_cancelled_soon_after_its_client_vanishes(app: kolben.Kolben) -> None:
    events: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        try:
            await asyncio.sleep(60)  # waiting on something that is not the client
        finally:
            events.append("finally")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        events.append("teardown")

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.leaves()

    run(main())
    assert events == ["finally", "teardown"]


def test_a_view_waiting_before_accept_is_cancelled_when_its_client_leaves(
    app: kolben.Kolben,
) -> None:
    # A view that waits before accepting (a lobby, a free slot) was never told
    # its client left: its task stayed, and a server's shutdown waited for it
    # (Quart cancels it).
    events: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        try:
            await asyncio.Event().wait()
            await websocket.accept()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        events.append("teardown")

    async def main() -> None:
        async with Conn(app) as conn:
            await asyncio.sleep(0.05)
            await conn.leaves(1001)

    run(main())
    assert events == ["cancelled", "teardown"]


def test_a_before_websocket_function_waiting_is_cancelled_when_its_client_leaves(
    app: kolben.Kolben,
) -> None:
    # An async before_websocket function that waits (a free slot, a lookup)
    # was never told its client left: it lived until its wait ended, forever for
    # an event that never comes, and a server's shutdown waited for it (Quart
    # cancels it at once).
    events: list[str] = []

    @app.before_websocket
    async def lobby() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    @app.websocket("/ws")
    async def view() -> None:
        events.append("view")

    @app.after_websocket
    def after() -> None:
        events.append("after")

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        events.append(f"teardown {exc!r}")

    async def main() -> None:
        async with Conn(app) as conn:
            await asyncio.sleep(0.05)
            await conn.leaves()

    run(main())
    assert events == ["cancelled", "after", "teardown None"]


@pytest.mark.parametrize("when", ["left during the view", "leaves during the function"])
def test_an_after_websocket_function_waiting_is_cancelled_when_its_client_left(
    app: kolben.Kolben, when: str
) -> None:
    # An async after_websocket function still waiting after its client left (a
    # wait that never ends) lived on, and a server's shutdown waited for it
    # (Quart cancels it): it is cancelled as a waiting view is, and the
    # teardown functions run.
    events: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        if when == "left during the view":
            with contextlib.suppress(kolben.WebsocketDisconnect):
                await websocket.receive()
        events.append("view")

    @app.after_websocket
    async def after() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        events.append(f"teardown {type(exc).__name__}")

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await asyncio.sleep(0.05)
            await conn.leaves()

    run(main())
    assert events == ["view", "cancelled", "teardown NoneType"]


class Gone(Exception):
    pass


@pytest.mark.parametrize("when", ["accepted", "in the handshake"])
def test_an_async_error_handler_waiting_is_cancelled_when_its_client_left(
    app: kolben.Kolben, when: str
) -> None:
    # An async error handler still waiting after its client left (a wait that
    # never ends) ran from a worker thread that waited for it, never told the
    # client had left: it lived on, and a server's shutdown waited for it. It is
    # a step of the pipeline now, watched as the view and the after_websocket
    # functions are: cancelled after the grace period; the teardown functions run.
    events: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        if when == "accepted":
            await websocket.accept()
            with contextlib.suppress(kolben.WebsocketDisconnect):
                await websocket.receive()
        else:
            await asyncio.sleep(0.1)
        raise Gone()

    @app.errorhandler(Gone)
    async def gone(e: Gone) -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "never"  # pragma: no cover

    @app.after_websocket
    def after() -> None:
        events.append("after")

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        events.append(f"teardown {type(exc).__name__}")

    async def main() -> None:
        async with Conn(app) as conn:
            if when == "accepted":
                await conn.accepted()
            await asyncio.sleep(0.05)
            await conn.leaves()

    run(main())
    assert events == ["cancelled", "after", "teardown NoneType"]


def test_async_error_handlers_and_receivers_of_a_websocket_cross_no_thread(
    app: kolben.Kolben,
) -> None:
    # A websocket's error handlers (its own, the 500 one) and its
    # got_request_exception / got_websocket_exception receivers ran in a
    # worker thread each (an async one sent back to the loop from there): as
    # steps of the pipeline, async ones run on the loop, with no thread crossing.
    events: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        message = await websocket.receive()
        raise Gone() if message == "gone" else RuntimeError("boom")

    @app.errorhandler(Gone)
    async def gone(e: Gone) -> None:
        events.append("gone handler")
        await websocket.send("bye")

    @app.errorhandler(500)
    async def server_error(e: Exception) -> None:
        events.append(f"500 handler {type(e.original_exception).__name__}")  # type: ignore[attr-defined]

    async def on_exception(sender: kolben.Kolben, exception: Exception) -> None:
        events.append(f"signal {type(exception).__name__}")

    kolben.signals.got_request_exception.connect(on_exception, app)
    kolben.signals.got_websocket_exception.connect(on_exception, app)

    async def main(message: str) -> list[str | bytes]:
        heard: list[str | bytes] = []
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say(message)
            if message == "gone":
                heard.append(await conn.hear())
            closing = await conn.next()
            assert closing["type"] == "websocket.close", closing
            heard.append(str(closing["code"]))
        return heard

    try:
        before = app.worker_threads.calls
        assert run(main("gone")) == ["bye", "1000"]
        assert run(main("boom")) == ["1011"]
        assert app.worker_threads.calls == before
    finally:
        kolben.signals.got_request_exception.disconnect(on_exception, app)
        kolben.signals.got_websocket_exception.disconnect(on_exception, app)
    assert events == [
        "gone handler",
        "signal RuntimeError",
        "signal RuntimeError",
        "500 handler RuntimeError",
    ]


@pytest.mark.parametrize("client", ["leaves", "stays"])
def test_a_view_that_takes_no_message_from_a_full_inbox_is_told_in_the_end(
    app: kolben.Kolben, monkeypatch: pytest.MonkeyPatch, client: str
) -> None:
    # A view that never receives (it waits on a broker, or only sends) while
    # its client sends more than the inbox holds: the watcher waited for room
    # forever, so it never saw the client leave (nor a server's shutdown): the
    # view lived on, and uvicorn never stopped. Once the view has taken nothing
    # for INBOX_STALL seconds the connection is closed with 1008 and the view
    # is cancelled after the grace period.
    monkeypatch.setattr(WEBSOCKET_MODULE, "INBOX_SIZE", 4)
    monkeypatch.setattr(WEBSOCKET_MODULE, "INBOX_STALL", 0.3)
    events: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        events.append("teardown")

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await asyncio.sleep(WATCH_AFTER * 2)  # the watcher reads for the view
            for n in range(10):
                await conn.say(f"message {n}")
            if client == "leaves":
                await asyncio.sleep(0.05)
                await conn.vanish()
            else:
                closing = await conn.next()
                assert closing == {
                    "type": "websocket.close",
                    "code": 1008,
                    "reason": "messages not read",
                }
            await conn.finished()

    run(main())
    assert events == ["cancelled", "teardown"]


def test_a_slow_view_gets_every_message_of_a_burst_larger_than_its_inbox(
    app: kolben.Kolben, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client waits (the watcher stops reading) while the inbox is full; a
    # view that keeps taking messages, however slowly, loses none and is not
    # closed, the stall timer starting again at each message it takes.
    monkeypatch.setattr(WEBSOCKET_MODULE, "INBOX_SIZE", 4)
    monkeypatch.setattr(WEBSOCKET_MODULE, "INBOX_BYTES", 2 * 300)
    monkeypatch.setattr(WEBSOCKET_MODULE, "INBOX_STALL", 0.5)
    got: list[str | bytes] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await asyncio.sleep(WATCH_AFTER * 2)  # away: the watcher starts
        for _ in range(20):
            got.append(await websocket.receive())
            await asyncio.sleep(0.05)  # well under INBOX_STALL per message
        await websocket.send("done")

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            for n in range(20):
                await conn.say(f"message {n}" if n % 2 else f"data {n}".encode())
            assert await conn.hear() == "done"
            closing = await conn.next()
            assert closing["type"] == "websocket.close" and closing["code"] == 1000, closing

    run(main())
    assert got == [f"message {n}" if n % 2 else f"data {n}".encode() for n in range(20)]


def test_a_slow_before_websocket_function_then_the_view_talks(app: kolben.Kolben) -> None:
    # The watch of the before_websocket functions hands over to the view's: a
    # function that accepts and waits past WATCH_AFTER, then the view receives.
    @app.before_websocket
    async def slow() -> None:
        await websocket.accept()
        await asyncio.sleep(0.3)

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.send(await websocket.receive())
        await websocket.send(await websocket.receive())

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("one")
            assert await conn.hear() == "one"
            await asyncio.sleep(0.3)
            await conn.say("two")
            assert await conn.hear() == "two"
            await conn.hang_up()

    run(main())


def test_the_view_reads_what_the_client_sent_while_a_before_function_ran(
    app: kolben.Kolben,
) -> None:
    # A before_websocket function accepts and is busy past WATCH_AFTER (the
    # watcher reads for it); the client sends, then leaves. The function ends
    # normally: the view still runs and reads what was sent, as when the
    # client leaves while the view runs (it was not started at all: lost).
    got: list[str | bytes] = []

    @app.before_websocket
    async def slow() -> None:
        await websocket.accept()
        await asyncio.sleep(0.15)

    @app.websocket("/ws")
    async def view() -> None:
        while True:
            got.append(await websocket.receive())

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("one")
            await conn.say("two")
            await conn.hang_up()

    run(main())
    assert got == ["one", "two"]


def test_a_view_started_after_its_client_left_is_cancelled_after_the_grace(
    app: kolben.Kolben,
) -> None:
    # The same, with a view that never receives (it waits on a broker): it is
    # cancelled after the grace period (the one armed as the client left),
    # not left waiting forever.
    events: list[str] = []

    @app.before_websocket
    async def slow() -> None:
        await websocket.accept()
        await asyncio.sleep(0.15)

    @app.websocket("/ws")
    async def view() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.hang_up()

    run(main())
    assert events == ["cancelled"]

def test_a_view_waiting_before_accept_still_accepts(app: kolben.Kolben) -> None:
    # The watch of the handshake ends with accept(): the view then receives
    # from the client itself.
    @app.websocket("/ws")
    async def view() -> None:
        await asyncio.sleep(0.3)  # past the watch's start
        await websocket.accept()
        await websocket.send(await websocket.receive())

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("echo")
            assert await conn.hear() == "echo"
            await conn.hang_up()

    run(main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is Python 3.11+")
def test_a_task_group_ended_by_the_client_leaving_is_a_normal_end(app: kolben.Kolben) -> None:
    # asyncio.TaskGroup wraps the WebsocketDisconnect of its receive loop in an
    # ExceptionGroup: the view ended with its client, not with an error (it was
    # logged as an error, after_websocket skipped, teardown given the group).
    events: list[str] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()

        async def ticker() -> None:
            while True:
                await websocket.send("tick")
                await asyncio.sleep(0.02)

        async def receive_loop() -> None:
            while True:
                await websocket.receive()

        async with asyncio.TaskGroup() as group:
            group.create_task(ticker())
            group.create_task(receive_loop())

    @app.after_websocket
    def after() -> None:
        events.append("after_websocket")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        events.append(f"teardown({type(exc).__name__ if exc else None})")

    def on_exception(sender: t.Any, exception: BaseException, **kwargs: t.Any) -> None:
        events.append("got_request_exception")

    with (
        kolben.got_request_exception.connected_to(on_exception, app),
        app.test_client().websocket("/ws") as ws,
    ):
        assert ws.receive() == "tick"
        ws.close(1000)
    assert events == ["after_websocket", "teardown(None)"]


# -- routing, context, hooks ------------------------------------------------------------


def test_the_handshake_data(app: kolben.Kolben) -> None:
    seen: dict[str, t.Any] = {}

    @app.get("/room/<int:number>")
    def room_page(number: int) -> str:
        return "page"

    @app.websocket("/room/<int:number>")
    async def room(number: int) -> None:
        await websocket.accept()
        seen.update(
            number=number,
            args=websocket.args.to_dict(),
            header=websocket.headers["X-Token"],
            cookie=websocket.cookies["flavour"],
            path=websocket.path,
            full_path=websocket.full_path,
            url=websocket.url,
            scheme=websocket.scheme,
            host=websocket.host,
            remote=websocket.remote_addr,
            method=request.method,
            endpoint=request.endpoint,
            same=request.args is websocket.args,
            ws_url=url_for("room", number=2),
            ws_external=url_for("room", number=2, _external=True),
            page=url_for("room_page", number=3),
            page_external=url_for("room_page", number=3, _external=True),
        )

    async def main(scheme: str) -> None:
        headers = [(b"x-token", b"t1"), (b"cookie", b"flavour=mint")]
        async with Conn(app, "/room/7", b"a=1&b=2", headers, scheme=scheme) as conn:
            await conn.accepted()

    run(main("ws"))
    assert seen == {
        "number": 7,
        "args": {"a": "1", "b": "2"},
        "header": "t1",
        "cookie": "mint",
        "path": "/room/7",
        "full_path": "/room/7?a=1&b=2",
        "url": "ws://testserver/room/7?a=1&b=2",
        "scheme": "ws",
        "host": "testserver",
        "remote": "127.0.0.1",
        "method": "GET",
        "endpoint": "room",
        "same": True,
        # werkzeug builds websocket rules as full URLs (browsers need them).
        "ws_url": "ws://testserver/room/2",
        "ws_external": "ws://testserver/room/2",
        "page": "/room/3",
        "page_external": "http://testserver/room/3",
    }
    run(main("wss"))
    assert seen["url"] == "wss://testserver/room/7?a=1&b=2"
    assert seen["ws_external"] == "wss://testserver/room/2"
    assert seen["page_external"] == "https://testserver/room/3"


def test_the_handshake_data_by_quarts_names(app: kolben.Kolben) -> None:
    seen: dict[str, t.Any] = {}
    bp = kolben.Blueprint("rooms", __name__)

    @bp.websocket("/room/<int:number>")
    async def room(number: int) -> None:
        await websocket.accept()
        auth = websocket.authorization
        seen.update(
            auth=(auth.type, auth.username) if auth is not None else None,
            origin=websocket.origin,
            endpoint=websocket.endpoint,
            view_args=websocket.view_args,
            blueprint=websocket.blueprint,
            requested=websocket.requested_subprotocols,
        )

    app.register_blueprint(bp)

    async def main() -> None:
        headers = [(b"authorization", b"Basic dTpw"), (b"origin", b"https://example.org")]
        async with Conn(app, "/room/7", headers=headers, subprotocols=["chat"]) as conn:
            await conn.accepted()

    run(main())
    assert seen == {
        "auth": ("basic", "u"),
        "origin": "https://example.org",
        "endpoint": "rooms.room",
        "view_args": {"number": 7},
        "blueprint": "rooms",
        "requested": ["chat"],
    }


def test_the_handshake_request_attributes_quart_has(app: kolben.Kolben) -> None:
    # Quart's websocket is a werkzeug request: code ported from it reads these.
    seen: dict[str, t.Any] = {}
    bp = kolben.Blueprint("rooms", __name__)

    @bp.websocket("/room/<int:number>")
    async def room(number: int) -> None:
        await websocket.accept()
        seen.update(
            method=websocket.method,
            query_string=websocket.query_string,
            root_path=websocket.root_path,
            is_secure=websocket.is_secure,
            user_agent=websocket.user_agent.string,
            access_route=list(websocket.access_route),
            referrer=websocket.referrer,
            accept_languages=websocket.accept_languages.best,
            url_rule=websocket.url_rule.rule,
            blueprints=websocket.blueprints,
            base_url=websocket.base_url,
            host_url=websocket.host_url,
            root_url=websocket.root_url,
            url_root=websocket.url_root,
            http_version=websocket.http_version,
        )

    app.register_blueprint(bp)

    async def main(scheme: str) -> None:
        headers = [(b"user-agent", b"probe/1"), (b"accept-language", b"de")]
        async with Conn(app, "/room/7", b"a=1", headers, scheme=scheme) as conn:
            await conn.accepted()

    run(main("ws"))
    assert seen == {
        "method": "GET",
        "query_string": b"a=1",
        "root_path": "",
        "is_secure": False,
        "user_agent": "probe/1",
        "access_route": ["127.0.0.1"],
        "referrer": None,
        "accept_languages": "de",
        "url_rule": "/room/<int:number>",
        "blueprints": ["rooms"],
        "base_url": "ws://testserver/room/7",
        "host_url": "ws://testserver/",
        "root_url": "ws://testserver/",
        "url_root": "ws://testserver/",
        "http_version": "1.1",
    }
    run(main("wss"))
    assert seen["is_secure"] is True
    assert seen["base_url"] == "wss://testserver/room/7"


def test_copy_current_websocket_context_and_has_websocket_context(
    app: kolben.Kolben,
) -> None:
    # Quart's names for both (``from quart import copy_current_websocket_context``).
    from kolben import copy_current_websocket_context, has_websocket_context

    seen: list[t.Any] = []
    outside = asyncio.Queue[t.Any]()

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        g.who = "ann"
        seen.append(has_websocket_context())

        async def sender(suffix: str) -> str:
            await websocket.send(f"{websocket.path} {g.who}{suffix}")
            return "sent"

        def sync_reader() -> str:
            return f"{websocket.path} {g.who}"

        # Run from a task made outside the websocket's context: the wrapper
        # brings it.
        outside.put_nowait(copy_current_websocket_context(sender))
        outside.put_nowait(copy_current_websocket_context(sync_reader))
        await websocket.receive()

    async def runner() -> None:
        seen.append(has_websocket_context())
        asend = await outside.get()
        seen.append(await asend("!"))
        seen.append(await (await outside.get())())

    async def main() -> None:
        async with Conn(app, "/ws") as conn:
            await conn.accepted()
            # (made in an empty context; create_task's context= needs Python 3.11)
            task = contextvars.Context().run(asyncio.get_running_loop().create_task, runner())
            assert await conn.hear() == "/ws ann!"
            await asyncio.wait_for(task, WAIT)
            await conn.hang_up()

    run(main())
    assert seen == [True, False, "sent", "/ws ann"]
    with pytest.raises(RuntimeError, match="websocket"):
        copy_current_websocket_context(lambda: None)


def test_accept_with_headers_first_says_how_to_pass_them(app: kolben.Kolben) -> None:
    errors: list[BaseException] = []

    @app.websocket("/ws")
    async def view() -> None:
        try:
            await websocket.accept({"X-A": "1"})  # type: ignore[arg-type]  # Quart's order
        except TypeError as e:
            errors.append(e)
            await websocket.accept(headers={"X-A": "1"})

    async def main() -> None:
        async with Conn(app) as conn:
            accepted = await conn.accepted()
            assert accepted["headers"] == [(b"x-a", b"1")]

    run(main())
    assert len(errors) == 1 and "accept(headers=" in str(errors[0])


@pytest.mark.parametrize(
    "headers",
    [
        {"X-A": "1\r\nSet-Cookie: evil=1"},
        {"X-A\n": "1"},
        {"X-A": "\u20ac"},
        {"X-A": "a\x00b"},
        {"X-A": "a\x0bb"},
        {"X A": "1"},
    ],
)
def test_accept_refuses_headers_that_would_split_or_not_encode(
    app: kolben.Kolben, headers: dict[str, str]
) -> None:
    """A line break or a character outside latin-1 in accept(headers=...) is a
    ValueError in the view, whatever the server would make of it; the view can
    still accept without them."""
    errors: list[BaseException] = []

    @app.websocket("/ws")
    async def view() -> None:
        try:
            await websocket.accept(headers=headers)
        except ValueError as e:
            errors.append(e)
            await websocket.accept()

    async def main() -> None:
        async with Conn(app) as conn:
            accepted = await conn.accepted()
            assert not accepted.get("headers")

    run(main())
    assert len(errors) == 1 and "accept(headers=...)" in str(errors[0])


def test_url_for_websocket_outside_a_request(app: kolben.Kolben) -> None:
    @app.websocket("/feed")
    async def feed() -> None:
        await websocket.accept()

    app.config.update(SERVER_NAME="example.com", PREFERRED_URL_SCHEME="https")
    with app.app_context():
        assert url_for("feed") == "wss://example.com/feed"


def test_unknown_route_is_refused_with_404(app: kolben.Kolben) -> None:
    @app.get("/ws")
    def page() -> str:
        return "an HTTP page, not a websocket"

    async def main() -> None:
        async with Conn(app, "/nowhere") as conn:
            status, _, body = await conn.refusal()
            assert status == 404
            assert b"Not Found" in body
        # An HTTP-only rule does not answer a websocket either.
        async with Conn(app, "/ws") as conn:
            status, _, body = await conn.refusal()
            assert status == 400
            assert b"not a WebSocket endpoint" in body
        # A server without the response extension answers 403.
        async with Conn(app, "/nowhere", extensions={}) as conn:
            assert (await conn.next())["type"] == "websocket.close"

    run(main())


def test_error_handlers_shape_the_refusal(app: kolben.Kolben) -> None:
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.websocket("/live")
    async def live() -> None:
        await websocket.accept()

    @api.before_websocket
    def need_token() -> None:
        if websocket.args.get("token") != "ok":
            kolben.abort(401)

    @api.errorhandler(401)
    def unauthorized(e: Exception) -> tuple[dict[str, str], int]:
        return {"error": "token needed"}, 401

    app.register_blueprint(api)

    async def main() -> None:
        async with Conn(app, "/api/live") as conn:
            status, headers, body = await conn.refusal()
            assert (status, body) == (401, b'{"error":"token needed"}\n')
            assert headers["content-type"] == "application/json"
        async with Conn(app, "/api/live", b"token=ok") as conn:
            await conn.accepted()

    run(main())


def test_before_websocket_returning_a_value_refuses(app: kolben.Kolben) -> None:
    calls: list[str] = []

    @app.before_request
    def not_for_websockets() -> None:
        calls.append("before_request")

    @app.before_websocket
    async def gate() -> t.Any:
        calls.append("before_websocket")
        if websocket.args.get("let") != "in":
            return "go away", 403
        g.who = "friend"
        return None

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await websocket.send(g.who)

    async def main() -> None:
        async with Conn(app) as conn:
            status, _, body = await conn.refusal()
            assert (status, body) == (403, b"go away")
        async with Conn(app, query=b"let=in") as conn:
            await conn.accepted()
            assert await conn.hear() == "friend"

    run(main())
    assert calls == ["before_websocket", "before_websocket"]


def test_hooks_order_and_threads(app: kolben.Kolben) -> None:
    import threading

    calls: list[tuple[str, bool]] = []
    loop_thread: list[threading.Thread] = []

    def mark(name: str) -> None:
        calls.append((name, threading.current_thread() is loop_thread[0]))

    bp = Blueprint("bp", __name__)

    @app.url_value_preprocessor
    def pre(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        assert values is not None
        g.room = values.pop("room")
        mark("url_value_preprocessor")

    @app.before_websocket
    def app_before() -> None:
        mark("app before (sync)")

    @bp.before_websocket
    async def bp_before() -> None:
        mark("bp before (async)")

    @bp.before_app_websocket
    def any_before() -> None:
        mark("app-wide before from bp")

    @bp.websocket("/ws/<room>")
    async def view() -> None:
        mark(f"view {g.room}")
        await websocket.accept()

    @app.after_websocket
    def app_after() -> None:
        mark("app after")

    @bp.after_websocket
    async def bp_after() -> None:
        mark("bp after")

    @bp.after_app_websocket
    def any_after() -> None:
        mark("app-wide after from bp")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        mark(f"teardown {exc!r}")

    @app.teardown_appcontext
    def teardown_app(exc: BaseException | None) -> None:
        mark("teardown appcontext")

    app.register_blueprint(bp)

    async def main() -> None:
        loop_thread.append(threading.current_thread())
        async with Conn(app, "/ws/red") as conn:
            await conn.accepted()
            assert (await conn.next())["code"] == 1000

    run(main())
    assert calls == [
        ("url_value_preprocessor", False),
        ("app before (sync)", False),
        ("app-wide before from bp", False),
        ("bp before (async)", True),
        ("view red", True),
        ("bp after", True),
        ("app-wide after from bp", False),
        ("app after", False),
        ("teardown None", False),
        ("teardown appcontext", False),
    ]


def test_session_is_readable_and_read_only(app: kolben.Kolben) -> None:
    seen: list[t.Any] = []

    @app.post("/login")
    def login() -> str:
        session["user"] = "ada"
        return "ok"

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        seen.append(session.get("user"))
        seen.append("user" in session)
        for change in (
            lambda: session.__setitem__("user", "eve"),
            lambda: session.pop("user"),
            session.clear,
            lambda: setattr(session, "permanent", True),
            lambda: kolben.flash("hi"),
        ):
            try:
                change()
            except ReadOnlySessionError as e:
                seen.append(str(e)[:30])
        await websocket.send(session["user"])

    cookie = app.test_client().post("/login").headers["Set-Cookie"].split(";")[0]

    async def main() -> None:
        async with Conn(app, headers=[(b"cookie", cookie.encode())]) as conn:
            await conn.accepted()
            assert await conn.hear() == "ada"

    run(main())
    assert seen[:2] == ["ada", True]
    assert seen[2:] == ["The session is read-only in a "] * 5


def test_the_websocket_global_outside_a_websocket(app: kolben.Kolben) -> None:
    with pytest.raises(RuntimeError, match="outside of a websocket"):
        websocket.path  # noqa: B018

    @app.get("/")
    def index() -> str:
        return str(kolben.has_request_context())

    assert app.test_client().get("/").text == "True"


# -- errors -----------------------------------------------------------------------------


def test_a_view_raising_after_accept_closes_1011_and_logs(
    app: kolben.Kolben, caplog: pytest.LogCaptureFixture
) -> None:
    torn: list[BaseException | None] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await websocket.receive()
        raise ZeroDivisionError("boom")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        torn.append(exc)

    @app.after_websocket
    def after() -> None:
        torn.append(None)  # after the error was handled (logged, 500 handler), as Quart

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("go")
            assert await conn.next() == {"type": "websocket.close", "code": 1011, "reason": ""}

    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        run(main())
    assert [type(e) for e in torn] == [type(None), ZeroDivisionError]
    record = next(r for r in caplog.records if r.name == app.logger.name)
    assert record.getMessage() == "Exception in websocket /ws"
    assert record.exc_info is not None and record.exc_info[0] is ZeroDivisionError


@pytest.mark.parametrize("handler_fails", [False, True], ids=["handler", "failing-handler"])
def test_a_view_raising_before_accept_refuses_with_500(
    app: kolben.Kolben, caplog: pytest.LogCaptureFixture, handler_fails: bool
) -> None:
    @app.websocket("/ws")
    async def view() -> None:
        raise KeyError("missing")

    @app.errorhandler(500)
    def oops(e: Exception) -> tuple[str, int]:
        if handler_fails:
            raise RuntimeError("the handler broke too")
        return "sorry", 500

    async def main() -> None:
        async with Conn(app) as conn:
            status, _, body = await conn.refusal()
            assert status == 500
            if handler_fails:
                # As an HTTP route answers: the error's own 500 (it was a 403).
                assert b"Internal Server Error" in body
            else:
                assert body == b"sorry"

    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        run(main())
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)
    if handler_fails:
        assert any("The 500 handler failed" in r.getMessage() for r in caplog.records)


def test_abort_after_accept_closes_1008(app: kolben.Kolben) -> None:
    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        kolben.abort(403)

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            assert await conn.next() == {
                "type": "websocket.close",
                "code": 1008,
                "reason": "Forbidden",
            }

    run(main())


@AWAY
def test_oversized_messages_close_1009(app: kolben.Kolben, away: float) -> None:
    app.config["WEBSOCKET_MAX_MESSAGE_SIZE"] = 10
    seen: list[t.Any] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        # Away past WATCH_AFTER (the watcher takes the messages) but back within
        # DISCONNECT_GRACE of the 1009 close: a view away longer is cancelled,
        # and whether it saw the messages first was a race.
        await asyncio.sleep(min(away, (WATCH_AFTER + DISCONNECT_GRACE) / 2))
        try:
            while True:
                seen.append(await websocket.receive())
        except WebsocketDisconnect as e:
            seen.append(e.code)

    async def main(big: str | bytes) -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await conn.say("0123456789")  # at the limit: fine
            await conn.say(big)
            message = await conn.next()
            assert message["type"] == "websocket.close"
            assert message["code"] == 1009
            await conn.hang_up(1009)

    run(main(b"x" * 11))
    run(main("é" * 6))  # 6 characters, 12 bytes of UTF-8
    assert seen == ["0123456789", 1009, "0123456789", 1009]


def test_a_sync_view_is_refused_at_registration(app: kolben.Kolben) -> None:
    with pytest.raises(TypeError, match="must be an 'async def' function"):

        @app.websocket("/ws")
        def view() -> None:
            pass

    with pytest.raises(TypeError, match="takes no 'methods'"):
        app.websocket("/ws", methods=["POST"])


def test_the_view_returning_a_value_before_accepting_refuses_with_it(app: kolben.Kolben) -> None:
    @app.websocket("/ws")
    async def view() -> t.Any:
        return {"error": "closed for today"}, 503

    async def main() -> None:
        async with Conn(app) as conn:
            status, _, body = await conn.refusal()
            assert status == 503
            assert body == b'{"error":"closed for today"}\n'

    run(main())


# -- the WSGI door and plain HTTP --------------------------------------------------------


def test_an_upgrade_under_wsgi_gets_426(app: kolben.Kolben) -> None:
    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()

    response = app.test_client().get(
        "/ws", headers={"Connection": "Upgrade", "Upgrade": "websocket"}
    )
    assert response.status_code == 426
    assert "ASGI server" in response.text
    assert NeedsASGI.code == 426


def test_plain_http_to_a_websocket_route_gets_400(client: kolben.testing.KolbenClient) -> None:
    app = client.application

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()

    response = client.get("/ws")
    assert response.status_code == 400
    assert "connect to it with a WebSocket client" in response.text


def test_http_and_websocket_share_a_path(client: kolben.testing.KolbenClient) -> None:
    app = client.application

    @app.get("/chat")
    def page() -> str:
        return "the chat page"

    @app.websocket("/chat")
    async def chat() -> None:
        await websocket.accept()
        await websocket.send("welcome")

    assert client.get("/chat").text == "the chat page"

    async def main() -> None:
        async with Conn(app, "/chat") as conn:
            await conn.accepted()
            assert await conn.hear() == "welcome"

    run(main())


# -- broker fan-out ----------------------------------------------------------------------


def test_relay_sends_broker_events(app: kolben.Kolben) -> None:
    @app.websocket("/feed/<name>")
    async def feed(name: str) -> None:
        await websocket.accept()
        await websocket.send("subscribed")
        await websocket.relay(name, encode=lambda e: f"{e.id}:{e.text}")

    async def main() -> None:
        async with Conn(app, "/feed/news") as conn:
            await conn.accepted()
            assert await conn.hear() == "subscribed"
            # The view subscribes right after sending; wait for it, bounded.
            for _ in range(500):
                if app.broker.subscriber_count("news"):
                    break
                await asyncio.sleep(0.01)
            first = app.broker.publish("news", "one")
            second = app.broker.publish("news", {"n": 2})
            assert await conn.hear() == f"{first}:one"
            assert await conn.hear() == f"{second}:{app.json.dumps({'n': 2})}"
            await conn.hang_up()
        assert app.broker.subscriber_count("news") == 0

    run(main())


@AWAY
def test_a_view_waiting_in_receive_gets_the_disconnect(
    app: kolben.Kolben, away: float
) -> None:
    seen: list[t.Any] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await asyncio.sleep(away)
        try:
            await websocket.receive()
        except WebsocketDisconnect as e:
            seen.append(e.code)
        else:
            seen.append("no disconnect")

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            await asyncio.sleep(away + WATCH_AFTER)  # the view is in receive() by now
            await conn.vanish()

    run(main())
    assert seen == [1006]


@pytest.mark.skipif(not hasattr(asyncio, "TaskGroup"), reason="asyncio.TaskGroup: Python 3.11+")
def test_a_chat_relays_beside_its_receive_loop_and_ends_with_the_client(
    app: kolben.Kolben,
) -> None:
    ended: list[str] = []

    @app.websocket("/chat/<room>")
    async def chat(room: str) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:  # type: ignore[attr-defined]
                tasks.create_task(websocket.relay(f"chat:{room}"))
                async for text in websocket:
                    await kolben.current_app.broker.apublish(f"chat:{room}", f"echo {text}")
        finally:
            ended.append("view")

    async def main() -> None:
        async with Conn(app, "/chat/blue") as conn:
            await conn.accepted()
            for _ in range(500):  # until the relay subscribed, bounded
                if app.broker.subscriber_count("chat:blue"):
                    break
                await asyncio.sleep(0.01)
            await conn.say("hi")
            assert await conn.hear() == "echo hi"
            await conn.hang_up()
        assert app.broker.subscriber_count("chat:blue") == 0

    run(main())
    assert ended == ["view"]


def test_relay_ends_when_the_view_closes_the_connection(app: kolben.Kolben) -> None:
    results: list[t.Any] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()

        async def stop_soon() -> None:
            while not app.broker.subscriber_count("quiet"):
                await asyncio.sleep(0.01)
            await websocket.close(4002)

        stopper = asyncio.ensure_future(stop_soon())
        results.append(await websocket.relay("quiet", last_event_id="5-0"))
        await stopper

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            assert (await conn.next())["code"] == 4002

    run(main())
    assert results == ["5-0"]


def test_kolben_websocket_stays_the_global_after_the_module_is_imported() -> None:
    import importlib

    from werkzeug.local import LocalProxy

    module = importlib.import_module("kolben.websocket")
    assert module.WebsocketDisconnect is kolben.WebsocketDisconnect
    assert isinstance(kolben.websocket, LocalProxy)
    from kolben import websocket as again

    assert again is websocket


@pytest.mark.redis
def test_relay_from_the_redis_broker() -> None:
    from sse_apps import redis_env

    prefix = redis_env.unique_prefix()
    app = kolben.Kolben("test_websocket_redis")
    app.config.update(BROKER_URL=redis_env.URL, BROKER_KEY_PREFIX=prefix)

    @app.websocket("/feed")
    async def feed() -> None:
        await websocket.accept()
        await websocket.relay("news")

    async def main() -> None:
        async with Conn(app, "/feed") as conn:
            await conn.accepted()
            for _ in range(500):  # until the relay subscribed, bounded
                if app.broker.subscriber_count("news"):
                    break
                await asyncio.sleep(0.01)
            await app.broker.apublish("news", {"n": 1})
            assert json.loads(await conn.hear()) == {"n": 1}
            await conn.hang_up()

    try:
        run(main())
    finally:
        app.broker.close()
        redis_env.delete_keys(prefix)


def test_the_session_is_opened_in_a_worker_thread(app: kolben.Kolben) -> None:
    import threading

    from kolben.sessions import SecureCookieSessionInterface

    threads: list[threading.Thread] = []

    class Recording(SecureCookieSessionInterface):
        def open_session(self, app: t.Any, request: t.Any) -> t.Any:
            threads.append(threading.current_thread())
            return super().open_session(app, request)

    app.session_interface = Recording()

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await websocket.send(str(session.get("user")))

    async def main() -> None:
        threads.append(threading.current_thread())
        async with Conn(app, headers=[(b"cookie", b"session=not-signed")]) as conn:
            await conn.accepted()
            assert await conn.hear() == "None"  # a bad cookie: an empty session

    run(main())
    loop_thread, opened_in = threads
    assert opened_in is not loop_thread


def test_the_documented_origin_check_refuses_other_sites(app: kolben.Kolben) -> None:
    """The recipe of docs/websockets.md ("Checking the Origin")."""
    from urllib.parse import urlsplit

    from kolben import abort, request
    from kolben.testing import WebsocketResponseError

    @app.before_websocket
    def same_origin_only() -> None:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            abort(403)

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await websocket.send("in")

    client = app.test_client()
    with (
        pytest.raises(WebsocketResponseError) as refused,
        client.websocket("/ws", headers={"Origin": "https://evil.example"}),
    ):
        pass
    assert refused.value.response.status_code == 403
    for headers in ({"Origin": "http://localhost"}, {}):
        with client.websocket("/ws", headers=headers) as ws:
            assert ws.receive() == "in"


def test_a_view_sending_in_a_loop_learns_that_the_client_left(app):
    # uvicorn, granian and hypercorn may complete a send without suspending (and
    # without raising once the client vanished): a view sending in a loop never
    # let the disconnect watcher run, never ended, and starved the loop.
    outcome = []

    @app.websocket("/ws")
    async def flood():
        await websocket.accept()
        try:
            for _ in range(2_000_000):
                await websocket.send("x")
            outcome.append("all sent")
        except WebsocketDisconnect as e:
            outcome.append(("disconnect", e.code))

    async def main():
        incoming = [{"type": "websocket.connect"}, {"type": "websocket.disconnect", "code": 1006}]

        async def receive():
            if incoming:
                return incoming.pop(0)
            await asyncio.sleep(WAIT)
            return {"type": "websocket.disconnect", "code": 1006}

        async def send(message):
            pass  # a server that neither raises nor suspends

        scope = Conn(app).scope
        await asyncio.wait_for(app(scope, receive, send), 60)

    asyncio.run(main())
    assert outcome == [("disconnect", 1006)]


def test_wsgi_middleware_sees_the_handshake(app: kolben.Kolben) -> None:
    """WSGI middleware on app.wsgi_app acts on websocket handshakes too: ProxyFix's
    environ reaches the websocket, and a middleware that answers itself (an auth
    check) refuses the handshake with its response."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from kolben.websocket_testing import WebsocketResponseError

    def require_token(wsgi_app: t.Any) -> t.Any:
        def middleware(environ: t.Any, start_response: t.Any) -> t.Any:
            if environ.get("HTTP_X_TOKEN") != "s3cret":
                start_response("403 FORBIDDEN", [("Content-Type", "text/plain")])
                return [b"forbidden"]
            return wsgi_app(environ, start_response)

        return middleware

    app.wsgi_app = require_token(ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1))  # type: ignore[method-assign]

    @app.websocket("/ws")
    async def ws() -> None:
        await kolben.websocket.accept()
        w = kolben.websocket
        await w.send_json({"host": w.host, "scheme": w.scheme, "remote": w.remote_addr})

    forwarded = {
        "X-Forwarded-Host": "public.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-For": "9.9.9.9",
    }
    client = app.test_client()
    refusing = client.websocket("/ws", headers=forwarded)
    with pytest.raises(WebsocketResponseError) as refused, refusing:
        pass
    assert refused.value.response.status_code == 403
    with client.websocket("/ws", headers={**forwarded, "X-Token": "s3cret"}) as conn:
        seen = conn.receive_json()
    assert seen == {"host": "public.example", "scheme": "wss", "remote": "9.9.9.9"}


def test_a_kolben_app_mounted_by_a_dispatcher_serves_its_websockets(app: kolben.Kolben) -> None:
    """DispatcherMiddleware on app.wsgi_app mounting another kolben app: the
    mounted app's websocket routes serve its prefix (not the outer app's)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    inner = kolben.Kolben("inner")

    @app.websocket("/ws")
    async def outer_ws() -> None:
        await kolben.websocket.send("outer")

    @inner.websocket("/ws")
    async def inner_ws() -> None:
        await kolben.websocket.send(f"inner {kolben.websocket.path} {kolben.request.script_root}")

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/api": inner})  # type: ignore[method-assign]
    client = app.test_client()
    with client.websocket("/api/ws") as conn:
        assert conn.receive() == "inner /ws /api"
    with client.websocket("/ws") as conn:
        assert conn.receive() == "outer"


def test_wsgi_middleware_reading_the_status_after_the_app_returns(app: kolben.Kolben) -> None:
    """A handshake passed through middleware gets a started response (WSGI asks
    for one): middleware that reads the status once the app returned (a logger,
    metrics) works; a refusal written with write() keeps its body."""
    from kolben.websocket_testing import WebsocketResponseError

    statuses: list[str] = []

    def status_log(wsgi_app: t.Any) -> t.Any:
        def middleware(environ: t.Any, start_response: t.Any) -> t.Any:
            box: dict[str, str] = {}

            def recording(status: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
                box["status"] = status
                return start_response(status, headers, exc_info)

            try:
                yield from wsgi_app(environ, recording)
            finally:
                statuses.append(box["status"])

        return middleware

    def refuse_with_write(wsgi_app: t.Any) -> t.Any:
        def middleware(environ: t.Any, start_response: t.Any) -> t.Any:
            if environ.get("HTTP_X_BLOCK"):
                write = start_response("403 FORBIDDEN", [("Content-Type", "text/plain")])
                write(b"blocked")
                return []
            return wsgi_app(environ, start_response)

        return middleware

    app.wsgi_app = refuse_with_write(status_log(app.wsgi_app))  # type: ignore[method-assign]

    @app.websocket("/ws")
    async def ws() -> None:
        await kolben.websocket.send("hi")

    client = app.test_client()
    with client.websocket("/ws") as conn:
        assert conn.receive() == "hi"
    assert len(statuses) == 1
    refusing = client.websocket("/ws", headers={"X-Block": "1"})
    with pytest.raises(WebsocketResponseError) as refused, refusing:
        pass
    assert refused.value.response.status_code == 403
    assert refused.value.response.get_data() == b"blocked"


def test_after_websocket_functions_written_for_quart_get_none(app: kolben.Kolben) -> None:
    # Quart passes after_websocket functions the response (None once accepted);
    # ported ones (``def after(response): return response``) must not end every
    # connection with a TypeError and 1011.
    seen: list[t.Any] = []

    @app.after_websocket
    def quart_style(response: t.Any) -> t.Any:
        seen.append(("sync", response))
        return response

    @app.after_websocket
    async def quart_style_async(response: t.Any) -> t.Any:
        seen.append(("async", response))
        return response

    @app.after_websocket
    def kolben_style(optional: t.Any = "default") -> None:
        seen.append(("none", optional))

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.send("hi")

    async def main() -> None:
        async with Conn(app, "/ws") as conn:
            await conn.accepted()
            assert await conn.hear() == "hi"
            closing = await conn.next()
            assert closing == {"type": "websocket.close", "code": 1000, "reason": ""}

    run(main())
    assert seen == [("none", "default"), ("async", None), ("sync", None)]


def test_accept_again_without_arguments_does_nothing(app: kolben.Kolben) -> None:
    # Quart allows it: a before_websocket function accepts, and the view, written
    # to work alone too, accepts again. With arguments it can't be honoured.
    from kolben import websocket

    errors: list[str] = []

    @app.before_websocket
    async def accept_early() -> None:
        await websocket.accept()

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        try:
            await websocket.accept(headers={"x-late": "1"})
        except RuntimeError as e:
            errors.append(str(e))
        await websocket.send("hi")

    async def main() -> None:
        async with Conn(app, "/ws") as conn:
            await conn.accepted()
            assert await conn.hear() == "hi"

    run(main())
    assert len(errors) == 1 and "already accepted" in errors[0]


def test_an_error_escaping_the_error_handling_closes_1011_not_1012(
    app: kolben.Kolben,
) -> None:
    """An error raised while handling the view's error (a got_websocket_exception
    receiver that raises) is an internal error (1011), not the server going away
    (1012, which invites clients to reconnect at once); it reaches the server
    and the teardown functions get it."""
    torn_down: list[str] = []

    def broken_receiver(sender: t.Any, exception: BaseException) -> None:
        raise RuntimeError("receiver broke")

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        raise ZeroDivisionError

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        torn_down.append(type(exc).__name__)

    async def main() -> None:
        conn = await Conn(app).__aenter__()
        await conn.accepted()
        closed = await conn.next()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == 1011
        with pytest.raises(RuntimeError, match="receiver broke"):
            await conn.finished()

    kolben.got_websocket_exception.connect(broken_receiver, app)
    try:
        run(main())
    finally:
        kolben.got_websocket_exception.disconnect(broken_receiver, app)
    assert torn_down == ["RuntimeError"]


@pytest.mark.parametrize("status", [1000, 99])
def test_a_refusal_whose_status_is_not_three_digits_is_never_sent(
    app: kolben.Kolben, status: int
) -> None:
    # As for an HTTP response: a server handed such a status drops the
    # connection (uvicorn) or fails as a whole (granian): the app raises before
    # the refusal is sent, which the server answers (a 500), and the teardown
    # functions run once.
    events: list[str] = []

    @app.before_websocket
    def refuse() -> t.Any:
        return "nope", status

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        events.append("teardown")

    conn = Conn(app)

    async def main() -> None:
        async with conn:
            pass

    with pytest.raises(ValueError, match="not an HTTP status code"):
        run(main())
    assert events == ["teardown"]
    assert conn.outgoing.empty()  # nothing was sent to the server


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\x7fb", "\u20ac"])
def test_a_refusal_with_a_header_servers_refuse_is_never_sent(
    app: kolben.Kolben, value: str
) -> None:
    # As for an HTTP response (a header value with a control character made
    # uvicorn drop the connection without an answer): the app raises before the
    # refusal is sent, which the server answers (a 500), and the teardown
    # functions run once.
    events: list[str] = []

    @app.before_websocket
    def refuse() -> t.Any:
        return "nope", 401, {"X-A": value}

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        events.append("teardown")

    conn = Conn(app)

    async def main() -> None:
        async with conn:
            pass

    with pytest.raises(ValueError):
        run(main())
    assert events == ["teardown"]
    assert conn.outgoing.empty()  # nothing was sent to the server


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_websocket_500_handler_runs_while_the_original_error_is_handled(
    app: kolben.Kolben, kind: str
) -> None:
    # As Quart runs it (in the except block of the view's error), and as the
    # HTTP door runs the 500 handler: sys.exc_info() is the view's error, so
    # app.logger.exception() in the handler logs its traceback. It was the
    # InternalServerError made for the handler, with no traceback.
    seen: list[object] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        raise RuntimeError("boom")

    if kind == "async":

        @app.errorhandler(500)
        async def server_error(e: Exception) -> None:
            seen.append(sys.exc_info()[1])

    else:

        @app.errorhandler(500)
        def server_error(e: Exception) -> None:
            seen.append(sys.exc_info()[1])

    async def main() -> None:
        async with Conn(app) as conn:
            await conn.accepted()
            closing = await conn.next()
            assert closing["type"] == "websocket.close" and closing["code"] == 1011

    run(main())
    assert len(seen) == 1
    assert isinstance(seen[0], RuntimeError), seen
