"""Requests the ASGI door makes from the scope (:mod:`kolben.asgi_environ`): their
state is what the environ-built request has, their ``environ`` and ``headers``
are made when first read and equal what :func:`build_environ` gives, and the
pipeline reads the Host and Cookie headers without making them."""

from __future__ import annotations

import io
import typing as t
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import EnvironHeaders
from werkzeug.middleware.proxy_fix import ProxyFix

import kolben
from helpers import RUNNING_ON_FLASK
from kolben import request, session, url_for
from kolben.asgi_environ import (
    KNOWN_HEADERS,
    build_environ,
    scan_headers,
    scope_request,
    scope_requests_allowed,
)
from kolben.wrappers import make_request
from test_asgi import Connection, body_messages, call, http_scope

pytestmark = pytest.mark.skipif(RUNNING_ON_FLASK, reason="kolben's ASGI door")


def state(req: t.Any) -> dict[str, t.Any]:
    private = ("environ", "headers", "_known_environ", "_scope")
    return {k: v for k, v in vars(req).items() if k not in private}


def assert_same_as_environ_built(scope: dict[str, t.Any]) -> None:
    known = scan_headers(scope)
    lazy = scope_request(kolben.Request, scope, known)
    assert "environ" not in vars(lazy)
    body = lazy.environ["wsgi.input"]
    assert type(body) is io.BytesIO and body.read() == b""  # no body: an empty stream
    eager = make_request(kolben.Request, build_environ(scope, body))
    assert known == {k: v for k, v in eager.environ.items() if k in KNOWN_HEADERS}
    assert state(lazy) == state(eager)
    # Made on first read, then kept; equal to the eager one.
    environ = lazy.environ
    assert lazy.environ is environ and lazy._known_environ is environ
    assert environ == {**eager.environ, "werkzeug.request": lazy}
    assert environ["wsgi.input"] is body
    assert type(lazy.headers) is EnvironHeaders and lazy.headers.environ is environ
    assert list(lazy.headers) == list(eager.headers)
    for name in ("url", "host", "host_url", "script_root", "full_path", "cookies", "access_route"):
        assert derived(lazy, name) == derived(eager, name), name


def derived(req: t.Any, name: str) -> t.Any:
    """An attribute, or the type of the error computing it raises (odd bytes
    in a query string fail werkzeug's decoding, for both requests)."""
    try:
        return getattr(req, name)
    except Exception as e:
        return type(e)


header_names = st.sampled_from(
    [b"host", b"cookie", b"content-length", b"transfer-encoding", b"accept", b"x_forwarded_for",
     b"x-forwarded-for", b"content-type"]
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    path=st.text(max_size=12),
    root=st.sampled_from(["", "/m", "/m/", "/m\u00e9"]),
    include_root=st.booleans(),
    raw=st.sampled_from(["quoted", "none", "with-query"]),
    query=st.binary(max_size=8),
    method=st.sampled_from(["GET", "post", "HEAD"]),
    server=st.sampled_from([("h", 80), ("h", None), ("/run/app.sock", None), None, ["h", 8000]]),
    client=st.sampled_from([("10.0.0.1", 5), None]),
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
)
def test_scope_request_is_the_environ_built_request(
    path, root, include_root, raw, query, method, server, client, headers
):
    full = (root + "/" + path) if include_root else "/" + path
    scope: dict[str, t.Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "path": full,
        "root_path": root,
        "query_string": query,
        "headers": [(n, v.encode("latin-1")) for n, v in headers],
        "client": client,
    }
    if server is not None:
        scope["server"] = server
    if raw != "none":
        raw_path = quote(full, safe="/%").encode("ascii")
        scope["raw_path"] = raw_path + b"?a=1" if raw == "with-query" else raw_path
    assert_same_as_environ_built(scope)


@pytest.mark.parametrize(
    ("path", "raw_path"),
    [
        ("/a/b", b"/a%2Fb"),  # an encoded slash
        ("/y", b"/x"),  # "path" rewritten by middleware, raw_path left
        ("", None),
        ("", b""),
        ("//a//b", b"//a//b"),
        ("a", b"a"),  # no leading slash
        ("/a b", b"/a%20b?q=1"),
        ("/%41", b"/%2541"),
        ("/", b"/%FF"),  # raw bytes that are not "path"
    ],
)
def test_an_ascii_path_without_root_path_is_the_environ_built_request(path, raw_path):
    # The ASGI door takes an ASCII "path" as it is when there is no root path
    # (PERF): the same request as the environ-built one, whatever raw_path says.
    scope: dict[str, t.Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"h")],
    }
    if raw_path is not None:
        scope["raw_path"] = raw_path
    assert_same_as_environ_built(scope)


def test_a_request_that_reads_no_environ_never_makes_it(app):
    seen = {}

    @app.route("/")
    def index():
        seen["made"] = "environ" in vars(request._get_current_object())
        seen["host"] = request.host  # made now
        seen["made after"] = "environ" in vars(request._get_current_object())
        return "ok"

    scope = http_scope("/", headers=[("Host", "example.org")])
    call(app.asgi_app, scope)  # the first request of an origin binds the URL adapter
    conn = call(app.asgi_app, http_scope("/", headers=[("Host", "example.org")]))
    assert conn.status == 200
    assert seen == {"made": False, "host": "example.org", "made after": True}


def test_url_for_and_sessions_make_no_environ(app):
    @app.route("/")
    def index():
        session["seen"] = True
        links = [url_for("index"), url_for("index", _external=True, q="1")]
        return {"links": links, "made": "environ" in vars(request._get_current_object())}

    call(app.asgi_app, http_scope("/", headers=[("Host", "example.org")]))  # binds the adapter
    conn = call(app.asgi_app, http_scope("/", headers=[("Host", "example.org")]))
    assert conn.json == {"links": ["/", "http://example.org/?q=1"], "made": False}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_environ_made_late_is_the_whole_environ(app, method):
    seen = {}

    @app.route("/")
    def index():
        seen["made before"] = "environ" in vars(request._get_current_object())
        environ = request.environ
        seen.update(
            scope=environ["asgi.scope"]["path"],
            input=environ["wsgi.input"].read(),
            me=environ["werkzeug.request"] is request._get_current_object(),
            ua=request.headers["User-Agent"],
            remote=environ["REMOTE_ADDR"],
            method=environ["REQUEST_METHOD"],
            query=environ["QUERY_STRING"],
        )
        return "ok"

    scope = http_scope("/", method=method, query=b"a=1", headers=[("User-Agent", "t/1")])
    call(app.asgi_app, scope)  # binds the URL adapter of the origin
    assert call(app.asgi_app, scope).status == 200
    assert seen == {
        "made before": False,
        "scope": "/",
        "input": b"",
        "me": True,
        "ua": "t/1",
        "remote": "127.0.0.1",
        "method": method,
        "query": "a=1",
    }


def test_a_request_with_a_body_has_its_environ_from_the_start(app):
    # What reads a body reads the environ (werkzeug's stream), so the door makes
    # it up front for a request that may have one.
    @app.post("/")
    def index():
        return {
            "made": "environ" in vars(request._get_current_object()),
            "input": request.environ["wsgi.input"].read().decode(),
            "length": request.headers["Content-Length"],
        }

    scope = http_scope("/", method="POST", headers=[("Content-Length", "3")])
    conn = call(app.asgi_app, scope, Connection(body_messages(b"abc")))
    assert conn.json == {"made": True, "input": "abc", "length": "3"}


def test_session_cookie_read_without_the_environ(app):
    @app.route("/set")
    def set_():
        session["n"] = 1
        return "set"

    @app.route("/get")
    def get():
        n = session.get("n")
        return {"n": n, "made": "environ" in vars(request._get_current_object())}

    call(app.asgi_app, http_scope("/get"))  # binds the URL adapter
    conn = call(app.asgi_app, http_scope("/set"))
    cookie = conn.header("Set-Cookie").split(";")[0]
    # Sent as two Cookie headers, joined as the environ joins them.
    conn = call(app.asgi_app, http_scope("/get", headers=[("Cookie", "a=b"), ("Cookie", cookie)]))
    assert conn.json == {"n": 1, "made": False}


def test_adapter_cache_keeps_hosts_apart(app):
    @app.route("/")
    def index():
        return url_for("index", _external=True)

    for host in ("a.example", "b.example", "a.example"):
        assert call(app.asgi_app, http_scope("/", headers=[("Host", host)])).text == (
            f"http://{host}/"
        )
    # The same host through the WSGI door shares nothing wrong with it.
    assert app.test_client().get("/", headers={"Host": "b.example"}).text == "http://b.example/"


def test_a_request_class_with_its_own_environ_is_built_from_the_environ(app):
    class Traced(kolben.Request):
        def __init__(self, environ: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
            environ["traced"] = True
            super().__init__(environ, *args, **kwargs)

    app.request_class = Traced

    @app.route("/")
    def index():
        return str(request.environ.get("traced"))

    assert scope_requests_allowed(Traced) is False
    assert scope_requests_allowed(kolben.Request) is True
    assert call(app.asgi_app, http_scope("/")).text == "True"


def test_wsgi_middleware_gets_a_whole_environ(app):
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)  # type: ignore[method-assign]

    @app.route("/")
    def index():
        return request.remote_addr or ""

    conn = call(app.asgi_app, http_scope("/", headers=[("X-Forwarded-For", "203.0.113.9")]))
    assert conn.text == "203.0.113.9"


def test_environ_overrides_of_the_test_client_reach_the_request(app, client):
    @app.route("/")
    def index():
        return {"user": request.environ.get("REMOTE_USER"), "remote": request.remote_addr}

    rv = client.get("/", environ_base={"REMOTE_USER": "ann", "REMOTE_ADDR": "10.1.1.1"})
    assert rv.json == {"user": "ann", "remote": "10.1.1.1"}


def test_a_method_changed_in_the_environ_is_the_one_the_response_follows(app):
    # Code that rewrites REQUEST_METHOD (a method-override hook) changes how the
    # response is sent, as werkzeug's get_wsgi_response(environ) would.
    @app.before_request
    def as_head():
        request.environ["REQUEST_METHOD"] = "HEAD"

    @app.route("/")
    def index():
        return "body"

    conn = call(app.asgi_app, http_scope("/"))
    assert conn.status == 200 and conn.body == b""


def test_environ_made_after_the_request_ends_is_unlinked_as_under_wsgi(app, client):
    kept = []

    @app.route("/")
    def index():
        kept.append(request._get_current_object())
        return "ok"

    client.get("/")
    client.get("/")  # the second request of the origin reads no environ
    # After the context is popped, werkzeug.request is None on both doors.
    assert kept[-1].environ["werkzeug.request"] is None


def test_requests_made_by_werkzeugs_constructor_read_their_environ(app):
    # Request.from_values (Flask's tests use it) and a request handed to a
    # request context were made without kolben's constructors.
    req = kolben.Request.from_values(headers={"Cookie": "a=b"})
    assert req.cookies["a"] == "b"
    assert req._known_environ is req.environ

    from kolben.ctx import RequestContext

    environ = kolben.Request.from_values("/", headers={"Cookie": "c=d"}).environ
    with RequestContext(app, environ, kolben.Request(environ)) as ctx:
        assert request.cookies["c"] == "d"
        assert ctx.request._known_environ is environ
    assert environ["werkzeug.request"] is None  # unlinked on pop


def test_the_pipeline_reads_an_environ_code_put_in_place(app, client):
    @app.before_request
    def swap():
        environ = dict(request.environ, HTTP_COOKIE="x=1")
        request.environ = environ

    @app.route("/")
    def index():
        return request.cookies.get("x", "none")

    assert client.get("/").text == "1"
    assert client.get("/").text == "1"  # the second request of the origin


@pytest.mark.parametrize(
    ("root", "path", "script_name", "path_info"),
    [
        ("/app", "/app/x", "/app", "/x"),
        ("/app", "/app", "/app", ""),
        ("/app", "/app/", "/app", "/"),
        # Not below the root: a segment that only begins with it is kept whole
        # (it was cut to "lication").
        ("/app", "/application", "/app", "/application"),
        ("/app", "/other", "/app", "/other"),
    ],
)
def test_the_root_path_is_taken_off_at_a_segment_boundary(root, path, script_name, path_info):
    from kolben.asgi_environ import build_environ

    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "path": path,
        "raw_path": path.encode(), "root_path": root, "query_string": b"", "headers": [],
    }  # fmt: skip
    environ = build_environ(scope, io.BytesIO())
    assert (environ["SCRIPT_NAME"], environ["PATH_INFO"]) == (script_name, path_info)


def test_a_header_sent_many_times_is_joined_once() -> None:
    # A server may pass a header block of any size (uvicorn with httptools has
    # no limit): joining each value of a repeated header onto the ones before
    # copied the whole value so far every time, seconds of the event loop for
    # a few hundred kilobytes of "X-A: ..." or "Cookie: ..." lines. The values
    # are joined once (the cost is in benchmarks' reach, not asserted here).
    count, value = 40_000, "v" * 30
    for name, key, separator in (
        ("x-a", "HTTP_X_A", ","),
        ("cookie", "HTTP_COOKIE", "; "),
    ):
        scope = http_scope("/", method="POST", headers=[(name, value)] * count)
        environ = build_environ(scope, io.BytesIO())
        known = scan_headers(scope)
        expected = separator.join([value] * count)
        assert environ[key] == expected
        if key in KNOWN_HEADERS:
            assert known[key] == expected
    # Interleaved repeats of several names keep each name's order.
    pairs = [("x-a", "1"), ("x-b", "2"), ("x-a", "3"), ("x-b", "4"), ("x-a", "5")]
    scope = http_scope("/", method="POST", headers=pairs)
    environ = build_environ(scope, io.BytesIO())
    assert (environ["HTTP_X_A"], environ["HTTP_X_B"]) == ("1,3,5", "2,4")
