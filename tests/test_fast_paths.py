"""The response fast paths (plain bodies, cached error pages, WSGI headers and body
iterables) give the same results as the general code they bypass; the request's
blueprint chain drives hooks and error handlers in Flask's order."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.test import create_environ
from werkzeug.wrappers import Response as WerkzeugResponse

import kolben
from helpers import RUNNING_ON_FLASK, kolben_only
from kolben import abort, after_this_request, request, url_for


def call_wsgi(app, path="/", method="GET"):
    """Call ``app`` as a WSGI server would; return (status, headers, iterable)."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers

    iterable = app(create_environ(path, method=method), start_response)
    return captured["status"], Headers(captured["headers"]), iterable


def consume(iterable):
    try:
        return b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()


# --- Response.from_body ---------------------------------------------------------------


@kolben_only
@pytest.mark.parametrize("mimetype", [None, "application/json", "text/plain"])
@pytest.mark.parametrize("body", ["h\u00e9llo", b"h\xc3\xa9llo", bytearray(b"h\xc3\xa9llo")])
def test_from_body_builds_what_the_constructor_builds(body, mimetype):
    fast = kolben.Response.from_body(body, mimetype=mimetype)
    slow = kolben.Response(
        bytes(body) if isinstance(body, bytearray) else body, mimetype=mimetype
    )
    assert type(fast) is kolben.Response
    assert fast.status == slow.status == "200 OK"
    assert fast.get_data() == slow.get_data() == "h\u00e9llo".encode()
    assert fast.headers.to_wsgi_list() == slow.headers.to_wsgi_list()
    assert fast.headers["Content-Length"] == "6"
    assert fast.direct_passthrough is False
    expected_type = {
        None: "text/html; charset=utf-8",
        "application/json": "application/json",
        "text/plain": "text/plain; charset=utf-8",
    }[mimetype]
    assert fast.content_type == expected_type


@kolben_only
def test_from_body_uses_a_subclass_constructor():
    class Marked(kolben.Response):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.headers["X-Marked"] = "yes"

    rv = Marked.from_body(bytearray(b"data"), mimetype="text/plain")
    assert type(rv) is Marked
    assert rv.headers["X-Marked"] == "yes"
    assert rv.get_data() == b"data"
    assert rv.mimetype == "text/plain"
    slow = Marked(b"data", mimetype="text/plain")
    assert rv.headers.to_wsgi_list() == slow.headers.to_wsgi_list()


def test_response_class_with_own_init_is_used_for_plain_bodies(app, client):
    class Marked(kolben.Response):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.headers["X-Marked"] = "yes"

    app.response_class = Marked
    seen = []

    @app.route("/")
    def index():
        return "hello"

    @app.route("/bytes")
    def as_bytes():
        return bytearray(b"raw")

    @app.after_request
    def record(response):
        seen.append(type(response))
        return response

    rv = client.get("/")
    assert rv.data == b"hello"
    assert rv.headers["X-Marked"] == "yes"
    assert rv.headers["Content-Length"] == "5"
    rv = client.get("/bytes")
    assert rv.data == b"raw"
    assert rv.headers["X-Marked"] == "yes"
    assert seen == [Marked, Marked]


def test_response_class_without_automatic_content_length(app, client):
    class NoLength(kolben.Response):
        automatically_set_content_length = False

    app.response_class = NoLength

    @app.route("/")
    def index():
        return "abc"

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.data == b"abc"
    assert "Content-Length" not in rv.headers
    assert rv.mimetype == "text/html"


def test_error_pages_keep_content_length_without_automatic_content_length(app, client):
    # As in Flask, whose make_response runs the exception as a WSGI app (werkzeug's
    # own response, with a Content-Length) and only then converts it.
    class NoLength(kolben.Response):
        automatically_set_content_length = False

    app.response_class = NoLength

    @app.route("/forbidden")
    def forbidden():
        kolben.abort(403, "custom")

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    for path, code in [("/missing", 404), ("/forbidden", 403), ("/boom", 500)]:
        rv = client.get(path)
        assert rv.status_code == code
        assert rv.headers["Content-Length"] == str(len(rv.data))
        assert rv.headers["Content-Type"] == "text/html; charset=utf-8"


def test_response_class_without_default_mimetype(app, client):
    class Untyped(kolben.Response):
        default_mimetype = None

    app.response_class = Untyped

    @app.route("/")
    def index():
        return "abc"

    @app.route("/json")
    def as_json():
        return {"a": 1}

    rv = client.get("/")
    assert rv.data == b"abc"
    assert "Content-Type" not in rv.headers
    assert rv.headers["Content-Length"] == "3"
    rv = client.get("/json")
    assert rv.mimetype == "application/json"
    assert rv.json == {"a": 1}


def test_response_class_with_other_default_status(app, client):
    class Created(kolben.Response):
        default_status = 201

    app.response_class = Created

    @app.route("/")
    def index():
        return "made"

    @app.route("/explicit")
    def explicit():
        return "fine", 200

    rv = client.get("/")
    assert rv.status_code == 201
    assert rv.data == b"made"
    assert client.get("/explicit").status_code == 200


def test_response_class_whose_set_data_rejects_some_bodies(app, client):
    class AsciiOnly(kolben.Response):
        def set_data(self, value):
            if isinstance(value, str):
                value.encode("ascii")
            super().set_data(value)

    app.response_class = AsciiOnly

    @app.route("/")
    def index():
        return "plain"

    @app.route("/accented")
    def accented():
        return "caf\u00e9"

    rv = client.get("/")
    assert rv.data == b"plain"
    assert rv.headers["Content-Length"] == "5"
    with pytest.raises(UnicodeEncodeError):
        client.get("/accented")


def test_response_class_set_data_override_runs_for_plain_bodies(app, client):
    sizes = []

    class Metered(kolben.Response):
        def set_data(self, value):
            super().set_data(value)
            sizes.append(len(self.get_data()))

    app.response_class = Metered

    @app.route("/")
    def index():
        return "hello"

    assert client.get("/").data == b"hello"
    assert 5 in sizes


def test_response_class_whose_new_needs_the_body(app, client):
    class BodyRequired(kolben.Response):
        def __new__(cls, response, *args, **kwargs):
            return super().__new__(cls)

    app.response_class = BodyRequired

    @app.route("/")
    def index():
        return "needs a body"

    @app.route("/json")
    def as_json():
        return {"a": 1}

    rv = client.get("/")
    assert rv.data == b"needs a body"
    assert rv.headers["Content-Length"] == "12"
    assert rv.mimetype == "text/html"
    assert client.get("/json").json == {"a": 1}


# --- error pages (from_http_exception) ---------------------------------------------------


def test_error_pages_are_per_description(app, client):
    @app.route("/<name>")
    def missing(name):
        abort(404, description=f"no {name} here")

    a = client.get("/apple")
    b = client.get("/banana")
    again = client.get("/apple")
    assert a.status_code == b.status_code == 404
    assert b"<p>no apple here</p>" in a.data
    assert b"<p>no banana here</p>" in b.data
    assert b"apple" not in b.data
    assert again.data == a.data
    assert a.mimetype == "text/html"
    assert a.headers["Content-Length"] == str(len(a.data))


def test_error_pages_per_class_with_same_description(app, client):
    @app.route("/<int:code>")
    def fail(code):
        abort(code, description="same text")

    r400 = client.get("/400")
    r403 = client.get("/403")
    assert r400.status_code == 400
    assert r403.status_code == 403
    assert b"<title>400 Bad Request</title>" in r400.data
    assert b"<title>403 Forbidden</title>" in r403.data
    assert b"same text" in r400.data
    assert b"same text" in r403.data


def test_error_page_cache_stays_correct_past_its_size(app, client):
    @app.route("/<int:n>")
    def fail(n):
        abort(400, description=f"problem number {n}.")

    for n in range(300):
        rv = client.get(f"/{n}")
        assert rv.status_code == 400
        assert f"problem number {n}.".encode() in rv.data
    assert b"problem number 0." in client.get("/0").data
    if not RUNNING_ON_FLASK:
        from kolben.wrappers import _error_bodies

        # A description written per request (it may hold request data) is not
        # kept between requests; the default page of a class is.
        assert not any(b"problem number" in body for body in _error_bodies.values())
        assert client.get("/missing/page").status_code == 404
        assert 0 < len(_error_bodies) <= 256


def test_error_page_with_non_string_description(app, client):
    class Lazy:
        def __str__(self):
            return "translated later"

    @app.route("/")
    def index():
        abort(400, description=Lazy())

    rv = client.get("/")
    assert rv.status_code == 400
    assert b"translated later" in rv.data


def test_not_found_subclass_with_own_body(app, client):
    class JsonNotFound(NotFound):
        def get_body(self, environ=None, scope=None):
            return '{"error": "missing"}'

        def get_headers(self, environ=None, scope=None):
            return [("Content-Type", "application/json")]

    @app.route("/")
    def index():
        raise JsonNotFound()

    rv = client.get("/")
    assert rv.status_code == 404
    assert rv.mimetype == "application/json"
    assert rv.json == {"error": "missing"}


def test_http_exception_with_request_dependent_description(app, client):
    from markupsafe import escape

    class PathNotFound(NotFound):
        def get_description(self, environ=None, scope=None):
            return f"<p>No page at {escape(environ['PATH_INFO'])}</p>"

    @app.route("/<name>")
    def show(name):
        raise PathNotFound()

    assert b"No page at /first" in client.get("/first").data
    assert b"No page at /second" in client.get("/second").data


def test_abort_with_a_response(app, client):
    @app.route("/")
    def index():
        abort(kolben.Response("short and stout", status=418, headers={"X-Pot": "tea"}))

    rv = client.get("/")
    assert rv.status_code == 418
    assert rv.data == b"short and stout"
    assert rv.headers["X-Pot"] == "tea"


def test_returned_http_exception_with_a_response(app, client):
    @app.route("/")
    def index():
        return HTTPException(response=WerkzeugResponse("from werkzeug", status=409))

    rv = client.get("/")
    assert rv.status_code == 409
    assert rv.data == b"from werkzeug"


def test_method_not_allowed_keeps_allow_header(app, client):
    @app.route("/", methods=["GET", "PUT"])
    def index():
        return "ok"

    rv = client.post("/")
    assert rv.status_code == 405
    assert set(rv.allow) == {"GET", "HEAD", "OPTIONS", "PUT"}
    assert b"405 Method Not Allowed" in rv.data


def test_plain_werkzeug_response_class(app, client):
    class Plain(WerkzeugResponse):
        pass

    app.response_class = Plain

    @app.route("/")
    def index():
        return "plain body"

    @app.route("/missing")
    def missing():
        abort(404, description="gone away")

    @app.route("/json")
    def as_json():
        return {"k": [1, 2]}

    rv = client.get("/")
    assert rv.data == b"plain body"
    assert rv.mimetype == "text/plain"
    rv = client.get("/missing")
    assert rv.status_code == 404
    assert b"gone away" in rv.data
    assert rv.mimetype == "text/html"
    rv = client.get("/json")
    assert rv.mimetype == "application/json"
    assert rv.data == b'{"k":[1,2]}\n'


# --- get_wsgi_headers ------------------------------------------------------------------------


@pytest.fixture
def status_app(app):
    @app.route("/status/<int:code>")
    def with_status(code):
        rv = app.response_class("body", code)
        rv.headers["ETag"] = '"tag"'
        return rv

    return app


def test_plain_response_headers_are_sent_as_set(status_app):
    status, headers, iterable = call_wsgi(status_app, "/status/200")
    assert status == "200 OK"
    assert headers.to_wsgi_list() == [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", "4"),
        ("ETag", '"tag"'),
    ]
    assert consume(iterable) == b"body"


def test_no_content_has_no_length_and_no_body(status_app):
    status, headers, iterable = call_wsgi(status_app, "/status/204")
    assert status == "204 NO CONTENT"
    assert "Content-Length" not in headers
    assert headers["ETag"] == '"tag"'
    assert consume(iterable) == b""


def test_not_modified_drops_entity_headers(status_app):
    status, headers, iterable = call_wsgi(status_app, "/status/304")
    assert status == "304 NOT MODIFIED"
    assert "Content-Length" not in headers
    assert "Content-Type" not in headers
    assert headers["ETag"] == '"tag"'
    assert consume(iterable) == b""


def test_informational_status_has_no_length_and_no_body(status_app):
    status, headers, iterable = call_wsgi(status_app, "/status/103")
    assert status.startswith("103 ")
    assert "Content-Length" not in headers
    assert consume(iterable) == b""


def test_non_ascii_redirect_target_is_percent_encoded(app, client):
    @app.route("/go")
    def go():
        return kolben.redirect("/h\u00e9llo w\u00f6rld")

    rv = client.get("/go")
    assert rv.status_code == 302
    assert rv.headers["Location"] == "/h%C3%A9llo%20w%C3%B6rld"


def test_content_location_is_percent_encoded(app, client):
    @app.route("/")
    def index():
        return "x", {"Content-Location": "/\u00fcber"}

    rv = client.get("/")
    assert rv.headers["Content-Location"] == "/%C3%BCber"
    assert rv.headers["Content-Length"] == "1"


def test_list_body_without_length_gets_one(app):
    @app.route("/")
    def index():
        return app.response_class(["ab", "cd", "\u00e9"])

    status, headers, iterable = call_wsgi(app)
    assert status == "200 OK"
    assert headers["Content-Length"] == "6"
    assert consume(iterable) == "abcd\u00e9".encode()


def test_streamed_body_has_no_length(app, client):
    @app.route("/")
    def index():
        def generate():
            yield "a"
            yield "b"

        return generate()

    rv = client.get("/")
    assert rv.data == b"ab"
    assert "Content-Length" not in rv.headers


# --- get_app_iter ------------------------------------------------------------------------------


def test_head_has_get_headers_and_no_body(app, client):
    @app.route("/")
    def index():
        return "twelve bytes"

    status, headers, iterable = call_wsgi(app, method="HEAD")
    assert status == "200 OK"
    assert headers["Content-Length"] == "12"
    assert consume(iterable) == b""
    assert client.head("/").data == b""


def test_call_on_close_runs_when_the_iterable_is_closed(app):
    closed = []

    @app.route("/")
    def index():
        rv = kolben.make_response("body")
        rv.call_on_close(lambda: closed.append("closed"))
        return rv

    status, _, iterable = call_wsgi(app)
    assert status == "200 OK"
    assert b"".join(iterable) == b"body"
    assert closed == []
    iterable.close()
    assert closed == ["closed"]


def test_direct_passthrough_body_is_handed_over_as_is(app):
    body = [b"raw bytes"]

    @app.route("/")
    def index():
        rv = app.response_class(body, direct_passthrough=True)
        rv.headers["Content-Length"] = "9"
        return rv

    _, _, iterable = call_wsgi(app)
    assert iterable is body
    assert consume(iterable) == b"raw bytes"


def test_multi_chunk_and_text_chunk_bodies(app):
    @app.route("/chunks")
    def chunks():
        return app.response_class([b"one ", b"two"])

    @app.route("/text")
    def text():
        return app.response_class(["t\u00e9xt"])

    assert consume(call_wsgi(app, "/chunks")[2]) == b"one two"
    _, headers, iterable = call_wsgi(app, "/text")
    assert headers["Content-Length"] == "5"
    assert consume(iterable) == "t\u00e9xt".encode()


# --- Request.on_json_loading_failed -----------------------------------------------------------


@pytest.fixture
def json_app(app):
    @app.route("/", methods=["POST"])
    def index():
        return {"got": request.get_json()}

    return app


def test_malformed_json_is_a_plain_400(json_app, client):
    rv = client.post("/", data="{not json", content_type="application/json")
    assert rv.status_code == 400
    assert b"Failed to decode JSON object" not in rv.data
    assert b"could not understand" in rv.data


def test_malformed_json_says_why_in_debug_mode(json_app, client):
    json_app.debug = True
    rv = client.post("/", data="{not json", content_type="application/json")
    assert rv.status_code == 400
    assert b"Failed to decode JSON object" in rv.data


@pytest.mark.parametrize("debug", [False, True])
def test_json_with_wrong_content_type_is_415(json_app, client, debug):
    json_app.debug = debug
    rv = client.post("/", data='{"a": 1}', content_type="text/plain")
    assert rv.status_code == 415
    assert b"application/json" in rv.data


def test_json_loading_failure_outside_an_app_context():
    environ = create_environ("/", method="POST", data="{", content_type="application/json")
    req = kolben.Request(environ)
    with pytest.raises(Exception) as info:
        req.get_json()
    assert info.value.code == 400
    assert "Failed to decode" not in info.value.description


def test_valid_json_is_loaded(json_app, client):
    rv = client.post("/", json={"b": [1, 2]})
    assert rv.json == {"got": {"b": [1, 2]}}


# --- max_cookie_size -------------------------------------------------------------------------


def test_max_cookie_size_comes_from_config(app):
    app.config["MAX_COOKIE_SIZE"] = 50
    with app.app_context():
        rv = kolben.Response()
        assert rv.max_cookie_size == 50
        with pytest.warns(UserWarning, match="cookie is too large"):
            rv.set_cookie("c", "x" * 60)


def test_max_cookie_size_outside_an_app_context():
    assert kolben.Response().max_cookie_size == 4093


@kolben_only
def test_max_cookie_size_set_on_one_response(app):
    with app.app_context():
        rv = kolben.Response()
        rv.max_cookie_size = 20
        assert rv.max_cookie_size == 20
        assert kolben.Response().max_cookie_size == 4093
        with pytest.warns(UserWarning, match="cookie is too large"):
            rv.set_cookie("c", "x" * 30)
        other = kolben.Response()
        other.set_cookie("c", "x" * 30)
        assert "c=" + "x" * 30 in other.headers["Set-Cookie"]


# --- blueprint names from dotted endpoints -----------------------------------------------------


def test_request_blueprint_of_dotted_endpoint(app, client):
    seen = {}

    def view():
        seen.update(
            blueprint=request.blueprint,
            blueprints=request.blueprints,
            endpoint=request.endpoint,
        )
        return "ok"

    app.add_url_rule("/child", endpoint="bp.child.view", view_func=view)
    app.add_url_rule("/top", endpoint="top", view_func=view)
    assert client.get("/child").data == b"ok"
    assert seen == {
        "blueprint": "bp.child",
        "blueprints": ["bp.child", "bp"],
        "endpoint": "bp.child.view",
    }
    client.get("/top")
    assert seen == {"blueprint": None, "blueprints": [], "endpoint": "top"}


def test_request_blueprint_without_a_match(app):
    with app.test_request_context("/nowhere"):
        assert request.endpoint is None
        assert request.blueprint is None
        assert request.blueprints == []


def test_hooks_of_blueprint_chain_run_in_flask_order(app, client):
    calls = []

    def recorder(name):
        def hook(*args):
            calls.append(name)
            return args[0] if args and isinstance(args[0], kolben.Response) else None

        return hook

    def view(id):
        calls.append("view")

        @after_this_request
        def once(response):
            calls.append("after_this_request")
            return response

        return url_for(".other", id=id)

    app.add_url_rule("/c/<int:id>", endpoint="bp.child.view", view_func=view)
    app.add_url_rule("/c/<int:id>/other", endpoint="bp.child.other", view_func=view)
    for name in (None, "bp", "bp.child"):
        label = name or "app"
        app.url_value_preprocessors[name].append(
            lambda endpoint, values, label=label: calls.append(f"preprocess {label}")
        )
        app.before_request_funcs[name].append(recorder(f"before {label}"))
        app.url_default_functions[name].append(
            lambda endpoint, values, label=label: calls.append(f"defaults {label}")
        )
        for n in (1, 2):
            app.after_request_funcs[name].append(recorder(f"after {label} {n}"))
            app.teardown_request_funcs[name].append(recorder(f"teardown {label} {n}"))

    rv = client.get("/c/7")
    assert rv.data == b"/c/7/other"
    assert calls == [
        "preprocess app",
        "preprocess bp",
        "preprocess bp.child",
        "before app",
        "before bp",
        "before bp.child",
        "view",
        "defaults app",
        "defaults bp",
        "defaults bp.child",
        "after_this_request",
        "after bp.child 2",
        "after bp.child 1",
        "after bp 2",
        "after bp 1",
        "after app 2",
        "after app 1",
        "teardown bp.child 2",
        "teardown bp.child 1",
        "teardown bp 2",
        "teardown bp 1",
        "teardown app 2",
        "teardown app 1",
    ]


def test_before_request_of_blueprint_can_end_the_request(app, client):
    app.add_url_rule("/c", endpoint="bp.child.view", view_func=lambda: "view")
    app.before_request_funcs["bp"].append(lambda: "stopped by bp")
    app.before_request_funcs["bp.child"].append(lambda: "stopped by bp.child")
    assert client.get("/c").data == b"stopped by bp"


def test_error_handlers_of_blueprint_chain(app, client):
    class Problem(Exception):
        pass

    class Worse(Problem):
        pass

    def raise_(exc):
        def view():
            raise exc

        return view

    app.add_url_rule("/worse", endpoint="bp.child.worse", view_func=raise_(Worse()))
    app.add_url_rule("/problem", endpoint="bp.child.problem", view_func=raise_(Problem()))
    app.add_url_rule("/value", endpoint="bp.child.value", view_func=raise_(ValueError()))
    app.add_url_rule("/app", endpoint="plain", view_func=raise_(Worse()))
    app.add_url_rule("/missing", endpoint="bp.missing", view_func=raise_(NotFound()))

    app.error_handler_spec[None][None][Problem] = lambda e: ("app Problem", 500)
    app.error_handler_spec["bp"][None][Problem] = lambda e: ("bp Problem", 500)
    app.error_handler_spec["bp.child"][None][Worse] = lambda e: ("bp.child Worse", 500)
    app.error_handler_spec[None][None][ValueError] = lambda e: ("app ValueError", 500)
    app.error_handler_spec["bp"][None][HTTPException] = lambda e: ("bp HTTPException", 500)
    app.error_handler_spec[None][404][NotFound] = lambda e: ("app 404", 404)

    assert client.get("/worse").data == b"bp.child Worse"
    assert client.get("/problem").data == b"bp Problem"
    assert client.get("/value").data == b"app ValueError"
    assert client.get("/app").data == b"app Problem"
    # a handler registered for the status code wins over one for a class
    rv = client.get("/missing")
    assert (rv.status_code, rv.data) == (404, b"app 404")


# --- urlencoded form bodies ----------------------------------------------------------------


@pytest.fixture
def form_app(app):
    @app.route("/", methods=["POST"])
    def index():
        return {
            "form": [list(item) for item in request.form.items(multi=True)],
            "files": len(request.files),
            "rest": request.get_data(as_text=True),
        }

    return app


@pytest.mark.parametrize(
    ("body", "form"),
    [
        (b"a=1&b=2", [["a", "1"], ["b", "2"]]),
        (b"k=1&k=2", [["k", "1"], ["k", "2"]]),
        (b"a=1&&b=&c", [["a", "1"], ["b", ""], ["c", ""]]),
        (b"=v&k=&x=y=z", [["", "v"], ["k", ""], ["x", "y=z"]]),
        (b"q=hello+world&x=%C3%A9%20y", [["q", "hello world"], ["x", "\u00e9 y"]]),
        (b"a=%FF&b=%zz", [["a", "%FF"], ["b", "%zz"]]),
        (b"a=\xff&b=2", []),  # not UTF-8: werkzeug ignores the body
        (b"", []),
    ],
)
def test_urlencoded_form_bodies(form_app, client, body, form):
    rv = client.post("/", data=body, content_type="application/x-www-form-urlencoded")
    assert rv.status_code == 200
    assert rv.json == {"form": form, "files": 0, "rest": ""}


def test_urlencoded_form_with_charset_parameter(form_app, client):
    content_type = "application/x-www-form-urlencoded; charset=utf-8"
    rv = client.post("/", data=b"name=J%C3%BCrgen", content_type=content_type)
    assert rv.json["form"] == [["name", "J\u00fcrgen"]]


def test_urlencoded_form_too_large(form_app, client):
    form_app.config["MAX_CONTENT_LENGTH"] = 5
    rv = client.post("/", data=b"a=1234567890", content_type="application/x-www-form-urlencoded")
    assert rv.status_code == 413


def test_files_read_after_form_and_form_after_files(app, client):
    @app.route("/form-first", methods=["POST"])
    def form_first():
        return f"{request.form['a']} {len(request.files)} {request.form['a']}"

    @app.route("/files-first", methods=["POST"])
    def files_first():
        return f"{len(request.files)} {request.form['a']}"

    @app.route("/data-after-form", methods=["POST"])
    def data_after_form():
        form = request.form
        data = request.get_data(parse_form_data=True)
        return f"{form['a']} {request.form is form} {data!r}"

    kwargs = {"data": "a=x", "content_type": "application/x-www-form-urlencoded"}
    assert client.post("/form-first", **kwargs).data == b"x 0 x"
    assert client.post("/files-first", **kwargs).data == b"0 x"
    assert client.post("/data-after-form", **kwargs).data == b"x True b''"


def test_request_class_with_own_form_parser(app, client):
    from werkzeug.formparser import FormDataParser

    parsed = []

    class RecordingParser(FormDataParser):
        def parse(self, *args, **kwargs):
            rv = super().parse(*args, **kwargs)
            parsed.append(dict(rv[1]))
            return rv

    class MyRequest(kolben.Request):
        form_data_parser_class = RecordingParser

    app.request_class = MyRequest

    @app.route("/", methods=["POST"])
    def index():
        return request.form["a"]

    rv = client.post("/", data={"a": "b c"})
    assert rv.data == b"b c"
    assert parsed == [{"a": "b c"}]


def test_multipart_form_with_a_file(form_app, client):
    import io

    rv = client.post("/", data={"a": "1", "f": (io.BytesIO(b"file data"), "f.txt")})
    assert rv.json == {"form": [["a", "1"]], "files": 1, "rest": ""}


# -- remembered matches of static rules -------------------------------------------------


def test_static_match_is_remembered_and_view_args_are_fresh(app, client):
    seen = []

    @app.url_value_preprocessor
    def take(endpoint, values):
        seen.append(dict(values or {}))
        if values is not None:
            values["added"] = True  # a preprocessor may change view_args

    @app.route("/static-page")
    def page(**kwargs):
        return repr(sorted(kwargs))

    for _ in range(3):
        assert client.get("/static-page").text == "['added']"
    assert seen == [{}, {}, {}]


def test_rule_added_later_to_the_map_is_matched(app, client):
    @app.route("/a")
    def a():
        return "a"

    assert client.get("/a").text == "a"
    assert client.get("/b").status_code == 404
    # Through werkzeug's Map directly (add_url_rule refuses after the first request).
    app.url_map.add(kolben.routing.Rule("/b", endpoint="a"))
    assert client.get("/b").text == "a"
    assert client.get("/a").text == "a"


def test_rules_with_converters_are_matched_each_time(app, client):
    calls = []

    class CountingConverter(kolben.routing.BaseConverter):
        def to_python(self, value):
            calls.append(value)
            return value.upper()

    app.url_map.converters["counting"] = CountingConverter

    @app.route("/c/<counting:name>")
    def c(name):
        return name

    assert [client.get("/c/x").text for _ in range(3)] == ["X", "X", "X"]
    assert calls == ["x", "x", "x"]


def test_method_and_slash_outcomes_are_not_remembered_wrongly(app, client):
    @app.route("/only-get")
    def only_get():
        return "got"

    @app.route("/dir/")
    def directory():
        return "dir"

    for _ in range(2):
        assert client.get("/only-get").text == "got"
        assert client.post("/only-get").status_code == 405
        assert client.get("/dir").status_code == 308
        assert client.get("/dir/").text == "dir"
        assert client.head("/only-get").status_code == 200


def test_static_matches_are_per_host(app, client):
    app.url_map.host_matching = True
    app.url_map.default_host = "a.test"

    @app.route("/h", host="a.test")
    def on_a():
        return "a"

    @app.route("/h", host="b.test", endpoint="on_b")
    def on_b():
        return "b"

    for _ in range(2):
        assert client.get("/h", headers={"Host": "a.test"}).text == "a"
        assert client.get("/h", headers={"Host": "b.test"}).text == "b"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_converters_run_once_inside_the_contexts(app, client, kind):
    """As in Flask, a converter runs with the app and request contexts pushed, once
    per request, and what it puts on g is seen by the view (sync views run in a
    worker thread under ASGI, async ones on the loop)."""
    calls = []

    class UserConverter(kolben.routing.BaseConverter):
        def to_python(self, value):
            calls.append(kolben.request.path)
            kolben.g.loaded_by = kolben.current_app.name
            return {"name": value}

    app.url_map.converters["user"] = UserConverter

    if kind == "sync":

        @app.route("/u/<user:user>")
        def show(user):
            return f"{user['name']} {kolben.g.loaded_by}"

    else:

        @app.route("/u/<user:user>")
        async def show(user):
            return f"{user['name']} {kolben.g.loaded_by}"

    assert client.get("/u/ada").text == f"ada {app.name}"
    assert calls == ["/u/ada"]


def test_adapter_cache_remembers_matches_per_origin_path_and_method():
    from kolben.routing import MAX_CACHED_HOST, AdapterCache, Map, Rule

    url_map = Map([Rule("/a", endpoint="a")])
    cache = AdapterCache()
    rule = next(iter(url_map.iter_rules()))
    origin = ("example.com", None, None, "http", "", ())
    other = ("other.example", None, None, "http", "", ())
    cache.remember(origin, "/a", "GET", rule)
    assert cache.matched(origin, "/a", "GET") is rule
    assert cache.matched(other, "/a", "GET") is None
    assert cache.matched(origin, "/a", "POST") is None
    # A Host header too long to keep: bound and matched for its request only.
    huge = ("h" * (MAX_CACHED_HOST + 1), None, None, "http", "", ())
    cache.remember(huge, "/a", "GET", rule)
    assert cache.matched(huge, "/a", "GET") is None
    cache.forget_matches()
    assert cache.matched(origin, "/a", "GET") is None
    for i in range(AdapterCache.matches_size + 1):
        cache.remember(origin, "/a", f"M{i}", rule)
    assert cache.matched(origin, "/a", "M0") is None  # bounded
    cache.clear()
    assert cache.matched(origin, "/a", f"M{AdapterCache.matches_size}") is None


#: The modules whose code calls the context variables' methods on every request.
_PER_REQUEST_MODULES = [
    "app", "app_setup", "asgi", "ctx", "helpers", "pipeline", "resources", "sse",
    "templating", "views", "wrappers", "json/__init__", "json/tag",
]


@kolben_only
@pytest.mark.parametrize("module", _PER_REQUEST_MODULES)
def test_per_request_modules_bind_the_context_variables_by_assignment(module):
    """``from .globals import _cv_request`` makes CPython 3.11 compile
    ``_cv_request.get()`` as an attribute load that makes a bound method on
    every call (a method call on an imported name is compiled as a module
    function's); these modules assign them instead (see kolben.globals)."""
    import ast
    from pathlib import Path

    path = Path(kolben.__file__).parent / f"{module}.py"
    tree = ast.parse(path.read_text())
    imported = {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "globals"
        for alias in node.names
    }
    assert not imported & {"_cv_app", "_cv_request", "_cv_websocket"}, path


def test_a_response_class_is_checked_before_its_fast_constructor_is_used(monkeypatch):
    # The once-per-class check published the class as fast before comparing: a
    # from_body call made meanwhile (another thread serving a new response
    # class's first requests) got the fast path's 200 for a 201 class.
    import werkzeug.sansio.response as sansio_response

    from kolben.wrappers import Response

    class Created(Response):
        default_status = 201

    during: list[str] = []
    original = sansio_response.get_content_type

    def hooked(mimetype, charset):
        # Runs inside werkzeug's constructor, which the check calls.
        if not during:
            during.append("")
            during[0] = Created.from_body("meanwhile").status
        return original(mimetype, charset)

    monkeypatch.setattr(sansio_response, "get_content_type", hooked)
    first = Created.from_body("first").status
    monkeypatch.setattr(sansio_response, "get_content_type", original)
    assert (first, during[0], Created.from_body("later").status) == ("201 CREATED",) * 3
