"""The ``kolben`` command line: app discovery, ``run``, ``shell``, ``routes``.

Mirrors Flask 3.1's ``flask`` command and :mod:`flask.cli` module:

* :class:`KolbenGroup` (also exported as ``FlaskGroup``) is the click group behind the
  ``kolben`` console script and ``python -m kolben``. It adds the ``--app``,
  ``--env-file`` and ``--debug`` options, the built-in commands, plugin commands
  from the ``kolben.commands`` (and ``flask.commands``) entry point groups, and the
  commands the app registered on ``app.cli``.
* :class:`ScriptInfo` finds and loads the app (:func:`prepare_import`,
  :func:`locate_app`, :func:`find_best_app`).
* :class:`AppGroup` is the type of ``app.cli``; its commands run in the app
  context (:func:`with_appcontext`).

Options read environment variables named ``KOLBEN_<OPTION>`` (``KOLBEN_APP``,
``KOLBEN_DEBUG``, ``KOLBEN_RUN_PORT``...); Flask's ``FLASK_<OPTION>`` names are
honoured too, the ``KOLBEN_`` one winning when both are set.

Every failure to find or load the app is a :exc:`NoAppException`, a click usage
error that prints one clear line (plus the traceback of an error raised while
importing the app's module, which is what you need to fix it).
"""

from __future__ import annotations

import ast
import contextlib
import errno
import importlib.util
import inspect
import os
import platform
import re
import shlex
import socket
import sys
import traceback
import typing as t
from functools import update_wrapper
from importlib.metadata import entry_points
from importlib.metadata import version as _dist_version
from operator import itemgetter
from types import ModuleType, TracebackType

import click
from click.core import ParameterSource

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .app import Kolben

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

if t.TYPE_CHECKING:
    _ParamType = click.ParamType[t.Any]
else:
    _ParamType = click.ParamType

__all__ = [
    "AppGroup",
    "CertParamType",
    "FlaskGroup",
    "KolbenGroup",
    "NoAppException",
    "ScriptInfo",
    "SeparatedPathType",
    "cli",
    "find_app_by_string",
    "find_best_app",
    "get_version",
    "load_dotenv",
    "locate_app",
    "main",
    "pass_script_info",
    "prepare_import",
    "routes_command",
    "run_command",
    "shell_command",
    "show_server_banner",
    "with_appcontext",
]


class NoAppException(click.UsageError):
    """Raised when no application could be found or loaded.

    A :class:`click.UsageError`: the command line prints its message after
    ``Error:`` and exits with status 2.
    """


# --- names in messages ---------------------------------------------------------------------


class _Names(t.NamedTuple):
    product: str  #: "kolben", or "Flask" under the compat layer
    app_class: str  #: "Kolben" or "Flask"
    env: str  #: the environment variable prefix: "KOLBEN" or "FLASK"
    command: str  #: "flask" when run as flask (or python -m flask), else "kolben"


def _flask_compat_on() -> bool:
    """Whether the Flask compat layer (:mod:`kolben.compat`) is installed."""
    compat = sys.modules.get("kolben.compat")
    return compat is not None and bool(compat.installed())


def _names() -> _Names:
    """The names messages use: Flask's under the compat layer, where the app and
    its users speak of ``flask`` and ``FLASK_APP`` (which kolben honours too)."""
    if not _flask_compat_on():
        return _Names("kolben", "Kolben", "KOLBEN", "kolben")
    ctx = click.get_current_context(silent=True)
    running = (ctx.find_root().info_name or "") if ctx is not None else "flask"
    return _Names("Flask", "Flask", "FLASK", "flask" if "flask" in running else "kolben")


# --- finding the app in a module ---------------------------------------------------------

_APP_NAMES = ("app", "application")
_FACTORY_NAMES = ("create_app", "make_app")


def _kolben_class() -> type[Kolben]:
    from .app import Kolben

    return Kolben


def _called_with_wrong_args(func: t.Callable[..., t.Any], exc: BaseException) -> bool:
    """Whether the :exc:`TypeError` ``exc`` came from calling ``func`` with the wrong
    arguments, rather than from inside it (the traceback never reaches its code).

    For a callable without code of its own (an object with ``__call__``, a
    :func:`functools.partial`), the call failed only if the traceback has no
    frame beyond the one that called it.
    """
    code = getattr(func, "__code__", None)
    tb: TracebackType | None = exc.__traceback__
    if code is None:
        return tb is None or tb.tb_next is None
    while tb is not None:
        if tb.tb_frame.f_code is code:
            return False
        tb = tb.tb_next
    return True


def _where_raised(exc: BaseException) -> str:
    """``' (file.py, line 3)'`` for the innermost frame of ``exc``'s traceback that
    is the app's own code: not the standard library's, an installed package's or
    kolben's (``os.environ["X"]`` fails in ``<frozen os>``, but the line to fix is
    the factory's), else the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    library = _library_folders()
    last = next((f for f in reversed(frames) if _is_app_code(f.filename, library)), frames[-1])
    filename = os.path.relpath(last.filename) if _is_below_cwd(last.filename) else last.filename
    return f" ({filename}, line {last.lineno})"


def _library_folders() -> tuple[str, ...]:
    """The folders of code that is not the app's: the standard library, installed
    packages and kolben itself."""
    import sysconfig

    paths = sysconfig.get_paths()
    folders = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    folders.add(os.path.dirname(os.path.abspath(__file__)))
    return tuple(os.path.join(os.path.realpath(folder), "") for folder in folders)


def _is_app_code(filename: str, library: tuple[str, ...]) -> bool:
    """Whether a traceback frame's file is the app's code, not in ``library``
    (:func:`_library_folders`; see :func:`_where_raised`)."""
    if filename.startswith("<"):  # <frozen os>, <string>
        return False
    return not os.path.realpath(filename).startswith(library)


def _is_below_cwd(path: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), os.getcwd()]) == os.getcwd()
    except ValueError:  # different drives on Windows
        return False


def _call_factory(
    factory: t.Callable[..., t.Any],
    call: str,
    module_name: str,
    *args: t.Any,
    _from_script: bool = False,
    _explain_errors: bool = True,
    **kwargs: t.Any,
) -> t.Any:
    """Call an app factory; its errors become a one-line :exc:`NoAppException`
    whose cause is the original error.

    A factory that could not be called with the arguments is told apart from
    one that raised (even a :exc:`TypeError`) inside: the first names the
    factory and how to pass arguments, the second says what was raised and
    where. In debug mode (``KOLBEN_DEBUG``) the traceback follows the line.
    ``_from_script``: the factory was given to :class:`ScriptInfo` (or
    ``KolbenGroup(create_app=...)``), which calls it without arguments.
    ``_explain_errors`` False: an error raised inside the factory propagates as
    it is (Flask's functions).
    """
    try:
        return factory(*args, **kwargs)
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except TypeError as e:
        if not _called_with_wrong_args(factory, e):
            if not _explain_errors:
                raise
            _raise_factory_error(e, call, module_name)
        if _from_script:
            raise NoAppException(
                f"The app factory {call!r} given to the command line"
                f" ({_names().app_class}Group(create_app=...) or ScriptInfo) could not"
                f" be called without arguments ({e}). It is always called without"
                " arguments: give it defaults, or pass a function that takes none."
            ) from e
        raise NoAppException(
            f"The factory {call!r} in module {module_name!r} could not be called with"
            f" the given arguments ({e}). Pass the arguments it needs with"
            f" '{module_name}:{_name_of(call)}(args)'."
        ) from e
    except Exception as e:
        if not _explain_errors:
            raise
        _raise_factory_error(e, call, module_name)


def _name_of(call: str) -> str:
    return call.partition("(")[0]


def _raise_factory_error(e: BaseException, call: str, module_name: str) -> t.NoReturn:
    from .helpers import get_debug_flag

    message = (
        f"Calling the app factory {call!r} in module {module_name!r} raised"
        f" {type(e).__name__}: {e}{_where_raised(e)}."
    )
    if get_debug_flag():
        message += "\n\n" + "".join(traceback.format_exception(e)).rstrip()
    else:
        names = _names()
        message += (
            f" Run with '{names.command} --debug' (or {names.env}_DEBUG=1) to see the traceback."
        )
    raise NoAppException(message) from e


def _find_best_app(module: ModuleType, explain_errors: bool = True) -> tuple[Kolben, str]:
    """:func:`find_best_app`, also returning the expression naming the app.

    ``explain_errors``: an error raised inside a factory becomes a
    :exc:`NoAppException` that says what was raised and where (the command
    line's loading); otherwise it propagates as it is, as from Flask's
    ``find_best_app``.
    """
    kolben_class = _kolben_class()
    name = module.__name__
    names = _names()
    for attr_name in _APP_NAMES:
        candidate = getattr(module, attr_name, None)
        if isinstance(candidate, kolben_class):
            return candidate, attr_name

    found = [(k, v) for k, v in vars(module).items() if isinstance(v, kolben_class)]
    if len(found) == 1:
        return found[0][1], found[0][0]
    if len(found) > 1:
        found_names = ", ".join(repr(k) for k, _ in found)
        raise NoAppException(
            f"Detected multiple {names.product} applications in module {name!r}"
            f" ({found_names}). Use '{name}:name' to pick one."
        )

    notes = ""
    for attr_name in _FACTORY_NAMES:
        factory = getattr(module, attr_name, None)
        if not inspect.isfunction(factory):
            continue
        try:
            result = factory()
        except TypeError as e:
            if not _called_with_wrong_args(factory, e):
                if not explain_errors:
                    raise
                _raise_factory_error(e, f"{attr_name}()", name)
            raise NoAppException(
                f"Detected the factory {attr_name!r} in module {name!r}, but could not call"
                f" it without arguments ({e}). Use '{name}:{attr_name}(args)' to pass"
                " arguments."
            ) from e
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            if not explain_errors:
                raise
            _raise_factory_error(e, f"{attr_name}()", name)
        if isinstance(result, kolben_class):
            return result, f"{attr_name}()"
        notes += f" '{attr_name}()' returned {type(result).__name__}, not a {names.product} app."

    real_flask = [k for k, v in vars(module).items() if _is_real_flask_app(v)]
    if real_flask:
        notes += (
            f" {real_flask[0]!r} is an app of the real Flask: start the command with"
            " KOLBEN_FLASK_COMPAT=1 set to run it on kolben ('import flask' then gives"
            " kolben)."
        )
    raise NoAppException(
        f"Failed to find a {names.product} application or factory in module {name!r}:"
        f" looked for an app named 'app' or 'application', any single {names.app_class}"
        " instance, and a factory"
        f" named 'create_app' or 'make_app'.{notes} Use '{name}:name' to name the app or"
        " factory."
    )


def _is_real_flask_app(value: object) -> bool:
    """Whether ``value`` is an app of the real Flask (not kolben's stand-in)."""
    return any(
        cls.__module__ == "flask.app" and cls.__name__ == "Flask" for cls in type(value).__mro__
    )


def find_best_app(module: ModuleType) -> Kolben:
    """Find the application in an imported module, as Flask 3.1 does.

    Tried in order: an attribute named ``app`` or ``application`` holding a
    :class:`~kolben.Kolben`; the only ``Kolben`` instance in the module; a function
    named ``create_app`` or ``make_app`` called without arguments.

    :raises NoAppException: when nothing is found, the module holds more than one
        app, or a factory needs arguments. An error raised inside a factory
        propagates as it is, as in Flask (the command line explains it instead).
    """
    return _find_best_app(module, explain_errors=False)[0]


def _parse_app_expression(app_name: str) -> tuple[str, list[t.Any], dict[str, t.Any], bool]:
    """Parse ``name`` or ``name(literal args)``; returns (name, args, kwargs, is_call).

    Only Python literals are accepted as arguments (checked with
    :func:`ast.literal_eval`); nothing is evaluated.
    """
    try:
        expr = ast.parse(app_name.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        raise NoAppException(
            f"Failed to parse {app_name!r} as an attribute name or function call."
        ) from None
    if isinstance(expr, ast.Name):
        return expr.id, [], {}, False
    if not isinstance(expr, ast.Call):
        raise NoAppException(f"Failed to parse {app_name!r} as an attribute name or function call.")
    if not isinstance(expr.func, ast.Name):
        raise NoAppException(f"Function reference must be a simple name: {app_name!r}.")
    try:
        args = [ast.literal_eval(arg) for arg in expr.args]
        kwargs: dict[str, t.Any] = {}
        for keyword in expr.keywords:
            if keyword.arg is None:  # **mapping
                raise ValueError("** is not a literal")
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise NoAppException(
            f"Failed to parse arguments as literal values: {app_name!r}. Only Python"
            " literals can be passed (strings in quotes, numbers, True, None, lists...)."
        ) from None
    return expr.func.id, args, kwargs, True


def find_app_by_string(module: ModuleType, app_name: str) -> Kolben:
    """Find the app named by ``app_name`` in ``module``, as Flask 3.1 does.

    ``app_name`` is an attribute name (``app2``) or a factory call with literal
    arguments (``create_app('dev', debug=True)``), parsed with :mod:`ast`, never
    evaluated.

    :raises NoAppException: when the expression can't be parsed, the attribute
        doesn't exist, the factory can't be called with the arguments, or the
        result isn't a kolben app. An error raised inside the factory propagates
        as it is, as in Flask (the command line explains it instead).
    """
    return _find_app_by_string(module, app_name, explain_errors=False)


def _find_app_by_string(module: ModuleType, app_name: str, explain_errors: bool = True) -> Kolben:
    """:func:`find_app_by_string`; ``explain_errors`` as for :func:`_find_best_app`."""
    name, args, kwargs, _ = _parse_app_expression(app_name)
    module_name = module.__name__
    try:
        attr = getattr(module, name)
    except AttributeError as e:
        raise NoAppException(f"Failed to find attribute {name!r} in {module_name!r}.") from e
    app = (
        _call_factory(
            attr, app_name.strip(), module_name, *args, _explain_errors=explain_errors, **kwargs
        )
        if inspect.isfunction(attr)
        else attr
    )
    if isinstance(app, _kolben_class()):
        return app
    raise NoAppException(
        f"A valid {_names().product} application was not obtained from"
        f" '{module_name}:{app_name}'"
        f" (got {type(app).__name__})."
    )


def prepare_import(path: str) -> str:
    """Turn a file or folder path into a module name, and make it importable.

    ``hello.py``, ``hello`` and ``src/hello`` all give ``hello``; a file inside a
    package (folders with ``__init__.py``) gives the dotted name from the top
    package, e.g. ``src/pkg/web.py`` gives ``pkg.web``. The folder the top module
    is in goes first on :data:`sys.path` (if not already first).
    """
    path = os.path.realpath(path)
    stem, ext = os.path.splitext(path)
    if ext == ".py":
        path = stem
    if os.path.basename(path) == "__init__":
        path = os.path.dirname(path)

    parts: list[str] = []
    folder = path
    while True:
        folder, name = os.path.split(folder)
        parts.append(name)
        if not os.path.exists(os.path.join(folder, "__init__.py")):
            break

    if sys.path[0] != folder:
        sys.path.insert(0, folder)
    return ".".join(reversed(parts))


#: Set while a CLI command runs: ``Kolben.run`` then starts no second server.
_RUN_FROM_CLI = ("KOLBEN_RUN_FROM_CLI", "FLASK_RUN_FROM_CLI")


def _import_module(module_name: str, raise_if_not_found: bool) -> ModuleType | None:
    try:
        __import__(module_name)
    except ImportError as e:
        # Only the import statement's own frame: the module itself was not found.
        # More frames: the module was found and an import inside it failed.
        tb = e.__traceback__
        if tb is not None and tb.tb_next is not None:
            raise NoAppException(
                f"While importing {module_name!r}, an ImportError was raised:\n\n"
                f"{traceback.format_exc().rstrip()}"
            ) from None
        if not raise_if_not_found:
            return None
        raise NoAppException(
            f"Could not import {module_name!r}. No module or package of that name was"
            " found: check the '--app' value (a module, 'module:name', or a path such as"
            " 'src/hello.py')."
        ) from None
    except Exception:
        raise NoAppException(
            f"While importing {module_name!r}, an error was raised:\n\n"
            f"{traceback.format_exc().rstrip()}"
        ) from None
    return sys.modules[module_name]


def _locate_app(
    module_name: str,
    app_name: str | None,
    raise_if_not_found: bool = True,
    explain_errors: bool = True,
) -> tuple[Kolben, str] | None:
    module = _import_module(module_name, raise_if_not_found)
    if module is None:
        return None
    if app_name is None:
        app, expr = _find_best_app(module, explain_errors)
        return app, f"{module_name}:{expr}"
    app = _find_app_by_string(module, app_name, explain_errors)
    return app, f"{module_name}:{app_name.strip()}"


@t.overload
def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: t.Literal[True] = True
) -> Kolben: ...


@t.overload
def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: t.Literal[False] = ...
) -> Kolben | None: ...


def locate_app(
    module_name: str, app_name: str | None, raise_if_not_found: bool = True
) -> Kolben | None:
    """Import ``module_name`` and find the app in it, as Flask 3.1 does.

    With ``app_name`` None, :func:`find_best_app` looks for it; otherwise
    :func:`find_app_by_string` resolves the name or factory call.

    :param raise_if_not_found: when False, return None if the module doesn't
        exist (an import error *inside* the module is still raised).
    :raises NoAppException: for a missing module, an error while importing it
        (with its traceback), or no app in it. An error raised inside an app
        factory propagates as it is, as in Flask (the command line explains it).
    """
    found = _locate_app(module_name, app_name, raise_if_not_found, explain_errors=False)
    return None if found is None else found[0]


# --- version, dotenv -----------------------------------------------------------------------


def get_version(ctx: click.Context, param: click.Parameter, value: t.Any) -> None:
    """The ``--version`` callback: print the Python, kolben and werkzeug versions."""
    if not value or ctx.resilient_parsing:
        return
    if _flask_compat_on():
        from .compat import FLASK_VERSION

        framework = f"Flask {FLASK_VERSION} (kolben {_dist_version('kolben')}, Flask compat layer)"
    else:
        framework = f"Kolben {_dist_version('kolben')}"
    click.echo(
        f"Python {platform.python_version()}\n{framework}\nWerkzeug {_dist_version('werkzeug')}",
        color=ctx.color,
    )
    ctx.exit()


version_option = click.Option(
    ["--version"],
    help="Show the kolben version.",
    expose_value=False,
    callback=get_version,
    is_flag=True,
    is_eager=True,
)

#: The dotenv files :func:`load_dotenv` loads, in order of precedence (earlier wins).
DOTENV_FILES = (".env", ".kolbenenv", ".flaskenv")


def load_dotenv(path: str | os.PathLike[str] | None = None, load_defaults: bool = True) -> bool:
    """Load environment variables from dotenv files, if python-dotenv is installed.

    As in Flask 3.1: a given ``path`` takes precedence over ``.env``, which takes
    precedence over ``.kolbenenv``, which takes precedence over ``.flaskenv`` (each
    the nearest found searching up from the current folder). After combining them,
    a variable is only set if it isn't already in :data:`os.environ`. The default
    files are skipped with ``load_defaults=False``. As in Flask, this function
    loads what it is asked to: ``KOLBEN_SKIP_DOTENV`` (or ``FLASK_SKIP_DOTENV``) is
    read by its callers, the command line and :meth:`~kolben.Kolben.run`.

    Without python-dotenv nothing is loaded; a tip is printed if such files exist.
    Returns whether any variable was read from a file.
    """
    try:
        import dotenv
    except ImportError:
        if path or any(os.path.isfile(name) for name in DOTENV_FILES):
            click.secho(
                " * Tip: There are .env files present. Install python-dotenv to use them.",
                fg="yellow",
                err=True,
            )
        return False

    data: dict[str, str | None] = {}
    if load_defaults:
        for name in reversed(DOTENV_FILES):  # lowest precedence first
            found = dotenv.find_dotenv(name, usecwd=True)
            if found:
                data.update(dotenv.dotenv_values(found, encoding="utf-8"))
    if path is not None and os.path.isfile(path):
        data.update(dotenv.dotenv_values(path, encoding="utf-8"))

    for key, value in data.items():
        if value is not None and key not in os.environ:
            os.environ[key] = value
    return bool(data)


# --- ScriptInfo, with_appcontext, AppGroup -------------------------------------------------


class ScriptInfo:
    """What commands need to find the application: an import path or a factory.

    Commands get it as the click context's ``obj`` (:func:`pass_script_info`);
    :meth:`load_app` returns the app, loading it once.

    :param app_import_path: the ``--app`` value: ``module``, ``module:name``,
        ``module:factory(args)`` or a file path. Without it, ``wsgi.py`` then
        ``app.py`` in the current folder are tried.
    :param create_app: a function returning the app; it takes precedence over the
        import path and is called without arguments.
    :param set_debug_flag: set ``app.debug`` from ``KOLBEN_DEBUG`` (``--debug``)
        when the app is loaded.
    :param load_dotenv_defaults: whether the default dotenv files should be loaded
        (False when ``KOLBEN_SKIP_DOTENV`` is set). For reference: ``ScriptInfo``
        loads nothing itself.
    """

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: t.Callable[..., Kolben] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        #: The import path of the app, if given (``--app`` / ``KOLBEN_APP``).
        self.app_import_path = app_import_path
        #: A function returning the app, if given.
        self.create_app = create_app
        #: Arbitrary data commands may share.
        self.data: dict[t.Any, t.Any] = {}
        self.set_debug_flag = set_debug_flag
        from .helpers import get_load_dotenv

        #: Whether default ``.env`` / ``.kolbenenv`` / ``.flaskenv`` files load.
        self.load_dotenv_defaults = get_load_dotenv(load_dotenv_defaults)
        self._loaded_app: Kolben | None = None
        # "module:expr" a WSGI server can load, and the folder it is importable
        # from; for the production hint of ``kolben run``.
        self._app_target: str | None = None
        self._app_folder: str | None = None

    def load_app(self) -> Kolben:
        """Return the application, creating or importing it on first use.

        :raises NoAppException: if it can't be found or loaded; the message says
            what was tried.
        """
        if self._loaded_app is not None:
            return self._loaded_app

        app: Kolben | None = None
        if self.create_app is not None:
            name = getattr(self.create_app, "__name__", "create_app")
            module = getattr(self.create_app, "__module__", None) or "?"
            app = _call_factory(self.create_app, f"{name}()", module, _from_script=True)
        elif self.app_import_path:
            path, sep, name = self._split_import_path(self.app_import_path)
            module_name = prepare_import(path)
            found = _locate_app(module_name, name if sep else None)
            if found is not None:
                app, self._app_target = found
                self._app_folder = sys.path[0]
        else:
            for file_name in ("wsgi.py", "app.py"):
                module_path = os.path.splitext(file_name)[0]
                if not (
                    os.path.isfile(file_name)
                    or os.path.isfile(os.path.join(module_path, "__init__.py"))
                ):
                    continue
                module_name = prepare_import(file_name)
                found = _locate_app(module_name, None, raise_if_not_found=False)
                if found is not None:
                    app, self._app_target = found
                    self._app_folder = sys.path[0]
                    break

        if app is None:
            names = _names()
            raise NoAppException(
                f"Could not locate a {names.product} application. Use the"
                f" '{names.command} --app' option, '{names.env}_APP' environment"
                " variable, or a 'wsgi.py' or 'app.py' file in the current directory."
            )
        if self.set_debug_flag:
            from .helpers import get_debug_flag

            app.debug = get_debug_flag()
        self._loaded_app = app
        return app

    @staticmethod
    def _split_import_path(import_path: str) -> tuple[str, str, str]:
        # Split at the first ":" not followed by a slash, so Windows drive letters
        # ("C:\\src\\hello.py:app") stay part of the path.
        match = re.search(r":(?![\\/])", import_path)
        if match is None:
            return import_path, "", ""
        return import_path[: match.start()], ":", import_path[match.end() :]


#: A decorator passing the current :class:`ScriptInfo` to a click command
#: (creating an empty one when there is none).
pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)


@contextlib.contextmanager
def _command_app_context(app: t.Any) -> t.Iterator[t.Any]:
    """The app context of a command. A successful exit (``ctx.exit(0)``,
    ``sys.exit(0)``, click's ``Exit(0)``) ends the task as a success: its task
    resources are committed, as when the command returns."""
    app_ctx = app.app_context()
    app_ctx.push()
    exc: BaseException | None = None
    try:
        yield app_ctx
    except BaseException as e:
        success = (isinstance(e, click.exceptions.Exit) and e.exit_code == 0) or (
            isinstance(e, SystemExit) and e.code in (0, None)
        )
        exc = None if success else e
        raise
    finally:
        app_ctx.pop(exc)


def with_appcontext(f: F) -> F:
    """Run the decorated click command inside the app's application context.

    If no app context is active, the app is loaded through the :class:`ScriptInfo`
    and its context pushed for the command's duration. Commands registered with
    ``@app.cli.command()`` (and ``app.cli`` commands run by ``kolben``) get this
    automatically.
    """

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        from .globals import _cv_app

        if _cv_app.get(None) is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(_command_app_context(app))
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run inside the application context.

    ``app.cli`` and ``blueprint.cli`` are ones. :meth:`command` wraps callbacks
    with :func:`with_appcontext` unless given ``with_appcontext=False``;
    :meth:`group` makes nested :class:`AppGroup` groups.
    """

    def command(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Like :meth:`click.Group.command`, wrapping the callback with
        :func:`with_appcontext` unless ``with_appcontext=False`` is passed."""
        wrap_for_ctx = kwargs.pop("with_appcontext", True)

        def decorator(f: t.Callable[..., t.Any]) -> click.Command:
            if wrap_for_ctx:
                f = with_appcontext(f)
            return click.Group.command(self, *args, **kwargs)(f)  # type: ignore[no-any-return]

        return decorator

    def group(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        """Like :meth:`click.Group.group`, defaulting ``cls`` to :class:`AppGroup`."""
        kwargs.setdefault("cls", AppGroup)
        return click.Group.group(self, *args, **kwargs)


# --- options of the kolben group -----------------------------------------------------------


class _Option(click.Option):
    """A click option that also reads Flask's environment variable names.

    With the ``KOLBEN`` auto envvar prefix, ``--port`` of ``run`` reads
    ``KOLBEN_RUN_PORT``, then ``FLASK_RUN_PORT``.
    """

    def resolve_envvar_value(self, ctx: click.Context) -> str | None:
        rv = super().resolve_envvar_value(ctx)
        if rv is not None:
            return rv
        prefix = ctx.auto_envvar_prefix
        if self.allow_from_autoenv and prefix and self.name and prefix.startswith("KOLBEN"):
            value = os.environ.get(f"FLASK{prefix[len('KOLBEN') :]}_{self.name.upper()}")
            if value:
                return value
        return None


def _set_app(ctx: click.Context, param: click.Option, value: str | None) -> str | None:
    if value is None:
        return None
    ctx.ensure_object(ScriptInfo).app_import_path = value
    return value


def _set_debug(ctx: click.Context, param: click.Option, value: bool) -> bool | None:
    # Only an explicit flag or variable sets debug mode; the default leaves it alone.
    source = ctx.get_parameter_source(param.name) if param.name else None
    if source is None or source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
        return None
    flag = "1" if value else "0"
    if _flask_compat_on():
        # As Flask does (extensions read it). KOLBEN_DEBUG, read first, is only
        # kept in step when it is set: a test suite that puts FLASK_DEBUG back
        # after an in-process run finds no debug flag of kolben's left behind.
        os.environ["FLASK_DEBUG"] = flag
        if "KOLBEN_DEBUG" in os.environ:
            os.environ["KOLBEN_DEBUG"] = flag
    else:
        os.environ["KOLBEN_DEBUG"] = flag
    return value


def _env_file_callback(ctx: click.Context, param: click.Option, value: str | None) -> str | None:
    if value is not None and importlib.util.find_spec("dotenv") is None:
        raise click.BadParameter(
            "python-dotenv must be installed to load an env file: pip install python-dotenv",
            ctx=ctx,
            param=param,
        )
    info = ctx.ensure_object(ScriptInfo)
    # Load the file if given, and the default files unless they are skipped.
    if value is not None or info.load_dotenv_defaults:
        load_dotenv(value, load_defaults=info.load_dotenv_defaults)
    return value


# Eager, so the env file is loaded (and the app path known) before other options
# read their environment variables and before commands are looked up.
_env_file_option = _Option(
    ["-e", "--env-file"],
    type=click.Path(exists=True, dir_okay=False),
    help="Load environment variables from this file, taking precedence over those set"
    " by '.env', '.kolbenenv' and '.flaskenv'. Variables set directly in the environment"
    " take highest precedence. python-dotenv must be installed.",
    is_eager=True,
    expose_value=False,
    callback=_env_file_callback,
)

_app_option = _Option(
    ["-A", "--app"],
    metavar="IMPORT",
    help="The kolben application or factory function to load, in the form"
    " 'module:name'. Module can be a dotted import or file path. Name is not required"
    " if it is 'app', 'application', 'create_app', or 'make_app', and can be"
    " 'name(args)' to pass arguments.",
    is_eager=True,
    expose_value=False,
    callback=_set_app,
)

_debug_option = _Option(
    ["--debug/--no-debug"],
    help="Set debug mode.",
    expose_value=False,
    callback=_set_debug,
)


# --- the group -----------------------------------------------------------------------------

_PLUGIN_GROUPS = ("flask.commands", "kolben.commands")
_LISTING_COMMANDS = "kolben.listing_commands"


class KolbenGroup(AppGroup):
    """The click group of the ``kolben`` command; use it for a custom script.

    It adds the ``--app``, ``--env-file`` and ``--debug`` options (and
    ``--version``), the ``run``, ``shell`` and ``routes`` commands, commands from
    the ``kolben.commands`` and ``flask.commands`` entry point groups, and the
    loaded app's ``app.cli`` commands. Options read ``KOLBEN_*`` environment
    variables (and ``FLASK_*`` ones). Also exported as ``FlaskGroup``::

        @click.group(cls=KolbenGroup, create_app=create_app)
        def cli():
            "Management script for my app."

    :param add_default_commands: add ``run``, ``shell`` and ``routes``.
    :param create_app: a function returning the app, called without arguments;
        takes precedence over ``--app``.
    :param add_version_option: add ``--version``.
    :param load_dotenv: load the default dotenv files (``.env``, ``.kolbenenv``,
        ``.flaskenv``).
    :param set_debug_flag: set ``app.debug`` from ``--debug`` / ``KOLBEN_DEBUG``.
    """

    def __init__(
        self,
        add_default_commands: bool = True,
        create_app: t.Callable[..., Kolben] | None = None,
        add_version_option: bool = True,
        load_dotenv: bool = True,
        set_debug_flag: bool = True,
        **extra: t.Any,
    ) -> None:
        params: list[click.Parameter] = list(extra.pop("params", None) or ())
        params.extend((_env_file_option, _app_option, _debug_option))
        if add_version_option:
            params.append(version_option)
        extra.setdefault("context_settings", {})
        extra["context_settings"].setdefault("auto_envvar_prefix", "KOLBEN")
        super().__init__(params=params, **extra)

        self.create_app = create_app
        self.load_dotenv = load_dotenv
        self.set_debug_flag = set_debug_flag
        if add_default_commands:
            self.add_command(run_command)
            self.add_command(shell_command)
            self.add_command(routes_command)
        self._loaded_plugin_commands = False

    def _load_plugin_commands(self) -> None:
        if self._loaded_plugin_commands:
            return
        for group in _PLUGIN_GROUPS:  # kolben's last, so they win a name clash
            for ep in entry_points(group=group):
                try:
                    command = ep.load()
                except Exception as e:
                    click.secho(
                        f"Warning: could not load the command {ep.name!r} ({ep.value}) from"
                        f" the {group!r} entry points: {type(e).__name__}: {e}",
                        err=True,
                        fg="yellow",
                    )
                    continue
                self.add_command(command, ep.name)
        self._loaded_plugin_commands = True

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Built-in and plugin commands first (they work without an app), then the
        app's; the app context is pushed for an app command."""
        self._load_plugin_commands()
        rv = super().get_command(ctx, name)
        if rv is not None:
            return rv

        info = ctx.ensure_object(ScriptInfo)
        try:
            app = info.load_app()
        except NoAppException as e:
            if ctx.resilient_parsing:  # shell completion: stay quiet
                return None
            # As Flask: the load error, then click's usage and "No such command"
            # (the command may be the app's, which could not be loaded).
            click.secho(f"Error: {e.format_message()}\n", err=True, fg="red")
            return None

        # Push the app's context (unless active) so parameter callbacks and the
        # command have it without @with_appcontext. Not for help listings or
        # completion: click doesn't close those contexts, so it would stay pushed.
        if not (ctx.resilient_parsing or ctx.meta.get(_LISTING_COMMANDS)):
            from .globals import _cv_app

            current = _cv_app.get(None)
            if current is None or current.app is not app:
                ctx.with_resource(_command_app_context(app))
        return app.cli.get_command(ctx, name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Built-in, plugin and app commands; if the app can't be loaded the error
        is printed and the others are still listed."""
        self._load_plugin_commands()
        names = set(super().list_commands(ctx))
        info = ctx.ensure_object(ScriptInfo)
        try:
            names.update(info.load_app().cli.list_commands(ctx))
        except NoAppException as e:
            click.secho(f"Error: {e.format_message()}\n", err=True, fg="red")
        except Exception:
            click.secho(f"{traceback.format_exc()}\n", err=True, fg="red")
        return sorted(names)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        ctx.meta[_LISTING_COMMANDS] = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            ctx.meta[_LISTING_COMMANDS] = False

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: t.Any,
    ) -> click.Context:
        # Tells Kolben.run not to start a second server inside a CLI command; set
        # while the command runs, then restored (so in-process runs don't leak it).
        # FLASK_RUN_FROM_CLI too, as Flask sets it (apps and extensions read it).
        previous = {name: os.environ.get(name) for name in _RUN_FROM_CLI}
        for name in _RUN_FROM_CLI:
            os.environ[name] = "true"

        def restore() -> None:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

        if _flask_compat_on():
            # Help texts in Flask's words, as main() gives them to the flask command:
            # for scripts built on FlaskGroup too, under the compat layer.
            _speak_flask()
        if "obj" not in extra and "obj" not in self.context_settings:
            extra["obj"] = ScriptInfo(
                create_app=self.create_app,
                set_debug_flag=self.set_debug_flag,
                load_dotenv_defaults=self.load_dotenv,
            )
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except BaseException:  # --help, --version, usage errors: nothing will run
            restore()
            raise
        ctx.call_on_close(restore)
        return ctx

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (not args and self.no_args_is_help) or (
            len(args) == 1 and args[0] in self.get_help_option_names(ctx)
        ):
            # Help exits before options are processed; read --env-file and --app
            # from the environment first so the app's commands are listed.
            _env_file_option.handle_parse_result(ctx, {}, [])
            _app_option.handle_parse_result(ctx, {}, [])
        return super().parse_args(ctx, args)


#: Flask's name for :class:`KolbenGroup`.
FlaskGroup = KolbenGroup


# --- run -----------------------------------------------------------------------------------


class CertParamType(_ParamType):
    """The ``--cert`` value: a certificate file, ``adhoc`` (a throwaway certificate;
    needs ``cryptography``), or the import path of an :class:`ssl.SSLContext`."""

    name = "path"

    def __init__(self) -> None:
        self.path_type = click.Path(exists=True, dir_okay=False, resolve_path=True)

    def convert(
        self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> t.Any:
        try:
            import ssl
        except ImportError:  # pragma: no cover - Python without SSL
            raise click.BadParameter(
                'Using "--cert" requires Python to be compiled with SSL support.', ctx, param
            ) from None
        try:
            return self.path_type(value, param, ctx)
        except click.BadParameter:
            text = click.STRING(value, param, ctx)
            if text.lower() == "adhoc":
                try:  # imported, as Flask does: a module found but broken is absent
                    importlib.import_module("cryptography")
                except ImportError:
                    raise click.BadParameter(
                        "Using ad-hoc certificates requires the cryptography library:"
                        " pip install cryptography",
                        ctx,
                        param,
                    ) from None
                return "adhoc"
            if not _looks_like_import_path(text):
                raise
            obj, reason = _import_ssl_context(text)
            if isinstance(obj, ssl.SSLContext):
                return obj
            if reason is None:  # no such module either: a missing file, most likely
                raise
            raise click.BadParameter(
                f"File {text!r} does not exist, and as an import path it names no"
                f" ssl.SSLContext ({reason}). Give a certificate file (with '--key'),"
                " 'adhoc', or 'module:name' naming an ssl.SSLContext object.",
                ctx,
                param,
            ) from None


def _looks_like_import_path(text: str) -> bool:
    """``module``, ``module:name`` or ``package.module.name`` (identifiers only)."""
    return bool(re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?", text))


def _import_ssl_context(text: str) -> tuple[t.Any, str | None]:
    """Import the object named by ``text``: ``(object, why it is not usable)``;
    the reason is None when its top-level module does not exist.

    The current folder is searched too (the ``kolben`` script does not put it on
    :data:`sys.path`; ``python -m kolben`` does), as for the app itself.
    """
    from werkzeug.utils import ImportStringError, import_string

    top = re.split(r"[.:]", text, maxsplit=1)[0]
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        # A name already in sys.modules (even a non-module object put there) is
        # imported as it is, as werkzeug's import_string does.
        if top not in sys.modules and importlib.util.find_spec(top) is None:
            return None, None
        obj = import_string(text)
    except ImportStringError as e:
        cause = e.exception
        return None, f"importing it failed: {type(cause).__name__}: {cause}"
    except Exception as e:  # an error while importing the module
        return None, f"importing it failed: {type(e).__name__}: {e}"
    finally:
        if added:
            sys.path.remove(cwd)
    return obj, f"it is a {type(obj).__name__}, not an ssl.SSLContext"


def _validate_key(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--key`` is needed with a certificate file, and only then."""
    cert = ctx.params.get("cert")
    is_adhoc = cert == "adhoc"
    try:
        import ssl
    except ImportError:  # pragma: no cover
        is_context = False
    else:
        is_context = isinstance(cert, ssl.SSLContext)

    if value is not None:
        if is_adhoc:
            raise click.BadParameter('When "--cert" is "adhoc", "--key" is not used.', ctx, param)
        if is_context:
            raise click.BadParameter(
                'When "--cert" is an SSLContext object, "--key" is not used.', ctx, param
            )
        if not cert:
            raise click.BadParameter('"--cert" must also be specified.', ctx, param)
        ctx.params["cert"] = cert, value
    elif cert and not (is_adhoc or is_context):
        raise click.BadParameter('Required when using "--cert".', ctx, param)
    return value


class SeparatedPathType(click.Path):
    """A list of paths (or patterns) separated by :data:`os.pathsep` (``:`` on
    POSIX, ``;`` on Windows), each checked as a :class:`click.Path`."""

    def convert(
        self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> t.Any:
        items = value if isinstance(value, (list, tuple)) else self.split_envvar_value(value)
        return [super(SeparatedPathType, self).convert(item, param, ctx) for item in items]


def show_server_banner(debug: bool | None, app_import_path: str | None) -> None:
    """Print which app is served and whether debug mode is on (not again in the
    reloader's child process)."""
    from werkzeug.serving import is_running_from_reloader

    if is_running_from_reloader():
        return
    if app_import_path is not None:
        click.echo(f" * Serving {_names().app_class} app '{app_import_path}'")
    if debug is not None:
        click.echo(f" * Debug mode: {'on' if debug else 'off'}")


def _quote(text: str) -> str:
    """Quote ``text`` for a POSIX shell, preferring double quotes around ``'``."""
    if "'" in text and not any(c in text for c in '"$`\\'):
        return f'"{text}"'  # factory_app:create_app('dev')
    quoted = shlex.quote(text)
    return quoted if quoted != text else f"'{text}'"


def _production_hint(info: ScriptInfo) -> str:
    """How to serve the app in production, with the app's own import target."""
    target = info._app_target
    if target is None:  # a custom script's create_app: no import path to show
        return (
            " * Development server only. In production, serve the app with a WSGI server"
            " such as gunicorn or an ASGI server such as uvicorn ('gunicorn module:app')."
        )
    gunicorn_dir = uvicorn_dir = ""
    folder = info._app_folder
    if folder and os.path.abspath(folder) != os.getcwd():
        relative = shlex.quote(os.path.relpath(folder))
        gunicorn_dir, uvicorn_dir = f"--chdir {relative} ", f"--app-dir {relative} "
    gunicorn = f"gunicorn {gunicorn_dir}{_quote(target)}"
    module, _, expr = target.partition(":")
    if expr.isidentifier():
        uvicorn = f"uvicorn {uvicorn_dir}{_quote(target)}"
    elif expr.endswith("()") and expr[:-2].isidentifier():
        uvicorn = f"uvicorn --factory {uvicorn_dir}{_quote(f'{module}:{expr[:-2]}')}"
    else:  # uvicorn can't pass arguments to a factory
        uvicorn = "uvicorn"
    return (
        " * Development server only. In production, serve the app with a WSGI server"
        f" ({gunicorn}) or an ASGI server ({uvicorn})."
    )


def _check_address(host: str, port: int, command_path: str) -> None:
    """Fail with one clear line if ``host:port`` can't be listened on (typically:
    another program uses the port), before werkzeug would print its own errors."""
    if port == 0 or host.startswith("unix://"):
        return
    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family(host, port)
    other_port = port + 1 if port < 65535 else 8000
    try:
        address = get_sockaddr(host, port, family)
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # As the server does: a port in TIME_WAIT is usable, one in use is not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"Port {port} on {host} is in use by another program. Stop that program,"
                f" or pick another port: '{command_path} --port {other_port}'."
            ) from None
        reason = e.strerror or str(e)
        raise click.ClickException(f"Could not listen on {host}:{port}: {reason}.") from None


def _load_ssl_context(cert: t.Any) -> t.Any:
    """Load a ``(cert, key)`` pair now, so a bad file is one clear error."""
    if not isinstance(cert, tuple):
        return cert
    import ssl

    from werkzeug.serving import load_ssl_context

    try:
        return load_ssl_context(*cert)
    except (ssl.SSLError, OSError) as e:
        reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or str(e)
        raise click.ClickException(
            f"Could not load the certificate {cert[0]!r} with the key {cert[1]!r}: {reason}."
            " Check that they are PEM files and that the key matches the certificate."
        ) from None


def _error_app(error: BaseException) -> WSGIApplication:
    """An app that raises ``error``: the reloader keeps running until the code
    that failed to load is fixed."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> t.Iterable[bytes]:
        raise error from None

    return app


@click.command("run", short_help="Run a development server.")
@click.option("--host", "-h", cls=_Option, default="127.0.0.1", help="The interface to bind to.")
@click.option(
    "--port",
    "-p",
    cls=_Option,
    default=5000,
    type=click.IntRange(0, 65535),
    help="The port to bind to (0: any free port).",
)
@click.option(
    "--cert",
    cls=_Option,
    type=CertParamType(),
    help="Specify a certificate file to use HTTPS ('adhoc' for a throwaway one).",
    is_eager=True,
)
@click.option(
    "--key",
    cls=_Option,
    type=click.Path(exists=True, dir_okay=False, resolve_path=True),
    callback=_validate_key,
    expose_value=False,
    help="The key file to use when specifying a certificate.",
)
@click.option(
    "--reload/--no-reload",
    cls=_Option,
    default=None,
    help="Enable or disable the reloader. By default the reloader is active if debug is enabled.",
)
@click.option(
    "--debugger/--no-debugger",
    cls=_Option,
    default=None,
    help="Enable or disable the debugger. By default the debugger is active if debug is enabled.",
)
@click.option(
    "--with-threads/--without-threads",
    cls=_Option,
    default=True,
    help="Enable or disable multithreading.",
)
@click.option(
    "--extra-files",
    cls=_Option,
    default=None,
    type=SeparatedPathType(),
    help="Extra files that trigger a reload on change. Multiple paths are separated"
    f" by {os.path.pathsep!r}.",
)
@click.option(
    "--exclude-patterns",
    cls=_Option,
    default=None,
    type=SeparatedPathType(),
    help="Files matching these fnmatch patterns will not trigger a reload on change."
    f" Multiple patterns are separated by {os.path.pathsep!r}.",
)
@pass_script_info
def run_command(
    info: ScriptInfo,
    host: str,
    port: int,
    reload: bool | None,
    debugger: bool | None,
    with_threads: bool,
    cert: t.Any,
    extra_files: list[str] | None,
    exclude_patterns: list[str] | None,
) -> None:
    """Run a local development server.

    This server is for development purposes only. It does not provide the
    stability, security, or performance of production WSGI servers.

    The reloader and debugger are enabled by default with the '--debug' option.
    """
    from werkzeug.serving import is_running_from_reloader, run_simple

    from .helpers import get_debug_flag

    in_reloader_child = is_running_from_reloader()
    application: WSGIApplication
    try:
        application = info.load_app()
    except Exception as e:
        if not in_reloader_child:
            raise
        # Keep the reloader alive: show the error, serve it, reload when fixed.
        if isinstance(e, click.ClickException):
            click.secho(f"Error: {e.format_message()}", err=True, fg="red")
        else:
            traceback.print_exc()
        application = _error_app(e)

    debug = get_debug_flag()
    if reload is None:
        reload = debug
    if debugger is None:
        debugger = debug

    ctx = click.get_current_context()
    if not in_reloader_child:
        _check_address(host, port, ctx.command_path)
    ssl_context = _load_ssl_context(cert)

    show_server_banner(debug, info.app_import_path)
    if not in_reloader_child:
        click.secho(_production_hint(info), fg="yellow")

    reloader_type = "watchdog" if importlib.util.find_spec("watchdog") else "stat"
    run_simple(
        host,
        port,
        application,
        use_reloader=reload,
        use_debugger=debugger,
        threaded=with_threads,
        ssl_context=ssl_context,
        extra_files=extra_files,
        exclude_patterns=exclude_patterns,
        reloader_type=reloader_type,
    )


run_command.params.insert(0, _debug_option)


# --- shell ---------------------------------------------------------------------------------


@click.command("shell", short_help="Run a shell in the app context.")
@with_appcontext
def shell_command() -> None:
    """Run an interactive Python shell in the context of a given kolben application.

    The application will populate the default namespace of this shell according
    to its configuration: 'app', 'g' and the names of shell context processors.

    This is useful for executing small snippets of management code without
    having to manually configure the application.
    """
    import code

    from .globals import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    banner = (
        f"Python {sys.version} on {sys.platform}\n"
        f"App: {app.import_name}\n"
        f"Instance: {app.instance_path}"
    )
    namespace: dict[str, t.Any] = {}

    # Like the interactive interpreter, run the PYTHONSTARTUP file first; an error
    # in it is shown and the shell still starts.
    startup = os.environ.get("PYTHONSTARTUP")
    if startup and os.path.isfile(startup):
        try:
            with open(startup, encoding="utf-8") as f:
                exec(compile(f.read(), startup, "exec"), namespace)
        except Exception:
            traceback.print_exc()

    namespace.update(app.make_shell_context())

    # Tab completion and history, as in the standard interactive interpreter.
    hook = getattr(sys, "__interactivehook__", None)
    if hook is not None and sys.stdin.isatty():
        try:
            import readline
            from rlcompleter import Completer
        except ImportError:
            pass
        else:
            readline.set_completer(Completer(namespace).complete)
        hook()

    code.interact(banner=banner, local=namespace)


# --- routes --------------------------------------------------------------------------------


@click.command("routes", short_help="Show the routes for the app.")
@click.option(
    "--sort",
    "-s",
    cls=_Option,
    type=click.Choice(("endpoint", "methods", "domain", "rule", "match")),
    default="endpoint",
    help="Method to sort routes by. 'match' is the order that kolben will match routes"
    " when dispatching a request.",
)
@click.option("--all-methods", cls=_Option, is_flag=True, help="Show HEAD and OPTIONS methods.")
@with_appcontext
def routes_command(sort: str, all_methods: bool) -> None:
    """Show all registered routes with endpoints and methods."""
    from .globals import current_app

    url_map = current_app.url_map
    rules = list(url_map.iter_rules())
    if not rules:
        click.echo("No routes were registered.")
        return

    hidden = set() if all_methods else {"HEAD", "OPTIONS"}
    by_host = url_map.host_matching
    domains = [(rule.host if by_host else rule.subdomain) or "" for rule in rules]
    with_domain = any(domains)

    headers = ["Endpoint", "Methods"]
    keys = ["endpoint", "methods"]
    if with_domain:
        headers.append("Host" if by_host else "Subdomain")
        keys.append("domain")
    headers.append("Rule")
    keys.append("rule")

    rows: list[list[str]] = []
    for rule, domain in zip(rules, domains, strict=True):
        row = [rule.endpoint, ", ".join(sorted((rule.methods or set()) - hidden))]
        if with_domain:
            row.append(domain)
        row.append(rule.rule)
        rows.append(row)
    # "match" (and "domain" without a domain column) keep the map's match order.
    if sort in keys:
        rows.sort(key=itemgetter(keys.index(sort)))

    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    line = "  ".join(f"{{{i}:<{w}}}" for i, w in enumerate(widths))
    click.echo(line.format(*headers))
    click.echo(line.format(*("-" * w for w in widths)))
    for row in rows:
        click.echo(line.format(*row))


# --- the kolben command --------------------------------------------------------------------

cli = KolbenGroup(
    name="kolben",
    help="""\
The kolben command line. Run, inspect and manage a kolben application.

An application to load must be given with the '--app' option, 'KOLBEN_APP'
environment variable, or with a 'wsgi.py' or 'app.py' file in the current
directory.
""",
)


def main(prog_name: str | None = None) -> None:
    """Entry point of the ``kolben`` console script (and, under the Flask compat
    layer, of Flask's ``flask`` script, which calls ``flask.cli.main()``).

    The program is named ``flask`` when started as ``flask``, else ``kolben``.
    """
    if prog_name is None:
        started_as = os.path.splitext(os.path.basename(sys.argv[0] if sys.argv else ""))[0]
        prog_name = "flask" if started_as in ("flask", "flask-script") else "kolben"
    if prog_name == "flask" or _flask_compat_on():
        _speak_flask()
    cli.main(prog_name=prog_name)


def _speak_flask() -> None:
    """Give the command line's help Flask's words, as for messages (see
    :func:`_names`): the ``flask`` command under the compat layer."""
    cli.help = """\
A general utility script for Flask applications.

An application to load must be given with the '--app' option, 'FLASK_APP'
environment variable, or with a 'wsgi.py' or 'app.py' file in the current
directory.
"""
    version_option.help = "Show the Flask version."
    _env_file_option.help = (
        "Load environment variables from this file, taking precedence over those set"
        " by '.env' and '.flaskenv'. Variables set directly in the environment take"
        " highest precedence. python-dotenv must be installed."
    )
    _app_option.help = (
        "The Flask application or factory function to load, in the form 'module:name'."
        " Module can be a dotted import or file path. Name is not required if it is"
        " 'app', 'application', 'create_app', or 'make_app', and can be 'name(args)' to"
        " pass arguments."
    )
    if shell_command.help is not None:
        shell_command.help = shell_command.help.replace(
            "a given kolben application", "a given Flask application"
        )
    for param in routes_command.params:
        if isinstance(param, click.Option) and param.name == "sort" and param.help:
            param.help = param.help.replace("that kolben will", "that Flask will")


def flask_main() -> None:
    """Entry point of the ``flask`` command written by ``kolben
    install-flask-command``: kolben's command line with the Flask compat layer
    on (as if ``KOLBEN_FLASK_COMPAT=1`` were set), named ``flask``."""
    from .compat import install

    install()
    main(prog_name="flask")


#: The first line after the shebang of a ``flask`` command kolben wrote.
FLASK_COMMAND_MARK = "# The 'flask' command, written by 'kolben install-flask-command'."


def _flask_command_text() -> str:
    return (
        f"#!{sys.executable}\n"
        f"{FLASK_COMMAND_MARK}\n"
        "# Flask was not installed when it was written: this runs kolben's command\n"
        "# line with the Flask compat layer on. Installing Flask replaces it with\n"
        "# Flask's own, which does the same under KOLBEN_FLASK_COMPAT=1. Delete\n"
        "# this file to remove it.\n"
        "import sys\n\n"
        "from kolben.cli import flask_main\n\n"
        "sys.exit(flask_main())\n"
    )


@click.command(
    "install-flask-command",
    hidden=True,
    short_help="Add a 'flask' command running kolben, where Flask is not installed.",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, writable=True),
    default=None,
    help="The folder to write it to (default: this environment's scripts folder).",
)
def install_flask_command(folder: str | None) -> None:
    """Write a 'flask' command that runs kolben's command line with the Flask
    compat layer on, so scripts written for Flask ('flask --app app init-db',
    'flask routes') run unchanged.

    Only where it can't clash: if a 'flask' command already exists in the
    folder (Flask's own, or one written before), nothing is written. Flask's
    own command works with kolben too once KOLBEN_FLASK_COMPAT=1 is set.
    """
    import sysconfig

    if os.name == "nt":
        raise click.ClickException(
            "install-flask-command writes a POSIX script; on Windows, use"
            " 'python -m flask' with KOLBEN_FLASK_COMPAT=1 set, or the 'kolben' command."
        )
    folder = folder or sysconfig.get_path("scripts")
    target = os.path.join(folder, "flask")
    if os.path.lexists(target):
        with open(target, encoding="utf-8", errors="replace") as f:
            ours = FLASK_COMMAND_MARK in f.read(4096)
        if ours:
            click.echo(f"The 'flask' command is already there: {target}")
            return
        raise click.ClickException(
            f"{target} exists and was not written by kolben (Flask's own command, most"
            " likely). It is left alone: with KOLBEN_FLASK_COMPAT=1 set, it already runs"
            " kolben."
        )
    with open(target, "x", encoding="utf-8") as f:
        f.write(_flask_command_text())
    os.chmod(target, 0o755)
    click.echo(f"Wrote {target}: 'flask ...' now runs kolben's command line.")


cli.add_command(install_flask_command)
