"""Request hooks and the dispatch pipeline: before/after/teardown functions,
URL value hooks, the pipeline methods called by hand, and WSGI middleware."""

from __future__ import annotations

import io

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.test import create_environ

import kolben
from kolben import after_this_request, g, request, url_for


@pytest.fixture
def prod_app(app):
    """The app with TESTING off, so unhandled errors become 500 responses."""
    app.config["TESTING"] = False
    return app


# --- before_request ------------------------------------------------------------


def test_before_request_runs_before_view(app, client):
    calls = []

    @app.before_request
    def before():
        calls.append("before")

    @app.route("/")
    def index():
        calls.append("view")
        return "ok"

    assert client.get("/").data == b"ok"
    assert calls == ["before", "view"]


def test_before_request_returns_decorated_function(app):
    def before():
        return None

    assert app.before_request(before) is before


def test_before_request_return_value_short_circuits(app, client):
    calls = []

    @app.before_request
    def first():
        calls.append("first")
        return "stopped", 403

    @app.before_request
    def second():
        calls.append("second")

    @app.route("/")
    def index():
        calls.append("view")
        return "ok"

    rv = client.get("/")
    assert rv.status_code == 403
    assert rv.data == b"stopped"
    assert calls == ["first"]


def test_before_request_short_circuit_still_runs_after_request(app, client):
    @app.before_request
    def stop():
        return "early"

    @app.after_request
    def after(response):
        response.headers["X-After"] = "yes"
        return response

    @app.route("/")
    def index():
        return "view"

    rv = client.get("/")
    assert rv.data == b"early"
    assert rv.headers["X-After"] == "yes"


def test_before_request_registration_order(app, client):
    calls = []
    app.before_request(lambda: calls.append(1))
    app.before_request(lambda: calls.append(2))
    app.before_request(lambda: calls.append(3))
    app.add_url_rule("/", "index", lambda: "ok")
    client.get("/")
    assert calls == [1, 2, 3]


def test_before_request_exception_goes_to_error_handler(app, client):
    @app.before_request
    def before():
        raise KeyError("x")

    @app.errorhandler(KeyError)
    def handle(e):
        return "handled", 418

    app.add_url_rule("/", "index", lambda: "ok")
    rv = client.get("/")
    assert rv.status_code == 418
    assert rv.data == b"handled"


def test_before_request_runs_for_404(app, client):
    calls = []
    app.before_request(lambda: calls.append(request.path))
    assert client.get("/missing").status_code == 404
    assert calls == ["/missing"]


# --- after_request -------------------------------------------------------------


def test_after_request_gets_and_returns_response(app, client):
    @app.after_request
    def after(response):
        assert isinstance(response, kolben.Response)
        response.headers["X-Seen"] = "1"
        response.set_data(response.get_data() + b"!")
        return response

    app.add_url_rule("/", "index", lambda: "hi")
    rv = client.get("/")
    assert rv.data == b"hi!"
    assert rv.headers["X-Seen"] == "1"


def test_after_request_can_replace_response(app, client):
    @app.after_request
    def after(response):
        return kolben.Response("replaced", status=201)

    app.add_url_rule("/", "index", lambda: "hi")
    rv = client.get("/")
    assert rv.status_code == 201
    assert rv.data == b"replaced"


def test_after_request_reverse_registration_order(app, client):
    calls = []

    def make(n):
        def after(response):
            calls.append(n)
            return response

        return after

    app.after_request(make(1))
    app.after_request(make(2))
    app.after_request(make(3))
    app.add_url_rule("/", "index", lambda: "ok")
    client.get("/")
    assert calls == [3, 2, 1]


def test_after_request_runs_on_404(app, client):
    @app.after_request
    def after(response):
        response.headers["X-After"] = str(response.status_code)
        return response

    rv = client.get("/nope")
    assert rv.status_code == 404
    assert rv.headers["X-After"] == "404"


def test_after_request_runs_after_handled_error(app, client):
    @app.errorhandler(ValueError)
    def handle(e):
        return "handled", 400

    @app.after_request
    def after(response):
        response.headers["X-After"] = "1"
        return response

    @app.route("/")
    def index():
        raise ValueError

    rv = client.get("/")
    assert rv.status_code == 400
    assert rv.headers["X-After"] == "1"


def test_after_request_not_run_on_unhandled_exception_but_teardown_is(app, client):
    calls = []

    @app.after_request
    def after(response):
        calls.append("after")
        return response

    @app.teardown_request
    def teardown(exc):
        calls.append(("teardown", type(exc).__name__))

    @app.route("/")
    def index():
        raise RuntimeError("unhandled")

    # TESTING=True: the exception propagates to the caller
    with pytest.raises(RuntimeError, match="unhandled"):
        client.get("/")
    assert calls == [("teardown", "RuntimeError")]


def test_unhandled_exception_in_production_gives_500_and_runs_teardown(prod_app, client):
    calls = []

    @prod_app.teardown_request
    def teardown(exc):
        calls.append(type(exc).__name__)

    @prod_app.route("/")
    def index():
        raise RuntimeError("unhandled")

    rv = client.get("/", errors_stream=io.StringIO())
    assert rv.status_code == 500
    assert calls == ["RuntimeError"]


def test_after_request_runs_on_500_response_when_not_propagating(prod_app, client):
    # without propagation the error becomes a 500 response, which is then
    # finalized like any other response
    seen = []

    @prod_app.after_request
    def after(response):
        seen.append(response.status_code)
        return response

    @prod_app.route("/")
    def index():
        raise RuntimeError("unhandled")

    assert client.get("/", errors_stream=io.StringIO()).status_code == 500
    assert seen == [500]


def test_after_request_error_becomes_500(prod_app, caplog, client):
    @prod_app.after_request
    def broken(response):
        raise RuntimeError("after_request broke")

    prod_app.add_url_rule("/", "index", lambda: "ok")
    rv = client.get("/", errors_stream=io.StringIO())
    assert rv.status_code == 500
    assert "RuntimeError: after_request broke" in caplog.text


def test_after_request_error_while_handling_error_is_logged(prod_app, caplog, client):
    @prod_app.after_request
    def broken(response):
        if response.status_code == 500:
            raise RuntimeError("finalizing broke")
        return response

    @prod_app.route("/")
    def index():
        raise ValueError("view broke")

    rv = client.get("/", errors_stream=io.StringIO())
    # the unprocessed 500 response is still sent
    assert rv.status_code == 500
    out = caplog.text
    assert "ValueError: view broke" in out
    assert "RuntimeError: finalizing broke" in out


# --- teardown_request ----------------------------------------------------------


def test_teardown_request_gets_none_on_success(app, client):
    seen = []
    app.teardown_request(seen.append)
    app.add_url_rule("/", "index", lambda: "ok")
    client.get("/")
    assert seen == [None]


def test_teardown_request_gets_exception(prod_app, client):
    seen = []
    prod_app.teardown_request(seen.append)
    err = LookupError("gone")

    @prod_app.route("/")
    def index():
        raise err

    client.get("/", errors_stream=io.StringIO())
    assert seen == [err]


def test_teardown_request_reverse_order(app, client):
    calls = []
    app.teardown_request(lambda exc: calls.append(1))
    app.teardown_request(lambda exc: calls.append(2))
    app.add_url_rule("/", "index", lambda: "ok")
    client.get("/")
    assert calls == [2, 1]


def test_teardown_request_with_handled_http_error_gets_none(app, client):
    seen = []
    app.teardown_request(seen.append)
    assert client.get("/missing").status_code == 404
    assert seen == [None]


def test_teardown_request_in_test_request_context(app):
    seen = []
    app.teardown_request(seen.append)
    with app.test_request_context():
        pass
    assert seen == [None]


def test_teardown_request_exception_propagates(app, client):
    @app.teardown_request
    def broken(exc):
        raise OSError("teardown broke")

    app.add_url_rule("/", "index", lambda: "ok")
    with pytest.raises(OSError, match="teardown broke"):
        client.get("/")
    # no context left behind (the autouse guard also checks this)
    assert not kolben.has_request_context()
    assert not kolben.has_app_context()


def test_teardown_request_return_value_ignored(app, client):
    app.teardown_request(lambda exc: "ignored")
    app.add_url_rule("/", "index", lambda: "ok")
    assert client.get("/").data == b"ok"


def test_teardown_appcontext_runs_after_teardown_request(app, client):
    calls = []
    app.teardown_appcontext(lambda exc: calls.append("appcontext"))
    app.teardown_request(lambda exc: calls.append("request"))
    app.add_url_rule("/", "index", lambda: "ok")
    client.get("/")
    assert calls == ["request", "appcontext"]


def test_full_order(app, client):
    calls = []

    @app.before_request
    def before():
        calls.append("before")

    @app.after_request
    def after(response):
        calls.append("after")
        return response

    @app.teardown_request
    def td_request(exc):
        calls.append("teardown_request")

    @app.teardown_appcontext
    def td_app(exc):
        calls.append("teardown_appcontext")

    @app.route("/")
    def index():
        calls.append("view")
        return "ok"

    client.get("/")
    assert calls == ["before", "view", "after", "teardown_request", "teardown_appcontext"]


def test_teardown_sees_g_from_the_request(app, client):
    seen = []

    @app.route("/")
    def index():
        g.value = "from view"
        return "ok"

    @app.teardown_request
    def td(exc):
        seen.append(g.value)

    @app.teardown_appcontext
    def td_app(exc):
        seen.append(g.get("value"))

    client.get("/")
    assert seen == ["from view", "from view"]


# --- after_this_request ----------------------------------------------------------


def test_after_this_request_in_view_runs_before_after_request(app, client):
    calls = []

    @app.after_request
    def after(response):
        calls.append("after_request")
        return response

    @app.route("/")
    def index():
        @after_this_request
        def once(response):
            calls.append("after_this_request")
            response.headers["X-Once"] = "1"
            return response

        return "ok"

    rv = client.get("/")
    assert rv.headers["X-Once"] == "1"
    assert calls == ["after_this_request", "after_request"]


def test_after_this_request_from_before_request(app, client):
    @app.before_request
    def before():
        @after_this_request
        def add(response):
            response.headers["X-Before"] = "yes"
            return response

    app.add_url_rule("/", "index", lambda: "ok")
    assert client.get("/").headers["X-Before"] == "yes"


# --- url_defaults / url_value_preprocessor --------------------------------------------


def _lang_app(app):
    @app.url_value_preprocessor
    def pull_lang(endpoint, values):
        g.lang = values.pop("lang", None) if values else None

    @app.url_defaults
    def add_lang(endpoint, values):
        if "lang" in values or not g.get("lang"):
            return
        if app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values["lang"] = g.lang

    @app.route("/<lang>/")
    def index():
        return url_for("about")

    @app.route("/<lang>/about")
    def about():
        return f"about in {g.lang}"

    return app


def test_url_value_preprocessor_pops_values(app, client):
    _lang_app(app)
    assert client.get("/de/about").data == b"about in de"


def test_url_defaults_fills_values(app, client):
    _lang_app(app)
    assert client.get("/fr/").data == b"/fr/about"


def test_url_defaults_explicit_value_wins(app):
    _lang_app(app)
    with app.test_request_context("/fr/"):
        app.preprocess_request()
        assert url_for("about") == "/fr/about"
        assert url_for("about", lang="en") == "/en/about"


def test_url_value_preprocessor_receives_endpoint_and_values(app, client):
    seen = []

    @app.url_value_preprocessor
    def pre(endpoint, values):
        seen.append((endpoint, dict(values or {})))

    @app.route("/item/<int:item_id>")
    def item(item_id):
        return str(item_id * 2)

    assert client.get("/item/21").data == b"42"
    assert seen == [("item", {"item_id": 21})]


def test_url_value_preprocessor_runs_before_before_request(app, client):
    calls = []
    app.url_value_preprocessor(lambda endpoint, values: calls.append("preprocessor"))
    app.before_request(lambda: calls.append("before"))
    app.add_url_rule("/", "index", lambda: "ok")
    client.get("/")
    assert calls == ["preprocessor", "before"]


def test_url_defaults_outside_request(app):
    @app.url_defaults
    def defaults(endpoint, values):
        values.setdefault("page", 1)

    @app.route("/list/<int:page>")
    def listing(page):
        return ""

    with app.test_request_context():
        assert url_for("listing") == "/list/1"
        assert url_for("listing", page=3) == "/list/3"


# --- the pipeline methods by hand ----------------------------------------------------


def test_preprocess_request_returns_before_request_value(app):
    @app.before_request
    def before():
        if request.args.get("stop"):
            return "stopped"

    with app.test_request_context("/?stop=1"):
        assert app.preprocess_request() == "stopped"
    with app.test_request_context("/"):
        assert app.preprocess_request() is None


def test_process_response_runs_after_request(app):
    @app.after_request
    def after(response):
        response.headers["X-Processed"] = "yes"
        return response

    with app.test_request_context():
        resp = app.make_response("hello")
        resp = app.process_response(resp)
        assert resp.headers["X-Processed"] == "yes"
        assert resp.get_data() == b"hello"


def test_process_response_runs_after_this_request(app):
    with app.test_request_context():

        @after_this_request
        def once(response):
            response.headers["X-Once"] = "1"
            return response

        resp = app.process_response(app.make_response("x"))
        assert resp.headers["X-Once"] == "1"


def test_dispatch_request_returns_view_return_value(app):
    @app.route("/hello/<name>")
    def hello(name):
        return {"name": name}

    with app.test_request_context("/hello/ada"):
        assert app.dispatch_request() == {"name": "ada"}


def test_dispatch_request_raises_routing_exception(app):
    with app.test_request_context("/missing"), pytest.raises(NotFound):
        app.dispatch_request()


def test_dispatch_request_does_not_run_hooks(app):
    calls = []
    app.before_request(lambda: calls.append("before"))
    app.add_url_rule("/", "index", lambda: "view")
    with app.test_request_context("/"):
        assert app.dispatch_request() == "view"
    assert calls == []


def test_full_dispatch_request_returns_response(app):
    calls = []

    @app.before_request
    def before():
        calls.append("before")

    @app.after_request
    def after(response):
        calls.append("after")
        return response

    app.add_url_rule("/", "index", lambda: ("made", 202))
    with app.test_request_context("/"):
        resp = app.full_dispatch_request()
        assert isinstance(resp, kolben.Response)
        assert resp.status_code == 202
        assert resp.get_data() == b"made"
    assert calls == ["before", "after"]


def test_full_dispatch_request_handles_http_errors(app):
    with app.test_request_context("/missing"):
        resp = app.full_dispatch_request()
        assert resp.status_code == 404


def test_full_dispatch_request_uses_before_request_value(app):
    app.before_request(lambda: ("short", 409))
    app.add_url_rule("/", "index", lambda: "view")
    with app.test_request_context("/"):
        resp = app.full_dispatch_request()
        assert resp.status_code == 409
        assert resp.get_data() == b"short"


# --- hooks registered through the registries (what extensions do) ---------------------


def test_hooks_registered_via_func_dicts(app, client):
    calls = []

    def before():
        calls.append("before")

    def after(response):
        calls.append("after")
        response.headers["X-Ext"] = "1"
        return response

    def teardown(exc):
        calls.append(("teardown", exc))

    app.before_request_funcs.setdefault(None, []).append(before)
    app.after_request_funcs.setdefault(None, []).append(after)
    app.teardown_request_funcs.setdefault(None, []).append(teardown)
    app.teardown_appcontext_funcs.append(lambda exc: calls.append("appcontext"))
    app.add_url_rule("/", "index", lambda: "ok")

    rv = client.get("/")
    assert rv.headers["X-Ext"] == "1"
    assert calls == ["before", "after", ("teardown", None), "appcontext"]


def test_hook_registries_reflect_decorators(app):
    def before():
        return None

    def after(response):
        return response

    def teardown(exc):
        return None

    app.before_request(before)
    app.after_request(after)
    app.teardown_request(teardown)
    app.teardown_appcontext(teardown)
    assert app.before_request_funcs[None] == [before]
    assert app.after_request_funcs[None] == [after]
    assert app.teardown_request_funcs[None] == [teardown]
    assert app.teardown_appcontext_funcs == [teardown]


def test_url_processor_registries(app, client):
    calls = []

    def pre(endpoint, values):
        calls.append("pre")

    app.url_value_preprocessors.setdefault(None, []).append(pre)
    app.add_url_rule("/", "index", lambda: "ok")
    client.get("/")
    assert calls == ["pre"]


# --- WSGI: __call__ and middleware ------------------------------------------------------


def test_call_delegates_to_wsgi_app(app, client):
    calls = []
    original = app.wsgi_app

    def wrapper(environ, start_response):
        calls.append(environ["PATH_INFO"])
        return original(environ, start_response)

    app.wsgi_app = wrapper
    app.add_url_rule("/", "index", lambda: "ok")
    assert client.get("/").data == b"ok"
    assert calls == ["/"]


def test_app_is_a_wsgi_callable(app):
    app.add_url_rule("/", "index", lambda: "wsgi")
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append((status, headers))

    environ = create_environ("/")
    body = b"".join(app(environ, start_response))
    assert body == b"wsgi"
    assert statuses[0][0] == "200 OK"
    assert ("Content-Type", "text/html; charset=utf-8") in statuses[0][1]


def test_wsgi_app_callable_directly(app):
    app.add_url_rule("/", "index", lambda: "direct")
    out = []
    body = app.wsgi_app(create_environ("/"), lambda s, h, e=None: out.append(s))
    assert b"".join(body) == b"direct"
    assert out == ["200 OK"]


def test_proxy_fix_middleware(app, client):
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)

    @app.route("/")
    def index():
        return f"{request.remote_addr} {request.scheme} {request.is_secure}"

    rv = client.get("/", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert rv.data == b"203.0.113.7 https True"


def test_without_proxy_fix_forwarded_headers_ignored(app, client):
    @app.route("/")
    def index():
        return f"{request.remote_addr} {request.scheme}"

    rv = client.get("/", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert rv.data == b"127.0.0.1 http"


def test_middleware_wrapping_response(app, client):
    original = app.wsgi_app

    def add_header(environ, start_response):
        def sr(status, headers, exc_info=None):
            headers.append(("X-Middleware", "on"))
            return start_response(status, headers, exc_info)

        return original(environ, sr)

    app.wsgi_app = add_header
    app.add_url_rule("/", "index", lambda: "ok")
    assert client.get("/").headers["X-Middleware"] == "on"


def test_errors_stream_available_in_environ(app, client):
    stream = io.StringIO()

    @app.route("/")
    def index():
        request.environ["wsgi.errors"].write("logged")
        return "ok"

    client.get("/", errors_stream=stream)
    assert stream.getvalue() == "logged"
