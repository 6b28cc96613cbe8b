"""The test clients read a streamed body as it is sent, on both doors.

``client.get()`` returns once the response has started; a streamed body is read
chunk by chunk (an endless Server-Sent Events stream included), and closing the
response is the client going away: the generator is closed. Found by running
flask-sse's pattern through the ASGI test client, which used to serve the whole
response before returning (an endless stream never returned).
"""

from __future__ import annotations

import asyncio
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
