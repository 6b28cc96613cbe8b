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
