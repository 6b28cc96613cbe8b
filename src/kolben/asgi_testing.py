"""Driving the ASGI door from the test client.

:class:`KolbenASGIClient` has the interface of :class:`~kolben.testing.KolbenClient`
(methods, ``json=``, ``follow_redirects``, cookies, ``session_transaction``,
``with client:``) but sends every request through ``app.asgi_app`` instead of
``app.wsgi_app``: the request becomes an ASGI scope and ``receive``/``send``
messages, exactly as an ASGI server would deliver it.

The client's scope has a key of its own (:data:`kolben.asgi.TEST_CLIENT_KEY`),
for which the door gives a response as the WSGI door's test client sees it: the
status line with its reason phrase (``"299 Custom Reason"``, which
``http.response.start`` can't carry); a stream's empty chunks (``yield ""`` to
send the headers early: ``client.get()`` returns then); and the body closed
(``call_on_close`` functions) when the test closes the response, not as the
test reads it to its end. What servers are sent is not changed.

Where the doors still differ, the response is what an ASGI server would send:

- A header value that is not latin-1 can't be sent: the door raises (a server
  answers 500) and so does the request in the test; werkzeug's client passes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
import threading
import typing as t
from urllib.parse import quote

from werkzeug.http import HTTP_STATUS_CODES

from .asgi import (
    _HEADER_NAMES,
    ENVIRON_EXTRA_KEY,
    TEST_CLIENT_KEY,
    TEST_CLOSE_KEY,
)
from .asgi_environ import SCOPE_ENTRIES
from .ctx import AppContext, RequestContext
from .globals import _cv_app, _cv_request
from .pipeline import raised_by_step
from .testing import KolbenClient
from .wsgi import PRESERVE_CONTEXT_KEY

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .app import Kolben

# Environ keys the ASGI door rebuilds from the scope; everything else is passed on.
_REBUILT = SCOPE_ENTRIES


def environ_to_scope(environ: WSGIEnvironment) -> dict[str, t.Any]:
    """The ASGI HTTP scope an ASGI server would build for this request."""
    path = environ.get("PATH_INFO", "").encode("latin-1")
    if path and not path.startswith(b"/"):
        # A relative path given to the client (``client.get("x")``): werkzeug
        # puts it in PATH_INFO as it is and routes it as "/x", below
        # APPLICATION_ROOT too; an HTTP request's path always starts with "/".
        path = b"/" + path
    root_path = environ.get("SCRIPT_NAME", "").encode("latin-1")
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if not value:
                continue
            name = key.replace("_", "-").lower()
        else:
            continue
        headers.append((name.encode("latin-1"), str(value).encode("latin-1")))
    client = environ.get("REMOTE_ADDR")
    scope: dict[str, t.Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").partition("/")[2] or "1.1",
        "method": environ.get("REQUEST_METHOD", "GET"),
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": (root_path + path).decode("utf-8", "replace"),
        "raw_path": quote(root_path + path, safe="/:@!$&'()*+,;=").encode("ascii"),
        "root_path": root_path.decode("utf-8", "replace"),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (environ.get("SERVER_NAME", "localhost"), int(environ.get("SERVER_PORT") or 80)),
        "client": (client, int(environ.get("REMOTE_PORT") or 0)) if client is not None else None,
        ENVIRON_EXTRA_KEY: {k: v for k, v in environ.items() if k not in _REBUILT},
    }
    for key in [k for k in scope[ENVIRON_EXTRA_KEY] if k.startswith("HTTP_")]:
        del scope[ENVIRON_EXTRA_KEY][key]
    return scope


def header_names() -> dict[bytes, str]:
    """Each response header name the ASGI door sent (lowercase, as ASGI
    requires), mapped to the name as the app wrote it (``Set-Cookie``,
    ``X-RateLimit-Limit``), from the door's own record of the names it
    converted. Where an app wrote one name in several cases, a case other than
    all-lowercase is preferred, the first one seen."""
    names: dict[bytes, str] = {}
    for name, raw in list(_HEADER_NAMES.items()):
        known = names.get(raw)
        if known is None or (known == known.lower() and name != name.lower()):
            names[raw] = name
    return names


class ASGIBridge:
    """A WSGI callable that serves each request through ``app.asgi_app`` on a new
    event loop (the test's "server loop"), run in the test's thread.

    As the WSGI test client reads a streamed body, lazily: the call returns once
    the response has started, and a body that is still being sent is an
    iterator driving the loop as it is read (an endless stream, Server-Sent
    Events, can be read chunk by chunk); the app's ``send`` of a chunk returns
    once the test read it, so the app makes each chunk as the test reads it.
    Closing it (``response.close()``, or reading it to its end) is the client
    disconnecting: the app sees ``http.disconnect``, finishes, and the loop is
    closed. A buffered body is complete, and its loop closed, when the call
    returns.
    """

    def __init__(self, app: Kolben) -> None:
        self.app = app

    def __getattr__(self, name: str) -> t.Any:
        # The client holds the bridge as its application while a request runs:
        # a request the same client makes meanwhile (from a view) reads the
        # app's attributes (config, json) through it.
        return getattr(self.app, name)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        keep = environ.get(PRESERVE_CONTEXT_KEY)
        kept: list[t.Any] = []
        # The contexts the test itself has pushed, and how often: a request made
        # in the test's app context (``with app.app_context(): with client:``)
        # reuses it, and the test's pushes of it are not the body's.
        pushed = [
            (ctx, len(ctx._cv_tokens))
            for ctx in (_cv_app.get(None), _cv_request.get(None))
            if ctx is not None
        ]

        def held() -> bool:
            """Whether the body holds a kept context (pushed it more often
            than the test had)."""
            return any(
                ctx is not None
                and len(ctx._cv_tokens) > next((n for c, n in pushed if c is ctx), 0)
                for ctx in kept
            )

        if keep is not None:
            # ``with client:``: the contexts the app hands over are noted, and
            # handed to the client once the response started (see below).
            environ = {**environ, PRESERVE_CONTEXT_KEY: kept.append}
        scope = environ_to_scope(environ)
        stream = environ["wsgi.input"]
        start = stream.tell() if stream.seekable() else None
        body = stream.read()
        if start is not None:
            stream.seek(start)  # a redirect that keeps the method sends it again
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            # With ``with client:`` the request's contexts are pushed again in the
            # test's own context once the call returns: a streamed body still
            # holding them (stream_with_context pushed them in the request's
            # context) would then pop the test's push, which contextvars refuse.
            # Such a body is read lazily all the same (an endless one, SSE, too):
            # its kept contexts are made active in the test's context without a
            # push (see below).
            exchange = _Exchange(
                self.app,
                scope,
                body,
                held=held,
            )
        else:
            # An ``async def`` test, or a request made from an ``async def`` view
            # (its loop is busy until this returns): served on a loop of its own
            # in another thread, read lazily as well.
            exchange = _Exchange(self.app, scope, body, in_thread=True, held=held)
        status, headers = exchange.start()
        if keep is not None:
            for ctx in kept:
                # A body that holds the contexts pops them (running the teardown
                # functions) as it ends: the client makes them active in the
                # test's context without a push, so that its block's end doesn't
                # run them a second time, nor pop a push of the test's context
                # from the body's (the WSGI door's client, whose push holds
                # them, runs them once, as the body ends or the block).
                keep(_Reactivated(ctx) if exchange.holds and ctx is not None else ctx)
        # Header names as the app wrote them, as the WSGI door's test client
        # shows them (tests written for Flask compare "Set-Cookie" exactly).
        names = header_names()
        line = exchange.status_line
        if line is None or line.partition(" ")[0] != str(status):
            line = f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
        start_response(
            line,
            [(names.get(k) or k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
        )
        if exchange.finished and exchange.closer is None:
            return exchange.chunks
        return _StreamedBody(exchange)


class _Exchange:
    """One request served through the ASGI door on a loop of its own: the
    ``receive`` and ``send`` of a server, the messages the app sent so far, and
    the driving of the loop.

    The loop runs in the test's thread, driven as the test reads the response;
    or, where the test's thread already runs an event loop (an ``async def``
    test, or a request made from an ``async def`` view), in a thread of the
    exchange's own (``in_thread``), which the test waits for as it reads. Either
    way a streamed body is made as it is read, an endless one too."""

    def __init__(
        self,
        app: Kolben,
        scope: dict[str, t.Any],
        body: bytes,
        in_thread: bool = False,
        held: t.Callable[[], bool] | None = None,
    ) -> None:
        self.app = app
        # (The door then tells the status line and sends a stream as the test
        # sees it under the WSGI door.)
        self.scope = {**scope, TEST_CLIENT_KEY: self.note_status, TEST_CLOSE_KEY: self.take_close}
        self.body = body
        self.in_thread = in_thread
        #: Whether the request's contexts are still pushed (by its body) once
        #: the response started.
        self.held = held
        #: The body holds the request's contexts (stream_with_context).
        self.holds = False
        self.sent_body = False
        self.status: int | None = None
        #: The response's status line, as the door told it (reason phrase included).
        self.status_line: str | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        #: Body chunks sent and not yet read (not the empty one that ends a
        #: stream, which the WSGI door's iterable doesn't have).
        self.chunks: list[bytes] = []
        self.complete = False  # the last body message was sent
        self.finished = False  # the app returned and the loop is closed
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[None] | None = None
        self.progress: asyncio.Event | None = None
        self.disconnect: asyncio.Event | None = None
        self.taken: asyncio.Event | None = None  # the test read a chunk
        #: The body's closing, which the door handed over once the body was
        #: sent (see kolben.asgi.TEST_CLIENT_KEY): run as the test closes the
        #: response, as werkzeug's client closes a WSGI body.
        self.closer: t.Callable[[], t.Any] | None = None
        #: (``in_thread``) The loop's thread, told of progress through ``changed``;
        #: ``ended`` once its loop is closed, with what failed there, if anything.
        self.thread: threading.Thread | None = None
        self.changed = threading.Condition()
        self.ended = False
        self.failure: BaseException | None = None
        #: (``in_thread``) The thread that started the request (the test's).
        self.caller: threading.Thread | None = None
        #: What the app raised, as its task ended (see _finish).
        self.error: BaseException | None = None

    def note_status(self, line: str) -> None:
        """The door tells the response's status line (see kolben.asgi.TEST_CLIENT_KEY)."""
        self.status_line = line

    async def take_close(self, close: t.Callable[[], t.Any]) -> None:
        """The door hands over the closing of a body it sent whole (see
        kolben.asgi.TEST_CLOSE_KEY): run as the test closes the response."""
        self.closer = close

    async def receive(self) -> dict[str, t.Any]:
        # The body, then (as uvicorn does) a disconnect once the response is
        # complete or the client went away; until then nothing.
        if not self.sent_body:
            self.sent_body = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        assert self.disconnect is not None
        await self.disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: t.MutableMapping[str, t.Any]) -> None:
        assert self.progress is not None and self.disconnect is not None
        kind = message["type"]
        if kind == "http.response.start":
            self.status = int(message["status"])
            self.headers = list(message.get("headers", ()))
        elif kind == "http.response.body":
            if self.status is None:
                raise RuntimeError(
                    f"'http.response.body' sent before 'http.response.start': {message!r}"
                )
            more_body = message.get("more_body", False)
            chunk = message.get("body", b"")
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                # Refused, as a server refuses it (and the WSGI door's client
                # a body's chunk that is not bytes): not bytes(chunk), which
                # made an int chunk that many NUL bytes.
                raise TypeError(f"expected a bytes-like object, {type(chunk).__name__} found")
            if chunk or more_body:
                # (an empty chunk with more_body too, as the WSGI door's body
                # has it: the test reads it, and the body goes on only then)
                self.chunks.append(bytes(chunk))
            if not more_body:
                self.complete = True
                self.disconnect.set()
            elif self.chunks:
                # As the WSGI door's body, advanced only as the test reads it:
                # the app waits until this chunk is read (a generator's side
                # effects happen as the test reads), or the client goes away,
                # which a server reports as an OSError.
                assert self.taken is not None
                self._progressed()
                while self.chunks and not self.disconnect.is_set():
                    self.taken.clear()
                    await self.taken.wait()
                if self.disconnect.is_set():
                    # (Not even the next chunk is made, as a closed WSGI body.)
                    raise ConnectionResetError("The test client closed the response.")
        self._progressed()

    def _progressed(self) -> None:
        """(On the exchange's loop) Something was sent, or the app returned."""
        assert self.progress is not None
        self.progress.set()
        if self.in_thread:
            with self.changed:
                self.changed.notify_all()

    async def _serve(self) -> None:
        try:
            await self.app.asgi_app(self.scope, self.receive, self.send)
        finally:
            self._progressed()

    def start(self) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Serve until the response has started; return its status and headers.
        A response complete by then is finished (the app returned, the loop
        closed); a streamed one is left to :meth:`next_chunk` and :meth:`close`."""
        # (an Event binds to the loop that first waits on it)
        self.progress = asyncio.Event()
        self.disconnect = asyncio.Event()
        self.taken = asyncio.Event()
        if self.in_thread:
            self.caller = threading.current_thread()
            # The request runs in a copy of the test's context, as in its thread.
            self.thread = threading.Thread(
                target=self._run_in_thread,
                args=(contextvars.copy_context(),),
                name="kolben-asgi-test-request",
                daemon=True,
            )
            self.thread.start()
        else:
            self.loop = asyncio.new_event_loop()
            self.task = self.loop.create_task(self._serve())
        try:
            self._drive(lambda: self.status is not None)
            if self.held is not None:
                # (An async stream_with_context body pushes the contexts as
                # it makes its first chunk, which the client reads next anyway.)
                self._drive(lambda: bool(self.chunks) or self.complete)
                if not self.complete and self.held():
                    # (read lazily all the same: an endless one, SSE, too)
                    self.holds = True
            if self.complete and not self._app_returned():
                # A complete response: what is left is the app's own ending.
                self._drive(lambda: False)
        except BaseException:
            self.close()
            raise
        if self._app_returned():
            self._finish()
        if self.status is None:
            raise RuntimeError("The app returned without sending 'http.response.start'.")
        return self.status, self.headers

    def _app_returned(self) -> bool:
        if self.in_thread:
            return self.ended
        assert self.task is not None
        return self.task.done()

    def _run_in_thread(self, context: contextvars.Context) -> None:
        """(``in_thread``) The exchange's thread: its loop runs the app until it
        returns, then is closed as ``asyncio.run`` closes one."""
        try:
            loop = self.loop = asyncio.new_event_loop()
            # (made in the test's context: the task runs in a copy of it)
            task = self.task = context.run(loop.create_task, self._serve())
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(asyncio.wait((task,)))
            finally:
                # (also when the app raised SystemExit or KeyboardInterrupt,
                # which the loop lets out)
                _close_loop(loop, task)
        except BaseException as e:  # raised in the test's thread
            self.failure = e
        finally:
            with self.changed:
                self.ended = True
                self.changed.notify_all()

    def _drive(self, enough: t.Callable[[], bool]) -> None:
        """Run the loop (or, ``in_thread``, wait for its thread) until
        ``enough()`` or the app returned."""
        if self.in_thread:
            with self.changed:
                while not self.ended and not enough():
                    self.changed.wait()
            if self.ended:
                self._finish()
            return
        loop, task = self.loop, self.task
        assert loop is not None and task is not None
        asyncio.set_event_loop(loop)
        while not task.done() and not enough():
            assert self.progress is not None
            self.progress.clear()
            waiter = loop.create_task(self.progress.wait())
            loop.run_until_complete(
                asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            )
            if not waiter.done():
                waiter.cancel()
                loop.run_until_complete(asyncio.gather(waiter, return_exceptions=True))
        if task.done():
            self._finish()

    def _set(self, event: asyncio.Event | None) -> None:
        """Set ``event``, one of the exchange's loop's (from its thread, when
        ``in_thread``)."""
        if event is None:
            return
        loop = self.loop
        if self.in_thread:
            if loop is not None and not self.ended:
                with contextlib.suppress(RuntimeError):  # (its loop closed meanwhile)
                    loop.call_soon_threadsafe(event.set)
        else:
            event.set()

    def next_chunk(self) -> bytes | None:
        """The next body chunk, served as needed; None at the end."""
        while not self.chunks:
            if self.finished or self.complete:
                if not self.finished:
                    self._drive(lambda: False)
                return None
            self._drive(lambda: bool(self.chunks) or self.complete)
        chunk = self.chunks.pop(0)
        if not self.chunks and not self.finished:
            self._set(self.taken)  # the app goes on at the next read
        return chunk

    def close(self) -> None:
        """The client goes away: the app is told (``http.disconnect``) and
        served until it returns; then the loop is closed. A body the door sent
        whole is closed now (its ``call_on_close`` functions run)."""
        if not self.finished and (self.loop is not None or self.thread is not None):
            self.abandon()
            self._drive(lambda: False)
        closer, self.closer = self.closer, None
        if closer is not None:
            closer()

    def abandon(self) -> None:
        """(``in_thread``) The client goes away without waiting for the app: it
        is told (``http.disconnect``), and its thread ends on its own."""
        if not self.finished:
            self._set(self.disconnect)
            self._set(self.taken)

    def _finish(self) -> None:
        """Close the loop as ``asyncio.run`` does (``in_thread``: its thread
        did); raise what the app raised."""
        if self.finished:
            return
        self.finished = True
        task = self.task
        if self.in_thread:
            assert self.thread is not None
            self.thread.join()
            if self.failure is not None:
                raise self.failure
        else:
            loop = self.loop
            assert loop is not None and task is not None
            _close_loop(loop, task)
        assert task is not None
        error = task.exception() if not task.cancelled() else None
        if error is not None:
            # The app's exception, raised in the test (a StopIteration user code
            # raised as itself, not as PEP 479's RuntimeError; but see
            # _StreamedBody.__next__).
            self.error = error
            raise raised_by_step(error)
        task.result()  # (a cancellation, raised in the test)


def _close_loop(loop: asyncio.AbstractEventLoop, task: asyncio.Task[None]) -> None:
    """Close ``loop``, whose app ``task`` is done, as ``asyncio.run`` does: the
    tasks left running cancelled, async generators and the default executor
    shut down, the thread's loop unset."""
    try:
        pending = [other for other in asyncio.all_tasks(loop) if other is not task]
        for other in pending:
            other.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class _Reactivated:
    """A context made active in the test's context without a push (its body
    holds it, and pops it as it ends): ``with client:`` enters it as it pushes
    a kept one."""

    def __init__(self, ctx: AppContext | RequestContext) -> None:
        #: The context (read by KolbenClient._pop_kept_contexts).
        self.kolben_kept_context = ctx
        self._var: t.Any = _cv_request if isinstance(ctx, RequestContext) else _cv_app
        self._token: t.Any = None

    def __enter__(self) -> AppContext | RequestContext:
        self._token = self._var.set(self.kolben_kept_context)
        return self.kolben_kept_context

    def __exit__(self, *exc_info: object) -> None:
        self._var.reset(self._token)


class _StreamedBody:
    """The body of a response still being sent: read, it serves the request
    further; closed, the client disconnects (see :class:`ASGIBridge`)."""

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange

    def __iter__(self) -> _StreamedBody:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = self._exchange.next_chunk()
        except StopIteration:
            # A StopIteration user code raised (a teardown function run as a
            # stream_with_context body ends), the app's error: raised from here
            # it would end the test's iteration, the error unseen. As under the
            # WSGI door, where it leaves the body's generator: PEP 479's
            # RuntimeError.
            error = self._exchange.error
            if error is None:
                raise
            raise error from error.__cause__
        if chunk is None:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._exchange.close()

    def __del__(self) -> None:
        # A response dropped unread and unclosed: the client went away. (Under
        # a running loop, another test's, this loop can't be run: left as is.
        # A body sent whole is not closed, as werkzeug's client leaves a WSGI
        # body the test did not close.)
        exchange = self._exchange
        if exchange.finished or exchange.loop is None or sys.is_finalizing():
            # (At interpreter exit the app's worker threads are stopped: driving
            # the loop could wait for them for ever.)
            return
        if exchange.in_thread:
            if threading.current_thread() is not exchange.caller:
                # Collected (a reference cycle) in another thread, maybe one the
                # exchange's end waits for (its own, or the request's worker
                # thread making the next chunk): waiting there would never end.
                with contextlib.suppress(BaseException):
                    exchange.abandon()
                return
        else:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                pass
            else:
                return
        with contextlib.suppress(BaseException):
            exchange.close()


class KolbenASGIClient(KolbenClient):
    """The test client, sending requests through the ASGI door:
    ``app.asgi_test_client()``."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._bridge = ASGIBridge(self.application)

    def run_wsgi_app(
        self, environ: WSGIEnvironment, buffered: bool = False
    ) -> tuple[t.Iterable[bytes], str, t.Any]:
        # werkzeug's client handles cookies around self.application: swap in the
        # bridge for the call, keep the app everywhere else (json, config, builder).
        app = self.application
        self.application = self._bridge  # type: ignore[assignment]
        try:
            return super().run_wsgi_app(environ, buffered=buffered)
        finally:
            self.application = app
