"""The request fast constructor (:func:`kolben._werkzeug_fast.make_request`, also
``kolben.wrappers.make_request``) builds what werkzeug's constructor builds, and
steps aside for classes that customise it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import create_environ

import kolben
from helpers import RUNNING_ON_FLASK
from kolben import request
from kolben._werkzeug_fast import (
    EMPTY_PATH_INFO,
    HEADERS_ON_READ,
    _fast_request_classes,
    make_request,
)

pytestmark = pytest.mark.skipif(RUNNING_ON_FLASK, reason="kolben's own fast path")


def state(req):
    """The request's attributes, with the environ compared separately (and
    kolben's own ``_known_environ``, which is the environ, and its mark of an
    empty ``PATH_INFO``, checked in ``assert_same``)."""
    skipped = ("environ", "headers", "_known_environ", EMPTY_PATH_INFO)
    return {k: v for k, v in vars(req).items() if k not in skipped}


def assert_same(fast, slow):
    assert type(fast) is type(slow)
    assert state(fast) == state(slow)
    assert type(fast.headers) is type(slow.headers)
    assert list(fast.headers) == list(slow.headers)
    assert fast.environ["werkzeug.request"] is fast
    assert fast._known_environ is fast.environ
    # Marked only when PATH_INFO is there and empty (matched as werkzeug matches
    # ""); a missing one is bound as "/", as werkzeug binds it.
    assert (EMPTY_PATH_INFO in vars(fast)) == (fast.environ.get("PATH_INFO") == "")
    for name in ("path", "root_path", "url", "host", "server"):
        assert derived(fast, name) == derived(slow, name), name


def derived(req, name):
    """An attribute of the request, or the type of the error computing it raises
    (a made-up environ can make the URL invalid, for both constructors)."""
    try:
        return getattr(req, name)
    except Exception as e:
        return type(e)


ENVIRONS = [
    create_environ("/a/b?x=1"),
    create_environ("/p%C3%A9%FF/q", "http://example.com:8080/m%C3%A9/"),
    {"PATH_INFO": "", "SERVER_NAME": "/run/app.sock"},
    {"PATH_INFO": "//double//slash", "SCRIPT_NAME": "/mount//", "REQUEST_METHOD": "post"},
    {"SERVER_NAME": "h", "SERVER_PORT": "not-a-port", "QUERY_STRING": "\xe9=1"},
    {},
]


@pytest.mark.parametrize("environ", ENVIRONS, ids=range(len(ENVIRONS)))
def test_fast_constructor_builds_what_the_constructor_builds(environ):
    fast = make_request(kolben.Request, dict(environ))
    slow = kolben.Request(dict(environ))
    # kolben's Request: built fast, its headers made when first read.
    assert _fast_request_classes.lookup(kolben.Request) == HEADERS_ON_READ
    assert "headers" not in vars(fast)
    assert_same(fast, slow)


@given(
    path=st.text(max_size=20),
    script=st.text(max_size=8),
    query=st.text(alphabet=st.characters(max_codepoint=255), max_size=10),
    port=st.sampled_from([None, "", "80", "8000", "x"]),
)
def test_fast_constructor_matches_for_any_latin1_environ(path, script, query, port):
    # PEP 3333: environ strings are latin-1 decoded bytes.
    environ = {
        "PATH_INFO": path.encode("utf-8", "surrogatepass").decode("latin-1"),
        "SCRIPT_NAME": script.encode("utf-8", "surrogatepass").decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "localhost",
    }
    if port is not None:
        environ["SERVER_PORT"] = port
    assert_same(make_request(kolben.Request, dict(environ)), kolben.Request(dict(environ)))


def test_subclass_with_its_own_init_is_constructed_normally():
    class TracingRequest(kolben.Request):
        def __init__(self, environ, *args, **kwargs):
            super().__init__(environ, *args, **kwargs)
            self.traced = True

    req = make_request(TracingRequest, create_environ("/x"))
    assert req.traced is True
    assert _fast_request_classes.lookup(TracingRequest) == 0


def test_attribute_setters_of_a_subclass_still_run():
    seen = []

    class UpperPath(kolben.Request):
        @property
        def path(self):
            return self._path

        @path.setter
        def path(self, value):
            seen.append(value)
            self._path = value.upper()

    req = make_request(UpperPath, create_environ("/abc"))
    assert req.path == "/ABC"
    assert "/abc" in seen


def test_request_paths_through_both_doors(app, client):
    @app.route("/p/<path:rest>")
    def show(rest):
        return {"rest": rest, "path": request.path, "root": request.root_path}

    rv = client.get("/p/%C3%A9t%C3%A9/x")
    assert rv.json == {"rest": "été/x", "path": "/p/été/x", "root": ""}


def test_class_whose_new_needs_the_environ_is_constructed_normally():
    class Pooled(kolben.Request):
        def __new__(cls, environ, *args, **kwargs):
            rv = super().__new__(cls)
            rv.pooled = environ.get("PATH_INFO")
            return rv

    req = make_request(Pooled, create_environ("/x"))
    assert req.pooled == "/x"
    assert req.path == "/x"
    assert _fast_request_classes.lookup(Pooled) == 0


def test_headers_are_made_when_first_read(app: kolben.Kolben) -> None:
    # PERF: a request built from an environ makes its headers view on first
    # read; the view is the same as the constructor's, and kept.
    environ = create_environ("/", headers={"X-Token": "abc", "Accept": "text/html"})
    fast = make_request(kolben.Request, dict(environ))
    assert "headers" not in vars(fast)
    headers = fast.headers
    assert headers is fast.headers
    assert list(headers) == list(kolben.Request(dict(environ)).headers)
    assert fast.headers["X-Token"] == "abc"
    # Assigned, as werkzeug allows: the instance's own.
    fast.headers = replaced = type(headers)({"HTTP_X": "1"})  # type: ignore[misc]
    assert fast.headers is replaced


def test_a_werkzeug_request_class_gets_its_headers_from_the_constructor_steps() -> None:
    from werkzeug.wrappers import Request as WerkzeugRequest

    class Plain(WerkzeugRequest):
        pass

    req = make_request(Plain, dict(create_environ("/", headers={"X-A": "1"})))
    assert "headers" in vars(req)
    assert req.headers["X-A"] == "1"


def test_headers_read_in_a_view_and_after_the_request(app: kolben.Kolben, client) -> None:
    seen = []

    @app.route("/")
    def index() -> str:
        seen.append(request._get_current_object())
        return request.headers.get("X-Token", "none")

    assert client.get("/", headers={"X-Token": "abc"}).text == "abc"
    assert client.get("/").text == "none"
    assert seen[0].headers["X-Token"] == "abc"  # after the context was popped
