"""Jinja integration: the app's environment, its template loader and the render helpers.

The environment (:attr:`Kolben.jinja_env`) is created on first use, so an app that
never renders a template never imports a template or builds a loader. Templates are
looked up in the application's ``template_folder`` first, then in each blueprint's
folder in registration order; the first match wins (Flask 3.1 behaviour).
"""

from __future__ import annotations

import os
import typing as t

from jinja2 import BaseLoader, FileSystemLoader, PackageLoader, Template, TemplateNotFound
from jinja2 import Environment as BaseEnvironment
from jinja2.exceptions import TemplatesNotFound

from . import globals as _globals
from .globals import _no_app_msg
from .helpers import stream_with_context
from .signals import before_render_template, template_rendered

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app
_cv_request = _globals._cv_request

if t.TYPE_CHECKING:
    from .app import Kolben
    from .scaffold import Scaffold

#: What a loader's ``get_source`` returns: source, filename, up-to-date check.
_Source = tuple[str, str | None, t.Callable[[], bool] | None]


def _default_template_ctx_processor() -> dict[str, t.Any]:
    """Put the concrete ``g`` and ``request`` objects in the template context.

    ``g`` when an application context is active, ``request`` when a request
    context is active too; templates then look them up without going through the
    proxies. ``session`` is deliberately left out, as in Flask 3.1.3: reading it
    here would open the session and mark it accessed (``Vary: Cookie``) on every
    render. Templates still see ``session`` through the environment's global
    proxy, which opens it only when a template uses it. The first entry of every
    app's and blueprint's ``template_context_processors[None]``, as in Flask.
    """
    rv: dict[str, t.Any] = {}
    app_ctx = _cv_app.get(None)
    if app_ctx is not None:
        rv["g"] = app_ctx.g
    req_ctx = _cv_request.get(None)
    if req_ctx is not None:
        rv["request"] = req_ctx.request
    return rv


class Environment(BaseEnvironment):
    """The Jinja environment of an application, :attr:`Kolben.jinja_env`.

    It knows its application (:attr:`app`) and, unless a ``loader`` option is
    given, loads templates through :meth:`Kolben.create_global_jinja_loader`, which
    searches the app's and its blueprints' template folders.
    """

    def __init__(self, app: Kolben, **options: t.Any) -> None:
        if "loader" not in options:
            options["loader"] = app.create_global_jinja_loader()
        super().__init__(**options)
        #: The application this environment belongs to.
        self.app = app

    def select_template(
        self,
        names: t.Iterable[str | Template],
        parent: str | None = None,
        globals: t.MutableMapping[str, t.Any] | None = None,
    ) -> Template:
        """Like :meth:`jinja2.Environment.select_template`, first template found wins.

        When none is found, the :exc:`~jinja2.TemplatesNotFound` carries a note
        (:pep:`678`) listing the folders that were searched; its message is Jinja's.
        """
        try:
            return super().select_template(names, parent, globals)
        except TemplatesNotFound as e:
            loader = self.loader
            if isinstance(loader, DispatchingJinjaLoader) and e.templates:
                _add_note(e, loader._searched())
            raise


class DispatchingJinjaLoader(BaseLoader):
    """The loader of :attr:`Kolben.jinja_env`: searches the app, then its blueprints.

    The application's own loader (:attr:`Kolben.jinja_loader`) is tried first, then
    each blueprint's ``jinja_loader`` in the order of :meth:`Kolben.iter_blueprints`;
    the first one that finds the template wins. With ``EXPLAIN_TEMPLATE_LOADING``
    set, every loader is tried and the attempts are logged on ``app.logger`` (see
    :func:`kolben.debughelpers.explain_template_loading_attempts`).

    A :exc:`~jinja2.TemplateNotFound` raised here has Jinja's message (the name) and
    a :pep:`678` note naming every folder searched.
    """

    def __init__(self, app: Kolben) -> None:
        self.app = app

    def get_source(self, environment: BaseEnvironment, template: str) -> _Source:
        """Find ``template`` and return ``(source, filename, uptodate)``."""
        if self.app.config["EXPLAIN_TEMPLATE_LOADING"]:
            return self._get_source_explained(environment, template)
        return self._get_source_fast(environment, template)

    def _get_source_fast(self, environment: BaseEnvironment, template: str) -> _Source:
        # Flask passes the template name: subclasses (the "blueprint templates
        # first" recipe) override _iter_loaders(self, template).
        for _srcobj, loader in self._iter_loaders(template):
            try:
                return loader.get_source(environment, template)
            except TemplateNotFound:
                continue
        raise self._not_found(template)

    def _get_source_explained(self, environment: BaseEnvironment, template: str) -> _Source:
        from .debughelpers import explain_template_loading_attempts

        attempts: list[tuple[BaseLoader, Scaffold, _Source | None]] = []
        found: _Source | None = None
        for srcobj, loader in self._iter_loaders(template):
            try:
                rv: _Source | None = loader.get_source(environment, template)
            except TemplateNotFound:
                rv = None
            if found is None:
                found = rv
            attempts.append((loader, srcobj, rv))
        explain_template_loading_attempts(self.app, template, attempts)
        if found is None:
            raise self._not_found(template)
        return found

    def _iter_loaders(self, template: str | None = None) -> t.Iterator[tuple[Scaffold, BaseLoader]]:
        loader = self.app.jinja_loader
        if loader is not None:
            yield self.app, loader
        for blueprint in self.app.iter_blueprints():
            loader = blueprint.jinja_loader
            if loader is not None:
                yield blueprint, loader

    def _searched(self) -> str:
        """``"Searched: <folder>, <folder> (blueprint 'x')"``, for error messages."""
        places: list[str] = []
        # The base listing: a subclass's _iter_loaders(template) may need a name.
        for srcobj, loader in DispatchingJinjaLoader._iter_loaders(self):
            suffix = "" if srcobj is self.app else f" (blueprint {srcobj.name!r})"
            places.extend(place + suffix for place in _loader_places(loader))
        if not places:
            return (
                "No template folder is configured: the application's template_folder"
                " is None and no blueprint has one."
            )
        return "Searched: " + ", ".join(places)

    def _not_found(self, template: str) -> TemplateNotFound:
        # The message stays Jinja's (the name), as in Flask: applications show
        # str(error) to their users, and the folders are server paths. The
        # folders go into a note, which tracebacks print.
        error = TemplateNotFound(template)
        _add_note(error, self._searched())
        return error

    def list_templates(self) -> list[str]:
        """The names of all templates of the app and its blueprints, sorted."""
        names: set[str] = set()
        # As Flask: not through _iter_loaders, which subclasses may make per template.
        for _srcobj, loader in DispatchingJinjaLoader._iter_loaders(self):
            names.update(loader.list_templates())
        return sorted(names)


def _add_note(error: BaseException, note: str) -> None:
    """Add ``note`` to ``error``'s :pep:`678` notes (``__notes__`` on Python 3.10)."""
    add_note = getattr(error, "add_note", None)
    if add_note is not None:
        add_note(note)
    else:  # Python 3.10: no add_note, and tracebacks do not print the notes.
        notes = getattr(error, "__notes__", None)
        if notes is None:
            notes = []
            error.__notes__ = notes  # type: ignore[attr-defined]
        notes.append(note)


def _loader_places(loader: BaseLoader) -> list[str]:
    """Where ``loader`` looks for templates, in words, for error messages."""
    if isinstance(loader, FileSystemLoader):
        return [
            path if os.path.isdir(path) else f"{path} (missing)"
            for path in map(os.fspath, loader.searchpath)
        ]
    if isinstance(loader, PackageLoader):
        return [f"package {loader.package_name!r} folder {loader.package_path!r}"]
    cls = type(loader)
    return [f"a {cls.__module__}.{cls.__qualname__}"]


def _current_app() -> Kolben:
    # PERF: one context variable lookup instead of going through the proxy.
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(_no_app_msg)
    return ctx.app


def _render(app: Kolben, template: Template, context: dict[str, t.Any]) -> str:
    app.update_template_context(context)
    # PERF: signals are only sent when somebody listens.
    if before_render_template.receivers:
        before_render_template.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )
    rv = template.render(context)
    if template_rendered.receivers:
        template_rendered.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )
    return rv


def render_template(
    template_name_or_list: str | Template | list[str | Template], **context: t.Any
) -> str:
    """Render a template by name with the given context.

    :param template_name_or_list: the name of the template, or a list of names, in
        which case the first one that exists is rendered.
    :param context: the variables available in the template, on top of those the
        context processors add (``config``, ``request``, ``session``, ``g`` ...).
    """
    app = _current_app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _render(app, template, context)


def render_template_string(source: str, **context: t.Any) -> str:
    """Render a template from the given source string with the given context.

    Autoescaping is on, as for ``.html`` templates.
    """
    app = _current_app()
    template = app.jinja_env.from_string(source)
    return _render(app, template, context)


def _stream(app: Kolben, template: Template, context: dict[str, t.Any]) -> t.Iterator[str]:
    app.update_template_context(context)
    if before_render_template.receivers:
        before_render_template.send(
            app, _async_wrapper=app.ensure_sync, template=template, context=context
        )

    def generate() -> t.Iterator[str]:
        yield from template.generate(context)
        if template_rendered.receivers:
            template_rendered.send(
                app, _async_wrapper=app.ensure_sync, template=template, context=context
            )

    rv = generate()
    # Keep `request`, `session` and `g` usable while the response is streamed.
    if _cv_request.get(None) is not None:
        rv = stream_with_context(rv)
    return rv


def stream_template(
    template_name_or_list: str | Template | list[str | Template], **context: t.Any
) -> t.Iterator[str]:
    """Render a template by name as a stream of strings, for a streamed response.

    Return it from a view (``return stream_template("big.html", rows=rows)``) and
    the page is sent as Jinja renders it. When a request context is active the
    iterator is wrapped with :func:`~kolben.stream_with_context`, so ``request``
    and ``g`` stay usable while it runs (Flask 2.2+ behaviour).
    """
    app = _current_app()
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _stream(app, template, context)


def stream_template_string(source: str, **context: t.Any) -> t.Iterator[str]:
    """Render a template from a source string as a stream; see :func:`stream_template`."""
    app = _current_app()
    template = app.jinja_env.from_string(source)
    return _stream(app, template, context)


__all__ = [
    "DispatchingJinjaLoader",
    "Environment",
    "render_template",
    "render_template_string",
    "stream_template",
    "stream_template_string",
]
