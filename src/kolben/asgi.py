"""The ASGI front door: scope, receive and send in; the same core pipeline inside.

The door translates I/O and nothing else. For an HTTP request it

1. builds the WSGI-shaped environ werkzeug's request object is made from
   (headers, query, root path, client, scheme) out of the ASGI scope,
2. gives it a :class:`LazyBody`: the body is received only when something reads
   it (routing comes first, so a 404 or a view that ignores the body never
   receives it),
3. drives the one request pipeline (``Kolben._handle_request``: contexts,
   matching, hooks, view, error handlers, sessions, task resources, teardown)
   with :func:`kolben.pipeline.drive`, in one :mod:`contextvars` context for the
   request: ``async def`` user code is awaited on the server's loop, sync user
   code runs in the app's worker threads (consecutive sync steps in one call),
4. sends the status and headers, then the body: in one message when it is
   buffered, chunk by chunk when it streams (a sync iterator is advanced in a
   worker thread, the status and headers going out with its first chunk; an
   async iterator on the loop), and stops as soon as the client
   disconnects, closing the generator so its ``finally`` blocks run.

The ``lifespan`` scope is served by :mod:`kolben.serving` (the app's
``before_serving``, ``while_serving`` and ``after_serving`` functions).
"""

from __future__ import annotations

import asyncio
import collections
import collections.abc as cabc
import concurrent.futures
import contextlib
import contextvars
import io
import math
import tempfile
import typing as t
from functools import partial

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge, RequestTimeout
from werkzeug.wrappers import Response as _WerkzeugResponse

from . import globals as _globals
from . import serving
from . import typing as ft
from .app import Kolben
from .app_class import wsgi_only_call
from .asgi_environ import ENVIRON_EXTRA_KEY as ENVIRON_EXTRA_KEY
from .asgi_environ import SCOPE_KEY as SCOPE_KEY
from .asgi_environ import build_environ as build_environ
from .asgi_environ import (
    can_make_lazily,
    scan_headers,
    scope_request,
    scope_requests_allowed,
)
from .caching import Cache
from .concurrency import LOOP_TURN_EVERY, _server_loop, is_async_callable, running_loop
from .headers import INVALID_NAME_CHARACTER, INVALID_VALUE_CHARACTER, LISTED_HEADER_CLASSES
from .pipeline import REQUEST_LANE, drive_eagerly, lane_of
from .threads import Lane
from .wrappers import Request as _KolbenRequest
from .wrappers import Response as _KolbenResponse
from .wrappers import sends_one_chunk
from .wsgi import PRESERVE_CONTEXT_KEY

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_request = _globals._cv_request

if t.TYPE_CHECKING:
    pass

#: The ASGI types, defined in :mod:`kolben.typing` (these names stay for imports).
Scope = ft.ASGIScope
Message = ft.ASGIMessage
Receive = ft.ASGIReceive
Send = ft.ASGISend

#: Request bodies larger than this many bytes are spooled to a temporary file.
SPOOL_THRESHOLD = 1024 * 1024

#: The scope key of kolben's own test client (:mod:`kolben.asgi_testing`; no
#: server sets it): a function the door calls with the response's status line
#: (``"299 Custom Reason"``, which ``http.response.start`` can't carry). For it,
#: the door also sends a stream as the test sees it under the WSGI door: every
#: chunk the body makes, empty ones too (an empty body message with
#: ``more_body``), and, once the body is sent whole, hands the body's closing
#: (``call_on_close`` functions) to :data:`TEST_CLOSE_KEY`'s function: the
#: client calls it when the test closes the response, not at all if it never
#: does, as werkzeug's client with a WSGI body. What servers are sent is not
#: changed.
TEST_CLIENT_KEY = "kolben.test_client"
#: The scope key (set with :data:`TEST_CLIENT_KEY`) of the test client's ``async``
#: function taking a streamed body's closing. Not an ASGI message: ASGI
#: middleware wrapping ``app.asgi_app`` would drop it (Starlette's) or refuse it.
TEST_CLOSE_KEY = "kolben.test_client.close"


def serve(
    app: Kolben, scope: Scope, receive: Receive, send: Send
) -> t.Coroutine[t.Any, t.Any, None]:
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
        return serving.serve_lifespan(app, scope, receive, send)
    raise ValueError(f"kolben can't serve ASGI scope type {kind!r}.")


# -- the request --------------------------------------------------------------------


class LazyBody(io.RawIOBase):
    """A request body, received from the client only when something reads it.

    The door routes a request before it receives any of its body, so a 404 or
    a 405 costs nothing, whatever its size (what the server has buffered is
    dropped with the connection), and neither does a request whose user code
    runs on the loop only, unless it reads the body.

    - Before sync code may read it in a worker thread, the door receives the
      first :data:`THREAD_PREFILL_LIMIT` bytes on the loop
      (:meth:`before_thread_step`; up to ``MAX_CONTENT_LENGTH``), so a worker
      thread never waits for a client sending a form or a JSON body. Sync code
      reading further (a large upload), and a view marked
      :func:`kolben.stream_request_body`, asks the event loop for each chunk
      from its thread, as it is needed: a body nobody reads is never received.
    - Before ``async def`` user code runs on the loop, where a blocking read is
      impossible, the door receives the body (:meth:`fill`): spooled to a
      temporary file past :data:`SPOOL_THRESHOLD` bytes, and no further than
      ``MAX_CONTENT_LENGTH``. Past that limit, or for a view marked
      :func:`kolben.stream_request_body`, the rest stays unreceived: an async
      view reads it with ``async for chunk in request.iter_body()``; a plain read
      on the loop gets a 413.
    - More than the request's ``max_content_length`` read is a 413 (werkzeug
      raises it first for a declared ``Content-Length`` over it).
    """

    def __init__(
        self,
        prefix: t.IO[bytes],
        receive: Receive,
        loop: asyncio.AbstractEventLoop,
        received: int = 0,
        done: bool = False,
        *,
        content_length: int | None = None,
        max_length: int | None = None,
    ) -> None:
        self._prefix = prefix
        self._received = received
        self._receive = receive
        self._loop = loop
        self._pending = b""
        self._done = done
        self._disconnected = False
        self._content_length = content_length
        self._max_length = max_length
        #: Whether nothing more is to be received before a step: the body is
        #: all here (or the client left), or the view streams it itself. Until
        #: then the driver calls before_loop_step / before_thread_step before
        #: each step, which receive only what no fill has reached yet.
        self.filled = done
        #: How far the fills so far went: the largest limit one received up to
        #: (inf: the whole body). A later fill with a higher limit (an async
        #: view after a sync hook's 1 MiB, or a limit a hook raised) goes on.
        self._reached: float = 0
        #: Messages the disconnect watcher received for the body's readers.
        self._received_early: collections.deque[Message] = collections.deque()
        #: The body bytes in those messages.
        self._early_bytes = 0
        #: Whether the disconnect watcher dropped body it could not keep: the
        #: body can't be read whole any more (reading it is a 413).
        self._dropped = False
        #: Set when a reader takes a message the watcher kept (made on use).
        self._drained: asyncio.Event | None = None
        #: One receive() at a time: the body's readers and the door's disconnect
        #: watcher share the connection (made on first use: _receive_lock).
        self._receiving: asyncio.Lock | None = None
        #: What a worker thread waits for (_pull), to cancel it if the request is.
        self._pulling: concurrent.futures.Future[Message] | None = None
        #: Set when the request's task was cancelled while a worker thread ran
        #: its code: nothing more is waited for (see abandon).
        self._abandoned = False

    def readable(self) -> bool:
        return True

    @property
    def disconnected(self) -> bool:
        """Whether the client disconnected before sending the whole body."""
        return self._disconnected

    def _limit(self) -> int | None:
        """The request's ``max_content_length`` now (``MAX_CONTENT_LENGTH``, or
        what a ``before_request`` function or the view set for this request)."""
        req_ctx = _cv_request.get(None)
        if req_ctx is None:
            return self._max_length
        limit: int | None = req_ctx.request.max_content_length
        self._max_length = limit  # the last known, for wait_for_disconnect
        return limit

    def _too_large_to_fill(self, limit: int | None) -> bool:
        return limit is not None and (
            self._received > limit
            or (self._content_length is not None and self._content_length > limit)
        )

    async def prefetch(self) -> None:
        """Receive the first message of the body if nothing was received yet
        (before a worker-thread step of a view marked ``stream_request_body``:
        see :meth:`before_thread_step`)."""
        if (
            self._received
            or self._done
            or self._pending
            or self._too_large_to_fill(self._limit())
        ):
            return
        self._pending = self._take(await self._next_message())

    def _receive_lock(self) -> asyncio.Lock:
        lock = self._receiving
        if lock is None:
            lock = self._receiving = asyncio.Lock()
        return lock

    async def _next_message(self) -> Message:
        """The next message for the body: one the disconnect watcher kept, or a
        new one, received while nobody else receives."""
        if self._dropped:
            raise RequestEntityTooLarge(
                "The request body could not be kept: it arrived while a streamed"
                " response was sent, and more of it came than the door keeps for"
                f" later reading (MAX_CONTENT_LENGTH, or without one {WATCH_KEEP_LIMIT}"
                " bytes nobody read for ASGI_BODY_TIMEOUT seconds). Read the body"
                " before returning the streamed response, or as it comes, or set"
                " MAX_CONTENT_LENGTH."
            )
        if self._received_early:
            return self._take_early()
        async with self._receive_lock():
            if self._received_early:
                return self._take_early()
            return await self._receive()

    def _take_early(self) -> Message:
        message = self._received_early.popleft()
        self._early_bytes -= len(message.get("body", b""))
        drained = self._drained
        if drained is not None:
            drained.set()
        return message

    async def wait_for_disconnect(self, grace: float | None = None) -> None:
        """Receive until the client disconnects, for the door's disconnect
        watcher while a streamed response is sent: body messages received here
        are kept for the body's readers (a streamed response may still read the
        body), and so is the disconnect. Past the request's body limit nothing
        can be read (a 413), so what comes past it is counted, not kept. Without
        a limit, when a message would take the bytes waiting for readers past
        :data:`WATCH_KEEP_LIMIT`, the watcher waits for a reader to take some (a
        streamed response reading the body as it comes), up to ``grace`` seconds
        (``ASGI_BODY_TIMEOUT``) at a time; if none does, it and what comes next
        are dropped (reading on is a 413, never a cut body): a client can't make
        the door hold a large body nobody reads in memory."""
        lock = self._receive_lock()
        while True:
            async with lock:
                message = await self._receive()
                size = len(message.get("body", b""))
                limit = self._max_length
                if size and limit is None and not self._dropped:
                    # Without a limit, at most WATCH_KEEP_LIMIT bytes (or one
                    # message) wait for readers: this one is kept once readers
                    # made room for it. Waited for with the lock held, so that a
                    # reader that took every kept message receives after it.
                    while (
                        self._early_bytes
                        and self._early_bytes + size > WATCH_KEEP_LIMIT
                    ):
                        drained = self._drained
                        if drained is None:
                            drained = self._drained = asyncio.Event()
                        drained.clear()
                        try:
                            await asyncio.wait_for(drained.wait(), grace)
                        except asyncio.TimeoutError:
                            self._dropped = True  # nobody reads it: dropped
                            break
                if size and (
                    self._dropped
                    or (
                        limit is not None
                        and self._received + self._early_bytes + size > limit
                    )
                ):
                    self._dropped = True  # reading on is a 413
                    self._received += size
                    if message.get("more_body", False):
                        continue
                    message = {"type": "http.request", "body": b"", "more_body": False}
                    size = 0
                self._received_early.append(message)
                self._early_bytes += size
            if message["type"] == "http.disconnect":
                return

    async def fill(self, cap: int | None = None) -> None:
        """Receive the rest of the body now, up to the request's
        ``max_content_length`` and ``cap`` bytes (the door calls it before
        ``async def`` user code runs, unless the matched view is marked
        ``stream_request_body``). Nothing is received twice: a fill that a
        previous one reached (as far, or to the end) returns at once."""
        if self._done or self._disconnected:
            self.filled = True
            return
        max_length = self._limit()
        limit = max_length
        if cap is not None:
            limit = cap if limit is None else min(limit, cap)
        reach = math.inf if limit is None else limit
        if reach <= self._reached:
            return
        self._reached = reach
        if self._too_large_to_fill(max_length):
            return  # reading it is a 413 (unless the limit is raised first)
        if cap is not None and self._content_length is not None and self._content_length > cap:
            return
        rest = self._prefix.read()
        spool: t.IO[bytes] = io.BytesIO()
        spooled = False
        size = 0
        for data in (rest, self._pending):
            if data:
                spool.write(data)
                size += len(data)
        self._pending = b""
        try:
            while not self._done and not self._disconnected:
                if limit is not None and self._received > limit:
                    break  # the rest stays unreceived; reading that far is a 413
                chunk = self._take(await self._next_message())
                if chunk:
                    if not spooled and size + len(chunk) > SPOOL_THRESHOLD:
                        spooled_file = tempfile.SpooledTemporaryFile(max_size=SPOOL_THRESHOLD)  # noqa: SIM115
                        spooled_file.write(t.cast(io.BytesIO, spool).getvalue())
                        spool = t.cast(t.IO[bytes], spooled_file)
                        spooled = True
                    spool.write(chunk)
                    size += len(chunk)
        except BaseException:
            spool.close()  # cancelled while receiving: nothing is kept
            raise
        spool.seek(0)
        self._prefix.close()
        self._prefix = spool
        if self._done:
            self.filled = True

    def _pull(self) -> bytes:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise RequestEntityTooLarge(
                "This request body was not received before async code read it on the"
                " event loop (it is larger than MAX_CONTENT_LENGTH, or than the 1 MiB"
                " received for async hooks of a sync view, or the view is marked"
                " stream_request_body), and code on the loop can't wait for it: read"
                " it with 'async for chunk in request.iter_body()', or in sync code."
            )
        req_ctx = _cv_request.get(None)
        limit = req_ctx.request.max_content_length if req_ctx is not None else None
        if limit is not None and self._received > limit:
            # What was received already is past the limit: 413, without waiting
            # for more in this thread.
            raise RequestEntityTooLarge()
        timeout = req_ctx.app.config.get("ASGI_BODY_TIMEOUT") if req_ctx is not None else None
        if self._abandoned:
            return self._take({"type": "http.disconnect"})
        future = self._pulling = asyncio.run_coroutine_threadsafe(
            self._next_message(), self._loop
        )
        if self._abandoned:  # abandoned as the future was made
            future.cancel()
        try:
            if req_ctx is None:
                message = future.result(timeout)
            else:
                # The thread runs nothing while the client sends: other requests'
                # calls may have another (a trickling client holds no thread slot).
                with req_ctx.app.worker_threads.waiting_for_client():
                    message = future.result(timeout)
        except concurrent.futures.CancelledError:
            # The request was cancelled (abandon): the client is not waited for.
            return self._take({"type": "http.disconnect"})
        except concurrent.futures.TimeoutError:
            # A client that stopped sending its body must not hold this worker
            # thread (every def view would stop once they all wait): 408.
            future.cancel()
            raise RequestTimeout(
                f"The request body did not arrive: nothing came for {timeout} seconds"
                " (ASGI_BODY_TIMEOUT)."
            ) from None
        finally:
            self._pulling = None
        return self._take(message)

    def abandon(self) -> None:
        """The request's task was cancelled (a server's graceful shutdown timed
        out) while a worker thread runs its code: a thread waiting for the body
        stops waiting, and any later read finds the client gone
        (``ClientDisconnected``), rather than holding the thread, and the
        server's shutdown, for up to ``ASGI_BODY_TIMEOUT`` seconds. Called on
        the loop."""
        self._abandoned = True
        pulling = self._pulling
        if pulling is not None:
            pulling.cancel()

    def _take(self, message: Message) -> bytes:
        """The body chunk of a received message (counted); a disconnect ends the
        body (reading on raises ClientDisconnected)."""
        if message["type"] == "http.disconnect":
            self._disconnected = True
            self._done = True
            return b""
        if not message.get("more_body", False):
            self._done = True
        chunk = t.cast(bytes, message.get("body", b""))
        self._received += len(chunk)
        return chunk

    def readinto(self, buffer: t.Any) -> int:
        """Fill ``buffer`` with the body's next bytes: all of it, unless the body
        ends first, as a WSGI server's ``wsgi.input`` does (``read(n)`` gives
        ``n`` bytes before the end of the body: code reading ``Content-Length``
        bytes in one call gets them all, whatever messages the client's body
        came in)."""
        view = memoryview(buffer).cast("B")
        want = len(view)
        filled = 0
        while filled < want:
            try:
                got = self._readinto_once(view[filled:])
            except ClientDisconnected:
                if filled:
                    break  # what came is returned; the next read raises
                raise
            if not got:
                break
            filled += got
        return filled

    def _readinto_once(self, view: memoryview) -> int:
        """What is here of the body, or else one message of it, into ``view``."""
        want = len(view)
        data = self._prefix.read(want)
        if not data:
            data = self._pending
            while not data and not self._done:
                data = self._pull()
            if not data and self._disconnected:
                raise ClientDisconnected()
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
            chunk = self._take(await self._next_message())
            if self._disconnected:
                raise ClientDisconnected()
            if limit is not None and self._received > limit:
                raise RequestEntityTooLarge()
            if chunk:
                yield chunk

    async def before_thread_step(self) -> None:
        """What the driver awaits before a worker-thread step (in the request's
        context): what sync code is likely to read of the body is received now,
        on the loop, so that a worker thread doesn't wait for a client sending
        a form or a JSON body (a few clients that send a body slowly, or not at
        all, would otherwise hold every worker thread).

        - A view matched and not marked ``stream_request_body``: the first
          :data:`THREAD_PREFILL_LIMIT` bytes (up to ``MAX_CONTENT_LENGTH``; none
          for a declared ``Content-Length`` over that). The view's worker thread
          reads the rest from the client as it needs it, with the request's own
          ``max_content_length`` (a ``before_request`` hook may lower it)
          enforced: a client can't make the door store a body the view never
          reads, nor more than the view allows.
        - No view matched (a 404 or 405): the first :data:`ASYNC_HOOK_BODY_LIMIT`
          bytes, for hooks and error handlers that read a small body; nobody
          makes the door receive a large body that no view wants.
        - A view marked ``stream_request_body``: its first message only; the
          view streams the rest in its worker thread, as it asked.
        """
        ctx = _cv_request.get(None)
        if ctx is None or ctx.request.url_rule is None:
            await self._fill_unmatched()
            return
        view = ctx.app.view_functions.get(ctx.request.url_rule.endpoint)
        if getattr(view, "stream_request_body", False):
            await self.prefetch()
        else:
            await self.fill(THREAD_PREFILL_LIMIT)

    async def _fill_unmatched(self) -> None:
        """Receive the first :data:`ASYNC_HOOK_BODY_LIMIT` bytes of a request that
        matched no view (or not yet: a converter of the app's own runs as a
        step, and the next step decides again)."""
        await self.fill(ASYNC_HOOK_BODY_LIMIT)

    async def before_loop_step(self) -> None:
        """What the driver awaits before ``async def`` user code first runs (in
        the request's context).

        - The matched view is ``async def`` (or a view class): the body is
          received now, whole (up to ``MAX_CONTENT_LENGTH``), since the view may
          read it on the loop; unless it is marked ``stream_request_body``.
        - The view is sync, or no view matched (a 404 or 405): only the first
          :data:`ASYNC_HOOK_BODY_LIMIT` bytes are received, for async hooks or
          error handlers that read a small body; a sync view reads the rest as
          it needs it, and nobody makes the door receive a large body that no
          view wants.
        """
        ctx = _cv_request.get(None)
        rule = ctx.request.url_rule if ctx is not None else None
        if rule is None or ctx is None:
            await self._fill_unmatched()
            return
        view = ctx.app.view_functions.get(rule.endpoint)
        if getattr(view, "stream_request_body", False):
            self.filled = True
        elif view is not None and (is_async_callable(view) or hasattr(view, "view_class")):
            await self.fill()
        else:
            # The sync view may read the rest: received before its worker-thread
            # step (before_thread_step), or by it.
            await self.fill(ASYNC_HOOK_BODY_LIMIT)


#: The most of a body received for ``async def`` hooks and error handlers of a
#: request whose view is sync (or that matched none): reading further on the
#: loop is a 413 (a sync view reads the rest in its worker thread).
ASYNC_HOOK_BODY_LIMIT = 1024 * 1024

#: The most of a request body that waits for readers while a streamed response
#: is sent, when the request has no ``max_content_length``: the door's
#: disconnect watcher then waits for a reader (``ASGI_BODY_TIMEOUT``) before it
#: drops what comes next, and reading the body is then a 413.
WATCH_KEEP_LIMIT = 1024 * 1024

#: The most of a body received on the loop before a sync view's worker-thread
#: step: forms and JSON bodies are there when the view reads them; the rest of
#: a larger body is read from the client by the worker thread, as it is read.
THREAD_PREFILL_LIMIT = 1024 * 1024


async def _serve_http(app: Kolben, scope: Scope, receive: Receive, send: Send) -> None:
    # An HTTP/1 GET or HEAD without Content-Length or Transfer-Encoding has no
    # body (RFC 9112, 6.3): nothing is waited for (the server's empty
    # http.request message stays unread; a disconnect watcher skips it), and its
    # request is made from the scope, its environ made only if something reads
    # it (kolben.asgi_environ): what the door and the pipeline read first (the
    # Host, Cookie and framing headers) is picked out of the headers here.
    known: dict[str, str] | None = None
    if scope["method"] in _BODILESS_METHODS and scope.get("http_version", "1.1") in _HTTP1:
        known = scan_headers(scope)
        if "CONTENT_LENGTH" in known or "HTTP_TRANSFER_ENCODING" in known:
            known = None
        elif (
            _runs_pipeline(app)
            and scope_requests_allowed(app.request_class)
            and can_make_lazily(scope, known)
        ):
            # PERF: the common request (no body, the app's own pipeline, the
            # request made from the scope) in one flat coroutine: what the
            # general path below does for it, without its tests and state.
            context = contextvars.copy_context()
            request = scope_request(app.request_class, scope, known)
            request.json_module = app.json
            note_status: t.Callable[[str], None] | None = scope.get(TEST_CLIENT_KEY)
            respond: t.Callable[[t.Any], t.Any] = _respond
            if note_status is not None:
                respond = partial(_noting, _respond, note_status)
            steps = app._handle_request(None, respond, request)
            done, result = drive_eagerly(app, steps, context, None, REQUEST_LANE)
            if done and type(result[0]) is list and 100 <= result[1] <= 999:
                # All of its user code was async and never waited (no thread,
                # no lane): sent in two messages, nothing to close. (A status
                # HTTP has no place for is _answer's error.)
                app_iter, status, headers = result
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": b"".join(app_iter)})
                return
            await _answer(app, scope, receive, send, context, None, None, note_status, result, done)
            return
    body: LazyBody | None = None
    environ: dict[str, t.Any]
    if known is None:
        # A request that may have a body: its environ now (what reads the body
        # reads the environ), and a LazyBody. Route first: the body is received
        # only when something reads it, so a 404, a 405 or a view that ignores
        # it costs nothing.
        environ = build_environ(scope, _NO_BODY)
        length = environ.get("CONTENT_LENGTH")
        content_length: int | None = None
        if length is not None and "HTTP_TRANSFER_ENCODING" not in environ:
            try:  # noqa: SIM105 - PERF: cheaper than contextlib.suppress
                content_length = int(length)
            except ValueError:
                pass
        body = LazyBody(
            io.BytesIO(),
            receive,
            running_loop(),
            content_length=content_length,
            max_length=app.config["MAX_CONTENT_LENGTH"],
        )
        environ["wsgi.input"] = body
    else:
        # Without a body, but not made from the scope (an upgrade, a request
        # class of the app's own, WSGI middleware...).
        environ = build_environ(scope, io.BytesIO())
    # The request's one context: every step of its pipeline runs in it, on the
    # loop and in worker threads alike (see kolben.pipeline).
    context = contextvars.copy_context()
    # Kolben's test client's (see TEST_CLIENT_KEY); None under a server.
    note_status = scope.get(TEST_CLIENT_KEY)
    if not _runs_pipeline(app):
        # WSGI middleware wraps the app (app.wsgi_app = ProxyFix(app.wsgi_app)),
        # or the class overrides it, or replaced __call__ by a WSGI-only one
        # (kolben.app_class): the WSGI call runs as one sync step.
        lane = app.worker_threads.lane()
        served = _serve_wsgi_app(
            wsgi_only_call(app) or app.wsgi_app, app, environ, body, context, lane, note_status
        )
        await _answer(
            app, scope, receive, send, context, body, environ, note_status, served, False, lane
        )
        return
    respond = partial(asgi_response, environ=environ)
    if note_status is not None:
        respond = partial(_noting, respond, note_status)
    try:
        steps = app._handle_request(environ, respond)
        done, result = drive_eagerly(app, steps, context, body, REQUEST_LANE)
    except BaseException:
        await _end_body(body, environ)
        raise
    await _answer(app, scope, receive, send, context, body, environ, note_status, result, done)


def _runs_pipeline(app: Kolben) -> bool:
    """Whether the door runs ``app``'s request pipeline itself: not when WSGI
    middleware wraps it (``app.wsgi_app = ProxyFix(app.wsgi_app)``), nor when its
    class overrides ``wsgi_app`` or replaced ``__call__`` by a WSGI-only one
    (:mod:`kolben.app_class`): then the WSGI call is served, as one sync step."""
    overridden = app._overridden
    if overridden and (
        "wsgi_app" in overridden or ("__call__" in overridden and wsgi_only_call(app) is not None)
    ):
        return False
    return "wsgi_app" not in app.__dict__


async def _answer(
    app: Kolben,
    scope: Scope,
    receive: Receive,
    send: Send,
    context: contextvars.Context,
    body: LazyBody | None,
    environ: dict[str, t.Any] | None,
    note_status: t.Callable[[str], None] | None,
    result: t.Any,
    done: bool,
    lane: Lane | None = None,
) -> None:
    """Send the response of the request running in ``context``: ``result`` is
    its ``(body, status, headers)`` when ``done``, else the awaitable giving
    them (the pipeline's driver, suspended, or the WSGI call's, with its
    ``lane``). Then close the body and give the request's worker thread back."""
    app_iter: t.Any = None
    try:
        try:
            app_iter, status, headers = result if done else await result
        except asyncio.CancelledError as cancelled:
            lane = lane or lane_of(context)  # a streamed body's, to release (see finally)
            finished: tuple[t.Any] | None = getattr(cancelled, "kolben_finished", None)
            if finished is None:
                raise
            # Cancelled (a server's graceful shutdown timed out) while def code
            # ran: the request was finished, its work done (and committed). A
            # buffered response is sent before the cancellation goes on, so the
            # client is not told it failed (a server answers a bare 500).
            app_iter, status, headers = finished[0]
            client_left = body is not None and body.disconnected
            if isinstance(app_iter, (list, tuple)) and not client_left and 100 <= status <= 999:
                with contextlib.suppress(Exception):
                    start = {"type": "http.response.start", "status": status}
                    await send({**start, "headers": headers})
                    await send({"type": "http.response.body", "body": b"".join(app_iter)})
            raise
        if lane is None and type(app_iter) is not list:
            # The request's lane, for a streamed body (a buffered one's was
            # released as the pipeline ended).
            lane = lane_of(context)
        if body is not None and body.disconnected:
            return  # the client left while sending its body: nobody to answer
        if not 100 <= status <= 999 and note_status is None:
            # HTTP's status is three digits. A server handed another (the view
            # returned ("x", "abc"): status 0) drops the connection without an
            # answer (uvicorn), or fails as a whole (granian panics): an error of
            # the application before its response, which the server answers with
            # a 500, as a WSGI server does. (Kolben's test client shows it, as
            # werkzeug's does.)
            raise ValueError(
                f"The response status {status} is not an HTTP status code (three digits)."
            )
        start = {"type": "http.response.start", "status": status, "headers": headers}
        if isinstance(app_iter, (list, tuple)):
            await send(start)
            # PERF: a buffered body goes out in one message, without threads (the
            # request's lane, if it took one, was released as its pipeline ended).
            if lane is not None:
                lane.release()  # the WSGI middleware path's
            await send({"type": "http.response.body", "body": b"".join(app_iter)})
            return
        loop = running_loop()
        # A sync body advanced in worker threads may call async code through
        # ensure_sync: it finds the server's loop in the request's context.
        context.run(_server_loop.set, loop)
        if lane is None:
            lane = app.worker_threads.lane()
        if isinstance(app_iter, cabc.AsyncIterable):
            lane.release()  # the body runs on the loop (an SSE stream, say)
        for_test = note_status is not None
        sent = await _send_body(
            loop, app, context, app_iter, start, receive, send, body, lane, for_test
        )
        hand_over = scope.get(TEST_CLOSE_KEY) if sent and for_test else None
        if hand_over is not None and (close := getattr(app_iter, "close", None)) is not None:
            # The test client closes the body as the test closes the response
            # (as werkzeug's client closes a WSGI body), not at all if it never
            # does: the door hands it the closing.
            await hand_over(partial(context.run, close))
            app_iter = None
    finally:
        if lane is None and app_iter is None:
            lane = lane_of(context)  # a pipeline that failed, or was cancelled
        try:
            # PERF: a buffered body (a list) has nothing to close.
            close = getattr(app_iter, "close", None) if type(app_iter) is not list else None
            if close is not None:
                # The request's last call: its thread is given back as it ends
                # (none is kept waiting for a release, nor more threads started
                # meanwhile when many bodies end at once).
                await (lane or app.worker_threads).run(
                    running_loop(),
                    partial(context.run, _last_call, close, lane),
                    cancellable=False,
                )
        finally:
            # Also when close() raised, or the request was cancelled meanwhile.
            if lane is not None:
                lane.release()
            await _end_body(body, environ)


async def _end_body(body: LazyBody | None, environ: dict[str, t.Any] | None) -> None:
    """The request's body, once its response is sent (or the request failed):
    closed, or, when the test client keeps the request (``with client:``),
    received whole, so that it stays readable after the request, as under WSGI."""
    if body is None:
        return
    # A request with a LazyBody had its environ made.
    if PRESERVE_CONTEXT_KEY in t.cast(dict[str, t.Any], environ):
        if not body.filled:
            await body.fill()
    else:
        body.close()


def _noting(
    respond: t.Callable[[t.Any], t.Any], note_status: t.Callable[[str], None], response: t.Any
) -> t.Any:
    """``respond(response)``, telling the test client the response's status line
    (see :data:`TEST_CLIENT_KEY`)."""
    status = getattr(response, "status", None)
    if isinstance(status, str):
        note_status(status)
    return respond(response)


def _last_call(func: t.Callable[[], t.Any], lane: Lane | None) -> t.Any:
    """In a worker thread: ``func()``, the last call of the request's ``lane``
    (if it has one), whose thread is given back as the call ends."""
    if lane is not None:
        lane.release_after_call()
    return func()


async def _serve_wsgi_app(
    call: t.Callable[..., t.Any],
    app: Kolben,
    environ: dict[str, t.Any],
    body: LazyBody | None,
    context: contextvars.Context,
    lane: Lane,
    note_status: t.Callable[[str], None] | None = None,
) -> tuple[t.Any, int, list[tuple[bytes, bytes]]]:
    """Call the WSGI app ``call`` of ``app`` (``app.wsgi_app``: middleware or an
    override; or the WSGI-only ``__call__`` that replaced the class's) in the
    request's worker thread (``lane``, which also advances its body). The status
    line is given to ``note_status`` (the test client's), if given."""
    captured: list[t.Any] = []
    write = _Write()

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Any:
        if exc_info is not None and (write.chunks or write.closed):
            # PEP 3333: the status and headers count as sent once write() was
            # called (what it was given goes out under them) or the body is
            # being sent: the error is raised again (as WSGI servers do), not
            # put as a new status on a response already begun.
            try:
                raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        captured[:] = [status, headers]
        return write

    if body is not None:
        # The whole request runs in a worker thread, which must not wait for
        # the client: the body is received first, on the loop (see
        # LazyBody.before_thread_step).
        await body.fill()
    loop = running_loop()
    context.run(_server_loop.set, loop)
    app_iter = await lane.run(loop, partial(context.run, call, environ, start_response))
    first: t.Any = _NOT_TAKEN
    iterator: t.Iterator[t.Any] | None = None
    if not captured:
        # A generator (or middleware made of one) calls start_response when it
        # is first advanced, as PEP 3333 allows: its first chunk is taken now.
        iterator = iter(app_iter)
        first = await lane.run(loop, partial(context.run, next, iterator, _DONE))
        if not captured:
            close = getattr(app_iter, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await lane.run(loop, partial(context.run, close))
            raise RuntimeError(
                "The WSGI application (app.wsgi_app, or middleware around it) returned"
                " its body without calling start_response()."
            )
    # What write() was given is sent before the body (PEP 3333); it can't be
    # called once the body is being sent (see _Write).
    write.closed = True
    if iterator is not None or write.chunks:
        app_iter = _WithFirstChunk(
            # The body itself when nothing was taken from it: iter() is called
            # as it is sent, in the request's worker thread, not here on the loop.
            write.chunks, first, app_iter if iterator is None else iterator, app_iter
        )
    status_line, headers = captured
    try:
        asgi_headers = _asgi_headers(headers)
    except ValueError:
        # A header the door refuses: the body is not sent, and is closed.
        close = getattr(app_iter, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await lane.run(loop, partial(context.run, close))
        raise
    if note_status is not None:
        note_status(status_line)
    return app_iter, int(status_line.split(" ", 1)[0]), asgi_headers


#: No chunk of the body was taken early (see _WithFirstChunk).
_NOT_TAKEN = object()


class _Write:
    """The ``write()`` callable ``start_response`` returns under the ASGI door:
    what a WSGI app or middleware writes before it returns its body is sent
    first, as PEP 3333 asks (kept until then: the status and headers go out
    when the body starts)."""

    __slots__ = ("chunks", "closed")

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        #: The app returned its body: it is being sent, and a write now can't
        #: be put before it.
        self.closed = False

    def __call__(self, data: bytes) -> None:
        if self.closed:
            raise RuntimeError(
                "write() was called after the WSGI application returned its body;"
                " under kolben's ASGI door, write() works only before the"
                " application returns (yield the data from the body instead)."
            )
        if not isinstance(data, bytes):
            raise TypeError(f"write() takes bytes, not {type(data).__name__}.")
        self.chunks.append(data)


class _WithFirstChunk:
    """A WSGI body whose first chunks were taken early: given to ``write()``,
    or taken from it to see the status (see _serve_wsgi_app)."""

    def __init__(
        self, written: list[bytes], first: t.Any, rest: t.Iterable[t.Any], body: t.Any
    ) -> None:
        self._written, self._first, self._rest, self._body = written, first, rest, body

    def __iter__(self) -> t.Iterator[t.Any]:
        yield from self._written
        if self._first is _DONE:  # the body ended with its first step
            return
        if self._first is not _NOT_TAKEN:
            yield self._first
        yield from self._rest

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


_NO_BODY = t.cast(t.IO[bytes], io.BytesIO())
#: Requests that have no body unless a header frames one (see _serve_http).
_BODILESS_METHODS = frozenset({"GET", "HEAD"})
#: The ASGI ``http_version`` values of HTTP/1 (granian gives "1" for HTTP/1.0).
_HTTP1 = frozenset({"1.1", "1.0", "1"})


# PERF: response header names as ASGI wants them (lowercase bytes); the app's own
# names repeat, so they are converted once (bounded all the same).
_HEADER_NAMES: Cache[str, bytes] = Cache(512, "kolben.asgi: response header names")


def _header_name(name: str) -> bytes:
    raw = _HEADER_NAMES.get(name)
    if raw is None:
        if not name or INVALID_NAME_CHARACTER.search(name):
            raise ValueError(f"Invalid response header name {name!r}.")
        raw = name.lower().encode("latin-1")
        # The names asgi_response looks for are these very objects (`is`).
        raw = _SPECIAL_NAMES.get(raw, raw)
        raw = _HEADER_NAMES.put(name, raw)
    return raw


_CONTENT_LENGTH = b"content-length"
_LOCATION = b"location"
_CONTENT_LOCATION = b"content-location"
_SPECIAL_NAMES = {name: name for name in (_CONTENT_LENGTH, _LOCATION, _CONTENT_LOCATION)}


def _header_value(name: str, value: str) -> bytes:
    """A response header's value as ASGI wants it, when it is not all printable
    (a tab, a latin-1 space or a control character): the servers refuse a
    control character (uvicorn drops the connection, with the status sent), so
    it is a ``ValueError`` here, which the server answers with a 500, as WSGI
    servers do for it."""
    bad = INVALID_VALUE_CHARACTER.search(value)
    if bad is not None:
        raise ValueError(
            f"The value of the response header {name!r} contains the control"
            f" character {bad.group()!r}."
        )
    return value.encode("latin-1")


def _asgi_headers(headers: t.Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """WSGI response headers as ASGI wants them."""
    names = _HEADER_NAMES
    return [
        (
            names.get(name) or _header_name(name),
            value.encode("latin-1") if value.isprintable() else _header_value(name, value),
        )
        for name, value in headers
    ]


def asgi_response(
    response: t.Any, environ: dict[str, t.Any] | _KolbenRequest
) -> tuple[t.Any, int, list[tuple[bytes, bytes]]]:
    """The body (an iterable), status code and ASGI headers of ``response`` for
    the request of ``environ``: what ``response.get_wsgi_response(environ)``
    gives, in ASGI's types. ``environ`` may be a request made from a scope
    (:func:`kolben.asgi_environ.scope_request`), whose environ is read only if
    the response needs it.

    PERF: a buffered response of kolben's own class (its WSGI methods not
    overridden) whose headers need no adjustment (a 2xx-5xx status other than
    204 and 304, a Content-Length, no Location, not a HEAD request: what
    werkzeug's ``get_wsgi_headers`` passes on unchanged) is converted in one pass
    over its headers, without the WSGI response's copies. Tested equal to the
    general path in tests/test_asgi_response.py.
    """
    cls = type(response)
    if cls is _KolbenResponse or (
        getattr(cls, "get_wsgi_response", None) is _WSGI_RESPONSE
        and cls.get_wsgi_headers is _WSGI_HEADERS
        and cls.get_app_iter is _APP_ITER
    ):
        # PERF: werkzeug's status_code property, read directly for kolben's class.
        status: int = response._status_code if cls is _KolbenResponse else response.status_code
        if isinstance(environ, dict):
            method = environ["REQUEST_METHOD"]
        else:
            # A request made from the scope: the scope's method, unless its
            # environ was made (code may have changed REQUEST_METHOD there).
            made = environ.__dict__.get("environ")
            method = made["REQUEST_METHOD"] if made is not None else environ._scope["method"]  # type: ignore[index]
        response_headers = response.headers
        if (
            sends_one_chunk(response, status, method)
            and type(response_headers) in LISTED_HEADER_CLASSES
        ):
            names = _HEADER_NAMES
            headers: list[tuple[bytes, bytes]] = []
            has_length = False
            for name, value in response_headers._list:
                raw = names.get(name) or _header_name(name)
                if raw is _CONTENT_LENGTH:
                    has_length = True
                elif raw is _LOCATION or raw is _CONTENT_LOCATION:
                    break  # werkzeug may rewrite it: the general path
                headers.append(
                    (
                        raw,
                        value.encode("latin-1")
                        if value.isprintable()
                        else _header_value(name, value),
                    )
                )
            else:
                if has_length:
                    return response.response, status, headers
    if not isinstance(environ, dict):
        environ = environ.environ
    if not isinstance(response, _WerkzeugResponse):
        # Not a response (what an after_request function returned): run as the
        # WSGI application Flask calls it as (None: Flask's TypeError).
        if not callable(response):
            raise TypeError(f"'{cls.__name__}' object is not callable")
        response = _KolbenResponse.force_type(response, environ)
    app_iter, _, wsgi_headers = response.get_wsgi_response(environ)
    return app_iter, response.status_code, _asgi_headers(wsgi_headers)


def _respond(response: t.Any) -> tuple[t.Any, int, list[tuple[bytes, bytes]]]:
    """:func:`asgi_response` for the request of the current request context (a
    request made from the scope, or the one an app's own ``request_context``
    made). PERF: no ``functools.partial`` per request."""
    return asgi_response(response, _cv_request.get().request)


_WSGI_RESPONSE = _KolbenResponse.get_wsgi_response
_WSGI_HEADERS = _KolbenResponse.get_wsgi_headers
_APP_ITER = _KolbenResponse.get_app_iter


async def _send_body(
    loop: asyncio.AbstractEventLoop,
    app: Kolben,
    context: contextvars.Context,
    app_iter: t.Any,
    start: Message,
    receive: Receive,
    send: Send,
    body: LazyBody | None,
    lane: Lane,
    send_empty: bool = False,
) -> bool:
    """Send ``start`` (the ``http.response.start`` message) and a streamed body
    (a buffered one is sent by :func:`_answer`); a sync iterator is advanced
    in the request's worker thread (``lane``). Empty chunks are not sent, unless
    ``send_empty`` (the test client's, see :data:`TEST_CLIENT_KEY`). Return
    whether the body was sent whole (the client did not go away).

    The status and headers of a sync body go out with its first chunk (empty or
    not), as WSGI servers and asgiref's ``WsgiToAsgi`` send them, not before it:
    a body that raises before it makes its first chunk (a generator failing on
    its first query) is an error of the application, which the server answers
    with a 500, not a ``200`` with a cut body. An async body's go out first.

    A task watches for the client's disconnect meanwhile. While the request body
    is not all received, it receives through ``body``, which keeps the body's
    messages for its readers (the streamed response may read the body).
    """
    disconnected = asyncio.Event()

    async def watch_disconnect() -> None:
        if body is not None:
            await body.wait_for_disconnect(app.config.get("ASGI_BODY_TIMEOUT"))
            disconnected.set()
            return
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    watcher = loop.create_task(watch_disconnect())
    try:
        if isinstance(app_iter, cabc.AsyncIterable):
            await send(start)
            if isinstance(app_iter, cabc.AsyncIterator):
                return await _send_async_body(loop, context, app_iter, watcher, send, send_empty)
        started = isinstance(app_iter, cabc.AsyncIterable)
        async for chunk in _chunks(loop, lane, context, app_iter, body):
            if disconnected.is_set():
                return False
            if not started:
                started = True
                await send(start)
            if chunk or send_empty:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        if disconnected.is_set():
            return False
        if not started:
            await send(start)
        await send({"type": "http.response.body", "body": b""})
        return True
    except OSError as e:
        if getattr(e, _BODY_ERROR, False):
            raise  # the body's own (a file gone, a socket of its own): the app's error
        # The server reports a vanished client this way; nothing to log.
        return False
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _send_async_body(
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
    body: cabc.AsyncIterator[t.Any],
    watcher: asyncio.Task[None],
    send: Send,
    send_empty: bool = False,
) -> bool:
    """Send an async iterator's chunks (empty ones only if ``send_empty``); when
    the client disconnects, even while the iterator is waiting for its next
    chunk, cancel it so its ``finally`` runs now. Return whether it was sent whole.

    One task pumps the whole body. PERF: not a task and a wait per chunk (~50 µs
    each), which bounded how many streams a worker could feed. Being one task, it
    also runs every step, and the final ``aclose()``, in one context (a copy of the
    request's), so a generator that pushes contexts (say through
    ``stream_with_context``) pops them in the context it pushed them in.
    """

    async def pump() -> bool:
        sent = 0
        try:
            while True:
                chunk = await _next_chunk(body)
                if watcher.done():  # the client went away while the chunk was made
                    return False
                if chunk is _DONE:
                    break
                if chunk or send_empty:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    # Let the watcher run now and then, or a body that awaits
                    # nothing else would be pumped to its end without it seeing
                    # http.disconnect (an endless one hangs the worker).
                    sent += 1
                    if not sent % LOOP_TURN_EVERY:
                        await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b""})
            return True
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()

    pumping = context.copy().run(loop.create_task, pump())
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
        return False
    return pumping.result()


async def _next_chunk(body: cabc.AsyncIterator[t.Any]) -> t.Any:
    try:
        chunk = await body.__anext__()
    except StopAsyncIteration:
        return _DONE
    except OSError as e:
        _mark_body_error(e)
        raise
    return chunk if isinstance(chunk, bytes) else str(chunk).encode()


_DONE = object()

#: The attribute marking an OSError that the response body raised as it made a
#: chunk: the application's error, raised on to the server (its 500, or a cut
#: response, logged), not the server's way of telling that the client left,
#: which :func:`_send_body` takes quietly.
_BODY_ERROR = "_kolben_body_error"


def _mark_body_error(error: OSError) -> None:
    with contextlib.suppress(AttributeError):  # (an OSError subclass with __slots__)
        setattr(error, _BODY_ERROR, True)


async def _chunks(
    loop: asyncio.AbstractEventLoop,
    lane: Lane,
    context: contextvars.Context,
    app_iter: t.Any,
    body: LazyBody | None = None,
) -> t.AsyncIterator[bytes]:
    """The body chunks: an async iterator directly, a sync one off the loop, in
    the request's worker thread (``lane``). If the request is cancelled while a
    sync one waits for the request ``body``, it stops waiting (see
    :meth:`LazyBody.abandon`)."""
    if isinstance(app_iter, cabc.AsyncIterable):
        try:
            async for chunk in app_iter:
                yield chunk if isinstance(chunk, bytes) else str(chunk).encode()
        except OSError as e:
            _mark_body_error(e)
            raise
        return
    iterator = iter(app_iter)
    abandon = body.abandon if body is not None and not body.filled else None
    while True:
        try:
            item: t.Any = await lane.run(
                loop,
                partial(context.run, next, iterator, _DONE),
                cancellable=False,
                on_cancel=abandon,
            )
        except OSError as e:
            _mark_body_error(e)
            raise
        if item is _DONE:
            return
        yield item
