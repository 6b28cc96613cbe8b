"""The compat layer itself: ``import flask`` gives kolben, the internal names
extensions reach for, the version they check, and the refusals.

Runs in its own interpreter (see test_extensions.py).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import pickle
import subprocess
import sys
import textwrap
import typing as t

import compat_on
import flask
import pytest

import kolben
import kolben.compat

pytestmark = pytest.mark.skipif(compat_on.REFERENCE, reason="tests kolben's compat layer")

#: Every ``flask`` module the issue lists, and the kolben module behind it.
PUBLIC_MODULES = {
    "flask": "kolben",
    "flask.app": "kolben.app",
    "flask.blueprints": "kolben.blueprints",
    "flask.cli": "kolben.cli",
    "flask.config": "kolben.config",
    "flask.ctx": "kolben.ctx",
    "flask.debughelpers": "kolben.debughelpers",
    "flask.globals": "kolben.globals",
    "flask.helpers": "kolben.helpers",
    "flask.json": "kolben.json",
    "flask.json.provider": "kolben.json.provider",
    "flask.json.tag": "kolben.json.tag",
    "flask.logging": "kolben.logging",
    "flask.sansio.app": "kolben.app",
    "flask.sansio.blueprints": "kolben.blueprints",
    "flask.sansio.scaffold": "kolben.scaffold",
    "flask.sessions": "kolben.sessions",
    "flask.signals": "kolben.signals",
    "flask.templating": "kolben.templating",
    "flask.testing": "kolben.testing",
    "flask.typing": "kolben.typing",
    "flask.views": "kolben.views",
    "flask.wrappers": "kolben.wrappers",
}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (the environment minus the compat
    switch, plus ``env``)."""
    import os

    environ = {k: v for k, v in os.environ.items() if k != "KOLBEN_FLASK_COMPAT"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- what `import flask` gives ---------------------------------------------------------


def test_flask_is_kolben() -> None:
    assert kolben.compat.installed()
    assert flask.Flask is kolben.Kolben
    assert flask.Blueprint is kolben.Blueprint
    assert flask.request is kolben.request
    assert flask.current_app is kolben.current_app
    assert flask.Response is kolben.Response


@pytest.mark.parametrize(("name", "target"), PUBLIC_MODULES.items())
def test_every_public_module_resolves(name: str, target: str) -> None:
    module = importlib.import_module(name)
    real = importlib.import_module(target)
    assert sys.modules[name] is module
    assert module.__name__ == name
    public = [n for n in getattr(real, "__all__", dir(real)) if not n.startswith("__")]
    assert public
    for attr in public:
        value, expected = getattr(module, attr), getattr(real, attr)
        if kolben.compat.is_stand_in(value):  # flask.json: a stand-in too
            value = value.__kolben_module__
        assert value is expected, attr


def test_submodules_are_attributes_of_their_package() -> None:
    assert flask.json.provider.DefaultJSONProvider is kolben.json.provider.DefaultJSONProvider
    assert flask.sansio.scaffold.Scaffold is kolben.scaffold.Scaffold
    assert "globals" in dir(flask)
    assert "provider" in dir(flask.json)


def test_names_flask_keeps_elsewhere() -> None:
    from flask.app import Flask
    from flask.sansio.app import App
    from flask.sansio.blueprints import Blueprint, BlueprintSetupState
    from flask.sansio.scaffold import _endpoint_from_view_func, setupmethod
    from flask.sessions import session_json_serializer

    assert Flask is App is kolben.Kolben
    assert Blueprint is kolben.Blueprint
    assert BlueprintSetupState is kolben.blueprints.BlueprintSetupState
    assert callable(setupmethod)

    def index() -> str:
        return ""

    assert _endpoint_from_view_func(index) == "index"
    assert session_json_serializer.loads(session_json_serializer.dumps({"a": (1, 2)})) == {
        "a": (1, 2)
    }


def test_private_helpers_applications_import(tmp_path: t.Any) -> None:
    """Module-level helpers of Flask 3.1.3's modules that some applications and
    extensions import although they are private: every function Flask's
    modules define is served, doing what Flask's does."""
    import os
    import sys
    from datetime import timedelta

    from flask.app import _make_timedelta
    from flask.cli import _path_is_ancestor
    from flask.debughelpers import _dump_loader_info
    from flask.helpers import _split_blueprint_path
    from flask.sansio.app import _make_timedelta as sansio_make_timedelta
    from flask.sansio.scaffold import _find_package_path, find_package
    from flask.sessions import _lazy_sha1
    from flask.testing import _get_werkzeug_version
    from jinja2 import DictLoader

    assert _make_timedelta(30) == timedelta(seconds=30)
    assert _make_timedelta(None) is None
    assert sansio_make_timedelta(timedelta(days=1)) == timedelta(days=1)
    assert _path_is_ancestor("/a/b", "/a/b/c")
    assert not _path_is_ancestor("/a/b", "/a/bc")
    assert next(iter(_dump_loader_info(DictLoader({})))) == "class: jinja2.loaders.DictLoader"
    assert _split_blueprint_path("a.b.c") == ["a.b.c", "a.b", "a"]
    assert _lazy_sha1(b"x").hexdigest() == __import__("hashlib").sha1(b"x").hexdigest()
    assert _get_werkzeug_version() == __import__("importlib.metadata").metadata.version("werkzeug")
    # A module that is not installed: imported from its folder, no prefix.
    (tmp_path / "privmod_probe.py").write_text("")
    sys.path.insert(0, str(tmp_path))
    try:
        assert _find_package_path("privmod_probe") == str(tmp_path)
        assert find_package("privmod_probe") == (None, str(tmp_path))
    finally:
        sys.path.remove(str(tmp_path))
    prefix, path = find_package("click")  # installed: under the environment's prefix
    assert prefix == os.path.abspath(sys.prefix) and os.path.isdir(path)


def test_internal_names_extensions_use() -> None:
    from flask.cli import AppGroup, FlaskGroup, ScriptInfo, with_appcontext
    from flask.globals import app_ctx, request_ctx
    from flask.json.provider import DefaultJSONProvider, JSONProvider
    from flask.sessions import SecureCookieSessionInterface, SessionInterface, SessionMixin
    from flask.signals import Namespace
    from flask.testing import FlaskClient, FlaskCliRunner
    from flask.views import MethodView, View, http_method_funcs

    assert http_method_funcs == {
        *("get", "post", "head", "options"),
        *("delete", "put", "trace", "patch"),
    }
    assert issubclass(MethodView, View)
    assert issubclass(DefaultJSONProvider, JSONProvider)
    assert issubclass(SecureCookieSessionInterface, SessionInterface)
    assert isinstance(kolben.sessions.SecureCookieSession(), SessionMixin)
    assert FlaskClient is kolben.testing.KolbenClient
    assert FlaskCliRunner is kolben.testing.KolbenCliRunner
    assert FlaskGroup is kolben.cli.KolbenGroup
    assert issubclass(FlaskGroup, AppGroup)
    assert callable(with_appcontext)
    assert ScriptInfo is kolben.cli.ScriptInfo
    assert Namespace().signal("x") is not None
    assert app_ctx is kolben.globals.app_ctx
    assert request_ctx is kolben.globals.request_ctx
    for name in (
        "has_app_context",
        "has_request_context",
        "stream_with_context",
        "get_template_attribute",
        "copy_current_request_context",
        "after_this_request",
    ):
        assert getattr(flask, name) is getattr(kolben, name)


def test_names_flasks_modules_import() -> None:
    """Names a Flask module has because it imports them (found by comparing
    ``dir()`` of each module with Flask 3.1.3's): importable from there too."""
    import itsdangerous
    import werkzeug.serving
    import werkzeug.wrappers
    from flask.cli import get_load_dotenv, run_simple
    from flask.helpers import get_load_dotenv as helpers_get_load_dotenv
    from flask.json.tag import dumps, loads
    from flask.sansio.scaffold import T_route
    from flask.sessions import BadSignature
    from flask.typing import (
        BeforeFirstRequestCallable,
        ShellContextProcessorCallable,
        TemplateFilterCallable,
        TemplateGlobalCallable,
        TemplateTestCallable,
    )
    from flask.wrappers import RequestBase, ResponseBase

    assert BadSignature is itsdangerous.BadSignature
    assert run_simple is werkzeug.serving.run_simple
    assert get_load_dotenv is helpers_get_load_dotenv is kolben.helpers.get_load_dotenv
    assert loads(dumps({"a": 1})) == {"a": 1}
    assert RequestBase is werkzeug.wrappers.Request
    assert ResponseBase is werkzeug.wrappers.Response
    assert T_route.__name__ == "T_route"
    for alias in (
        BeforeFirstRequestCallable,
        ShellContextProcessorCallable,
        TemplateFilterCallable,
        TemplateGlobalCallable,
        TemplateTestCallable,
    ):
        assert alias is not None
    for module_name, names in kolben.compat._REEXPORTS.items():
        module = importlib.import_module(module_name)
        for attr in names:
            assert getattr(module, attr) is not None, (module_name, attr)
            assert attr in dir(module)


def test_patching_a_flask_module_patches_what_kolben_calls(
    app: flask.Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flask-Testing's ``render_templates = False`` (and ``mock.patch``) replace
    ``flask.templating._render``; the kolben module behind the stand-in gets it,
    and gets its own back when the patch is undone."""
    from unittest import mock

    import flask.templating

    original = kolben.templating._render

    def render() -> str:
        with app.test_request_context():
            return flask.render_template_string("real {{ 1 }}")

    with mock.patch("flask.templating._render", lambda app, template, context: "patched"):
        assert render() == "patched"
    assert render() == "real 1"
    assert kolben.templating._render is original
    assert flask.templating._render is original

    monkeypatch.setattr(flask.templating, "_render", lambda *args: "monkeypatched")
    assert render() == "monkeypatched"
    monkeypatch.undo()
    assert render() == "real 1"
    assert kolben.templating._render is original

    # A name kolben's module doesn't have goes away again when deleted.
    flask.templating.added_by_a_test = 1
    assert kolben.templating.added_by_a_test == 1  # type: ignore[attr-defined]
    del flask.templating.added_by_a_test
    assert not hasattr(kolben.templating, "added_by_a_test")

    # Importing a submodule sets it on its package's stand-in only.
    import flask.json.provider

    assert kolben.json.provider.__name__ == "kolben.json.provider"


def test_stand_ins_have_the_kolben_modules_file() -> None:
    import flask.app
    import flask.json

    assert flask.__file__ == kolben.__file__
    assert flask.app.__file__ == kolben.app.__file__
    assert flask.json.__file__ == kolben.json.__file__


def test_get_load_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    from flask.helpers import get_load_dotenv

    monkeypatch.delenv("KOLBEN_SKIP_DOTENV", raising=False)
    monkeypatch.delenv("FLASK_SKIP_DOTENV", raising=False)
    assert get_load_dotenv() is True
    assert get_load_dotenv(False) is False
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    assert get_load_dotenv() is False
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "no")
    assert get_load_dotenv() is True


# -- versions -------------------------------------------------------------------------------


def test_distribution_version_is_the_flask_api_version() -> None:
    assert kolben.compat.FLASK_VERSION.startswith("3.1.")
    assert importlib.metadata.version("flask") == kolben.compat.FLASK_VERSION
    assert importlib.metadata.version("Flask") == kolben.compat.FLASK_VERSION
    assert importlib.metadata.metadata("flask")["Name"] == "Flask"
    # Other distributions are not touched.
    assert importlib.metadata.version("werkzeug").startswith("3.")


def test_dunder_version_is_deprecated_as_in_flask() -> None:
    with pytest.warns(DeprecationWarning, match="__version__"):
        version = flask.__version__
    assert version == kolben.compat.FLASK_VERSION


# -- switching on, twice, refusing ---------------------------------------------------------


def test_install_twice_is_harmless() -> None:
    finders = list(sys.meta_path)
    kolben.compat.install()
    kolben.compat.install()
    assert sys.meta_path == finders
    import flask as again

    assert again is flask


def test_environment_variable_installs_on_import() -> None:
    proc = run_python(
        """
        import kolben, flask
        assert flask.Flask is kolben.Kolben
        print("ok")
        """,
        KOLBEN_FLASK_COMPAT="1",
    )
    assert proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_environment_variable_off(value: str) -> None:
    proc = run_python(
        """
        import kolben, flask
        assert flask.Flask is not kolben.Kolben
        print("ok")
        """,
        KOLBEN_FLASK_COMPAT=value,
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def test_refuses_when_the_real_flask_is_imported() -> None:
    proc = run_python(
        """
        import flask
        import kolben.compat
        try:
            kolben.compat.install()
        except RuntimeError as e:
            print(e)
        import flask.app
        assert flask.Flask.__module__ == "flask.app"
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert "the real Flask is already imported" in proc.stdout
    assert "KOLBEN_FLASK_COMPAT=1" in proc.stdout
    assert "docs/extensions.md" in proc.stdout


def test_environment_variable_acts_before_the_first_import_of_flask() -> None:
    # kolben's start-up hook (a .pth file) turns compat on at the first
    # `import flask` of a process started with the variable, even when flask is
    # imported before kolben.
    if not kolben.compat.hook_installed():
        pytest.skip("kolben's start-up hook is not installed (pip install -e .)")
    proc = run_python(
        "import flask, kolben\nassert flask.Flask is kolben.Kolben\nprint('ok')",
        KOLBEN_FLASK_COMPAT="1",
    )
    assert proc.stdout.strip() == "ok", proc.stderr


def test_uninstall_gives_back_the_real_flask() -> None:
    proc = run_python(
        """
        import kolben, kolben.compat
        kolben.compat.install()
        import flask
        assert flask.Flask is kolben.Kolben
        kolben.compat.uninstall()
        assert not kolben.compat.installed()
        import flask
        assert flask.Flask is not kolben.Kolben
        try:
            kolben.Kolben("x")._nothing
        except AttributeError as e:
            assert "private to Flask" not in str(e), e
        print("ok")
        """
    )
    assert proc.stdout.strip() == "ok", proc.stderr


# -- bad input: names kolben does not have -------------------------------------------------


def test_missing_private_module_attribute_names_it_and_the_docs() -> None:
    with pytest.raises(AttributeError) as info:
        flask._app_ctx_stack  # noqa: B018
    message = str(info.value)
    assert "'_app_ctx_stack'" in message
    assert "docs/extensions.md" in message
    with pytest.raises(ImportError, match="_request_ctx_stack"):
        from flask.globals import _request_ctx_stack  # noqa: F401


def test_missing_module_is_not_found() -> None:
    import importlib.util

    assert importlib.util.find_spec("flask.nope") is None
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("flask.nope")
    assert info.value.name == "flask.nope"
    # Nor are modules kolben has but does not serve as flask's: the stand-in
    # packages have no folders on disk.
    assert flask.__path__ == flask.json.__path__ == []
    assert importlib.util.find_spec("flask.json.__main__") is None
    assert importlib.util.find_spec("flask.json.__init__") is None


def test_missing_private_app_attribute_names_it_and_the_docs() -> None:
    app = flask.Flask(__name__)
    with pytest.raises(AttributeError, match=r"'_before_request_lock'.*docs/extensions\.md"):
        app._before_request_lock  # noqa: B018
    private = pytest.raises(AttributeError, match=r"'_implicit_app_ctx_stack'.*private")
    with app.test_request_context(), private:
        flask.globals.request_ctx._implicit_app_ctx_stack  # noqa: B018
    # Public misses and getattr() with a default behave as usual.
    with pytest.raises(AttributeError) as info:
        app.no_such_thing  # noqa: B018
    assert "private" not in str(info.value)
    assert getattr(app, "_not_there", 42) == 42
    assert not hasattr(flask.Blueprint("bp", __name__), "_nope")


# -- what popular extensions touch ------------------------------------------------------------


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="compat layer")
    return app


def test_extension_pattern(app: flask.Flask, client: t.Any) -> None:
    """A small extension written the documented way (``init_app``,
    ``app.extensions``, ``teardown_appcontext``, ``g``) works unchanged."""
    from flask import current_app, g

    class Counter:
        def __init__(self, app: flask.Flask | None = None) -> None:
            if app is not None:
                self.init_app(app)

        def init_app(self, app: flask.Flask) -> None:
            app.config.setdefault("COUNTER_START", 10)
            app.extensions["counter"] = {"closed": 0}
            app.teardown_appcontext(self.teardown)

        def next(self) -> int:
            if "counter" not in g:
                g.counter = current_app.config["COUNTER_START"]
            g.counter += 1
            return int(g.counter)

        def teardown(self, exc: BaseException | None) -> None:
            if g.pop("counter", None) is not None:
                current_app.extensions["counter"]["closed"] += 1

    counter = Counter()
    counter.init_app(app)

    @app.get("/")
    def index() -> str:
        return f"{counter.next()} {counter.next()}"

    assert client.get("/").text == "11 12"
    assert client.get("/").text == "11 12"
    assert app.extensions["counter"]["closed"] == 2


def test_hook_dicts_keyed_by_blueprint_name(app: flask.Flask, client: t.Any) -> None:
    bp = flask.Blueprint("bp", __name__)

    @bp.get("/b")
    def b() -> str:
        return "b"

    @app.get("/")
    def index() -> str:
        return "a"

    app.register_blueprint(bp, url_prefix="/bp")

    def tag(name: str) -> t.Callable[[flask.Response], flask.Response]:
        def hook(response: flask.Response) -> flask.Response:
            response.headers.add("X-Hook", name)
            return response

        return hook

    # Extensions append to these dicts directly, before the first request.
    app.after_request_funcs[None].append(tag("app"))
    app.after_request_funcs.setdefault("bp", []).append(tag("bp"))
    app.before_request_funcs[None].append(lambda: None)
    assert client.get("/").headers.getlist("X-Hook") == ["app"]
    assert client.get("/bp/b").headers.getlist("X-Hook") == ["bp", "app"]
    assert set(app.blueprints) == {"bp"}
    assert app.import_name == __name__


def test_view_functions_and_view_class(app: flask.Flask, client: t.Any) -> None:
    from flask.views import MethodView

    class Items(MethodView):
        def get(self) -> str:
            return "list"

        async def post(self) -> str:
            await asyncio.sleep(0)
            return "made"

    app.add_url_rule("/items", view_func=Items.as_view("items"))
    view = app.view_functions["items"]
    assert view.view_class is Items  # type: ignore[attr-defined]
    assert client.get("/items").text == "list"
    assert client.post("/items").text == "made"


def test_handlers_replaced_on_the_instance(app: flask.Flask, client: t.Any) -> None:
    """flask-cors wraps ``app.handle_exception`` / ``handle_user_exception`` on
    the instance; the pipeline calls the replacements."""
    seen: list[str] = []
    original_user, original_exc = app.handle_user_exception, app.handle_exception

    def handle_user_exception(e: Exception) -> t.Any:
        seen.append(f"user:{type(e).__name__}")
        return original_user(e)

    def handle_exception(e: Exception) -> flask.Response:
        seen.append(f"exception:{type(e).__name__}")
        return original_exc(e)

    app.handle_user_exception = handle_user_exception  # type: ignore[method-assign]
    app.handle_exception = handle_exception  # type: ignore[method-assign]
    app.testing = False

    @app.get("/missing")
    def missing() -> str:
        flask.abort(404)

    @app.get("/boom")
    def boom() -> str:
        raise ZeroDivisionError

    app.logger.disabled = True
    assert client.get("/missing").status_code == 404
    assert client.get("/boom").status_code == 500
    assert seen == ["user:NotFound", "user:ZeroDivisionError", "exception:ZeroDivisionError"]


def test_make_default_options_response(app: flask.Flask, client: t.Any) -> None:
    @app.route("/thing", methods=["GET", "PUT"])
    def thing() -> t.Any:
        if flask.request.method == "OPTIONS":
            return flask.current_app.make_default_options_response()
        return "thing"

    response = client.open("/thing", method="OPTIONS")
    assert set(response.allow) == {"GET", "HEAD", "OPTIONS", "PUT"}


def test_jinja_env_extensions_and_globals(app: flask.Flask, client: t.Any) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals["shout"] = str.upper

    @app.get("/")
    def index() -> str:
        return flask.render_template_string(
            "{% set xs = [] %}{% do xs.append(shout('a')) %}{{ xs|join }}"
        )

    assert client.get("/").text == "A"


def test_test_client_class(app: flask.Flask) -> None:
    from flask.testing import FlaskClient

    class Client(FlaskClient):
        def __init__(self, *args: t.Any, token: str = "", **kwargs: t.Any) -> None:
            super().__init__(*args, **kwargs)
            self.environ_base["HTTP_X_TOKEN"] = token

    app.test_client_class = Client

    @app.get("/")
    def index() -> str:
        return flask.request.headers["X-Token"]

    assert app.test_client(token="t1").get("/").text == "t1"


def test_app_ctx_identity_scopes_per_context(app: flask.Flask) -> None:
    from flask.globals import app_ctx

    with app.app_context():
        first = id(app_ctx._get_current_object())  # type: ignore[attr-defined]
        assert id(app_ctx._get_current_object()) == first  # type: ignore[attr-defined]
    with app.app_context():
        inner = app_ctx._get_current_object()  # type: ignore[attr-defined]
        assert inner.app is app
        with app.app_context():
            assert app_ctx._get_current_object() is not inner  # type: ignore[attr-defined]


def test_request_ctx_keeps_attributes(app: flask.Flask, client: t.Any) -> None:
    from flask.globals import request_ctx

    @app.before_request
    def mark() -> None:
        request_ctx._ext_marker = "set in before_request"  # type: ignore[attr-defined]

    @app.get("/")
    def index() -> str:
        return getattr(request_ctx, "_ext_marker", "missing")

    assert client.get("/").text == "set in before_request"


def test_ensure_sync_and_async_to_sync(app: flask.Flask) -> None:
    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    def mul(a: int, b: int) -> int:
        return a * b

    assert app.ensure_sync(mul) is mul
    assert app.ensure_sync(add)(1, 2) == 3
    assert app.async_to_sync(add)(2, 3) == 5


def test_signals_reach_extension_receivers(app: flask.Flask, client: t.Any) -> None:
    from flask.signals import Namespace, request_finished

    ours = Namespace().signal("ours")
    got: list[t.Any] = []

    def finished(sender: flask.Flask, response: flask.Response, **extra: t.Any) -> None:
        got.append((sender, response.status_code))
        ours.send(sender, what="finished")

    @ours.connect
    def on_ours(sender: flask.Flask, what: str) -> None:
        got.append(what)

    @app.get("/")
    def index() -> str:
        return ""

    with request_finished.connected_to(finished, app):
        client.get("/")
    assert got == [(app, 200), "finished"]


def test_responses_pickle(app: flask.Flask) -> None:
    response = flask.Response("body", status=201, headers={"X-A": "b"})
    response.set_cookie("c", "v")
    again = pickle.loads(pickle.dumps(response))
    assert again.status_code == 201
    assert again.get_data() == b"body"
    assert again.headers["X-A"] == "b"
    assert again.headers.getlist("Set-Cookie") == response.headers.getlist("Set-Cookie")
    with app.app_context():
        made = app.make_response(flask.jsonify(a=1))
    assert pickle.loads(pickle.dumps(made)).get_json() == {"a": 1}


def test_flask_commands_entry_point_group() -> None:
    """Plugin commands registered under ``flask.commands`` (Flask-Limiter's
    ``limiter``) are listed by the ``kolben`` command."""
    groups = {ep.name for ep in importlib.metadata.entry_points(group="flask.commands")}
    assert "limiter" in groups
    from click.testing import CliRunner
    from flask.cli import FlaskGroup

    result = CliRunner().invoke(FlaskGroup(), ["--help"])
    assert result.exit_code == 0, result.output
    assert "limiter" in result.output


def test_extension_session_interface(app: flask.Flask, client: t.Any) -> None:
    """A server-side session store written as Flask-Session-style extensions
    write one: ``flask.sessions.SessionInterface`` and ``SessionMixin`` over a
    ``CallbackDict``, the cookie helpers of the interface."""
    import secrets

    from flask.sessions import SessionInterface, SessionMixin
    from werkzeug.datastructures import CallbackDict

    class StoredSession(CallbackDict[str, t.Any], SessionMixin):
        def __init__(self, sid: str, data: dict[str, t.Any] | None = None) -> None:
            def on_update(_: t.Any) -> None:
                self.modified = True

            super().__init__(data or {}, on_update)
            self.sid = sid
            self.modified = False

    store: dict[str, dict[str, t.Any]] = {}

    class StoreInterface(SessionInterface):
        def open_session(self, app: flask.Flask, request: flask.Request) -> StoredSession:
            sid = request.cookies.get(self.get_cookie_name(app))
            if sid in store:
                return StoredSession(sid, dict(store[sid]))
            return StoredSession(secrets.token_urlsafe(8))

        def save_session(
            self, app: flask.Flask, session: t.Any, response: flask.Response
        ) -> None:
            if not self.should_set_cookie(app, session):
                return
            store[session.sid] = dict(session)
            response.set_cookie(
                self.get_cookie_name(app),
                session.sid,
                httponly=self.get_cookie_httponly(app),
                path=self.get_cookie_path(app),
            )

    app.session_interface = StoreInterface()

    @app.get("/count")
    def count() -> str:
        flask.session["n"] = flask.session.get("n", 0) + 1
        return str(flask.session["n"])

    assert [client.get("/count").text for _ in range(3)] == ["1", "2", "3"]
    [(sid, data)] = store.items()
    assert data == {"n": 3}
    assert client.get_cookie("session").value == sid


def test_json_provider_subclass(app: flask.Flask, client: t.Any) -> None:
    """Extensions subclass ``flask.json.provider.DefaultJSONProvider``."""
    import decimal

    from flask.json.provider import DefaultJSONProvider

    class DecimalProvider(DefaultJSONProvider):
        @staticmethod
        def default(o: t.Any) -> t.Any:
            if isinstance(o, decimal.Decimal):
                return str(o)
            return DefaultJSONProvider.default(o)

    app.json = DecimalProvider(app)

    @app.get("/price")
    def price() -> t.Any:
        return flask.jsonify(price=decimal.Decimal("9.99"))

    assert client.get("/price").json == {"price": "9.99"}
