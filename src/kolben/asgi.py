"""The ASGI front door: scope, receive and send in; the same core pipeline inside.

The door translates I/O and nothing else. For an HTTP request it

1. builds the WSGI-shaped environ werkzeug's request object is made from
   (headers, query, root path, client, scheme) out of the ASGI scope,
2. receives the body before the view runs, spooled to a temporary file past
   :data:`SPOOL_THRESHOLD` bytes, and stops receiving (without reading the rest)
   once ``MAX_CONTENT_LENGTH`` is exceeded,
3. runs the core pipeline (:func:`kolben.wsgi.serve`: contexts, hooks, view, error
   handlers, sessions, teardown) in a worker thread, in a copy of the current
   :mod:`contextvars` context, so a sync view never blocks the event loop; an
   ``async def`` view or hook is handed back to the server's event loop and runs
   there (see :func:`kolben.concurrency.run_sync`),
4. sends the status and headers, then the body: in one message when it is
   buffered, chunk by chunk when it streams (a sync iterator is advanced in the
   worker thread, an async iterator on the loop), and stops as soon as the client
   disconnects, closing the generator so its ``finally`` blocks run.

The ``lifespan`` protocol runs the app's ``before_serving`` and ``after_serving``
functions.
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import contextlib
import contextvars
import io
import sys
import tempfile
import typing as t
from functools import partial
from urllib.parse import unquote_to_bytes

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from .app import PREPARED_CONTEXT_KEY, Kolben
from .concurrency import _server_loop, is_async_callable, running_loop
from .ctx import RequestContext
from .globals import _cv_app, _cv_request
from .sessions import SecureCookieSessionInterface
from .signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    got_request_exception,
    request_finished,
    request_started,
    request_tearing_down,
)
from .wsgi import end_request

if t.TYPE_CHECKING:
    from .wrappers import Request

Scope = t.MutableMapping[str, t.Any]
Message = t.MutableMapping[str, t.Any]
Receive = t.Callable[[], t.Awaitable[Message]]
Send = t.Callable[[Message], t.Awaitable[None]]

#: Request bodies larger than this many bytes are spooled to a temporary file.
SPOOL_THRESHOLD = 1024 * 1024

#: The environ key holding the ASGI scope, for code that wants it.
SCOPE_KEY = "asgi.scope"
#: Extra environ entries a caller may pass in the scope (used by the test client).
ENVIRON_EXTRA_KEY = "kolben.environ"


def serve(app: Kolben, scope: Scope, receive: Receive, send: Send) -> t.Awaitable[None]:
    """Handle one ASGI connection: ``http``, ``websocket`` (see
    :mod:`kolben.websocket`) or ``lifespan``; returns the awaitable doing it.

    PERF: a plain function handing back the handler's coroutine, so awaiting it
    adds no coroutine of its own to every request.
    """
    kind = scope["type"]
    if kind == "http":
        return _serve_http(app, scope, receive, send)
    if kind == "websocket":
        from .websocket import serve_websocket

        return serve_websocket(app, scope, receive, send)
    if kind == "lifespan":
        return _serve_lifespan(app, scope, receive, send)
    raise ValueError(f"kolben can't serve ASGI scope type {kind!r}.")


# -- the request --------------------------------------------------------------------


def build_environ(scope: Scope, body: t.IO[bytes]) -> dict[str, t.Any]:
    """The WSGI environ for an ASGI HTTP scope (PEP 3333 string rules)."""
    root_path: str = scope.get("root_path", "")
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is not None:
        if b"?" in raw_path:
            raw_path = raw_path.partition(b"?")[0]
        # PERF: most paths have nothing percent-encoded.
        path_info = (
            unquote_to_bytes(raw_path) if b"%" in raw_path else raw_path
        ).decode("latin-1")
    else:
        path_info = scope["path"].encode("utf-8").decode("latin-1")
    if root_path:
        script_name = root_path.encode("utf-8").decode("latin-1")
        if path_info.startswith(script_name):
            path_info = path_info[len(script_name) :]
    else:
        script_name = ""

    # PERF: the constant entries come from a template (one dict copy).
    environ = _ENVIRON_TEMPLATE.copy()
    environ["REQUEST_METHOD"] = scope["method"]
    environ["SCRIPT_NAME"] = script_name
    environ["PATH_INFO"] = path_info
    environ["QUERY_STRING"] = scope.get("query_string", b"").decode("latin-1")
    server = scope.get("server") or _DEFAULT_SERVER
    environ["SERVER_NAME"] = server[0]
    port = server[1]
    environ["SERVER_PORT"] = "" if port is None else str(port)
    version = scope.get("http_version", "1.1")
    environ["SERVER_PROTOCOL"] = "HTTP/1.1" if version == "1.1" else f"HTTP/{version}"
    environ["wsgi.url_scheme"] = scope.get("scheme", "http")
    environ["wsgi.input"] = body
    environ["wsgi.errors"] = sys.stderr
    environ[SCOPE_KEY] = scope
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    keys = _ENVIRON_KEYS
    for raw_name, raw_value in scope.get("headers", ()):
        key = keys.get(raw_name) or _environ_key(raw_name)
        value = raw_value.decode("latin-1")
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = f"{environ[key]}{separator}{value}"
        else:
            environ[key] = value
    extra = scope.get(ENVIRON_EXTRA_KEY)
    if extra:
        environ.update(extra)
    return environ


_DEFAULT_SERVER = ("localhost", 80)
_ENVIRON_TEMPLATE: dict[str, t.Any] = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "",
    "QUERY_STRING": "",
    "SERVER_NAME": "",
    "SERVER_PORT": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.input": None,
    "wsgi.input_terminated": True,
    "wsgi.errors": None,
    "wsgi.multithread": True,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
    SCOPE_KEY: None,
}


# PERF: header name -> environ key, for the names clients send (bounded: the names
# are the client's choice, so only the first few hundred distinct ones are kept).
_ENVIRON_KEYS: dict[bytes, str] = {}


def _environ_key(raw_name: bytes) -> str:
    name = raw_name.decode("latin-1").upper().replace("-", "_")
    key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
    if len(_ENVIRON_KEYS) < 512:
        _ENVIRON_KEYS[raw_name] = key
    return key


class LazyBody(io.RawIOBase):
    """The rest of a request body, received from the client only when read.

    Used for a body larger than ``MAX_CONTENT_LENGTH``: it is not received before
    the view runs, so a view that doesn't read it (or gets the 413 werkzeug raises
    for it) costs nothing, and a view that raises ``request.max_content_length``
    for itself can still read it. Reading happens in the worker thread of a sync
    view, which asks the event loop for each chunk; an async view, running on the
    loop itself, can't wait for the loop, and gets a 413.
    """

    def __init__(
        self,
        prefix: t.IO[bytes],
        receive: Receive,
        loop: asyncio.AbstractEventLoop,
        received: int = 0,
        done: bool = False,
    ) -> None:
        self._prefix = prefix
        self._received = received
        self._receive = receive
        self._loop = loop
        self._pending = b""
        self._done = done

    def readable(self) -> bool:
        return True

    def _pull(self) -> bytes:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RequestEntityTooLarge(
                "This request body was not received before the view (it is larger"
                " than MAX_CONTENT_LENGTH, or the view is marked stream_request_body),"
                " and an async view can't wait for it on the event loop: read it with"
                " 'async for chunk in request.iter_body()', or use a sync view."
            )
        message = asyncio.run_coroutine_threadsafe(_awaited(self._receive), self._loop).result()
        return self._take(message)

    def _take(self, message: Message) -> bytes:
        """The body chunk of a received message (counted); raises
        ClientDisconnected for a disconnect."""
        if message["type"] == "http.disconnect":
            raise ClientDisconnected()
        if not message.get("more_body", False):
            self._done = True
        chunk = t.cast(bytes, message.get("body", b""))
        self._received += len(chunk)
        return chunk

    def readinto(self, buffer: t.Any) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        data = self._prefix.read(want)
        if not data:
            data = self._pending
            while not data and not self._done:
                data = self._pull()
            if len(data) > want:
                data, self._pending = data[:want], data[want:]
            else:
                self._pending = b""
        req_ctx = _cv_request.get(None)
        limit = req_ctx.request.max_content_length if req_ctx is not None else None
        if limit is not None and self._received > limit:
            # Past the request's limit (MAX_CONTENT_LENGTH, or what the view set):
            # 413, as for a declared length over it, rather than a cut-off body.
            raise RequestEntityTooLarge()
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._prefix.close()
        super().close()

    async def receive_chunks(self, limit: int | None) -> t.AsyncIterator[bytes]:
        """The rest of the body as it is received, for code on the event loop
        (:meth:`kolben.Request.iter_body`); 413 once more than ``limit`` bytes
        have come."""
        data = self._prefix.read() + self._pending
        self._pending = b""
        if data:
            yield data
        while not self._done:
            chunk = self._take(await self._receive())
            if limit is not None and self._received > limit:
                raise RequestEntityTooLarge()
            if chunk:
                yield chunk


async def _awaited(receive: Receive) -> Message:
    return await receive()


async def receive_body(
    receive: Receive, content_length: int | None, max_length: int | None
) -> tuple[t.IO[bytes], bool]:
    """Receive the request body before the view runs; ``(stream, disconnected)``.

    The body is spooled to a temporary file past :data:`SPOOL_THRESHOLD` bytes.
    Past ``max_length`` (``MAX_CONTENT_LENGTH``) nothing more is received: the
    rest is left to a :class:`LazyBody`, read only if the view reads that far
    (werkzeug raises 413 first unless the request's limit was raised).
    """
    if max_length is not None and content_length is not None and content_length > max_length:
        loop = asyncio.get_running_loop()
        return t.cast(t.IO[bytes], LazyBody(io.BytesIO(), receive, loop)), False
    first = await receive()
    if first["type"] == "http.request" and not first.get("more_body", False):
        # PERF: a body in one message (every GET) needs no spool file.
        chunk = first.get("body", b"")
        if max_length is None or len(chunk) <= max_length:
            return io.BytesIO(chunk), False
        loop = asyncio.get_running_loop()
        whole = LazyBody(io.BytesIO(chunk), receive, loop, received=len(chunk), done=True)
        return t.cast(t.IO[bytes], whole), False
    elif first["type"] == "http.disconnect":
        return io.BytesIO(), True
    loop = asyncio.get_running_loop()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_THRESHOLD)  # noqa: SIM115
    pending: Message | None = first
    size = 0
    while True:
        message = pending if pending is not None else await receive()
        pending = None
        if message["type"] == "http.disconnect":
            spool.close()
            return t.cast(t.IO[bytes], io.BytesIO()), True
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        if chunk:
            spool.write(chunk)
            size += len(chunk)
        if max_length is not None and size > max_length:
            # Stop receiving; reading the body gives 413 unless the view raised
            # the request's limit, in which case the rest is received as read.
            spool.seek(0)
            rest = LazyBody(spool, receive, loop, received=size, done=not more)
            return t.cast(t.IO[bytes], rest), False
        if not more:
            break
    spool.seek(0)
    return t.cast(t.IO[bytes], spool), False


async def _serve_http(app: Kolben, scope: Scope, receive: Receive, send: Send) -> None:
    environ = build_environ(scope, _NO_BODY)
    if app._has_streamed_bodies and "wsgi_app" not in app.__dict__:
        # The view may want the body as it arrives: match the request first.
        lazy = LazyBody(io.BytesIO(), receive, asyncio.get_running_loop())
        environ["wsgi.input"] = lazy
        ctx = _prepared_context(app, environ)
        if ctx is not None:
            environ[PREPARED_CONTEXT_KEY] = ctx
            rule = ctx.request.url_rule
            if rule is not None and getattr(
                app.view_functions.get(rule.endpoint), "stream_request_body", False
            ):
                try:
                    await _respond(app, environ, receive, send)
                finally:
                    lazy.close()
                return
    length = environ.get("CONTENT_LENGTH")
    body: t.IO[bytes]
    if (
        length is None
        and environ["REQUEST_METHOD"] in _BODILESS_METHODS
        and "HTTP_TRANSFER_ENCODING" not in environ
        and environ["SERVER_PROTOCOL"] in _HTTP1
    ):
        # PERF: an HTTP/1 GET or HEAD without Content-Length or Transfer-Encoding
        # has no body (RFC 9112, 6.3), so nothing is waited for (some servers
        # make even an empty receive() cost a trip through the loop). The
        # server's empty http.request message stays unread; a disconnect watcher
        # skips it. A client gone before the view runs is noticed on sending.
        body = io.BytesIO()
    else:
        content_length: int | None = None
        if length is not None:
            try:  # noqa: SIM105 - PERF: cheaper than contextlib.suppress
                content_length = int(length)
            except ValueError:
                pass
        body, disconnected = await receive_body(
            receive, content_length, app.config["MAX_CONTENT_LENGTH"]
        )
        if disconnected:
            return
    environ["wsgi.input"] = body
    try:
        await _respond(app, environ, receive, send)
    finally:
        body.close()


_NO_BODY = t.cast(t.IO[bytes], io.BytesIO())
#: Requests that have no body unless a header frames one (see _serve_http).
_BODILESS_METHODS = frozenset({"GET", "HEAD"})
_HTTP1 = frozenset({"HTTP/1.1", "HTTP/1.0"})


def _prepared_context(app: Kolben, environ: dict[str, t.Any]) -> RequestContext | None:
    """A request context for ``environ``, matched with the contexts pushed (as
    Flask matches) and popped again without teardown, to be pushed for real by
    whichever path serves the request; None if the app customises making it."""
    if _overrides_pipeline(type(app)) or appcontext_pushed.receivers:
        # (A receiver would hear the push here and again where it is served.)
        return None
    ctx = RequestContext(app, environ)
    try:
        ctx.push()
    except Exception:
        # The real push will fail the same way, and be handled there.
        if ctx._cv_tokens:
            ctx._unpush()
        return None
    ctx._unpush()
    return ctx


async def _respond(app: Kolben, environ: dict[str, t.Any], receive: Receive, send: Send) -> None:
    loop = running_loop()
    served: tuple[t.Any, int, list[tuple[str, str]]] | None = None
    if "wsgi_app" not in app.__dict__:
        # PERF: a request whose only user code is an async view runs right here,
        # in the server's task: no task, no thread (every context it pushes is
        # popped before this returns).
        token = _server_loop.set(loop)
        try:
            served = await _serve_on_loop(app, environ)
        finally:
            _server_loop.reset(token)
    # Otherwise the request runs in a worker thread, in its own copy of the
    # context (async views and hooks called from there find the server's loop
    # through _server_loop); a sync body is advanced in that context too.
    context: contextvars.Context | None = None
    if served is None:
        captured: list[t.Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
        ) -> t.Any:
            captured[:] = [status, headers]
            return _no_write

        context = _request_context_copy(loop)
        # Through app.wsgi_app, so WSGI middleware (ProxyFix...) applies here too.
        app_iter = await app.worker_threads.run(
            loop, partial(context.run, app.wsgi_app, environ, start_response)
        )
        status_line, headers = captured
        status = int(status_line.split(" ", 1)[0])
    else:
        app_iter, status, headers = served
        if not isinstance(app_iter, (list, tuple)):
            # A streamed body of the loop path: advanced (and closed) in one context.
            context = _request_context_copy(loop)
    names = _HEADER_NAMES
    try:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (names.get(name) or _header_name(name), value.encode("latin-1"))
                    for name, value in headers
                ],
            }
        )
        if isinstance(app_iter, (list, tuple)):
            # PERF: a buffered body goes out in one message, without threads.
            await send({"type": "http.response.body", "body": b"".join(app_iter)})
            return
        await _send_body(
            loop, app, t.cast(contextvars.Context, context), app_iter, receive, send
        )
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            assert context is not None  # a list or tuple has no close()
            await app.worker_threads.run(loop, partial(context.run, close))


def _request_context_copy(loop: asyncio.AbstractEventLoop) -> contextvars.Context:
    """A copy of the current context for a request's work in worker threads, in
    which async code finds the server's loop (:data:`_server_loop`)."""
    context = contextvars.copy_context()
    context.run(_server_loop.set, loop)
    return context


# PERF: response header names as ASGI wants them (lowercase bytes); the app's own
# names repeat, so they are converted once (bounded all the same).
_HEADER_NAMES: dict[str, bytes] = {}


def _header_name(name: str) -> bytes:
    raw = _HEADER_NAMES.get(name)
    if raw is None:
        raw = name.lower().encode("latin-1")
        if len(_HEADER_NAMES) < 512:
            _HEADER_NAMES[name] = raw
    return raw


# -- async views on the loop ---------------------------------------------------------


def _app_allows_loop(app: Kolben) -> bool:
    """Whether the app could serve some requests on the loop at all: its pipeline
    methods are kolben's, it has the built-in cookie sessions, and nothing app-wide
    would run user code that might block (connected signals, app-context teardown
    functions, task resources)."""
    if _overrides_pipeline(type(app)):
        return False
    if app.teardown_appcontext_funcs or app.task_resources:
        return False
    if type(app.session_interface) is not SecureCookieSessionInterface:
        return False
    # PERF: spelled out rather than any() over a generator (~1 µs a request).
    return not (
        request_started.receivers
        or request_finished.receivers
        or got_request_exception.receivers
        or request_tearing_down.receivers
        or appcontext_tearing_down.receivers
        or appcontext_pushed.receivers
        or appcontext_popped.receivers
    )


def _loop_view(app: Kolben, request: Request) -> t.Callable[..., t.Any] | None:
    """The async view to await on the loop for this (matched) request, or None
    when it must take the worker-thread path.

    A request qualifies when its view is an ``async def`` function and its scope
    (the app and its blueprints) has no ``before_request``, ``after_request``,
    ``teardown_request`` or URL-value functions and no async error handler.
    """
    rule = request.url_rule
    if rule is None or request.routing_exception is not None:
        return None
    if rule.websocket:  # an upgrade over plain HTTP: the pipeline answers 426
        return None
    if request.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
        return None
    view = app.view_functions.get(rule.endpoint)
    if view is None or not is_async_callable(view):
        return None
    registries = (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
        app.url_value_preprocessors,
    )
    spec = app.error_handler_spec
    if not spec and not any(registries):  # PERF: most apps register no hooks at all
        return view
    scopes = (None, *request.blueprints)
    for registry in registries:
        for name in scopes:
            if registry.get(name):
                return None
    if spec:
        for name in scopes:
            for handlers in (spec.get(name) or {}).values():
                for handler in handlers.values():
                    if is_async_callable(handler):
                        return None
    return view


_PIPELINE_METHODS = (
    "wsgi_app",
    "request_context",
    "full_dispatch_request",
    "preprocess_request",
    "dispatch_request",
)
_pipeline_overrides: dict[type[Kolben], bool] = {}


def _overrides_pipeline(cls: type[Kolben]) -> bool:
    """Whether an app class overrides a pipeline method the loop path skips."""
    overridden = _pipeline_overrides.get(cls)
    if overridden is None:
        overridden = _pipeline_overrides[cls] = any(
            getattr(cls, name) is not getattr(Kolben, name) for name in _PIPELINE_METHODS
        )
    return overridden




async def _serve_on_loop(
    app: Kolben, environ: dict[str, t.Any]
) -> tuple[t.Any, int, list[tuple[str, str]]] | None:
    """Serve a request whose only user code is an async view, on the loop.

    PERF: no thread crossing (~100 µs each way on a small machine). This is the
    core pipeline's own steps (request context, dispatch, error handling,
    finalize, teardown; see :func:`kolben.wsgi.serve` and
    :meth:`Kolben.full_dispatch_request`) with the view awaited instead of called;
    :func:`_loop_view` admits only requests for which the skipped stages
    (before_request functions) are empty. Returns ``(body iterable, status,
    headers)``, or None when the request can't be served on the loop,
    leaving the request context it made (and matched, with the contexts pushed as
    Flask does) in the environ for the worker thread, which then neither builds
    nor matches the request again.
    """
    if not _app_allows_loop(app):
        return None
    prepared: RequestContext | None = environ.pop(PREPARED_CONTEXT_KEY, None)
    ctx = prepared or RequestContext(app, environ)
    error: BaseException | None = None
    try:
        try:
            ctx.push()
            view = _loop_view(app, ctx.request)
            if view is None:
                ctx._unpush()
                environ[PREPARED_CONTEXT_KEY] = ctx
                ctx = None  # type: ignore[assignment]
                return None
            app._got_first_request = True
            try:
                rv = await view(**(ctx.request.view_args or {}))
            except Exception as e:
                rv = app.handle_user_exception(e)
            response = app.finalize_request(rv)
            # PERF: nothing to finish unless the view used after_commit (no task
            # resource is registered on this path, see _app_allows_loop).
            app_ctx = _cv_app.get()
            if app_ctx._task_state is not None:
                response = await _commit_on_loop(app, app_ctx, response)
        except Exception as e:
            error = e
            response = app.handle_exception(e)
        except BaseException:
            error = sys.exc_info()[1]
            raise
        app_iter, _, headers = response.get_wsgi_response(environ)
        return app_iter, response.status_code, headers
    finally:
        if ctx is not None:
            end_request(app, ctx, environ, error)


async def _commit_on_loop(app: Kolben, app_ctx: t.Any, response: t.Any) -> t.Any:
    """The on-loop path's :meth:`Kolben._commit_task_resources`: run the task's
    after-commit callbacks (awaiting async ones) before the response is sent."""
    from .resources import acommit_task

    try:
        await acommit_task(app_ctx)
    except Exception as e:
        return app.handle_exception(e)
    return response


def _no_write(data: bytes) -> None:
    raise RuntimeError("kolben's ASGI door does not support the WSGI write() callable.")


async def _send_body(
    loop: asyncio.AbstractEventLoop,
    app: Kolben,
    context: contextvars.Context,
    app_iter: t.Any,
    receive: Receive,
    send: Send,
) -> None:
    """Send a streamed body (a buffered one is sent by :func:`_respond`)."""
    disconnected = asyncio.Event()

    async def watch_disconnect() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    watcher = loop.create_task(watch_disconnect())
    try:
        if isinstance(app_iter, cabc.AsyncIterator):
            await _send_async_body(loop, app_iter, watcher, send)
            return
        async for chunk in _chunks(loop, app, context, app_iter):
            if disconnected.is_set():
                return
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if not disconnected.is_set():
            await send({"type": "http.response.body", "body": b""})
    except OSError:
        # The server reports a vanished client this way; nothing to log.
        return
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _send_async_body(
    loop: asyncio.AbstractEventLoop,
    body: cabc.AsyncIterator[t.Any],
    watcher: asyncio.Task[None],
    send: Send,
) -> None:
    """Send an async iterator's chunks; when the client disconnects, even while the
    iterator is waiting for its next chunk, cancel it so its ``finally`` runs now.

    One task pumps the whole body. PERF: not a task and a wait per chunk (~50 µs
    each), which bounded how many streams a worker could feed. Being one task, it
    also runs every step, and the final ``aclose()``, in one context (the task's
    copy of this one), so a generator that pushes contexts (say through
    ``stream_with_context``) pops them in the context it pushed them in.
    """

    async def pump() -> None:
        try:
            while True:
                chunk = await _next_chunk(body)
                if watcher.done():  # the client went away while the chunk was made
                    return
                if chunk is _DONE:
                    break
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()

    pumping = loop.create_task(pump())
    try:
        await asyncio.wait((pumping, watcher), return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping
        raise
    if not pumping.done():  # the client went away first
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pumping
        return
    pumping.result()


async def _next_chunk(body: cabc.AsyncIterator[t.Any]) -> t.Any:
    try:
        chunk = await body.__anext__()
    except StopAsyncIteration:
        return _DONE
    return chunk if isinstance(chunk, bytes) else str(chunk).encode()


_DONE = object()


async def _chunks(
    loop: asyncio.AbstractEventLoop, app: Kolben, context: contextvars.Context, app_iter: t.Any
) -> t.AsyncIterator[bytes]:
    """The body chunks: an async iterator directly, a sync one off the loop."""
    if isinstance(app_iter, cabc.AsyncIterable):
        async for chunk in app_iter:
            yield chunk if isinstance(chunk, bytes) else str(chunk).encode()
        return
    iterator = iter(app_iter)
    while True:
        chunk = await app.worker_threads.run(loop, partial(context.run, next, iterator, _DONE))
        if chunk is _DONE:
            return
        yield chunk


# -- lifespan -----------------------------------------------------------------------


async def _serve_lifespan(app: Kolben, scope: Scope, receive: Receive, send: Send) -> None:
    loop = asyncio.get_running_loop()
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            try:
                await _run_serving_funcs(loop, app, app.before_serving_funcs)
            except Exception as e:
                app.logger.exception("Lifespan startup failed")
                await send({"type": "lifespan.startup.failed", "message": _describe(e)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            try:
                await _run_serving_funcs(loop, app, app.after_serving_funcs)
            except Exception as e:
                app.logger.exception("Lifespan shutdown failed")
                await send({"type": "lifespan.shutdown.failed", "message": _describe(e)})
                return
            await send({"type": "lifespan.shutdown.complete"})
            return


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


async def _run_serving_funcs(
    loop: asyncio.AbstractEventLoop, app: Kolben, funcs: list[t.Callable[[], t.Any]]
) -> None:
    """Run serving functions in an application context: async ones on the loop,
    sync ones in a worker thread."""
    from .concurrency import is_async_callable

    with app.app_context():
        for func in funcs:
            if is_async_callable(func):
                await func()
            else:
                context = contextvars.copy_context()
                await loop.run_in_executor(None, context.run, func)
