"""``stream_with_context``: a streamed body that keeps the request context (as a
decorator or around an iterator), closes the generator, and needs a request
context to be made."""

from __future__ import annotations

import pytest

from kolben import g, request, stream_with_context


def test_stream_with_context_as_a_decorator(app, client):
    @app.route("/")
    def index():
        g.greeting = "Hello"

        @stream_with_context
        def generate(suffix):
            yield g.greeting
            yield " "
            yield request.args["name"]
            yield suffix

        return generate("!")

    rv = client.get("/?name=World")
    assert rv.data == b"Hello World!"


def test_stream_with_context_wraps_a_plain_iterator(app, client):
    torn_down = []
    app.teardown_request(torn_down.append)

    @app.route("/")
    def index():
        return stream_with_context(iter(["a", "b", request.path]))

    rv = client.get("/")
    assert rv.data == b"ab/"
    assert torn_down[-1:] == [None]


def test_stream_with_context_closes_the_generator(app, client):
    closed = []

    @app.route("/")
    def index():
        def generate():
            try:
                yield "first"
                yield "second"
            finally:
                closed.append(request.path)

        return stream_with_context(generate())

    rv = client.get("/")
    assert rv.data == b"firstsecond"
    assert closed == ["/"]


def test_stream_with_context_needs_a_request_context(app):
    def generate():
        yield "x"

    with pytest.raises(RuntimeError, match="request context"):
        stream_with_context(generate())

    decorated = stream_with_context(generate)
    with pytest.raises(RuntimeError, match="request context"):
        decorated()
    with app.app_context(), pytest.raises(RuntimeError, match="request context"):
        stream_with_context(generate())


def test_an_async_generator_streams_whole_through_the_wsgi_door(app):
    # Each step of an async body ran in a fresh copy of the thread's context:
    # the contexts stream_with_context pushed in the first were gone in the
    # second, and a WSGI server sent one chunk, then failed mid-body.
    import io

    from kolben.globals import _cv_app, _cv_request

    torn_down = []

    @app.teardown_request
    def teardown(exc):
        torn_down.append(exc)

    @app.route("/")
    async def view():
        async def gen():
            for i in range(3):
                yield f"{request.path} {i}\n"

        return stream_with_context(gen())

    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "x", "SERVER_PORT": "80",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(),
        "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "",
    }  # fmt: skip
    statuses = []
    body = app.wsgi_app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    try:
        chunks = list(body)
    finally:
        body.close()
    assert statuses == ["200 OK"]
    assert chunks == [b"/ 0\n", b"/ 1\n", b"/ 2\n"]
    assert torn_down and all(exc is None for exc in torn_down)
    assert _cv_request.get(None) is None and _cv_app.get(None) is None


@pytest.mark.parametrize("view_kind", ["async", "sync"])
def test_async_teardown_runs_at_the_end_of_an_async_body(app, client, view_kind):
    # Under the ASGI door the body's contexts were pushed and popped again with
    # the sync context managers on the event loop: an ``async def`` teardown
    # function could not run there, and the response was cut after its chunks.
    import asyncio

    seen = []

    @app.teardown_request
    async def teardown(exc):
        await asyncio.sleep(0)
        seen.append(("request", request.path, exc))

    @app.teardown_appcontext
    async def teardown_app(exc):
        await asyncio.sleep(0)
        seen.append(("app", exc))

    async def gen():
        for i in range(3):
            await asyncio.sleep(0)
            yield f"{request.path} {g.who} {i}\n"

    if view_kind == "async":

        @app.route("/s")
        async def view():
            g.who = "x"
            return stream_with_context(gen())

    else:

        @app.route("/s")
        def view():
            g.who = "x"
            return stream_with_context(gen())

    rv = client.get("/s")
    assert rv.status_code == 200
    assert rv.data == b"/s x 0\n/s x 1\n/s x 2\n"
    # Each ran at least at the body's end, with no error.
    assert seen[-2:] == [("request", "/s", None), ("app", None)]
    assert all(entry[-1] is None for entry in seen)


def test_sync_teardown_at_the_end_of_an_async_body_runs_off_the_loop(app, client, door):
    # Under the ASGI door the body's end runs sync teardown functions as the
    # pipeline does, in a worker thread, not on the server's event loop.
    import asyncio

    loops = []

    @app.teardown_request
    def teardown(exc):
        try:
            loops.append(asyncio.get_running_loop())
        except RuntimeError:
            loops.append(None)

    @app.route("/s")
    async def view():
        async def gen():
            yield "a"
            yield "b"

        return stream_with_context(gen())

    assert client.get("/s").data == b"ab"
    if door == "asgi":
        assert loops and loops[-1] is None
