"""``stream_with_context``: a streamed body that keeps the request context (as a
decorator or around an iterator), closes the generator, and needs a request
context to be made."""

from __future__ import annotations

import pytest

import kolben
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


def test_two_async_bodies_of_one_request_end_in_either_order(app, client):
    # Each body pops the tokens it pushed in its own context (it popped the
    # stack's top, the other body's, and the request failed with "Token was
    # created in a different Context").
    torn_down = []
    app.teardown_request(torn_down.append)

    @app.route("/s")
    async def view():
        async def a():
            yield "a1"
            yield "a2"

        async def b():
            yield "b1"
            yield "b2"
            yield "b3"

        sa, sb = stream_with_context(a()), stream_with_context(b())

        async def merged():
            # a1 b1 a2 b2, then a ends first, then b3 and b ends
            for stream in (sa, sb, sa, sb, sa, sb, sb):
                try:
                    chunk = await stream.__anext__()
                except StopAsyncIteration:
                    continue
                yield chunk

        return merged()

    rv = client.get("/s")
    assert rv.data == b"a1b1a2b2b3"
    assert torn_down == [None, None]


def test_an_async_body_under_a_kept_client_context(app, client):
    # The WSGI test client reads the first chunk before it pushes the kept
    # contexts again: the body's pop reset their tokens, and `with client:`
    # failed at its end ("created in a different Context").
    from kolben.globals import _cv_app, _cv_request

    @app.route("/s")
    async def view():
        g.x = "x"

        async def gen():
            yield request.path
            yield g.x

        return stream_with_context(gen())

    with client:
        assert client.get("/s").data == b"/sx"
        assert request.path == "/s" and g.x == "x"
    assert _cv_request.get(None) is None and _cv_app.get(None) is None


def test_a_client_leaving_as_the_body_ends_cuts_no_release(app):
    # The door cancels the body when the client leaves; the cancellation came
    # while the body's end awaited an async release, and the resources
    # released after it were never released.
    import asyncio

    events = []

    def resource(name):
        async def acquire():
            return name

        async def release(conn):
            events.append(f"release {name}")
            await asyncio.sleep(0.2)
            events.append(f"released {name}")

        return app.task_resource(name, acquire=acquire, release=release)

    db1, db2 = resource("db1"), resource("db2")

    @app.route("/s")
    async def view():
        async def gen():
            await db1.aget()
            await db2.aget()
            yield "a"

        return stream_with_context(gen())

    async def main():
        left = asyncio.Event()
        received = False

        async def receive():
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await left.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body" and message.get("body") == b"a":
                asyncio.get_running_loop().call_later(0.05, left.set)

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": "/s", "raw_path": b"/s",
            "query_string": b"", "root_path": "", "headers": [(b"host", b"x")],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        await app(scope, receive, send)

    asyncio.run(main())
    assert events == ["release db2", "released db2", "release db1", "released db1"]


def test_sync_teardown_at_the_end_of_an_async_body_runs_in_the_request_thread_under_wsgi(app):
    # Under the WSGI door the body's end ran sync teardown functions in a
    # worker thread of kolben's: what the request's thread kept in a
    # threading.local was gone there.
    import threading

    local = threading.local()
    seen = []

    @app.before_request
    def open_conn():
        local.conn = f"conn of {threading.current_thread().name}"

    @app.teardown_request
    def close_conn(exc):
        seen.append(getattr(local, "conn", None))

    @app.route("/s")
    async def view():
        async def gen():
            yield "a"

        return stream_with_context(gen())

    client = app.test_client()
    assert client.get("/s").data == b"a"
    assert len(seen) == 2 and seen[0] is not None and seen[1] == seen[0]


def test_an_async_body_dropped_after_a_step_is_ended_in_its_context(app, client, caplog):
    # A view steps a body, then answers something else: the body is collected
    # unclosed and the event loop's finalizer closes it in a task of its own;
    # its end failed there ("created in a different Context", logged as a task
    # exception) and left the contexts' token stacks wrong.
    import asyncio
    import gc

    torn_down = []
    app.teardown_request(torn_down.append)

    @app.route("/s")
    async def view():
        async def gen():
            yield "a"
            yield "b"

        body = stream_with_context(gen())
        first = await body.__anext__()
        del body
        gc.collect()
        await asyncio.sleep(0.05)  # the finalizer's task runs
        return "buffered " + first

    assert client.get("/s").data == b"buffered a"
    gc.collect()
    # The body ended (in its context) while the request's contexts were still
    # pushed: the request's own pop is the last one, and tears down once.
    assert torn_down == [None]
    assert "different Context" not in caplog.text
    assert "exception was never retrieved" not in caplog.text


def test_a_teardown_request_error_does_not_reach_teardown_appcontext(app, client):
    # A teardown_request function raising at the end of a sync streamed body:
    # the teardown_appcontext functions get the error that ended the request
    # (None here), not the teardown's own, as when any request ends (and as in
    # Flask, whose request context pops its app context with the request's
    # error). Found by the differential fuzzer.
    seen = []

    @app.teardown_request
    def teardown(exc):
        seen.append(("request", exc))
        raise RuntimeError("teardown failed")

    @app.teardown_appcontext
    def teardown_app(exc):
        seen.append(("app", exc))

    @app.route("/")
    def index():
        return stream_with_context(iter(["a", "b"]))

    with pytest.raises(RuntimeError, match="teardown failed"):
        rv = client.get("/")
        rv.get_data()
        rv.close()
    assert seen == [("request", None), ("app", None)]


@pytest.mark.parametrize(
    ("method", "status"), [("HEAD", 200), ("GET", 204), ("GET", 304)]
)
def test_a_stream_whose_body_is_not_sent_is_torn_down_as_the_request_ends(
    app, client, method, status
):
    # A HEAD request (or a 204 or 304 answer) sends no body: werkzeug leaves the
    # stream out, so it was closed only when the test closed the response (under
    # the ASGI door, at garbage collection, in another context: a LookupError,
    # and no teardown at all). As in Flask, teardown runs as the request ends.
    torn_down = []
    app.teardown_request(torn_down.append)
    app.teardown_appcontext(lambda exc: torn_down.append(("appcontext", exc)))
    started = []

    @app.route("/")
    def index():
        def generate():
            started.append(True)
            yield "never sent"

        return stream_with_context(generate()), status

    @app.route("/page")
    def page():
        return kolben.stream_template_string("{{ request.path }}")

    rv = client.open("/", method=method)
    assert rv.status_code == status
    assert torn_down == [None, ("appcontext", None)]
    assert rv.data == b""
    rv.close()
    assert torn_down == [None, ("appcontext", None)]
    assert started == []



def test_a_streamed_template_answering_head_is_torn_down_as_the_request_ends(app, client):
    torn_down = []
    app.teardown_request(torn_down.append)

    @app.route("/page")
    def page():
        return kolben.stream_template_string("{{ request.path }}")

    rv = client.head("/page")
    assert (rv.status_code, torn_down) == (200, [None])
    rv.close()
    assert torn_down == [None]
    assert client.get("/page").data == b"/page"
