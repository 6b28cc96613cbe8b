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

or set ``KOLBEN_FLASK_COMPAT=1`` in the environment, which installs it when
``kolben`` is imported.

What it does, in short (see ``docs/extensions.md`` for the user's view):

* ``flask`` and each ``flask.<name>`` module is a :class:`FlaskModule`: a module
  object named as in Flask whose attributes come from the kolben module (looked
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
    "FlaskModule",
    "install",
    "installed",
    "uninstall",
]

#: The Flask release whose API kolben implements. Under the compat layer,
#: ``importlib.metadata.version("flask")`` and ``flask.__version__`` report it.
FLASK_VERSION = "3.1.3"

#: Where the compat layer is documented; error messages point here.
DOCS = "the 'Flask extensions' page of the kolben docs (docs/extensions.md)"

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


class FlaskModule(ModuleType):
    """A ``flask.*`` module standing in for a kolben module.

    Attribute lookups go to the kolben module (``target``) and are kept in this
    module's namespace after the first one, so later lookups cost what a plain
    module attribute costs. Submodules (``flask.json.provider``) are imported on
    attribute access, as Flask's package imports them eagerly.
    """

    def __init__(self, name: str, target: ModuleType | None) -> None:
        super().__init__(name, None if target is None else target.__doc__)
        self.__dict__["__kolben_module__"] = target
        if name in _PACKAGES:
            # Empty: submodules come from the finder, never from kolben's folders
            # (which would load a second copy of a kolben module).
            self.__path__: list[str] = []
        self.__dict__.update(_extras(name))

    def __getattr__(self, attr: str) -> t.Any:
        if attr == "__version__" and self.__name__ == "flask":
            warnings.warn(
                "The '__version__' attribute is deprecated and will be removed in"
                " Flask 3.2. Use feature detection or"
                " 'importlib.metadata.version(\"flask\")' instead.",
                DeprecationWarning,
                stacklevel=2,
            )
            return FLASK_VERSION
        if attr.startswith("__") and attr != "__all__":
            # Module metadata (__path__, __file__, ...) is this module's own,
            # never the kolben module's.
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        submodule = f"{self.__name__}.{attr}"
        if submodule in MODULES:
            value: t.Any = importlib.import_module(submodule)
        else:
            target: ModuleType | None = self.__dict__["__kolben_module__"]
            try:
                value = getattr(target, attr)
            except AttributeError:
                raise AttributeError(
                    f"module {self.__name__!r} has no attribute {attr!r}: the Flask"
                    f" compat layer serves {self.__name__!r} from"
                    f" {getattr(target, '__name__', 'nothing')!r}, which does not have"
                    f" it. kolben implements Flask's documented API, not its private"
                    f" names; see {DOCS} for what is supported and how to report a"
                    " missing name an extension needs.",
                    name=attr,
                    obj=self,
                ) from None
        # PERF: keep it, so the next lookup skips __getattr__ and getattr().
        self.__dict__[attr] = value
        return value

    def __dir__(self) -> list[str]:
        target = self.__dict__["__kolben_module__"]
        names = set(self.__dict__)
        if target is not None:
            names.update(dir(target))
        prefix = f"{self.__name__}."
        for sub in MODULES:
            rest = sub[len(prefix) :]
            if sub.startswith(prefix) and "." not in rest:
                names.add(rest)
        return sorted(names)

    def __repr__(self) -> str:
        target = self.__dict__["__kolben_module__"]
        behind = "nothing" if target is None else repr(target.__name__)
        return f"<module {self.__name__!r} (kolben compat, served by {behind})>"


class _FlaskLoader(importlib.abc.Loader):
    """Creates the :class:`FlaskModule` for a ``flask`` module name."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target_name = MODULES[spec.name]
        target = None if target_name is None else importlib.import_module(target_name)
        return FlaskModule(spec.name, target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the kolben module was imported by create_module."""


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

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "flask" and not fullname.startswith("flask."):
            return None
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

    Call it before anything imports ``flask`` (or set ``KOLBEN_FLASK_COMPAT=1``,
    read when ``kolben`` is imported). Calling it again does nothing.

    :raises RuntimeError: the real Flask is already imported in this process.
    """
    with _lock:
        if installed():
            return
        real = sys.modules.get("flask")
        if real is not None and not isinstance(real, FlaskModule):
            where = getattr(real, "__file__", None) or "an unknown location"
            raise RuntimeError(
                f"kolben.compat.install(): the real Flask is already imported (from"
                f" {where}). Extensions would see two 'flask' modules with two sets"
                " of context globals. Install the compat layer before anything"
                " imports flask: set KOLBEN_FLASK_COMPAT=1 in the environment, or"
                " call kolben.compat.install() first thing in your entry point,"
                f" before importing any extension. See {DOCS}."
            )
        for cls in _hinted_classes():
            if "__getattr__" not in vars(cls):
                cls.__getattr__ = _no_such_attribute  # type: ignore[attr-defined]
        sys.meta_path.insert(0, _finder)


def uninstall() -> None:
    """Undo :func:`install`: remove the finder and the ``flask`` modules it made.

    Meant for tests. Extensions imported meanwhile keep the kolben objects they
    took; import them again (after dropping them from :data:`sys.modules`) to
    get the real Flask's.
    """
    with _lock:
        while _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        for cls in _hinted_classes():
            if vars(cls).get("__getattr__") is _no_such_attribute:
                del cls.__getattr__  # type: ignore[attr-defined]
        for name in [n for n, m in sys.modules.items() if isinstance(m, FlaskModule)]:
            del sys.modules[name]
