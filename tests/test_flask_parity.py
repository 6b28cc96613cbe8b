"""Behaviours found different from Flask 3.1 by side-by-side runs of the same code
(each test states what Flask does; each failed before its fix)."""

from __future__ import annotations

import re
import typing as t

import pytest
from werkzeug.exceptions import HTTPException

import kolben
from kolben.globals import _cv_app
from kolben.json.tag import TaggedJSONSerializer


def test_copied_request_context_shares_an_unopened_session(
    client_for: t.Callable[..., t.Any],
) -> None:
    """Flask hands the copy the request's session object, also when the view has
    not touched it yet: what the copied function writes is saved."""
    app = kolben.Kolben(__name__)
    app.secret_key = "parity"

    @app.route("/")
    def index() -> str:
        kolben.copy_current_request_context(
            lambda: kolben.session.__setitem__("written", 1)
        )()
        return repr(dict(kolben.session))

    client = client_for(app)
    response = client.get("/")
    assert response.data == b"{'written': 1}"
    assert "session=" in response.headers.get("Set-Cookie", "")
    with client.session_transaction() as sess:
        assert sess["written"] == 1


@pytest.mark.parametrize("status", [99, 0])
def test_a_status_below_100_keeps_its_body(status: int) -> None:
    """werkzeug drops the body of 1xx, 204 and 304 responses only (the WSGI
    door's case: an ASGI server refuses a status below 100)."""
    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> tuple[str, int]:
        return "body", status

    response = app.test_client().get("/")
    assert response.status_code == status
    assert response.data == b"body"
    assert response.headers["Content-Length"] == "4"


def test_an_exception_class_description_changed_later_shows(
    client_for: t.Callable[..., t.Any],
) -> None:
    class Gone(HTTPException):
        code = 410
        description = "first description"

    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> str:
        raise Gone()

    client = client_for(app)
    assert b"first description" in client.get("/").data
    Gone.description = "second description"
    assert b"second description" in client.get("/").data


@pytest.mark.parametrize(
    ("setting", "value"), [("host_matching", True), ("default_subdomain", "www")]
)
def test_url_map_settings_changed_after_the_first_request_apply(
    client_for: t.Callable[..., t.Any], setting: str, value: t.Any
) -> None:
    """Flask binds a new adapter per request, so a map setting changed later
    applies to the next request (here: the rule no longer matches)."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/x", "x", lambda: "x")
    client = client_for(app)
    assert client.get("/x").status_code == 200
    setattr(app.url_map, setting, value)
    assert client.get("/x").status_code == 404


def test_error_handler_keys_are_checked_as_flask_checks_them() -> None:
    app = kolben.Kolben(__name__)
    # Not a class: the TypeError of Flask's issubclass() test.
    with pytest.raises(TypeError, match="must be a class"):
        app.register_error_handler("404", lambda e: "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is an instance, not a class"):
        app.register_error_handler(KeyError(), lambda e: "x")  # type: ignore[arg-type]
    # A BaseException that is not an Exception is refused, as in Flask.
    with pytest.raises(ValueError, match="'KeyboardInterrupt' is not a subclass of Exception"):
        app.register_error_handler(KeyboardInterrupt, lambda e: "x")
    with pytest.raises(ValueError, match="not a recognized HTTP error code"):
        app.register_error_handler(999, lambda e: "x")


def test_flask_messages_of_setup_errors() -> None:
    app = kolben.Kolben(__name__)
    app.add_url_rule("/a", "dup", lambda: "a")
    with pytest.raises(AssertionError, match="existing endpoint function: dup"):
        app.add_url_rule("/b", "dup", lambda: "b")
    with pytest.raises(TypeError, match=r'methods=\["POST"\]'):
        app.add_url_rule("/c", "c", lambda: "c", methods="GET")
    with app.app_context(), pytest.raises(
        TypeError, match=r"app.json.response\(\) takes either args or kwargs, not both"
    ):
        kolben.jsonify(1, a=1)


def test_static_helpers_outside_a_context_raise_flasks_runtime_error(tmp_path: t.Any) -> None:
    (tmp_path / "static").mkdir()
    app = kolben.Kolben(__name__, static_folder=str(tmp_path / "static"))
    with pytest.raises(RuntimeError, match="application context"):
        app.get_send_file_max_age("x.txt")
    with pytest.raises(RuntimeError, match="application context"):
        app.send_static_file("x.txt")


def test_contexts_popped_out_of_order_leave_what_flask_leaves() -> None:
    app = kolben.Kolben(__name__)
    outer = app.app_context()
    outer.push()
    inner = app.app_context()
    inner.push()
    with pytest.raises(AssertionError):
        outer.pop()  # resets to before the outer push, then complains
    with pytest.raises(LookupError):
        inner.pop()  # nothing is active: nothing reset
    assert not kolben.has_app_context()
    assert _cv_app.get(None) is None

    with pytest.raises(LookupError):
        app.app_context().pop()  # never pushed, none active
    with pytest.raises(LookupError):
        app.test_request_context().pop()

    outer_req = app.test_request_context()
    outer_req.push()
    inner_req = app.test_request_context()
    inner_req.push()
    with pytest.raises(AssertionError):
        outer_req.pop()
    with pytest.raises(LookupError):
        inner_req.pop()
    assert not kolben.has_request_context()
    assert not kolben.has_app_context()


def test_a_tagged_datetime_werkzeug_cannot_parse_loads_as_none() -> None:
    assert TaggedJSONSerializer().loads('{" d": "garbage"}') is None


def _starts(text: str) -> str:
    """A ``match=`` pattern for a message that begins with ``text``."""
    return "^" + re.escape(text)


def test_setup_errors_begin_with_flasks_words(client_for: t.Callable[..., t.Any]) -> None:
    """Each message starts with Flask 3.1's text (a test matching it passes);
    kolben's hint follows."""
    with pytest.raises(ValueError, match=_starts("'name' may not be empty.")):
        kolben.Blueprint("", __name__)
    with pytest.raises(ValueError, match=_starts("'name' may not contain a dot '.' character")):
        kolben.Blueprint("a.b", __name__)
    bp = kolben.Blueprint("bp", __name__)
    with pytest.raises(ValueError, match=_starts("Cannot register a blueprint on itself")):
        bp.register_blueprint(bp)
    with pytest.raises(ValueError, match=_starts("'endpoint' may not contain a dot '.' character")):
        bp.add_url_rule("/x", "a.b", lambda: "x")

    def dotted() -> str:
        return "x"

    dotted.__name__ = "a.b"
    with pytest.raises(
        ValueError, match=_starts("'view_func' name may not contain a dot '.' character")
    ):
        bp.add_url_rule("/y", view_func=dotted)

    app = kolben.Kolben(__name__)
    app.register_blueprint(bp)
    with pytest.raises(
        ValueError,
        match=_starts("The name 'bp' is already registered for this blueprint. Use 'name=' to"
        " provide a unique name"),
    ):
        app.register_blueprint(bp)
    with pytest.raises(
        AssertionError,
        match=_starts("The setup method 'route' can no longer be called on the blueprint 'bp'. It"
        " has already been registered at least once, any changes will not be applied"
        " consistently.\nMake sure all imports, decorators, functions, etc. needed to set"
        " up the blueprint are done before registering it"),
    ):
        bp.route("/z")(lambda: "z")
    app.add_url_rule("/", "index", lambda: "x")
    client_for(app).get("/")
    with pytest.raises(
        AssertionError,
        match=_starts("The setup method 'add_url_rule' can no longer be called on the application."
        " It has already handled its first request, any changes will not be applied"
        " consistently.\nMake sure all imports, decorators, functions, etc. needed to set"
        " up the application are done before running it"),
    ):
        app.add_url_rule("/late", "late", lambda: "x")


class _ChecksumStream:
    """Flask's "Request Content Checksums" pattern: a ``wsgi.input`` wrapper
    whose ``read`` takes the size werkzeug's limited stream passes."""

    def __init__(self, stream: t.Any) -> None:
        self._stream = stream
        self.seen = b""

    def read(self, size: int) -> bytes:
        data: bytes = self._stream.read(size)
        self.seen += data
        return data

    def readline(self, size: int) -> bytes:
        data: bytes = self._stream.readline(size)
        self.seen += data
        return data


def test_a_wrapped_wsgi_input_is_read_with_sizes(client_for: t.Callable[..., t.Any]) -> None:
    """A body with a Content-Length is read through a stream limited to it, so
    the docs' checksum wrapper (``read(size)``) works on both doors."""
    app = kolben.Kolben(__name__)

    @app.post("/sum")
    def checksum() -> str:
        stream = _ChecksumStream(kolben.request.environ["wsgi.input"])
        kolben.request.environ["wsgi.input"] = stream
        data = kolben.request.get_data()
        return f"{data!r} {stream.seen!r}"

    response = client_for(app).post("/sum", data=b"hello")
    assert response.status_code == 200
    assert response.text == "b'hello' b'hello'"


def test_middleware_setting_content_length_limits_the_body(
    client_for: t.Callable[..., t.Any],
) -> None:
    """The body is read up to the environ's CONTENT_LENGTH as middleware left
    it (the docs' HTTP method override pattern empties a body this way)."""
    app = kolben.Kolben(__name__)

    @app.route("/", methods=["POST", "DELETE"])
    def index() -> str:
        return f"{kolben.request.method} {kolben.request.get_data()!r}"

    wrapped = app.wsgi_app

    def override(environ: t.Any, start_response: t.Any) -> t.Any:
        environ["REQUEST_METHOD"] = "DELETE"
        environ["CONTENT_LENGTH"] = "0"
        return wrapped(environ, start_response)

    app.wsgi_app = override  # type: ignore[method-assign]
    response = client_for(app).post("/", data=b"hello")
    assert response.text == "DELETE b''"


def _get_raising(client_for: t.Callable[..., t.Any], error: Exception) -> t.Any:
    """``GET /`` of an app whose view raises ``error``."""
    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> str:
        raise error

    return client_for(app).get("/")


def test_an_http_exception_without_a_code_answers_200(
    client_for: t.Callable[..., t.Any],
) -> None:
    """werkzeug's ``get_response`` of an ``HTTPException`` with no code is a
    200 (Flask returns it as the response)."""
    response = _get_raising(client_for, HTTPException("generic"))
    assert response.status_code == 200
    assert b"generic" in response.data


def test_a_streamed_body_has_the_same_chunks_on_both_doors(
    client_for: t.Callable[..., t.Any],
) -> None:
    """The test client's ``response.response`` of a streamed body is the chunks
    the view yielded, on either door (the ASGI door's closing empty body
    message is not a chunk)."""
    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> t.Any:
        def generate() -> t.Iterator[bytes]:
            yield b"a"
            yield b"b"

        return generate()

    response = client_for(app).get("/", buffered=False)
    assert list(response.response) == [b"a", b"b"]
    response.close()


def test_do_teardown_without_an_argument_passes_the_handled_exception() -> None:
    """Flask's ``do_teardown_request()`` / ``do_teardown_appcontext()`` default to
    the exception being handled (``sys.exc_info()``), not None."""
    app = kolben.Kolben(__name__)
    seen: list[t.Any] = []
    app.teardown_request(seen.append)
    app.teardown_appcontext(seen.append)
    error = ValueError("boom")
    with app.test_request_context():
        try:
            raise error
        except ValueError:
            app.do_teardown_request()
            app.do_teardown_appcontext()
        app.do_teardown_request()
    assert seen[:3] == [error, error, None]


def test_request_context_takes_a_session() -> None:
    """``RequestContext(app, environ, session=...)`` uses the session given."""
    app = kolben.Kolben(__name__)
    app.secret_key = "parity"
    given = kolben.sessions.SecureCookieSession({"user": "ada"})
    environ = app.test_request_context().request.environ
    with app.request_context(environ):
        pass
    ctx = kolben.ctx.RequestContext(app, environ, session=given)
    with ctx:
        assert kolben.session._get_current_object() is given  # type: ignore[attr-defined]
        assert kolben.session["user"] == "ada"


def test_blueprint_open_resource_reads_text_as_utf8(tmp_path: t.Any) -> None:
    """A blueprint's ``open_resource`` defaults to UTF-8 for text (Flask 3.1)."""
    (tmp_path / "note.txt").write_bytes("caf\u00e9".encode())
    bp = kolben.Blueprint("bp", __name__, root_path=str(tmp_path))
    with bp.open_resource("note.txt", "r") as f:
        assert f.encoding == "utf-8"
        assert f.read() == "caf\u00e9"
    with bp.open_resource("note.txt") as f:
        assert f.read() == "caf\u00e9".encode()


def test_cli_group_get_command_takes_name_as_in_flask() -> None:
    import click

    from kolben.cli import KolbenGroup

    group = KolbenGroup(create_app=lambda: kolben.Kolben(__name__))
    with click.Context(group) as ctx:
        assert group.get_command(ctx, name="routes") is not None


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_view_can_use_the_test_client_that_called_it(
    client_for: t.Callable[..., t.Any], asynchronous: bool
) -> None:
    """A request made with the same test client from inside a view (the inner
    request runs while the outer one waits), on either door."""
    app = kolben.Kolben(__name__)
    client = client_for(app)

    @app.route("/inner")
    def inner() -> str:
        return "inner"

    if asynchronous:

        @app.route("/outer")
        async def outer() -> str:
            return "outer+" + client.get("/inner").text

    else:

        @app.route("/outer")
        def outer() -> str:
            return "outer+" + client.get("/inner").text

    response = client.get("/outer")
    assert (response.status_code, response.text) == (200, "outer+inner")
    assert client.get("/inner").text == "inner"


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/slash?a=%C3%BC", "/slash/?a=%C3%BC"),  # strict_slashes
        ("/page/1?a=%C3%BC", "/page/?a=%C3%BC"),  # redirect_defaults
        ("/old?a=%C3%BC", "/slash/"),  # redirect_to (werkzeug drops the query)
    ],
)
def test_a_routing_redirect_keeps_a_utf8_query(
    client_for: t.Callable[..., t.Any], path: str, location: str
) -> None:
    """The query string of a routing redirect is decoded as werkzeug decodes
    QUERY_STRING (UTF-8), so its Location quotes the same bytes again."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/slash/", "slash", lambda: "slash")
    def page(page: int) -> str:
        return str(page)

    app.add_url_rule("/page/", "page", page, defaults={"page": 1})
    app.add_url_rule("/page/<int:page>", "page", page)
    app.add_url_rule("/old", "old", redirect_to="/slash/")
    base = path.partition("?")[0]
    # The raw UTF-8 bytes of "a=ü" in the query, as a client sends them (the
    # environ's str holds bytes as latin-1).
    raw = "a=\u00fc".encode().decode("latin-1")
    response = client_for(app).get(base, environ_overrides={"QUERY_STRING": raw})
    assert response.status_code == 308
    assert response.headers["Location"].endswith(location)


def test_the_invalid_x_url_encoded_type_is_not_a_form(
    client_for: t.Callable[..., t.Any],
) -> None:
    """werkzeug 3 parses only ``application/x-www-form-urlencoded``."""
    app = kolben.Kolben(__name__)

    @app.post("/")
    def index() -> t.Any:
        request = kolben.request
        return {"form": request.form.to_dict(), "data": request.get_data(as_text=True)}

    client = client_for(app)
    response = client.post("/", data=b"a=1", content_type="application/x-url-encoded")
    assert response.json == {"form": {}, "data": "a=1"}
    response = client.post("/", data=b"a=1", content_type="application/x-www-form-urlencoded")
    assert response.json == {"form": {"a": "1"}, "data": ""}


def test_a_json_value_that_contains_itself_is_a_value_error() -> None:
    """As Flask's encoder: ``ValueError: Circular reference detected``."""
    app = kolben.Kolben(__name__)
    looped: list[t.Any] = []
    looped.append(looped)
    with app.app_context():
        with pytest.raises(ValueError, match="Circular reference"):
            kolben.jsonify(looped)
        deep: list[t.Any] = []
        for _ in range(100_000):
            deep = [deep]
        with pytest.raises(RecursionError):
            kolben.jsonify(deep)


def test_response_headers_assigned_a_dict(client_for: t.Callable[..., t.Any]) -> None:
    """httpbin assigns ``response.headers = {...}``; werkzeug makes Headers of it
    when the response is sent."""
    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> t.Any:
        response = kolben.make_response("teapot")
        response.status_code = 418
        response.headers = {"X-More-Info": "rfc2324"}  # type: ignore[assignment]
        return response

    response = client_for(app).get("/")
    assert response.status_code == 418
    assert response.data == b"teapot"
    assert response.headers["X-More-Info"] == "rfc2324"
    assert response.headers["Content-Length"] == "6"


def test_an_http_exception_subclass_without_its_init(
    client_for: t.Callable[..., t.Any],
) -> None:
    """A subclass that skips ``HTTPException.__init__`` (no ``response``
    attribute) but has its own ``get_response`` (ihatemoney's Redirect303)."""

    class Redirect303(HTTPException):
        code = 303

        def __init__(self, url: str) -> None:
            Exception.__init__(self, url)
            self.url = url

        def get_response(self, environ: t.Any = None, scope: t.Any = None) -> t.Any:
            return kolben.redirect(self.url, 303)

    response = _get_raising(client_for, Redirect303("/elsewhere"))
    assert response.status_code == 303
    assert response.headers["Location"] == "/elsewhere"


class _WSGIAppAlsoAsyncIterator:
    """A WSGI callable that is also an async iterator (what a MagicMock is)."""

    def __call__(self, environ: t.Any, start_response: t.Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"from the WSGI callable"]

    def __aiter__(self) -> _WSGIAppAlsoAsyncIterator:
        return self

    async def __anext__(self) -> bytes:
        raise StopAsyncIteration


class _SyncAndAsyncBody:
    def __iter__(self) -> t.Iterator[bytes]:
        return iter([b"sync"])

    def __aiter__(self) -> t.AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> t.AsyncIterator[bytes]:
        yield b"async"


def test_wsgi_callables_and_sync_iterables_win_over_async_iteration(
    client_for: t.Callable[..., t.Any],
) -> None:
    """A view's WSGI callable that is also an async iterator is run as a WSGI
    app, and a body that is both sync and async iterable is iterated as a sync
    one, as in Flask (Flask-Multipass's tests return a MagicMock)."""
    from unittest import mock

    app = kolben.Kolben(__name__)
    app.add_url_rule("/wsgi", "wsgi", lambda: _WSGIAppAlsoAsyncIterator())
    app.add_url_rule("/mock", "mock", lambda: mock.MagicMock())
    app.add_url_rule("/both", "both", lambda: kolben.Response(_SyncAndAsyncBody()))
    client = client_for(app)
    assert client.get("/wsgi").data == b"from the WSGI callable"
    response = client.get("/mock")
    assert (response.status_code, response.data) == (200, b"")
    assert client.get("/both").data == b"sync"


@pytest.mark.parametrize("extra", [{"subdomain": "api"}, {"url_scheme": "https"}])
def test_base_url_with_subdomain_or_scheme_is_an_assertion_error(
    extra: dict[str, str],
) -> None:
    """Flask's EnvironBuilder asserts that base_url comes without subdomain and
    url_scheme: tests written for Flask catch an AssertionError."""
    app = kolben.Kolben(__name__)
    with pytest.raises(AssertionError, match="base_url"):
        app.test_request_context(base_url="http://x.test/", **extra)
    with pytest.raises(ValueError):
        kolben.testing.EnvironBuilder(app, "/", base_url="http://x.test/", **extra)


@pytest.mark.parametrize("refresh", [True, False])
def test_an_own_should_set_cookie_is_asked_on_requests_not_using_the_session(
    client_for: t.Callable[..., t.Any], refresh: bool
) -> None:
    """Flask opens and saves the session on every request, so an interface whose
    ``should_set_cookie`` always says yes re-sends the cookie of a (non-permanent)
    session even from a view that never touches ``session``, whatever
    ``SESSION_REFRESH_EACH_REQUEST`` says."""

    class AlwaysSend(kolben.sessions.SecureCookieSessionInterface):
        def should_set_cookie(self, app: t.Any, session: t.Any) -> bool:
            return True

    app = kolben.Kolben(__name__)
    app.secret_key = "parity"
    app.config["SESSION_REFRESH_EACH_REQUEST"] = refresh
    app.session_interface = AlwaysSend()

    @app.route("/set")
    def set_() -> str:
        kolben.session["user"] = "ada"
        return "set"

    @app.route("/plain")
    def plain() -> str:
        return "plain"

    client = client_for(app)
    client.get("/set")
    response = client.get("/plain")
    assert "session=" in response.headers.get("Set-Cookie", "")
    assert response.headers.get("Vary") == "Cookie"
