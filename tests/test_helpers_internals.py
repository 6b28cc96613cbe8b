"""Helpers and app internals at their edges: root and instance paths, streaming,
the debug flag, async callables, JSON helpers and providers, the WSGI door with
non-Exception errors, debug-mode routing redirects, app construction checks, the
static route, shell context, error finalizing, trusted hosts and ``app.run``."""

from __future__ import annotations

import asyncio
import dataclasses
import decimal
import functools
import gc
import io
import logging
import os
import sys
import threading
import types
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import werkzeug.routing
import werkzeug.serving
from jinja2 import TemplateNotFound
from markupsafe import Markup
from werkzeug.test import create_environ

import kolben
from kolben import g, request, stream_with_context
from kolben.globals import _cv_app, _cv_request
from kolben.helpers import get_debug_flag, get_root_path

RUNNING_ON_FLASK = kolben.Kolben.__module__.split(".")[0] == "flask"
kolben_only = pytest.mark.skipif(
    RUNNING_ON_FLASK, reason="kolben-specific behaviour (not in Flask)"
)


@pytest.fixture
def unique(tmp_path):
    """A module name no other test uses; removed from sys.modules afterwards."""
    name = f"mod_{tmp_path.name.replace('-', '_')}"
    yield name
    for key in [k for k in sys.modules if k == name or k.startswith(f"{name}.")]:
        del sys.modules[key]


def write(path, text=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- root paths ----------------------------------------------------------------------------


def test_root_path_of_an_imported_module():
    assert get_root_path("os") == os.path.dirname(os.path.abspath(os.__file__))
    assert get_root_path(__name__) == os.path.dirname(os.path.abspath(__file__))


def test_root_path_of_a_module_not_yet_imported(tmp_path, monkeypatch, unique):
    write(tmp_path / f"{unique}.py", "VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_root_path(unique) == str(tmp_path)
    assert unique not in sys.modules
    app = kolben.Kolben(unique)
    assert app.root_path == str(tmp_path)
    assert app.instance_path == str(tmp_path / "instance")


def test_root_path_of_a_package_and_its_module(tmp_path, monkeypatch, unique):
    write(tmp_path / unique / "__init__.py")
    write(tmp_path / unique / "views.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_root_path(unique) == str(tmp_path / unique)
    assert get_root_path(f"{unique}.views") == str(tmp_path / unique)
    app = kolben.Kolben(unique)
    assert app.root_path == str(tmp_path / unique)
    assert app.instance_path == str(tmp_path / "instance")
    assert kolben.Kolben(f"{unique}.views").instance_path == str(tmp_path / "instance")


def test_root_path_of_an_imported_package(tmp_path, monkeypatch, unique):
    write(tmp_path / unique / "__init__.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(unique)
    app = kolben.Kolben(unique)
    assert app.root_path == str(tmp_path / unique)
    assert app.instance_path == str(tmp_path / "instance")


@kolben_only
def test_root_path_of_a_namespace_package(tmp_path, monkeypatch, unique):
    # Flask raises RuntimeError here; kolben uses the package's folder.
    write(tmp_path / unique / "mod.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert get_root_path(unique) == str(tmp_path / unique)


def test_instance_path_of_a_module_in_a_namespace_package(tmp_path, monkeypatch, unique):
    write(tmp_path / "src" / unique / "mod.py")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    app = kolben.Kolben(f"{unique}.mod")
    assert app.root_path == str(tmp_path / "src" / unique)
    assert app.instance_path == str(tmp_path / "src" / "instance")


def test_root_and_instance_path_of_an_unknown_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert get_root_path("no_such_module_anywhere") == str(tmp_path)
    app = kolben.Kolben("no_such_module_anywhere")
    assert app.root_path == str(tmp_path)
    assert app.instance_path == str(tmp_path / "instance")


def test_root_path_of_interactive_main(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    assert get_root_path("__main__") == str(tmp_path)
    app = kolben.Kolben("__main__")
    assert app.name == "__main__"
    assert app.root_path == str(tmp_path)
    assert app.instance_path == str(tmp_path / "instance")


def test_root_path_of_a_module_without_spec_or_file(tmp_path, monkeypatch, unique):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, unique, types.ModuleType(unique))
    assert get_root_path(unique) == str(tmp_path)
    assert kolben.Kolben(unique).instance_path == str(tmp_path / "instance")


@kolben_only
def test_root_and_instance_path_of_a_builtin_module(tmp_path, monkeypatch):
    # Flask raises RuntimeError for a root path it can't find; kolben uses the cwd.
    from kolben.helpers import find_instance_path

    monkeypatch.chdir(tmp_path)
    assert get_root_path("sys") == str(tmp_path)
    assert find_instance_path("sys", "sys") == str(tmp_path / "instance")


def test_app_name_for_a_script(tmp_path, monkeypatch):
    main = types.ModuleType("__main__")
    main.__file__ = str(tmp_path / "myscript.py")
    monkeypatch.setitem(sys.modules, "__main__", main)
    app = kolben.Kolben("__main__", root_path=str(tmp_path))
    assert app.name == "myscript"
    assert app.logger.name == "myscript"


def test_instance_path_of_an_installed_package(tmp_path, monkeypatch, unique):
    prefix = tmp_path / "venv"
    site = prefix / "lib" / "python3.11" / "site-packages"
    write(site / unique / "__init__.py")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.syspath_prepend(str(site))
    expected = str(prefix / "var" / f"{unique}-instance")
    assert kolben.Kolben(unique).instance_path == expected
    __import__(unique)
    assert kolben.Kolben(unique).instance_path == expected


def test_instance_path_of_an_installed_module(tmp_path, monkeypatch, unique):
    prefix = tmp_path / "venv"
    site = prefix / "lib" / "python3.11" / "site-packages"
    write(site / f"{unique}.py")
    monkeypatch.setattr(sys, "prefix", str(prefix))
    monkeypatch.syspath_prepend(str(site))
    app = kolben.Kolben(unique)
    assert app.root_path == str(site)
    assert app.instance_path == str(prefix / "var" / f"{unique}-instance")


def test_instance_path_of_a_user_installed_package(tmp_path, monkeypatch, unique):
    user_base = tmp_path / "home" / ".local"
    site = user_base / "lib" / "python3.11" / "site-packages"
    write(site / unique / "__init__.py")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "venv"))
    monkeypatch.syspath_prepend(str(site))
    assert kolben.Kolben(unique).instance_path == str(user_base / "var" / f"{unique}-instance")


def test_relative_instance_path_is_rejected():
    with pytest.raises(ValueError, match="must be absolute"):
        kolben.Kolben("x", instance_path="relative/instance")


# --- stream_with_context ---------------------------------------------------------------------


def test_stream_with_context_as_a_decorator(app, client):
    @app.route("/")
    def index():
        g.greeting = "Hello"

        @stream_with_context
        def generate(suffix):
            yield g.greeting
            yield " "
            yield request.args["name"]
            yield suffix

        return generate("!")

    rv = client.get("/?name=World")
    assert rv.data == b"Hello World!"


def test_stream_with_context_wraps_a_plain_iterator(app, client):
    torn_down = []
    app.teardown_request(torn_down.append)

    @app.route("/")
    def index():
        return stream_with_context(iter(["a", "b", request.path]))

    rv = client.get("/")
    assert rv.data == b"ab/"
    assert torn_down[-1:] == [None]


def test_stream_with_context_closes_the_generator(app, client):
    closed = []

    @app.route("/")
    def index():
        def generate():
            try:
                yield "first"
                yield "second"
            finally:
                closed.append(request.path)

        return stream_with_context(generate())

    rv = client.get("/")
    assert rv.data == b"firstsecond"
    assert closed == ["/"]


def test_stream_with_context_needs_a_request_context(app):
    def generate():
        yield "x"

    with pytest.raises(RuntimeError, match="request context"):
        stream_with_context(generate())

    decorated = stream_with_context(generate)
    with pytest.raises(RuntimeError, match="request context"):
        decorated()
    with app.app_context(), pytest.raises(RuntimeError, match="request context"):
        stream_with_context(generate())


# --- the debug flag from the environment ----------------------------------------------------


@pytest.fixture
def clean_debug_env(monkeypatch):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("KOLBEN_DEBUG", raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("yes", True), ("0", False), ("false", False),
     ("False", False), ("no", False), ("NO", False), ("", False)],
)
def test_flask_debug_variable(clean_debug_env, value, expected):
    clean_debug_env.setenv("FLASK_DEBUG", value)
    assert get_debug_flag() is expected
    assert kolben.Kolben("x").debug is expected


def test_debug_flag_unset(clean_debug_env):
    assert get_debug_flag() is False
    assert kolben.Kolben("x").debug is False


@kolben_only
@pytest.mark.parametrize(
    ("kolben_value", "flask_value", "expected"),
    [("1", None, True), ("0", None, False), ("false", "1", False), ("no", "1", False),
     ("1", "0", True), ("", "1", True)],
)
def test_kolben_debug_variable_wins(clean_debug_env, kolben_value, flask_value, expected):
    clean_debug_env.setenv("KOLBEN_DEBUG", kolben_value)
    if flask_value is not None:
        clean_debug_env.setenv("FLASK_DEBUG", flask_value)
    assert get_debug_flag() is expected
    assert kolben.Kolben("x").debug is expected


# --- async callables ---------------------------------------------------------------------------


async def add(a, b):
    await asyncio.sleep(0)
    return a + b


class AsyncCallable:
    async def __call__(self, x):
        return x * 2


class Service:
    async def fetch(self, x):
        return f"fetched {x}"

    def sync(self, x):
        return x


@kolben_only
def test_is_async_callable():
    from kolben.concurrency import is_async_callable

    assert is_async_callable(add)
    assert is_async_callable(functools.partial(add, 1))
    assert is_async_callable(functools.partial(functools.partial(add, 1), 2))
    assert is_async_callable(AsyncCallable())
    assert is_async_callable(Service().fetch)
    assert not is_async_callable(AsyncCallable)  # calling the class makes an instance
    assert not is_async_callable(Service().sync)
    assert not is_async_callable(functools.partial(Service().sync, 1))
    assert not is_async_callable(lambda: None)
    assert not is_async_callable(len)
    assert not is_async_callable(Service)


@kolben_only
def test_ensure_sync_runs_async_callables(app):
    assert app.ensure_sync(functools.partial(add, 40))(2) == 42
    assert app.ensure_sync(AsyncCallable())(21) == 42
    assert app.ensure_sync(Service().fetch)("it") == "fetched it"
    sync = Service().sync
    assert app.ensure_sync(sync) is sync


@kolben_only
def test_async_view_as_partial_and_callable_object(app, client):
    app.add_url_rule("/partial/<b>", "partial", functools.partial(add, "a-"))
    app.add_url_rule("/object/<x>", "object", AsyncCallable())
    assert client.get("/partial/b").data == b"a-b"
    assert client.get("/object/xy").data == b"xyxy"


@kolben_only
def test_async_function_called_inside_a_running_loop_raises(app):
    async def view():
        return "never"

    async def main():
        return app.ensure_sync(view)()

    with pytest.raises(RuntimeError, match="inside an event loop"):
        asyncio.run(main())


@kolben_only
def test_each_thread_reuses_its_own_event_loop(app):
    # Under WSGI; under ASGI async views run on the server's loop (test_asgi.py).
    client = app.test_client()
    loops = []

    @app.route("/")
    async def index():
        loops.append(asyncio.get_running_loop())
        return "ok"

    assert client.get("/").data == b"ok"
    assert client.get("/").data == b"ok"
    assert loops[0] is loops[1]

    def in_thread():
        assert client.get("/").data == b"ok"
        assert client.get("/").data == b"ok"

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert len(loops) == 4
    assert loops[2] is loops[3]
    assert loops[2] is not loops[0]
    gc.collect()
    assert loops[2].is_closed()  # closed when its thread ended
    assert not loops[0].is_closed()
    assert not loops[0].is_running()


# --- JSON helpers ---------------------------------------------------------------------------


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


# --- the WSGI door with errors that are not Exceptions ------------------------------------------


class Stop(BaseException):
    pass


def start_response(status, headers, exc_info=None):
    return None


def test_base_exception_propagates_and_teardown_sees_it(app):
    seen = []
    app.teardown_request(lambda exc: seen.append(("request", exc)))
    app.teardown_appcontext(lambda exc: seen.append(("app", exc)))

    @app.route("/")
    def index():
        raise Stop("halt")

    with pytest.raises(Stop) as info:
        app(create_environ("/"), start_response)
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
        app(create_environ("/stop"), start_response)
    assert seen[2] is None


# --- debug-mode routing redirects ---------------------------------------------------------------


@pytest.fixture
def redirect_app(app, monkeypatch):
    # werkzeug's routing redirects are 308, which keeps the body; make them 301
    monkeypatch.setattr(werkzeug.routing.RequestRedirect, "code", 301)

    @app.route("/foo/", methods=["GET", "POST"])
    def foo():
        return "foo"

    app.add_url_rule("/old", endpoint="old", redirect_to="/foo/", methods=["GET", "POST"])
    return app


def test_form_post_to_a_redirecting_url_in_debug_mode(redirect_app, client):
    from kolben.debughelpers import FormDataRoutingRedirect

    redirect_app.debug = True
    with pytest.raises(FormDataRoutingRedirect) as info:
        client.post("/foo?x=1", data={"a": "b"})
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "'http://localhost/foo?x=1'" in message
    assert "canonical URL 'http://localhost/foo/?x=1'" in message
    assert "trailing slash" in message
    assert "307 or 308" in message
    assert message.endswith("This exception is only raised in debug mode.")


def test_form_post_to_a_redirect_rule_in_debug_mode(redirect_app, client):
    from kolben.debughelpers import FormDataRoutingRedirect

    redirect_app.debug = True
    with pytest.raises(FormDataRoutingRedirect) as info:
        client.post("/old", data={"a": "b"})
    message = str(info.value)
    assert "canonical URL 'http://localhost/foo/'" in message
    assert "trailing slash" not in message
    assert "debug mode" in message


def test_routing_redirects_without_the_debug_error(redirect_app, client):
    redirect_app.debug = True
    rv = client.get("/foo")
    assert rv.status_code == 301
    assert rv.headers["Location"] == "http://localhost/foo/"
    assert client.head("/old").status_code == 301
    redirect_app.debug = False
    rv = client.post("/foo", data={"a": "b"})
    assert rv.status_code == 301
    assert rv.headers["Location"] == "http://localhost/foo/"


def test_permanent_redirect_keeping_the_body_is_not_an_error(app, client):
    @app.route("/foo/", methods=["POST"])
    def foo():
        return "foo"

    app.debug = True
    rv = client.post("/foo", data={"a": "b"})
    assert rv.status_code == 308
    assert rv.headers["Location"] == "http://localhost/foo/"


# --- app construction -----------------------------------------------------------------------


# AssertionError, as Flask raises.
STATIC_HOST_ERROR = AssertionError


def test_static_host_needs_host_matching(tmp_path):
    with pytest.raises(STATIC_HOST_ERROR):
        kolben.Kolben("x", root_path=str(tmp_path), static_host="static.test")
    with pytest.raises(STATIC_HOST_ERROR):
        kolben.Kolben("x", root_path=str(tmp_path), host_matching=True)
    app = kolben.Kolben("x", root_path=str(tmp_path), host_matching=True, static_folder=None)
    assert app.url_map.host_matching
    assert not app.has_static_folder


def test_static_route_on_its_host(tmp_path, client_for):
    write(tmp_path / "static" / "a.txt", "static text")
    app = kolben.Kolben(
        "x", root_path=str(tmp_path), host_matching=True, static_host="static.test"
    )
    client = client_for(app)
    rv = client.get("/static/a.txt", base_url="http://static.test")
    assert rv.status_code == 200
    assert rv.data == b"static text"
    rv.close()
    assert client.get("/static/a.txt", base_url="http://other.test").status_code == 404


@pytest.fixture
def static_app(tmp_path):
    write(tmp_path / "static" / "a.txt", "hello static")
    write(tmp_path / "secret.txt", "secret")
    app = kolben.Kolben("static_app", root_path=str(tmp_path))
    app.testing = True
    return app


def get_static(client, path, **kwargs):
    rv = client.get(path, **kwargs)
    rv.get_data()  # read the file before closing it
    rv.close()
    return rv


def test_static_route_serves_files(static_app, client_for):
    client = client_for(static_app)
    rv = get_static(client, "/static/a.txt")
    assert rv.status_code == 200
    assert rv.data == b"hello static"
    assert rv.mimetype == "text/plain"
    assert rv.headers["Cache-Control"] == "no-cache"
    assert rv.headers["ETag"]
    again = get_static(client, "/static/a.txt", headers={"If-None-Match": rv.headers["ETag"]})
    assert again.status_code == 304
    assert get_static(client, "/static/missing.txt").status_code == 404
    assert get_static(client, "/static/../secret.txt").status_code == 404
    with static_app.test_request_context():
        assert kolben.url_for("static", filename="a.txt") == "/static/a.txt"


@pytest.mark.parametrize(
    ("value", "max_age"), [(60, 60), (timedelta(hours=1), 3600), (None, None)]
)
def test_static_files_max_age(static_app, value, max_age, client_for):
    static_app.config["SEND_FILE_MAX_AGE_DEFAULT"] = value
    with static_app.app_context():
        assert static_app.get_send_file_max_age("a.txt") == max_age
    rv = get_static(client_for(static_app), "/static/a.txt")
    if max_age is None:
        assert rv.headers["Cache-Control"] == "no-cache"
    else:
        assert rv.headers["Cache-Control"] == f"public, max-age={max_age}"


def test_send_static_file_without_static_folder(tmp_path):
    app = kolben.Kolben("x", root_path=str(tmp_path), static_folder=None)
    assert "static" not in app.view_functions
    with app.test_request_context(), pytest.raises(RuntimeError, match="static_folder"):
        app.send_static_file("a.txt")


# --- shell context --------------------------------------------------------------------------------


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


# --- trusted hosts with the cached adapter ------------------------------------------------------


def test_trusted_hosts_are_checked_on_every_request(app, client):
    @app.route("/")
    def index():
        return kolben.url_for("index", _external=True)

    assert client.get("/", base_url="http://a.test").data == b"http://a.test/"
    app.config["TRUSTED_HOSTS"] = ["b.test"]
    assert client.get("/", base_url="http://a.test").status_code == 400
    assert client.get("/", base_url="http://b.test").data == b"http://b.test/"
    assert client.get("/", base_url="http://b.test").data == b"http://b.test/"
    app.config["TRUSTED_HOSTS"] = [".test"]
    assert client.get("/", base_url="http://a.test").data == b"http://a.test/"
    assert client.get("/", base_url="http://evil.example").status_code == 400


def test_app_without_url_adapter_for_requests(client_for):
    class NoAdapter(kolben.Kolben):
        def create_url_adapter(self, request):
            if request is not None:
                return None
            return super().create_url_adapter(request)

    app = NoAdapter("no_adapter")
    seen = []

    @app.before_request
    def answer():
        seen.append((request.url_rule, request.routing_exception, request.endpoint))
        return "answered before routing"

    rv = client_for(app).get("/anything")
    assert rv.status_code == 200
    assert rv.data == b"answered before routing"
    assert seen == [(None, None, None)]


# --- context URL adapters ---------------------------------------------------------------------


def test_context_url_adapters_can_be_replaced(app):
    app.add_url_rule("/", "index", lambda: "")
    with app.app_context() as ctx:
        ctx.url_adapter = app.url_map.bind("other.test", url_scheme="https")
        assert kolben.url_for("index") == "https://other.test/"
    with app.test_request_context("/") as ctx:
        assert kolben.url_for("index") == "/"
        ctx.url_adapter = app.url_map.bind("x.test", script_name="/sub")
        assert kolben.url_for("index") == "/sub/"
        assert kolben.url_for("index", _external=True) == "http://x.test/sub/"


# --- app.run ----------------------------------------------------------------------------------


@pytest.fixture
def run_calls(monkeypatch):
    calls = []

    def fake_run_simple(hostname, port, application, **options):
        calls.append((hostname, port, application, options))

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_run_simple)
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    return calls


def test_run_defaults(app, run_calls):
    app.run()
    assert len(run_calls) == 1
    host, port, application, options = run_calls[0]
    assert (host, port) == ("127.0.0.1", 5000)
    assert application is app
    assert options == {"use_reloader": False, "use_debugger": False, "threaded": True}
    assert app.debug is False


def test_run_in_debug_mode(app, run_calls):
    app.run(host="0.0.0.0", port=8080, debug=True, threaded=False, use_reloader=False)
    host, port, _, options = run_calls[0]
    assert (host, port) == ("0.0.0.0", 8080)
    assert app.debug is True
    assert options == {"use_reloader": False, "use_debugger": True, "threaded": False}
    app.run(debug=False)
    assert app.debug is False
    assert run_calls[1][3] == {"use_reloader": False, "use_debugger": False, "threaded": True}


def test_run_with_debug_config(app, run_calls):
    app.debug = True
    app.run(port="5001")
    _, port, _, options = run_calls[0]
    assert port == 5001
    assert options["use_reloader"] is True
    assert options["use_debugger"] is True


def test_run_on_port_zero(app, run_calls):
    app.run(port=0)
    assert run_calls[0][1] == 0


def test_run_defaults_from_server_name(app, run_calls):
    app.config["SERVER_NAME"] = "example.test:8080"
    app.run()
    assert run_calls[0][:2] == ("example.test", 8080)


def test_run_accepts_load_dotenv(app, run_calls):
    app.run(load_dotenv=False)
    assert "load_dotenv" not in run_calls[0][3]


# --- scaffold, logging and adapter cache internals ------------------------------------------------


def test_scaffold_leaves_registration_to_subclasses(tmp_path):
    if RUNNING_ON_FLASK:
        from flask.sansio.scaffold import Scaffold
    else:
        from kolben.scaffold import Scaffold

    scaffold = Scaffold("x", root_path=str(tmp_path))
    with pytest.raises(NotImplementedError):
        scaffold.before_request(lambda: None)
    with pytest.raises(NotImplementedError):
        scaffold.route("/")(lambda: None)
    assert scaffold.root_path == str(tmp_path)


def test_context_processor_is_registered(app):
    def extra():
        return {"x": 1}

    assert app.context_processor(extra) is extra
    assert app.template_context_processors[None][-1] is extra


def test_has_level_handler(monkeypatch):
    from kolben.logging import has_level_handler

    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    parent = logging.getLogger("kolben_tests_parent")
    child = logging.getLogger("kolben_tests_parent.child")
    monkeypatch.setattr(parent, "handlers", [])
    monkeypatch.setattr(child, "handlers", [])
    monkeypatch.setattr(child, "level", logging.WARNING)
    assert not has_level_handler(child)
    handler = logging.NullHandler(logging.ERROR)
    monkeypatch.setattr(parent, "handlers", [handler])
    assert not has_level_handler(child)
    handler.setLevel(logging.DEBUG)
    assert has_level_handler(child)
    monkeypatch.setattr(child, "propagate", False)
    assert not has_level_handler(child)


@kolben_only
def test_errors_stream_without_wsgi_errors(app):
    from kolben.logging import wsgi_errors_stream

    stream = io.StringIO()
    with app.test_request_context(environ_overrides={"wsgi.errors": stream}):
        assert wsgi_errors_stream._get_current_object() is stream
    with app.test_request_context() as ctx:
        del ctx.request.environ["wsgi.errors"]
        assert wsgi_errors_stream._get_current_object() is sys.stderr
    assert wsgi_errors_stream._get_current_object() is sys.stderr


@kolben_only
def test_adapter_cache_is_bounded(app):
    from kolben.routing import AdapterCache

    cache = AdapterCache(max_size=2)
    adapter = app.url_map.bind("a.test")
    with app.test_request_context(base_url="http://a.test") as ctx:
        key = cache.key(ctx.request, None)
    with app.test_request_context(headers={"Upgrade": "websocket"}) as ctx:
        assert cache.key(ctx.request, None) is None
    cache.put(key, adapter)
    cache.put(("b",), adapter)
    assert cache.get(key) is adapter
    cache.put(("c",), adapter)  # full: cleared before adding
    assert cache.get(key) is None
    assert cache.get(("c",)) is adapter
    cache.clear()
    assert cache.get(("c",)) is None


def test_scaffold_subclass_must_implement_add_url_rule(tmp_path):
    if RUNNING_ON_FLASK:
        from flask.sansio.scaffold import Scaffold
    else:
        from kolben.scaffold import Scaffold

    class Partial(Scaffold):
        def _check_setup_finished(self, f_name):
            pass

    scaffold = Partial("x", root_path=str(tmp_path))
    with pytest.raises(NotImplementedError):
        scaffold.add_url_rule("/", "index", lambda: "")
    with pytest.raises(NotImplementedError):
        scaffold.get("/")(lambda: "")
    hook = scaffold.before_request(lambda: None)
    assert scaffold.before_request_funcs[None] == [hook]


@kolben_only
def test_thread_loop_closes_its_loop_once(tmp_path):
    from kolben.concurrency import _ThreadLoop

    holder = _ThreadLoop()
    loop = holder.loop
    assert not loop.is_closed()
    del holder
    gc.collect()
    assert loop.is_closed()
    holder = _ThreadLoop()
    loop = holder.loop
    loop.close()
    del holder  # an already closed loop is left alone
    gc.collect()
    assert loop.is_closed()


@kolben_only
def test_automatic_options_without_a_url_adapter(app, client):
    from kolben.globals import request_ctx

    @app.route("/", methods=["GET", "POST"])
    def index():
        return "index"

    @app.before_request
    def forget_adapter():
        if request.args.get("forget"):
            request_ctx.url_adapter = None

    assert set(client.options("/").allow) == {"GET", "HEAD", "OPTIONS", "POST"}
    rv = client.options("/?forget=1")
    assert rv.status_code == 200
    assert "Allow" not in rv.headers


@kolben_only
def test_request_context_session_can_be_replaced(app):
    # Flask 3.1.3's RequestContext.session is read-only; kolben lets it be set.
    with app.test_request_context() as ctx:
        ctx.session = {"user": "ann"}
        assert kolben.session["user"] == "ann"
        assert ctx.session == {"user": "ann"}


# --- template registration on the app -----------------------------------------------------------


def test_jinja_auto_reload_option_wins_over_config(app):
    app.config["TEMPLATES_AUTO_RELOAD"] = False
    app.jinja_options = {**app.jinja_options, "auto_reload": True}
    assert app.jinja_env.auto_reload is True


def test_jinja_auto_reload_follows_config_and_debug(app):
    app.debug = True
    assert app.jinja_env.auto_reload is True


@kolben_only
def test_template_decorators_without_parentheses(app):
    # Flask 3.1 needs parentheses (``@app.template_filter()``); Flask 3.2 and
    # kolben accept the bare decorator too.
    @app.template_filter
    def shout(s):
        return s.upper()

    @app.template_test
    def short(s):
        return len(s) < 4

    @app.template_global
    def greeting():
        return "hi"

    assert shout("x") == "X"
    assert app.jinja_env.filters["shout"] is shout
    assert app.jinja_env.tests["short"] is short
    assert app.jinja_env.globals["greeting"] is greeting
    with app.app_context():
        rendered = app.jinja_env.from_string(
            "{{ greeting() | shout }} {{ 'abc' is short }} {{ 'abcd' is short }}"
        ).render()
    assert rendered == "HI True False"


def test_default_template_context_outside_contexts(app):
    default = app.template_context_processors[None][0]
    assert default() == {}
    with app.app_context():
        g.x = 1
        assert default()["g"].x == 1
        assert "request" not in default()


def test_templates_with_a_blueprint_without_template_folder(tmp_path, client_for):
    write(tmp_path / "templates" / "page.html", "page {{ request.blueprint }}")
    app = kolben.Kolben("with_bp", root_path=str(tmp_path))
    bp = kolben.Blueprint("bp", "with_bp", root_path=str(tmp_path / "bp"))

    @bp.route("/")
    def index():
        return kolben.render_template("page.html")

    app.register_blueprint(bp)
    assert bp.jinja_loader is None
    assert client_for(app).get("/").data == b"page bp"
    with app.app_context(), pytest.raises(TemplateNotFound):
        kolben.render_template("missing.html")


def test_explained_template_loading_outside_a_request(tmp_path, caplog):
    app = kolben.Kolben("explained", root_path=str(tmp_path))
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    with (
        caplog.at_level(logging.INFO, logger=app.logger.name),
        app.app_context(),
        pytest.raises(TemplateNotFound),
    ):
        kolben.render_template("missing.html")
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "Locating template 'missing.html':" in messages
    assert "Error: the template could not be found." in messages
    assert "belongs to the blueprint" not in messages


# --- send_file and get_template_attribute -------------------------------------------------------


def test_send_file_from_a_view(app, client):
    from kolben.helpers import send_file

    @app.route("/download")
    def download():
        return send_file(
            io.BytesIO(b"file body"), mimetype="text/plain", as_attachment=True,
            download_name="notes.txt",
        )

    rv = client.get("/download")
    assert rv.status_code == 200
    assert rv.data == b"file body"
    assert rv.mimetype == "text/plain"
    assert rv.headers["Content-Disposition"] == "attachment; filename=notes.txt"
    rv.close()


def test_get_template_attribute(tmp_path):
    from kolben.helpers import get_template_attribute

    write(
        tmp_path / "templates" / "macros.html",
        "{% macro hello(name) %}Hello {{ name }}!{% endmacro %}{% set answer = 42 %}",
    )
    app = kolben.Kolben("macros", root_path=str(tmp_path))
    with app.app_context():
        assert get_template_attribute("macros.html", "hello")("<World>") == "Hello &lt;World&gt;!"
        assert get_template_attribute("macros.html", "answer") == 42
