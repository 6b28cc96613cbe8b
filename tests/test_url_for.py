"""url_for: building in request and app contexts, special arguments, URL defaults
and value preprocessors, build errors and their handlers.

Flask 3.1's documented behaviour is the spec."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.routing import BuildError

import kolben
from helpers import kolben_only
from kolben import g, request, url_for


@pytest.fixture
def app(app):
    @app.route("/")
    def index():
        return "index"

    @app.route("/users/<int:user_id>")
    def user(user_id):
        return str(user_id)

    @app.route("/files/<path:name>")
    def files(name):
        return name

    return app


# --- request context -----------------------------------------------------------------------


def test_url_for_in_request_context(app):
    with app.test_request_context():
        assert url_for("index") == "/"
        assert url_for("user", user_id=3) == "/users/3"
        assert url_for("files", name="a/b.txt") == "/files/a/b.txt"


def test_url_for_quotes_values(app):
    with app.test_request_context():
        assert url_for("files", name="a b") == "/files/a%20b"


def test_url_for_inside_view(app, client):
    @app.route("/link")
    def link():
        return url_for("user", user_id=9)

    assert client.get("/link").data == b"/users/9"


def test_app_url_for_method_in_request_context(app):
    with app.test_request_context():
        assert app.url_for("user", user_id=1) == "/users/1"


def test_external(app):
    with app.test_request_context():
        assert url_for("index", _external=True) == "http://localhost/"
        assert url_for("user", user_id=2, _external=True) == "http://localhost/users/2"


def test_external_uses_request_host(app):
    with app.test_request_context(base_url="https://shop.test:8443/"):
        assert url_for("index", _external=True) == "https://shop.test:8443/"


def test_anchor(app):
    with app.test_request_context():
        assert url_for("index", _anchor="top") == "/#top"
        assert url_for("user", user_id=1, _anchor="x y") == "/users/1#x%20y"


def test_anchor_after_query(app):
    with app.test_request_context():
        assert url_for("index", q="1", _anchor="frag") == "/?q=1#frag"


def test_method(app):
    def thing():
        return ""

    app.add_url_rule("/thing/read", "thing", thing, methods=["GET"])
    app.add_url_rule("/thing/write", "thing", thing, methods=["POST"])
    with app.test_request_context():
        assert url_for("thing") == "/thing/read"
        assert url_for("thing", _method="GET") == "/thing/read"
        assert url_for("thing", _method="POST") == "/thing/write"


def test_method_not_available_is_build_error(app):
    with app.test_request_context(), pytest.raises(BuildError):
        url_for("index", _method="POST")


def test_scheme_with_external(app):
    with app.test_request_context():
        assert url_for("index", _scheme="https", _external=True) == "https://localhost/"


def test_scheme_implies_external_in_request_context(app):
    with app.test_request_context():
        assert url_for("user", user_id=5, _scheme="https") == "https://localhost/users/5"


def test_scheme_without_external_raises(app):
    with app.test_request_context(), pytest.raises(ValueError, match="_external"):
        url_for("index", _scheme="https", _external=False)


def test_extra_values_become_query_args(app):
    with app.test_request_context():
        url = url_for("user", user_id=1, page=2, q="a b")
    parts = urlsplit(url)
    assert parts.path == "/users/1"
    assert parse_qs(parts.query) == {"page": ["2"], "q": ["a b"]}


def test_list_values_repeat_query_args(app):
    with app.test_request_context():
        url = url_for("index", tag=["a", "b", "c"])
    parts = urlsplit(url)
    assert parts.path == "/"
    assert parse_qs(parts.query) == {"tag": ["a", "b", "c"]}
    assert parts.query.count("tag=") == 3


def test_none_values_are_dropped(app):
    with app.test_request_context():
        assert url_for("index", q=None) == "/"


def test_script_root_in_request_context(app):
    with app.test_request_context(base_url="http://localhost/app/"):
        assert request.script_root == "/app"
        assert url_for("index") == "/app/"
        assert url_for("user", user_id=4) == "/app/users/4"
        assert url_for("user", user_id=4, _external=True) == "http://localhost/app/users/4"


def test_script_root_in_view(app, client):
    @app.route("/where")
    def where():
        return url_for("user", user_id=1)

    rv = client.get("/where", base_url="http://localhost/mounted/")
    assert rv.data == b"/mounted/users/1"


# --- app context and SERVER_NAME -----------------------------------------------------------


def test_app_context_with_server_name(app):
    app.config["SERVER_NAME"] = "example.com"
    with app.app_context():
        # outside a request, URLs are external by default
        assert url_for("index") == "http://example.com/"
        assert url_for("user", user_id=3) == "http://example.com/users/3"
        assert url_for("user", user_id=3, _external=False) == "/users/3"


def test_app_context_server_name_with_port(app):
    app.config["SERVER_NAME"] = "example.com:8080"
    with app.app_context():
        assert url_for("index") == "http://example.com:8080/"


def test_app_context_application_root_and_scheme(app):
    app.config.update(
        SERVER_NAME="example.com",
        APPLICATION_ROOT="/myapp",
        PREFERRED_URL_SCHEME="https",
    )
    with app.app_context():
        assert url_for("index") == "https://example.com/myapp/"
        assert url_for("user", user_id=1, _external=False) == "/myapp/users/1"
        assert url_for("index", _scheme="http") == "http://example.com/myapp/"


def test_app_context_scheme_without_external_raises(app):
    app.config["SERVER_NAME"] = "example.com"
    with app.app_context(), pytest.raises(ValueError):
        url_for("index", _scheme="https", _external=False)


def test_app_url_for_without_context_with_server_name(app):
    app.config["SERVER_NAME"] = "example.com"
    assert app.url_for("user", user_id=8) == "http://example.com/users/8"


def test_app_context_without_server_name_raises(app):
    with app.app_context(), pytest.raises(RuntimeError, match="SERVER_NAME"):
        url_for("index")


def test_app_url_for_without_context_or_server_name_raises(app):
    with pytest.raises(RuntimeError, match="SERVER_NAME"):
        app.url_for("index")


def test_url_for_outside_any_context_raises(app):
    with pytest.raises(RuntimeError, match="application context"):
        url_for("index")


# --- url_defaults and url_value_preprocessor ------------------------------------------------


@pytest.fixture
def lang_app(app):
    """The language-code example from Flask's "URL Processors" pattern."""

    @app.url_defaults
    def add_language_code(endpoint, values):
        if "lang_code" in values or not g.get("lang_code"):
            return
        if app.url_map.is_endpoint_expecting(endpoint, "lang_code"):
            values["lang_code"] = g.lang_code

    @app.url_value_preprocessor
    def pull_lang_code(endpoint, values):
        g.lang_code = values.pop("lang_code", None) if values else None

    @app.route("/<lang_code>/")
    def lang_index():
        return f"{g.lang_code} {url_for('about')}"

    @app.route("/<lang_code>/about")
    def about():
        return f"about {g.lang_code}"

    return app


def test_url_value_preprocessor_pops_values(lang_app, client_for):
    client = client_for(lang_app)
    assert client.get("/de/about").data == b"about de"


def test_url_defaults_injects_values(lang_app, client_for):
    client = client_for(lang_app)
    assert client.get("/de/").data == b"de /de/about"
    assert client.get("/fr/").data == b"fr /fr/about"


def test_url_defaults_explicit_value_wins(lang_app):
    with lang_app.test_request_context("/de/"):
        g.lang_code = "de"
        assert url_for("about") == "/de/about"
        assert url_for("about", lang_code="en") == "/en/about"
        # endpoints not expecting lang_code are left alone
        assert url_for("index") == "/"


def test_url_defaults_receives_endpoint_and_values(app):
    calls = []

    @app.url_defaults
    def record(endpoint, values):
        calls.append((endpoint, dict(values)))
        values.setdefault("user_id", 42)

    with app.test_request_context():
        assert url_for("user") == "/users/42"
    assert calls == [("user", {})]


def test_url_value_preprocessor_receives_endpoint_and_values(app, client):
    calls = []

    @app.url_value_preprocessor
    def record(endpoint, values):
        calls.append((endpoint, dict(values) if values else values))

    client.get("/users/5")
    assert calls == [("user", {"user_id": 5})]


def test_url_value_preprocessor_can_modify_view_args(app, client):
    @app.url_value_preprocessor
    def double(endpoint, values):
        if values and "user_id" in values:
            values["user_id"] *= 2

    assert client.get("/users/5").data == b"10"


@kolben_only
def test_async_url_processors_are_run(client_for):
    # Flask calls both kinds without awaiting them (the coroutine is dropped, its
    # body never runs): kolben awaits an async url_value_preprocessor, and ran an
    # async url_defaults function no more than Flask.
    app = kolben.Kolben(__name__)

    @app.url_defaults
    async def add_lang(endpoint, values):
        if app.url_map.is_endpoint_expecting(endpoint, "lang"):
            values.setdefault("lang", g.get("lang", "en"))

    @app.url_value_preprocessor
    async def pull_lang(endpoint, values):
        g.lang = values.pop("lang", None) if values else None

    @app.route("/<lang>/")
    def index():
        return f"{g.lang} {url_for('about')}"

    @app.route("/<lang>/about")
    def about():
        return "about"

    assert client_for(app).get("/de/").text == "de /de/about"
    app.config["SERVER_NAME"] = "example.com"
    with app.app_context():
        assert url_for("about") == "http://example.com/en/about"


# --- build errors --------------------------------------------------------------------------


def test_build_error_unknown_endpoint(app):
    with app.test_request_context(), pytest.raises(BuildError) as info:
        url_for("does_not_exist")
    assert "does_not_exist" in str(info.value)
    assert info.value.endpoint == "does_not_exist"


def test_build_error_missing_values(app):
    with app.test_request_context(), pytest.raises(BuildError) as info:
        url_for("user")
    message = str(info.value)
    assert "user" in message
    assert "user_id" in message


def test_build_error_in_view_is_500(app, client):
    app.testing = False

    @app.route("/broken")
    def broken():
        return url_for("missing_endpoint")

    assert client.get("/broken").status_code == 500


def test_build_error_propagates_in_testing(app, client):
    @app.route("/broken")
    def broken():
        return url_for("missing_endpoint")

    with pytest.raises(BuildError):
        client.get("/broken")


def test_url_build_error_handler_returns_url(app):
    seen = []

    def handler(error, endpoint, values):
        seen.append((type(error), endpoint, values.get("x")))
        return f"/fallback/{endpoint}"

    app.url_build_error_handlers.append(handler)
    with app.test_request_context():
        assert url_for("external_thing", x="1") == "/fallback/external_thing"
        # endpoints that build fine do not reach the handler
        assert url_for("index") == "/"
    assert seen == [(BuildError, "external_thing", "1")]


def test_url_build_error_handler_returning_none_reraises(app):
    app.url_build_error_handlers.append(lambda error, endpoint, values: None)
    with app.test_request_context(), pytest.raises(BuildError):
        url_for("nope")


def test_url_build_error_handlers_tried_in_order(app):
    def first(error, endpoint, values):
        return None

    def second(error, endpoint, values):
        return "/second"

    app.url_build_error_handlers.extend([first, second])
    with app.test_request_context():
        assert url_for("nope") == "/second"


def test_url_build_error_handler_in_app_context(app):
    app.config["SERVER_NAME"] = "example.com"
    app.url_build_error_handlers.append(lambda error, endpoint, values: "https://cdn.test/x")
    with app.app_context():
        assert url_for("elsewhere") == "https://cdn.test/x"


def test_url_for_uses_current_app(app):
    other = kolben.Kolben("other", static_folder=None)

    @other.route("/other-index")
    def index():
        return ""

    with other.test_request_context():
        assert url_for("index") == "/other-index"
    with app.test_request_context():
        assert url_for("index") == "/"


def test_leading_dot_endpoint_without_blueprint(app):
    with app.test_request_context():
        assert url_for(".index") == "/"
        assert url_for(".user", user_id=2) == "/users/2"


def test_url_build_error_handler_may_raise_better_error(app):
    better = BuildError("nope", {}, None)

    def handler(error, endpoint, values):
        raise better

    app.url_build_error_handlers.append(handler)
    with app.test_request_context(), pytest.raises(BuildError) as info:
        url_for("nope")
    assert info.value is better


def test_url_for_in_request_with_untrusted_host_raises(app):
    # kolben-specific: Flask fails with an AttributeError on a None adapter here;
    # kolben raises a RuntimeError that names the cause.
    import flask

    if kolben.Kolben is flask.Flask:
        pytest.skip("kolben-specific error message")
    app.config["TRUSTED_HOSTS"] = ["good.test"]
    ctx = app.test_request_context(base_url="http://evil.test/")
    with ctx, pytest.raises(RuntimeError, match="TRUSTED_HOSTS"):
        url_for("index")
