"""View return values and response helpers: make_response, jsonify, redirect,
abort, escape/Markup, stream_with_context.

Flask 3.1's documented behaviour is the spec."""

from __future__ import annotations

import markupsafe
import pytest
import werkzeug
from werkzeug.exceptions import HTTPException, NotFound

import kolben
from kolben import (
    Markup,
    abort,
    escape,
    jsonify,
    make_response,
    redirect,
    request,
    stream_with_context,
)

# --- body types ----------------------------------------------------------------------------


def test_str_is_html_utf8(app, client):
    @app.route("/")
    def index():
        return "héllo ✓"

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.headers["Content-Type"] == "text/html; charset=utf-8"
    assert rv.data == "héllo ✓".encode()
    assert rv.headers["Content-Length"] == str(len("héllo ✓".encode()))
    assert rv.text == "héllo ✓"


def test_bytes_body(app, client):
    @app.route("/")
    def index():
        return b"\x00\xffraw"

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.data == b"\x00\xffraw"
    assert rv.mimetype == "text/html"
    assert rv.headers["Content-Length"] == "5"


def test_empty_string_body(app, client):
    @app.route("/")
    def index():
        return ""

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.data == b""
    assert rv.headers["Content-Length"] == "0"


def test_dict_is_json(app, client):
    @app.route("/")
    def index():
        return {"a": 1, "b": [1, 2], "c": None}

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.mimetype == "application/json"
    assert rv.json == {"a": 1, "b": [1, 2], "c": None}


def test_list_is_json(app, client):
    @app.route("/")
    def index():
        return [1, "two", {"three": 3}]

    rv = client.get("/")
    assert rv.mimetype == "application/json"
    assert rv.get_json() == [1, "two", {"three": 3}]


def test_jsonify_single_arg(app, client):
    @app.route("/")
    def index():
        return jsonify({"x": 1})

    rv = client.get("/")
    assert rv.mimetype == "application/json"
    assert rv.json == {"x": 1}


def test_jsonify_args_and_kwargs(req_ctx):
    assert jsonify(1, 2, 3).get_json() == [1, 2, 3]
    assert jsonify("one").get_json() == "one"
    assert jsonify(a=1, b="x").get_json() == {"a": 1, "b": "x"}
    assert jsonify().get_json() is None
    assert jsonify(1).mimetype == "application/json"


def test_jsonify_args_and_kwargs_together_raises(req_ctx):
    with pytest.raises(TypeError):
        jsonify({"a": 1}, b=2)


def test_jsonify_in_app_context(app_ctx):
    rv = jsonify(ok=True)
    assert isinstance(rv, kolben.Response)
    assert rv.get_json() == {"ok": True}


# --- tuples --------------------------------------------------------------------------------


def test_tuple_body_status(app, client):
    @app.route("/")
    def index():
        return "created", 201

    rv = client.get("/")
    assert rv.status_code == 201
    assert rv.data == b"created"


def test_tuple_dict_body_status(app, client):
    @app.route("/")
    def index():
        return {"error": "nope"}, 400

    rv = client.get("/")
    assert rv.status_code == 400
    assert rv.json == {"error": "nope"}


def test_tuple_body_headers_dict(app, client):
    @app.route("/")
    def index():
        return "x", {"X-One": "1", "Content-Type": "text/plain"}

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.headers["X-One"] == "1"
    assert rv.mimetype == "text/plain"


def test_tuple_body_headers_list_of_tuples(app, client):
    @app.route("/")
    def index():
        return "x", [("X-A", "a"), ("X-B", "b"), ("X-A", "again")]

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.headers.getlist("X-A") == ["a", "again"]
    assert rv.headers["X-B"] == "b"


def test_tuple_body_status_headers(app, client):
    @app.route("/")
    def index():
        return "gone", 410, {"X-Reason": "deleted"}

    rv = client.get("/")
    assert rv.status_code == 410
    assert rv.headers["X-Reason"] == "deleted"
    assert rv.data == b"gone"


def test_status_as_string(app, client):
    @app.route("/")
    def index():
        return "x", "201 CREATED"

    rv = client.get("/")
    assert rv.status_code == 201
    assert rv.status == "201 CREATED"


def test_status_as_custom_string(app, client, door):
    @app.route("/")
    def index():
        return "x", "299 SOMETHING ELSE"

    rv = client.get("/")
    assert rv.status_code == 299
    if door == "wsgi":  # ASGI carries the status code only, not the reason phrase
        assert rv.status == "299 SOMETHING ELSE"


def test_response_returned_as_is(app, client):
    resp = kolben.Response("as is", status=202, headers={"X-Keep": "k"})

    @app.route("/")
    def index():
        return resp

    rv = client.get("/")
    assert rv.status_code == 202
    assert rv.data == b"as is"
    assert rv.headers["X-Keep"] == "k"


def test_response_with_tuple_status_and_headers_override(app, client):
    @app.route("/")
    def index():
        resp = kolben.Response("body", status=200, headers={"X-A": "1", "X-Keep": "k"})
        return resp, 201, {"X-A": "2"}

    rv = client.get("/")
    assert rv.status_code == 201
    assert rv.headers["X-A"] == "2"
    assert rv.headers.getlist("X-A") == ["2"]
    assert rv.headers["X-Keep"] == "k"
    assert rv.data == b"body"


def test_response_with_string_status_override(app, client):
    @app.route("/")
    def index():
        return kolben.Response("body"), "404 NOT FOUND"

    rv = client.get("/")
    assert rv.status_code == 404


# --- WSGI callables and iterators ----------------------------------------------------------


def test_werkzeug_response_returned(app, client):
    @app.route("/")
    def index():
        return werkzeug.Response("wz", status=202, headers={"X-Z": "z"}, mimetype="text/plain")

    rv = client.get("/")
    assert rv.status_code == 202
    assert rv.data == b"wz"
    assert rv.headers["X-Z"] == "z"
    assert rv.mimetype == "text/plain"


def test_plain_wsgi_callable_returned(app, client):
    def wsgi_app(environ, start_response):
        start_response(
            "203 Non-Authoritative Information",
            [("Content-Type", "text/plain"), ("X-Wsgi", environ["PATH_INFO"])],
        )
        return [b"from ", b"wsgi"]

    @app.route("/w")
    def index():
        return wsgi_app

    rv = client.get("/w")
    assert rv.status_code == 203
    assert rv.data == b"from wsgi"
    assert rv.headers["X-Wsgi"] == "/w"
    assert rv.mimetype == "text/plain"


def test_a_response_class_overriding_force_type_converts_what_flask_gives_it(client_for):
    # Flask's make_response hands force_type, with the request's environ, every
    # WSGI callable that is not a response_class object: a werkzeug response, a
    # plain WSGI app, and an HTTP exception (returned, or raised with no handler).
    # kolben made an HTTP exception's response without it.
    calls = []

    class Converting(kolben.Response):
        @classmethod
        def force_type(cls, response, environ=None):
            calls.append((type(response).__name__, environ is not None))
            rv = super().force_type(response, environ)
            rv.headers["X-Converted"] = "yes"
            return rv

    class App(kolben.Kolben):
        response_class = Converting

    app = App(__name__)

    @app.route("/returned")
    def returned():
        return NotFound("no such thing")

    @app.route("/aborted")
    def aborted():
        kolben.abort(418)

    @app.route("/werkzeug")
    def werkzeug_response():
        return werkzeug.wrappers.Response("wz")

    @app.route("/own")
    def own():
        return Converting("own")

    client = client_for(app)
    for path, status in [("/returned", 404), ("/aborted", 418), ("/missing", 404)]:
        rv = client.get(path)
        assert (rv.status_code, rv.headers.get("X-Converted")) == (status, "yes")
        assert rv.mimetype == "text/html"
    assert calls == [("NotFound", True), ("ImATeapot", True), ("NotFound", True)]
    calls.clear()
    assert client.get("/werkzeug").headers.get("X-Converted") == "yes"
    assert client.get("/own").headers.get("X-Converted") is None
    assert calls == [("Response", True)]


def test_generator_is_streamed(app, client):
    @app.route("/")
    def index():
        def gen():
            yield "a"
            yield b"b"
            yield "ü"

        return gen()

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.data == "abü".encode()
    assert "Content-Length" not in rv.headers


def test_iterator_is_streamed(app, client):
    @app.route("/")
    def index():
        return iter(["x", "y"]), 206, {"X-Stream": "1"}

    rv = client.get("/")
    assert rv.status_code == 206
    assert rv.data == b"xy"
    assert rv.headers["X-Stream"] == "1"
    assert "Content-Length" not in rv.headers


def test_generator_in_response_object(app, client):
    @app.route("/")
    def index():
        return kolben.Response((str(i) for i in range(3)), mimetype="text/plain")

    rv = client.get("/")
    assert rv.data == b"012"
    assert rv.mimetype == "text/plain"


@pytest.mark.parametrize("chunk", [5, [1], None], ids=["int", "list", "none"])
@pytest.mark.parametrize("buffered", [True, False])
@pytest.mark.parametrize("kind", ["def", "async"])
def test_a_body_chunk_that_is_not_bytes_is_a_type_error(app, client, chunk, buffered, kind):
    # As Flask's test client (werkzeug joins the chunks) and a server refuse it;
    # the ASGI door's client, and an async body on either door, made an int
    # chunk that many NUL bytes.
    if kind == "def":

        @app.route("/")
        def index():
            def gen():
                yield b"<"
                yield chunk
                yield b">"

            return gen()

    else:

        @app.route("/")
        async def index():
            async def gen():
                yield b"<"
                yield chunk
                yield b">"

            return gen()

    with (
        pytest.raises(TypeError, match="bytes-like object"),
        client.get("/", buffered=buffered) as rv,
    ):
        rv.get_data()


@pytest.mark.parametrize("kind", ["def", "async"])
@pytest.mark.parametrize("when", ["first", "later"])
def test_a_body_raising_os_error_raises_it_in_the_test(app, client, kind, when):
    # As Flask's test client: the ASGI door took it for the client leaving (an
    # OSError is how a server's send says so): a cut 200 body, or, before the
    # first chunk, "The app returned without sending 'http.response.start'".
    if kind == "def":

        @app.route("/")
        def index():
            def gen():
                if when == "later":
                    yield b"<"
                raise FileNotFoundError("gone")
                yield b">"  # pragma: no cover

            return gen()

    else:

        @app.route("/")
        async def index():
            async def gen():
                if when == "later":
                    yield b"<"
                raise FileNotFoundError("gone")
                yield b">"  # pragma: no cover

            return gen()

    with pytest.raises(FileNotFoundError, match="gone"):
        client.get("/").get_data()


# --- invalid return values -----------------------------------------------------------------


def test_none_return_raises_naming_view(app, client):
    @app.route("/")
    def forgot_to_return():
        pass

    with pytest.raises(TypeError) as info:
        client.get("/")
    assert "forgot_to_return" in str(info.value)
    assert "None" in str(info.value)


def test_none_body_in_tuple_raises(app, client):
    @app.route("/")
    def none_body():
        return None, 200

    with pytest.raises(TypeError, match="none_body"):
        client.get("/")


@pytest.mark.parametrize("rv", [("a", 200, {}, "extra"), ("only",), ()])
def test_bad_tuple_length_raises(app, client, rv):
    @app.route("/")
    def index():
        return rv

    with pytest.raises(TypeError, match="tuple"):
        client.get("/")


@pytest.mark.parametrize("rv", [42, 4.2, object()])
def test_unsupported_type_raises(app, client, rv):
    @app.route("/")
    def index():
        return rv

    with pytest.raises(TypeError) as info:
        client.get("/")
    assert type(rv).__name__ in str(info.value)


def test_invalid_return_is_500_when_not_testing(app, client):
    app.testing = False

    @app.route("/")
    def index():
        return None

    rv = client.get("/")
    assert rv.status_code == 500
    assert b"Traceback" not in rv.data


# --- make_response -------------------------------------------------------------------------


def test_make_response_no_args(req_ctx):
    rv = make_response()
    assert isinstance(rv, kolben.Response)
    assert rv.status_code == 200
    assert rv.data == b""


def test_make_response_one_arg(req_ctx):
    rv = make_response("text")
    assert isinstance(rv, kolben.Response)
    assert rv.data == b"text"
    assert rv.mimetype == "text/html"

    rv = make_response({"a": 1})
    assert rv.mimetype == "application/json"
    assert rv.get_json() == {"a": 1}


def test_make_response_one_tuple_arg(req_ctx):
    rv = make_response(("nf", 404))
    assert rv.status_code == 404
    assert rv.data == b"nf"


def test_make_response_several_args(req_ctx):
    rv = make_response("body", 418, {"X-Tea": "pot"})
    assert rv.status_code == 418
    assert rv.headers["X-Tea"] == "pot"
    assert rv.data == b"body"

    rv = make_response("body", {"X-H": "h"})
    assert rv.status_code == 200
    assert rv.headers["X-H"] == "h"


def test_make_response_passes_response_through(req_ctx):
    original = kolben.Response("r")
    assert make_response(original) is original


def test_make_response_in_view_then_modify(app, client):
    @app.route("/")
    def index():
        resp = make_response("modified")
        resp.headers["X-Extra"] = "1"
        resp.status_code = 202
        return resp

    rv = client.get("/")
    assert rv.status_code == 202
    assert rv.headers["X-Extra"] == "1"
    assert rv.data == b"modified"


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def to_json(self):
        return {"x": self.x, "y": self.y}


class JSONObjectApp(kolben.Kolben):
    def make_response(self, rv):
        if hasattr(rv, "to_json"):
            return super().make_response(jsonify(rv.to_json()))
        if isinstance(rv, tuple) and rv and hasattr(rv[0], "to_json"):
            return super().make_response((jsonify(rv[0].to_json()), *rv[1:]))
        return super().make_response(rv)


def test_app_make_response_override(client_for):
    app = JSONObjectApp("json_objects", static_folder=None)
    app.testing = True

    @app.route("/point")
    def point():
        return Point(1, 2)

    @app.route("/created")
    def created():
        return Point(3, 4), 201

    @app.route("/plain")
    def plain():
        return "plain"

    client = client_for(app)
    rv = client.get("/point")
    assert rv.status_code == 200
    assert rv.mimetype == "application/json"
    assert rv.json == {"x": 1, "y": 2}
    rv = client.get("/created")
    assert rv.status_code == 201
    assert rv.json == {"x": 3, "y": 4}
    assert client.get("/plain").data == b"plain"


def test_app_make_response_override_used_by_helper():
    app = JSONObjectApp("json_objects", static_folder=None)
    with app.test_request_context():
        assert make_response(Point(5, 6)).get_json() == {"x": 5, "y": 6}


# --- redirect ------------------------------------------------------------------------------


def test_redirect_default_302(app, client):
    @app.route("/old")
    def old():
        return redirect("/new")

    rv = client.get("/old")
    assert rv.status_code == 302
    assert rv.headers["Location"] == "/new"


@pytest.mark.parametrize("code", [301, 303, 307, 308])
def test_redirect_custom_code(app, client, code):
    @app.route("/old")
    def old():
        return redirect("/new", code=code)

    rv = client.get("/old")
    assert rv.status_code == code
    assert rv.headers["Location"] == "/new"


def test_redirect_external_location(req_ctx):
    rv = redirect("https://example.com/path?q=1")
    assert rv.headers["Location"] == "https://example.com/path?q=1"


def test_redirect_outside_app_context():
    rv = redirect("/somewhere", 301)
    assert rv.status_code == 301
    assert rv.headers["Location"] == "/somewhere"


def test_redirect_uses_app_redirect_in_app_context():
    calls = []

    class RedirectApp(kolben.Kolben):
        def redirect(self, location, code=302):
            calls.append((location, code))
            rv = super().redirect(location, code)
            rv.headers["X-Redirected-By"] = "app"
            return rv

    app = RedirectApp("redirect_app", static_folder=None)
    with app.app_context():
        rv = redirect("/x", 307)
    assert calls == [("/x", 307)]
    assert rv.status_code == 307
    assert rv.headers["X-Redirected-By"] == "app"


def test_app_redirect_returns_response_class(app):
    rv = app.redirect("/target")
    assert isinstance(rv, app.response_class)
    assert rv.status_code == 302
    assert rv.headers["Location"] == "/target"


# --- abort ---------------------------------------------------------------------------------


def test_abort_404(app, client):
    @app.route("/")
    def index():
        abort(404)

    rv = client.get("/")
    assert rv.status_code == 404


def test_abort_with_description(app, client):
    @app.route("/")
    def index():
        abort(403, description="no entry here")

    rv = client.get("/")
    assert rv.status_code == 403
    assert b"no entry here" in rv.data


def test_abort_with_response(app, client):
    @app.route("/")
    def index():
        abort(make_response("custom body", 409))

    rv = client.get("/")
    assert rv.status_code == 409
    assert rv.data == b"custom body"


def test_abort_418_teapot(app, client):
    @app.route("/")
    def index():
        abort(418)

    rv = client.get("/")
    assert rv.status_code == 418
    assert rv.status == "418 I'M A TEAPOT"


def test_abort_outside_app_context():
    with pytest.raises(NotFound):
        abort(404)


def test_abort_unknown_code_raises_lookup_error(req_ctx):
    with pytest.raises(LookupError):
        abort(599)


def test_app_aborter_custom_code(app, client):
    class ClientClosed(HTTPException):
        code = 499
        description = "client closed the connection"

    app.aborter.mapping[499] = ClientClosed

    @app.route("/")
    def index():
        abort(499)

    rv = client.get("/")
    assert rv.status_code == 499
    assert b"client closed the connection" in rv.data


def test_aborter_class_override(client_for):
    from werkzeug.exceptions import Aborter

    class LoggingAborter(Aborter):
        calls: list = []

        def __call__(self, code, *args, **kwargs):
            self.calls.append(code)
            super().__call__(code, *args, **kwargs)

    class AborterApp(kolben.Kolben):
        aborter_class = LoggingAborter

    app = AborterApp("aborter_app", static_folder=None)
    assert isinstance(app.aborter, LoggingAborter)

    @app.route("/")
    def index():
        abort(410)

    assert client_for(app).get("/").status_code == 410
    assert LoggingAborter.calls == [410]


# --- escape and Markup ---------------------------------------------------------------------


def test_escape_like_markupsafe():
    assert escape("<b>&'\"</b>") == markupsafe.escape("<b>&'\"</b>")
    assert str(escape("<script>")) == "&lt;script&gt;"
    assert isinstance(escape("x"), markupsafe.Markup)


def test_escape_respects_html_method():
    class Safe:
        def __html__(self):
            return "<em>safe</em>"

    assert escape(Safe()) == "<em>safe</em>"


def test_markup_like_markupsafe():
    m = Markup("<b>%s</b>") % "<i>"
    assert str(m) == "<b>&lt;i&gt;</b>"
    assert Markup("<a>").__html__() == "<a>"
    assert Markup("<em>x</em>").striptags() == "x"
    assert escape(Markup("<p>")) == "<p>"
    assert isinstance(Markup("x"), markupsafe.Markup)


def test_markup_returned_from_view_is_html(app, client):
    @app.route("/")
    def index():
        return Markup("<p>{}</p>").format("<x>")

    assert client.get("/").data == b"<p>&lt;x&gt;</p>"


# --- stream_with_context -------------------------------------------------------------------


def test_stream_with_context_wrapping_generator(app, client):
    @app.route("/")
    def index():
        def gen():
            yield "hello "
            yield request.args["name"]
            yield "!"

        return kolben.Response(stream_with_context(gen()))

    rv = client.get("/?name=ann")
    assert rv.data == b"hello ann!"


def test_stream_with_context_as_decorator(app, client):
    @app.route("/")
    def index():
        @stream_with_context
        def gen():
            yield request.method
            yield " "
            yield request.path

        return gen()

    assert client.get("/").data == b"GET /"


def test_stream_with_context_outside_request_raises(app_ctx):
    def gen():
        yield "x"

    with pytest.raises(RuntimeError):
        stream_with_context(gen())


@pytest.mark.parametrize("rv", [lambda: "x", len], ids=["lambda", "builtin"])
def test_non_wsgi_callable_raises(app, client, rv):
    @app.route("/")
    def index():
        return rv

    with pytest.raises(TypeError) as info:
        client.get("/")
    assert "valid response" in str(info.value)
    assert type(rv).__name__ in str(info.value)


def test_response_max_cookie_size_from_config(app):
    default = kolben.Response().max_cookie_size
    assert default == 4093
    with app.app_context():
        assert kolben.Response().max_cookie_size == app.config["MAX_COOKIE_SIZE"] == 4093
        app.config["MAX_COOKIE_SIZE"] = 100
        assert kolben.Response().max_cookie_size == 100
    assert kolben.Response().max_cookie_size == 4093


def test_a_response_class_with_its_own_close_and_iter_encoded(app, client_for):
    # werkzeug (and Flask) send a body through iter_encoded() and call close()
    # once it is sent; kolben's one-chunk paths skipped a subclass's own.
    closed = []

    class ClosingResponse(kolben.Response):
        def close(self):
            closed.append(True)
            super().close()

    class UpperResponse(kolben.Response):
        def iter_encoded(self):
            for chunk in super().iter_encoded():
                yield chunk.upper()

    @app.route("/")
    def index():
        return "hello"

    app.response_class = ClosingResponse
    response = client_for(app).get("/")
    assert response.data == b"hello"
    response.close()
    assert closed == [True, True]  # as with Flask's test client (its body, then itself)

    app.response_class = UpperResponse
    assert client_for(app).get("/").data == b"HELLO"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_call_on_close_runs_for_an_async_body(app, client_for, method):
    # As for a sync body: under ASGI (and for HEAD under WSGI) the functions
    # never ran, so what they release leaked.
    closed = []

    @app.route("/")
    async def index():
        async def gen():
            yield "a"
            yield "b"

        response = kolben.Response(gen())
        response.call_on_close(lambda: closed.append(True))
        return response

    response = client_for(app).open("/", method=method)
    assert response.data == (b"ab" if method == "GET" else b"")
    response.close()
    assert closed == [True]
