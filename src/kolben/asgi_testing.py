"""Driving the ASGI door from the test client.

:class:`KolbenASGIClient` has the interface of :class:`~kolben.testing.KolbenClient`
(methods, ``json=``, ``follow_redirects``, cookies, ``session_transaction``,
``with client:``) but sends every request through ``app.asgi_app`` instead of
``app.wsgi_app``: the request becomes an ASGI scope and ``receive``/``send``
messages, exactly as an ASGI server would deliver it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import typing as t
from urllib.parse import quote

from werkzeug.http import HTTP_STATUS_CODES

from .asgi import _HEADER_NAMES, ENVIRON_EXTRA_KEY
from .asgi_environ import SCOPE_ENTRIES
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
    Events, can be read chunk by chunk). Closing it (``response.close()``, or
    reading it to its end) is the client disconnecting: the app sees
    ``http.disconnect``, finishes, and the loop is closed. A buffered body is
    complete, and its loop closed, when the call returns.
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
            # running in the request's context (stream_with_context pushes it too)
            # would then pop the test's push, which contextvars refuse. Such a
            # request is served whole, as before it returns.
            exchange = _Exchange(self.app, scope, body, whole=PRESERVE_CONTEXT_KEY in environ)
        else:
            # A request made from an ``async def`` view (its loop is busy until
            # this returns): served whole on a loop of its own in another thread.
            exchange = _Exchange(self.app, scope, body, in_thread=True)
        status, headers = exchange.start()
        # Header names as the app wrote them, as the WSGI door's test client
        # shows them (tests written for Flask compare "Set-Cookie" exactly).
        names = header_names()
        start_response(
            f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}",
            [(names.get(k) or k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
        )
        if exchange.finished:
            return exchange.chunks
        return _StreamedBody(exchange)


class _Exchange:
    """One request served through the ASGI door on a loop of its own: the
    ``receive`` and ``send`` of a server, the messages the app sent so far, and
    the driving of the loop."""

    def __init__(
        self,
        app: Kolben,
        scope: dict[str, t.Any],
        body: bytes,
        in_thread: bool = False,
        whole: bool = False,
    ) -> None:
        self.app = app
        self.scope = scope
        self.body = body
        self.in_thread = in_thread
        #: Serve the whole response before the call returns.
        self.whole = whole
        self.sent_body = False
        self.status: int | None = None
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
            if message.get("body"):
                self.chunks.append(bytes(message["body"]))
            if not message.get("more_body", False):
                self.complete = True
                self.disconnect.set()
        self.progress.set()

    async def _serve(self) -> None:
        assert self.progress is not None
        try:
            await self.app.asgi_app(self.scope, self.receive, self.send)
        finally:
            self.progress.set()

    def start(self) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Serve until the response has started; return its status and headers.
        A response complete by then is finished (the app returned, the loop
        closed); a streamed one is left to :meth:`next_chunk` and :meth:`close`."""
        # (an Event binds to the loop that first waits on it)
        self.progress = asyncio.Event()
        self.disconnect = asyncio.Event()
        if self.in_thread:
            failure: list[BaseException] = []

            def serve() -> None:
                try:
                    asyncio.run(self._serve())
                except BaseException as e:  # re-raised in the caller's thread
                    failure.append(e)

            thread = threading.Thread(target=serve, name="kolben-asgi-test-request")
            thread.start()
            thread.join()
            self.finished = True
            if failure:
                raise failure[0]
        else:
            self.loop = asyncio.new_event_loop()
            self.task = self.loop.create_task(self._serve())
            try:
                self._drive(lambda: self.status is not None)
                if (self.complete or self.whole) and not self.task.done():
                    # A complete response: what is left is the app's own ending.
                    self._drive(lambda: False)
            except BaseException:
                self.close()
                raise
            if self.task.done():
                self._finish()
        if self.status is None:
            raise RuntimeError("The app returned without sending 'http.response.start'.")
        return self.status, self.headers

    def _drive(self, enough: t.Callable[[], bool]) -> None:
        """Run the loop until ``enough()`` or the app returned."""
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

    def next_chunk(self) -> bytes | None:
        """The next body chunk, served as needed; None at the end."""
        while not self.chunks:
            if self.finished or self.complete:
                if not self.finished:
                    self._drive(lambda: False)
                return None
            self._drive(lambda: bool(self.chunks) or self.complete)
        return self.chunks.pop(0)

    def close(self) -> None:
        """The client goes away: the app is told (``http.disconnect``) and
        served until it returns; then the loop is closed."""
        if self.finished or self.loop is None:
            return
        if self.disconnect is not None:
            self.disconnect.set()
        self._drive(lambda: False)

    def _finish(self) -> None:
        """Close the loop as ``asyncio.run`` does; raise what the app raised."""
        if self.finished:
            return
        self.finished = True
        loop, task = self.loop, self.task
        assert loop is not None and task is not None
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
        task.result()  # the app's exception, raised in the test


class _StreamedBody:
    """The body of a response still being sent: read, it serves the request
    further; closed, the client disconnects (see :class:`ASGIBridge`)."""

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange

    def __iter__(self) -> _StreamedBody:
        return self

    def __next__(self) -> bytes:
        chunk = self._exchange.next_chunk()
        if chunk is None:
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._exchange.close()

    def __del__(self) -> None:
        # A response dropped unread and unclosed: the client went away. (Under
        # a running loop, another test's, this loop can't be run: left as is.)
        exchange = self._exchange
        if exchange.finished or exchange.loop is None or sys.is_finalizing():
            # (At interpreter exit the app's worker threads are stopped: driving
            # the loop could wait for them for ever.)
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
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
