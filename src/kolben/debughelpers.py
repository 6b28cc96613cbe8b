"""Errors and log messages that explain common mistakes (debug mode, options)."""

from __future__ import annotations

import typing as t
import weakref

from .caching import WeakKeyCache

if t.TYPE_CHECKING:
    from jinja2 import BaseLoader
    from werkzeug.datastructures import MultiDict

    from .app import Kolben
    from .scaffold import Scaffold
    from .wrappers import Request


class UnexpectedUnicodeError(AssertionError, UnicodeError):
    """Raised where text or bytes of an unexpected kind would give a less
    helpful error (kept for Flask compatibility)."""


class DebugFilesKeyError(KeyError, AssertionError):
    """Raised in debug mode by ``request.files[key]`` when ``key`` is not a file
    but was sent as a form field: the form was not sent as
    ``multipart/form-data``, so the browser sent file names, not files.

    A :exc:`KeyError` (as the lookup would raise anyway) and an
    :exc:`AssertionError` (a programming error, not bad input).
    """

    def __init__(self, request: Request, key: str) -> None:
        sent = request.form.getlist(key)
        parts = [
            f"You tried to access the file {key!r} in request.files, but the request"
            f" has no such file. Its content type is {request.mimetype!r}, not"
            " 'multipart/form-data', so no file contents were transmitted. Add"
            ' enctype="multipart/form-data" to the <form> tag (with method="post").'
        ]
        if sent:
            names = ", ".join(repr(x) for x in sent)
            parts.append(
                f"\n\nThe browser sent the file name instead, as the form field {key!r}."
                f" This was submitted: {names}."
            )
        parts.append("\n\nThis exception is only raised in debug mode.")
        self.msg = "".join(parts)
        super().__init__(key)

    def __str__(self) -> str:
        return self.msg


def attach_enctype_error_multidict(request: Request) -> None:
    """Make ``request.files[key]`` raise :exc:`DebugFilesKeyError` for a key that
    was sent as a form field instead of a file. Used in debug mode for requests
    that are not ``multipart/form-data``."""
    files = request.files
    files.__class__ = t.cast(t.Any, _explaining_files_class(type(files)))
    files._kolben_request = request  # type: ignore[attr-defined]


# files class -> a weak reference to its explaining subclass (weak both ways: the
# subclass refers to its base, so a strong value would keep the base alive).
_explaining_classes: WeakKeyCache[weakref.ref[type[t.Any]]] = WeakKeyCache(
    16, "kolben.debughelpers: explaining files classes"
)


def _explaining_files_class(base: type[MultiDict[str, t.Any]]) -> type[MultiDict[str, t.Any]]:
    """A subclass of ``base`` whose missing keys raise :exc:`DebugFilesKeyError`
    when the key is in the request's form (one per files class, cached while
    it is in use)."""
    ref = _explaining_classes.get(id(base))
    cls = None if ref is None else ref()
    if cls is None:
        cls = _make_explaining_files_class(base)
        _explaining_classes.put_for(base, weakref.ref(cls))
    return cls


def _make_explaining_files_class(
    base: type[MultiDict[str, t.Any]],
) -> type[MultiDict[str, t.Any]]:

    class ExplainingFiles(base):  # type: ignore[valid-type, misc]
        def __getitem__(self, key: str) -> t.Any:
            try:
                return super().__getitem__(key)
            except KeyError as e:
                request = self.__dict__.get("_kolben_request")
                if request is None or key not in request.form:
                    raise
                raise DebugFilesKeyError(request, key).with_traceback(e.__traceback__) from None

    ExplainingFiles.__name__ = base.__name__
    ExplainingFiles.__qualname__ = base.__qualname__
    ExplainingFiles.__module__ = base.__module__
    return ExplainingFiles


class FormDataRoutingRedirect(AssertionError):
    """Raised in debug mode when routing would redirect a request with a body.

    Browsers drop the form data when they follow such a redirect (anything but a
    307 or 308), usually because a URL without a trailing slash was posted to a
    rule that has one.
    """

    def __init__(self, request: Request) -> None:
        exc = request.routing_exception
        new_url = getattr(exc, "new_url", "?")
        buf = [
            f"A request was sent to {request.url!r}, but routing issued a redirect to"
            f" the canonical URL {new_url!r}."
        ]
        if f"{request.base_url}/" == new_url.partition("?")[0]:
            buf.append(
                " The URL was defined with a trailing slash. kolben redirects to the"
                " URL with a trailing slash when it is accessed without one."
            )
        buf.append(
            " Send requests to the canonical URL, or use 307 or 308 for routing"
            " redirects; otherwise browsers drop the form data.\n\n"
            "This exception is only raised in debug mode."
        )
        super().__init__("".join(buf))


def _describe_loader(loader: BaseLoader) -> t.Iterator[str]:
    """The class and the public settings of a template loader, one per line."""
    cls = type(loader)
    yield f"class: {cls.__module__}.{cls.__qualname__}"
    for key, value in sorted(vars(loader).items()):
        if key.startswith("_"):
            continue
        if isinstance(value, (tuple, list)):
            if not all(isinstance(x, str) for x in value):
                continue
            yield f"{key}:"
            for item in value:
                yield f"  - {item}"
        elif isinstance(value, (str, int, float, bool)):
            yield f"{key}: {value!r}"


def explain_template_loading_attempts(
    app: Kolben,
    template: str,
    attempts: list[tuple[BaseLoader, Scaffold, tuple[str, str | None, t.Any] | None]],
) -> None:
    """Log, at INFO on ``app.logger``, how ``template`` was looked for.

    Called by the app's template loader when ``EXPLAIN_TEMPLATE_LOADING`` is set.
    ``attempts`` holds one ``(loader, app or blueprint, get_source result or None)``
    per loader tried, in search order. The log lists each loader with its settings
    and whether it found the template, and adds hints when nothing or more than one
    loader matched (as Flask does).
    """
    from .globals import _cv_request

    lines = [f"Locating template {template!r}:"]
    total_found = 0
    blueprint: str | None = None
    req_ctx = _cv_request.get(None)
    if req_ctx is not None:
        blueprint = req_ctx.request.blueprint

    for idx, (loader, srcobj, triple) in enumerate(attempts, 1):
        if srcobj is app:
            src_info = f"application {app.import_name!r}"
        else:
            src_info = f"blueprint {srcobj.name!r} ({srcobj.import_name})"
        lines.append(f"{idx:5}: trying loader of {src_info}")
        lines.extend(f"       {detail}" for detail in _describe_loader(loader))
        if triple is None:
            lines.append("       -> no match")
        else:
            lines.append(f"       -> found ({triple[1] or '<string>'!r})")
            total_found += 1

    if not attempts:
        lines.append(
            "Error: no loader to search: the application's template_folder is None"
            " and no blueprint has a template_folder."
        )
    elif total_found == 0:
        lines.append("Error: the template could not be found.")
        lines.extend(_blueprint_hint(blueprint))
        lines.append(
            "  Templates are found in the application's template folder first, then"
            " in each blueprint's, in registration order; names are relative to those"
            " folders. See https://flask.palletsprojects.com/blueprints/#templates"
            " (kolben finds templates as Flask does)."
        )
    elif total_found > 1:
        lines.append(
            "Warning: multiple loaders returned a match for the template; the first one is used."
        )
        lines.extend(_blueprint_hint(blueprint))

    app.logger.info("\n".join(lines))


def _blueprint_hint(blueprint: str | None) -> list[str]:
    """The lines pointing a template lookup from a blueprint's view to the docs
    on blueprint templates (none outside a blueprint)."""
    if blueprint is None:
        return []
    return [
        "  The template was looked up from an endpoint that belongs to the"
        f" blueprint {blueprint!r}.",
        "  Maybe you did not place a template in the right folder?",
        f"  See {BLUEPRINT_TEMPLATES_DOCS}.",
    ]


#: Where blueprint templates are documented; the template-loading report points here.
BLUEPRINT_TEMPLATES_DOCS = (
    "'Templates and static files' in the blueprints guide (docs/blueprints.md):"
    " a blueprint's templates go in a subfolder named after it, e.g."
    " 'templates/<blueprint>/page.html', rendered as '<blueprint>/page.html'"
)
