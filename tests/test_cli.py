"""The kolben command line (issue 4): app discovery, --app/--debug/--env-file,
dotenv files, run, shell, routes, custom and plugin commands, custom scripts.

Discovery, ``routes`` and ``run`` are driven through the real console script and
``python -m kolben`` in subprocesses (with timeouts); the rest with click's
runner. Behaviours that are Flask's were checked against Flask 3.1.3.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import time
import types
import typing as t
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import kolben
from kolben import current_app, has_app_context
from kolben.cli import (
    AppGroup,
    FlaskGroup,
    KolbenGroup,
    NoAppException,
    ScriptInfo,
    find_app_by_string,
    find_best_app,
    get_version,
    load_dotenv,
    locate_app,
    pass_script_info,
    prepare_import,
    routes_command,
    run_command,
    shell_command,
    with_appcontext,
)

CLI_APPS = Path(__file__).parent / "cli_apps"
PLUGINS = CLI_APPS / "plugins"
SCRIPT = Path(sys.executable).with_name("kolben")
TIMEOUT = 60  # seconds, for any subprocess
SERVER_START_TIMEOUT = 15.0

HAS_CRYPTOGRAPHY = __import__("importlib.util").util.find_spec("cryptography") is not None
OPENSSL = shutil.which("openssl")


# --- isolation -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolate(monkeypatch, tmp_path) -> Iterator[None]:
    """Each test gets its own os.environ, sys.path and cwd, and forgets the
    fixture modules it imported."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KOLBEN_", "FLASK_", "WERKZEUG_")) and k != "PYTHONSTARTUP"
    }
    monkeypatch.setattr(os, "environ", environ)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    yield
    roots = (str(CLI_APPS), str(tmp_path))
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(roots):
            del sys.modules[name]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The test's environment (no KOLBEN_/FLASK_ variables) for a subprocess."""
    env = dict(os.environ)
    env.setdefault("KOLBEN_SKIP_DOTENV", "1")  # no stray .env files from the tree
    env.update(extra)
    return env


@pytest.fixture(params=["script", "module"])
def kolben_cmd(request) -> list[str]:
    """The kolben console script, and ``python -m kolben``."""
    if request.param == "script":
        if not SCRIPT.exists():
            pytest.skip("the kolben console script is not installed")
        return [str(SCRIPT)]
    return [sys.executable, "-m", "kolben"]


def run_cli(
    cmd: list[str], *args: str, cwd: Path = CLI_APPS, input: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmd, *args],
        cwd=cwd,
        env=subprocess_env(**env),
        input=input,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


@pytest.fixture
def kolben_cli() -> KolbenGroup:
    """A fresh ``kolben`` group (plugin commands are loaded once per group)."""
    return KolbenGroup(name="kolben")


def invoke(group: click.Group, *args: str, **kwargs):
    return CliRunner().invoke(group, list(args), prog_name="kolben", **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the module's API ---------------------------------------------------------------------


def test_public_names():
    import kolben.cli as cli_module

    for name in (
        "ScriptInfo",
        "NoAppException",
        "locate_app",
        "find_best_app",
        "prepare_import",
        "load_dotenv",
        "with_appcontext",
        "pass_script_info",
        "run_command",
        "shell_command",
        "routes_command",
        "get_version",
        "AppGroup",
        "KolbenGroup",
        "FlaskGroup",
        "main",
    ):
        assert hasattr(cli_module, name), name
    assert FlaskGroup is KolbenGroup
    assert issubclass(KolbenGroup, AppGroup)
    assert issubclass(NoAppException, click.UsageError)
    assert isinstance(run_command, click.Command)
    assert {run_command.name, shell_command.name, routes_command.name} == {
        "run",
        "shell",
        "routes",
    }


# --- prepare_import ------------------------------------------------------------------------


def test_prepare_import_module_file_and_folder(tmp_path):
    (tmp_path / "hello.py").write_text("")
    assert prepare_import("hello.py") == "hello"
    assert sys.path[0] == str(tmp_path)
    assert prepare_import("hello") == "hello"
    assert sys.path.count(str(tmp_path)) == 1  # not inserted twice


def test_prepare_import_path_into_a_folder(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "hello.py").write_text("")
    assert prepare_import("src/hello") == "hello"
    assert sys.path[0] == str(tmp_path / "src")


def test_prepare_import_inside_packages(tmp_path):
    pkg = tmp_path / "outer" / "inner"
    pkg.mkdir(parents=True)
    (tmp_path / "outer" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "web.py").write_text("")
    assert prepare_import(str(pkg / "web.py")) == "outer.inner.web"
    assert sys.path[0] == str(tmp_path)
    assert prepare_import(str(pkg / "__init__.py")) == "outer.inner"
    assert prepare_import("outer/inner") == "outer.inner"


def test_prepare_import_dotted_name_is_left_to_import(tmp_path):
    assert prepare_import("hello.web") == "hello.web"
    assert sys.path[0] == str(tmp_path)


# --- find_best_app -------------------------------------------------------------------------


def module(**attrs) -> types.ModuleType:
    mod = types.ModuleType("fake_mod")
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


def test_find_best_app_prefers_app_then_application():
    a, b = kolben.Kolben("a"), kolben.Kolben("b")
    assert find_best_app(module(app=a, application=b)) is a
    assert find_best_app(module(application=b, other=a)) is b
    assert find_best_app(module(app="not an app", application=b)) is b


def test_find_best_app_single_instance_under_any_name():
    a = kolben.Kolben("a")
    assert find_best_app(module(my_site=a, VALUE=1)) is a


def test_find_best_app_multiple_instances_names_them():
    with pytest.raises(NoAppException) as info:
        find_best_app(module(one=kolben.Kolben("a"), two=kolben.Kolben("b")))
    message = info.value.message
    assert "multiple kolben applications in module 'fake_mod'" in message
    assert "'one', 'two'" in message
    assert "fake_mod:name" in message


def test_find_best_app_factories():
    made = kolben.Kolben("made")
    assert find_best_app(module(create_app=lambda: made)) is made
    assert find_best_app(module(make_app=lambda: made)) is made
    # create_app first, and a factory returning something else falls through.
    other = kolben.Kolben("other")
    assert find_best_app(module(create_app=lambda: other, make_app=lambda: made)) is other
    assert find_best_app(module(create_app=lambda: None, make_app=lambda: made)) is made


def test_find_best_app_factory_that_needs_arguments():
    def create_app(config):
        raise AssertionError("not called")

    with pytest.raises(NoAppException) as info:
        find_best_app(module(create_app=create_app))
    assert "could not call it without arguments" in info.value.message
    assert "fake_mod:create_app(args)" in info.value.message


def load_through_the_command_line(mod: types.ModuleType, monkeypatch) -> kolben.Kolben:
    """Load the app of ``mod`` as the command line does (``--app fake_mod``)."""
    monkeypatch.setitem(sys.modules, "fake_mod", mod)
    return ScriptInfo(app_import_path="fake_mod").load_app()


def test_factory_raising_type_error_inside(monkeypatch):
    def create_app():
        return len(5)

    # Flask's function lets the factory's own error through...
    with pytest.raises(TypeError, match="has no len"):
        find_best_app(module(create_app=create_app))
    # ...and the command line explains it in one line.
    with pytest.raises(NoAppException) as info:
        load_through_the_command_line(module(create_app=create_app), monkeypatch)
    message = info.value.message
    assert message.startswith("Calling the app factory 'create_app()' in module 'fake_mod'")
    assert "TypeError" in message
    assert "\n" not in message


def test_factory_raising_names_the_error_and_place(monkeypatch):
    def make_app():
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        find_best_app(module(make_app=make_app))
    monkeypatch.setitem(sys.modules, "fake_mod", module(make_app=make_app))
    with pytest.raises(RuntimeError, match="no database"):
        locate_app("fake_mod", None)
    with pytest.raises(NoAppException) as info:
        load_through_the_command_line(module(make_app=make_app), monkeypatch)
    message = info.value.message
    assert "raised RuntimeError: no database (" in message
    assert "test_cli.py, line " in message
    assert "\n" not in message
    assert "KOLBEN_DEBUG=1" in message


def test_factory_error_shows_the_traceback_in_debug_mode(monkeypatch):
    monkeypatch.setenv("KOLBEN_DEBUG", "1")

    def create_app():
        raise RuntimeError("no database")

    with pytest.raises(NoAppException) as info:
        load_through_the_command_line(module(create_app=create_app), monkeypatch)
    assert "Traceback (most recent call last)" in info.value.message
    assert "RuntimeError: no database" in info.value.message


def test_find_best_app_says_what_was_tried():
    with pytest.raises(NoAppException) as info:
        find_best_app(module(create_app=lambda: "nope", app=42))
    message = info.value.message
    assert "Failed to find a kolben application or factory in module 'fake_mod'" in message
    assert "'app' or 'application'" in message
    assert "'create_app' or 'make_app'" in message
    assert "'create_app()' returned str" in message


def test_find_best_app_ignores_non_function_factories():
    with pytest.raises(NoAppException):
        find_best_app(module(create_app=kolben.Kolben))  # a class, not a function


# --- find_app_by_string --------------------------------------------------------------------


def test_find_app_by_string_attribute_and_call():
    a = kolben.Kolben("a")
    calls = []

    def create_app(*args, **kwargs):
        calls.append((args, kwargs))
        return a

    mod = module(web=a, create_app=create_app)
    assert find_app_by_string(mod, "web") is a
    assert find_app_by_string(mod, " create_app() ") is a
    assert find_app_by_string(mod, "create_app('dev', 2, flag=True, opts={'a': [1]})") is a
    assert calls == [((), {}), (("dev", 2), {"flag": True, "opts": {"a": [1]}})]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("a.b", "Failed to parse 'a.b' as an attribute name or function call."),
        ("create_app(", "Failed to parse 'create_app(' as an attribute name"),
        ("1 + 1", "Failed to parse '1 + 1' as an attribute name"),
        ("a.b()", "Function reference must be a simple name: 'a.b()'."),
        ("create_app(x)", "Failed to parse arguments as literal values: 'create_app(x)'."),
        ("create_app(os.getcwd())", "Failed to parse arguments as literal values"),
        ("create_app(*args)", "Failed to parse arguments as literal values"),
        ("create_app(**{'a': 1})", "Failed to parse arguments as literal values"),
        ("create_app(__import__('os').system('false'))", "literal values"),
        ("missing", "Failed to find attribute 'missing' in 'fake_mod'."),
    ],
)
def test_find_app_by_string_rejects(expr, message):
    called = []
    mod = module(create_app=lambda *a, **k: called.append(1))
    with pytest.raises(NoAppException) as info:
        find_app_by_string(mod, expr)
    assert message in info.value.message
    assert called == []


def test_find_app_by_string_wrong_arguments():
    def create_app(env):
        raise AssertionError("not called")

    with pytest.raises(NoAppException) as info:
        find_app_by_string(module(create_app=create_app), "create_app(1, 2)")
    assert (
        "The factory 'create_app(1, 2)' in module 'fake_mod' could not be called with the"
        " given arguments" in info.value.message
    )


def test_find_app_by_string_not_an_app():
    with pytest.raises(NoAppException) as info:
        find_app_by_string(module(value=3, create_app=lambda: None), "value")
    assert "A valid kolben application was not obtained from 'fake_mod:value'" in str(info.value)
    with pytest.raises(NoAppException, match="got NoneType"):
        find_app_by_string(module(create_app=lambda: None), "create_app()")


def test_find_app_by_string_factory_raises_one_line(monkeypatch):
    def create_app(mode):
        raise KeyError(mode)

    with pytest.raises(KeyError):  # Flask's function: the factory's own error
        find_app_by_string(module(create_app=create_app), "create_app('prod')")
    monkeypatch.setitem(sys.modules, "fake_mod", module(create_app=create_app))
    with pytest.raises(NoAppException) as info:  # the command line explains it
        ScriptInfo(app_import_path="fake_mod:create_app('prod')").load_app()
    message = info.value.message
    assert message.startswith(
        "Calling the app factory \"create_app('prod')\" in module 'fake_mod' raised KeyError:"
    )
    assert "\n" not in message


def test_find_app_by_string_type_error_inside_the_factory(monkeypatch):
    monkeypatch.syspath_prepend(str(CLI_APPS))
    with pytest.raises(TypeError):  # Flask's function: the factory's own error
        locate_app("factory_app", "type_error_inside()")
    with pytest.raises(NoAppException) as info:  # the command line explains it
        ScriptInfo(app_import_path="factory_app:type_error_inside()").load_app()
    message = info.value.message
    assert "'type_error_inside()' in module 'factory_app' raised TypeError:" in message
    assert "factory_app.py, line " in message


def test_find_app_by_string_a_callable_app_is_not_called():
    # As in Flask: only functions are called; a Kolben app is returned as is.
    a = kolben.Kolben("a")
    assert find_app_by_string(module(app=a), "app") is a


# --- locate_app ----------------------------------------------------------------------------


def test_locate_app_by_module_and_name(monkeypatch):
    monkeypatch.syspath_prepend(str(CLI_APPS))
    assert locate_app("hello", None).name == "hello"
    assert locate_app("two_apps", "two").name == "two"
    assert locate_app("factory_app", "create_app('x')").config["MODE"] == "x"
    assert locate_app("pkg_app.web", None).name == "pkg_app.web"


def test_locate_app_module_not_found(monkeypatch):
    with pytest.raises(NoAppException) as info:
        locate_app("kc_no_such_module", None)
    assert info.value.message.startswith("Could not import 'kc_no_such_module'")
    assert "Traceback" not in info.value.message
    assert locate_app("kc_no_such_module", None, raise_if_not_found=False) is None
    monkeypatch.syspath_prepend(str(CLI_APPS))
    with pytest.raises(NoAppException, match=r"Could not import 'pkg_app\.missing'"):
        locate_app("pkg_app.missing", None)


def test_locate_app_import_error_inside_the_module_shows_its_traceback(monkeypatch):
    monkeypatch.syspath_prepend(str(CLI_APPS))
    for raise_if_not_found in (True, False):
        with pytest.raises(NoAppException) as info:
            locate_app("import_error", None, raise_if_not_found=raise_if_not_found)
        message = info.value.message
        assert message.startswith("While importing 'import_error', an ImportError was raised:")
        assert "Traceback (most recent call last)" in message
        assert "kolben_cli_test_module_that_does_not_exist" in message


def test_locate_app_error_while_importing_shows_its_traceback(monkeypatch):
    monkeypatch.syspath_prepend(str(CLI_APPS))
    with pytest.raises(NoAppException) as info:
        locate_app("raises_on_import", None)
    message = info.value.message
    assert message.startswith("While importing 'raises_on_import', an error was raised:")
    assert "RuntimeError: broken at import time" in message


# --- ScriptInfo ----------------------------------------------------------------------------


def test_script_info_import_path_forms(monkeypatch):
    monkeypatch.chdir(CLI_APPS)
    cases = {
        "hello": "hello",
        "hello.py": "hello",
        "hello:app": "hello",
        "application_attr": "application_attr",
        "single_instance": "single_instance",
        "two_apps:one": "one",
        "factory_app": "factory_app",
        "factory_app:create_app": "factory_app",
        "make_app_factory": "made_by_make_app",
        "factory_needs_args:create_app('dev')": "needs_dev",
        'factory_needs_args:create_app(env="qa")': "needs_qa",
        "pkg_app.web": "pkg_app.web",
        "pkg_app/web.py": "pkg_app.web",
        "src/srchello": "srchello",
        "src/srchello.py:app": "srchello",
        str(CLI_APPS / "hello.py"): "hello",
        str(CLI_APPS / "hello.py") + ":app": "hello",
    }
    for import_path, name in cases.items():
        for mod in ("hello", "pkg_app", "pkg_app.web", "srchello"):
            sys.modules.pop(mod, None)
        app = ScriptInfo(app_import_path=import_path).load_app()
        assert app.name == name, import_path


@pytest.mark.parametrize(
    ("import_path", "expected"),
    [
        ("hello", ("hello", "", "")),
        ("hello:app", ("hello", ":", "app")),
        ("src/hello.py:create_app('a:b')", ("src/hello.py", ":", "create_app('a:b')")),
        ("C:\\src\\hello.py:app", ("C:\\src\\hello.py", ":", "app")),
        ("C:/src/hello.py", ("C:/src/hello.py", "", "")),
    ],
)
def test_script_info_splits_windows_paths_at_the_right_colon(import_path, expected):
    assert ScriptInfo._split_import_path(import_path) == expected


def test_script_info_discovers_wsgi_py_before_app_py(monkeypatch):
    monkeypatch.chdir(CLI_APPS / "discover_wsgi")
    info = ScriptInfo()
    assert info.load_app().name == "found_in_wsgi"
    assert info.load_app() is info.load_app()


def test_script_info_discovers_app_py_factory(monkeypatch):
    monkeypatch.chdir(CLI_APPS / "discover_app")
    sys.modules.pop("app", None)
    assert ScriptInfo().load_app().name == "found_in_app_py"


def test_script_info_discovery_ignores_modules_elsewhere(monkeypatch, tmp_path):
    # An importable module named "app" outside the current folder is not used.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "app.py").write_text("import kolben\napp = kolben.Kolben('stray')\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(NoAppException) as info:
        ScriptInfo().load_app()
    message = info.value.message
    assert "Could not locate a kolben application" in message
    assert "'kolben --app'" in message and "'KOLBEN_APP'" in message
    assert "'wsgi.py' or 'app.py'" in message


def test_script_info_sets_the_debug_flag(monkeypatch):
    monkeypatch.chdir(CLI_APPS)
    monkeypatch.setenv("KOLBEN_DEBUG", "1")
    assert ScriptInfo(app_import_path="hello").load_app().debug is True
    sys.modules.pop("hello")
    app = ScriptInfo(app_import_path="hello", set_debug_flag=False).load_app()
    assert app.config["DEBUG"] is True  # from the environment at creation, untouched
    monkeypatch.setenv("KOLBEN_DEBUG", "0")
    assert ScriptInfo(create_app=lambda: app).load_app().debug is False


def test_script_info_create_app_errors_are_one_line():
    def create_app():
        raise ValueError("bad setting")

    with pytest.raises(NoAppException) as info:
        ScriptInfo(create_app=create_app).load_app()
    assert "'create_app()'" in info.value.message
    assert "ValueError: bad setting" in info.value.message
    with pytest.raises(NoAppException, match="Could not locate a kolben application"):
        ScriptInfo(create_app=lambda: None).load_app()


def test_script_info_create_app_may_return_wsgi_middleware():
    """As Flask: a script's own factory may return what wraps the app (any WSGI
    application); only None is refused."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    wrapped = DispatcherMiddleware(kolben.Kolben("x"))
    assert ScriptInfo(create_app=lambda: wrapped, set_debug_flag=False).load_app() is wrapped


@pytest.mark.parametrize("var", ["KOLBEN_SKIP_DOTENV", "FLASK_SKIP_DOTENV"])
def test_script_info_load_dotenv_defaults(monkeypatch, var):
    assert ScriptInfo().load_dotenv_defaults is True
    assert ScriptInfo(load_dotenv_defaults=False).load_dotenv_defaults is False
    monkeypatch.setenv(var, "1")
    assert ScriptInfo().load_dotenv_defaults is False
    monkeypatch.setenv(var, "false")
    assert ScriptInfo().load_dotenv_defaults is True


# --- load_dotenv ---------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_load_dotenv_precedence(tmp_path, monkeypatch):
    write(tmp_path / ".flaskenv", "A=flaskenv\nB=flaskenv\nC=flaskenv\nD=flaskenv\n")
    write(tmp_path / ".kolbenenv", "A=kolbenenv\nB=kolbenenv\nC=kolbenenv\n")
    write(tmp_path / ".env", "A=env\nB=env\n")
    custom = write(tmp_path / "custom.env", "A=custom\n")
    monkeypatch.setenv("E", "environment")
    write(tmp_path / "more.env", "E=file\n")
    assert load_dotenv(custom) is True
    assert [os.environ[k] for k in "ABCD"] == ["custom", "env", "kolbenenv", "flaskenv"]
    assert load_dotenv(tmp_path / "more.env") is True
    assert os.environ["E"] == "environment"  # the environment wins


def test_load_dotenv_skips_keys_without_values(tmp_path):
    write(tmp_path / ".env", "NO_VALUE\nEMPTY=\n")
    assert load_dotenv() is True
    assert "NO_VALUE" not in os.environ
    assert os.environ["EMPTY"] == ""


def test_load_dotenv_searches_up_from_the_current_folder(tmp_path, monkeypatch):
    write(tmp_path / ".env", "FOUND=up\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a" / "b")
    assert load_dotenv() is True
    assert os.environ["FOUND"] == "up"


def test_load_dotenv_without_defaults_or_files(tmp_path):
    write(tmp_path / ".env", "DEFAULT=1\n")
    only = write(tmp_path / "only.env", "ONLY=1\n")
    assert load_dotenv(only, load_defaults=False) is True
    assert "DEFAULT" not in os.environ and os.environ["ONLY"] == "1"
    assert load_dotenv(tmp_path / "missing.env", load_defaults=False) is False


@pytest.mark.parametrize("var", ["KOLBEN_SKIP_DOTENV", "FLASK_SKIP_DOTENV"])
def test_load_dotenv_skip_variable_is_read_by_its_callers(tmp_path, monkeypatch, var):
    """As Flask: the skip variable turns off the command line's (and app.run's)
    loading of the default files; load_dotenv() itself loads what it is asked."""
    write(tmp_path / ".env", "DEFAULT=1\n")
    given = write(tmp_path / "given.env", "GIVEN=1\n")
    monkeypatch.setenv(var, "1")
    assert ScriptInfo().load_dotenv_defaults is False
    assert load_dotenv(given, load_defaults=ScriptInfo().load_dotenv_defaults) is True
    assert "DEFAULT" not in os.environ and os.environ["GIVEN"] == "1"
    assert load_dotenv() is True
    assert os.environ["DEFAULT"] == "1"


def test_load_dotenv_without_python_dotenv_gives_a_tip(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "dotenv", None)
    assert load_dotenv() is False
    assert capsys.readouterr().err == ""
    write(tmp_path / ".env", "A=1\n")
    assert load_dotenv() is False
    assert "Install python-dotenv to use them." in capsys.readouterr().err
    assert "A" not in os.environ


def test_env_file_option_needs_python_dotenv(tmp_path, monkeypatch, kolben_cli):
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    write(tmp_path / "x.env", "A=1\n")
    result = invoke(kolben_cli, "-e", "x.env", "routes")
    assert result.exit_code == 2
    assert "python-dotenv must be installed to load an env file" in result.output


# --- the kolben group: options -----------------------------------------------------------


def test_version_option(kolben_cli):
    result = invoke(kolben_cli, "--version")
    assert result.exit_code == 0
    import platform

    assert result.output == (
        f"Python {platform.python_version()}\n"
        f"Kolben {version('kolben')}\n"
        f"Werkzeug {version('werkzeug')}\n"
    )
    assert get_version(click.Context(kolben_cli), None, False) is None  # type: ignore[arg-type]


def test_app_option_and_variables(kolben_cli, monkeypatch):
    monkeypatch.chdir(CLI_APPS)
    result = invoke(kolben_cli, "--app", "two_apps:one", "routes")
    assert result.exit_code == 0, result.output
    show = ["shell"]
    for env, expected in (
        ({"FLASK_APP": "two_apps:one"}, "one"),
        ({"KOLBEN_APP": "two_apps:two"}, "two"),
        ({"KOLBEN_APP": "two_apps:two", "FLASK_APP": "two_apps:one"}, "two"),
    ):
        result = CliRunner().invoke(
            KolbenGroup(), show, env=env, input="print('APP=' + app.name)\n"
        )
        assert result.exit_code == 0, result.output
        assert f"APP={expected}" in result.output
    # -A is the short form; the option wins over the variable.
    result = CliRunner().invoke(
        KolbenGroup(),
        ["-A", "two_apps:one", *show],
        env={"KOLBEN_APP": "two_apps:two"},
        input="print('APP=' + app.name)\n",
    )
    assert "APP=one" in result.output


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ([], {}, False),
        (["--debug"], {}, True),
        ([], {"KOLBEN_DEBUG": "1"}, True),
        ([], {"FLASK_DEBUG": "1"}, True),
        (["--no-debug"], {"KOLBEN_DEBUG": "1"}, False),
        ([], {"KOLBEN_DEBUG": "0", "FLASK_DEBUG": "1"}, False),
    ],
)
def test_debug_option_and_variables(monkeypatch, args, env, expected):
    monkeypatch.chdir(CLI_APPS)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = invoke(KolbenGroup(), *args, "--app", "hello", "outside")
    assert result.exit_code == 0, result.output
    assert result.output == f"debug={expected}\n"


def test_run_from_cli_flag_is_set_while_a_command_runs(kolben_cli):
    @kolben_cli.command(with_appcontext=False)
    def flag():
        click.echo(os.environ.get("KOLBEN_RUN_FROM_CLI"))
        click.echo(os.environ.get("FLASK_RUN_FROM_CLI"))  # as Flask sets it

    assert invoke(kolben_cli, "flag").output == "true\ntrue\n"
    assert "KOLBEN_RUN_FROM_CLI" not in os.environ
    assert "FLASK_RUN_FROM_CLI" not in os.environ
    assert invoke(kolben_cli, "--help").exit_code == 0
    assert "KOLBEN_RUN_FROM_CLI" not in os.environ
    os.environ["KOLBEN_RUN_FROM_CLI"] = "outer"
    assert invoke(kolben_cli, "flag").output == "true\ntrue\n"
    assert os.environ["KOLBEN_RUN_FROM_CLI"] == "outer"


def test_dotenv_files_load_the_app_and_debug_flag(tmp_path, kolben_cli):
    write(tmp_path / ".flaskenv", "FLASK_APP=two_apps:one\nKOLBEN_DEBUG=1\n")
    write(tmp_path / ".env", "KOLBEN_APP=two_apps:two\n")
    sys.path.insert(0, str(CLI_APPS))
    result = invoke(kolben_cli, "shell", input="print(app.name, app.debug)\n")
    assert result.exit_code == 0, result.output
    assert "two True" in result.output


def test_env_file_option_takes_precedence(tmp_path):
    sys.path.insert(0, str(CLI_APPS))
    write(tmp_path / ".env", "KOLBEN_APP=two_apps:two\n")
    write(tmp_path / "custom.env", "KOLBEN_APP=two_apps:one\n")
    for args in (["-e", "custom.env"], ["--env-file", "custom.env"]):
        result = invoke(KolbenGroup(), *args, "shell", input="print('APP=' + app.name)\n")
        assert result.exit_code == 0, result.output
        assert "APP=one\n" in result.output
        os.environ.pop("KOLBEN_APP")
    result = invoke(KolbenGroup(), "-e", "missing.env", "routes")
    assert result.exit_code == 2
    assert "Invalid value for '-e' / '--env-file': File 'missing.env' does not exist." in (
        result.output
    )


@pytest.mark.parametrize("var", ["KOLBEN_ENV_FILE", "FLASK_ENV_FILE"])
def test_env_file_from_a_variable(tmp_path, monkeypatch, var):
    sys.path.insert(0, str(CLI_APPS))
    write(tmp_path / "custom.env", "KOLBEN_APP=two_apps:one\n")
    monkeypatch.setenv(var, "custom.env")
    result = invoke(KolbenGroup(), "shell", input="print('APP=' + app.name)\n")
    assert result.exit_code == 0, result.output
    assert "APP=one" in result.output


def test_skip_dotenv_and_load_dotenv_false(tmp_path, monkeypatch):
    sys.path.insert(0, str(CLI_APPS))
    write(tmp_path / ".env", "KOLBEN_APP=two_apps:two\n")
    write(tmp_path / "custom.env", "CUSTOM=yes\n")
    monkeypatch.setenv("KOLBEN_SKIP_DOTENV", "1")
    result = invoke(KolbenGroup(), "routes")
    assert result.exit_code == 2
    assert "Could not locate a kolben application" in result.output
    monkeypatch.delenv("KOLBEN_SKIP_DOTENV")
    result = invoke(KolbenGroup(load_dotenv=False), "-e", "custom.env", "routes")
    assert result.exit_code == 2  # .env not loaded, so no app
    assert os.environ["CUSTOM"] == "yes"


def test_help_lists_app_commands_from_the_environment(monkeypatch):
    monkeypatch.chdir(CLI_APPS)
    monkeypatch.setenv("KOLBEN_APP", "hello")
    for args in ([], ["--help"]):
        result = invoke(KolbenGroup(), *args)
        assert "greet" in result.output, args
        assert "Greet someone from inside the app context." in result.output


def test_help_without_an_app_still_lists_builtins(kolben_cli):
    result = invoke(kolben_cli, "--help")
    assert result.exit_code == 0
    assert "Error: Could not locate a kolben application" in result.output
    for name in ("routes", "run", "shell"):
        assert f"  {name} " in result.output


def test_unknown_command_without_an_app_shows_both_errors(kolben_cli):
    """As Flask: why the app could not be loaded, then click's usage line and
    its "No such command" (the command may have been the app's)."""
    result = invoke(kolben_cli, "--app", "kc_missing_module", "frobnicate")
    assert result.exit_code == 2
    output = result.output
    assert "Error: Could not import 'kc_missing_module'" in output
    assert "Error: No such command 'frobnicate'." in output
    assert output.index("Could not import") < output.index("Usage: ")
    assert output.index("Usage: ") < output.index("No such command")


def test_unknown_command_with_an_app(monkeypatch, kolben_cli):
    monkeypatch.chdir(CLI_APPS)
    result = invoke(kolben_cli, "--app", "hello", "frobnicate")
    assert result.exit_code == 2
    assert "Error: No such command 'frobnicate'." in result.output


def test_help_with_an_app_that_fails_to_import(monkeypatch, kolben_cli):
    monkeypatch.chdir(CLI_APPS)
    result = invoke(kolben_cli, "--app", "raises_on_import", "--help")
    assert result.exit_code == 0
    assert "While importing 'raises_on_import'" in result.output
    assert "  run " in result.output


def test_completion_does_not_report_a_missing_app(kolben_cli):
    ctx = kolben_cli.make_context("kolben", ["--app", "kc_missing"], resilient_parsing=True)
    with ctx:
        assert kolben_cli.get_command(ctx, "anything") is None


def test_app_context_already_pushed_is_reused(app):
    @app.cli.command()
    def depth():
        from kolben.globals import _cv_app

        click.echo(f"same={_cv_app.get() is outer}")

    with app.app_context() as outer:
        result = invoke(KolbenGroup(create_app=lambda: app), "depth")
    assert result.output == "same=True\n"


def test_listing_commands_survives_a_broken_app_group(app, capsys):
    def broken(ctx):
        raise RuntimeError("listing failed")

    app.cli.list_commands = broken  # type: ignore[method-assign]
    result = invoke(KolbenGroup(create_app=lambda: app), "--help")
    assert result.exit_code == 0
    assert "RuntimeError: listing failed" in result.output
    assert "  routes " in result.output


def test_group_with_a_script_info_in_its_context_settings(app):
    info = ScriptInfo(create_app=lambda: app)
    group = KolbenGroup(context_settings={"obj": info})

    @group.command(with_appcontext=False)
    @pass_script_info
    def which(script_info):
        click.echo(script_info is info)

    assert invoke(group, "which").output == "True\n"


def test_factory_raising_a_click_error_keeps_it():
    def create_app():
        raise click.UsageError("configure SHOP_DB first")

    result = invoke(KolbenGroup(create_app=create_app), "routes")
    assert result.exit_code == 2
    assert error_lines(result.output) == ["Error: configure SHOP_DB first"]


# --- custom commands -----------------------------------------------------------------------


def test_app_commands_through_the_group(monkeypatch, kolben_cli):
    monkeypatch.chdir(CLI_APPS)
    result = invoke(kolben_cli, "--app", "hello", "greet", "--name", "Ada")
    assert result.exit_code == 0, result.output
    assert result.output == "Hello Ada from hello (context: True)\n"
    assert invoke(kolben_cli, "--app", "hello", "tools", "which").output == ("tools which: hello\n")
    assert not has_app_context()


def test_app_command_options_read_kolben_variables(monkeypatch, kolben_cli):
    monkeypatch.chdir(CLI_APPS)
    monkeypatch.setenv("KOLBEN_GREET_NAME", "from env")
    result = invoke(kolben_cli, "--app", "hello", "greet")
    assert result.output == "Hello from env from hello (context: True)\n"


def test_app_command_parameter_callbacks_see_the_app_context(app):
    def add_app_name(ctx, param, value):
        return f"{value}@{current_app.name}"

    @app.cli.command()
    @click.option("--who", callback=add_app_name, default="me")
    def whoami(who):
        click.echo(who)

    result = invoke(KolbenGroup(create_app=lambda: app), "whoami")
    assert result.exit_code == 0, result.output
    assert result.output == "me@test_app\n"


def test_app_command_help_leaves_no_context_pushed(monkeypatch, kolben_cli):
    monkeypatch.chdir(CLI_APPS)
    result = invoke(kolben_cli, "--app", "hello", "greet", "--help")
    assert result.exit_code == 0
    assert "Greet someone from inside the app context." in result.output
    assert not has_app_context()


def test_blueprint_commands(monkeypatch, kolben_cli):
    monkeypatch.chdir(CLI_APPS)
    assert invoke(kolben_cli, "--app", "hello", "users", "create", "ada").output == (
        "created ada in hello\n"
    )
    assert invoke(kolben_cli, "--app", "hello", "flat-cmd").output == "flat command\n"
    assert invoke(kolben_cli, "--app", "hello", "admin", "stats").output == (
        "admin stats for hello\n"
    )


def test_app_command_without_appcontext_runs_outside_it(app, runner):
    @app.cli.command(with_appcontext=False)
    def plain():
        click.echo(f"context={has_app_context()}")

    @app.cli.command()
    def inside():
        click.echo(f"context={has_app_context()} app={current_app.name}")

    assert runner.invoke(args=["plain"]).output == "context=False\n"
    assert runner.invoke(args="inside").output == "context=True app=test_app\n"


def test_test_cli_runner_invokes_a_command_object(app, runner):
    @click.command()
    @click.argument("word")
    @with_appcontext
    def echo_word(word):
        click.echo(f"{word} in {current_app.name}")

    result = runner.invoke(echo_word, ["hi"])
    assert result.exit_code == 0, result.output
    assert result.output == "hi in test_app\n"
    result = runner.invoke(routes_command, ["--all-methods"])
    assert "static    GET, HEAD, OPTIONS  /static/<path:filename>" in result.output


def test_pass_script_info_gets_the_groups_script_info(kolben_cli):
    seen = []

    @kolben_cli.command(with_appcontext=False)
    @pass_script_info
    def info(script_info):
        seen.append(script_info)

    assert invoke(kolben_cli, "--app", "somewhere:app", "info").exit_code == 0
    assert isinstance(seen[0], ScriptInfo)
    assert seen[0].app_import_path == "somewhere:app"


def test_plugin_commands_from_entry_points(monkeypatch, kolben_cli):
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.chdir(CLI_APPS)
    result = invoke(kolben_cli, "plugin-hello")
    assert result.exit_code == 0, result.output
    assert "hello from a kolben plugin" in result.output
    # The broken entry point is reported, not fatal.
    assert "could not load the command 'broken-plugin'" in result.output
    result = invoke(kolben_cli, "--app", "hello", "flask-plugin")
    assert result.exit_code == 0, result.output
    assert "flask plugin sees hello" in result.output
    help_text = invoke(KolbenGroup(), "--help").output
    assert "plugin-hello" in help_text and "flask-plugin" in help_text


def test_custom_kolben_group_script(monkeypatch):
    monkeypatch.syspath_prepend(str(CLI_APPS / "custom"))
    import manage

    result = invoke(manage.cli, "hello")
    assert result.exit_code == 0, result.output
    assert result.output == "script command in managed (True)\n"
    result = invoke(manage.cli, "routes")
    assert "managed   GET      /managed" in result.output
    assert "Management script for the managed app." in invoke(manage.cli, "--help").output


def test_custom_group_without_defaults_or_version():
    group = KolbenGroup(add_default_commands=False, add_version_option=False)
    assert group.commands == {}
    assert "--version" not in [opt for p in group.params for opt in p.opts]
    assert {opt for p in group.params for opt in p.opts} == {
        "-e",
        "--env-file",
        "-A",
        "--app",
        "--debug",
    }


def test_flask_group_params_keep_extra_params():
    extra = click.Option(["--extra"])
    group = FlaskGroup(params=[extra])
    assert group.params[0] is extra
    assert group.context_settings["auto_envvar_prefix"] == "KOLBEN"
    assert KolbenGroup(context_settings={"auto_envvar_prefix": "MINE"}).context_settings == {
        "auto_envvar_prefix": "MINE"
    }


# --- routes (in process) -----------------------------------------------------------------


@pytest.fixture
def routes_app() -> kolben.Kolben:
    app = kolben.Kolben("routes_app", static_folder=None)

    def view(**kwargs):
        return ""

    app.add_url_rule("/b", "zeta", view, methods=["POST", "PUT"])
    app.add_url_rule("/a/<int:i>", "alpha", view)
    app.add_url_rule("/c", "mid", view, methods=["DELETE"])
    return app


def routes_output(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(routes_command, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_routes_sorting(routes_app):
    assert routes_output(routes_app) == (
        "Endpoint  Methods    Rule      \n"
        "--------  ---------  ----------\n"
        "alpha     GET        /a/<int:i>\n"
        "mid       DELETE     /c        \n"
        "zeta      POST, PUT  /b        \n"
    )
    order = lambda out: [line.split()[0] for line in out.splitlines()[2:]]  # noqa: E731
    assert order(routes_output(routes_app, "--sort", "rule")) == ["alpha", "zeta", "mid"]
    assert order(routes_output(routes_app, "-s", "methods")) == ["mid", "alpha", "zeta"]
    assert order(routes_output(routes_app, "-s", "match")) == ["zeta", "alpha", "mid"]
    # No domain column: "domain" keeps the match order, as in Flask.
    assert order(routes_output(routes_app, "-s", "domain")) == ["zeta", "alpha", "mid"]


def test_routes_all_methods(routes_app):
    out = routes_output(routes_app, "--all-methods")
    assert "zeta      OPTIONS, POST, PUT  /b" in out
    assert "alpha     GET, HEAD, OPTIONS  /a/<int:i>" in out


def test_routes_subdomain_column(routes_app):
    routes_app.add_url_rule("/api", "api", lambda: "", subdomain="api")
    out = routes_output(routes_app, "-s", "domain")
    assert out.splitlines()[0] == "Endpoint  Methods    Subdomain  Rule      "
    assert out.splitlines()[-1] == "api       GET        api        /api      "


def test_routes_host_column():
    app = kolben.Kolben("hosts", host_matching=True, static_host="static.test")
    app.add_url_rule("/", "home", lambda: "", host="www.test")
    out = routes_output(app)
    assert out == (
        "Endpoint  Methods  Host         Rule                   \n"
        "--------  -------  -----------  -----------------------\n"
        "home      GET      www.test     /                      \n"
        "static    GET      static.test  /static/<path:filename>\n"
    )


def test_routes_none_registered():
    app = kolben.Kolben("empty", static_folder=None)
    assert routes_output(app) == "No routes were registered.\n"


def test_routes_sort_from_kolben_or_flask_variable(monkeypatch, routes_app):
    group = KolbenGroup(create_app=lambda: routes_app)
    first = lambda out: out.splitlines()[2].split()[0]  # noqa: E731
    monkeypatch.setenv("FLASK_ROUTES_SORT", "match")
    assert first(invoke(group, "routes").output) == "zeta"
    monkeypatch.setenv("KOLBEN_ROUTES_SORT", "methods")
    assert first(invoke(group, "routes").output) == "mid"


def test_routes_bad_sort(routes_app):
    result = routes_app.test_cli_runner().invoke(routes_command, ["--sort", "size"])
    assert result.exit_code == 2
    assert "Invalid value for '--sort' / '-s'" in result.output


# --- shell (in process) -------------------------------------------------------------------


def test_shell_namespace_and_banner(monkeypatch):
    monkeypatch.chdir(CLI_APPS)
    monkeypatch.delattr(sys, "__interactivehook__", raising=False)
    result = invoke(
        KolbenGroup(),
        "--app",
        "hello",
        "shell",
        input="from kolben import current_app\n"
        "print(app.name, answer, type(g).__name__, current_app.name)\n",
    )
    assert result.exit_code == 0, result.output
    assert "hello 42 LocalProxy hello" in result.stdout  # g: the proxy, as in Flask
    assert f"Python {sys.version} on {sys.platform}" in result.stderr
    app = sys.modules["hello"].app
    assert f"App: hello\nInstance: {app.instance_path}" in result.stderr
    assert not has_app_context()


def test_shell_runs_the_pythonstartup_file(tmp_path, monkeypatch, app):
    startup = write(tmp_path / "startup.py", "from_startup = 'yes'\nanswer = 'overridden'\n")
    monkeypatch.setenv("PYTHONSTARTUP", str(startup))

    @app.shell_context_processor
    def names():
        return {"answer": 42}

    result = app.test_cli_runner().invoke(
        shell_command, input="print(from_startup, answer, app.name)\n"
    )
    assert result.exit_code == 0, result.output
    assert "yes 42 test_app" in result.stdout  # the app's names win


def test_shell_startup_file_error_is_shown(tmp_path, monkeypatch, app):
    startup = write(tmp_path / "startup.py", "raise ValueError('bad startup')\n")
    monkeypatch.setenv("PYTHONSTARTUP", str(startup))
    result = app.test_cli_runner().invoke(shell_command, input="print('still', app.name)\n")
    assert result.exit_code == 0, result.output
    assert "ValueError: bad startup" in result.stderr
    assert "still test_app" in result.stdout


def test_shell_missing_startup_file_is_ignored(tmp_path, monkeypatch, app):
    monkeypatch.setenv("PYTHONSTARTUP", str(tmp_path / "nope.py"))
    result = app.test_cli_runner().invoke(shell_command, input="print(1 + 1)\n")
    assert result.exit_code == 0
    assert "2" in result.stdout


# --- subprocess: discovery, errors, routes, shell ------------------------------------------

DISCOVERY_CASES = [
    (["--app", "hello"], CLI_APPS, "hello"),
    (["--app", "hello.py"], CLI_APPS, "hello"),
    (["--app", "hello:app"], CLI_APPS, "hello"),
    (["--app", "single_instance"], CLI_APPS, "single_instance"),
    (["--app", "two_apps:two"], CLI_APPS, "two"),
    (["--app", "factory_app:create_app('dev')"], CLI_APPS, "factory_app"),
    (["--app", "make_app_factory"], CLI_APPS, "made_by_make_app"),
    (["--app", "pkg_app.web"], CLI_APPS, "pkg_app.web"),
    (["--app", "src/srchello"], CLI_APPS, "srchello"),
    (["--app", str(CLI_APPS / "application_attr.py")], Path("/"), "application_attr"),
    ([], CLI_APPS / "discover_wsgi", "found_in_wsgi"),
    ([], CLI_APPS / "discover_app", "found_in_app_py"),
]


@pytest.mark.parametrize(("args", "cwd", "name"), DISCOVERY_CASES)
def test_discovery_through_the_command_line(kolben_cmd, args, cwd, name):
    result = run_cli(kolben_cmd, *args, "shell", cwd=cwd, input="print('APP=' + app.name)\n")
    assert result.returncode == 0, result.stderr
    assert f"APP={name}\n" in result.stdout


def test_discovery_through_environment_variables(kolben_cmd):
    result = run_cli(
        kolben_cmd, "shell", input="print('APP=' + app.name)\n", KOLBEN_APP="two_apps:one"
    )
    assert "APP=one" in result.stdout, result.stderr
    result = run_cli(
        kolben_cmd, "shell", input="print('APP=' + app.name)\n", FLASK_APP="two_apps:two"
    )
    assert "APP=two" in result.stdout, result.stderr


def test_factory_arguments_through_the_command_line():
    result = run_cli(
        [str(SCRIPT)], "--app", "factory_app:create_app('prod', debug_name=\"x\")", "mode"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "mode=prod debug_name=x\n"


BAD_APP_CASES = [
    ("kc_no_such_module", "Error: Could not import 'kc_no_such_module'. No module"),
    ("no_app", "Error: Failed to find a kolben application or factory in module 'no_app'"),
    ("two_apps", "Error: Detected multiple kolben applications in module 'two_apps'"),
    ("hello:nope", "Error: Failed to find attribute 'nope' in 'hello'."),
    ("factory_raises", "Error: Calling the app factory 'create_app()' in module"),
    ("factory_app:failing_factory()", "raised RuntimeError: database unreachable"),
    ("factory_app:create_app(x)", "Error: Failed to parse arguments as literal values"),
    ("factory_app:create_app(open('/etc/passwd'))", "literal values"),
    ("factory_needs_args", "Error: Detected the factory 'create_app' in module"),
    ("factory_app:create_app(1, 2, 3)", "could not be called with the given arguments"),
    ("factory_app:not_a_function", "A valid kolben application was not obtained"),
    ("hello:app.x", "Error: Failed to parse 'app.x' as an attribute name"),
]


@pytest.mark.parametrize(("value", "message"), BAD_APP_CASES)
def test_bad_app_values_give_one_clear_line(kolben_cmd, value, message):
    result = run_cli(kolben_cmd, "--app", value, "routes")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert message in errors[0]
    assert result.stdout == ""


def test_factory_error_names_the_factory_line_not_the_library_one(kolben_cmd):
    # os.environ[...] raises in <frozen os>: the line to fix is the factory's.
    result = run_cli(kolben_cmd, "--app", "factory_environ", "routes")
    assert result.returncode == 2
    assert "(factory_environ.py, line 5)." in result.stderr, result.stderr


def test_factory_error_names_file_and_line(kolben_cmd):
    result = run_cli(kolben_cmd, "--app", "factory_raises", "routes")
    assert "raised KeyError: 'DATABASE_URL' (factory_raises.py, line 3)." in result.stderr
    result = run_cli(kolben_cmd, "--debug", "--app", "factory_raises", "routes")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert 'return settings["DATABASE_URL"]' in result.stderr


@pytest.mark.parametrize(
    ("value", "first_line", "cause"),
    [
        (
            "import_error",
            "Error: While importing 'import_error', an ImportError was raised:",
            "ModuleNotFoundError: No module named 'kolben_cli_test_module_that_does_not_exist'",
        ),
        (
            "raises_on_import",
            "Error: While importing 'raises_on_import', an error was raised:",
            "RuntimeError: broken at import time",
        ),
    ],
)
def test_import_errors_show_their_traceback(kolben_cmd, value, first_line, cause):
    result = run_cli(kolben_cmd, "--app", value, "routes")
    assert result.returncode == 2
    assert first_line in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert cause in result.stderr
    # Only the import's own frames, not the command line machinery.
    assert "click/core.py" not in result.stderr


def test_no_app_in_the_folder(kolben_cmd, tmp_path):
    result = run_cli(kolben_cmd, "routes", cwd=tmp_path)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "Error: Could not locate a kolben application. Use the 'kolben --app' option,"
        " 'KOLBEN_APP' environment variable, or a 'wsgi.py' or 'app.py' file in the current"
        " directory."
    ]


def test_routes_through_the_command_line(kolben_cmd):
    result = run_cli(kolben_cmd, "--app", "hello", "routes")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "Endpoint  Methods    Rule                   \n"
        "--------  ---------  -----------------------\n"
        "boom      GET        /boom                  \n"
        "index     GET        /                      \n"
        "item      GET, POST  /items/<int:item_id>   \n"
        "server    GET        /server                \n"
        "static    GET        /static/<path:filename>\n"
    )
    result = run_cli(kolben_cmd, "--app", "hello", "routes", "--sort", "rule", "--all-methods")
    lines = result.stdout.splitlines()
    assert lines[2] == "index     GET, HEAD, OPTIONS        /                      "
    assert lines[3] == "boom      GET, HEAD, OPTIONS        /boom                  "
    assert lines[4] == "item      GET, HEAD, OPTIONS, POST  /items/<int:item_id>   "


def test_custom_commands_through_the_command_line(kolben_cmd):
    result = run_cli(kolben_cmd, "--app", "hello", "greet", "--name", "Ada")
    assert result.stdout == "Hello Ada from hello (context: True)\n", result.stderr
    result = run_cli(kolben_cmd, "--app", "hello", "users", "create", "bob")
    assert result.stdout == "created bob in hello\n", result.stderr


def test_plugin_commands_through_the_command_line(kolben_cmd):
    result = run_cli(kolben_cmd, "--app", "hello", "flask-plugin", PYTHONPATH=str(PLUGINS))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "flask plugin sees hello\n"


def test_custom_script_through_the_command_line():
    script = str(CLI_APPS / "custom" / "manage.py")
    result = run_cli([sys.executable, script], "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "script command in managed (True)\n"
    result = run_cli([sys.executable, script], "routes")
    assert "managed   GET      /managed" in result.stdout


def test_shell_through_the_command_line(kolben_cmd, tmp_path):
    startup = write(tmp_path / "startup.py", "from_startup = 'started'\n")
    result = run_cli(
        kolben_cmd,
        "--app",
        "hello",
        "shell",
        input="print(app.name, answer, from_startup)\n",
        PYTHONSTARTUP=str(startup),
    )
    assert result.returncode == 0, result.stderr
    assert "hello 42 started" in result.stdout
    assert "App: hello" in result.stderr


def test_version_through_the_command_line(kolben_cmd):
    result = run_cli(kolben_cmd, "--version")
    assert result.returncode == 0
    assert result.stdout.splitlines()[1:] == [
        f"Kolben {version('kolben')}",
        f"Werkzeug {version('werkzeug')}",
    ]


def test_usage_names_the_program(kolben_cmd):
    result = run_cli(kolben_cmd, "--help")
    expected = "kolben" if kolben_cmd[0].endswith("kolben") else "python -m kolben"
    assert result.stdout.startswith(f"Usage: {expected} [OPTIONS] COMMAND [ARGS]...")


def test_dotenv_through_the_command_line(kolben_cmd, tmp_path):
    write(tmp_path / ".kolbenenv", "KOLBEN_APP=two_apps:one\nKOLBEN_DEBUG=1\n")
    result = run_cli(
        kolben_cmd,
        "shell",
        cwd=tmp_path,
        input="print(app.name, app.debug)\n",
        PYTHONPATH=str(CLI_APPS),
        KOLBEN_SKIP_DOTENV="",
    )
    assert result.returncode == 0, result.stderr
    assert "one True" in result.stdout


# --- run -----------------------------------------------------------------------------------


def get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Server:
    """A ``kolben ... run`` process started by :func:`serving`."""

    def __init__(self, proc: subprocess.Popen[str], base: str) -> None:
        self.proc = proc
        self.base = base
        self.output = ""  # everything it printed, complete once stopped

    def peek(self) -> str:
        """What the server printed so far, read without blocking."""
        import selectors

        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while selector.select(timeout=0):
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                self.output += chunk.decode(errors="replace")
        return self.output

    def stop(self) -> None:
        """Stop the server and the reloader's child (its process group) by PID."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            rest = self.proc.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rest = self.proc.communicate(timeout=10)[0]
        self.output += rest or ""


def unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@contextmanager
def serving(
    cmd: list[str],
    *args: str,
    port: int | None = None,
    cwd: Path = CLI_APPS,
    scheme: str = "http",
    **env: str,
) -> Iterator[Server]:
    """Start ``kolben ... run`` in its own process group, wait (bounded) until it
    answers, and always stop it by its PID."""
    if port is None:
        port = free_port()
        args = (*args, "--port", str(port))
    context = unverified_context() if scheme == "https" else None
    proc = subprocess.Popen(
        [*cmd, *args],
        cwd=cwd,
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    server = Server(proc, f"{scheme}://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            try:
                get(server.base + "/", context)
                break
            except (urllib.error.URLError, OSError):
                if proc.poll() is not None:
                    server.stop()
                    pytest.fail(f"the server exited early:\n{server.output}")
                if time.monotonic() > deadline:
                    pytest.fail("the server did not answer in time")
                time.sleep(0.1)
        yield server
    finally:
        server.stop()


def wait_until(check: t.Callable[[], bool], what: str) -> None:
    """Poll ``check`` until it is true, failing after a bounded wait."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_run_serves_the_app(kolben_cmd):
    with serving(kolben_cmd, "--app", "hello", "run") as server:
        assert get(server.base + "/") == (200, "Hello from kolben")
        assert get(server.base + "/server") == (200, "debug=False multithread=True scheme=http")
        status, body = get(server.base + "/boom")
        assert status == 500
        assert "Traceback" not in body
    assert " * Serving Kolben app 'hello'" in server.output
    assert " * Debug mode: off" in server.output
    assert "Development server only." in server.output
    assert "(gunicorn 'hello:app') or an ASGI server (uvicorn 'hello:app')" in server.output
    assert "Debugger" not in server.output


def test_run_production_hint_names_the_target_and_folder():
    with serving([str(SCRIPT)], "--app", "src/srchello", "run") as server:
        pass
    assert "(gunicorn --chdir src 'srchello:app')" in server.output
    assert "(uvicorn --app-dir src 'srchello:app')" in server.output
    with serving([str(SCRIPT)], "--app", "factory_app:create_app('x')", "run") as server:
        assert get(server.base + "/")[0] == 404
    assert """(gunicorn "factory_app:create_app('x')") or an ASGI server (uvicorn).""" in (
        server.output
    )


def test_production_hint_for_each_kind_of_target(monkeypatch):
    from kolben.cli import _production_hint

    monkeypatch.chdir(CLI_APPS)
    cases = {
        "hello": "(gunicorn 'hello:app') or an ASGI server (uvicorn 'hello:app').",
        "discover_app/app.py": "(gunicorn --chdir discover_app 'app:create_app()') or an"
        " ASGI server (uvicorn --factory --app-dir discover_app 'app:create_app').",
        "factory_needs_args:create_app(env='a b')": """(gunicorn "factory_needs_args:"""
        """create_app(env='a b')") or an ASGI server (uvicorn).""",
    }
    for import_path, hint in cases.items():
        info = ScriptInfo(app_import_path=import_path)
        info.load_app()
        assert _production_hint(info).endswith(hint), import_path
    info = ScriptInfo(create_app=lambda: kolben.Kolben("x"))
    info.load_app()
    assert "'gunicorn module:app'" in _production_hint(info)


def test_run_without_threads():
    with serving([str(SCRIPT)], "--app", "hello", "run", "--without-threads") as server:
        assert get(server.base + "/server") == (200, "debug=False multithread=False scheme=http")


@pytest.mark.parametrize("var", ["KOLBEN_RUN_PORT", "FLASK_RUN_PORT"])
def test_run_port_from_the_environment(var):
    port = free_port()
    with serving([str(SCRIPT)], "--app", "hello", "run", port=port, **{var: str(port)}) as server:
        assert get(server.base + "/") == (200, "Hello from kolben")


def test_run_host_option_and_discovery():
    port = free_port()
    args = ("run", "-h", "127.0.0.1", "-p", str(port))
    with serving([str(SCRIPT)], *args, port=port, cwd=CLI_APPS / "discover_wsgi") as server:
        assert get(server.base + "/")[0] == 404
    assert "gunicorn 'wsgi:app'" in server.output


def test_run_debug_mode_reloader_and_debugger(kolben_cmd):
    with serving(kolben_cmd, "--app", "hello", "--debug", "run") as server:
        assert get(server.base + "/server")[1].startswith("debug=True")
        status, body = get(server.base + "/boom")
        assert status == 500
        assert "Werkzeug Debugger" in body
        assert "the boom view failed" in body
    output = server.output
    assert " * Debug mode: on" in output
    assert " * Restarting with stat" in output or " * Restarting with watchdog" in output
    assert " * Debugger is active!" in output
    assert " * Debugger PIN: " in output
    assert output.count(" * Serving Kolben app") == 1  # not again in the child


def test_run_debug_without_reloader_or_debugger():
    args = ("--app", "hello", "--debug", "run", "--no-reload", "--no-debugger")
    with serving([str(SCRIPT)], *args) as server:
        status, body = get(server.base + "/boom")
        assert status == 500
        assert "Werkzeug Debugger" not in body
    assert "Restarting with" not in server.output
    assert "Debugger is active" not in server.output


def test_run_reloader_survives_a_broken_edit(tmp_path):
    app_file = tmp_path / "live.py"
    good = "import kolben\napp = kolben.Kolben('live')\napp.route('/')(lambda: {!r})\n"
    app_file.write_text(good.format("v1"))
    with serving([str(SCRIPT)], "--app", "live", "--debug", "run", cwd=tmp_path) as server:
        assert get(server.base + "/") == (200, "v1")
        seen: list[tuple[int, str]] = []

        def answers(status: int) -> bool:
            try:
                seen.append(get(server.base + "/"))
            except (urllib.error.URLError, OSError):
                return False
            return seen[-1][0] == status

        time.sleep(1.1)  # a new modification time for the stat reloader
        app_file.write_text("raise RuntimeError('half-written edit')\n")
        wait_until(lambda: answers(500), "the reloader to load the broken module")
        assert "half-written edit" in seen[-1][1]
        time.sleep(1.1)
        app_file.write_text(good.format("v2"))
        wait_until(lambda: answers(200), "the reloader to load the fixed module")
        assert seen[-1] == (200, "v2")
    assert "RuntimeError: half-written edit" in server.output


def test_run_extra_files_and_exclude_patterns(tmp_path):
    settings = tmp_path / "settings.toml"
    settings.write_text("a = 1\n")
    extra = f"{settings}{os.pathsep}{tmp_path / 'other.txt'}"
    args = ("--app", "hello", "--debug", "run", "--extra-files", extra)
    with serving([str(SCRIPT)], *args, "--exclude-patterns", "*.tmp") as server:
        time.sleep(1.1)
        settings.write_text("a = 2\n")
        wait_until(lambda: "settings.toml', reloading" in server.peek(), "a reload")
        wait_until(lambda: server.peek().count("Debugger is active!") == 2, "the restart")
        assert get(server.base + "/") == (200, "Hello from kolben")


def test_run_port_in_use(kolben_cmd):
    prog = "kolben" if kolben_cmd[0].endswith("kolben") else "python -m kolben"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(kolben_cmd, "--app", "hello", "run", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: Port {port} on 127.0.0.1 is in use by another program. Stop that program,"
        f" or pick another port: '{prog} run --port {port + 1}'."
    ]
    assert result.stdout == ""


def test_run_address_not_available():
    result = run_cli([str(SCRIPT)], "--app", "hello", "run", "--host", "192.0.2.1", "-p", "5000")
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        "Error: Could not listen on 192.0.2.1:5000: Cannot assign requested address."
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cert", "missing.pem"],
            "Invalid value for '--cert': File 'missing.pem' does not exist.",
        ),
        (["--key", "hello.py"], "Invalid value for '--key': \"--cert\" must also be specified."),
        (["--cert", "hello.py"], "Invalid value for '--key': Required when using \"--cert\"."),
        (
            ["--cert", "hello.py", "--key", "missing.key"],
            "Invalid value for '--key': File 'missing.key' does not exist.",
        ),
        (
            ["--port", "70000"],
            "Invalid value for '--port' / '-p': 70000 is not in the range 0<=x<=65535.",
        ),
        (
            ["--port", "http"],
            "Invalid value for '--port' / '-p': 'http' is not a valid integer range.",
        ),
    ],
)
def test_run_bad_options(args, message):
    result = run_cli([str(SCRIPT)], "--app", "hello", "run", *args)
    assert result.returncode == 2
    assert error_lines(result.stderr) == [f"Error: {message}"]
    assert "Traceback" not in result.stderr


def test_run_cert_that_is_not_a_certificate():
    # A free port: the port is checked first (5000 may be taken on the machine).
    result = run_cli(
        [str(SCRIPT)],
        *("--app", "hello", "run", "--port", str(free_port())),
        *("--cert", "hello.py", "--key", "no_app.py"),
    )
    assert result.returncode == 1
    errors = error_lines(result.stderr)
    assert len(errors) == 1
    assert errors[0].startswith("Error: Could not load the certificate ")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(HAS_CRYPTOGRAPHY, reason="cryptography is installed")
def test_run_adhoc_needs_cryptography():
    result = run_cli([str(SCRIPT)], "--app", "hello", "run", "--cert", "adhoc")
    assert result.returncode == 2
    assert error_lines(result.stderr) == [
        "Error: Invalid value for '--cert': Using ad-hoc certificates requires the"
        " cryptography library: pip install cryptography"
    ]


def test_run_key_with_adhoc_or_an_ssl_context():
    from kolben.cli import _validate_key

    key = next(p for p in run_command.params if p.name == "key")
    ctx = click.Context(run_command)
    ctx.params["cert"] = "adhoc"
    with pytest.raises(
        click.BadParameter, match=r'When "--cert" is "adhoc", "--key" is not used\.'
    ):
        _validate_key(ctx, key, "key.pem")
    ctx.params["cert"] = ssl.create_default_context()
    with pytest.raises(click.BadParameter, match="SSLContext object"):
        _validate_key(ctx, key, "key.pem")
    assert _validate_key(ctx, key, None) is None


def test_cert_can_name_an_ssl_context(tmp_path):
    from kolben.cli import CertParamType

    write(tmp_path / "tls_settings.py", "import ssl\ncontext = ssl.create_default_context()\n")
    sys.path.insert(0, str(tmp_path))
    converted = CertParamType().convert("tls_settings.context", None, None)
    assert isinstance(converted, ssl.SSLContext)
    with pytest.raises(click.BadParameter, match="does not exist"):
        CertParamType().convert("tls_settings.missing", None, None)


@pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")
def test_run_https_with_cert_and_key(tmp_path):
    subprocess.run(
        [
            str(OPENSSL),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-days",
            "1",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(tmp_path / "cert.pem"),
        ],
        capture_output=True,
        check=True,
        timeout=TIMEOUT,
    )
    args = (
        "--app",
        "hello",
        "run",
        "--cert",
        str(tmp_path / "cert.pem"),
        "--key",
        str(tmp_path / "key.pem"),
    )
    with serving([str(SCRIPT)], *args, scheme="https") as server:
        assert get(server.base + "/server", unverified_context()) == (
            200,
            "debug=False multithread=True scheme=https",
        )


# --- main and python -m kolben -----------------------------------------------------------------


def test_main_module_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "kolben", "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=CLI_APPS,
        env=subprocess_env(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m kolben" in result.stdout


RESOURCE_APP = """
import os
import sys

import click
from kolben import Kolben

app = Kolben(__name__)
JOURNAL = os.environ["KOLBEN_TEST_JOURNAL"]


def note(event):
    with open(JOURNAL, "a") as f:
        f.write(event + "\\n")


db = app.task_resource(
    "db",
    acquire=lambda: note("acquire") or "conn",
    commit=lambda conn: note("commit"),
    rollback=lambda conn: note("rollback"),
    release=lambda conn: note("release"),
)


@app.cli.command("plain")
def plain():
    db.get()


@app.cli.command("ctx-exit-0")
@click.pass_context
def ctx_exit_0(ctx):
    db.get()
    ctx.exit(0)


@app.cli.command("sys-exit-0")
def sys_exit_0():
    db.get()
    sys.exit(0)


@app.cli.command("sys-exit-1")
def sys_exit_1():
    db.get()
    sys.exit(1)
"""


@pytest.mark.parametrize(
    ("command", "status", "ending"),
    [
        ("plain", 0, "commit"),
        ("ctx-exit-0", 0, "commit"),
        ("sys-exit-0", 0, "commit"),
        ("sys-exit-1", 1, "rollback"),
    ],
)
def test_a_command_that_exits_successfully_commits(
    kolben_cmd: list[str], tmp_path: Path, command: str, status: int, ending: str
) -> None:
    # An exit with status 0 is a success: the command's task resources are
    # committed, as under test_cli_runner(); the real command rolled them back.
    (tmp_path / "resource_app.py").write_text(RESOURCE_APP)
    journal = tmp_path / "journal"
    result = run_cli(
        kolben_cmd, "--app", "resource_app", command, cwd=tmp_path,
        KOLBEN_TEST_JOURNAL=str(journal),
    )  # fmt: skip
    assert result.returncode == status, result.stderr
    assert journal.read_text().split() == ["acquire", ending, "release"]


FLASK_SCRIPT = """\
import kolben.compat

kolben.compat.install()

import click
from flask import Flask
from flask.cli import FlaskGroup


def create_app():
    return Flask("scripted")


@click.group(cls=FlaskGroup, create_app=create_app)
def cli():
    "Management script."


if __name__ == "__main__":
    cli()
"""


@pytest.mark.parametrize("args", [["--help"], ["routes", "--help"], ["shell", "--help"]])
def test_flask_group_script_help_speaks_flask_under_compat(tmp_path: Path, args: list[str]) -> None:
    # A script built on flask.cli.FlaskGroup (not the flask command) gets the
    # help texts in Flask's words under the compat layer, as Flask's own does.
    (tmp_path / "manage.py").write_text(FLASK_SCRIPT)
    import kolben

    src = str(Path(kolben.__file__).resolve().parents[1])  # this kolben, not another
    proc = run_cli([sys.executable, "manage.py"], *args, cwd=tmp_path, PYTHONPATH=src)
    assert proc.returncode == 0, proc.stderr
    assert "Flask" in proc.stdout
    assert "kolben" not in proc.stdout.lower()
