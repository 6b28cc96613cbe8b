"""Run Flask extensions on kolben: make ``import flask`` give kolben.

Flask extensions ``import flask`` and reach for ``flask.globals``,
``flask.signals``, ``flask.json.provider`` and friends. :func:`install` puts a
finder first in :data:`sys.meta_path` that answers every ``flask`` and public
``flask.*`` import with a stand-in module over the matching kolben module, so
``flask.Flask is kolben.Kolben``, ``flask.request is kolben.request`` and so on:
the extension runs against kolben's objects, unchanged.

Turn it on before anything imports ``flask``::

    import kolben.compat
    kolben.compat.install()

    from flask_login import LoginManager  # now built on kolben

or start the process with ``KOLBEN_FLASK_COMPAT=1`` in its environment. Then
the start-up hook installed with kolben (``kolben_flask_compat.pth`` in
site-packages, running :mod:`_kolben_flask_compat`) turns the layer on at the
first ``import flask`` of any Python process (``pytest``, ``gunicorn app:app``,
``flask routes``), and ``import kolben`` turns it on too.

What it does, in short (see ``docs/extensions.md`` for the user's view):

* ``flask`` and each ``flask.<name>`` module is a stand-in (:func:`stand_in`): a
  module named as in Flask whose attributes come from the kolben module (looked
  up on first use, then kept). Names Flask keeps in a module where kolben does
  not (``flask.app.Flask``, ``flask.sansio.app.App``) are added. A name neither
  has raises an :exc:`AttributeError` that names it and the docs page.
* ``importlib.metadata.version("flask")`` (and ``metadata`` / ``distribution``)
  report :data:`FLASK_VERSION`, the Flask release whose API kolben implements,
  whether or not the real Flask distribution is installed: extensions that check
  the version see the API they get.
* ``flask.__version__`` is deprecated in Flask 3.1: it warns, as Flask does, and
  returns :data:`FLASK_VERSION`.
* The app, blueprints and the two contexts get a ``__getattr__`` (only called
  for a name they do not have, so it costs nothing otherwise) whose
  :exc:`AttributeError` for a private name (``app._something``) says that an
  extension reached for a Flask internal kolben does not have, and names the
  docs page. :func:`uninstall` removes it.
* If the real Flask is already imported, :func:`install` refuses with a
  :exc:`RuntimeError`: two ``flask`` modules in one process would give
  extensions two sets of context globals. Installing twice is harmless.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import os
import re
import sys
import threading
import typing as t
import warnings
from collections.abc import Iterable, Sequence
from types import ModuleType

__all__ = [
    "FLASK_VERSION",
    "install",
    "installed",
    "is_stand_in",
    "stand_in",
    "uninstall",
]

#: The Flask release whose API kolben implements. Under the compat layer,
#: ``importlib.metadata.version("flask")`` and ``flask.__version__`` report it.
FLASK_VERSION = "3.1.3"

#: Where the compat layer is documented; error messages point here.
DOCS = "the 'Flask extensions' page of the kolben docs (docs/extensions.md)"

#: The environment variable that turns the layer on in every Python process
#: (through the start-up hook) and when ``kolben`` is imported.
ENV_VAR = "KOLBEN_FLASK_COMPAT"

#: The start-up hook: a ``.pth`` file in site-packages, installed with kolben,
#: that imports :data:`HOOK_MODULE` when :data:`ENV_VAR` is set.
HOOK_PTH = "kolben_flask_compat.pth"
HOOK_MODULE = "_kolben_flask_compat"

#: Every ``flask`` module an extension may import, and the kolben module behind
#: it (``None`` for ``flask.sansio``, a package with nothing of its own).
MODULES: dict[str, str | None] = {
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
    "flask.sessions": "kolben.sessions",
    "flask.signals": "kolben.signals",
    "flask.templating": "kolben.templating",
    "flask.testing": "kolben.testing",
    "flask.typing": "kolben.typing",
    "flask.views": "kolben.views",
    "flask.wrappers": "kolben.wrappers",
    "flask.sansio": None,
    "flask.sansio.app": "kolben.app",
    "flask.sansio.blueprints": "kolben.blueprints",
    "flask.sansio.scaffold": "kolben.scaffold",
}

_PACKAGES = frozenset({"flask", "flask.json", "flask.sansio"})


def _extras(name: str) -> dict[str, t.Any]:
    """Names Flask defines in module ``name`` that kolben keeps elsewhere."""
    if name in {"flask.app", "flask.sansio.app"}:
        from .app import Kolben

        # Flask splits the app into a sans-IO ``App`` and ``Flask(App)``; kolben
        # has one class, so both names are it.
        return {"Flask": Kolben, "App": Kolben}
    if name == "flask.sessions":
        from .json.tag import TaggedJSONSerializer

        return {"session_json_serializer": TaggedJSONSerializer()}
    return {}


_GLOBALS = {
    name: f"kolben.globals:{name}"
    for name in ("current_app", "g", "request", "session", "request_ctx")
}
_SCAFFOLD_TYPEVARS = {
    name: "typevar"
    for name in (
        "T_after_request",
        "T_before_request",
        "T_error_handler",
        "T_teardown",
        "T_template_context_processor",
        "T_url_defaults",
        "T_url_value_preprocessor",
    )
}
_APP_TYPEVARS = {
    name: "typevar"
    for name in (
        "T_shell_context_processor",
        "T_teardown",
        "T_template_filter",
        "T_template_global",
        "T_template_test",
    )
}

#: Names Flask's modules hold because they import them (extensions sometimes
#: import them from there: ``from flask.sessions import BadSignature``), as
#: "module:attribute" of the object kolben uses, resolved on first use.
_REEXPORTS: dict[str, dict[str, str]] = {
    "flask.app": {
        **_GLOBALS,
        **_APP_TYPEVARS,
        "Environment": "kolben.templating:Environment",
        "ImmutableDict": "werkzeug.datastructures:ImmutableDict",
        "chain": "itertools:chain",
        "get_flashed_messages": "kolben.helpers:get_flashed_messages",
        "get_host": "werkzeug.wsgi:get_host",
        "get_load_dotenv": "kolben.helpers:get_load_dotenv",
        "is_running_from_reloader": "werkzeug.serving:is_running_from_reloader",
        "iscoroutinefunction": "inspect:iscoroutinefunction",
        "send_from_directory": "kolben.helpers:send_from_directory",
        "timedelta": "datetime:timedelta",
        "_make_timedelta": "kolben.app_setup:_make_timedelta",
    },
    "flask.blueprints": {
        "AppGroup": "kolben.cli:AppGroup",
        "SansioBlueprint": "kolben.blueprints:Blueprint",
        "current_app": "kolben.globals:current_app",
        "send_from_directory": "kolben.helpers:send_from_directory",
        "timedelta": "datetime:timedelta",
    },
    "flask.cli": {
        "current_app": "kolben.globals:current_app",
        "get_debug_flag": "kolben.helpers:get_debug_flag",
        "get_load_dotenv": "kolben.helpers:get_load_dotenv",
        "import_string": "werkzeug.utils:import_string",
        "is_running_from_reloader": "werkzeug.serving:is_running_from_reloader",
        "run_simple": "werkzeug.serving:run_simple",
        "_path_is_ancestor": "kolben.compat:_path_is_ancestor",
    },
    "flask.debughelpers": {
        "App": "kolben.app:Kolben",
        "BaseLoader": "jinja2.loaders:BaseLoader",
        "Blueprint": "kolben.blueprints:Blueprint",
        "RequestRedirect": "werkzeug.routing:RequestRedirect",
        "request_ctx": "kolben.globals:request_ctx",
        "_dump_loader_info": "kolben.debughelpers:_describe_loader",
    },
    "flask.helpers": {
        "BaseResponse": "werkzeug.wrappers:Response",
        "cache": "functools:cache",
        "datetime": "datetime:datetime",
        "get_load_dotenv": "kolben.helpers:get_load_dotenv",
        "request": "kolben.globals:request",
        "session": "kolben.globals:session",
        "_prepare_send_file_kwargs": "kolben.helpers:_send_file_kwargs",
        "_split_blueprint_path": "kolben.wrappers:split_blueprint_path",
    },
    "flask.json": {"current_app": "kolben.globals:current_app"},
    "flask.json.tag": {"dumps": "kolben.json:dumps", "loads": "kolben.json:loads"},
    "flask.logging": {"request": "kolben.globals:request"},
    "flask.sessions": {
        "BadSignature": "itsdangerous:BadSignature",
        "_lazy_sha1": "kolben._itsdangerous_fast:lazy_sha1",
    },
    "flask.templating": {
        "current_app": "kolben.globals:current_app",
        "request": "kolben.globals:request",
    },
    "flask.testing": {
        "SessionMixin": "kolben.sessions:SessionMixin",
        "_get_werkzeug_version": "kolben.testing:_werkzeug_version",
    },
    "flask.views": {
        "F": "typevar",
        "current_app": "kolben.globals:current_app",
        "request": "kolben.globals:request",
    },
    "flask.wrappers": {
        "RequestBase": "werkzeug.wrappers:Request",
        "ResponseBase": "werkzeug.wrappers:Response",
        "current_app": "kolben.globals:current_app",
    },
    "flask.sansio.app": {
        **_APP_TYPEVARS,
        "Aborter": "werkzeug.exceptions:Aborter",
        "Config": "kolben.config:Config",
        "ConfigAttribute": "kolben.config:ConfigAttribute",
        "DefaultJSONProvider": "kolben.json.provider:DefaultJSONProvider",
        "DispatchingJinjaLoader": "kolben.templating:DispatchingJinjaLoader",
        "Environment": "kolben.templating:Environment",
        "JSONProvider": "kolben.json.provider:JSONProvider",
        "Map": "werkzeug.routing:Map",
        "Scaffold": "kolben.scaffold:Scaffold",
        "chain": "itertools:chain",
        "create_logger": "kolben.logging:create_logger",
        "setupmethod": "kolben.scaffold:setupmethod",
        "timedelta": "datetime:timedelta",
        "_make_timedelta": "kolben.app_setup:_make_timedelta",
    },
    "flask.sansio.blueprints": {
        **_SCAFFOLD_TYPEVARS,
        "T_template_filter": "typevar",
        "T_template_global": "typevar",
        "T_template_test": "typevar",
        "update_wrapper": "functools:update_wrapper",
    },
    "flask.sansio.scaffold": {
        **_SCAFFOLD_TYPEVARS,
        "T_route": "typevar",
        "find_package": "kolben.helpers:find_package",
        "_find_package_path": "kolben.helpers:_package_parent",
    },
}


def _path_is_ancestor(path: str, other: str) -> bool:
    """Whether ``path`` is ``other`` or a folder above it, by their text (what
    ``flask.cli._path_is_ancestor`` answers; some applications import it)."""
    return os.path.join(path, other[len(path) :].lstrip(os.sep)) == other


def _reexport(module: str, attr: str) -> t.Any:
    """The object ``module.attr`` names in :data:`_REEXPORTS`; AttributeError if
    it names none."""
    spec = _REEXPORTS.get(module, {}).get(attr)
    if spec is None:
        raise AttributeError(attr)
    if spec == "typevar":
        # Flask's type variables for its decorators: any callable.
        return t.TypeVar(attr, bound=t.Callable[..., t.Any])
    source, _, name = spec.partition(":")
    return getattr(importlib.import_module(source), name)


#: A name set on a stand-in that is not there (the marker for "restore by deleting").
_ABSENT = object()


class _PatchableStandIn(ModuleType):
    """A ``flask.<name>`` stand-in on which setting a name also sets it on the
    kolben module behind it, so monkeypatching works as on Flask:
    ``mock.patch("flask.templating._render")`` replaces the function kolben's
    ``render_template`` calls. Deleting the name (``mock.patch`` undoing itself)
    puts the kolben module's own value back. Reading is a plain module's.
    """

    def __setattr__(self, attr: str, value: t.Any) -> None:
        namespace = self.__dict__
        target: ModuleType | None = namespace.get("__kolben_module__")
        if (
            target is not None
            and not attr.startswith("__")
            and f"{self.__name__}.{attr}" not in MODULES  # the import system's
        ):
            originals: dict[str, t.Any] = namespace["__kolben_originals__"]
            if attr not in originals:
                originals[attr] = target.__dict__.get(attr, _ABSENT)
            setattr(target, attr, value)
        super().__setattr__(attr, value)

    def __delattr__(self, attr: str) -> None:
        namespace = self.__dict__
        originals: dict[str, t.Any] = namespace["__kolben_originals__"]
        if attr in originals:
            target: ModuleType = namespace["__kolben_module__"]
            original = originals.pop(attr)
            if original is _ABSENT:
                target.__dict__.pop(attr, None)
            else:
                setattr(target, attr, original)
            namespace.pop(attr, None)  # read from the kolben module again
            return
        super().__delattr__(attr)


def stand_in(name: str, target: ModuleType | None) -> ModuleType:
    """Make the ``flask`` module ``name``, standing in for the kolben module ``target``.

    It is a plain module whose attributes come from ``target``, looked up on
    first use through a module ``__getattr__`` (PEP 562) and then kept in its
    namespace. Submodules (``flask.json.provider``) are imported on attribute
    access, as Flask's packages import theirs eagerly.
    """
    # PERF: a module with a PEP 562 __getattr__, not a ModuleType subclass with a
    # __getattr__ method: a kept name costs 20 ns to look up (as on the real
    # Flask, whose package also has a module __getattr__) instead of 62 ns
    # through the generic slot path. (_PatchableStandIn only sets and deletes.)
    doc = None if target is None else target.__doc__
    # The top-level ``flask`` stays a plain module: Flask's own code never reads
    # a name through it, so a name set there changes nothing behind it.
    module = ModuleType(name, doc) if name == "flask" else _PatchableStandIn(name, doc)
    namespace = module.__dict__
    namespace["__kolben_module__"] = target
    namespace["__kolben_originals__"] = {}
    if target is not None and getattr(target, "__file__", None):
        # Code that finds Flask's folder (``os.path.dirname(flask.__file__)``).
        namespace["__file__"] = target.__file__
    if name in _PACKAGES:
        # Empty: submodules come from the finder, never from kolben's folders
        # (which would load a second copy of a kolben module).
        namespace["__path__"] = []
    namespace.update(_extras(name))

    def __getattr__(attr: str) -> t.Any:
        if attr == "__version__" and name == "flask":
            warnings.warn(
                "The '__version__' attribute is deprecated and will be removed in"
                " Flask 3.2. Use feature detection or"
                " 'importlib.metadata.version(\"flask\")' instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            return FLASK_VERSION
        if attr.startswith("__") and attr != "__all__":
            # Module metadata (__file__, ...) is this module's own, never kolben's.
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        if f"{name}.{attr}" in MODULES:
            value: t.Any = importlib.import_module(f"{name}.{attr}")
        else:
            try:
                try:
                    value = getattr(target, attr)
                except AttributeError:
                    value = _reexport(name, attr)
            except AttributeError:
                served = "nothing" if target is None else repr(target.__name__)
                raise AttributeError(
                    f"module {name!r} has no attribute {attr!r}: the Flask compat"
                    f" layer serves {name!r} from {served}, which does not have it."
                    " kolben implements Flask's documented API, not its private"
                    f" names; see {DOCS} for what is supported and how to report a"
                    " missing name an extension needs.",
                    name=attr,
                    obj=module,
                ) from None
        # PERF: keep it, so the next lookup is a plain module attribute lookup.
        namespace[attr] = value
        return value

    def __dir__() -> list[str]:
        names = set(namespace) - {"__getattr__", "__dir__"}
        if target is not None:
            names.update(dir(target))
        names.update(_REEXPORTS.get(name, ()))
        prefix = f"{name}."
        for sub in MODULES:
            rest = sub[len(prefix) :]
            if sub.startswith(prefix) and "." not in rest:
                names.add(rest)
        return sorted(names)

    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__
    return module


def is_stand_in(module: object) -> bool:
    """Whether ``module`` is a ``flask`` module made by the compat layer."""
    return isinstance(module, ModuleType) and "__kolben_module__" in module.__dict__


class _FlaskLoader(importlib.abc.Loader):
    """Creates the stand-in module for a ``flask`` module name."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target_name = MODULES[spec.name]
        target = None if target_name is None else importlib.import_module(target_name)
        return stand_in(spec.name, target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the kolben module was imported by create_module."""

    def __repr__(self) -> str:
        # Shown in the stand-ins' repr: <module 'flask' (kolben compat layer)>.
        return "kolben compat layer"


class _FlaskMainLoader(importlib.abc.InspectLoader):
    """Loads ``flask.__main__``: ``python -m flask`` runs kolben's command line
    named ``flask``, as Flask's ``python -m flask`` runs its own."""

    def get_source(self, fullname: str) -> str:
        return (
            '"""python -m flask: kolben\'s command line, under the Flask compat layer."""\n'
            "from kolben.cli import main\n"
            "\n"
            "if __name__ == '__main__':\n"
            "    main(prog_name='python -m flask')\n"
        )

    def is_package(self, fullname: str) -> bool:
        return False

    def __repr__(self) -> str:
        return "kolben compat layer"


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class _FlaskDistribution(importlib.metadata.Distribution):
    """The ``Flask`` distribution metadata seen under the compat layer."""

    def read_text(self, filename: str) -> str | None:
        if filename == "METADATA":
            return (
                "Metadata-Version: 2.1\n"
                "Name: Flask\n"
                f"Version: {FLASK_VERSION}\n"
                "Summary: kolben, standing in for Flask (kolben.compat)\n"
            )
        return None

    def locate_file(self, path: str | os.PathLike[str]) -> t.Any:
        import pathlib

        return pathlib.Path(__file__).parent / path


class _FlaskFinder(importlib.abc.MetaPathFinder):
    """Finds ``flask`` and ``flask.*`` modules (and the ``Flask`` distribution's
    metadata) in kolben. Sits first in :data:`sys.meta_path`."""

    _loader = _FlaskLoader()
    _main_loader = _FlaskMainLoader()

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "flask" and not fullname.startswith("flask."):
            return None
        if fullname == "flask.__main__":
            # ``python -m flask``: Flask's command line, kolben's CLI.
            return importlib.machinery.ModuleSpec(fullname, self._main_loader)
        if fullname not in MODULES:
            # Not found, as the protocol says (importlib.util.find_spec() probes
            # get None); no finder after this one can find it either, since the
            # stand-in packages have an empty __path__.
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self._loader, is_package=fullname in _PACKAGES
        )

    def find_distributions(
        self, context: importlib.metadata.DistributionFinder.Context | None = None
    ) -> Iterable[importlib.metadata.Distribution]:
        name = None if context is None else context.name
        if name is not None and _normalize(name) == "flask":
            return [_FlaskDistribution()]
        return []

    def invalidate_caches(self) -> None:
        """Nothing cached."""


def _no_such_attribute(self: object, name: str) -> t.NoReturn:
    """``__getattr__`` for kolben's app, blueprint and context classes while the
    compat layer is installed: an extension's private-name lookup fails with a
    message that says so."""
    message = f"{type(self).__name__!r} object has no attribute {name!r}"
    if name.startswith("_") and not name.startswith("__"):
        message += (
            f": {name!r} is private to Flask and kolben does not have it. kolben runs"
            " Flask extensions that use Flask's documented API; an extension that"
            " reaches into Flask's internals needs a fix there or a compatible name"
            f" in kolben. See {DOCS}."
        )
    raise AttributeError(message, name=name, obj=self)


def _hinted_classes() -> list[type]:
    from .ctx import AppContext, RequestContext
    from .scaffold import Scaffold

    return [Scaffold, AppContext, RequestContext]


_finder = _FlaskFinder()
_lock = threading.Lock()


def installed() -> bool:
    """Whether :func:`install` is in effect in this process."""
    return _finder in sys.meta_path


def install() -> None:
    """Make ``import flask`` and the public ``flask.*`` modules resolve to kolben.

    Call it before anything imports ``flask`` (or start the process with
    ``KOLBEN_FLASK_COMPAT=1``: see :data:`HOOK_PTH`). Calling it again does
    nothing.

    :raises RuntimeError: the real Flask is already imported in this process.
    """
    with _lock:
        if installed():
            return
        real = sys.modules.get("flask")
        if real is not None and not is_stand_in(real):
            where = getattr(real, "__file__", None) or "an unknown location"
            raise RuntimeError(
                f"kolben.compat.install(): the real Flask is already imported (from"
                f" {where}). Extensions would see two 'flask' modules with two sets"
                f" of context globals. {_how_to_install_first()} See {DOCS}."
            )
        for cls in _hinted_classes():
            if "__getattr__" not in vars(cls):
                cls.__getattr__ = _no_such_attribute  # type: ignore[attr-defined]
        sys.meta_path.insert(0, _finder)


def env_var_set() -> bool:
    """Whether :data:`ENV_VAR` asks for the layer (anything but empty, ``0``,
    ``false`` or ``no``)."""
    return os.environ.get(ENV_VAR, "").lower() not in {"", "0", "false", "no"}


def hook_installed() -> bool:
    """Whether the start-up hook (:data:`HOOK_PTH`) is in a site-packages folder
    of this Python."""
    import site

    folders = [*site.getsitepackages(), site.getusersitepackages()]
    return any(os.path.isfile(os.path.join(folder, HOOK_PTH)) for folder in folders)


def _how_to_install_first() -> str:
    """The fix for "flask was imported first" that works in this environment."""
    if env_var_set():
        if HOOK_MODULE in sys.modules:
            return (
                f"{ENV_VAR} is set and the start-up hook ran, so the real Flask was"
                " imported while the layer was off (after kolben.compat.uninstall(),"
                " or through a finder placed before the hook). Keep the layer"
                " installed, and do not import the real Flask in this process."
            )
        if not hook_installed():
            return (
                f"{ENV_VAR} is set, but kolben's start-up hook ({HOOK_PTH}) is not"
                " installed in this Python's site-packages, so the variable only acts"
                " when kolben is imported, and flask was imported first. Reinstall"
                " kolben with pip ('pip install kolben', or 'pip install -e .' in a"
                " checkout) to install the hook, or import kolben (or call"
                " kolben.compat.install()) before anything imports flask."
            )
        return (
            f"{ENV_VAR} is set, but it was set after this process started (the"
            " start-up hook reads it when Python starts). Set it in the environment"
            " the process is started with, or call kolben.compat.install() before"
            " anything imports flask."
        )
    return (
        f"Start the process with {ENV_VAR}=1 in its environment: kolben's start-up"
        f" hook ({HOOK_PTH}) then turns the layer on before any code runs (for"
        " pytest, gunicorn, the flask command...). Or call kolben.compat.install()"
        " first thing in your entry point, before anything imports flask."
    )


def uninstall() -> None:
    """Undo :func:`install`: remove the finder and the ``flask`` modules it made.

    Meant for tests. Extensions imported meanwhile keep the kolben objects they
    took; import them again (after dropping them from :data:`sys.modules`) to
    get the real Flask's.
    """
    with _lock:
        while _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        hook = sys.modules.get(HOOK_MODULE)
        hook_finder = getattr(hook, "_hook", None)
        while hook_finder is not None and hook_finder in sys.meta_path:
            sys.meta_path.remove(hook_finder)  # or the next 'import flask' installs it again
        for cls in _hinted_classes():
            if vars(cls).get("__getattr__") is _no_such_attribute:
                del cls.__getattr__  # type: ignore[attr-defined]
        for name in [n for n, m in sys.modules.items() if is_stand_in(m)]:
            del sys.modules[name]
