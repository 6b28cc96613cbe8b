"""Helpers used in views: url_for, redirect, abort, make_response, streaming."""

from __future__ import annotations

import importlib.util
import os
import sys
import typing as t
from functools import update_wrapper

import werkzeug.utils
from werkzeug.exceptions import abort as _werkzeug_abort

from .globals import _cv_app, _cv_request, current_app

if t.TYPE_CHECKING:
    from werkzeug.wrappers import Response as BaseResponse

    from .wrappers import Response


def get_debug_flag() -> bool:
    """Whether debug mode is asked for by ``KOLBEN_DEBUG`` (or ``FLASK_DEBUG``)."""
    val = os.environ.get("KOLBEN_DEBUG") or os.environ.get("FLASK_DEBUG")
    return bool(val and val.lower() not in {"0", "false", "no"})


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: t.Any,
) -> str:
    """Build the URL of ``endpoint`` with the given values; see :meth:`Kolben.url_for`.

    Unknown keyword arguments become query arguments. ``_external`` makes an
    absolute URL (the default outside a request), ``_scheme`` sets its scheme,
    ``_anchor`` appends ``#anchor`` and ``_method`` picks the rule for a method.
    """
    return current_app.url_for(
        endpoint,
        _anchor=_anchor,
        _method=_method,
        _scheme=_scheme,
        _external=_external,
        **values,
    )


def redirect(
    location: str, code: int = 302, Response: type[BaseResponse] | None = None
) -> BaseResponse:
    """Return a response that redirects the client to ``location`` (302 by default).

    Inside an app context this is ``current_app.redirect``, which an app can
    override; ``Response`` is only used outside one.
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.redirect(location, code=code)
    return werkzeug.utils.redirect(location, code=code, Response=Response)


def abort(code: int | BaseResponse, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
    """Raise the HTTP exception for ``code`` (or a response to send as is).

    Inside an app context ``current_app.aborter`` is used, so an app can register
    its own exception classes.
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        ctx.app.aborter(code, *args, **kwargs)
    _werkzeug_abort(code, *args, **kwargs)


def make_response(*args: t.Any) -> Response:
    """Turn a view's return value into a response object, to change it in the view.

    With no argument, an empty response; with one, that value; with several, the
    tuple of them, so ``make_response(body, 404, headers)`` works like returning it.
    """
    if not args:
        return current_app.response_class()
    if len(args) == 1:
        return current_app.make_response(args[0])
    return current_app.make_response(args)


G = t.TypeVar("G", bound=t.Iterator[t.Any])


def stream_with_context(
    generator_or_function: t.Iterator[t.AnyStr] | t.Callable[..., t.Iterator[t.AnyStr]],
) -> t.Iterator[t.AnyStr]:
    """Keep the request context active while a streamed response is generated.

    Without it, ``request`` and ``g`` are gone by the time the server iterates the
    body. Wrap a generator, or decorate a generator function::

        @app.route("/stream")
        def streamed():
            @stream_with_context
            def generate():
                yield "Hello "
                yield request.args["name"]
            return generate()
    """
    try:
        gen = iter(generator_or_function)  # type: ignore[arg-type]
    except TypeError:
        func = t.cast(t.Callable[..., t.Iterator[t.AnyStr]], generator_or_function)

        def decorator(*args: t.Any, **kwargs: t.Any) -> t.Iterator[t.AnyStr]:
            return stream_with_context(func(*args, **kwargs))

        return update_wrapper(decorator, func)  # type: ignore[return-value]

    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        raise RuntimeError(
            "'stream_with_context' can only be used while a request context is active,"
            " such as in a view function."
        )
    app_ctx = _cv_app.get()

    def generator() -> t.Iterator[t.AnyStr | None]:
        # Re-push the same contexts (not copies) so `g` and `request` are the view's.
        with app_ctx, req_ctx:
            yield None  # primed below, while the view's contexts are still active
            try:
                yield from gen
            finally:
                close = getattr(gen, "close", None)
                if close is not None:
                    close()

    wrapped = generator()
    next(wrapped)
    return wrapped  # type: ignore[return-value]


def get_root_path(import_name: str) -> str:
    """Return the folder of the module or package ``import_name``.

    Falls back to the current working folder for an interactive ``__main__`` or a
    module that can't be found on disk.
    """
    mod = sys.modules.get(import_name)
    filename: str | None = getattr(mod, "__file__", None)
    if filename is not None:
        return os.path.dirname(os.path.abspath(filename))
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return os.getcwd()
    origin = spec.origin
    if origin is None or not os.path.isabs(origin):  # namespace, built-in, frozen
        if spec.submodule_search_locations:
            return os.path.abspath(next(iter(spec.submodule_search_locations)))
        return os.getcwd()
    return os.path.dirname(os.path.abspath(origin))


def _package_parent(import_name: str) -> str:
    """The folder holding the top-level module or package of ``import_name``."""
    top = import_name.partition(".")[0]
    mod = sys.modules.get(top)
    filename: str | None = getattr(mod, "__file__", None)
    if filename:
        origin = os.path.abspath(filename)
        is_package = hasattr(mod, "__path__")
        folder = os.path.dirname(origin)
        return os.path.dirname(folder) if is_package else folder
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return os.getcwd()
    if spec.submodule_search_locations:  # a package, maybe a namespace package
        location = next(iter(spec.submodule_search_locations), None)
        if location is None:
            return os.getcwd()
        return os.path.dirname(os.path.abspath(location))
    if spec.origin is None or not os.path.isabs(spec.origin):
        return os.getcwd()
    return os.path.dirname(spec.origin)


def find_instance_path(import_name: str, app_name: str) -> str:
    """Return the default instance folder for an app.

    ``<folder holding the app's module or package>/instance`` when the app is not
    installed; ``<sys.prefix>/var/<app name>-instance`` when it is installed in
    site-packages (for example in a virtualenv).
    """
    base = _package_parent(import_name)
    prefix = os.path.abspath(sys.prefix)
    installed = os.path.basename(base) in ("site-packages", "dist-packages")
    if installed and os.path.commonpath([prefix, base]) == prefix:
        return os.path.join(prefix, "var", f"{app_name}-instance")
    return os.path.join(base, "instance")
