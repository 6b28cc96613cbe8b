"""kolben.headers.Headers: the headers of the responses kolben makes behave as
werkzeug's Headers, setting a header included (a faster path for str values)."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers as WerkzeugHeaders

from kolben import Kolben, jsonify, make_response, redirect, request, stream_with_context
from kolben.headers import Headers

NAMES = ["X-A", "x-a", "X-a", "Content-Type", "content-type", "Vary", "X-B"]
VALUES = st.one_of(
    st.sampled_from(["1", "", "a b", "text/html; charset=utf-8", "x\ny", "x\ry", "é"]),
    st.integers(-3, 3),
    st.just(b"raw"),
)
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["setitem", "set", "set_kw", "add", "delitem", "setindex"]),
        st.sampled_from(NAMES),
        VALUES,
    ),
    max_size=12,
)


def apply(headers: WerkzeugHeaders, operation: tuple[str, str, object]) -> object:
    """Apply one operation; return its error's type and message, or None."""
    kind, name, value = operation
    try:
        if kind == "setitem":
            headers[name] = value
        elif kind == "set":
            headers.set(name, value)
        elif kind == "set_kw":
            headers.set(name, value, charset="utf-8")
        elif kind == "add":
            headers.add(name, value)
        elif kind == "delitem":
            del headers[name]
        else:
            headers[0] = (name, value)
    except Exception as e:  # the same error is expected from both
        return type(e), str(e)
    return None


@settings(max_examples=400, deadline=None)
@given(
    start=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["1", "2"])), max_size=4),
    operations=OPERATIONS,
)
def test_same_changes_and_errors_as_werkzeug(start, operations):
    ours, theirs = Headers(start), WerkzeugHeaders(start)
    for operation in operations:
        assert apply(ours, operation) == apply(theirs, operation)
        assert list(ours.items()) == list(theirs.items())


def test_a_str_header_is_set_as_werkzeug_sets_it():
    headers = Headers([("X-A", "1"), ("Vary", "Cookie"), ("x-a", "2"), ("X-A", "3")])
    headers["x-A"] = "new"
    assert headers.to_wsgi_list() == [("x-A", "new"), ("Vary", "Cookie")]
    headers.set("X-B", "b")
    assert headers.to_wsgi_list() == [("x-A", "new"), ("Vary", "Cookie"), ("X-B", "b")]
    with pytest.raises(ValueError, match="newline"):
        headers["X-C"] = "evil\r\nSet-Cookie: a=b"
    assert "X-C" not in headers


def test_equal_to_werkzeug_headers_either_way_round_and_same_repr():
    ours = Headers([("Content-Type", "text/plain"), ("X-A", "1")])
    theirs = WerkzeugHeaders([("content-type", "text/plain"), ("X-A", "1")])
    assert ours == theirs
    assert theirs == ours
    assert (ours != theirs) is False  # werkzeug's __ne__ follows __eq__
    assert ours != WerkzeugHeaders([("X-A", "2")])
    assert ours != {"X-A": "1"}
    assert repr(ours) == repr(WerkzeugHeaders(ours.to_wsgi_list()))
    with pytest.raises(TypeError):
        hash(ours)


def test_copies_and_pickles_keep_the_headers():
    ours = Headers([("X-A", "1")])
    copies = (ours.copy(), copy.copy(ours), copy.deepcopy(ours), pickle.loads(pickle.dumps(ours)))
    for other in copies:
        assert other == ours
        assert other is not ours
        other["X-A"] = "2"
        assert ours["X-A"] == "1"


def test_responses_kolben_makes_carry_them(client_for):
    app = Kolben(__name__)

    @app.after_request
    def add_header(response):
        response.headers["X-Hook"] = "yes"
        response.headers["content-type"] = response.headers["Content-Type"]
        return response

    @app.route("/text")
    def text():
        return "hello"

    @app.route("/json")
    def json_view():
        return jsonify(a=1)

    with app.test_request_context():
        assert isinstance(make_response("x").headers, Headers)

    client = client_for(app)
    for path, mimetype in (("/text", "text/html"), ("/json", "application/json")):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["X-Hook"] == "yes"
        assert response.mimetype == mimetype
        assert [k for k, _ in response.headers if k.lower() == "content-type"] == ["content-type"]


# -- what the ASGI door refuses to send ------------------------------------------------


def _header_app(value: str, name: str = "X-A") -> tuple[Kolben, list[str]]:
    """An app whose responses (buffered, streamed, redirected, async, from WSGI
    middleware) carry the header ``name: value``; the list gets what ran."""
    app = Kolben(__name__)
    ran: list[str] = []

    @app.teardown_request
    def teardown(error):
        ran.append("teardown")

    @app.get("/buffered")
    def buffered():
        return "x", {name: value}

    @app.get("/streamed")
    def streamed():
        @stream_with_context
        def body():
            yield request.path

        return body(), {name: value}

    @app.get("/redirected")
    def redirected():
        return redirect("/elsewhere"), {name: value}

    @app.get("/async")
    async def async_view():
        return "x", {name: value}

    return app, ran


_PATHS = ["/buffered", "/streamed", "/redirected", "/async"]


@pytest.mark.parametrize("path", _PATHS)
@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x0c", "\x1b", "\x7f"])
def test_a_control_character_in_a_header_value_is_refused_by_the_asgi_door(path, char):
    # uvicorn drops the connection on such a header, after its status was
    # counted as sent (no 500 reaches the client); gunicorn answers 500. The
    # door refuses it before the response starts: the server answers 500.
    app, ran = _header_app(f"a{char}b")
    client = app.asgi_test_client()
    with pytest.raises(ValueError, match="'X-A' contains the control character"):
        client.get(path)
    # The request's context was popped (a stream_with_context body that was
    # never sent was closed, in its request's context, not left to the GC).
    assert ran == ["teardown"]


@pytest.mark.parametrize("path", _PATHS)
@pytest.mark.parametrize("name", ["X A", "X:A", "X\x00A", "", "X\u00e9"])
def test_an_invalid_header_name_is_refused_by_the_asgi_door(path, name):
    app, _ = _header_app("1", name)
    with pytest.raises(ValueError, match="Invalid response header name"):
        app.asgi_test_client().get(path)


@pytest.mark.parametrize("path", _PATHS)
@pytest.mark.parametrize("value", ["a\tb", "caf\u00e9", "a\u00a0b", "", " a "])
def test_tabs_and_latin_1_header_values_are_sent(client_for, path, value):
    app, _ = _header_app(value)
    assert client_for(app).get(path).headers["X-A"] == value


def test_middleware_response_with_a_refused_header_closes_its_body():
    app, _ = _header_app("1")
    closed = []

    def middleware(environ, start_response):
        start_response("200 OK", [("X-B", "a\x00b")])

        class Body(list):
            def close(self):
                closed.append(True)

        return Body([b"x"])

    app.wsgi_app = middleware
    with pytest.raises(ValueError, match="'X-B' contains the control character"):
        app.asgi_test_client().get("/buffered")
    assert closed == [True]
