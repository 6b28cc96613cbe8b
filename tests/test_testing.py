"""The testing helpers: test client, CLI runner, test_request_context and the
EnvironBuilder.

Flask 3.1's documented behaviour is the spec."""

from __future__ import annotations

import click
import pytest

import kolben
from kolben import (
    current_app,
    g,
    has_app_context,
    has_request_context,
    make_response,
    request,
    session,
)
from kolben.testing import (
    EnvironBuilder,
    FlaskClient,
    FlaskCliRunner,
    KolbenClient,
    KolbenCliRunner,
)


@pytest.fixture
def app(app):
    @app.route("/echo", methods=["GET", "POST", "PUT"])
    def echo():
        return {
            "method": request.method,
            "args": request.args.to_dict(flat=False),
            "json": request.get_json(silent=True),
            "content_type": request.content_type,
            "data": request.get_data(as_text=True),
        }

    @app.route("/text")
    def text():
        g.seen = "from the view"
        return "plain text ✓"

    @app.route("/redirect-once")
    def redirect_once():
        return kolben.redirect("/text")

    @app.route("/redirect-twice")
    def redirect_twice():
        return kolben.redirect("/redirect-once", 301)

    return app


# --- client class --------------------------------------------------------------------------


def test_test_client_is_kolben_client(app, client):
    assert isinstance(client, KolbenClient)
    assert isinstance(client, FlaskClient)
    assert FlaskClient is KolbenClient
    assert client.application is app


def test_test_client_class_override(app, client_for):
    class MyClient(KolbenClient):
        def __init__(self, *args, **kwargs):
            self.token = kwargs.pop("token", None)
            super().__init__(*args, **kwargs)

        def open(self, *args, **kwargs):
            headers = kwargs.setdefault("headers", {})
            headers["X-Token"] = self.token
            return super().open(*args, **kwargs)

    @app.route("/token")
    def token():
        return request.headers.get("X-Token", "")

    app.test_client_class = MyClient
    client = client_for(app, token="abc")
    assert isinstance(client, MyClient)
    assert client.token == "abc"
    assert client.get("/token").data == b"abc"


def test_test_client_use_cookies_false(app, client_for):
    client = client_for(app, use_cookies=False)
    assert client.get("/text").status_code == 200


def test_environ_base_defaults(app, client):
    @app.route("/remote")
    def remote():
        return request.remote_addr

    assert client.get("/remote").data == b"127.0.0.1"


def test_environ_base_can_be_changed(app, client):
    @app.route("/header")
    def header():
        return request.headers.get("X-Foo", "none")

    client.environ_base["HTTP_X_FOO"] = "bar"
    assert client.get("/header").data == b"bar"


def test_environ_overrides_per_request(app, client):
    @app.route("/remote")
    def remote():
        return request.remote_addr

    assert client.get("/remote", environ_base={"REMOTE_ADDR": "10.0.0.1"}).data == b"10.0.0.1"


# --- request arguments ---------------------------------------------------------------------


def test_json_kwarg_sets_body_and_content_type(client):
    rv = client.post("/echo", json={"a": 1, "b": [True, None]})
    assert rv.json["json"] == {"a": 1, "b": [True, None]}
    assert rv.json["content_type"] == "application/json"
    assert rv.json["method"] == "POST"


def test_json_kwarg_with_list(client):
    rv = client.put("/echo", json=[1, 2, 3])
    assert rv.json["json"] == [1, 2, 3]
    assert rv.json["method"] == "PUT"


def test_json_and_data_together_raise(client):
    with pytest.raises(TypeError):
        client.post("/echo", json={"a": 1}, data="x")


def test_query_string_kwarg(client):
    rv = client.get("/echo", query_string={"a": ["1", "2"], "b": "x"})
    assert rv.json["args"] == {"a": ["1", "2"], "b": ["x"]}


def test_query_in_path(client):
    rv = client.get("/echo?a=1&a=2")
    assert rv.json["args"] == {"a": ["1", "2"]}


def test_data_kwarg(client):
    rv = client.post("/echo", data="raw body", content_type="text/plain")
    assert rv.json["data"] == "raw body"
    assert rv.json["content_type"] == "text/plain"


def test_headers_kwarg(app, client):
    @app.route("/h")
    def h():
        return request.headers["X-Custom"]

    assert client.get("/h", headers={"X-Custom": "value"}).data == b"value"


def test_client_open_with_environ_builder(app, client):
    builder = EnvironBuilder(app, "/echo", method="POST", json={"built": True})
    try:
        rv = client.open(builder)
    finally:
        builder.close()
    assert rv.json["json"] == {"built": True}


# --- response helpers ----------------------------------------------------------------------


def test_response_text_data_json(client):
    rv = client.get("/text")
    assert rv.status_code == 200
    assert rv.text == "plain text ✓"
    assert rv.get_data() == "plain text ✓".encode()
    assert rv.get_data(as_text=True) == "plain text ✓"
    assert rv.data == rv.get_data()

    rv = client.get("/echo")
    assert rv.json == rv.get_json()
    assert rv.json["method"] == "GET"
    assert rv.is_json


def test_response_json_none_for_non_json(client):
    assert client.get("/text").json is None


def test_response_request_attribute(client):
    rv = client.get("/text?x=1")
    assert rv.request.path == "/text"
    assert rv.request.args["x"] == "1"


# --- redirects -----------------------------------------------------------------------------


def test_no_follow_redirects_by_default(client):
    rv = client.get("/redirect-once")
    assert rv.status_code == 302
    assert rv.headers["Location"] == "/text"
    assert rv.history == ()


def test_follow_redirects(client):
    rv = client.get("/redirect-once", follow_redirects=True)
    assert rv.status_code == 200
    assert rv.text == "plain text ✓"
    assert rv.request.path == "/text"
    assert len(rv.history) == 1
    assert rv.history[0].status_code == 302
    assert rv.history[0].request.path == "/redirect-once"


def test_follow_redirects_chain(client):
    rv = client.get("/redirect-twice", follow_redirects=True)
    assert rv.status_code == 200
    assert [r.status_code for r in rv.history] == [301, 302]
    assert [r.request.path for r in rv.history] == ["/redirect-twice", "/redirect-once"]


# --- with client: preserving the context ---------------------------------------------------


def test_with_client_keeps_request_context(client):
    with client:
        client.get("/echo?name=ann")
        assert has_request_context()
        assert request.args["name"] == "ann"
        assert request.path == "/echo"
        assert current_app.name == "test_app"
    assert not has_request_context()
    assert not has_app_context()


def test_with_client_keeps_g(client):
    with client:
        client.get("/text")
        assert g.seen == "from the view"
    assert not has_app_context()


def test_with_client_last_request_wins(client):
    with client:
        client.get("/echo?n=1")
        assert request.args["n"] == "1"
        client.post("/echo?n=2")
        assert request.args["n"] == "2"
        assert request.method == "POST"
    assert not has_request_context()


def test_without_with_block_context_is_popped(client):
    client.get("/echo?x=1")
    assert not has_request_context()
    assert not has_app_context()


def test_nested_with_client_raises(client):
    with client:
        client.get("/text")
        with pytest.raises(RuntimeError), client:
            pass
    assert not has_request_context()


def test_with_client_after_error_response(app, client):
    with client:
        rv = client.get("/missing?q=1")
        assert rv.status_code == 404
        assert request.args["q"] == "1"
    assert not has_request_context()


def test_with_client_can_be_reused(client):
    with client:
        client.get("/echo?a=1")
    with client:
        client.get("/echo?a=2")
        assert request.args["a"] == "2"
    assert not has_request_context()


# --- CLI runner ----------------------------------------------------------------------------


def test_test_cli_runner_class(app, runner):
    assert isinstance(runner, KolbenCliRunner)
    assert isinstance(runner, FlaskCliRunner)
    assert FlaskCliRunner is KolbenCliRunner
    assert runner.app is app


def test_cli_runner_invokes_custom_command_with_app_context(app, runner):
    @app.cli.command("hello")
    def hello():
        click.echo(current_app.name)

    result = runner.invoke(args=["hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "test_app\n"
    assert not has_app_context()


def test_cli_runner_invokes_command_object(app, runner):
    @app.cli.command()
    def shout():
        click.echo(current_app.name.upper())

    result = runner.invoke(shout)
    assert result.exit_code == 0, result.output
    assert result.output == "TEST_APP\n"


def test_cli_runner_command_with_arguments_and_options(app, runner):
    @app.cli.command("greet")
    @click.argument("name")
    @click.option("--punct", default="!")
    def greet(name, punct):
        click.echo(f"hello {name}{punct} from {current_app.name}")

    result = runner.invoke(args=["greet", "bob", "--punct", "?"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello bob? from test_app\n"


def test_cli_runner_command_failure_exit_code(app, runner):
    @app.cli.command("fail")
    def fail():
        raise click.ClickException("it failed")

    result = runner.invoke(args=["fail"])
    assert result.exit_code == 1
    assert "it failed" in result.output


def test_cli_runner_command_can_use_config(app, runner):
    app.config["GREETING"] = "hi"

    @app.cli.command("config")
    def config():
        click.echo(current_app.config["GREETING"])

    assert runner.invoke(args=["config"]).output == "hi\n"


# --- test_request_context ------------------------------------------------------------------


def test_test_request_context_defaults(app):
    with app.test_request_context():
        assert request.path == "/"
        assert request.method == "GET"
        assert request.url == "http://localhost/"
        assert request.host == "localhost"
        assert request.scheme == "http"
        assert current_app._get_current_object() is app
    assert not has_request_context()


def test_test_request_context_path_and_query(app):
    with app.test_request_context("/some/path?x=1&y=2"):
        assert request.path == "/some/path"
        assert request.args.to_dict() == {"x": "1", "y": "2"}
        assert request.full_path == "/some/path?x=1&y=2"


def test_test_request_context_query_string_kwarg(app):
    with app.test_request_context("/p", query_string={"a": "b"}):
        assert request.args["a"] == "b"


def test_test_request_context_method_and_data(app):
    with app.test_request_context("/submit", method="POST", data={"name": "ann"}):
        assert request.method == "POST"
        assert request.form["name"] == "ann"
        assert request.mimetype == "application/x-www-form-urlencoded"


def test_test_request_context_raw_data(app):
    with app.test_request_context("/", method="PUT", data=b"\x00raw"):
        assert request.get_data() == b"\x00raw"


def test_test_request_context_json(app):
    with app.test_request_context("/api", method="POST", json={"k": [1, 2]}):
        assert request.is_json
        assert request.get_json() == {"k": [1, 2]}
        assert request.mimetype == "application/json"


def test_test_request_context_headers(app):
    with app.test_request_context(headers={"X-Req": "1", "Accept": "text/plain"}):
        assert request.headers["X-Req"] == "1"
        assert request.accept_mimetypes.best == "text/plain"


def test_test_request_context_base_url(app):
    with app.test_request_context("/page", base_url="https://shop.test:8443/store/"):
        assert request.host == "shop.test:8443"
        assert request.scheme == "https"
        assert request.script_root == "/store"
        assert request.path == "/page"
        assert request.url == "https://shop.test:8443/store/page"


def test_test_request_context_url_scheme(app):
    with app.test_request_context(url_scheme="https"):
        assert request.scheme == "https"
        assert request.url == "https://localhost/"
        assert request.is_secure


def test_test_request_context_subdomain(app):
    app.config["SERVER_NAME"] = "example.com"
    with app.test_request_context("/x", subdomain="api"):
        assert request.host == "api.example.com"
        assert request.url == "http://api.example.com/x"


def test_test_request_context_server_name_sets_default_base_url(app):
    app.config["SERVER_NAME"] = "example.com:8080"
    with app.test_request_context("/x"):
        assert request.host == "example.com:8080"
        assert request.url == "http://example.com:8080/x"


def test_test_request_context_application_root_and_scheme(app):
    app.config.update(
        SERVER_NAME="example.com", APPLICATION_ROOT="/root", PREFERRED_URL_SCHEME="https"
    )
    with app.test_request_context("/p"):
        assert request.url == "https://example.com/root/p"
        assert request.script_root == "/root"
        assert request.path == "/p"


def test_test_request_context_base_url_with_subdomain_rejected(app):
    with pytest.raises((AssertionError, ValueError, TypeError)):
        app.test_request_context(base_url="http://x.test/", subdomain="a")


def test_test_request_context_url_scheme_and_subdomain(app):
    app.config["SERVER_NAME"] = "example.com"
    with app.test_request_context(subdomain="api", url_scheme="https"):
        assert request.url == "https://api.example.com/"


def test_test_request_context_nested(app):
    with app.test_request_context("/outer"):
        with app.test_request_context("/inner"):
            assert request.path == "/inner"
        assert request.path == "/outer"
    assert not has_request_context()


def test_test_request_context_manual_push_pop(app):
    ctx = app.test_request_context("/manual")
    ctx.push()
    try:
        assert request.path == "/manual"
        assert has_app_context()
    finally:
        ctx.pop()
    assert not has_request_context()
    assert not has_app_context()


def test_test_request_context_does_not_run_view(app):
    calls = []

    @app.route("/v")
    def v():
        calls.append(1)
        return ""

    with app.test_request_context("/v"):
        assert request.endpoint == "v"
    assert calls == []


def test_environ_builder_with_app(app):
    app.config.update(SERVER_NAME="example.com", PREFERRED_URL_SCHEME="https")
    builder = EnvironBuilder(app, "/built", json={"a": 1})
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    assert environ["PATH_INFO"] == "/built"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "example.com"
    assert environ["CONTENT_TYPE"] == "application/json"
    with app.request_context(environ):
        assert request.get_json() == {"a": 1}
        assert request.url == "https://example.com/built"


def test_client_open_with_environ_dict(app, client):
    builder = EnvironBuilder(app, "/echo", method="PUT", query_string={"k": "v"})
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    rv = client.open(environ)
    assert rv.json["method"] == "PUT"
    assert rv.json["args"] == {"k": ["v"]}


def test_client_open_with_request_object(app, client):
    builder = EnvironBuilder(app, "/echo", method="POST", json=[1])
    try:
        req = builder.get_request()
        rv = client.open(req)
    finally:
        builder.close()
    assert rv.json["json"] == [1]
    assert rv.json["method"] == "POST"


def test_response_header_names_as_the_app_wrote_them(app, client):
    # Under ASGI the door sends them lowercase (the ASGI spec requires it); the
    # test client shows them as the WSGI door's does, so a test written for Flask
    # that looks for "Set-Cookie" among the headers finds it under both doors.
    @app.route("/headers")
    def headers():
        session["seen"] = True
        rv = make_response("hi")
        rv.headers["X-RateLimit-Limit"] = "5"
        rv.headers["ETag"] = '"abc"'
        rv.headers["x-lower"] = "1"
        rv.set_cookie("flavour", "oat")
        return rv

    rv = client.get("/headers")
    names = [name for name, _ in rv.headers]
    assert names == [
        "Content-Type",
        "Content-Length",
        "X-RateLimit-Limit",
        "ETag",
        "x-lower",
        "Set-Cookie",
        "Vary",
        "Set-Cookie",
    ]
    cookies = [value for name, value in rv.headers if name == "Set-Cookie"]
    assert [c.split("=", 1)[0] for c in cookies] == ["flavour", "session"]


@pytest.mark.parametrize("root", ["/", "/myapp"])
def test_client_relative_path_below_application_root(app, client, root):
    # client.get("a/b") (no leading slash) is routed as "/a/b", below
    # APPLICATION_ROOT too, as in Flask; through the ASGI door it was joined to
    # the root as "/myappa/b" and answered 404 (Flask-AppBuilder's swagger test).
    app.config["APPLICATION_ROOT"] = root

    @app.route("/a/b")
    def ab():
        return f"{request.script_root}|{request.path}|{request.url}"

    prefix = "" if root == "/" else root
    for path, query in [("a/b", ""), ("a/b?q=1", "?q=1")]:
        rv = client.get(path)
        assert rv.status_code == 200
        assert rv.text == f"{prefix}|/a/b|http://localhost{prefix}/a/b{query}"
