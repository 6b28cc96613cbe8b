"""The websocket test client: ``client.websocket(path)``, blocking (``with``) and
awaitable (``async with``), through the app's ASGI door, on both test clients."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import typing as t
from collections.abc import Iterator

import pytest

import kolben
from kolben import Blueprint, WebsocketDisconnect, abort, g, jsonify, request, session, websocket
from kolben.testing import (
    AsyncWebsocketTestConnection,
    KolbenClient,
    WebsocketResponseError,
    WebsocketTestConnection,
    WebsocketTimeout,
)


@pytest.fixture
def app() -> kolben.Kolben:
    app = kolben.Kolben("test_websocket_client")
    app.config.update(TESTING=True, SECRET_KEY="test key")

    @app.websocket("/echo")
    async def echo() -> None:
        await websocket.accept()
        async for message in websocket:
            await websocket.send(message)

    return app


@pytest.fixture(params=["test_client", "asgi_test_client"])
def client(app: kolben.Kolben, request: pytest.FixtureRequest) -> KolbenClient:
    """Both test clients open websockets the same way (through the ASGI door)."""
    return t.cast(KolbenClient, getattr(app, request.param)())


def _connection_threads() -> list[threading.Thread]:
    return [th for th in threading.enumerate() if th.name.startswith("kolben-websocket-test")]


@pytest.fixture(autouse=True)
def _no_connection_thread_left() -> Iterator[None]:
    yield
    left = _connection_threads()
    assert not left, f"websocket test connection threads left running: {left}"


def run(coro: t.Coroutine[t.Any, t.Any, t.Any]) -> t.Any:
    async def main() -> t.Any:
        return await asyncio.wait_for(coro, 10)

    return asyncio.run(main())


def other_tasks() -> set[asyncio.Task[t.Any]]:
    """The loop's tasks, but for the test's own (``run``'s and the current one)."""
    return {
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and task.get_coro().__name__ != "main"
    }


# -- talking ---------------------------------------------------------------------------


def test_echo_text_and_binary(client: KolbenClient) -> None:
    with client.websocket("/echo") as ws:
        assert isinstance(ws, WebsocketTestConnection)
        ws.send("héllo")
        assert ws.receive() == "héllo"
        ws.send(b"\x00\xff")
        assert ws.receive() == b"\x00\xff"
        ws.send(bytearray(b"ab"))
        ws.send(memoryview(b"cd"))
        assert ws.receive() == b"ab"
        assert ws.receive() == b"cd"
        ws.send("")
        assert ws.receive() == ""
        with pytest.raises(TypeError, match="send_json"):
            ws.send(1)  # type: ignore[arg-type]


def test_binary_and_text_frames_stay_apart(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.websocket("/kind")
    async def kind() -> None:
        while True:
            message = await websocket.receive()
            await websocket.send(type(message).__name__)

    with client.websocket("/kind") as ws:
        ws.send("text")
        ws.send(b"bytes")
        assert [ws.receive(), ws.receive()] == ["str", "bytes"]


def test_json_round_trip(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.websocket("/json")
    async def json_view() -> None:
        value = await websocket.receive_json()
        await websocket.send_json({"got": value, "n": len(value["items"])})

    with client.websocket("/json") as ws:
        ws.send_json({"items": [1, 2, "é"]})
        assert ws.receive_json() == {"got": {"items": [1, 2, "é"]}, "n": 3}


def test_subprotocol_and_accept_headers(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.websocket("/chat")
    async def chat() -> None:
        offered = websocket.subprotocols
        await websocket.accept(subprotocol="chat.v2", headers={"X-Room": "7"})
        await websocket.send_json(
            {"offered": offered, "header": websocket.headers.get("Sec-WebSocket-Protocol")}
        )

    with client.websocket("/chat", subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.response_headers["X-Room"] == "7"
        assert ws.receive_json() == {
            "offered": ["chat.v1", "chat.v2"],
            "header": "chat.v1, chat.v2",
        }
    with client.websocket("/echo") as ws:
        assert ws.subprotocol is None


def test_handshake_data(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.websocket("/data/<int:n>")
    async def data(n: int) -> None:
        await websocket.send_json(
            {
                "n": n,
                "args": websocket.args.to_dict(flat=False),
                "token": websocket.headers.get("X-Token"),
                "upgrade": websocket.headers.get("Upgrade"),
                "url": websocket.url,
                "scheme": websocket.scheme,
                "remote_addr": websocket.remote_addr,
                "request_path": request.full_path,
            }
        )

    with client.websocket(
        "/data/3", query_string={"a": "1", "b": ["x", "y"]}, headers={"X-Token": "t0k"}
    ) as ws:
        got = ws.receive_json()
    assert got == {
        "n": 3,
        "args": {"a": ["1"], "b": ["x", "y"]},
        "token": "t0k",
        "upgrade": "websocket",
        "url": "ws://localhost/data/3?a=1&b=x&b=y",
        "scheme": "ws",
        "remote_addr": "127.0.0.1",
        "request_path": "/data/3?a=1&b=x&b=y",
    }
    with client.websocket("/data/4?q=%C3%A9", url_scheme="https") as ws:
        got = ws.receive_json()
    assert got["args"] == {"q": ["é"]}
    assert got["url"].startswith("wss://localhost/data/4?q=")
    with client.websocket("wss://example.com/data/5", query_string="z=1") as ws:
        got = ws.receive_json()
    assert (got["url"], got["args"]) == ("wss://example.com/data/5?z=1", {"z": ["1"]})


# -- cookies and the session -------------------------------------------------------------


def test_the_session_of_earlier_requests_reaches_the_websocket(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    @app.post("/login")
    def login() -> str:
        session["user"] = request.form["user"]
        return "ok"

    @app.websocket("/me")
    async def me() -> None:
        await websocket.send_json(
            {"user": session.get("user"), "flavour": websocket.cookies.get("flavour")}
        )

    with client.websocket("/me") as ws:
        assert ws.receive_json() == {"user": None, "flavour": None}
    client.post("/login", data={"user": "ann"})
    client.set_cookie("flavour", "mint")
    with client.websocket("/me") as ws:
        assert ws.receive_json() == {"user": "ann", "flavour": "mint"}
    with client.session_transaction() as sess:
        sess["user"] = "bob"
    with client.websocket("/me") as ws:
        assert ws.receive_json()["user"] == "bob"


def test_a_client_without_cookies(app: kolben.Kolben) -> None:
    @app.websocket("/cookies")
    async def cookies() -> None:
        await websocket.send_json(websocket.cookies.to_dict())

    client = app.test_client(use_cookies=False)
    with client.websocket("/cookies", headers={"Cookie": "a=1"}) as ws:
        assert ws.receive_json() == {"a": "1"}


def test_set_cookie_from_the_handshake_updates_the_jar(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    @app.websocket("/refuse")
    async def refuse() -> t.Any:
        response = jsonify(error="log in first")
        response.status_code = 401
        response.set_cookie("next", "/refuse")
        return response

    @app.websocket("/accept")
    async def accept() -> None:
        await websocket.accept(headers=[("Set-Cookie", "seen=yes; Path=/")])
        await websocket.send("hi")

    with pytest.raises(WebsocketResponseError) as info, client.websocket("/refuse"):
        pass  # pragma: no cover - entering raises
    assert info.value.response.status_code == 401
    cookie = client.get_cookie("next")
    assert cookie is not None and cookie.value == "/refuse"
    with client.websocket("/accept") as ws:
        assert ws.response_headers["Set-Cookie"].startswith("seen=yes")
        assert ws.receive() == "hi"
    seen = client.get_cookie("seen")
    assert seen is not None and seen.value == "yes"


# -- refusals ----------------------------------------------------------------------------


def test_before_websocket_refusal_on_a_blueprint(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    api = Blueprint("api", __name__, url_prefix="/api")
    ran: list[str] = []

    @api.before_websocket
    def check_token() -> None:
        if request.args.get("token") != "secret":
            abort(403)

    @api.errorhandler(403)
    def forbidden(e: Exception) -> t.Any:
        return {"error": "forbidden"}, 403, {"X-Why": "token"}

    @api.websocket("/feed")
    async def feed() -> None:
        ran.append("view")
        await websocket.send("welcome")

    @api.after_websocket
    def after() -> None:
        ran.append("after")

    app.register_blueprint(api)

    with pytest.raises(WebsocketResponseError) as info, client.websocket("/api/feed"):
        pass  # pragma: no cover - entering raises
    error = info.value
    assert error.status_code == error.response.status_code == 403
    assert error.response.headers["X-Why"] == "token"
    assert error.response.headers["Content-Type"] == "application/json"
    assert error.response.json == {"error": "forbidden"}
    assert "403 FORBIDDEN" in str(error) and "forbidden" in str(error)
    # The refusal ends the websocket: after_websocket runs (as in Quart), the view not.
    assert ran == ["after"]
    ran.clear()

    with client.websocket("/api/feed?token=secret") as ws:
        assert ws.receive() == "welcome"
    assert ran == ["view", "after"]


def test_unknown_and_http_only_paths_are_refused(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    @app.get("/page")
    def page() -> str:
        return "page"

    with pytest.raises(WebsocketResponseError) as info, client.websocket("/nowhere"):
        pass  # pragma: no cover
    assert info.value.response.status_code == 404
    with pytest.raises(WebsocketResponseError) as info, client.websocket("/page"):
        pass  # pragma: no cover
    assert info.value.response.status_code == 400
    assert "plain HTTP" in info.value.response.text


def test_closing_before_accepting_is_an_empty_403_and_an_error_a_500(
    app: kolben.Kolben, client: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/closes")
    async def closes() -> None:
        await websocket.close()

    @app.websocket("/breaks")
    async def breaks() -> None:
        raise RuntimeError("broken before accepting")

    with pytest.raises(WebsocketResponseError) as info, client.websocket("/closes"):
        pass  # pragma: no cover
    assert info.value.response.status_code == 403
    assert info.value.response.get_data() == b""
    with (
        caplog.at_level(logging.ERROR),
        pytest.raises(WebsocketResponseError) as info,
        client.websocket("/breaks"),
    ):
        pass  # pragma: no cover
    assert info.value.response.status_code == 500
    assert "broken before accepting" in caplog.text


def test_an_error_handler_for_the_exception_answers_the_handshake(
    app: kolben.Kolben, client: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    """As for an HTTP request (and in Quart): @app.errorhandler(SomeError) answers
    a handshake refused by that error, from a before_websocket function or the view,
    and nothing is logged; a failing handler is a logged 500."""

    class NotLoggedIn(Exception):
        pass

    class Broken(Exception):
        pass

    @app.errorhandler(NotLoggedIn)
    def not_logged_in(e: NotLoggedIn) -> t.Any:
        return {"error": "login required"}, 401

    @app.errorhandler(Broken)
    async def broken_handler(e: Broken) -> t.Any:
        raise RuntimeError("the handler broke")

    torn_down: list[BaseException | None] = []
    app.teardown_request(torn_down.append)

    @app.before_websocket
    def check() -> None:
        if request.args.get("hook"):
            raise NotLoggedIn()

    @app.websocket("/guarded")
    async def guarded() -> None:
        if request.args.get("view"):
            raise NotLoggedIn()
        if request.args.get("broken"):
            raise Broken()
        await websocket.accept()

    with caplog.at_level(logging.ERROR):
        for query in ("hook=1", "view=1"):
            with (
                pytest.raises(WebsocketResponseError) as info,
                client.websocket(f"/guarded?{query}"),
            ):
                pass  # pragma: no cover
            assert info.value.response.status_code == 401
            assert info.value.response.json == {"error": "login required"}
        assert caplog.text == ""
        assert torn_down == [None, None]
        with pytest.raises(WebsocketResponseError) as info, client.websocket("/guarded?broken=1"):
            pass  # pragma: no cover
        assert info.value.response.status_code == 500
        assert "the handler broke" in caplog.text
        assert isinstance(torn_down[-1], RuntimeError)


def test_after_websocket_runs_when_the_view_returns_without_accepting(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """The view returned (a refusal, None, or after closing): it ended normally,
    so the after_websocket functions run, whichever way it refused."""
    ran: list[str | None] = []

    @app.after_websocket
    def after() -> None:
        ran.append(request.path)

    @app.websocket("/value")
    async def value() -> t.Any:
        return "full", 503

    @app.websocket("/none")
    async def none() -> None:
        return None

    @app.websocket("/closes")
    async def closes() -> None:
        await websocket.close()

    for path in ("/value", "/none", "/closes"):
        with pytest.raises(WebsocketResponseError), client.websocket(path):
            pass  # pragma: no cover
    assert ran == ["/value", "/none", "/closes"]


def test_a_receive_loop_in_another_task_ends_the_view_with_the_client(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """Quart's chat example: a task the view started receives, the view waits on a
    broker. The client leaving ends that task and, after the grace period, the
    view (it does not wait forever); a sending task failing wakes a view waiting
    in receive() too."""
    ended: list[str] = []
    never: asyncio.Queue[str] = asyncio.Queue()

    @app.websocket("/chat")
    async def chat() -> None:
        async def _receive() -> None:
            while True:
                await websocket.receive()

        task = asyncio.ensure_future(_receive())
        try:
            await never.get()  # a broker nobody publishes on
        finally:
            ended.append("chat")
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    @app.websocket("/ticker")
    async def ticker() -> None:
        await websocket.accept()
        await asyncio.sleep(0.3)  # away from receive(): a watcher receives for it

        async def tick() -> None:
            while True:
                await websocket.send("tick")
                await asyncio.sleep(0)

        task = asyncio.ensure_future(tick())
        try:
            async for _ in websocket:
                pass
        finally:
            ended.append("ticker")
            task.cancel()

    with client.websocket("/chat", timeout=2) as ws:
        ws.send("hello")
    with client.websocket("/ticker", timeout=2) as ws:
        assert ws.receive() == "tick"
        ws.close()
    assert ended == ["chat", "ticker"]


# -- closing -----------------------------------------------------------------------------


def test_the_app_closing_with_a_code(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.websocket("/bye")
    async def bye() -> None:
        await websocket.send("one")
        await websocket.send("two")
        await websocket.close(4001, "done here")

    with client.websocket("/bye") as ws:
        # The messages sent before the close come first.
        assert ws.receive() == "one"
        assert ws.receive() == "two"
        with pytest.raises(WebsocketDisconnect) as info:
            ws.receive()
        assert (info.value.code, info.value.reason) == (4001, "done here")
        with pytest.raises(WebsocketDisconnect) as info:
            ws.receive()  # and again
        assert info.value.code == 4001
        with pytest.raises(WebsocketDisconnect):
            ws.send("anyone?")
        assert ws.closed


def test_an_error_after_accepting_closes_1011(
    app: kolben.Kolben, client: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.websocket("/writes-session")
    async def writes_session() -> None:
        await websocket.accept()
        session["x"] = 1  # read-only in a websocket

    with (
        caplog.at_level(logging.ERROR),
        client.websocket("/writes-session") as ws,
        pytest.raises(WebsocketDisconnect) as info,
    ):
        ws.receive()
    assert info.value.code == 1011
    assert "ReadOnlySessionError" in caplog.text


def test_the_client_closing_with_a_code(app: kolben.Kolben, client: KolbenClient) -> None:
    seen: list[t.Any] = []

    @app.websocket("/listen")
    async def listen() -> None:
        try:
            while True:
                seen.append(await websocket.receive())
        except WebsocketDisconnect as e:
            seen.append((e.code, e.reason))
            raise

    @app.after_websocket
    def after() -> None:
        seen.append("after")

    with client.websocket("/listen") as ws:
        ws.send("hi")
        ws.close(4000, "leaving")
        # close() waited for the view to end.
        assert seen == ["hi", (4000, "leaving"), "after"]
        assert ws.closed
        with pytest.raises(WebsocketDisconnect) as info:
            ws.send("more")
        assert info.value.code == 4000
        with pytest.raises(WebsocketDisconnect):
            ws.receive()
        ws.close()  # closing again does nothing
        with pytest.raises(ValueError, match="close code"):
            ws.close(1006)

    seen.clear()
    with client.websocket("/listen") as ws:
        pass  # leaving the block closes with 1000
    assert seen == [(1000, ""), "after"]


# -- hooks, contexts ---------------------------------------------------------------------


def test_blueprint_hooks_and_session(app: kolben.Kolben, client: KolbenClient) -> None:
    calls: list[str] = []
    bp = Blueprint("room", __name__)

    @app.before_websocket
    async def app_before() -> None:
        calls.append("app before")

    @bp.before_websocket
    def bp_before() -> None:  # sync: runs in a worker thread
        calls.append("bp before")
        g.user = session.get("user", "anonymous")

    @bp.websocket("/room/<name>")
    async def room(name: str) -> None:
        await websocket.send(f"{g.user} in {name}")
        await websocket.receive()

    @bp.after_websocket
    async def bp_after() -> None:
        calls.append("bp after")

    @app.after_websocket
    def app_after() -> None:
        calls.append("app after")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        calls.append("teardown")

    @app.get("/login/<user>")
    def login(user: str) -> str:
        session["user"] = user
        return "ok"

    app.register_blueprint(bp)
    client.get("/login/cleo")
    calls.clear()
    with client.websocket("/room/blue") as ws:
        assert ws.receive() == "cleo in blue"
    assert calls == ["app before", "bp before", "bp after", "app after", "teardown"]


# -- timeouts ----------------------------------------------------------------------------


def test_receive_times_out_and_the_connection_goes_on(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    @app.websocket("/quiet")
    async def quiet() -> None:
        while True:
            if await websocket.receive() == "ping":
                await websocket.send("pong")

    with client.websocket("/quiet", timeout=0.3) as ws:
        start = time.monotonic()
        with pytest.raises(WebsocketTimeout) as info:
            ws.receive()
        assert 0.25 < time.monotonic() - start < 3
        assert isinstance(info.value, TimeoutError)
        assert "'/quiet'" in str(info.value) and "0.3 seconds" in str(info.value)
        with pytest.raises(TimeoutError, match=r"0\.1 seconds"):
            ws.receive(timeout=0.1)
        ws.send("ping")
        assert ws.receive() == "pong"


def test_a_handshake_never_answered_times_out(app: kolben.Kolben, client: KolbenClient) -> None:
    ended: list[str] = []

    @app.websocket("/stuck")
    async def stuck() -> None:
        try:
            await asyncio.Event().wait()  # never accepts
        finally:
            ended.append("finally")

    start = time.monotonic()
    with (
        pytest.raises(WebsocketTimeout, match="handshake"),
        client.websocket("/stuck", timeout=0.3),
    ):
        pass  # pragma: no cover
    assert time.monotonic() - start < 3
    assert ended == ["finally"]  # the app was cancelled, its finally ran


def test_a_timeout_must_be_positive(client: KolbenClient) -> None:
    with pytest.raises(ValueError, match="timeout"):
        client.websocket("/echo", timeout=0)


# -- the async variant -------------------------------------------------------------------


def test_inside_a_with_client_block(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.get("/page")
    def page() -> str:
        g.seen = "page"
        return "page"

    @app.websocket("/g")
    async def g_view() -> None:
        await websocket.send(repr(g.get("seen")))

    with client:
        client.get("/page")
        with client.websocket("/g") as ws:  # its own contexts, not the kept ones
            assert ws.receive() == "None"
        assert g.seen == "page"  # the kept request's context is still the active one


def test_async_variant(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.websocket("/bye")
    async def bye() -> None:
        await websocket.accept(subprotocol="v1")
        await websocket.send_json({"ok": True})
        await websocket.close(4002)

    async def main() -> None:
        async with client.websocket("/echo") as ws:
            assert isinstance(ws, AsyncWebsocketTestConnection)
            await ws.send("hi")
            assert await ws.receive() == "hi"
            await ws.send(b"\x01")
            assert await ws.receive() == b"\x01"
            await ws.send_json([1, 2])
            assert await ws.receive_json() == [1, 2]
            with pytest.raises(WebsocketTimeout):
                await ws.receive(timeout=0.1)
            await ws.send("still here")
            assert await ws.receive() == "still here"
        async with client.websocket("/bye", subprotocols=["v1"]) as ws:
            assert ws.subprotocol == "v1"
            assert await ws.receive_json() == {"ok": True}
            with pytest.raises(WebsocketDisconnect) as info:
                await ws.receive()
            assert info.value.code == 4002
        with pytest.raises(WebsocketResponseError) as refused:
            async with client.websocket("/nowhere"):
                pass  # pragma: no cover
        assert refused.value.response.status_code == 404
        # The app ran on this loop, and left nothing behind.
        assert other_tasks() == set()

    run(main())


def test_async_receive_can_be_cancelled_without_losing_a_message(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """asyncio.wait_for(ws.receive(), t), the way Quart's client is bounded: a
    receive cancelled just as a message arrives leaves it for the next one."""

    @app.websocket("/trickle")
    async def trickle() -> None:
        await websocket.accept()
        for i in range(300):
            await websocket.send(str(i))
            await asyncio.sleep((0, 0.0003, 0.0007, 0.001)[i % 4])

    async def main() -> None:
        got: list[int] = []
        async with client.websocket("/trickle") as ws:
            while len(got) < 300:
                with contextlib.suppress(asyncio.TimeoutError):
                    got.append(int(await asyncio.wait_for(ws.receive(), 0.0004)))
        assert got == list(range(300))

    run(main())


def test_async_variant_runs_the_app_on_the_tests_loop(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    @app.websocket("/loop")
    async def loop_view() -> None:
        loops.append(asyncio.get_running_loop())
        await websocket.send("ok")

    async def main() -> None:
        async with client.websocket("/loop") as ws:
            assert await ws.receive() == "ok"
        assert loops == [asyncio.get_running_loop()]

    run(main())
    with client.websocket("/loop") as ws:  # the blocking one: its own loop, in its thread
        assert ws.receive() == "ok"
    assert loops[1] is not loops[0]


# -- nothing left behind -----------------------------------------------------------------


def test_no_thread_or_task_left_behind(app: kolben.Kolben, client: KolbenClient) -> None:
    events: list[str] = []

    @app.websocket("/busy")
    async def busy() -> None:
        await websocket.accept()
        asyncio.get_running_loop().create_task(stray())  # a task the app forgets
        try:
            await asyncio.sleep(30)  # never receives: kolben cancels it once the client left
        finally:
            events.append("view ended")

    async def stray() -> None:
        try:
            await asyncio.sleep(30)
        finally:
            events.append("stray ended")

    pool = app.worker_threads.name
    before = {th for th in threading.enumerate() if not th.name.startswith(pool)}
    start = time.monotonic()
    with client.websocket("/busy") as ws:
        assert len(_connection_threads()) == 1
        assert not ws.closed
    assert time.monotonic() - start < 3
    assert events == ["view ended", "stray ended"]
    after = {th for th in threading.enumerate() if not th.name.startswith(pool)}
    assert after == before

    # The same in an async test: the app's task is gone when the block ends.
    events.clear()

    async def main() -> None:
        async with client.websocket("/busy"):
            pass
        assert events == ["view ended"]
        # Only the task the view forgot: the app's own are gone.
        strays = other_tasks()
        assert [task.get_coro().__name__ for task in strays] == ["stray"]
        for task in strays:
            task.cancel()

    run(main())


def test_an_error_in_the_block_is_not_masked(client: KolbenClient) -> None:
    with pytest.raises(KeyError, match="from the test"), client.websocket("/echo") as ws:
        ws.send("x")
        raise KeyError("from the test")

    async def main() -> None:
        with pytest.raises(KeyError, match="from the test"):
            async with client.websocket("/echo"):
                raise KeyError("from the test")
        assert other_tasks() == set()

    run(main())


def test_an_exception_escaping_the_asgi_app_reaches_the_test(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    inner = app.asgi_app

    async def middleware(scope: t.Any, receive: t.Any, send: t.Any) -> None:
        if scope["path"] == "/broken":
            await receive()
            await send({"type": "websocket.accept"})
            raise RuntimeError("the middleware broke")
        await inner(scope, receive, send)

    app.asgi_app = middleware  # type: ignore[method-assign]
    with client.websocket("/echo") as ws:  # middleware is honoured
        ws.send("through")
        assert ws.receive() == "through"
    with (
        pytest.raises(RuntimeError, match="the middleware broke"),
        client.websocket("/broken") as ws,
    ):
        ws.receive()
    with pytest.raises(RuntimeError, match="the middleware broke"), client.websocket("/broken"):
        pass  # raised when the block ends


def test_a_view_told_through_a_task_it_awaits_is_not_cancelled(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """asyncio.wait_for(websocket.receive(), ...) runs receive() in a task of its
    own on Python 3.11: the view gets the WebsocketDisconnect as if it were told
    itself, and its cleanup after it is not cancelled."""
    ended: list[str] = []

    @app.websocket("/timed")
    async def timed() -> None:
        await websocket.accept()
        try:
            while True:
                await asyncio.wait_for(websocket.receive(), 10)
        except WebsocketDisconnect:
            try:
                await asyncio.sleep(0.5)
                ended.append("cleanup done")
            except asyncio.CancelledError:
                ended.append("cleanup cancelled")
                raise

    with client.websocket("/timed"):
        pass
    deadline = time.monotonic() + 3
    while not ended and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ended == ["cleanup done"]


# -- Quart parity: teardown_websocket, error handlers after accepting, after_websocket
# -- on refusals --------------------------------------------------------------------------


def test_teardown_websocket_runs_in_every_case(app: kolben.Kolben, client: KolbenClient) -> None:
    """Quart's teardown_websocket (app, blueprint, app-wide from a blueprint): after
    the after_websocket functions, before teardown_request (which still runs for
    websockets) and teardown_appcontext; given the unhandled exception or None;
    sync functions off the event loop."""
    calls: list[t.Any] = []
    loop_thread: list[int] = []
    bp = Blueprint("bp", __name__)

    @bp.websocket("/ws")
    async def view() -> None:
        loop_thread.append(threading.get_ident())
        await websocket.accept()
        await websocket.send("hi")
        if request.args.get("fail"):
            raise ZeroDivisionError("boom")

    @bp.after_websocket
    def after() -> None:
        calls.append("after_websocket")

    @app.teardown_websocket
    def app_sync(exc: BaseException | None) -> None:
        calls.append(("app sync", type(exc).__name__, threading.get_ident() == loop_thread[-1]))

    @app.teardown_websocket
    async def app_async(exc: BaseException | None) -> None:
        calls.append(("app async", type(exc).__name__, threading.get_ident() == loop_thread[-1]))

    @bp.teardown_websocket
    def bp_own(exc: BaseException | None) -> None:
        calls.append(("bp", type(exc).__name__))

    @bp.teardown_app_websocket
    def bp_app_wide(exc: BaseException | None) -> None:
        calls.append(("app-wide from bp", type(exc).__name__))

    @app.teardown_request
    def teardown_request(exc: BaseException | None) -> None:
        calls.append(("teardown_request", type(exc).__name__))

    @app.teardown_appcontext
    def teardown_appcontext(exc: BaseException | None) -> None:
        calls.append("teardown_appcontext")

    @app.get("/page")
    def page() -> str:
        return "page"

    app.register_blueprint(bp)

    def expected(exc: str) -> list[t.Any]:
        return [
            "after_websocket",
            ("bp", exc),
            ("app-wide from bp", exc),  # registered last (with the blueprint): first
            ("app async", exc, True),
            ("app sync", exc, False),
            ("teardown_request", exc),
            "teardown_appcontext",
        ]

    with client.websocket("/ws") as ws:
        assert ws.receive() == "hi"
    assert calls == expected("NoneType")

    calls.clear()
    with client.websocket("/ws?fail=1") as ws, pytest.raises(WebsocketDisconnect):
        assert ws.receive() == "hi"
        ws.receive()
    assert calls == expected("ZeroDivisionError")

    calls.clear()
    assert client.get("/page").text == "page"  # not for HTTP requests
    assert calls == [("teardown_request", "NoneType"), "teardown_appcontext"]


def test_error_handlers_run_for_errors_after_accepting(
    app: kolben.Kolben, client: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    """As in Quart: once accepted, an error still goes to its error handler (which
    may send a last message); a handled error is not logged and closes with 1000;
    an HTTP error's handler runs and the close is 1008; an unhandled one is logged,
    sends got_request_exception and got_websocket_exception, calls the 500 handler
    and closes with 1011. after_websocket runs after each, teardown gets the
    unhandled error only."""
    from kolben.signals import got_request_exception, got_websocket_exception

    class GameOver(Exception):
        pass

    calls: list[t.Any] = []

    @app.errorhandler(GameOver)
    async def game_over(e: GameOver) -> t.Any:
        calls.append("GameOver handler")
        await websocket.send("game over")  # returns None: nothing to answer

    @app.errorhandler(403)
    def forbidden(e: Exception) -> t.Any:
        calls.append("403 handler")
        return "no", 403

    @app.errorhandler(500)
    def server_error(e: t.Any) -> t.Any:
        calls.append(("500 handler", type(e.original_exception).__name__))
        return "oops", 500

    @app.websocket("/play")
    async def play() -> None:
        await websocket.accept()
        what = await websocket.receive()
        if what == "lose":
            raise GameOver()
        if what == "cheat":
            abort(403)
        raise KeyError("bug")

    @app.after_websocket
    def after() -> None:
        calls.append("after_websocket")

    app.teardown_websocket(lambda exc: calls.append(("teardown", type(exc).__name__)))

    def on_signal(name: str) -> t.Callable[..., None]:
        return lambda sender, exception, **kw: calls.append((name, type(exception).__name__))

    request_signal, websocket_signal = on_signal("got_request"), on_signal("got_websocket")
    got_request_exception.connect(request_signal, app)
    got_websocket_exception.connect(websocket_signal, app)
    try:
        with caplog.at_level(logging.ERROR):
            with client.websocket("/play") as ws, pytest.raises(WebsocketDisconnect) as info:
                ws.send("lose")
                assert ws.receive() == "game over"
                ws.receive()
            assert info.value.code == 1000
            assert calls == ["GameOver handler", "after_websocket", ("teardown", "NoneType")]
            assert caplog.text == ""

            calls.clear()
            with client.websocket("/play") as ws, pytest.raises(WebsocketDisconnect) as info:
                ws.send("cheat")
                ws.receive()
            assert (info.value.code, info.value.reason) == (1008, "Forbidden")
            assert calls == ["403 handler", "after_websocket", ("teardown", "NoneType")]
            assert caplog.text == ""

            calls.clear()
            with client.websocket("/play") as ws, pytest.raises(WebsocketDisconnect) as info:
                ws.send("bug")
                ws.receive()
            assert info.value.code == 1011
            assert calls == [
                ("got_request", "KeyError"),
                ("got_websocket", "KeyError"),
                ("500 handler", "KeyError"),
                "after_websocket",
                ("teardown", "KeyError"),
            ]
            assert "Exception in websocket /play" in caplog.text
    finally:
        got_request_exception.disconnect(request_signal, app)
        got_websocket_exception.disconnect(websocket_signal, app)


def test_after_websocket_runs_when_the_handshake_is_refused(
    app: kolben.Kolben, client: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    """As in Quart: a before_websocket refusal (a value, abort(), an error) and an
    error in the view before accepting still run the after_websocket functions; one
    taking an argument gets the refusal and may return another response."""
    seen: list[t.Any] = []

    @app.before_websocket
    def guard() -> t.Any:
        how = request.args.get("before")
        if how == "value":
            return "full", 503
        if how == "abort":
            abort(401)
        if how == "raise":
            raise KeyError("before")
        return None

    @app.websocket("/room")
    async def room() -> None:
        if request.args.get("view") == "raise":
            raise KeyError("view")
        await websocket.accept()

    @app.after_websocket
    def plain() -> None:
        seen.append("plain")

    @app.after_websocket
    async def quart_style(response: t.Any) -> t.Any:
        seen.append(response.status_code)
        response.headers["X-After"] = "yes"
        return response

    with caplog.at_level(logging.ERROR):
        for query, status in [
            ("before=value", 503),
            ("before=abort", 401),
            ("before=raise", 500),
            ("view=raise", 500),
        ]:
            seen.clear()
            with pytest.raises(WebsocketResponseError) as info, client.websocket(f"/room?{query}"):
                pass  # pragma: no cover
            assert info.value.response.status_code == status
            assert info.value.response.headers["X-After"] == "yes"
            assert seen == [status, "plain"], query


def test_after_websocket_does_not_run_for_a_routing_refusal(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """As documented (docs/websockets.md, ``after_websocket``): no
    after_websocket function runs when the route did not match (404, or a plain
    HTTP route: 400), as no before_websocket function ran either."""
    seen: list[t.Any] = []

    @app.before_websocket
    def before() -> None:
        seen.append("before")

    @app.after_websocket
    def plain() -> None:
        seen.append("plain")

    @app.after_websocket
    def quart_style(response: t.Any) -> t.Any:
        seen.append(response.status_code)
        return response

    @app.route("/page")
    def page() -> str:
        return "page"

    for path, status in [("/nowhere", 404), ("/page", 400)]:
        with pytest.raises(WebsocketResponseError) as info, client.websocket(path):
            pass  # pragma: no cover
        assert info.value.response.status_code == status
    assert seen == []


def test_the_client_leaving_during_a_hook_is_not_an_error(
    app: kolben.Kolben, client: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A before_websocket or after_websocket function that finds the client gone
    (WebsocketDisconnect from receive() or send()) ends the websocket as the view
    would: nothing logged, no got_websocket_exception, no error handler called,
    the teardown functions given None."""
    from kolben import got_websocket_exception

    calls: list[t.Any] = []

    @app.before_websocket
    async def greet() -> None:
        if request.args.get("in") == "before":
            await websocket.accept()
            await websocket.send("hi")
            await websocket.receive()  # the client leaves instead

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.send("hi")
        async for _ in websocket:
            pass

    @app.after_websocket
    async def goodbye() -> None:
        if request.args.get("in") == "after":
            await websocket.send("bye")  # the client left already

    @app.errorhandler(Exception)
    def handler(e: Exception) -> str:
        calls.append(("handler", type(e).__name__))
        return "handled"

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        calls.append(("teardown", type(exc).__name__))

    def signal(sender: t.Any, exception: BaseException) -> None:
        calls.append(("signal", type(exception).__name__))

    got_websocket_exception.connect(signal, app)
    try:
        with caplog.at_level(logging.ERROR):
            for where in ("before", "after"):
                calls.clear()
                with client.websocket(f"/ws?in={where}") as ws:
                    assert ws.receive() == "hi"
                assert calls == [("teardown", "NoneType")], where
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        got_websocket_exception.disconnect(signal, app)


def test_quarts_websocket_signals(app: kolben.Kolben, client: KolbenClient) -> None:
    """Quart's websocket_started (before the before_websocket functions),
    websocket_finished (after the after_websocket functions, with the refusal
    response or None) and websocket_tearing_down (after the teardown_websocket
    functions, with the unhandled error); async receivers on the loop."""
    from kolben.signals import websocket_finished, websocket_started, websocket_tearing_down

    calls: list[t.Any] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()
        await websocket.send("hi")

    @app.before_websocket
    def before() -> t.Any:
        calls.append("before_websocket")
        return ("nope", 401) if request.args.get("refuse") else None

    @app.after_websocket
    def after() -> None:
        calls.append("after_websocket")

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        calls.append("teardown_websocket")

    def started(sender: kolben.Kolben, **kwargs: t.Any) -> None:
        calls.append(("started", sender is app, kwargs))

    async def finished(sender: kolben.Kolben, response: t.Any) -> None:
        calls.append(("finished", None if response is None else response.status_code))

    def tearing_down(sender: kolben.Kolben, exc: BaseException | None) -> None:
        calls.append(("tearing_down", exc))

    with (
        websocket_started.connected_to(started, app),
        websocket_finished.connected_to(finished, app),
        websocket_tearing_down.connected_to(tearing_down, app),
    ):
        with client.websocket("/ws") as ws:
            assert ws.receive() == "hi"
        assert calls == [
            ("started", True, {}),
            "before_websocket",
            "after_websocket",
            ("finished", None),
            "teardown_websocket",
            ("tearing_down", None),
        ]
        calls.clear()
        with pytest.raises(WebsocketResponseError) as refused, client.websocket("/ws?refuse=1"):
            pass
        assert refused.value.response.status_code == 401
        assert calls == [
            ("started", True, {}),
            "before_websocket",
            "after_websocket",
            ("finished", 401),
            "teardown_websocket",
            ("tearing_down", None),
        ]


def test_a_routing_refusal_sends_only_websocket_tearing_down(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """As documented: no websocket_started / websocket_finished for a handshake
    no route matched (no before/after_websocket function runs either), but
    websocket_tearing_down, after the teardown_websocket functions, which run in
    every case."""
    from kolben.signals import websocket_finished, websocket_started, websocket_tearing_down

    calls: list[t.Any] = []

    @app.websocket("/ws")
    async def view() -> None:
        await websocket.accept()

    @app.teardown_websocket
    def teardown(exc: BaseException | None) -> None:
        calls.append("teardown_websocket")

    def record(name: str) -> t.Callable[..., None]:
        return lambda sender, **kwargs: calls.append(name)

    on_started, on_finished, on_tearing_down = (
        record("started"),
        record("finished"),
        record("tearing_down"),
    )
    with (
        websocket_started.connected_to(on_started, app),
        websocket_finished.connected_to(on_finished, app),
        websocket_tearing_down.connected_to(on_tearing_down, app),
    ):
        with pytest.raises(WebsocketResponseError) as refused, client.websocket("/nowhere"):
            pass
        assert refused.value.response.status_code == 404
    assert calls == ["teardown_websocket", "tearing_down"]


def test_quarts_per_message_websocket_signals(app: kolben.Kolben, client: KolbenClient) -> None:
    """Quart's websocket_received and websocket_sent: each message the view
    receives or sends, as the sender (a str or bytes); async receivers on the
    loop, sync ones in a worker thread that sees the websocket's context."""
    import kolben.signals

    calls: list[t.Any] = []
    loop_threads: list[int] = []

    @app.websocket("/chat")
    async def chat() -> None:
        loop_threads.append(threading.get_ident())
        await websocket.accept()
        text = await websocket.receive()
        data = await websocket.receive()
        await websocket.send(f"{text}!")
        await websocket.send(data + b"!")

    async def received(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append(("received", sender, kwargs, threading.get_ident() in loop_threads))

    def sent(sender: t.Any, **kwargs: t.Any) -> None:
        # (in a worker thread, with the websocket's context)
        calls.append(("sent", sender, websocket.path, threading.get_ident() in loop_threads))

    with (
        kolben.signals.websocket_received.connected_to(received),
        kolben.websocket_sent.connected_to(sent),
        client.websocket("/chat") as ws,
    ):
        ws.send("hello")
        ws.send(b"\x00\x01")
        assert ws.receive() == "hello!"
        assert ws.receive() == b"\x00\x01!"
    assert calls == [
        ("received", "hello", {}, True),
        ("received", b"\x00\x01", {}, True),
        ("sent", "hello!", "/chat", False),
        ("sent", b"\x00\x01!", "/chat", False),
    ]
    calls.clear()
    with client.websocket("/echo") as ws:  # nobody connected: nothing sent
        ws.send("x")
        assert ws.receive() == "x"
    assert calls == []


def test_a_failing_per_message_signal_receiver_is_the_views_error(
    app: kolben.Kolben, client: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A websocket_received receiver that raises raises in the view's receive()
    (the error handlers see it), as an error of the view."""
    import kolben.signals

    @app.websocket("/chat")
    async def chat() -> None:
        await websocket.accept()
        try:
            await websocket.receive()
        except ZeroDivisionError:
            await websocket.send("the receiver failed")

    def received(sender: t.Any) -> None:
        raise ZeroDivisionError

    with (
        kolben.signals.websocket_received.connected_to(received),
        client.websocket("/chat") as ws,
    ):
        ws.send("hello")
        assert ws.receive() == "the receiver failed"


def test_a_muted_per_message_signal_calls_no_receiver(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """``signal.muted()`` (blinker's) silences websocket_received and
    websocket_sent, as Quart's ``send_async`` and kolben's other signals honour
    it."""
    calls: list[t.Any] = []

    async def received(sender: t.Any) -> None:
        calls.append(("received", sender))

    def sent(sender: t.Any) -> None:
        calls.append(("sent", sender))

    with (
        kolben.websocket_received.connected_to(received),
        kolben.websocket_sent.connected_to(sent),
        kolben.websocket_received.muted(),
        kolben.websocket_sent.muted(),
        client.websocket("/echo") as ws,
    ):
        ws.send("x")
        assert ws.receive() == "x"
    assert calls == []
