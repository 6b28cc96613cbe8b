"""The test clients read a streamed body as it is sent, on both doors.

``client.get()`` returns once the response has started; a streamed body is read
chunk by chunk (an endless Server-Sent Events stream included), and closing the
response is the client going away: the generator is closed. Found by running
flask-sse's pattern through the ASGI test client, which used to serve the whole
response before returning (an endless stream never returned).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
import typing as t

import pytest

import kolben
from kolben import Response, stream_with_context


def _endless_app(closed: threading.Event, is_async: bool) -> kolben.Kolben:
    app = kolben.Kolben(__name__)
    app.testing = True

    if is_async:

        @app.route("/events")
        async def events() -> Response:
            async def gen() -> t.AsyncIterator[str]:
                try:
                    n = 0
                    while True:
                        n += 1
                        yield f"data: {n}\n\n"
                        await asyncio.sleep(0.01)
                finally:
                    closed.set()

            return Response(gen(), mimetype="text/event-stream")

    else:

        @app.route("/events")
        def events() -> Response:
            @stream_with_context
            def gen() -> t.Iterator[str]:
                try:
                    n = 0
                    while True:
                        n += 1
                        yield f"data: {n}\n\n"
                        time.sleep(0.01)
                finally:
                    closed.set()

            return Response(gen(), mimetype="text/event-stream")

    return app


@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_an_endless_stream_is_read_chunk_by_chunk_and_closed(
    client_for: t.Callable[..., kolben.testing.KolbenClient], door: str, is_async: bool
) -> None:
    closed = threading.Event()
    client = client_for(_endless_app(closed, is_async))
    response = client.get("/events")
    assert response.status_code == 200
    assert response.is_streamed
    chunks = iter(response.response)
    assert next(chunks) == b"data: 1\n\n"
    assert next(chunks) == b"data: 2\n\n"
    assert not closed.is_set()
    response.close()
    assert closed.wait(5)


def test_a_finite_stream_is_read_whole(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    app = kolben.Kolben(__name__)
    torn_down: list[bool] = []

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        torn_down.append(True)

    @app.route("/")
    def index() -> Response:
        @stream_with_context
        def gen() -> t.Iterator[str]:
            yield "a"
            yield "b"
            yield "c"

        return Response(gen())

    client = client_for(app)
    assert client.get("/").data == b"abc"
    assert torn_down == [True]
    assert client.get("/", buffered=True).data == b"abc"
    assert torn_down == [True, True]


def test_a_streamed_response_dropped_unread_is_finished(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    closed = threading.Event()
    client = client_for(_endless_app(closed, is_async=False))
    response = client.get("/events")
    assert response.status_code == 200
    del response
    # WSGI: the generator is closed when dropped; ASGI: the client leaves.
    assert closed.wait(5)


def test_an_exception_the_view_raises_has_no_context_of_the_client(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    app = kolben.Kolben(__name__)
    app.testing = True

    @app.route("/boom")
    def boom() -> str:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom") as info:
        client_for(app).get("/boom")
    # As on Flask: not chained to the test client's own checks.
    assert info.value.__context__ is None


def test_a_buffered_response_leaves_no_loop_open(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    app = kolben.Kolben(__name__)

    @app.route("/")
    async def index() -> str:
        return "hi"

    client = client_for(app)
    for _ in range(3):
        assert client.get("/").data == b"hi"
    # Each request's loop was closed and unset, as asyncio.run leaves it.
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_a_stream_with_context_closed_unread_inside_with_client(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    # Flask's TestStreaming.test_async_view: the contexts kept by `with client:`
    # are pushed again in the test's context; the stream's own push of the
    # request context must be undone first (the ASGI client serves such a
    # request whole before it returns).
    app = kolben.Kolben(__name__)
    app.testing = True
    app.secret_key = "test key"

    @app.route("/")
    async def index() -> Response:
        kolben.session["test"] = "flask"

        @stream_with_context
        def gen() -> t.Iterator[str]:
            yield kolben.session["test"]

        return Response(gen())

    client = client_for(app)
    client.get().close()
    assert client.get().text == "flask"
    with client:
        client.get().close()
    with client:
        assert client.get().text == "flask"
    assert kolben.globals.request_ctx.__bool__() is False  # nothing left pushed


def _logging_stream_app(log: list[str], is_async: bool) -> kolben.Kolben:
    app = kolben.Kolben(__name__)
    app.testing = True

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        log.append("teardown")

    if is_async:

        @app.route("/")
        async def index() -> Response:
            async def gen() -> t.AsyncIterator[str]:
                for n in range(3):
                    log.append(f"chunk {n}")
                    yield str(n)

            return Response(gen())

    else:

        @app.route("/")
        def index() -> Response:
            def gen() -> t.Iterator[str]:
                for n in range(3):
                    log.append(f"chunk {n}")
                    yield str(n)

            return Response(gen())

    return app


@pytest.mark.parametrize("in_with", [False, True], ids=["plain", "with_client"])
@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_a_stream_is_advanced_only_as_it_is_read(
    client_for: t.Callable[..., kolben.testing.KolbenClient], is_async: bool, in_with: bool
) -> None:
    # As on Flask: the response's first chunk is made before get() returns,
    # each next one as the test reads it; closing the response closes the
    # generator without making another. (The ASGI client used to let the app
    # run ahead, and inside `with client:` read the whole body before get()
    # returned.)
    log: list[str] = []
    client = client_for(_logging_stream_app(log, is_async))
    with client if in_with else contextlib.nullcontext():
        response = client.get("/")
        log.append("returned")
        chunks = iter(response.response)
        assert next(chunks) == b"0"
        assert log == ["teardown", "chunk 0", "returned"]
        assert next(chunks) == b"1"
        assert log == ["teardown", "chunk 0", "returned", "chunk 1"]
        response.close()
        log.append("closed")
    assert log == ["teardown", "chunk 0", "returned", "chunk 1", "closed"] + (
        ["teardown"] if in_with else []  # the kept contexts, popped (as Flask)
    )


@pytest.mark.parametrize("read", ["inside", "after", "closed"])
@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_a_stream_with_context_inside_with_client_is_torn_down_as_on_the_wsgi_door(
    client_for: t.Callable[..., kolben.testing.KolbenClient], is_async: bool, read: str
) -> None:
    # The body holds the request's contexts: its end pops them, running the
    # teardown functions (once for a def generator; an async one, which pushes
    # them again as it is iterated, twice). `with client:` adds no run of its
    # own. (The ASGI client, which serves such a body whole before get()
    # returns, pushed the kept contexts again after the body's end: its block's
    # end ran the teardown functions once more.)
    app = kolben.Kolben(__name__)
    app.testing = True
    torn_down: list[str] = []

    @app.teardown_request
    def teardown_request(exc: BaseException | None) -> None:
        torn_down.append("request")

    @app.teardown_appcontext
    def teardown_appcontext(exc: BaseException | None) -> None:
        torn_down.append("app")

    if is_async:

        @app.route("/")
        async def index() -> Response:
            kolben.g.name = "kept"

            @stream_with_context
            async def gen() -> t.AsyncIterator[str]:
                yield kolben.request.path
                yield kolben.g.name

            return Response(gen())

    else:

        @app.route("/")
        def index() -> Response:
            kolben.g.name = "kept"

            @stream_with_context
            def gen() -> t.Iterator[str]:
                yield kolben.request.path
                yield kolben.g.name

            return Response(gen())

    client = client_for(app)
    with client:
        response = client.get("/")
        assert kolben.request.path == "/" and kolben.g.name == "kept"
        if read == "inside":
            assert response.data == b"/kept"
        elif read == "closed":
            response.close()
    if read == "after":
        assert response.data == b"/kept"
    assert torn_down == ["request", "app"] * (2 if is_async else 1)
    assert not kolben.globals.request_ctx and not kolben.globals.app_ctx


def test_what_the_asgi_door_cannot_send_is_what_its_client_shows() -> None:
    # Documented in kolben.asgi_testing: a header value that is not latin-1
    # can't be sent (the door raises; uvicorn answers 500, as gunicorn does
    # under the WSGI door). werkzeug's WSGI client shows it as written. (A
    # reason phrase, which ASGI can't carry either, the door tells kolben's
    # test client: see test_a_custom_reason_phrase_shows_through_both_doors.)
    app = kolben.Kolben(__name__)
    app.testing = True

    @app.route("/status/<code>")
    def status(code: str) -> tuple[str, str | int]:
        return "x", int(code) if code.isdigit() else code.replace("_", " ")

    @app.route("/header")
    def header() -> tuple[str, dict[str, str]]:
        return "x", {"X-Name": "snow \u2603"}

    wsgi, asgi = app.test_client(), app.asgi_test_client()
    for code in ["200", "404", "418", "299", "599"]:
        assert asgi.get(f"/status/{code}").status == wsgi.get(f"/status/{code}").status
    assert asgi.get("/status/299").status == "299 UNKNOWN"
    assert wsgi.get("/header").headers["X-Name"] == "snow \u2603"
    with pytest.raises(UnicodeEncodeError):
        asgi.get("/header")


def test_a_stream_inside_with_client_in_the_tests_app_context_is_read_lazily(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    # A request made inside the test's own app context reuses it: the test's
    # pushes of it are not the body holding it. (The ASGI client took them for
    # stream_with_context's and served the body whole before get() returned:
    # an endless stream, SSE, hung the test.)
    app = kolben.Kolben(__name__)
    app.testing = True
    made: list[int] = []

    @app.route("/")
    def index() -> Response:
        def gen() -> t.Iterator[str]:
            for n in range(1000):  # (endless, but bounded should this fail)
                made.append(n)
                yield f"data: {n}\n\n"

        return Response(gen(), mimetype="text/event-stream")

    client = client_for(app)
    with app.app_context(), client:
        response = client.get("/")
        chunks = iter(response.response)
        assert [next(chunks) for _ in range(3)] == [f"data: {n}\n\n".encode() for n in range(3)]
        assert made == [0, 1, 2]
        response.close()
        assert kolben.current_app._get_current_object() is app
    assert made == [0, 1, 2]
    assert not kolben.globals.app_ctx


@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_a_stream_with_context_inside_with_client_is_read_lazily(
    client_for: t.Callable[..., kolben.testing.KolbenClient], is_async: bool
) -> None:
    # An endless stream_with_context body (SSE) read 3 events and closed inside
    # `with client:`, as on Flask. (The ASGI client served a body holding the
    # request's contexts whole before get() returned: an endless one hung.)
    app = kolben.Kolben(__name__)
    app.testing = True
    made: list[int] = []
    torn_down: list[str] = []

    @app.teardown_request
    def teardown_request(exc: BaseException | None) -> None:
        torn_down.append("request")

    if is_async:

        @app.route("/")
        async def index() -> Response:
            @stream_with_context
            async def gen() -> t.AsyncIterator[str]:
                for n in range(1000):  # (endless, but bounded should this fail)
                    made.append(n)
                    yield f"data: {kolben.request.path}{n}\n\n"

            return Response(gen(), mimetype="text/event-stream")

    else:

        @app.route("/")
        def index() -> Response:
            @stream_with_context
            def gen() -> t.Iterator[str]:
                for n in range(1000):  # (endless, but bounded should this fail)
                    made.append(n)
                    yield f"data: {kolben.request.path}{n}\n\n"

            return Response(gen(), mimetype="text/event-stream")

    client = client_for(app)
    with client:
        response = client.get("/")
        assert kolben.request.path == "/"
        chunks = iter(response.response)
        assert [next(chunks) for _ in range(3)] == [f"data: /{n}\n\n".encode() for n in range(3)]
        assert made == [0, 1, 2]
        response.close()
    assert made == [0, 1, 2]
    assert "request" in torn_down
    assert not kolben.globals.request_ctx and not kolben.globals.app_ctx


@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
@pytest.mark.parametrize("mode", ["get", "unbuffered", "with"])
def test_an_empty_first_chunk_returns_the_response_at_once(
    client_for: t.Callable[..., kolben.testing.KolbenClient], is_async: bool, mode: str
) -> None:
    # ``yield ""`` to send the headers early: the client returns once it is
    # made, and the body goes on as the test reads it. The ASGI door dropped
    # empty chunks, so its client waited for the next one: here, for ever (the
    # test gives it only after the client returned).
    app = kolben.Kolben(__name__)
    app.testing = True
    given = threading.Event()

    if is_async:

        @app.route("/")
        async def index() -> Response:
            async def gen() -> t.AsyncIterator[str]:
                yield ""
                await asyncio.to_thread(given.wait, 5)
                yield "given" if given.is_set() else "timed out"

            return Response(gen())

    else:

        @app.route("/")
        def index() -> Response:
            def gen() -> t.Iterator[str]:
                yield ""
                yield "given" if given.wait(5) else "timed out"

            return Response(gen())

    client = client_for(app)
    with client if mode == "with" else contextlib.nullcontext():
        response = client.get("/", buffered=False) if mode == "unbuffered" else client.get("/")
        given.set()
        assert response.get_data() == b"given"
    response.close()


@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_call_on_close_runs_when_the_test_closes_the_response(
    client_for: t.Callable[..., kolben.testing.KolbenClient], is_async: bool
) -> None:
    # As werkzeug's client with the WSGI door's body: reading a streamed body
    # to its end does not close it; the test's response.close() does (and a
    # buffered request, before it returns). The ASGI door closed it as the
    # body was read to its end.
    app = kolben.Kolben(__name__)
    app.testing = True
    log: list[str] = []

    @app.route("/buffered")
    def buffered() -> Response:
        response = Response("body")
        response.call_on_close(lambda: log.append("closed"))
        return response

    @app.route("/stream")
    def stream() -> Response:
        if is_async:

            async def agen() -> t.AsyncIterator[str]:
                yield "a"
                yield "b"

            response = Response(agen())
        else:
            response = Response(iter(["a", "b"]))
        response.call_on_close(lambda: log.append("closed"))
        return response

    client = client_for(app)
    for path in ["/buffered", "/stream"]:
        log.clear()
        response = client.get(path)
        assert response.get_data() == (b"body" if path == "/buffered" else b"ab")
        log.append("read")
        response.close()
        log.append("after close")
        assert log == ["read", "closed", "after close"], path
        log.clear()
        response = client.get(path, buffered=True)
        log.append("returned")
        assert log == ["closed", "returned"], path
        response.close()
    # A response read whole and dropped unclosed is not closed, as werkzeug's
    # client leaves a WSGI body (and the ASGI door's client needs none of the
    # app's worker threads to let it go, which a finalizer may find gone).
    log.clear()
    response = client.get("/stream")
    assert response.data == b"ab"
    del response
    gc.collect()
    assert log == []


@pytest.mark.parametrize("middleware", [False, True])
def test_a_custom_reason_phrase_shows_through_both_doors(
    client_for: t.Callable[..., kolben.testing.KolbenClient], middleware: bool
) -> None:
    # As Flask's client shows it. ASGI's http.response.start carries no reason
    # phrase: the door tells its own test client (only it, through an ASGI
    # extension) the response's status line; the ASGI client showed the
    # standard phrase ("404 NOT FOUND", "299 UNKNOWN").
    app = kolben.Kolben(__name__)
    app.testing = True

    @app.route("/tuple")
    def as_tuple() -> tuple[str, str]:
        return "x", "299 Custom Reason"

    @app.route("/response")
    def as_response() -> Response:
        return Response("x", status="404 Not Here")

    @app.route("/stream")
    def stream() -> Response:
        return Response(iter(["a", "b"]), status="200 Streaming")

    @app.route("/code")
    def code() -> tuple[str, int]:
        return "x", 299

    if middleware:
        wsgi_app = app.wsgi_app
        app.wsgi_app = lambda environ, start_response: wsgi_app(environ, start_response)  # type: ignore[method-assign]
    client = client_for(app)
    assert client.get("/tuple").status == "299 Custom Reason"
    assert client.get("/response").status == "404 Not Here"
    response = client.get("/stream")
    assert (response.status, response.data) == ("200 Streaming", b"ab")
    response.close()
    assert client.get("/code").status == "299 UNKNOWN"
    assert client.head("/response").status == "404 Not Here"


@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_call_on_close_runs_with_asgi_middleware_around_the_app(is_async: bool) -> None:
    # ASGI middleware on app.asgi_app (the documented way to add it) sees the
    # test client's scope: the body's closing is handed to the client through
    # the scope, not as a message of its own, which middleware drops
    # (Starlette's) or refuses (one checking the message types).
    app = kolben.Kolben(__name__)
    app.testing = True
    log: list[str] = []

    @app.route("/stream")
    def stream() -> Response:
        if is_async:

            async def agen() -> t.AsyncIterator[str]:
                yield "a"
                yield "b"

            response = Response(agen())
        else:
            response = Response(iter(["a", "b"]))
        response.call_on_close(lambda: log.append("closed"))
        return response

    inner = app.asgi_app

    async def strict(scope: t.Any, receive: t.Any, send: t.Any) -> None:
        async def checked_send(message: t.Any) -> None:
            assert message["type"] in ("http.response.start", "http.response.body")
            await send(message)

        await inner(scope, receive, checked_send)

    app.asgi_app = strict  # type: ignore[method-assign,assignment]
    response = app.asgi_test_client().get("/stream")
    assert response.get_data() == b"ab"
    assert log == []
    response.close()
    assert log == ["closed"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_an_endless_stream_is_read_lazily_from_inside_a_running_loop(
    client_for: t.Callable[..., kolben.testing.KolbenClient], kind: str
) -> None:
    # The blocking client used where an event loop runs (an ``async def`` test,
    # or an ``async def`` view calling the app): an endless stream (SSE) is read
    # chunk by chunk, as in a plain test, and closing it ends the app's body.
    app = kolben.Kolben(__name__)
    closed: list[str] = []

    if kind == "sync":

        @app.route("/events")
        def events() -> t.Any:
            def chunks() -> t.Iterator[str]:
                try:
                    n = 0
                    while True:
                        n += 1
                        yield f"data: {n}\n\n"
                finally:
                    closed.append("closed")

            return app.response_class(chunks(), mimetype="text/event-stream")

    else:

        @app.route("/events")
        async def events() -> t.Any:
            async def chunks() -> t.AsyncIterator[str]:
                try:
                    n = 0
                    while True:
                        n += 1
                        await asyncio.sleep(0)
                        yield f"data: {n}\n\n"
                finally:
                    closed.append("closed")

            return app.response_class(chunks(), mimetype="text/event-stream")

    # (An ``async def`` view under the WSGI door can't run inside a running loop,
    # as in Flask: the async body is the ASGI door's.)
    client = client_for(app) if kind == "sync" else app.asgi_test_client()

    async def main() -> list[bytes]:
        response = client.get("/events", buffered=False)
        body = iter(response.response)
        first = [next(body), next(body)]
        response.close()
        return first

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [b"data: 1\n\n", b"data: 2\n\n"]
    assert closed == ["closed"]


def test_a_request_made_from_an_async_view_sees_its_app_context(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    # As under Flask, where the test client calls the app in the view's own
    # thread and context: the inner request reuses the view's application
    # context (the same app), so it sees its ``g``.
    app = kolben.Kolben(__name__)
    client = client_for(app)

    @app.route("/outer")
    async def outer() -> str:
        kolben.g.x = "from outer"
        return client.get("/inner").get_data(as_text=True)

    @app.route("/inner")
    def inner() -> str:
        return kolben.g.get("x", "nothing")

    assert client.get("/outer").get_data(as_text=True) == "from outer"


def test_a_response_collected_in_its_own_worker_thread_does_not_hang_it() -> None:
    # Inside a running loop the request runs in a thread of its own, its body
    # made while the test goes on. A response dropped in a reference cycle is
    # freed by the garbage collector in whatever thread runs then: here the
    # request's own worker thread, making the next chunk, which the request's
    # end waits for. The client goes away without waiting there: the body is
    # closed, the worker thread given back, the request's thread ended.
    app = kolben.Kolben(__name__)
    closed: list[bool] = []

    @app.route("/events")
    def events() -> t.Any:
        def chunks() -> t.Iterator[bytes]:
            try:
                yield b"one"
                time.sleep(0.2)  # meanwhile the test drops the response
                gc.collect()  # collected here, in the request's worker thread
                yield b"two"
            finally:
                closed.append(True)

        return chunks()

    client = app.asgi_test_client()

    async def main() -> None:
        response = client.get("/events")
        response.cycle = response  # type: ignore[attr-defined]
        assert next(iter(response.response)) == b"one"
        del response
        await asyncio.sleep(0.5)

    asyncio.run(main())
    deadline = time.monotonic() + 5
    while (closed == [] or app.worker_threads.busy) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closed == [True]
    assert app.worker_threads.busy == 0
    left = [th for th in threading.enumerate() if th.name == "kolben-asgi-test-request"]
    for th in left:
        th.join(5)
    assert not any(th.is_alive() for th in left)

