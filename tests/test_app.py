"""The application object: basic attributes, the setup-state guard, error
propagation (also of errors that are not Exceptions, and of errors while finalizing
an error response), the JSON provider and helpers, the Flask name aliases, and the
shell context."""

from __future__ import annotations

import dataclasses
import decimal
import gc
import io
import json as stdlib_json
import logging
import os
import sys
import uuid
from datetime import date, datetime, timedelta, timezone

import click
import pytest
from markupsafe import Markup

import kolben
from helpers import kolben_only, needs_async
from kolben import current_app, g, jsonify
from kolben.config import Config, ConfigAttribute
from kolben.globals import _cv_app, _cv_request

HERE = os.path.dirname(os.path.abspath(__file__))


# --- basics ---------------------------------------------------------------------------


def test_basic_attributes():
    app = kolben.Kolben(__name__)
    assert app.import_name == __name__
    assert app.name == __name__
    assert app.root_path == HERE
    assert app.extensions == {}
    assert isinstance(app.config, Config)
    assert isinstance(app.config, kolben.Config)


def test_name_for_main_module(monkeypatch):
    monkeypatch.setattr(sys.modules["__main__"], "__file__", "/srv/myscript.py", raising=False)
    app = kolben.Kolben("__main__", root_path="/srv")
    assert app.import_name == "__main__"
    assert app.name == "myscript"


def test_name_for_main_module_without_file(monkeypatch):
    monkeypatch.delattr(sys.modules["__main__"], "__file__", raising=False)
    app = kolben.Kolben("__main__", root_path="/srv")
    assert app.name == "__main__"


def test_fixture_app(app):
    assert app.name == "test_app"
    assert app.import_name == "test_app"
    assert app.root_path == HERE
    assert app.testing is True


def test_static_defaults():
    app = kolben.Kolben(__name__)
    assert app.static_folder == os.path.join(HERE, "static")
    assert app.static_url_path == "/static"


def test_static_url_path_follows_folder():
    app = kolben.Kolben(__name__, static_folder="assets")
    assert app.static_folder == os.path.join(HERE, "assets")
    assert app.static_url_path == "/assets"


def test_static_url_path_explicit():
    app = kolben.Kolben(__name__, static_url_path="/s")
    assert app.static_url_path == "/s"


def test_no_static_folder():
    app = kolben.Kolben(__name__, static_folder=None)
    assert app.static_folder is None
    assert app.static_url_path is None


def test_repr(app):
    assert repr(app) == f"<{type(app).__name__} 'test_app'>"


def test_extensions_per_app():
    a = kolben.Kolben("a")
    b = kolben.Kolben("b")
    a.extensions["thing"] = object()
    assert b.extensions == {}


def test_debug_toggling(app, client):
    @app.route("/")
    def index():
        return str(current_app.debug)

    assert app.debug is False
    assert client.get("/").data == b"False"
    app.debug = True
    assert app.config["DEBUG"] is True
    assert client.get("/").data == b"True"
    app.debug = False
    assert client.get("/").data == b"False"


def test_permanent_session_lifetime_property(app):
    assert app.permanent_session_lifetime == timedelta(days=31)
    app.config["PERMANENT_SESSION_LIFETIME"] = 60
    assert app.permanent_session_lifetime == timedelta(seconds=60)
    app.permanent_session_lifetime = timedelta(hours=1)
    assert app.config["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=1)


def test_config_attribute_on_class():
    assert isinstance(kolben.Kolben.testing, ConfigAttribute)
    assert isinstance(kolben.Kolben.secret_key, ConfigAttribute)


def test_shell_context(app, app_ctx):
    @app.shell_context_processor
    def extra():
        return {"answer": 42}

    kolben.g.marker = "m"
    ctx = app.make_shell_context()
    assert ctx["app"] is app
    assert ctx["g"].marker == "m"
    assert ctx["answer"] == 42


def test_run_calls_run_simple(app, monkeypatch):
    import werkzeug.serving

    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    calls = []

    def fake_run_simple(hostname, port, application, **options):
        calls.append((hostname, port, application, options))

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_run_simple)
    app.run(port=5123, debug=True, load_dotenv=False)
    assert len(calls) == 1
    host, port, application, options = calls[0]
    assert (host, port, application) == ("127.0.0.1", 5123, app)
    assert options["use_reloader"] is True
    assert options["use_debugger"] is True
    assert options["threaded"] is True
    assert app.debug is True


def test_run_defaults(app, monkeypatch):
    import werkzeug.serving

    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    calls = []
    monkeypatch.setattr(
        werkzeug.serving, "run_simple", lambda h, p, a, **o: calls.append((h, p, o))
    )
    app.run(load_dotenv=False, use_reloader=False)
    host, port, options = calls[0]
    assert (host, port) == ("127.0.0.1", 5000)
    assert options["use_reloader"] is False
    assert options["use_debugger"] is False


def test_ensure_sync_plain_function(app):
    def plain():
        return 1

    assert app.ensure_sync(plain) is plain


@needs_async
def test_ensure_sync_coroutine_function(app):
    async def coro(x):
        return x * 2

    wrapped = app.ensure_sync(coro)
    assert wrapped is not coro
    assert wrapped(21) == 42


def test_current_app_is_the_app(app, client):
    @app.route("/")
    def index():
        assert current_app._get_current_object() is app
        return current_app.name

    assert client.get("/").data == b"test_app"


# --- aliases (kolben only) -------------------------------------------------------------


@kolben_only
def test_flask_aliases():
    assert kolben.Flask is kolben.Kolben
    assert kolben.testing.FlaskClient is kolben.testing.KolbenClient
    assert kolben.testing.FlaskCliRunner is kolben.testing.KolbenCliRunner


def test_test_client_class(app):
    assert isinstance(app.test_client(), kolben.testing.KolbenClient)
    assert isinstance(app.test_cli_runner(), kolben.testing.KolbenCliRunner)


# --- the setup-state guard -----------------------------------------------------------


def _noop(*args, **kwargs):
    return None


SETUP_METHODS = {
    "route": lambda app: app.route("/late")(_noop),
    "add_url_rule": lambda app: app.add_url_rule("/late", "late", _noop),
    "before_request": lambda app: app.before_request(_noop),
    "after_request": lambda app: app.after_request(_noop),
    "teardown_request": lambda app: app.teardown_request(_noop),
    "teardown_appcontext": lambda app: app.teardown_appcontext(_noop),
    "errorhandler": lambda app: app.errorhandler(404)(_noop),
    "register_error_handler": lambda app: app.register_error_handler(500, _noop),
    "url_value_preprocessor": lambda app: app.url_value_preprocessor(_noop),
    "url_defaults": lambda app: app.url_defaults(_noop),
    "endpoint": lambda app: app.endpoint("late")(_noop),
    "shell_context_processor": lambda app: app.shell_context_processor(_noop),
}


@pytest.mark.parametrize("method", SETUP_METHODS)
def test_setup_method_after_first_request_raises(app, client, method):
    app.add_url_rule("/", "index", lambda: "ok")
    assert client.get("/").status_code == 200
    with pytest.raises(AssertionError, match="first request") as info:
        SETUP_METHODS[method](app)
    assert method in str(info.value)


@pytest.mark.parametrize("method", SETUP_METHODS)
def test_setup_method_before_first_request_ok(app, method):
    SETUP_METHODS[method](app)


def test_setup_allowed_after_test_request_context(app, client):
    with app.test_request_context("/"):
        pass
    with app.app_context():
        pass

    @app.route("/still")
    def still():
        return "fine"

    assert client.get("/still").data == b"fine"


def test_setup_guard_after_404_request(app, client):
    client.get("/nothing-here")
    with pytest.raises(AssertionError, match="first request"):
        app.before_request(_noop)


# --- error propagation ---------------------------------------------------------------


def _raising_app(app):
    @app.route("/")
    def index():
        raise ValueError("view failed")

    return app


def test_testing_propagates_exceptions(app, client):
    _raising_app(app)
    with pytest.raises(ValueError, match="view failed"):
        client.get("/")


def test_debug_propagates_exceptions(app, client):
    _raising_app(app)
    app.testing = False
    app.debug = True
    with pytest.raises(ValueError, match="view failed"):
        client.get("/")


def test_propagate_exceptions_false_gives_500(app, client):
    _raising_app(app)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    rv = client.get("/", errors_stream=io.StringIO())
    assert rv.status_code == 500
    assert b"view failed" not in rv.data


def test_propagate_exceptions_true_without_testing(app, client):
    _raising_app(app)
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ValueError):
        client.get("/")


def test_production_gives_500(app, client):
    _raising_app(app)
    app.testing = False
    rv = client.get("/", errors_stream=io.StringIO())
    assert rv.status_code == 500
    assert b"Internal Server Error" in rv.data


def test_500_errorhandler_for_unhandled(app, client):
    _raising_app(app)
    app.testing = False

    @app.errorhandler(500)
    def server_error(e):
        return f"custom 500: {type(e.original_exception).__name__}", 500

    rv = client.get("/", errors_stream=io.StringIO())
    assert rv.status_code == 500
    assert rv.data == b"custom 500: ValueError"


def test_view_returning_none_type_error(app, client):
    @app.route("/")
    def index():
        return None

    with pytest.raises(TypeError, match="did not return a valid response") as info:
        client.get("/")
    assert "index" in str(info.value)


# --- errors that are not Exceptions (both doors) -----------------------------------------


class Stop(BaseException):
    pass


def test_base_exception_propagates_and_teardown_sees_it(app, client):
    seen = []
    app.teardown_request(lambda exc: seen.append(("request", exc)))
    app.teardown_appcontext(lambda exc: seen.append(("app", exc)))

    @app.route("/")
    def index():
        raise Stop("halt")

    with pytest.raises(Stop) as info:
        client.get("/")
    assert seen == [("request", info.value), ("app", info.value)]
    assert _cv_request.get(None) is None
    assert _cv_app.get(None) is None


def test_should_ignore_error_hides_the_error_from_teardown(client_for):
    class App(kolben.Kolben):
        def should_ignore_error(self, error):
            return isinstance(error, (LookupError, Stop))

    app = App("ignoring")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.logger.disabled = True
    seen = []
    app.teardown_request(seen.append)

    @app.route("/lookup")
    def lookup():
        raise KeyError("k")

    @app.route("/value")
    def value():
        raise ValueError("v")

    @app.route("/stop")
    def stop():
        raise Stop()

    client = client_for(app)
    assert client.get("/lookup").status_code == 500
    assert seen == [None]
    assert client.get("/value").status_code == 500
    assert isinstance(seen[1], ValueError)
    with pytest.raises(Stop):
        client.get("/stop")
    assert seen[2] is None


# --- errors while finalizing an error response --------------------------------------------


def test_after_request_failing_while_handling_an_error_is_logged(app, client, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    def index():
        raise ValueError("view failed")

    @app.after_request
    def broken(response):
        raise RuntimeError("after_request failed")

    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        rv = client.get("/")
    assert rv.status_code == 500
    assert b"Internal Server Error" in rv.data
    messages = [(r.getMessage(), r.exc_info[1] if r.exc_info else None) for r in caplog.records]
    assert any(isinstance(exc, ValueError) for _, exc in messages)
    finalizing = [
        exc for msg, exc in messages if "Request finalizing failed" in msg
    ]
    assert len(finalizing) == 1
    assert isinstance(finalizing[0], RuntimeError)


def test_after_request_failing_on_a_normal_response_is_an_error(app, client, caplog):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    def index():
        return "fine"

    @app.after_request
    def broken(response):
        raise RuntimeError("after_request failed")

    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        rv = client.get("/")
    assert rv.status_code == 500
    assert any(
        r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records
    )


# --- JSON ---------------------------------------------------------------------------------


def test_json_provider_api(app):
    assert app.json.dumps({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert app.json.loads('{"a": [1, 2]}') == {"a": [1, 2]}
    assert app.json.loads(b'{"a": 1}') == {"a": 1}


def test_json_provider_defaults(app):
    assert app.json.sort_keys is True
    assert app.json.compact is None
    assert app.json.ensure_ascii is True
    assert app.json.mimetype == "application/json"


def test_json_provider_response(app):
    rv = app.json.response({"b": 1, "a": 2})
    assert isinstance(rv, kolben.Response)
    assert rv.mimetype == "application/json"
    assert rv.get_data() == b'{"a":2,"b":1}\n'


def test_jsonify_sorted_compact(app_ctx):
    rv = jsonify({"b": 1, "a": {"d": 4, "c": 3}})
    assert rv.status_code == 200
    assert rv.mimetype == "application/json"
    assert rv.get_data(as_text=True) == '{"a":{"c":3,"d":4},"b":1}\n'


def test_jsonify_indented_in_debug(app, app_ctx):
    app.debug = True
    rv = jsonify({"b": 1, "a": 2})
    assert rv.get_data(as_text=True) == '{\n  "a": 2,\n  "b": 1\n}\n'


def test_jsonify_compact_false_indents(app, app_ctx):
    app.json.compact = False
    assert jsonify(a=1).get_data(as_text=True) == '{\n  "a": 1\n}\n'


def test_jsonify_compact_true_in_debug(app, app_ctx):
    app.debug = True
    app.json.compact = True
    assert jsonify(a=1, b=[1, 2]).get_data(as_text=True) == '{"a":1,"b":[1,2]}\n'


def test_jsonify_sort_keys_off(app, app_ctx):
    app.json.sort_keys = False
    assert jsonify({"b": 1, "a": 2}).get_data(as_text=True) == '{"b":1,"a":2}\n'


def test_jsonify_ensure_ascii(app, app_ctx):
    assert jsonify("grüß").get_data() == b'"gr\\u00fc\\u00df"\n'
    app.json.ensure_ascii = False
    assert jsonify("grüß").get_data() == '"grüß"\n'.encode()


def test_jsonify_follows_settings_changed_between_responses(app, app_ctx):
    """The encoder of the last settings is reused only while they stay the same:
    a change on the provider, or on its class, is used by the next response."""
    assert jsonify({"b": 1, "a": "ü"}).get_data(as_text=True) == '{"a":"\\u00fc","b":1}\n'
    app.json.sort_keys = False
    assert jsonify({"b": 1, "a": "ü"}).get_data(as_text=True) == '{"b":1,"a":"\\u00fc"}\n'
    del app.json.sort_keys
    type(app.json).ensure_ascii = False
    try:
        assert jsonify({"b": 1, "a": "ü"}).get_data(as_text=True) == '{"a":"ü","b":1}\n'
    finally:
        type(app.json).ensure_ascii = True
    app.json.default = lambda o: "made"
    assert jsonify({"a": object()}).get_data(as_text=True) == '{"a":"made"}\n'


def test_jsonify_args_forms(app_ctx):
    assert stdlib_json.loads(jsonify(1, 2, 3).get_data()) == [1, 2, 3]
    assert stdlib_json.loads(jsonify([1]).get_data()) == [1]
    assert stdlib_json.loads(jsonify(x=1).get_data()) == {"x": 1}
    assert jsonify().get_data() == b"null\n"


def test_jsonify_args_and_kwargs_rejected(app_ctx):
    with pytest.raises(TypeError):
        jsonify(1, a=2)


def test_jsonify_outside_app_context():
    with pytest.raises(RuntimeError, match="application context"):
        jsonify(a=1)


@dataclasses.dataclass
class _Point:
    x: int
    y: int


class _Html:
    def __html__(self):
        return "<b>safe</b>"


def test_json_default_types(app_ctx):
    data = {
        "date": date(2024, 1, 2),
        "datetime": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "decimal": decimal.Decimal("1.50"),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "dc": _Point(1, 2),
        "html": _Html(),
    }
    out = stdlib_json.loads(jsonify(data).get_data())
    assert out == {
        "date": "Tue, 02 Jan 2024 00:00:00 GMT",
        "datetime": "Tue, 02 Jan 2024 03:04:05 GMT",
        "decimal": "1.50",
        "uuid": "12345678-1234-5678-1234-567812345678",
        "dc": {"x": 1, "y": 2},
        "html": "<b>safe</b>",
    }


def test_json_unserializable_type_error(app_ctx):
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsonify(object())


def test_json_module_uses_app_provider(app, app_ctx):
    assert kolben.json.dumps({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert kolben.json.loads('{"x": 1}') == {"x": 1}
    assert kolben.json.jsonify(a=1).get_data() == b'{"a":1}\n'


def test_json_module_outside_context():
    assert stdlib_json.loads(kolben.json.dumps({"a": date(2024, 1, 2)})) == {
        "a": "Tue, 02 Jan 2024 00:00:00 GMT"
    }
    assert kolben.json.loads("[1]") == [1]


def test_view_returning_dict_and_list(app, client):
    @app.route("/dict")
    def d():
        return {"b": 1, "a": 2}

    @app.route("/list")
    def lst():
        return [1, "two"]

    rv = client.get("/dict")
    assert rv.mimetype == "application/json"
    assert rv.data == b'{"a":2,"b":1}\n'
    assert rv.get_json() == {"a": 2, "b": 1}
    assert client.get("/list").get_json() == [1, "two"]


# --- JSON helpers and providers -----------------------------------------------------------


def test_json_helpers_outside_an_app_context():
    assert kolben.json.dumps([1, "\u00e9"]) == '[1, "\\u00e9"]'
    assert kolben.json.loads('{"a": [1, 2]}') == {"a": [1, 2]}
    assert kolben.json.loads(b'{"a": null}') == {"a": None}
    assert kolben.json.dumps(date(2024, 1, 2)) == '"Tue, 02 Jan 2024 00:00:00 GMT"'
    buf = io.StringIO()
    kolben.json.dump({"x": decimal.Decimal("1.5")}, buf)
    assert buf.getvalue() == '{"x": "1.5"}'
    assert kolben.json.load(io.StringIO('{"y": true}')) == {"y": True}
    assert kolben.json.dumps({"a": 1}, indent=2) == '{\n  "a": 1\n}'


def test_json_dumps_outside_an_app_context_keeps_key_order():
    assert kolben.json.dumps({"b": 1, "a": 2}) == '{"b": 1, "a": 2}'
    buf = io.StringIO()
    kolben.json.dump({"b": 1, "a": 2}, buf)
    assert buf.getvalue() == '{"b": 1, "a": 2}'


def test_json_helpers_use_the_app_provider(app):
    with app.app_context():
        assert kolben.json.dumps({"b": 1, "a": "\u00e9"}) == '{"a": "\\u00e9", "b": 1}'
        app.json.sort_keys = False
        app.json.ensure_ascii = False
        assert kolben.json.dumps({"b": 1, "a": "\u00e9"}) == '{"b": 1, "a": "\u00e9"}'
        buf = io.StringIO()
        kolben.json.dump({"z": 1, "y": 2}, buf)
        assert buf.getvalue() == '{"z": 1, "y": 2}'
        assert kolben.json.loads('{"k": 1}') == {"k": 1}
        assert kolben.json.load(io.BytesIO(b"[1, 2]")) == [1, 2]


def test_jsonify_needs_an_app_context():
    with pytest.raises(RuntimeError):
        kolben.jsonify(a=1)


def test_jsonify_arguments(app):
    with app.app_context():
        assert kolben.jsonify().get_data() == b"null\n"
        assert kolben.jsonify(1, 2).get_json() == [1, 2]
        assert kolben.jsonify(b=1, a=2).get_data() == b'{"a":2,"b":1}\n'
        assert kolben.jsonify([3]).get_json() == [3]
        with pytest.raises(TypeError):
            kolben.jsonify(1, a=2)


class WrappingProvider(kolben.json.provider.DefaultJSONProvider):
    calls: list[dict[str, object]] = []

    def dumps(self, obj, **kwargs):
        self.calls.append(dict(kwargs))
        return super().dumps({"wrapped": obj}, **kwargs)


@pytest.mark.parametrize(
    ("debug", "compact", "body"),
    [
        (False, None, b'{"wrapped":{"a":1}}\n'),
        (True, None, b'{\n  "wrapped": {\n    "a": 1\n  }\n}\n'),
        (False, False, b'{\n  "wrapped": {\n    "a": 1\n  }\n}\n'),
        (True, True, b'{"wrapped":{"a":1}}\n'),
    ],
)
def test_provider_overriding_dumps_is_used_by_responses(debug, compact, body, client_for):
    class App(kolben.Kolben):
        json_provider_class = WrappingProvider

    app = App("provider_app")
    app.debug = debug
    app.json.compact = compact

    @app.route("/")
    def index():
        return {"a": 1}

    rv = client_for(app).get("/")
    assert rv.data == body
    assert rv.mimetype == "application/json"
    with app.app_context():
        assert kolben.jsonify({"a": 1}).get_data() == body


class MinimalProvider(kolben.json.provider.JSONProvider):
    def dumps(self, obj, **kwargs):
        return f"<{obj!r}>"

    def loads(self, s, **kwargs):
        return f"loaded {s!r}"


def test_json_provider_base_class():
    app = kolben.Kolben("base_provider")
    base = kolben.json.provider.JSONProvider(app)
    with pytest.raises(NotImplementedError):
        base.dumps(1)
    with pytest.raises(NotImplementedError):
        base.loads("1")
    with pytest.raises(NotImplementedError):
        base.dump(1, io.StringIO())
    with pytest.raises(NotImplementedError):
        base.load(io.StringIO("1"))

    provider = MinimalProvider(app)
    buf = io.StringIO()
    provider.dump([1], buf)
    assert buf.getvalue() == "<[1]>"
    assert provider.load(io.StringIO("data")) == "loaded 'data'"
    with app.app_context():
        rv = provider.response(a=1)
        assert rv.get_data() == b"<{'a': 1}>"
        assert rv.mimetype == "application/json"
        assert provider.response(1, 2).get_data() == b"<(1, 2)>"
        assert provider.response().get_data() == b"<None>"
        with pytest.raises(TypeError):
            provider.response(1, a=2)


def test_app_with_minimal_provider_class(client_for):
    class App(kolben.Kolben):
        json_provider_class = MinimalProvider

    app = App("minimal_provider")

    @app.route("/")
    def index():
        return ["x"]

    rv = client_for(app).get("/")
    assert rv.data == b"<['x']>"
    assert rv.mimetype == "application/json"


@kolben_only
def test_provider_of_a_collected_app_raises():
    app = kolben.Kolben("short_lived")
    provider = kolben.json.provider.DefaultJSONProvider(app)
    assert provider.response([1]).get_json() == [1]
    del app
    gc.collect()
    with pytest.raises(RuntimeError, match="not attached to an application"):
        provider.response([1])
    assert provider.dumps([1]) == "[1]"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Html:
    def __html__(self):
        return Markup("<b>bold</b>")


class Thing:
    pass


def test_default_provider_serializes_extra_types(app, client):
    when = datetime(2024, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    data = {
        "date": date(2024, 3, 4),
        "datetime": when,
        "decimal": decimal.Decimal("10.25"),
        "uuid": ident,
        "point": Point(1, 2),
        "html": Html(),
        "markup": Markup("<i>x</i>"),
    }
    expected = {
        "date": "Mon, 04 Mar 2024 00:00:00 GMT",
        "datetime": "Mon, 04 Mar 2024 05:06:07 GMT",
        "decimal": "10.25",
        "uuid": "12345678-1234-5678-1234-567812345678",
        "point": {"x": 1, "y": 2},
        "html": "<b>bold</b>",
        "markup": "<i>x</i>",
    }
    assert app.json.loads(app.json.dumps(data)) == expected

    @app.route("/")
    def index():
        return data

    assert client.get("/").json == expected


def test_default_provider_rejects_unknown_objects(app):
    with pytest.raises(TypeError, match="Object of type Thing is not JSON serializable"):
        app.json.dumps({"thing": Thing()})
    with pytest.raises(TypeError):
        app.json.dumps(Point)  # a dataclass type, not an instance


def test_default_provider_default_can_be_replaced(app, client):
    app.json.default = lambda o: f"custom {type(o).__name__}"

    @app.route("/")
    def index():
        return {"thing": Thing()}

    assert client.get("/").json == {"thing": "custom Thing"}
    assert app.json.dumps(Thing()) == '"custom Thing"'


# --- CLI runner with a custom command ----------------------------------------------------


def test_cli_custom_command(app, runner):
    @app.cli.command("hello")
    @click.option("--name", default="World")
    def hello(name):
        click.echo(f"Hello, {name} from {current_app.name}")

    result = runner.invoke(args=["hello", "--name", "Ada"])
    assert result.exit_code == 0
    assert result.output == "Hello, Ada from test_app\n"


def test_cli_invoke_command_object(app, runner):
    @app.cli.command()
    def ping():
        click.echo("pong")

    result = runner.invoke(ping)
    assert result.exit_code == 0
    assert result.output == "pong\n"


# --- shell context ------------------------------------------------------------------------


def test_make_shell_context(app):
    @app.shell_context_processor
    def extra():
        return {"answer": 42, "app": "overridden"}

    with app.app_context():
        g.marker = "m"
        ctx = app.make_shell_context()
        assert ctx["answer"] == 42
        assert ctx["app"] == "overridden"
        assert ctx["g"].marker == "m"
    app.shell_context_processors.clear()
    ctx = app.make_shell_context()
    assert ctx["app"] is app
    assert not ctx["g"]
