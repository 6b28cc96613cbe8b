"""Helpers used in views: url_for, redirect, abort, make_response, streaming,
message flashing, sending files, template attributes and safe redirects back."""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import os
import re
import sys
import typing as t
import weakref
from functools import update_wrapper
from urllib.parse import unquote, urljoin, urlsplit

import werkzeug.utils
from werkzeug.exceptions import abort as _werkzeug_abort
from werkzeug.urls import iri_to_uri

from . import globals as _globals
from .concurrency import in_context_copy
from .globals import current_app, request_ctx
from .pipeline import INLINE_CALLS, InContext, InlineCalls, _drive
from .signals import message_flashed

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app
_cv_request = _globals._cv_request

if t.TYPE_CHECKING:
    from datetime import datetime
    from types import TracebackType

    from werkzeug.wrappers import Response as BaseResponse

    from .ctx import AppContext, RequestContext
    from .wrappers import Request, Response


def get_debug_flag() -> bool:
    """Whether debug mode is asked for by ``KOLBEN_DEBUG`` (or ``FLASK_DEBUG``)."""
    val = os.environ.get("KOLBEN_DEBUG") or os.environ.get("FLASK_DEBUG")
    return bool(val and val.lower() not in {"0", "false", "no"})


def get_load_dotenv(default: bool = True) -> bool:
    """Whether the default dotenv files should be loaded: ``default``, unless
    ``KOLBEN_SKIP_DOTENV`` (or ``FLASK_SKIP_DOTENV``) is set, then False
    except for ``0``, ``false`` and ``no``."""
    val = os.environ.get("KOLBEN_SKIP_DOTENV") or os.environ.get("FLASK_SKIP_DOTENV")
    if not val:
        return default
    return val.lower() in ("0", "false", "no")


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
F = t.TypeVar("F", bound=t.Callable[..., t.Any])


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

    With a sync generator, the request's ``teardown_request`` and
    ``teardown_appcontext`` functions run once, when the body ends (with the
    error that ended it, if any); Flask 3.1 runs them twice: when the view
    returns and again when the body ends. (An ``async def`` view under the WSGI
    door runs in a copy of the request's context: there the contexts are pushed
    again when the body is iterated, and teardown runs twice, as in Flask.)

    Async generators (and ``async def`` generator functions) work too: the
    contexts are pushed again while the body is iterated, in a context of the
    body's own, and popped at its end, so the teardown functions run a second
    time (as Flask runs them for sync generators, and as Quart does); what
    that end runs is run as the pipeline runs it: ``async def`` functions
    awaited, sync ones in a worker thread under the ASGI door and in the
    request's thread under WSGI.
    """
    if hasattr(generator_or_function, "__aiter__"):
        return _stream_async_with_context(generator_or_function)  # type: ignore[arg-type,return-value]
    try:
        gen = iter(generator_or_function)  # type: ignore[arg-type]
    except TypeError:
        func = t.cast(t.Callable[..., t.Iterator[t.AnyStr]], generator_or_function)

        def decorator(*args: t.Any, **kwargs: t.Any) -> t.Iterator[t.AnyStr]:
            return stream_with_context(func(*args, **kwargs))

        return update_wrapper(decorator, func)  # type: ignore[return-value]

    app_ctx, req_ctx = _active_contexts()
    # An async view under WSGI runs in a copy of the request's context (a task of
    # the thread's loop): contexts pushed there can't be popped where the body is
    # iterated, so they are pushed when it is iterated, as Flask 3.1 does. Else
    # they are pushed now, while the view's are active, so the request's
    # teardown (and its task resources' release) waits for the end of the body.
    push_now = not in_context_copy.get() and not _push_runs_async_code_here(app_ctx)

    def generator() -> t.Iterator[t.AnyStr | None]:
        # The same context objects (not copies): `g` and `request` are the view's.
        if push_now:
            with _Pushed(app_ctx, req_ctx):
                try:
                    yield None  # primed below
                except GeneratorExit:
                    # Closed before the body started (a HEAD request, a response
                    # replaced or dropped): the request ended as it was, and
                    # its teardown gets its error, not this GeneratorExit (as in
                    # Flask, whose contexts were not pushed again yet).
                    return
                yield from _closing(gen)
        else:
            yield None  # primed below
            with _Pushed(app_ctx, req_ctx):
                yield from _closing(gen)

    wrapped = generator()
    next(wrapped)
    if push_now:
        # The request closes it if its response doesn't send it (see
        # RequestContext._unsent_streams). Held weakly: the body's frame
        # holds the context, and a body dropped unread is closed at once.
        if req_ctx._streams is None:
            req_ctx._streams = []
        req_ctx._streams.append(weakref.ref(wrapped))
    return wrapped  # type: ignore[return-value]


class _Pushed:
    """The app and request contexts pushed again around a sync streamed body,
    and popped at its end with the error that ended it (or None): a
    ``teardown_request`` function's own error does not reach the
    ``teardown_appcontext`` functions, as when a request ends (``with app_ctx,
    req_ctx:`` would hand it to the app context's pop)."""

    __slots__ = ("_app_ctx", "_req_ctx")

    def __init__(self, app_ctx: AppContext, req_ctx: RequestContext) -> None:
        self._app_ctx = app_ctx
        self._req_ctx = req_ctx

    def __enter__(self) -> None:
        self._app_ctx.push()
        try:
            self._req_ctx.push()
        except BaseException as e:
            self._app_ctx.pop(e)
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._req_ctx.pop(exc_value)
        finally:
            self._app_ctx.pop(exc_value)


def _closing(gen: t.Iterator[t.AnyStr]) -> t.Iterator[t.AnyStr]:
    try:
        yield from gen
    finally:
        close = getattr(gen, "close", None)
        if close is not None:
            close()


def _push_runs_async_code_here(app_ctx: AppContext) -> bool:
    """Whether pushing ``app_ctx`` again now would run an ``async def``
    appcontext_pushed receiver on the event loop running in this thread (an
    async view under the ASGI door), where it can't be run to completion from
    the push's sync code. Then the contexts are pushed when the body is
    iterated (where sync code runs), as Flask pushes them."""
    from .concurrency import is_async_callable
    from .signals import appcontext_pushed

    if not appcontext_pushed.receivers:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return any(is_async_callable(r) for r in appcontext_pushed.receivers_for(app_ctx.app))


def _active_contexts() -> tuple[AppContext, RequestContext]:
    """The app and request contexts that stream_with_context pushes again."""
    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        raise RuntimeError(
            "'stream_with_context' can only be used when a request context is active,"
            " such as in a view function."
        )
    return _cv_app.get(), req_ctx


def _stream_async_with_context(source: t.AsyncIterable[t.Any]) -> t.AsyncIterator[t.Any]:
    app_ctx, req_ctx = _active_contexts()
    # The body's own context (a copy of the view's): every step of it runs
    # there, whoever iterates it (the ASGI door's pump, an event stream's
    # keep-alive task, the WSGI door's bridge), so the contexts it pushes are
    # popped where they were pushed.
    context = contextvars.copy_context()
    marker = object()
    context.run(_body_context.set, marker)
    # Sync user code of the pushes and pops: in a worker thread under the ASGI
    # door (never on the server's loop); in the request's own thread under WSGI.
    threads = None if _on_the_asgi_door(req_ctx.request) else INLINE_CALLS
    agen = _in_contexts(source, app_ctx, req_ctx, context, marker, threads)
    return _ContextStream(agen, context)


#: Set in an async ``stream_with_context`` body's own context (to an object of
#: that body's): its end tells whether it runs there (see :func:`_in_contexts`).
_body_context: contextvars.ContextVar[object] = contextvars.ContextVar("kolben.stream_body")


def _on_the_asgi_door(request: Request) -> bool:
    """Whether ``request`` came through the ASGI door (made from its scope, or
    from an environ the door made)."""
    return "_scope" in request.__dict__ or "asgi.scope" in request.environ


class _ContextStream:
    """An async body run in a context of its own (see
    :func:`_stream_async_with_context`): each step is awaited through
    :class:`~kolben.pipeline.InContext`, which also starts the worker-thread
    calls of the sync teardown functions its end runs."""

    __slots__ = ("_agen", "_context")

    def __init__(self, agen: t.AsyncGenerator[t.Any, t.Any], context: contextvars.Context) -> None:
        self._agen = agen
        self._context = context

    def __aiter__(self) -> _ContextStream:
        return self

    # Coroutines (not bare awaitables), as an async generator's methods are
    # taken for: a task may be made of each (asyncio.create_task()).
    async def __anext__(self) -> t.Any:
        return await InContext(self._context, self._agen.__anext__())

    async def asend(self, value: t.Any) -> t.Any:
        return await InContext(self._context, self._agen.asend(value))

    async def athrow(self, *args: t.Any) -> t.Any:
        return await InContext(self._context, self._agen.athrow(*args))

    async def aclose(self) -> None:
        await InContext(self._context, self._agen.aclose())


async def _in_contexts(
    source: t.AsyncIterable[t.Any],
    app_ctx: AppContext,
    req_ctx: RequestContext,
    context: contextvars.Context,
    marker: object,
    threads: InlineCalls | None,
) -> t.AsyncGenerator[t.Any, t.Any]:
    """Iterate ``source`` with the view's contexts (the same objects, so `g` and
    `request` are the view's) pushed again; their pushes and pops run the user
    code that goes with them (signal receivers, teardown functions, task
    resources) as the pipeline runs it: ``async def`` code awaited here, sync
    code where ``threads`` says (see :func:`kolben.pipeline.drive`)."""
    from .signals import appcontext_pushed

    app = req_ctx.app
    if appcontext_pushed.receivers:
        await _drive(app, app_ctx._push(), context, None, threads)
    else:
        app_ctx._cv_tokens.append(_cv_app.set(app_ctx))
    # This body's own tokens: the same context objects may be pushed again
    # meanwhile in other contexts (a sibling stream of the request, the test
    # client's `with client:`), whose tokens can't be reset here.
    app_token = app_ctx._cv_tokens[-1]
    try:
        if not req_ctx._push_now():
            await _drive(app, req_ctx._push(), context, None, threads)
    except BaseException as e:
        _to_top(app_ctx._cv_tokens, app_token)
        await _pop_app_context(app_ctx, e, context, threads)
        raise
    req_token = req_ctx._cv_tokens[-1]
    error: BaseException | None = None
    try:
        async for item in source:
            yield item
    except BaseException as e:
        error = e  # the request's teardown gets it, as a context manager's exit
        raise
    finally:
        end = _end_body(source, app_ctx, req_ctx, app_token, req_token, error, context, threads)
        if _body_context.get(None) is marker:
            await end
        else:
            # Closed outside its context: collected unclosed, the event loop's
            # finalizer (or its shutdown) closes it, in a task of its own.
            await InContext(context, end)


async def _end_body(
    source: t.AsyncIterable[t.Any],
    app_ctx: AppContext,
    req_ctx: RequestContext,
    app_token: t.Any,
    req_token: t.Any,
    error: BaseException | None,
    context: contextvars.Context,
    threads: InlineCalls | None,
) -> None:
    """Close ``source`` and pop the body's contexts (run in its context)."""
    try:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
    finally:
        _to_top(req_ctx._cv_tokens, req_token)
        _to_top(app_ctx._cv_tokens, app_token)
        # The pops run user code (teardown functions, receivers, the task
        # resources' commit and release): a cancellation meanwhile (the
        # client left as the body ended) must not cut it short.
        await _to_the_end(_pop_contexts(app_ctx, req_ctx, error, context, threads), context)


def _to_top(tokens: list[t.Any], own: t.Any) -> None:
    """Move this body's own token to the top of a context's token stack, so its
    pop resets the variable it set (the stack's depth, which decides the last
    pop, is unchanged)."""
    if tokens and tokens[-1] is not own:
        for i, token in enumerate(tokens):
            if token is own:
                del tokens[i]
                tokens.append(own)
                return


async def _pop_contexts(
    app_ctx: AppContext,
    req_ctx: RequestContext,
    error: BaseException | None,
    context: contextvars.Context,
    threads: InlineCalls | None,
) -> None:
    try:
        if not req_ctx._pop_now():
            await _drive(req_ctx.app, req_ctx._pop(error), context, None, threads)
    finally:
        await _pop_app_context(app_ctx, error, context, threads)


async def _to_the_end(coro: t.Coroutine[t.Any, t.Any, None], context: contextvars.Context) -> None:
    """Await ``coro`` (each step run in ``context``, the one running now) to its
    end even if the awaiting task is cancelled meanwhile; the cancellation is
    raised after, as the pipeline does for one that comes while a worker thread
    runs. PERF: no task when ``coro`` ends without suspending."""
    try:
        yielded = coro.send(None)
    except StopIteration:
        return

    async def rest() -> None:
        await InContext(context, coro, yielded)

    task = asyncio.get_running_loop().create_task(rest())
    cancelled: BaseException | None = None
    while not task.done():
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError as e:
            cancelled = e
    if cancelled is not None:
        if not task.cancelled() and task.exception() is not None:
            cancelled.__context__ = task.exception()
        raise cancelled
    task.result()


async def _pop_app_context(
    app_ctx: AppContext,
    error: BaseException | None,
    context: contextvars.Context,
    threads: InlineCalls | None,
) -> None:
    if app_ctx._pop_runs_user_code():
        await _drive(app_ctx.app, app_ctx._pop(error), context, None, threads)
    else:
        app_ctx._pop_plain()


def get_root_path(import_name: str) -> str:
    """Return the folder of the module or package ``import_name``.

    Falls back to the current working folder for an interactive ``__main__`` or a
    module that can't be found. A module that is found but has no file (built
    into Python, frozen, or from an import hook that gives no file name) raises
    ``RuntimeError``, as in Flask: pass ``root_path`` yourself then.
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
        raise RuntimeError(
            f"No root path can be found for the provided module {import_name!r}. This"
            " can happen because the module came from an import hook that does not"
            " provide file name information or because it's a namespace package. In"
            " this case the root path needs to be explicitly provided."
        )
    return os.path.dirname(os.path.abspath(origin))


def _package_parent(import_name: str) -> str:
    """The folder holding the top-level module or package of ``import_name``."""
    top = import_name.partition(".")[0]
    if top == "__main__":
        # ``python -m pkg.mod``: the run module's folder, as Flask; a script or an
        # interactive session (no ``__spec__``): the working folder.
        main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        main_origin: str | None = getattr(main_spec, "origin", None)
        if main_origin is None or not os.path.isabs(main_origin):
            return os.getcwd()
        return os.path.dirname(main_origin)
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
        locations = [os.path.abspath(loc) for loc in spec.submodule_search_locations]
        if not locations:
            return os.getcwd()
        return os.path.dirname(_namespace_location(import_name, locations))
    if spec.origin is None or not os.path.isabs(spec.origin):
        return os.getcwd()
    return os.path.dirname(spec.origin)


def _namespace_location(import_name: str, locations: list[str]) -> str:
    """Of the folders of a top-level (namespace) package, the one holding the
    package ``import_name`` (the first if none is found, or for a module): a
    namespace package spread over several ``sys.path`` entries has the app's
    instance folder beside the part that holds the app's package, as in Flask."""
    if "." in import_name and len(locations) > 1:
        try:
            spec = importlib.util.find_spec(import_name)
        except (ImportError, ValueError):
            spec = None
        # A package's folders only: for a module there, Flask takes the first
        # part, and so does kolben.
        paths: list[str] = []
        if spec is not None and spec.submodule_search_locations:
            paths = list(spec.submodule_search_locations)
        for path in paths:
            path = os.path.abspath(path)
            for location in locations:
                try:
                    if os.path.commonpath([location, path]) == location:
                        return location
                except ValueError:  # different drives on Windows
                    continue
    return locations[0]


def find_package(import_name: str) -> tuple[str | None, str]:
    """The prefix the package or module ``import_name`` is installed under (None
    when it is not installed), and the folder it is imported from (the folder
    holding its top-level package): ``flask.sansio.scaffold.find_package``."""
    path = _package_parent(import_name)
    return _install_prefix(path), path


def find_instance_path(import_name: str, app_name: str) -> str:
    """Return the default instance folder for an app.

    ``<folder holding the app's module or package>/instance`` when the app is not
    installed; ``<prefix>/var/<app name>-instance`` when it is installed: under
    ``sys.prefix`` (for example in a virtualenv), or in any ``site-packages``
    folder, whose prefix is the folder above its ``lib``.
    """
    base = _package_parent(import_name)
    prefix = _install_prefix(base)
    if prefix is None:
        return os.path.join(base, "instance")
    return os.path.join(prefix, "var", f"{app_name}-instance")


def _install_prefix(package_path: str) -> str | None:
    """The prefix an installed package lives under, or None if not installed."""
    py_prefix = os.path.abspath(sys.prefix)
    try:
        if os.path.commonpath([py_prefix, package_path]) == py_prefix:
            return py_prefix
    except ValueError:  # different drives on Windows
        pass
    site_parent, site_folder = os.path.split(package_path)
    if site_folder.lower() != "site-packages":
        return None
    parent, folder = os.path.split(site_parent)
    if folder.lower() == "lib":  # Windows: <prefix>/Lib/site-packages
        return parent
    if os.path.basename(parent).lower() == "lib":  # <prefix>/lib/pythonX.Y/site-packages
        return os.path.dirname(parent)
    return site_parent


def flash(message: str, category: str = "message") -> None:
    """Store a message for the user, to show on the next page they see.

    Messages are kept in the session (under ``"_flashes"``) until a template or
    view reads them with :func:`get_flashed_messages`, usually after a redirect::

        flash("Your post was saved.")
        flash("Invalid password.", "error")
        return redirect(url_for("index"))

    :param message: the message text.
    :param category: any string; ``"message"``, ``"error"``, ``"info"`` and
        ``"warning"`` are the usual ones.

    Sends :data:`~kolben.signals.message_flashed` (only when it has receivers).
    Needs a request context and a working session (a ``SECRET_KEY``).
    """
    # Flask 3.1 semantics: re-assign the list so the session sees the change.
    session = request_ctx.session
    flashes = session.get("_flashes", [])
    flashes.append((category, message))
    session["_flashes"] = flashes
    if message_flashed.receivers:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        message_flashed.send(
            app, _async_wrapper=app.ensure_sync, message=message, category=category
        )


def get_flashed_messages(
    with_categories: bool = False, category_filter: t.Iterable[str] = ()
) -> list[str] | list[tuple[str, str]]:
    """Return the flashed messages and remove them from the session.

    The first call in a request takes the messages out of the session; later calls
    in the same request return the same messages again (so a layout and a page can
    both call it).

    :param with_categories: return ``(category, message)`` tuples instead of the
        messages alone.
    :param category_filter: return only messages of these categories. The others
        are removed from the session all the same. As in Flask, a category is
        kept when ``category in category_filter``: a string filter such as
        ``"errors"`` keeps the categories that are substrings of it (``"error"``),
        not those made of its characters.
    """
    ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
    flashes: list[tuple[str, str]] | None = getattr(ctx, "flashes", None)
    if flashes is None:
        session = ctx.session
        flashes = session.pop("_flashes") if "_flashes" in session else []
        ctx.flashes = flashes
    if category_filter:
        # Flask tests ``f[0] in category_filter``: for a string that is a substring
        # test, which set() would turn into a test against its characters.
        wanted: t.Container[str] = (
            category_filter if isinstance(category_filter, str) else set(category_filter)
        )
        flashes = [f for f in flashes if f[0] in wanted]
    if not with_categories:
        return [f[1] for f in flashes]
    return list(flashes)


# -- sending files -------------------------------------------------------------------


def _send_file_kwargs(**kwargs: t.Any) -> dict[str, t.Any]:
    """The app's defaults for werkzeug's send_file: environ, X-Sendfile, response
    class, max_age from ``get_send_file_max_age``, paths relative to root_path."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if kwargs.get("max_age") is None:
        kwargs["max_age"] = app.get_send_file_max_age
    kwargs["environ"] = request_ctx.request.environ
    kwargs["use_x_sendfile"] = app.config["USE_X_SENDFILE"]
    kwargs["response_class"] = app.response_class
    kwargs["_root_path"] = app.root_path
    return kwargs


def send_file(
    path_or_file: os.PathLike[t.AnyStr] | str | t.IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | t.Callable[[str | None], int | None] | None = None,
) -> Response:
    """Send the contents of a file to the client (werkzeug's
    :func:`~werkzeug.utils.send_file` with the app's settings).

    Never pass a path that came from the user; use :func:`send_from_directory`
    for that.

    :param path_or_file: a path (relative paths are relative to the app's
        ``root_path``, as in Flask), or a file object opened in binary mode.
    :param mimetype: the MIME type; guessed from the file name by default.
    :param as_attachment: tell the browser to save the file rather than show it.
    :param download_name: the name the browser saves the file as; defaults to
        the file's name.
    :param conditional: answer conditional and range requests (``304``, ``206``).
    :param etag: compute an ETag from the file, or use this string.
    :param last_modified: the ``Last-Modified`` time; from the file by default.
    :param max_age: seconds the client may cache the file; by default
        :meth:`Kolben.get_send_file_max_age` (``SEND_FILE_MAX_AGE_DEFAULT``).

    With ``USE_X_SENDFILE`` the body is left to the server (``X-Sendfile``).
    Needs a request context.
    """
    return werkzeug.utils.send_file(  # type: ignore[return-value]
        **_send_file_kwargs(
            path_or_file=path_or_file,
            mimetype=mimetype,
            as_attachment=as_attachment,
            download_name=download_name,
            conditional=conditional,
            etag=etag,
            last_modified=last_modified,
            max_age=max_age,
        )
    )


def send_from_directory(
    directory: os.PathLike[str] | str, path: os.PathLike[str] | str, **kwargs: t.Any
) -> Response:
    """Send the file at ``path`` inside ``directory``; safe for user-given paths.

    A path that would leave ``directory`` (``..``, an absolute path, a Windows
    drive or backslash separator), or a file that does not exist, raises
    :exc:`~werkzeug.exceptions.NotFound` (404)::

        @app.route("/uploads/<path:name>")
        def download(name):
            return send_from_directory(app.config["UPLOAD_FOLDER"], name)

    :param directory: the folder to serve from; relative to the app's
        ``root_path`` if it is not absolute.
    :param path: the file's path inside ``directory``.
    :param kwargs: the options of :func:`send_file`.
    """
    return werkzeug.utils.send_from_directory(  # type: ignore[return-value]
        directory, path, **_send_file_kwargs(**kwargs)
    )


# -- templates -----------------------------------------------------------------------


def get_template_attribute(template_name: str, attribute: str) -> t.Any:
    """Return a macro or variable exported by a template, to call it from Python.

    For a template ``_cider.html`` holding ``{% macro hello(name) %}Hello
    {{ name }}!{% endmacro %}``::

        hello = get_template_attribute("_cider.html", "hello")
        hello("World")

    Uses the current app's Jinja environment; needs an application context.
    """
    return getattr(current_app.jinja_env.get_template(template_name).module, attribute)


# -- safe redirects ------------------------------------------------------------------

#: A URL scheme at the start of a target (RFC 3986 / WHATWG scheme syntax).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
#: How many rounds of percent-decoding a target may need before it is stable.
_DECODE_ROUNDS = 4


def is_safe_url(target: str | None) -> bool:
    """Whether redirecting to ``target`` keeps the browser on this host.

    Accepted: a path (``/account``), a relative reference (``page2``,
    ``?tab=2``), or an absolute ``http``/``https`` URL whose host (and port) is
    the current request's :attr:`~kolben.Request.host`. Rejected: other hosts;
    scheme-relative ``//host`` and what browsers read as one (``/\\host``,
    ``\\\\host``, ``///host``); a scheme without ``//`` (``https:host``,
    ``http:/\\/host``); any scheme but http and https (``javascript:``,
    ``data:``); control characters anywhere (browsers drop tabs and newlines:
    ``/\\t/host`` is ``//host``) and leading or trailing whitespace; user info
    (``http://this@other``); and any of these spelt with percent-encoding, up to
    four levels deep, since a proxy or a later redirect may decode it.

    The check holds for the ``Location`` header the response will carry, not
    only for ``target``: werkzeug rewrites a ``Location`` into a URI
    (:func:`~werkzeug.urls.iri_to_uri`) before it is sent, and that rewrite can
    change the host a browser sees (``http://this\\@other/`` is on this host
    for a browser, but is sent as ``http://this%5C@other/``, user info then
    ``other``). A target is safe only if that rewritten form is safe too, and a
    target the rewrite can't handle (``http://this\\@x:1.other``, where
    ``1.other`` is no port) is not safe. Needs a request context. See
    :func:`redirect_back`.
    """
    if not target or not isinstance(target, str):
        return False
    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        raise RuntimeError(
            "'is_safe_url' compares the target with the current request's host, so"
            " it needs a request context (use it in a view)."
        )
    return _safe_location(target, req_ctx.request.host) is not None


def _safe_location(target: str, host: str) -> str | None:
    """The ``Location`` a redirect to ``target`` sends, if it keeps the browser
    on ``host``; None if it does not (or can't be sent at all).

    That is :func:`~werkzeug.urls.iri_to_uri` of ``target``, the rewrite a
    response applies to its ``Location`` header. Both ``target`` and the
    rewritten URL must stay on ``host`` (however often percent-decoded), and the
    rewritten URL must come out of the rewrite unchanged, so that sending it as
    the ``Location`` sends exactly what was checked.
    """
    if not _every_decoding_stays(target, host):
        return None
    try:
        location = iri_to_uri(target)
        again = iri_to_uri(location)
    except ValueError:  # a port that is no number, a host IDNA can't encode...
        return None
    if again != location or not _every_decoding_stays(location, host):
        return None
    return location


def _every_decoding_stays(target: str, host: str) -> bool:
    """Every percent-decoding of ``target`` stays on ``host``, as a browser
    reads it."""
    form = target
    for _ in range(_DECODE_ROUNDS + 1):
        if not _stays_on_host(form, host):
            return False
        if "%" not in form:
            return True
        decoded = unquote(form, errors="surrogateescape")
        if decoded == form:
            return True
        form = decoded
    return False  # still changing after several decodings: not a URL to trust


def _stays_on_host(target: str, host: str) -> bool:
    """One spelling of a target, read the way a browser reads a link: backslashes
    before the query are slashes; a scheme needs ``//`` and this host."""
    if not target or target[0].isspace() or target[-1].isspace():
        return False
    # PERF: one pass over the string for C0 controls, DEL and C1 controls.
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in target):
        return False
    end = len(target)
    for mark in "?#":
        found = target.find(mark)
        if found != -1 and found < end:
            end = found
    target = target[:end].replace("\\", "/") + target[end:]
    match = _SCHEME.match(target)
    if match is None:
        # A path or relative reference; "//" would start an authority (a host).
        return not target.startswith("//")
    if match.group().lower() not in ("http:", "https:"):
        return False
    rest = target[match.end() :]
    if not rest.startswith("//"):
        return False  # "https:host": another host unless the scheme matches
    authority = rest[2:]
    for mark in "/?#":
        found = authority.find(mark)
        if found != -1:
            authority = authority[:found]
    return authority.lower() == host.lower()


def redirect_back(fallback: str, *, param: str = "next", code: int = 302) -> BaseResponse:
    """Redirect to where the user came from, if that is safe, else to ``fallback``.

    Tries ``request.args[param]`` (``?next=/account``), then the ``Referer``
    header; the first that passes :func:`is_safe_url` and is not the current
    page (same path, whatever the query, so a login form never sends the user
    back to itself) wins. Otherwise the redirect goes to ``fallback``, a URL the
    app chose (``url_for("index")``). The ``Location`` sent for a target is the
    URI form of it (non-ASCII and unsafe characters percent-encoded), the form
    that was checked; a target that can't be sent as a URI falls back too::

        @app.post("/login")
        def login():
            ...  # check the password, log the user in
            return redirect_back(url_for("index"))

    Keep ``next`` on the form's URL so the POST still has it:
    ``<form method="post" action="{{ url_for('login', next=request.args.get('next')) }}">``.
    """
    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        raise RuntimeError(
            "'redirect_back' needs a request context: it reads the request's"
            " arguments and Referer (use it in a view)."
        )
    req = req_ctx.request
    host = req.host
    for target in (req.args.get(param), req.referrer):
        if not target:
            continue
        location = _safe_location(target, host)
        if location is not None and not _is_current_page(target, req):
            return redirect(location, code)
    return redirect(fallback, code)


def _is_current_page(target: str, req: Request) -> bool:
    """Whether ``target`` (a safe target) resolves to the current request's path."""
    base = req.base_url
    resolved = urljoin(base, target.replace("\\", "/"))
    return unquote(urlsplit(resolved).path) == unquote(urlsplit(base).path)


def stream_request_body(view: F) -> F:
    """Mark a view as reading its request body itself, chunk by chunk.

    Under the ASGI door a request body is normally received in full (spooled to a
    file past 1 MiB) before the view runs. A marked view gets it as it arrives:
    ``async for chunk in request.iter_body()`` in an ``async def`` view, or
    ``request.stream.read(n)`` in a sync one (which runs in a worker thread). Only
    what the view reads is received; ``MAX_CONTENT_LENGTH`` (or the request's own
    ``max_content_length``) is enforced as it reads (413). Under WSGI the body is
    always read from the server as the view reads it, so nothing changes there.

    Put it below the route decorator::

        @app.post("/upload")
        @stream_request_body
        async def upload():
            size = 0
            async for chunk in request.iter_body():
                size += len(chunk)
            return {"size": size}

    An ``async def`` view so marked can't use ``request.form``, ``files``,
    ``get_json()`` or ``get_data()`` under ASGI (they would have to wait for the
    client on the event loop): it gets a 413 that says so. The mark is honoured
    while ``app.wsgi_app`` is not wrapped by WSGI middleware and nothing is
    connected to ``appcontext_pushed``.
    """
    view.stream_request_body = True  # type: ignore[attr-defined]
    return view
