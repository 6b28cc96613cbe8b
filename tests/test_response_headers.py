"""kolben.headers.Headers: the headers of the responses kolben makes behave as
werkzeug's Headers, setting a header included (a faster path for str values)."""

from __future__ import annotations

import copy
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import Headers as WerkzeugHeaders

from kolben import Kolben, jsonify, make_response
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
