"""The ASGI door driven by hand: a scope, a ``receive`` and a ``send`` written here,
run in ``asyncio.run`` the way an ASGI server would run them.

Every wait is bounded (``asyncio.wait_for``, ``Event.wait(timeout)``); nothing here
asserts on elapsed time.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import io
import json
import logging
import sys
import threading
import time
import typing as t
from urllib.parse import quote

import pytest
from werkzeug.middleware.proxy_fix import ProxyFix

import kolben
from kolben import current_app, g, request, stream_with_context, url_for
from kolben.asgi_testing import KolbenASGIClient

Message = dict[str, t.Any]

#: How long any single ASGI call may take before the test fails.
CALL_TIMEOUT = 5.0


# -- a hand-written server side ------------------------------------------------------


def http_scope(
    path: str = "/",
    *,
    method: str = "GET",
    query: bytes = b"",
    headers: t.Sequence[tuple[str, str]] = (),
    root_path: str = "",
    path_includes_root: bool = True,
    scheme: str = "http",
    server: tuple[str, int | None] | None = ("testserver", 80),
    client: tuple[str, int] | None = ("127.0.0.1", 54321),
    raw_path: bytes | None = None,
    with_raw_path: bool = True,
) -> Message:
    """An HTTP scope as uvicorn builds it (``path`` includes ``root_path``)."""
    full_path = root_path + path if path_includes_root else path
    scope: Message = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": full_path,
        "query_string": query,
        "root_path": root_path,
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "server": server,
        "client": client,
    }
    if with_raw_path:
        scope["raw_path"] = raw_path if raw_path is not None else quote(full_path).encode("ascii")
    return scope


def body_messages(*chunks: bytes) -> list[Message]:
    """``http.request`` messages carrying ``chunks``, the last one without ``more_body``."""
    if not chunks:
        chunks = (b"",)
    return [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]


class Connection:
    """One client connection as the app sees it through ``receive`` and ``send``.

    ``receive`` hands out ``incoming`` in order; once it is empty it either returns
    ``http.disconnect`` (``then_disconnect``) or blocks until cancelled, as a server
    does while the client stays connected.
    """

    def __init__(
        self, incoming: list[Message] | None = None, *, then_disconnect: bool = False
    ) -> None:
        self.incoming = list(incoming) if incoming is not None else body_messages()
        self.then_disconnect = then_disconnect
        self.receive_calls = 0
        self.sent: list[Message] = []
        self.other_tasks: set[asyncio.Task[t.Any]] = set()

    async def receive(self) -> Message:
        self.receive_calls += 1
        if self.incoming:
            return self.incoming.pop(0)
        if self.then_disconnect:
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # until the app cancels this receive
        raise AssertionError("unreachable")

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    # What was sent -----------------------------------------------------------------

    @property
    def start(self) -> Message:
        assert self.sent, "nothing was sent"
        assert self.sent[0]["type"] == "http.response.start", self.sent
        return self.sent[0]

    @property
    def status(self) -> int:
        return int(self.start["status"])

    @property
    def header_list(self) -> list[tuple[str, str]]:
        return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.start["headers"]]

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.header_list if k.lower() == name.lower()]
        assert len(values) <= 1, values
        return values[0] if values else None

    @property
    def body_parts(self) -> list[Message]:
        return [m for m in self.sent if m["type"] == "http.response.body"]

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.body_parts)

    @property
    def text(self) -> str:
        return self.body.decode()

    @property
    def json(self) -> t.Any:
        return json.loads(self.body)


async def acall(app: t.Any, scope: Message, conn: Connection) -> Connection:
    """Run one ASGI call on the running loop; record the tasks left behind."""
    await asyncio.wait_for(app(scope, conn.receive, conn.send), CALL_TIMEOUT)
    conn.other_tasks = asyncio.all_tasks() - {asyncio.current_task()}  # type: ignore[operator]
    return conn


def call(app: t.Any, scope: Message, conn: Connection | None = None) -> Connection:
    """Serve one request in a fresh event loop, as a server would."""
    conn = conn if conn is not None else Connection()
    asyncio.run(acall(app, scope, conn))
    return conn


def problems(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    gc.collect()  # "Task exception was never retrieved" and the like are logged on GC
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture
def quiet_app(app: kolben.Kolben) -> kolben.Kolben:
    """An app that turns errors into responses instead of propagating them."""
    app.config["TESTING"] = False
    return app


# -- calling convention --------------------------------------------------------------


def test_asgi3_call(app):
    @app.route("/")
    def index():
        return "hello"

    conn = call(app, http_scope("/"))
    assert conn.status == 200
    assert conn.body == b"hello"
    assert conn.header("content-type") == "text/html; charset=utf-8"
    assert conn.header("content-length") == "5"
    # ASGI wants lowercase byte-string names and byte-string values.
    for name, value in conn.start["headers"]:
        assert isinstance(name, bytes) and name == name.lower()
        assert isinstance(value, bytes)
    assert conn.other_tasks == set()


def test_asgi2_instance(app):
    @app.route("/")
    def index():
        return "two"

    conn = Connection()

    async def main():
        instance = app(http_scope("/"))
        await asyncio.wait_for(instance(conn.receive, conn.send), CALL_TIMEOUT)

    asyncio.run(main())
    assert conn.status == 200
    assert conn.body == b"two"


def test_asgi3_call_with_named_arguments(app):
    # daphne calls the application as application(scope=..., receive=...,
    # send=...): kolben's __call__ takes the ASGI (and WSGI) arguments by name too.
    @app.route("/")
    def index():
        return "named"

    conn = Connection()

    async def main():
        await asyncio.wait_for(
            app(scope=http_scope("/"), receive=conn.receive, send=conn.send), CALL_TIMEOUT
        )

    asyncio.run(main())
    assert conn.status == 200
    assert conn.body == b"named"

    conn = Connection()

    async def main_mixed():
        await asyncio.wait_for(app(http_scope("/"), receive=conn.receive, send=conn.send), 5)

    asyncio.run(main_mixed())
    assert conn.body == b"named"

    statuses = []
    environ = app.test_request_context("/").request.environ
    body = app(environ=environ, start_response=lambda status, headers: statuses.append(status))
    assert b"".join(body) == b"named"
    assert statuses == ["200 OK"]
    with pytest.raises(TypeError):
        app(scope=http_scope("/"), receive=conn.receive)


def test_servers_detecting_the_interface_see_asgi3(app):
    # uvicorn's automatic interface and asgiref (daphne) tell ASGI 3 by a
    # coroutine-function __call__: kolben's is marked, so they call it as ASGI 3
    # with no ASGI 2 wrapper in between; WSGI servers still call it as WSGI.
    asgiref = pytest.importorskip("asgiref.compatibility")
    uvicorn_config = pytest.importorskip("uvicorn.config")

    @app.route("/")
    def index():
        return "three"

    config = uvicorn_config.Config(app)
    config.load()
    assert config.interface == "asgi3"
    assert asgiref.guarantee_single_callable(app) is app
    assert call(app, http_scope("/")).body == b"three"
    assert app.test_client().get("/").data == b"three"  # the WSGI call


def test_wrong_number_of_arguments(app):
    with pytest.raises(TypeError):
        app()
    with pytest.raises(TypeError):
        app(1, 2, 3, 4)


def test_unknown_scope_type_raises(app):
    # The ASGI spec: an app raises for a scope type it does not understand.
    with pytest.raises(ValueError, match="nonsense"):
        asyncio.run(app({"type": "nonsense"}, Connection().receive, Connection().send))


def test_asgi_app_wrapped_by_asgi_middleware(app):
    @app.route("/")
    def index():
        return "through the middleware"

    seen_scopes = []

    class AddHeader:
        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            seen_scopes.append(scope["type"])

            async def wrapped_send(message):
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message["headers"], (b"x-mw", b"yes")]}
                await send(message)

            await self.inner(scope, receive, wrapped_send)

    app.asgi_app = AddHeader(app.asgi_app)
    conn = call(app, http_scope("/"))  # the app object itself, as a server calls it
    assert seen_scopes == ["http"]
    assert conn.status == 200
    assert conn.header("x-mw") == "yes"
    assert conn.body == b"through the middleware"


def test_wsgi_middleware_applies_under_asgi(app):
    @app.route("/")
    def index():
        return {"remote_addr": request.remote_addr, "scheme": request.scheme}

    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    conn = call(
        app,
        http_scope(
            "/",
            headers=[("X-Forwarded-For", "198.51.100.4"), ("X-Forwarded-Proto", "https")],
            client=("10.0.0.1", 1234),
        ),
    )
    assert conn.status == 200
    assert conn.json == {"remote_addr": "198.51.100.4", "scheme": "https"}


# -- scope -> request ----------------------------------------------------------------


def test_headers_repeated_and_cookies(app):
    @app.route("/")
    def index():
        return {
            "tag": request.headers.get("X-Tag"),
            "cookies": request.cookies.to_dict(),
            "user_agent": request.user_agent.string,
            "accept": request.headers["Accept"],
        }

    conn = call(
        app,
        http_scope(
            "/",
            headers=[
                ("X-Tag", "a"),
                ("x-tag", "b"),
                ("Cookie", "one=1"),
                ("cookie", "two=2; three=3"),
                ("User-Agent", "probe/1.0"),
                ("Accept", "text/plain"),
            ],
        ),
    )
    assert conn.status == 200
    data = conn.json
    assert [part.strip() for part in data["tag"].split(",")] == ["a", "b"]
    assert data["cookies"] == {"one": "1", "two": "2", "three": "3"}
    assert data["user_agent"] == "probe/1.0"
    assert data["accept"] == "text/plain"


def test_header_names_with_underscores_are_left_out(app):
    """``X_Forwarded_For`` would land on the same environ key as
    ``X-Forwarded-For``: a client could pass its value off as the proxy's. Such
    names are dropped, as werkzeug's server and gunicorn drop them."""

    @app.route("/")
    def index():
        return {
            "forwarded": request.headers.get("X-Forwarded-For"),
            "names": sorted(request.headers.keys()),
            "keys": sorted(k for k in request.environ if k.startswith("HTTP_")),
        }

    conn = call(
        app,
        http_scope(
            "/",
            headers=[
                ("X_Forwarded_For", "6.6.6.6"),
                ("X-Forwarded-For", "10.0.0.1"),
                ("content_type", "text/evil"),
                ("X_Only_Underscores", "dropped"),
            ],
        ),
    )
    assert conn.status == 200
    data = conn.json
    assert data["forwarded"] == "10.0.0.1"
    assert "X-Only-Underscores" not in data["names"]
    assert "Content-Type" not in data["names"]
    assert data["keys"] == ["HTTP_X_FORWARDED_FOR"]
    # A second request takes the remembered decision the same way.
    assert call(app, http_scope("/", headers=[("X_Forwarded_For", "6.6.6.6")])).json[
        "forwarded"
    ] is None


def test_repeated_response_headers_stay_separate(app):
    @app.route("/")
    def index():
        response = kolben.make_response("cookies")
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    conn = call(app, http_scope("/"))
    cookies = sorted(v.split(";")[0] for k, v in conn.header_list if k == "set-cookie")
    assert cookies == ["a=1", "b=2"]


def test_query_string(app):
    @app.route("/search")
    def search():
        return {
            "a": request.args.getlist("a"),
            "word": request.args["word"],
            "flag": request.args.get("flag"),
            "raw": request.query_string.decode("latin-1"),
            "full_path": request.full_path,
        }

    query = b"a=1&a=2&word=%C3%A9t%C3%A9&flag"
    conn = call(app, http_scope("/search", query=query))
    assert conn.status == 200
    assert conn.json == {
        "a": ["1", "2"],
        "word": "été",
        "flag": "",
        "raw": query.decode(),
        "full_path": "/search?" + query.decode(),
    }


@pytest.mark.parametrize("path_includes_root", [True, False], ids=["uvicorn", "legacy"])
def test_root_path(app, path_includes_root):
    @app.route("/hello")
    def hello():
        return {
            "script_root": request.script_root,
            "path": request.path,
            "url": request.url,
            "url_for": url_for("hello"),
            "external": url_for("hello", _external=True),
        }

    conn = call(
        app,
        http_scope(
            "/hello",
            root_path="/prefix",
            path_includes_root=path_includes_root,
            headers=[("Host", "example.com")],
        ),
    )
    assert conn.status == 200
    assert conn.json == {
        "script_root": "/prefix",
        "path": "/hello",
        "url": "http://example.com/prefix/hello",
        "url_for": "/prefix/hello",
        "external": "http://example.com/prefix/hello",
    }


def test_root_path_redirect_keeps_prefix(app):
    @app.route("/old")
    def old():
        return kolben.redirect(url_for("new"))

    @app.route("/new")
    def new():
        return "new"

    conn = call(app, http_scope("/old", root_path="/mounted"))
    assert conn.status == 302
    assert conn.header("location") == "/mounted/new"


@pytest.mark.parametrize(
    ("client", "expected"),
    [(("203.0.113.9", 4567), "203.0.113.9"), (("::1", 5000), "::1"), (None, None)],
)
def test_client_address(app, client, expected):
    @app.route("/")
    def index():
        return {"remote_addr": request.remote_addr}

    conn = call(app, http_scope("/", client=client))
    assert conn.json == {"remote_addr": expected}


def test_scheme_url_and_host_url_from_host_header(app):
    @app.route("/where")
    def where():
        return {
            "scheme": request.scheme,
            "is_secure": request.is_secure,
            "url": request.url,
            "base_url": request.base_url,
            "host_url": request.host_url,
            "host": request.host,
            "external": url_for("where", _external=True),
        }

    conn = call(
        app,
        http_scope("/where", scheme="https", query=b"q=1", headers=[("Host", "example.com")]),
    )
    assert conn.json == {
        "scheme": "https",
        "is_secure": True,
        "url": "https://example.com/where?q=1",
        "base_url": "https://example.com/where",
        "host_url": "https://example.com/",
        "host": "example.com",
        "external": "https://example.com/where",
    }


def test_host_url_from_server_without_host_header(app):
    @app.route("/")
    def index():
        return {"host_url": request.host_url, "scheme": request.scheme}

    conn = call(app, http_scope("/", scheme="https", server=("example.org", 8443)))
    assert conn.json == {"host_url": "https://example.org:8443/", "scheme": "https"}


@pytest.mark.parametrize("with_raw_path", [True, False], ids=["raw_path", "no_raw_path"])
def test_non_ascii_percent_encoded_path(app, with_raw_path):
    @app.route("/café/<name>")
    def cafe(name):
        return {"name": name, "path": request.path, "url": request.url}

    conn = call(
        app,
        http_scope(
            "/café/naïve",
            raw_path=b"/caf%C3%A9/na%C3%AFve",
            with_raw_path=with_raw_path,
        ),
    )
    assert conn.status == 200
    assert conn.json == {
        "name": "naïve",
        "path": "/café/naïve",
        "url": "http://testserver/café/naïve",  # werkzeug's url is an IRI
    }


def test_raw_path_with_encoded_reserved_characters(app):
    # A "?" and a space encoded in the path are path characters, not a query.
    @app.route("/files/<name>")
    def files(name):
        return {"name": name, "args": request.args.to_dict(), "path": request.path}

    conn = call(
        app,
        http_scope("/files/a?b c", raw_path=b"/files/a%3Fb%20c", query=b"x=1"),
    )
    assert conn.status == 200
    assert conn.json == {"name": "a?b c", "args": {"x": "1"}, "path": "/files/a?b c"}


def test_path_rewritten_by_middleware_wins_over_raw_path(app):
    # ASGI middleware that rewrites "path" leaves raw_path as the server made it;
    # the app serves "path", as Starlette, Quart and Django do.
    @app.route("/info/<name>")
    def info(name):
        return {"name": name, "path": request.path, "root": request.script_root}

    scope = http_scope("/v1/info/a%20b", raw_path=b"/v1/info/a%2520b")
    scope["path"] = "/info/a%20b"
    conn = call(app, scope)
    assert conn.status == 200
    assert conn.json == {"name": "a%20b", "path": "/info/a%20b", "root": ""}
    # rewritten below a root path (a Starlette Mount's scope, then a rewrite)
    scope = http_scope("/v1/info/x", root_path="/sub")
    scope["path"] = "/sub/info/x"
    conn = call(app, scope)
    assert conn.json == {"name": "x", "path": "/info/x", "root": "/sub"}
    # raw bytes that are not UTF-8 still come from raw_path
    scope = http_scope("/info/\ufffd", raw_path=b"/info/%FF")
    conn = call(app, scope)
    assert conn.status == 200 and conn.json["name"] == "\ufffd"


def test_unknown_path_is_404_and_method_not_allowed_is_405(app):
    @app.route("/only-get")
    def only_get():
        return "get"

    assert call(app, http_scope("/nowhere")).status == 404
    conn = call(app, http_scope("/only-get", method="POST"))
    assert conn.status == 405
    assert set(conn.header("allow").replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


# -- request data ---------------------------------------------------------------------


def _data_app(app: kolben.Kolben, kind: str) -> None:
    """Routes reading every kind of request data, as sync or async views."""

    def read_all():
        files = {
            key: {
                "filename": f.filename,
                "mimetype": f.mimetype,
                "content": f.read().decode("latin-1"),
            }
            for key, f in request.files.items()
        }
        return {
            "form": request.form.to_dict(flat=False),
            "files": files,
            "content_type": request.content_type,
            "content_length": request.content_length,
        }

    def read_json():
        return {"json": request.get_json(), "is_json": request.is_json}

    def read_data():
        return {
            "data": request.data.decode("latin-1"),
            "get_data": request.get_data(as_text=True),
        }

    def read_stream():
        return {"stream": request.stream.read().decode("latin-1")}

    for name, func in [
        ("form", read_all),
        ("json", read_json),
        ("data", read_data),
        ("stream", read_stream),
    ]:
        if kind == "sync":
            view = func
        else:

            async def view(func=func):
                await asyncio.sleep(0)
                return func()

        app.add_url_rule(f"/{name}", endpoint=name, view_func=view, methods=["POST"])


def multipart(boundary: str, parts: list[tuple[str, str | None, str | None, bytes]]) -> bytes:
    """A multipart/form-data body of ``(name, filename, content type, content)``."""
    out = b""
    for name, filename, content_type, content in parts:
        out += f"--{boundary}\r\n".encode()
        disposition = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += disposition.encode() + b"\r\n"
        if content_type is not None:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def post_scope(path: str, body: bytes, content_type: str, **kwargs: t.Any) -> Message:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return http_scope(path, method="POST", headers=headers, **kwargs)


@pytest.fixture(params=["sync", "async"])
def view_kind(request: pytest.FixtureRequest) -> str:
    return t.cast(str, request.param)


def test_form_urlencoded(app, view_kind):
    _data_app(app, view_kind)
    body = b"name=J%C3%BCrgen&n=1&n=2"
    conn = call(
        app,
        post_scope("/form", body, "application/x-www-form-urlencoded"),
        Connection(body_messages(body)),
    )
    assert conn.status == 200
    assert conn.json["form"] == {"name": ["Jürgen"], "n": ["1", "2"]}
    assert conn.json["content_length"] == len(body)


def test_multipart_files(app, view_kind):
    _data_app(app, view_kind)
    body = multipart(
        "b0und4ry",
        [
            ("title", None, None, "Grüße".encode()),
            ("up", "hello.txt", "text/plain", b"hello\x00world\r\n--not-a-boundary"),
            ("up2", "data.bin", "application/octet-stream", bytes(range(256))),
        ],
    )
    conn = call(
        app,
        post_scope("/form", body, "multipart/form-data; boundary=b0und4ry"),
        Connection(body_messages(body)),
    )
    assert conn.status == 200
    assert conn.json["form"] == {"title": ["Grüße"]}
    assert conn.json["files"] == {
        "up": {
            "filename": "hello.txt",
            "mimetype": "text/plain",
            "content": "hello\x00world\r\n--not-a-boundary",
        },
        "up2": {
            "filename": "data.bin",
            "mimetype": "application/octet-stream",
            "content": bytes(range(256)).decode("latin-1"),
        },
    }
    assert conn.json["content_type"] == "multipart/form-data; boundary=b0und4ry"


def test_get_json(app, view_kind):
    _data_app(app, view_kind)
    payload = {"a": [1, 2, {"b": None}], "ü": "ß"}
    body = json.dumps(payload).encode()
    conn = call(app, post_scope("/json", body, "application/json"), Connection(body_messages(body)))
    assert conn.status == 200
    assert conn.json == {"json": payload, "is_json": True}


def test_invalid_json_is_400(app, view_kind):
    _data_app(app, view_kind)
    body = b"{not json"
    conn = call(app, post_scope("/json", body, "application/json"), Connection(body_messages(body)))
    assert conn.status == 400


def test_data_and_get_data(app, view_kind):
    _data_app(app, view_kind)
    body = "raw bytes: \x00\x01\xff".encode("latin-1")
    conn = call(
        app,
        post_scope("/data", body, "application/octet-stream"),
        Connection(body_messages(body)),
    )
    assert conn.status == 200
    assert conn.json["data"] == body.decode("latin-1")
    assert conn.json["get_data"] == body.decode("utf-8", "replace")


def test_request_stream_is_readable(app, view_kind):
    _data_app(app, view_kind)
    body = b"streamed body"
    conn = call(
        app,
        post_scope("/stream", body, "application/octet-stream"),
        Connection(body_messages(body)),
    )
    assert conn.status == 200
    assert conn.json == {"stream": "streamed body"}


def test_chunked_body_is_reassembled(app, view_kind):
    _data_app(app, view_kind)
    chunks = [b"first,", b"", b"second,", b"third"]
    # No Content-Length: the body ends with the message without more_body.
    scope = http_scope("/data", method="POST", headers=[("Content-Type", "text/plain")])
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 200
    assert conn.json["data"] == "first,second,third"
    assert conn.receive_calls == len(chunks)


def test_a_transfer_encoding_outweighs_a_content_length(app, view_kind):
    # RFC 9112, 6.3: a server that accepts both (uvicorn's h11) framed the body
    # by the Transfer-Encoding, and so does werkzeug: the Content-Length is
    # ignored, and the view gets the whole body (it got an empty one).
    _data_app(app, view_kind)
    chunks = [b"x" * 20, b"y" * 30]
    scope = http_scope(
        "/data",
        method="POST",
        headers=[
            ("Content-Type", "text/plain"),
            ("Content-Length", "5"),
            ("Transfer-Encoding", "chunked"),
        ],
    )
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 200
    assert conn.json["data"] == "x" * 20 + "y" * 30


def test_large_chunked_body_is_reassembled(app, view_kind):
    # Past the in-memory threshold (1 MiB), so the door spools to a file.
    _data_app(app, view_kind)
    chunks = [bytes([65 + i]) * (512 * 1024) for i in range(5)]
    scope = http_scope(
        "/data",
        method="POST",
        headers=[
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", str(sum(map(len, chunks)))),
        ],
    )
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 200
    assert conn.json["data"] == b"".join(chunks).decode("latin-1")


def _big_chunks() -> list[bytes]:
    return [b"x" * (512 * 1024)] * 20  # 10 MiB, sent chunked


def test_a_sync_view_that_ignores_a_large_body_does_not_receive_it(app):
    # No MAX_CONTENT_LENGTH (the default): the door receives the first MiB
    # before the view's worker thread runs, not the whole body (a client could
    # otherwise fill the disk through any POST route).
    @app.post("/ignore")
    def ignore():
        return "did not read"

    scope = http_scope("/ignore", method="POST", headers=[("Content-Type", "text/plain")])
    conn = call(app, scope, Connection(body_messages(*_big_chunks())))
    assert conn.status == 200
    assert conn.body == b"did not read"
    assert conn.receive_calls <= 3


def test_a_limit_lowered_by_a_hook_applies_before_the_body_is_received(app):
    @app.before_request
    def limit():
        request.max_content_length = 1000

    @app.post("/data")
    def data():
        return str(len(request.get_data()))

    scope = http_scope("/data", method="POST", headers=[("Content-Type", "text/plain")])
    conn = call(app, scope, Connection(body_messages(*_big_chunks())))
    assert conn.status == 413
    assert conn.receive_calls <= 3


def test_a_sync_view_reads_a_large_body_past_what_was_received_first(app):
    @app.post("/size")
    def size():
        return str(len(request.get_data()))

    scope = http_scope("/size", method="POST", headers=[("Content-Type", "text/plain")])
    conn = call(app, scope, Connection(body_messages(*_big_chunks())))
    assert conn.status == 200
    assert conn.body == str(10 * 1024 * 1024).encode()
    assert conn.receive_calls == 20


@pytest.mark.parametrize("reader", ["wsgi.input", "stream", "input_stream"])
def test_reading_n_bytes_of_a_body_sent_in_several_messages_gives_n_bytes(app, reader):
    # As a WSGI server's wsgi.input does: read(n) gives n bytes before the end of
    # the body, whatever messages it came in (it gave what one message brought:
    # code reading Content-Length bytes in one call got a cut body; found by
    # the two-door differential fuzzer).
    @app.post("/n")
    def read_n():
        n = request.content_length
        if reader == "wsgi.input":
            stream = request.environ["wsgi.input"]
        else:
            stream = getattr(request, reader)
        first = stream.read(n - 10)
        return f"{len(first)} {len(stream.read(100))}"

    chunks = [b"x" * (600 * 1024)] * 3
    scope = http_scope("/n", method="POST", headers=[("Content-Length", str(1800 * 1024))])
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert (conn.status, conn.text) == (200, f"{1800 * 1024 - 10} 10")


def test_wsgi_middleware_reading_the_body_past_the_limit_gets_all_of_it(app):
    # A middleware reading wsgi.input (no request context, no limit, as a WSGI
    # server's raw stream) got the first message only of a body over
    # MAX_CONTENT_LENGTH, which the app then served cut, without a 413.
    app.config["MAX_CONTENT_LENGTH"] = 100
    inner = app.wsgi_app

    def middleware(environ, start_response):
        data = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        return inner(environ, start_response)

    app.wsgi_app = middleware

    @app.post("/n")
    def size():
        return str(len(request.get_data()))

    scope = http_scope("/n", method="POST", headers=[("Content-Length", "164")])
    conn = call(app, scope, Connection(body_messages(b"x" * 82, b"x" * 82)))
    assert conn.status == 413


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_client_that_stops_sending_its_body_gets_408_and_frees_the_thread(app, declared):
    # A worker thread reading a body waits ASGI_BODY_TIMEOUT for each part, not
    # for ever: clients that stall mid-body can't hold every worker thread.
    app.config["ASGI_BODY_TIMEOUT"] = 0.3

    @app.post("/size")
    def size():
        return str(len(request.get_data()))

    chunks = [b"x" * (400 * 1024)] * 3  # 1.2 MB of a 3 MB body, then silence
    incoming = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    headers = [("Content-Type", "text/plain")]
    if declared:
        headers.append(("Content-Length", str(3 * 1024 * 1024)))
    scope = http_scope("/size", method="POST", headers=headers)
    started = time.monotonic()
    conn = call(app, scope, Connection(incoming))
    assert conn.status == 408
    assert time.monotonic() - started < CALL_TIMEOUT
    assert conn.other_tasks == set()


def test_a_client_trickling_a_large_body_takes_no_thread_from_other_requests(app):
    # A def view's worker thread waiting for more of a body that its client sends
    # slowly (a byte now and then: ASGI_BODY_TIMEOUT, per part, never ends it)
    # doesn't count as a thread running a call: the def code of other requests
    # still gets a thread, up to the pool's limit on waiting threads.
    app.config["ASGI_WORKER_THREADS"] = 1

    @app.post("/size")
    def size():
        return str(len(request.get_data()))

    @app.get("/ping")
    def ping():
        return "pong"

    go_on = asyncio.Event()

    class Trickling(Connection):
        async def receive(self) -> Message:
            if self.incoming:
                return await super().receive()
            self.receive_calls += 1
            await go_on.wait()
            return {"type": "http.request", "body": b"y", "more_body": False}

    chunks = [b"x" * (600 * 1024)] * 2  # past the 1 MiB received before the view
    slow = Trickling([{"type": "http.request", "body": c, "more_body": True} for c in chunks])
    scope = http_scope("/size", method="POST", headers=[("Content-Type", "text/plain")])

    async def main() -> None:
        upload = asyncio.create_task(app(scope, slow.receive, slow.send))
        deadline = time.monotonic() + CALL_TIMEOUT
        while slow.receive_calls < 3:  # the view's thread waits for the rest
            assert time.monotonic() < deadline, "the view never read past the first MiB"
            await asyncio.sleep(0.005)
        pinged = await acall(app, http_scope("/ping"), Connection())
        assert (pinged.status, pinged.body) == (200, b"pong")
        go_on.set()
        await asyncio.wait_for(upload, CALL_TIMEOUT)

    asyncio.run(main())
    assert (slow.status, slow.body) == (200, str(1200 * 1024 + 1).encode())


# -- body limits ----------------------------------------------------------------------


def test_content_length_over_limit_is_413_without_receiving(app, view_kind):
    _data_app(app, view_kind)
    app.config["MAX_CONTENT_LENGTH"] = 100
    chunks = [b"x" * 100] * 10
    scope = http_scope(
        "/data",
        method="POST",
        headers=[("Content-Type", "application/octet-stream"), ("Content-Length", "1000")],
    )
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 413
    assert conn.receive_calls == 0  # not one byte of the body was asked for
    assert conn.other_tasks == set()


def test_content_length_over_limit_view_not_reading_is_served(app):
    @app.post("/ignore")
    def ignore():
        return "did not read"

    app.config["MAX_CONTENT_LENGTH"] = 10
    scope = http_scope("/ignore", method="POST", headers=[("Content-Length", "1000")])
    conn = call(app, scope, Connection(body_messages(b"x" * 1000)))
    assert conn.status == 200
    assert conn.body == b"did not read"
    assert conn.receive_calls == 0


def test_chunked_body_past_limit_stops_receiving(app, view_kind):
    _data_app(app, view_kind)
    app.config["MAX_CONTENT_LENGTH"] = 250
    chunks = [b"x" * 100] * 10
    scope = http_scope("/data", method="POST", headers=[("Content-Type", "text/plain")])
    conn = call(app, scope, Connection(body_messages(*chunks)))
    # 100 + 100 + 100 bytes is past 250: nothing after the third message is asked for.
    assert conn.receive_calls <= 4
    # Whatever the status, the view never got the whole body.
    assert conn.status == 413 or len(conn.json["data"]) <= 250


@pytest.mark.parametrize("what", ["data", "form"])
def test_chunked_body_past_limit_is_413(app, view_kind, what):
    _data_app(app, view_kind)
    app.config["MAX_CONTENT_LENGTH"] = 250
    chunks = [b"a=" + b"x" * 98] + [b"x" * 100] * 9
    content_type = "application/x-www-form-urlencoded" if what == "form" else "text/plain"
    scope = http_scope("/" + what, method="POST", headers=[("Content-Type", content_type)])
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 413


def test_view_raising_its_own_limit_reads_the_rest(app):
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.post("/upload")
    def upload():
        request.max_content_length = 10_000
        data = request.get_data()
        return {"length": len(data), "ok": data == b"".join(chunks)}

    chunks = [bytes([97 + i]) * 250 for i in range(4)]
    scope = http_scope(
        "/upload",
        method="POST",
        headers=[("Content-Type", "application/octet-stream"), ("Content-Length", "1000")],
    )
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 200
    assert conn.json == {"length": 1000, "ok": True}
    assert conn.receive_calls == len(chunks)
    assert conn.other_tasks == set()


def test_view_raising_its_own_limit_reads_a_chunked_body(app):
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.post("/upload")
    def upload():
        request.max_content_length = 10_000
        return {"data": request.get_data(as_text=True)}

    chunks = [b"0123456789" * 6] * 5  # 60 bytes each, 300 in all, no Content-Length
    scope = http_scope("/upload", method="POST", headers=[("Content-Type", "text/plain")])
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 200
    assert conn.json == {"data": "0123456789" * 30}


def test_async_view_raising_its_own_limit_gets_413(app):
    # Documented: only a sync view can read past MAX_CONTENT_LENGTH under ASGI.
    app.config["MAX_CONTENT_LENGTH"] = 100

    @app.post("/upload")
    async def upload():
        request.max_content_length = 10_000
        return {"length": len(request.get_data())}

    scope = http_scope("/upload", method="POST", headers=[("Content-Length", "1000")])
    conn = call(app, scope, Connection(body_messages(*[b"x" * 250] * 4)))
    assert conn.status == 413


def test_client_disconnects_while_view_reads_past_limit(quiet_app, caplog):
    app = quiet_app
    app.config["MAX_CONTENT_LENGTH"] = 100
    outcome = []

    @app.post("/upload")
    def upload():
        request.max_content_length = 10_000
        try:
            request.get_data()
        except Exception as e:
            outcome.append(type(e).__name__)
            raise
        return "read it all"

    scope = http_scope("/upload", method="POST", headers=[("Content-Length", "1000")])
    conn = Connection(
        [{"type": "http.request", "body": b"x" * 250, "more_body": True}],
        then_disconnect=True,
    )
    call(app, scope, conn)
    assert outcome == ["ClientDisconnected"]
    assert problems(caplog) == []
    assert conn.other_tasks == set()


def test_max_form_memory_size(app, view_kind):
    _data_app(app, view_kind)
    # As in Flask, the limit applies to the non-file fields of a multipart body.
    app.config["MAX_FORM_MEMORY_SIZE"] = 50
    body = multipart("zz", [("field", None, None, b"x" * 200)])
    conn = call(
        app,
        post_scope("/form", body, "multipart/form-data; boundary=zz"),
        Connection(body_messages(body)),
    )
    assert conn.status == 413


def test_max_form_parts(app, view_kind):
    _data_app(app, view_kind)
    app.config["MAX_FORM_PARTS"] = 3
    body = multipart("zz", [(f"f{i}", None, None, b"v") for i in range(10)])
    conn = call(
        app,
        post_scope("/form", body, "multipart/form-data; boundary=zz"),
        Connection(body_messages(body)),
    )
    assert conn.status == 413


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nno closing boundary',
        ),
        ("multipart/form-data; boundary=xyz", b"not multipart at all"),
        ("multipart/form-data", b"--\r\nno boundary parameter\r\n"),
    ],
    ids=["truncated", "garbage", "no-boundary"],
)
def test_malformed_multipart_is_400(app, view_kind, content_type, body):
    seen = []

    def view():
        seen.append(request.form.to_dict())
        return request.form["a"]

    if view_kind == "sync":
        app.add_url_rule("/upload", view_func=view, methods=["POST"])
    else:

        async def async_view():
            return view()

        app.add_url_rule("/upload", view_func=async_view, methods=["POST"])

    conn = call(app, post_scope("/upload", body, content_type), Connection(body_messages(body)))
    assert conn.status == 400
    assert seen == [{}]  # as in Flask: a form that can't be parsed is empty


# -- disconnects and errors -------------------------------------------------------------


@pytest.mark.parametrize("with_length", [True, False])
def test_disconnect_while_sending_body(app, caplog, with_length):
    called = []

    @app.post("/upload")
    def upload():
        called.append(True)
        return request.get_data()

    headers = [("Content-Length", "300")] if with_length else []
    scope = http_scope("/upload", method="POST", headers=headers)
    conn = Connection(
        [{"type": "http.request", "body": b"x" * 100, "more_body": True}],
        then_disconnect=True,
    )
    call(app, scope, conn)
    # The body is received when the view reads it (routing first); the client is
    # gone by then, so reading fails and no answer is sent.
    assert conn.sent == []
    assert called == [True]
    assert conn.receive_calls == 2
    assert conn.other_tasks == set()
    assert problems(caplog) == []


def test_view_raising_is_500_and_the_next_request_is_served(quiet_app, caplog):
    app = quiet_app

    @app.route("/boom")
    def boom():
        raise ZeroDivisionError("boom")

    @app.route("/fine")
    def fine():
        return "fine"

    async def main():
        first = await acall(app, http_scope("/boom"), Connection())
        second = await acall(app, http_scope("/fine"), Connection())
        return first, second

    first, second = asyncio.run(main())
    assert first.status == 500
    assert b"Internal Server Error" in first.body
    assert second.status == 200
    assert second.body == b"fine"
    assert second.other_tasks == set()
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1
    assert logged[0].exc_info is not None and logged[0].exc_info[0] is ZeroDivisionError


def test_async_view_raising_is_500(quiet_app):
    app = quiet_app

    @app.route("/boom")
    async def boom():
        await asyncio.sleep(0)
        raise KeyError("boom")

    assert call(app, http_scope("/boom")).status == 500


def test_view_raising_propagates_when_testing(app):
    # PROPAGATE_EXCEPTIONS (TESTING): the error reaches the server, as under WSGI.
    @app.route("/boom")
    def boom():
        raise ZeroDivisionError("boom")

    conn = Connection()
    with pytest.raises(ZeroDivisionError):
        call(app, http_scope("/boom"), conn)
    assert conn.sent == []


def test_error_handler_runs_under_asgi(app):
    @app.errorhandler(404)
    async def not_found(e):
        await asyncio.sleep(0)
        return {"error": "nope", "path": request.path}, 404

    conn = call(app, http_scope("/missing"))
    assert conn.status == 404
    assert conn.json == {"error": "nope", "path": "/missing"}


# -- streaming ------------------------------------------------------------------------


def _assert_streamed(conn: Connection, chunks: list[bytes]) -> None:
    parts = conn.body_parts
    assert [p.get("body", b"") for p in parts[:-1]] == chunks
    assert all(p.get("more_body") is True for p in parts[:-1])
    assert parts[-1].get("body", b"") == b""
    assert parts[-1].get("more_body", False) is False
    assert conn.header("content-length") is None


def test_stream_sync_generator(app):
    @app.route("/stream")
    def stream():
        def generate():
            yield "one "
            yield b"two "
            yield "three"

        return generate(), {"Content-Type": "text/plain"}

    conn = call(app, http_scope("/stream"))
    assert conn.status == 200
    assert conn.header("content-type") == "text/plain"
    _assert_streamed(conn, [b"one ", b"two ", b"three"])
    assert conn.other_tasks == set()


def test_stream_failing_before_its_first_chunk_sends_no_status(app):
    """A sync body that raises before its first chunk is the application's error
    before any response (the server's 500), as under a WSGI server and asgiref's
    WsgiToAsgi, which send the status with the first chunk: not a 200 with an
    empty, cut body. Its generator is closed, the connection's tasks ended."""
    closed = []

    @app.route("/stream")
    def stream():
        def generate():
            try:
                raise RuntimeError("the first query failed")
                yield "never"
            finally:
                closed.append(True)

        return generate()

    conn = Connection()
    with pytest.raises(RuntimeError, match="the first query failed"):
        call(app, http_scope("/stream"), conn)
    assert conn.sent == []
    assert closed == [True]


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("when", ["first", "later"])
def test_a_streams_own_os_error_is_raised_to_the_server(app, kind, when):
    """An OSError the body raises (a file gone, a socket of its own, requests'
    errors) is the application's error, raised to the server (its 500 before
    the first chunk, a cut response after, logged either way), as under a WSGI
    server: not taken for the client leaving (what a server's send raises),
    which left nothing logged, and, before the first chunk, the server's "the
    application returned without a response"."""
    closed = []

    if kind == "sync":

        @app.route("/stream")
        def stream():
            def generate():
                try:
                    if when == "later":
                        yield "one"
                    open("/nonexistent/kolben/file")  # noqa: SIM115
                    yield "never"
                finally:
                    closed.append(True)

            return generate()

    else:

        @app.route("/stream")
        async def stream():
            async def generate():
                try:
                    if when == "later":
                        yield "one"
                    raise ConnectionRefusedError("the upstream refused")
                    yield "never"
                finally:
                    closed.append(True)

            return generate()

    conn = Connection()
    with pytest.raises(OSError):
        call(app, http_scope("/stream"), conn)
    assert closed == [True]
    if kind == "sync" and when == "first":
        assert conn.sent == []
    assert all(p.get("more_body") for p in conn.body_parts)  # never ended as if whole


def test_a_servers_os_error_on_send_still_ends_the_stream_quietly(app):
    """What a server's ``send`` raises (its way of telling that the client left)
    ends the stream without an error: the body is closed, nothing raised."""
    closed = []

    class Gone(Connection):
        async def send(self, message: Message) -> None:
            if message["type"] == "http.response.body":
                raise ConnectionResetError("the client left")
            await super().send(message)

    @app.route("/stream")
    def stream():
        def generate():
            try:
                yield "one"
                yield "two"
            finally:
                closed.append(True)

        return generate()

    call(app, http_scope("/stream"), Gone())
    assert closed == [True]


def test_stream_status_goes_with_the_first_chunk_empty_or_not(app):
    """The status and headers go out as the first chunk is made, an empty one
    too (the WSGI idiom ``yield ""`` to send the headers early), and the empty
    chunk itself is not sent."""
    order: list[str] = []

    class Recording(Connection):
        async def send(self, message: Message) -> None:
            order.append(message["type"])
            await super().send(message)

    @app.route("/stream")
    def stream():
        def generate():
            order.append("first chunk made")
            yield ""
            order.append("second chunk made")
            yield "data"

        return generate()

    conn = call(app, http_scope("/stream"), Recording())
    assert conn.status == 200
    assert order == [
        "first chunk made",
        "http.response.start",
        "second chunk made",
        "http.response.body",
        "http.response.body",
    ]
    _assert_streamed(conn, [b"data"])


def test_empty_stream_sends_its_status(app):
    @app.route("/stream")
    def stream():
        return iter(()), {"X-Empty": "yes"}

    conn = call(app, http_scope("/stream"))
    assert conn.status == 200
    assert conn.header("x-empty") == "yes"
    assert conn.body == b""


@pytest.mark.parametrize("status", ["abc", 1000, 99])
def test_a_status_that_is_not_three_digits_is_never_sent(app, status):
    """werkzeug takes any status (``("x", "abc")`` is 0); HTTP's are three digits.
    A server handed another drops the connection unanswered (uvicorn) or stops
    altogether (granian 2 panics): the door raises before the response starts,
    which a server answers with a 500, as gunicorn answers Flask. The request
    was finished first (its teardown ran once)."""
    torn_down = []

    @app.teardown_request
    def teardown(exc):
        torn_down.append(exc)

    @app.route("/bad")
    def bad():
        return "x", status

    conn = Connection()
    with pytest.raises(ValueError, match="not an HTTP status code"):
        call(app, http_scope("/bad"), conn)
    assert conn.sent == []
    assert torn_down == [None]
    # Kolben's test client shows the status, as werkzeug's client does.
    response = app.asgi_test_client().get("/bad")
    assert response.status_code == app.test_client().get("/bad").status_code


def test_stream_async_generator(app):
    loops = []

    @app.route("/stream")
    def stream():
        async def generate():
            loops.append(asyncio.get_running_loop())
            yield "one "
            await asyncio.sleep(0)
            yield b"two "
            yield "three"

        return generate()

    conn = Connection()

    async def main():
        await acall(app, http_scope("/stream"), conn)
        return asyncio.get_running_loop()

    loop = asyncio.run(main())
    assert conn.status == 200
    _assert_streamed(conn, [b"one ", b"two ", b"three"])
    assert loops == [loop]  # advanced on the server's loop
    assert conn.other_tasks == set()


def test_closing_async_bodies_of_def_views_starts_no_threads_beyond_the_pool(app):
    # The body of a def view returning an async iterator (an SSE stream) runs on
    # the loop, its request's thread given back; closing it (sync code: the
    # response's close callbacks) is the request's last call, and its thread is
    # free the moment it ends: many streams ending at once don't leave the pool
    # with up to 8 times ASGI_WORKER_THREADS threads.
    app.config["ASGI_WORKER_THREADS"] = 2
    closed = []

    @app.route("/stream")
    def stream():
        async def generate():
            await asyncio.sleep(0.01)
            yield "event"

        response = app.response_class(generate(), mimetype="text/event-stream")
        response.call_on_close(lambda: closed.append(threading.get_ident()))
        return response

    async def main() -> list[Connection]:
        conns = [Connection() for _ in range(24)]
        await asyncio.gather(*(acall(app, http_scope("/stream"), c) for c in conns))
        return conns

    conns = asyncio.run(main())
    assert {c.body for c in conns} == {b"event"}
    assert len(closed) == 24
    assert app.worker_threads.threads <= 3


def test_stream_sync_generator_runs_off_the_loop(app):
    threads = []

    @app.route("/stream")
    def stream():
        def generate():
            threads.append(threading.get_ident())
            yield "x"

        return generate()

    conn = call(app, http_scope("/stream"))
    assert conn.body == b"x"
    assert threads and threads[0] != threading.get_ident()


class _StreamDisconnect:
    """A client that disconnects once it has received the first body chunk.

    ``receive`` hands out the (empty) request body, then waits for the first
    chunk, lets the generator go on (``release``) and reports ``http.disconnect``.
    """

    def __init__(self) -> None:
        self.conn = Connection()
        self.release = threading.Event()
        self.async_release: asyncio.Event | None = None
        self.first_chunk: asyncio.Event | None = None
        original_send = self.conn.send

        async def send(message: Message) -> None:
            await original_send(message)
            if message["type"] == "http.response.body" and message.get("body"):
                assert self.first_chunk is not None
                self.first_chunk.set()

        async def receive() -> Message:
            self.conn.receive_calls += 1
            if self.conn.incoming:
                return self.conn.incoming.pop(0)
            assert self.first_chunk is not None and self.async_release is not None
            await self.first_chunk.wait()
            self.release.set()
            self.async_release.set()
            return {"type": "http.disconnect"}

        self.conn.send = send  # type: ignore[method-assign]
        self.conn.receive = receive  # type: ignore[method-assign]

    def run(self, app: kolben.Kolben, scope: Message) -> Connection:
        async def main() -> None:
            self.first_chunk = asyncio.Event()
            self.async_release = asyncio.Event()
            await acall(app, scope, self.conn)

        asyncio.run(main())
        return self.conn


def test_stream_sync_generator_client_disconnects(app, caplog):
    events = []
    client = _StreamDisconnect()

    @app.route("/stream")
    def stream():
        def generate():
            try:
                yield "first"
                events.append("released" if client.release.wait(5) else "timed out")
                yield "second"
                yield "third"
            finally:
                events.append("finally")

        return generate()

    conn = client.run(app, http_scope("/stream"))
    assert conn.status == 200
    # Only the chunk sent before the disconnect; no final message either.
    assert [(p.get("body"), p.get("more_body")) for p in conn.body_parts] == [(b"first", True)]
    assert events == ["released", "finally"]
    assert conn.other_tasks == set()
    assert problems(caplog) == []


def test_stream_async_generator_client_disconnects(app, caplog):
    events = []
    client = _StreamDisconnect()

    @app.route("/stream")
    def stream():
        async def generate():
            try:
                yield "first"
                assert client.async_release is not None
                await asyncio.wait_for(client.async_release.wait(), 5)
                events.append("released")
                yield "second"
                yield "third"
            finally:
                events.append("finally")

        return generate()

    conn = client.run(app, http_scope("/stream"))
    assert conn.status == 200
    assert [(p.get("body"), p.get("more_body")) for p in conn.body_parts] == [(b"first", True)]
    assert events == ["released", "finally"]
    assert problems(caplog) == []


def test_stream_async_generator_closed_before_the_call_returns(app):
    # "Closed promptly": the generator's finally has run when the ASGI call
    # returns, and no task is left behind to do it later.
    events = []
    client = _StreamDisconnect()

    @app.route("/stream")
    def stream():
        async def generate():
            try:
                yield "first"
                assert client.async_release is not None
                await asyncio.wait_for(client.async_release.wait(), 5)
                yield "second"
                yield "third"
            finally:
                events.append("finally")

        return generate()

    state = {}

    async def main() -> None:
        client.first_chunk = asyncio.Event()
        client.async_release = asyncio.Event()
        await acall(app, http_scope("/stream"), client.conn)
        state["events_on_return"] = list(events)

    asyncio.run(main())
    assert state["events_on_return"] == ["finally"]
    assert client.conn.other_tasks == set()


def test_stream_async_generator_waiting_is_cancelled_on_disconnect(app, caplog):
    events = []
    client = _StreamDisconnect()

    @app.route("/stream")
    def stream():
        async def generate():
            try:
                yield "first"
                never = asyncio.Event()
                try:
                    await asyncio.wait_for(never.wait(), 2)
                except asyncio.CancelledError:
                    events.append("cancelled")
                    raise
                except asyncio.TimeoutError:
                    events.append("still running 2 s after the disconnect")
                yield "second"
            finally:
                events.append("finally")

        return generate()

    conn = client.run(app, http_scope("/stream"))
    assert [p.get("body") for p in conn.body_parts] == [b"first"]
    assert events == ["cancelled", "finally"]
    assert problems(caplog) == []


def test_stream_with_context_sync(app):
    events = []

    @app.teardown_request
    def teardown(exc):
        events.append("teardown")

    @app.route("/stream")
    def stream():
        g.greeting = "hello"

        @stream_with_context
        def generate():
            events.append("generating")
            yield g.greeting + " "
            yield request.args["name"]
            yield " " + current_app.name

        return generate()

    conn = call(app, http_scope("/stream", query=b"name=world"))
    assert conn.status == 200
    assert conn.body == f"hello world {app.name}".encode()
    assert len(conn.body_parts) == 4
    # The request context lives until the body is done, then tears down.
    assert events == ["generating", "teardown"]
    assert conn.other_tasks == set()


def test_stream_with_context_sync_client_disconnects_runs_teardown(app, caplog):
    events = []
    client = _StreamDisconnect()

    @app.teardown_request
    def teardown(exc):
        events.append("teardown")

    @app.route("/stream")
    def stream():
        def generate():
            try:
                yield request.path
                client.release.wait(5)
                yield "more"
                yield "and more"
            finally:
                events.append("finally")

        return stream_with_context(generate())

    conn = client.run(app, http_scope("/stream"))
    assert [p.get("body") for p in conn.body_parts] == [b"/stream"]
    assert events == ["finally", "teardown"]
    assert problems(caplog) == []


def test_stream_with_context_async(app):
    @app.route("/stream")
    def stream():
        g.greeting = "hello"

        async def generate():
            yield g.greeting + " "
            await asyncio.sleep(0)
            yield request.args["name"]

        return stream_with_context(generate())

    conn = call(app, http_scope("/stream", query=b"name=world"))
    assert conn.status == 200
    assert conn.body == b"hello world"


def test_stream_with_context_async_decorator(app):
    @app.route("/stream")
    def stream():
        @stream_with_context
        async def generate():
            yield request.args["name"]

        return generate()

    conn = call(app, http_scope("/stream", query=b"name=world"))
    assert conn.status == 200
    assert conn.body == b"world"


def test_head_has_no_body(app):
    @app.route("/")
    def index():
        return "hello"

    conn = call(app, http_scope("/", method="HEAD"))
    assert conn.status == 200
    assert conn.header("content-length") == "5"
    assert conn.body == b""


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_head_on_a_streamed_response_has_no_body(app, kind):
    @app.route("/stream")
    def stream():
        def sync_gen():
            yield "body"

        async def async_gen():
            yield "body"

        return sync_gen() if kind == "sync" else async_gen()

    conn = call(app, http_scope("/stream", method="HEAD"))
    assert conn.status == 200
    assert conn.body == b""
    assert conn.other_tasks == set()


# -- lifespan -------------------------------------------------------------------------


def lifespan_scope() -> Message:
    return {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}


class LifespanServer:
    """The server side of the lifespan protocol: startup, then (if asked) shutdown."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.startup_done: asyncio.Event | None = None
        self.shutdown_now: asyncio.Event | None = None
        self.step = 0

    async def receive(self) -> Message:
        assert self.startup_done is not None and self.shutdown_now is not None
        self.step += 1
        if self.step == 1:
            return {"type": "lifespan.startup"}
        await self.shutdown_now.wait()
        return {"type": "lifespan.shutdown"}

    async def send(self, message: Message) -> None:
        assert self.startup_done is not None
        self.sent.append(message)
        if message["type"].startswith("lifespan.startup."):
            self.startup_done.set()

    def run(self, app: kolben.Kolben, between: t.Callable[[], t.Awaitable[None]] | None = None):
        async def main() -> asyncio.AbstractEventLoop:
            self.startup_done = asyncio.Event()
            self.shutdown_now = asyncio.Event()
            task = asyncio.ensure_future(app(lifespan_scope(), self.receive, self.send))
            await asyncio.wait_for(self.startup_done.wait(), CALL_TIMEOUT)
            if between is not None and not task.done():
                await between()
            self.shutdown_now.set()
            await asyncio.wait_for(task, CALL_TIMEOUT)
            return asyncio.get_running_loop()

        return asyncio.run(main())


def test_lifespan_runs_serving_functions(app):
    events = []
    main_thread = threading.get_ident()

    @app.before_serving
    def sync_startup():
        events.append(("sync startup", current_app.name, threading.get_ident() == main_thread))

    @app.before_serving
    async def async_startup():
        current_app.extensions["pool"] = "open"
        events.append(("async startup", current_app.name, asyncio.get_running_loop()))

    @app.after_serving
    async def async_shutdown():
        events.append(("async shutdown", current_app.extensions["pool"]))

    @app.after_serving
    def sync_shutdown():
        events.append(("sync shutdown", current_app.name))

    @app.route("/")
    def index():
        return current_app.extensions["pool"]

    server = LifespanServer()
    served = []

    async def between():
        served.append(await acall(app, http_scope("/"), Connection()))

    loop = server.run(app, between)
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert events == [
        ("sync startup", app.name, False),  # in a worker thread, with current_app
        ("async startup", app.name, loop),  # on the server's loop
        ("async shutdown", "open"),
        ("sync shutdown", app.name),
    ]
    assert served[0].status == 200
    assert served[0].body == b"open"


def test_lifespan_without_serving_functions(app):
    server = LifespanServer()
    server.run(app)
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_lifespan_startup_failure(app, kind):
    after = []

    if kind == "sync":

        @app.before_serving
        def broken():
            raise RuntimeError("database is down")

    else:

        @app.before_serving
        async def broken():
            raise RuntimeError("database is down")

    @app.after_serving
    def shutdown():
        after.append(True)

    server = LifespanServer()
    # Raised after the message too, as Starlette does (Starlette's TestClient
    # waits for it, and would otherwise hang at its shutdown).
    with pytest.raises(RuntimeError, match="database is down"):
        server.run(app)
    assert len(server.sent) == 1
    assert server.sent[0]["type"] == "lifespan.startup.failed"
    assert "database is down" in server.sent[0]["message"]
    assert after == []


def test_lifespan_shutdown_failure(app):
    @app.after_serving
    async def broken():
        raise RuntimeError("could not flush")

    server = LifespanServer()
    with pytest.raises(RuntimeError, match="could not flush"):
        server.run(app)
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.failed",
    ]
    assert "could not flush" in server.sent[1]["message"]


def test_while_serving_wraps_the_server_life(app):
    # Quart's while_serving: the code before the yield at startup (after the
    # before_serving functions), the rest at shutdown (before the after_serving
    # ones, the last registered first), in an application context; async ones on
    # the loop, plain generator functions in a worker thread.
    events = []
    bp = kolben.Blueprint("pool", __name__)

    @bp.before_app_serving
    def before():
        events.append("before_serving")

    @app.while_serving
    async def pool():
        current_app.extensions["pool"] = "open"
        events.append(("async start", asyncio.get_running_loop() is not None))
        try:
            yield
        finally:
            events.append(("async end", current_app.extensions["pool"]))

    @bp.while_app_serving
    def cache():
        events.append(("sync start", current_app.name, threading.current_thread().name))
        yield
        events.append("sync end")

    @bp.after_app_serving
    def after():
        events.append("after_serving")

    app.register_blueprint(bp)

    @app.route("/")
    async def index():
        return current_app.extensions["pool"]

    server = LifespanServer()
    served = []
    loop_thread = []

    async def between():
        loop_thread.append(threading.current_thread().name)
        served.append(await acall(app, http_scope("/"), Connection()))

    server.run(app, between)
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert served[0].body == b"open"
    assert events[:2] == ["before_serving", ("async start", True)]
    assert events[2][:2] == ("sync start", app.name)
    assert events[2][2] != loop_thread[0]  # a worker thread, not the loop's
    assert events[3:] == ["sync end", ("async end", "open"), "after_serving"]


_SERVING_VAR: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "serving", default=None
)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_while_serving_sees_its_context_variables_at_shutdown(app, kind):
    # As in Quart (one task runs the startup and the shutdown): what the code
    # before the yield set in a context variable is there after it, and its
    # token can be reset (a span, a bound logger, a connection kept there).
    seen = []

    if kind == "sync":

        @app.while_serving
        def keep():
            token = _SERVING_VAR.set("pool")
            yield
            seen.append(_SERVING_VAR.get())
            _SERVING_VAR.reset(token)

    else:

        @app.while_serving
        async def keep():
            token = _SERVING_VAR.set("pool")
            yield
            seen.append(_SERVING_VAR.get())
            _SERVING_VAR.reset(token)

    server = LifespanServer()
    server.run(app)
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert seen == ["pool"]


def test_two_lifespans_of_one_app_each_finish_their_own_while_serving(app):
    # Two servers (or nested test tools) running one app: each lifespan ends the
    # generators it started (they were kept on the app, and the second startup
    # dropped the first's).
    events = []
    number = iter(range(2))

    @app.while_serving
    async def pool():
        n = next(number)
        events.append(("open", n))
        yield
        events.append(("close", n))

    async def lifespan(started: asyncio.Event, stop: asyncio.Event) -> list[str]:
        sent = []
        messages = iter([{"type": "lifespan.startup"}, None])

        async def receive():
            message = next(messages)
            if message is None:
                await stop.wait()
                return {"type": "lifespan.shutdown"}
            return message

        async def send(message):
            sent.append(message["type"])
            started.set()

        await app(lifespan_scope(), receive, send)
        return sent

    async def main():
        stops = [asyncio.Event(), asyncio.Event()]
        starts = [asyncio.Event(), asyncio.Event()]
        first = asyncio.ensure_future(lifespan(starts[0], stops[0]))
        await asyncio.wait_for(starts[0].wait(), CALL_TIMEOUT)
        second = asyncio.ensure_future(lifespan(starts[1], stops[1]))
        await asyncio.wait_for(starts[1].wait(), CALL_TIMEOUT)
        stops[0].set()
        stops[1].set()
        return await asyncio.wait_for(asyncio.gather(first, second), CALL_TIMEOUT)

    done = asyncio.run(main())
    assert done == [["lifespan.startup.complete", "lifespan.shutdown.complete"]] * 2
    assert sorted(events) == [("close", 0), ("close", 1), ("open", 0), ("open", 1)]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_while_serving_that_never_yields_fails_the_startup(app, kind):
    if kind == "sync":

        @app.while_serving
        def broken():
            if False:
                yield

    else:

        @app.while_serving
        async def broken():
            if False:
                yield

    server = LifespanServer()
    with pytest.raises(RuntimeError, match="ended without yielding"):
        server.run(app)
    assert server.sent[0]["type"] == "lifespan.startup.failed"


def test_while_serving_that_is_not_a_generator_fails_the_startup(app):
    @app.while_serving
    def not_a_generator():
        return None

    server = LifespanServer()
    with pytest.raises(TypeError, match="not a generator"):
        server.run(app)
    assert "generator function" in server.sent[0]["message"]


def test_while_serving_closed_when_a_later_startup_step_fails(app):
    events = []

    @app.while_serving
    async def pool():
        events.append("opened")
        try:
            yield
        finally:
            events.append("closed")

    @app.while_serving
    async def broken():
        raise RuntimeError("cache is down")
        yield

    server = LifespanServer()
    with pytest.raises(RuntimeError, match="cache is down"):
        server.run(app)
    assert server.sent[0]["type"] == "lifespan.startup.failed"
    assert events == ["opened", "closed"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_while_serving_yielding_twice_fails_the_shutdown_and_is_closed(app, kind, caplog):
    events = []

    if kind == "sync":

        @app.while_serving
        def twice():
            try:
                yield
                yield
            finally:
                events.append("closed")

    else:

        @app.while_serving
        async def twice():
            try:
                yield
                yield
            finally:
                events.append("closed")

    @app.after_serving
    def after():
        events.append("after_serving")

    server = LifespanServer()
    with pytest.raises(RuntimeError, match="yielded more than once"):
        server.run(app)
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.failed",
    ]
    # Closed, and the after_serving functions still ran.
    assert events == ["closed", "after_serving"]
    assert any("while_serving function" in r.getMessage() for r in caplog.records)


def test_async_app_context_code_runs_on_the_loop_at_startup_and_shutdown(app):
    # The lifespan's application context runs its user code as pipeline steps:
    # an async teardown_appcontext function (or appcontext signal receiver) made
    # every ASGI server's startup fail ("An async function was called from
    # synchronous code").
    events = []

    @app.teardown_appcontext
    async def close_db(exc):
        events.append(("teardown_appcontext", exc))

    async def pushed(sender, **kwargs):
        events.append("appcontext_pushed")

    async def popped(sender, **kwargs):
        events.append("appcontext_popped")

    @app.before_serving
    def start():
        events.append("before_serving")

    @app.after_serving
    async def stop():
        events.append("after_serving")

    server = LifespanServer()
    with (
        kolben.appcontext_pushed.connected_to(pushed, app),
        kolben.appcontext_popped.connected_to(popped, app),
    ):
        server.run(app)
    assert [m["type"] for m in server.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    serving = ["appcontext_pushed", None, ("teardown_appcontext", None), "appcontext_popped"]
    assert events == [
        *(e if e is not None else "before_serving" for e in serving),
        *(e if e is not None else "after_serving" for e in serving),
    ]


def test_a_task_resource_used_at_startup_is_released(app):
    events = []

    async def acquire():
        events.append("acquire")
        return "conn"

    async def commit(conn):
        events.append("commit")

    async def rollback(conn):
        events.append("rollback")

    async def release(conn):
        events.append("release")

    db = app.task_resource(
        "db", acquire=acquire, release=release, commit=commit, rollback=rollback
    )

    @app.before_serving
    async def warm_up():
        await db.aget()

    server = LifespanServer()
    server.run(app)
    assert server.sent[0]["type"] == "lifespan.startup.complete"
    assert events == ["acquire", "commit", "release"]


def test_a_failing_after_serving_function_does_not_skip_the_others(app, caplog):
    # Each one closes something (the broker's own close is the last one).
    closed = []

    @app.after_serving
    def first():
        closed.append("first")

    @app.after_serving
    async def broken():
        raise RuntimeError("could not flush")

    @app.after_serving
    def last():
        closed.append("last")

    server = LifespanServer()
    with (
        caplog.at_level(logging.ERROR, logger=app.logger.name),
        pytest.raises(RuntimeError, match="could not flush"),
    ):
        server.run(app)
    assert closed == ["first", "last"]
    assert server.sent[1]["type"] == "lifespan.shutdown.failed"
    assert "could not flush" in server.sent[1]["message"]
    assert any("after_serving function" in r.getMessage() for r in caplog.records)
    # Logged once with its traceback (not again for the shutdown as a whole).
    with_traceback = [r for r in caplog.records if r.exc_info is not None]
    assert len(with_traceback) == 1
    assert "could not flush" in str(with_traceback[0].exc_info[1])


@pytest.mark.skipif(
    sys.version_info < (3, 11),
    reason="the lifespan tells cancelled requests by Task.cancelling() (Python 3.11+)",
)
def test_shutdown_lets_cancelled_async_code_finish_first(app):
    # uvicorn, its graceful shutdown timed out, cancels the requests' tasks and
    # sends lifespan.shutdown at once (then ends the process): the cancelled
    # view's finally and the teardown functions await, and run before the
    # after_serving functions close what they use.
    events = []
    started = threading.Event()

    @app.route("/slow")
    async def slow():
        started.set()
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.05)
            events.append("view finally")
        return "late"

    @app.teardown_request
    async def teardown(exc):
        await asyncio.sleep(0.05)
        events.append(("teardown", type(exc).__name__))

    @app.after_serving
    def close_pool():
        events.append("after_serving")

    async def request_then_cancel():
        async def receive():
            await asyncio.sleep(30)

        async def send(message):
            pass

        task = asyncio.ensure_future(app(http_scope("/slow"), receive, send))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()

    server = LifespanServer()
    server.run(app, between=request_then_cancel)
    assert events == ["view finally", ("teardown", "CancelledError"), "after_serving"]
    assert server.sent[-1]["type"] == "lifespan.shutdown.complete"


def test_shutdown_lets_def_code_still_running_finish_first(app):
    # The server gave up on a request (its graceful shutdown timed out and it
    # cancelled the task): its def view, running in a worker thread, still
    # finishes, and its teardown runs, before the after_serving functions.
    events = []
    started = threading.Event()

    @app.teardown_request
    def teardown(exc):
        events.append("teardown")

    @app.after_serving
    def close_pool():
        events.append("after_serving")

    @app.route("/slow")
    def slow():
        started.set()
        time.sleep(0.3)
        events.append("view done")
        return "done"

    async def between():
        task = asyncio.ensure_future(app(http_scope("/slow"), Connection().receive, _drop))
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    server = LifespanServer()
    server.run(app, between)
    assert events == ["view done", "teardown", "after_serving"]
    assert app.worker_threads.busy == 0


async def _drop(message):
    pass


def test_a_request_finished_after_its_cancellation_still_sends_its_response(app):
    # A server's graceful shutdown timed out and cancelled the request while
    # its def view ran: the view finished (its work done, maybe committed), so
    # the response it made is sent before the cancellation goes on; the client
    # got a 500 from the server, and might have retried an order placed.
    started = threading.Event()

    @app.post("/order")
    def order():
        started.set()
        time.sleep(0.2)
        return "placed", 201

    sent = []

    async def record(message):
        sent.append(message)

    async def main():
        task = asyncio.ensure_future(
            app(http_scope("/order", method="POST"), Connection(body_messages(b"")).receive, record)
        )
        while not started.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 201
    assert sent[1]["body"] == b"placed"


async def cancel_while_reading(
    app: kolben.Kolben, scope: dict, conn: Connection, reading: threading.Event
) -> None:
    """Serve ``scope``, and cancel the request once its worker thread has been
    waiting for the rest of the body (``reading`` set, then a moment more): it
    ends with the cancellation within CALL_TIMEOUT."""
    task = asyncio.ensure_future(app(scope, conn.receive, conn.send))
    while not reading.is_set():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the thread waits for the rest of the body
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, CALL_TIMEOUT)


def test_a_cancelled_request_stops_its_thread_waiting_for_the_body(app):
    # A server's graceful shutdown timed out (uvicorn --timeout-graceful-shutdown,
    # hypercorn --graceful-timeout) and cancelled a request whose def view reads
    # a large body from a client that stopped sending: the worker thread stops
    # waiting for the client at once (the view sees it gone), rather than
    # holding the request, and the server's shutdown, for ASGI_BODY_TIMEOUT.
    app.config["ASGI_BODY_TIMEOUT"] = 10  # longer than the test waits
    reading = threading.Event()
    seen = []

    @app.post("/upload")
    def upload():
        reading.set()
        try:
            request.get_data()
        except Exception as e:
            seen.append(type(e).__name__)
            raise
        return "read"

    size = 4 * 1024 * 1024
    first = {"type": "http.request", "body": b"x" * (2 * 1024 * 1024), "more_body": True}
    conn = Connection([first])  # then the client sends nothing more, and stays
    scope = http_scope("/upload", method="POST", headers=[("Content-Length", str(size))])

    asyncio.run(cancel_while_reading(app, scope, conn, reading))
    assert seen == ["ClientDisconnected"]
    assert conn.sent == []  # the client is gone for the request: nothing is sent


def test_a_cancelled_request_stops_its_streamed_body_waiting_for_the_request_body(app):
    # The same for a sync streamed body that reads the request body as it
    # comes: cancelled while its worker thread waits for the client, the thread
    # stops waiting at once.
    app.config["ASGI_BODY_TIMEOUT"] = 10  # longer than the test waits
    reading = threading.Event()
    seen = []

    @app.post("/count")
    def count():
        @stream_with_context
        def gen():
            reading.set()
            try:
                while request.stream.read(65536):
                    pass
            except Exception as e:
                seen.append(type(e).__name__)
                raise
            yield "read"

        return kolben.Response(gen())

    first = {"type": "http.request", "body": b"x" * 70000, "more_body": True}
    conn = Connection([first])  # then the client sends nothing more, and stays
    scope = http_scope("/count", method="POST", headers=[("Content-Length", "4000000")])

    asyncio.run(cancel_while_reading(app, scope, conn, reading))
    assert seen == ["ClientDisconnected"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is Python 3.11+")
def test_a_timeout_around_a_request_finished_after_its_cancellation_is_a_timeout(app):
    # The cancellation that ends such a request is raised as it came: asyncio's
    # timeout (and TaskGroup) check its exact type.
    @app.route("/slow")
    def slow():
        time.sleep(0.2)
        return "done"

    sent = []

    async def record(message):
        sent.append(message)

    async def main():
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await app(http_scope("/slow"), Connection().receive, record)

    asyncio.run(main())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]


def test_serving_functions_are_setup_methods(app):
    @app.route("/")
    def index():
        return "x"

    app.test_client().get("/")
    with pytest.raises(AssertionError):
        app.before_serving(lambda: None)


# -- websocket ------------------------------------------------------------------------


def test_websocket_is_closed(app):
    """A websocket to no websocket route is refused: without the ASGI
    websocket.http.response extension, by closing before accepting (the server
    answers 403). WebSocket routes are tested in test_websocket.py."""
    sent = []
    incoming = [{"type": "websocket.connect"}]

    async def receive():
        if incoming:
            return incoming.pop(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "subprotocols": [],
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), CALL_TIMEOUT))
    assert len(sent) == 1
    assert sent[0]["type"] == "websocket.close"
    assert not incoming  # the connect message was read before refusing


# -- where views run ------------------------------------------------------------------


def test_async_view_runs_on_the_server_loop(app):
    seen = {}

    @app.route("/")
    async def index():
        seen["loop"] = asyncio.get_running_loop()
        await asyncio.sleep(0)
        seen["path"] = request.path  # the request survives the await
        return "async"

    async def main():
        conn = await acall(app, http_scope("/"), Connection())
        return conn, asyncio.get_running_loop()

    conn, loop = asyncio.run(main())
    assert conn.body == b"async"
    assert seen == {"loop": loop, "path": "/"}


def test_async_hooks_run_on_the_server_loop(app):
    loops = []

    @app.before_request
    async def before():
        loops.append(asyncio.get_running_loop())

    @app.after_request
    async def after(response):
        loops.append(asyncio.get_running_loop())
        response.headers["X-After"] = "yes"
        return response

    @app.route("/")
    def index():
        return "hooked"

    async def main():
        conn = await acall(app, http_scope("/"), Connection())
        return conn, asyncio.get_running_loop()

    conn, loop = asyncio.run(main())
    assert conn.header("x-after") == "yes"
    assert loops == [loop, loop]


def test_sync_view_runs_in_a_worker_thread(app):
    threads = []

    @app.route("/")
    def index():
        threads.append(threading.get_ident())
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return "no loop here"
        return "a loop is running here"

    conn = call(app, http_scope("/"))
    assert conn.body == b"no loop here"
    assert threads and threads[0] != threading.get_ident()  # asyncio.run's thread


def test_sync_view_does_not_block_the_loop(app):
    event = threading.Event()

    @app.route("/wait")
    def wait():
        # If this blocked the loop, /set could never run and this would time out.
        return "set" if event.wait(4) else "timed out"

    @app.route("/set")
    async def set_event():
        event.set()
        return "done"

    async def main():
        waiter = acall(app, http_scope("/wait"), Connection())
        setter = acall(app, http_scope("/set"), Connection())
        return await asyncio.wait_for(asyncio.gather(waiter, setter), 5)

    waited, setter = asyncio.run(main())
    assert waited.body == b"set"
    assert setter.body == b"done"


def test_concurrent_requests_keep_their_own_context(app):
    barrier = threading.Barrier(2, timeout=4)

    @app.route("/<name>")
    def echo(name):
        g.name = name
        barrier.wait()  # both requests are inside their views at once
        return {"g": g.name, "arg": request.view_args["name"]}

    async def main():
        return await asyncio.wait_for(
            asyncio.gather(
                acall(app, http_scope("/a"), Connection()),
                acall(app, http_scope("/b"), Connection()),
            ),
            5,
        )

    a, b = asyncio.run(main())
    assert a.json == {"g": "a", "arg": "a"}
    assert b.json == {"g": "b", "arg": "b"}


def test_send_failing_mid_stream_closes_the_generator(app, caplog):
    # Some servers report a vanished client by raising OSError from send().
    events = []

    @app.route("/stream")
    def stream():
        def generate():
            try:
                for i in range(100):
                    yield f"chunk {i}"
            finally:
                events.append("finally")

        return generate()

    class Vanishing(Connection):
        async def send(self, message):
            if message["type"] == "http.response.body" and len(self.body_parts) == 2:
                raise OSError("the client went away")
            await super().send(message)

    conn = call(app, http_scope("/stream"), Vanishing())
    assert [p["body"] for p in conn.body_parts] == [b"chunk 0", b"chunk 1"]
    assert events == ["finally"]
    assert conn.other_tasks == set()
    assert problems(caplog) == []


def test_empty_chunks_are_not_sent(app):
    @app.route("/stream")
    def stream():
        def generate():
            yield "a"
            yield ""
            yield b""
            yield "b"

        return generate()

    conn = call(app, http_scope("/stream"))
    _assert_streamed(conn, [b"a", b"b"])


@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_the_test_client_is_sent_empty_chunks_and_the_body_to_close(app, is_async):
    # Only for kolben's own test client (its scope key): empty chunks are
    # sent, and once the body is, a message handing over its closing, which
    # the client calls when the test closes the response (the door doesn't).
    # Without the key (above, and the last call here), servers are sent
    # neither, and the door closes the body.
    closed = []

    @app.route("/stream")
    def stream():
        if is_async:

            async def agen():
                yield "a"
                yield ""

            response = kolben.Response(agen())
        else:
            response = kolben.Response(iter(["a", ""]))
        response.call_on_close(lambda: closed.append(True))
        return response

    handed: list[t.Callable[[], t.Any]] = []

    async def take_close(close: t.Callable[[], t.Any]) -> None:
        handed.append(close)

    scope = {
        **http_scope("/stream"),
        kolben.asgi.TEST_CLIENT_KEY: lambda line: None,
        kolben.asgi.TEST_CLOSE_KEY: take_close,
    }
    conn = call(app, scope)
    assert conn.sent[1:] == [
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]
    assert closed == []
    assert len(handed) == 1
    handed[0]()
    assert closed == [True]
    conn = call(app, http_scope("/stream"))
    assert conn.sent[1:] == [
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]
    assert closed == [True, True]


def test_the_test_client_is_told_the_status_line(app):
    # ASGI's http.response.start has no reason phrase: only kolben's test
    # client (its scope key) is told the status line; a server is sent the same.
    @app.route("/")
    def index():
        return "x", "299 Custom Reason"

    told: list[str] = []
    conn = call(app, {**http_scope("/"), kolben.asgi.TEST_CLIENT_KEY: told.append})
    assert told == ["299 Custom Reason"]
    assert [m["type"] for m in conn.sent] == ["http.response.start", "http.response.body"]
    assert conn.status == 299


# -- an async view sees the whole pipeline -------------------------------------------


def test_async_view_in_blueprint_runs_blueprint_hooks(app):
    events = []
    parent = kolben.Blueprint("parent", __name__, url_prefix="/p")
    child = kolben.Blueprint("child", __name__, url_prefix="/c")

    @parent.before_request
    def parent_before():
        events.append("parent before")
        g.seen = ["parent"]

    @child.before_request
    async def child_before():
        events.append("child before")
        g.seen.append("child")

    @child.after_request
    def child_after(response):
        response.headers["X-Child"] = "after"
        return response

    @child.teardown_request
    def child_teardown(exc):
        events.append("child teardown")

    @child.route("/view")
    async def view():
        return {"seen": g.seen, "endpoint": request.endpoint, "blueprints": request.blueprints}

    @app.route("/plain")
    async def plain():
        return {"seen": getattr(g, "seen", None)}

    parent.register_blueprint(child)
    app.register_blueprint(parent)

    conn = call(app, http_scope("/p/c/view"))
    assert conn.status == 200
    assert conn.json == {
        "seen": ["parent", "child"],
        "endpoint": "parent.child.view",
        "blueprints": ["parent.child", "parent"],
    }
    assert conn.header("x-child") == "after"
    assert events == ["parent before", "child before", "child teardown"]

    events.clear()
    plain_conn = call(app, http_scope("/plain"))  # no blueprint hooks apply here
    assert plain_conn.json == {"seen": None}
    assert events == []


def test_async_view_with_url_value_preprocessor(app):
    @app.url_value_preprocessor
    def pull_lang(endpoint, values):
        g.lang = values.pop("lang", None) if values else None

    @app.route("/<lang>/page")
    async def page():
        return {"lang": g.lang}

    conn = call(app, http_scope("/de/page"))
    assert conn.status == 200
    assert conn.json == {"lang": "de"}


def test_async_view_with_teardown_appcontext(app):
    events = []

    @app.teardown_appcontext
    def teardown(exc):
        events.append(("teardown", exc))

    @app.route("/")
    async def index():
        return "ok"

    conn = call(app, http_scope("/"))
    assert conn.body == b"ok"
    assert events == [("teardown", None)]


def test_async_view_sends_signals(app):
    events = []

    def started(sender, **extra):
        events.append(("started", request.path))

    def finished(sender, response, **extra):
        events.append(("finished", response.status_code))

    @app.route("/")
    async def index():
        return "ok"

    with (
        kolben.request_started.connected_to(started, app),
        kolben.request_finished.connected_to(finished, app),
    ):
        conn = call(app, http_scope("/"))
    assert conn.body == b"ok"
    assert events == [("started", "/"), ("finished", 200)]


def test_async_view_session_is_saved(app):
    @app.route("/set")
    async def set_value():
        kolben.session["answer"] = 42
        return "set"

    @app.route("/get")
    async def get_value():
        return {"answer": kolben.session.get("answer")}

    first = call(app, http_scope("/set"))
    cookie = [v for k, v in first.header_list if k == "set-cookie"]
    assert len(cookie) == 1 and cookie[0].startswith("session=")
    second = call(app, http_scope("/get", headers=[("Cookie", cookie[0].split(";")[0])]))
    assert second.json == {"answer": 42}


def test_async_view_error_handlers(quiet_app, caplog):
    app = quiet_app

    class Custom(Exception):
        pass

    @app.errorhandler(Custom)
    def handle_custom(e):
        return {"handled": str(e)}, 418

    @app.errorhandler(404)
    def handle_404(e):
        return "custom 404", 404

    @app.route("/custom")
    async def custom():
        raise Custom("teapot")

    @app.route("/abort")
    async def aborting():
        kolben.abort(404)

    @app.route("/none")
    async def returns_none():
        return None

    conn = call(app, http_scope("/custom"))
    assert (conn.status, conn.json) == (418, {"handled": "teapot"})
    conn = call(app, http_scope("/abort"))
    assert (conn.status, conn.body) == (404, b"custom 404")
    # A view returning None is a server error that names the view.
    conn = call(app, http_scope("/none"))
    assert conn.status == 500
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(logged) == 1
    assert "returns_none" in str(logged[0].exc_info[1])


def test_async_view_raising_propagates_when_testing(app):
    @app.route("/boom")
    async def boom():
        raise ZeroDivisionError("boom")

    conn = Connection()
    with pytest.raises(ZeroDivisionError):
        call(app, http_scope("/boom"), conn)
    assert conn.sent == []


def test_async_view_options_and_method_not_allowed(app):
    @app.route("/thing", methods=["GET", "POST"])
    async def thing():
        return request.method

    conn = call(app, http_scope("/thing", method="OPTIONS"))
    assert conn.status == 200
    allowed = set(conn.header("allow").replace(" ", "").split(","))
    assert allowed == {"GET", "HEAD", "OPTIONS", "POST"}
    assert call(app, http_scope("/thing", method="DELETE")).status == 405
    assert call(app, http_scope("/thing", method="POST")).body == b"POST"
    head = call(app, http_scope("/thing", method="HEAD"))
    assert (head.status, head.body, head.header("content-length")) == (200, b"", "4")


def test_async_view_with_subclassed_app():
    calls = []

    class Tracing(kolben.Kolben):
        def dispatch_request(self):
            calls.append(request.path)
            return super().dispatch_request()

    app = Tracing("tracing")

    @app.route("/")
    async def index():
        return "traced"

    conn = call(app, http_scope("/"))
    assert conn.body == b"traced"
    assert calls == ["/"]


@pytest.mark.parametrize(
    "override",
    ["full_dispatch_request", "dispatch_request", "preprocess_request", "ensure_sync"],
)
@pytest.mark.parametrize("reader", ["view", "hook"])
def test_async_code_called_by_an_override_reads_a_body_past_the_first_mib(
    client_for, override, reader
):
    # An override runs in a worker thread and calls the async view (or hook)
    # through ensure_sync, on the loop (an own ensure_sync runs it so from the
    # request's thread too): the view must find its whole body there,
    # as without the override (found by the two-door differential fuzzer).
    def through(self, *args):
        return getattr(kolben.Kolben, override)(self, *args)

    app = type("Overriding", (kolben.Kolben,), {override: through})("overriding")
    sizes = []

    if reader == "hook":

        @app.before_request
        async def hook():
            sizes.append(len(request.get_data()))

    @app.post("/size")
    async def size():
        sizes.append(len(request.get_data()))
        return str(sizes)

    rv = client_for(app).post("/size", data=b"x" * (1536 * 1024))
    assert rv.status_code == 200
    assert sizes == [1536 * 1024] * (2 if reader == "hook" else 1)


def test_async_view_called_by_an_override_reads_a_large_chunked_body():
    class Overriding(kolben.Kolben):
        def full_dispatch_request(self):
            return super().full_dispatch_request()

    app = Overriding("overriding")

    @app.post("/size")
    async def size():
        return str(len(request.get_data()))

    scope = http_scope("/size", method="POST", headers=[("Transfer-Encoding", "chunked")])
    conn = call(app, scope, Connection(body_messages(*_big_chunks())))
    assert (conn.status, conn.body) == (200, str(10 * 1024 * 1024).encode())


@pytest.mark.parametrize("view_kind", ["def", "async"])
def test_wsgi_middleware_iterating_an_async_body(client_for, view_kind):
    # WSGI middleware on app.wsgi_app that iterates the app's body (as many
    # do) gets an async generator body as a sync iterable under
    # both doors; under ASGI it was a TypeError (found by the two-door
    # differential fuzzer).
    app = kolben.Kolben("mw")
    calls = []

    async def chunks():
        yield request.path
        yield str(g.x)

    def body():
        g.x = 1
        response = app.response_class(stream_with_context(chunks()))
        response.call_on_close(lambda: calls.append("closed"))
        return response

    async def abody():
        return body()

    app.add_url_rule("/s", "s", abody if view_kind == "async" else body)
    inner = app.wsgi_app

    def middleware(environ, start_response):
        app_iter = inner(environ, start_response)

        def wrapped():
            try:
                for chunk in app_iter:
                    yield chunk.upper()
            finally:
                app_iter.close()
                calls.append("middleware closed")

        return wrapped()

    app.wsgi_app = middleware
    rv = client_for(app).get("/s")
    assert (rv.status_code, rv.get_data()) == (200, b"/S1")
    rv.close()
    assert calls == ["closed", "middleware closed"]


def test_async_view_with_async_error_handler(quiet_app):
    app = quiet_app

    @app.errorhandler(LookupError)
    async def handle_lookup(e):
        await asyncio.sleep(0)
        return {"missing": e.args[0], "loop": asyncio.get_running_loop() is loops[0]}, 404

    loops = []

    @app.route("/item/<int:n>")
    async def item(n):
        loops.append(asyncio.get_running_loop())
        raise LookupError(n)

    conn = call(app, http_scope("/item/7"))
    assert conn.status == 404
    assert conn.json == {"missing": 7, "loop": True}


def test_async_view_with_custom_session_interface(app):
    class Counting(kolben.sessions.SecureCookieSessionInterface):
        saves = 0

        def save_session(self, app, session, response):
            Counting.saves += 1
            super().save_session(app, session, response)

    app.session_interface = Counting()

    @app.route("/")
    async def index():
        kolben.session["x"] = 1
        return "ok"

    conn = call(app, http_scope("/"))
    assert conn.body == b"ok"
    assert Counting.saves == 1
    assert any(k == "set-cookie" for k, _ in conn.header_list)


def test_lazy_body_read_in_small_pieces(app):
    # The view reads past the app's limit in reads smaller than the chunks received.
    app.config["MAX_CONTENT_LENGTH"] = 100
    chunks = [bytes([65 + i]) * 500 for i in range(3)]

    @app.post("/upload")
    def upload():
        request.max_content_length = 10_000
        pieces = []
        while piece := request.stream.read(64):
            assert len(piece) <= 64
            pieces.append(piece)
        data = b"".join(pieces)
        return {"length": len(data), "ok": data == b"".join(chunks)}

    scope = http_scope("/upload", method="POST", headers=[("Content-Length", "1500")])
    conn = call(app, scope, Connection(body_messages(*chunks)))
    assert conn.status == 200
    assert conn.json == {"length": 1500, "ok": True}


def test_disconnect_before_any_body(app, caplog):
    called = []

    @app.route("/", methods=["POST"])
    def index():
        called.append(True)
        return "never"

    scope = http_scope("/", method="POST", headers=[("Content-Length", "10")])
    conn = call(app, scope, Connection([], then_disconnect=True))
    # Routing comes before the body: the view runs (as under WSGI), and the door
    # sends nothing to a client it saw leave.
    assert conn.sent == []
    assert called == [True]
    assert conn.receive_calls == 1
    assert conn.other_tasks == set()
    assert problems(caplog) == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_bodiless_http1_request_is_served_without_receiving(app, caplog, method):
    # No Content-Length or Transfer-Encoding: an HTTP/1 GET has no body (RFC 9112),
    # so the view runs without a receive() first.
    @app.route("/")
    def index():
        return {"data": request.get_data(as_text=True)}

    conn = call(app, http_scope("/", method=method), Connection([], then_disconnect=True))
    assert conn.status == 200
    assert conn.receive_calls == 0
    assert problems(caplog) == []


@pytest.mark.parametrize(
    ("method", "headers", "http_version"),
    [
        ("POST", [], "1.1"),  # a transport that left the framing headers out
        ("GET", [("Content-Length", "4")], "1.1"),
        ("GET", [("Transfer-Encoding", "chunked")], "1.1"),
        ("GET", [], "2"),  # HTTP/2 frames a body without either header
    ],
)
def test_a_request_that_may_carry_a_body_is_received(app, method, headers, http_version):
    @app.route("/", methods=["GET", "POST"])
    def index():
        return {"data": request.get_data(as_text=True)}

    scope = http_scope("/", method=method, headers=headers)
    scope["http_version"] = http_version
    conn = call(app, scope, Connection(body_messages(b"da", b"ta")))
    assert conn.status == 200
    assert conn.json == {"data": "data"}


def test_single_message_body_past_limit_is_413(app, view_kind):
    _data_app(app, view_kind)
    app.config["MAX_CONTENT_LENGTH"] = 100
    scope = http_scope("/data", method="POST", headers=[("Content-Type", "text/plain")])
    conn = call(app, scope, Connection(body_messages(b"x" * 1000)))
    assert conn.status == 413


def test_asgi_test_client_uses_the_apps_test_client_class(app):
    """An extension's client class (Flask-Login's FlaskLoginClient works this way)
    keeps its behaviour when requests go through the ASGI door."""

    class UserClient(kolben.testing.KolbenClient):
        def __init__(self, *args, user=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.user = user

        def open(self, *args, **kwargs):
            headers = dict(kwargs.pop("headers", None) or {})
            if self.user:
                headers["X-User"] = self.user
            return super().open(*args, headers=headers, **kwargs)

    app.test_client_class = UserClient

    @app.route("/")
    async def index():
        return kolben.request.headers.get("X-User", "nobody")

    client = app.asgi_test_client(user="ada")
    assert isinstance(client, UserClient)
    assert isinstance(client, KolbenASGIClient)
    assert client.get("/").text == "ada"


def test_websocket_upgrade_over_plain_http_is_answered_426(app):
    """A server without WebSocket support (uvicorn --ws none) passes the upgrade on
    as an HTTP request: the websocket view does not run, the answer says why."""
    ran = []

    @app.websocket("/ws")
    async def ws():
        ran.append(True)

    scope = http_scope(
        "/ws", headers=[("connection", "Upgrade"), ("upgrade", "websocket")]
    )
    conn = call(app, scope)
    assert conn.status == 426
    assert ran == []


def test_granians_http_version_of_http_1_0(app):
    """granian's scope says ``"1"`` for an HTTP/1.0 request (the ASGI spec:
    ``"1.0"``): the environ's ``SERVER_PROTOCOL`` is ``HTTP/1.0``, and a GET
    without framing headers has no body (nothing is waited for)."""

    @app.route("/", methods=["GET", "POST"])
    async def index():
        return request.environ["SERVER_PROTOCOL"]

    scope = http_scope("/")
    scope["http_version"] = "1"
    conn = call(app, scope, Connection([]))  # no http.request message: none waited for
    assert conn.body == b"HTTP/1.0"
    scope = http_scope("/", method="POST", headers=[("Content-Length", "0")])
    scope["http_version"] = "1"
    assert call(app, scope).body == b"HTTP/1.0"


class SlowConnection(Connection):
    """A client whose body arrives in several messages, a little apart."""

    async def receive(self) -> Message:
        await asyncio.sleep(0.01)
        return await super().receive()


@pytest.mark.parametrize("view_kind", ["sync", "async"])
def test_a_streamed_response_reading_the_body_gets_all_of_it(app, view_kind):
    """The door watches for a disconnect while it streams; messages of a body not
    yet received go to the body's readers, not to the watcher."""
    if view_kind == "sync":

        @app.post("/s")
        def stream():
            def chunks():
                yield "start;"
                yield "got=" + request.get_data(as_text=True)

            return kolben.stream_with_context(chunks())

    else:

        @app.post("/s")
        @kolben.stream_request_body
        async def stream():
            async def chunks():
                yield "start;"
                parts = [chunk async for chunk in request.iter_body()]
                yield "got=" + b"".join(parts).decode()

            return kolben.stream_with_context(chunks())

    conn = call(
        app,
        http_scope("/s", method="POST", headers=[("Content-Length", "9")]),
        SlowConnection(body_messages(b"aaa", b"bbb", b"ccc")),
    )
    assert conn.status == 200
    assert conn.body == b"start;got=aaabbbccc"


def test_a_streamed_response_reading_a_large_body_as_it_comes_gets_all_of_it(app):
    """A sync body reading a large request body as it comes (uvicorn's and
    hypercorn's messages are not sized to divide 1 MiB): the door's disconnect
    watcher, which keeps what arrives for the body's readers, waits for them to
    make room for a message rather than dropping it (a 413) while they read."""
    sizes = []

    @app.post("/count")
    def count():
        @kolben.stream_with_context
        def gen():
            total = 0
            while True:
                chunk = request.stream.read(65536)
                if not chunk:
                    break
                total += len(chunk)
            sizes.append(total)
            yield f"total {total}"

        return kolben.Response(gen())

    chunks = [b"q" * 70000] * 45  # 3 MB, more than WATCH_KEEP_LIMIT
    for headers in ([("Transfer-Encoding", "chunked")], [("Content-Length", "3150000")]):
        conn = call(
            app,
            http_scope("/count", method="POST", headers=headers),
            Connection(body_messages(*chunks)),
        )
        assert conn.status == 200
        assert conn.body == b"total 3150000"
    assert sizes == [3150000, 3150000]


def test_automatic_options_with_the_client_kept_answers(app):
    """An empty streamed answer (automatic OPTIONS) with ``with client:``: the
    body left for the test client is received, not waited for forever."""

    @app.route("/x")
    def x():
        return "ok"

    answers: list[int] = []

    def run() -> None:
        with app.asgi_test_client() as client:
            answers.append(client.options("/x").status_code)
            answers.append(client.options("/x", data=b"payload").status_code)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "the request hung"
    assert answers == [200, 200]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is Python 3.11+")
def test_shutdown_does_not_wait_for_a_cancelled_task_that_waits_for_it(app):
    # A driver stopped by cancellation runs the lifespan shutdown while it unwinds
    # (hypercorn's worker_serve finally block, a test under asyncio.timeout): it
    # is cancelled and not done, but it is not a request of this app.
    closed = []
    answers = []
    app.after_serving(lambda: closed.append(True))

    async def main():
        q_in, q_out = asyncio.Queue(), asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        lifespan = asyncio.ensure_future(app(scope, q_in.get, q_out.put))
        await q_in.put({"type": "lifespan.startup"})
        assert (await q_out.get())["type"] == "lifespan.startup.complete"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.05):
                try:
                    await asyncio.sleep(10)
                finally:
                    await q_in.put({"type": "lifespan.shutdown"})
                    done, _ = await asyncio.wait([asyncio.ensure_future(q_out.get())], timeout=5)
                    answers.extend(task.result()["type"] for task in done)
        await lifespan

    asyncio.run(main())
    assert answers == ["lifespan.shutdown.complete"]
    assert closed == [True]


def test_an_async_body_that_never_waits_stops_when_the_client_leaves(app):
    # granian and hypercorn neither raise nor suspend in send() once the client
    # is gone: a body that awaits nothing else was pumped to its end (an endless
    # one hung the worker) without the disconnect watcher ever running.
    finished = []

    @app.route("/flood")
    async def flood():
        async def body():
            try:
                for _ in range(200_000):
                    yield b"x"
                finished.append("end reached")
            finally:
                finished.append("closed")

        return body()

    async def main():
        async def receive():
            await asyncio.sleep(0.01)  # the client leaves once the body is going
            return {"type": "http.disconnect"}

        async def send(message):
            pass  # a server that neither raises nor suspends

        await asyncio.wait_for(app(http_scope("/flood"), receive, send), 30)

    asyncio.run(main())
    assert finished == ["closed"]


# -- one thread for a request's sync code ----------------------------------------------


class _SlowSend(Connection):
    """A client that takes its time with each body chunk (other requests run)."""

    async def send(self, message: Message) -> None:
        await super().send(message)
        if message["type"] == "http.response.body":
            await asyncio.sleep(0.001)


def test_a_requests_sync_code_runs_in_one_thread_around_async_steps(app: kolben.Kolben) -> None:
    """As under a WSGI server: the sync view, the sync teardown after an async
    after_request, and every chunk of a sync generator body run in the request's
    one thread, with more requests at once than the pool has threads (a SQLite
    connection kept in g is closed in the thread that made it)."""
    import threading

    from kolben import g

    app.config["ASGI_WORKER_THREADS"] = 3
    mismatches: list[str] = []

    @app.before_request
    def remember_thread() -> None:
        g.thread = threading.get_ident()

    @app.after_request
    async def stamp(response: kolben.Response) -> kolben.Response:
        await asyncio.sleep(0.001)
        return response

    @app.teardown_request
    def check_thread(exc: BaseException | None) -> None:
        if g.thread != threading.get_ident():
            mismatches.append("teardown")

    @app.route("/")
    def index() -> str:
        return "ok"

    @app.route("/stream")
    def stream() -> t.Iterator[str]:
        view_thread = threading.get_ident()

        def chunks() -> t.Iterator[str]:
            for _ in range(3):
                yield "S" if threading.get_ident() == view_thread else "O"

        return chunks()

    async def main() -> list[str]:
        conns = [_SlowSend() for _ in range(12)]
        await asyncio.gather(
            *(acall(app, http_scope("/stream" if i % 2 else "/"), c) for i, c in enumerate(conns))
        )
        return [c.text for c in conns]

    texts = asyncio.run(main())
    assert texts == ["ok", "SSS"] * 6
    assert mismatches == []
    pool = app.worker_threads
    assert pool.busy == 0 and not pool._waiting


def test_a_wsgi_middleware_body_is_read_in_the_thread_that_made_it(app: kolben.Kolben) -> None:
    import threading

    def middleware(wsgi_app: t.Any) -> t.Any:
        def call(environ: t.Any, start_response: t.Any) -> t.Iterator[bytes]:
            made_in = threading.get_ident()
            start_response("200 OK", [("Content-Type", "text/plain")])
            for _ in range(3):
                yield b"S" if threading.get_ident() == made_in else b"O"

        return call

    app.wsgi_app = middleware(app.wsgi_app)  # type: ignore[method-assign]

    async def main() -> list[str]:
        conns = [_SlowSend() for _ in range(6)]
        await asyncio.gather(*(acall(app, http_scope("/"), c) for c in conns))
        return [c.text for c in conns]

    assert asyncio.run(main()) == ["SSS"] * 6


def test_wsgi_middleware_that_never_starts_a_response_is_an_error(app: kolben.Kolben) -> None:
    def middleware(wsgi_app: t.Any) -> t.Any:
        def call(environ: t.Any, start_response: t.Any) -> list[bytes]:
            return [b"no status"]

        return call

    app.wsgi_app = middleware(app.wsgi_app)  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="without calling start_response"):
        call(app, http_scope("/"))


def test_a_requests_thread_is_given_back_after_an_error_or_a_failing_close(app):
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.before_request
    def before():
        pass

    @app.route("/boom")
    async def boom():
        raise ValueError("boom")

    class Body:
        def __iter__(self):
            yield b"a"

        def close(self):
            raise OSError("close failed")

    @app.route("/badclose")
    def badclose():
        return app.response_class(Body())

    for path in ("/boom", "/badclose"):
        with pytest.raises((ValueError, OSError)):
            call(app, http_scope(path))
    pool = app.worker_threads
    deadline = time.monotonic() + CALL_TIMEOUT
    while pool._idle != pool.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not pool._waiting
    assert pool._idle == pool.threads


def test_a_task_an_async_view_starts_does_not_take_the_requests_thread(app):
    release = threading.Event()
    tasks = set()

    @app.before_request
    def before():
        pass

    @app.route("/")
    async def view():
        async def background():
            loop = asyncio.get_running_loop()
            await app.worker_threads.run(loop, lambda: release.wait(2 * CALL_TIMEOUT))

        tasks.add(asyncio.create_task(background()))
        await asyncio.sleep(0)
        return "ok"

    @app.teardown_request
    def teardown(exc):
        release.set()  # the background call waits for the request to end

    async def main():
        conn = await acall(app, http_scope("/"), Connection())
        await asyncio.wait_for(asyncio.gather(*tasks), 3 * CALL_TIMEOUT)
        return conn

    conn = asyncio.run(main())
    assert conn.sent[0]["status"] == 200


def test_wsgi_middleware_answering_with_write_works_under_both_doors(
    app: kolben.Kolben, client: kolben.testing.KolbenClient
) -> None:
    """A WSGI middleware that answers with the ``write()`` callable ``start_response``
    returned (PEP 3333: what it writes comes before the body it returns) is served
    under the ASGI door as under WSGI (the Flask docs' middleware examples run
    under both)."""

    def refuse_with_write(wsgi_app: t.Any) -> t.Any:
        def middleware(environ: t.Any, start_response: t.Any) -> t.Any:
            if environ.get("HTTP_X_BLOCK"):
                write = start_response("403 FORBIDDEN", [("Content-Type", "text/plain")])
                write(b"blocked-")
                write(b"by-middleware ")
                return [b"returned"]
            if environ.get("HTTP_X_GEN"):
                # A generator: start_response (and write) run at its first step.
                def body() -> t.Iterator[bytes]:
                    write = start_response("200 OK", [("Content-Type", "text/plain")])
                    write(b"w ")
                    yield b"a "
                    yield b"b"

                return body()
            return wsgi_app(environ, start_response)

        return middleware

    app.wsgi_app = refuse_with_write(app.wsgi_app)  # type: ignore[method-assign]

    @app.route("/")
    def index() -> str:
        return "the app"

    refused = client.get("/", headers={"X-Block": "1"})
    assert refused.status_code == 403
    assert refused.get_data() == b"blocked-by-middleware returned"
    generated = client.get("/", headers={"X-Gen": "1"})
    assert generated.get_data() == b"w a b"
    assert client.get("/").get_data() == b"the app"


def test_wsgi_write_after_the_body_was_returned_is_a_clear_error(
    app: kolben.Kolben,
) -> None:
    """Under the ASGI door, write() called while the returned body is sent can't
    be put before it: an error that says so, not data silently dropped."""
    errors: list[BaseException] = []

    def late_write(wsgi_app: t.Any) -> t.Any:
        def middleware(environ: t.Any, start_response: t.Any) -> t.Any:
            write = start_response("200 OK", [("Content-Type", "text/plain")])

            def body() -> t.Iterator[bytes]:
                yield b"a"
                try:
                    write(b"late")
                except RuntimeError as e:
                    errors.append(e)

            return body()

        return middleware

    app.wsgi_app = late_write(app.wsgi_app)  # type: ignore[method-assign]
    assert app.asgi_test_client().get("/").get_data() == b"a"
    assert len(errors) == 1
    assert "after the WSGI application returned its body" in str(errors[0])


def test_wsgi_start_response_with_exc_info_after_write_raises_again(
    app: kolben.Kolben, client: kolben.testing.KolbenClient
) -> None:
    """PEP 3333: once write() was called the headers count as sent, so a later
    ``start_response(..., exc_info)`` raises the error again (as WSGI servers
    do) rather than putting a 500 status on the output already written."""

    def middleware(environ: t.Any, start_response: t.Any) -> t.Any:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial ")
        try:
            raise KeyError("boom")
        except KeyError:
            start_response("500 INTERNAL SERVER ERROR", [], sys.exc_info())
            return [b"error page"]

    app.wsgi_app = middleware  # type: ignore[method-assign]
    with pytest.raises(KeyError, match="boom"):
        client.get("/")


# -- a bodiless GET under a server: every way through the door ------------------------


class _OwnRequest(kolben.Request):
    """A request class of the app's own, made from an environ (not the scope)."""

    def __init__(self, environ: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(environ, *args, **kwargs)
        self.made_from_environ = True


def _bodiless_app(app: kolben.Kolben, kind: str) -> None:
    """Give ``app`` a ``/`` of one ``kind`` (see the test below)."""
    if kind == "async view":

        @app.route("/")
        async def index():
            return "async " + request.path

    elif kind in ("sync view", "own request class", "wsgi middleware"):

        @app.route("/")
        def index():
            return "sync " + request.path

        if kind == "own request class":
            app.request_class = _OwnRequest
        elif kind == "wsgi middleware":
            app.wsgi_app = ProxyFix(app.wsgi_app)  # type: ignore[method-assign]

    elif kind == "async hooks, sync view, async teardown":

        @app.before_request
        async def first():
            await asyncio.sleep(0)
            g.seen = ["before"]

        @app.route("/")
        def index():
            g.seen.append("view")
            return "/".join(g.seen)

        @app.after_request
        async def after(response):
            response.headers["X-After"] = "yes"
            return response

        @app.teardown_request
        async def down(error):
            await asyncio.sleep(0)

    elif kind == "sync stream":

        @app.route("/")
        def index():
            def chunks():
                yield "sync "
                yield "stream"

            return chunks()

    elif kind == "async stream":

        @app.route("/")
        async def index():
            async def chunks():
                yield "async "
                yield "stream"

            return chunks()

    elif kind == "async view awaiting":

        @app.route("/")
        async def index():
            await asyncio.sleep(0.001)  # the request suspends: not answered eagerly
            return "awaited"


_BODILESS_KINDS = {
    "async view": "async /",
    "sync view": "sync /",
    "own request class": "sync /",
    "wsgi middleware": "sync /",
    "async hooks, sync view, async teardown": "before/view",
    "sync stream": "sync stream",
    "async stream": "async stream",
    "async view awaiting": "awaited",
}


@pytest.mark.parametrize("kind", list(_BODILESS_KINDS))
def test_a_bodiless_get_under_a_server_takes_any_of_the_doors_paths(app, kind):
    # A GET without a body, from a server (no test client's scope keys): the
    # door's shortest path, or the general one, gives the same answer, and
    # leaves no thread busy nor task behind.
    _bodiless_app(app, kind)
    conn = call(app, http_scope("/"))
    assert (conn.status, conn.text) == (200, _BODILESS_KINDS[kind])
    assert conn.other_tasks == set()
    head = call(app, http_scope("/", method="HEAD"))
    assert (head.status, head.body) == (200, b"")
    assert head.header("Content-Length") == conn.header("Content-Length")
    if kind.startswith("async hooks"):
        assert conn.header("X-After") == "yes"
    deadline = time.monotonic() + CALL_TIMEOUT
    while app.worker_threads.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.worker_threads.busy == 0


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_bodiless_get_whose_view_raises_under_a_server(app, kind, caplog):
    # TESTING propagates the error out of the door (nothing sent); without it, a
    # 500 is sent and the next request is served.
    if kind == "async":

        @app.route("/boom")
        async def boom():
            raise ZeroDivisionError("boom")

    else:

        @app.route("/boom")
        def boom():
            raise ZeroDivisionError("boom")

    @app.route("/ok")
    async def ok():
        return "ok"

    conn = Connection()
    with pytest.raises(ZeroDivisionError):
        call(app, http_scope("/boom"), conn)
    assert conn.sent == []
    app.config["TESTING"] = False
    with caplog.at_level(logging.CRITICAL):
        assert call(app, http_scope("/boom")).status == 500
    assert call(app, http_scope("/ok")).text == "ok"
    deadline = time.monotonic() + CALL_TIMEOUT
    while app.worker_threads.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert app.worker_threads.busy == 0
