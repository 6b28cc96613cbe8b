"""Testing websocket views without a server: ``client.websocket(path)``.

Every test client (``app.test_client()`` and ``app.asgi_test_client()``) can open
a WebSocket to the app. The connection goes through the app's real ASGI entry,
``app.asgi_app(scope, receive, send)``, as an ASGI server would make it: the
handshake scope carries the client's cookies, headers, query string and offered
subprotocols, and the server's side of the protocol (a refused handshake answered
with an HTTP response, close codes, the client leaving) is played the way uvicorn
plays it. Used with ``with`` it is a blocking connection for ordinary tests (the
app runs on an event loop in a background thread); with ``async with`` it is an
awaitable one for async tests (the app runs on the test's own loop)::

    def test_echo(app):
        with app.test_client().websocket("/echo") as ws:
            ws.send("hello")
            assert ws.receive() == "hello"

    async def test_echo_async(app):
        async with app.test_client().websocket("/echo") as ws:
            await ws.send("hello")
            assert await ws.receive() == "hello"

Every wait is bounded (``timeout``, 5 seconds by default): a view that sends
nothing makes :meth:`~WebsocketTestConnection.receive` raise
:exc:`WebsocketTimeout` instead of hanging the test run. Leaving the block closes
the connection (code 1000) if neither side has and waits for the app to end: no
task serving the connection, and no thread, is left behind.
"""

from __future__ import annotations

import asyncio
import base64
import collections.abc as cabc
import concurrent.futures
import contextlib
import contextvars
import os
import threading
import typing as t
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request as BaseRequest
from werkzeug.wsgi import get_current_url

from .websocket import WebsocketDisconnect

if t.TYPE_CHECKING:
    from werkzeug.test import TestResponse

    from .testing import KolbenClient

__all__ = [
    "TIMEOUT",
    "AsyncWebsocketTestConnection",
    "WebsocketDisconnect",
    "WebsocketHandshake",
    "WebsocketResponseError",
    "WebsocketTestConnection",
    "WebsocketTimeout",
]

#: Seconds a test websocket waits, by default, for the app to answer the
#: handshake, to send a message, or to end after the connection was closed.
TIMEOUT = 5.0

Message = dict[str, t.Any]
HeadersLike = Headers | cabc.Mapping[str, str] | cabc.Iterable[tuple[str, str]]
T = t.TypeVar("T")

_HTTP_RESPONSE_EXTENSION = "websocket.http.response"
_ENDED: Message = {"type": "kolben.test.app_ended"}
_ALREADY_OPEN = "This websocket block is already open; call client.websocket() again."
# Close codes that are never sent in a close frame (RFC 6455, 7.4.1).
_UNSENDABLE_CODES = frozenset({1004, 1005, 1006, 1015})


class WebsocketResponseError(Exception):
    """The app refused the websocket handshake with an HTTP response.

    Raised when the ``with`` (or ``async with``) block is entered. :attr:`response`
    is that response, a test response like the HTTP test client's
    (``status_code``, ``headers``, ``get_data()``, ``text``, ``json``); its
    ``Set-Cookie`` headers were stored in the client's cookies. A handshake the
    app closed before accepting (``websocket.close()``, or the view returning
    None without accepting) is refused with an empty 403, as ASGI servers do.
    Named as Quart's exception for the same thing.
    """

    def __init__(self, response: TestResponse) -> None:
        super().__init__(response)
        #: The HTTP response refusing the handshake.
        self.response = response

    @property
    def status_code(self) -> int:
        """The response's status code."""
        return self.response.status_code

    def __str__(self) -> str:
        body = " ".join(self.response.get_data(as_text=True).split())
        if len(body) > 200:
            body = f"{body[:200]}..."
        detail = f": {body}" if body else ""
        return (
            f"The app refused the websocket handshake with {self.response.status}"
            f"{detail} (the exception's 'response' is the HTTP response)."
        )


class WebsocketTimeout(TimeoutError):
    """The app did not answer in time: it did not accept or refuse the
    handshake, sent no message, or did not end after the connection closed. A
    :exc:`TimeoutError`. The connection stays usable after a receive timed out."""


class WebsocketHandshake:
    """A websocket connection not made yet: what ``client.websocket(...)`` returns.

    ``with`` it for a :class:`WebsocketTestConnection` (blocking calls), ``async
    with`` it for an :class:`AsyncWebsocketTestConnection` (awaitable calls, the
    app on the running loop). Each block is a new connection. Entering makes the
    handshake and waits for the app's answer: :exc:`WebsocketResponseError` when it
    refuses.
    """

    def __init__(
        self,
        client: KolbenClient,
        path: str = "/",
        *,
        headers: HeadersLike | None = None,
        query_string: str | bytes | cabc.Mapping[str, t.Any] | None = None,
        subprotocols: cabc.Iterable[str] | None = None,
        base_url: str | None = None,
        subdomain: str | None = None,
        url_scheme: str | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"The timeout must be a positive number of seconds, got {timeout!r}.")
        self.client = client
        self.path = path
        self.headers = headers
        self.query_string = query_string
        self.subprotocols = list(subprotocols or ())
        self.base_url = base_url
        self.subdomain = subdomain
        self.url_scheme = url_scheme
        #: The default bound on every wait of the connection, in seconds.
        self.timeout = timeout
        self._sync: WebsocketTestConnection | None = None
        self._async: AsyncWebsocketTestConnection | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"

    def build_scope(self) -> tuple[Message, dict[str, t.Any]]:
        """The ASGI ``websocket`` scope of the handshake, and the WSGI environ it
        was made from (with the client's cookies that apply to the URL)."""
        from .asgi_testing import environ_to_scope
        from .testing import EnvironBuilder

        client = self.client
        path, url_scheme = self.path, _http_scheme(self.url_scheme)
        url = urlsplit(path)
        if url.scheme in ("ws", "wss"):
            path = urlunsplit((_http_scheme(url.scheme), *url[1:]))
        builder_kwargs: dict[str, t.Any] = {"environ_base": dict(client.environ_base)}
        if self.headers is not None:
            builder_kwargs["headers"] = self.headers
        if self.query_string is not None:
            builder_kwargs["query_string"] = self.query_string
        builder = EnvironBuilder(
            client.application,
            path,
            self.base_url,
            self.subdomain,
            url_scheme,
            **builder_kwargs,
        )
        try:
            environ = builder.get_environ()
        finally:
            builder.close()
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key) in ("", "0"):
                del environ[key]
        client._add_cookies_to_wsgi(environ)
        environ.setdefault("HTTP_CONNECTION", "Upgrade")
        environ.setdefault("HTTP_UPGRADE", "websocket")
        environ.setdefault("HTTP_SEC_WEBSOCKET_VERSION", "13")
        environ.setdefault("HTTP_SEC_WEBSOCKET_KEY", base64.b64encode(os.urandom(16)).decode())
        if self.subprotocols:
            environ.setdefault("HTTP_SEC_WEBSOCKET_PROTOCOL", ", ".join(self.subprotocols))
        scope = environ_to_scope(environ)
        scope["type"] = "websocket"
        del scope["method"]
        scope["asgi"] = {"version": "3.0", "spec_version": "2.4"}
        scope["scheme"] = "wss" if scope["scheme"] == "https" else "ws"
        scope["subprotocols"] = list(self.subprotocols)
        scope["extensions"] = {_HTTP_RESPONSE_EXTENSION: {}}
        return scope, environ

    def __enter__(self) -> WebsocketTestConnection:
        if self._sync is not None:
            raise RuntimeError(_ALREADY_OPEN)
        conn = WebsocketTestConnection(self)
        conn._open()
        self._sync = conn
        return conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._sync = self._sync, None
        if conn is not None:
            conn._finish(exc_value is not None)

    async def __aenter__(self) -> AsyncWebsocketTestConnection:
        if self._async is not None:
            raise RuntimeError(_ALREADY_OPEN)
        conn = AsyncWebsocketTestConnection(self)
        await conn._open()
        self._async = conn
        return conn

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._async = self._async, None
        if conn is not None:
            await conn._finish(exc_value is not None)


class AsyncWebsocketTestConnection:
    """An open test websocket, for async tests: ``async with
    client.websocket(path) as ws``. The app runs on the test's event loop, in a
    task of its own (in an empty context, as under a server).

    ``await ws.send(data)``, ``await ws.receive()``, ``send_json`` /
    ``receive_json``, ``await ws.close(code, reason)``. A ``str`` is a text frame
    and a ``bytes`` a binary one, both ways.
    """

    def __init__(self, handshake: WebsocketHandshake) -> None:
        self._handshake = handshake
        self._client = handshake.client
        #: The default bound on every wait, in seconds.
        self.timeout = handshake.timeout
        #: The subprotocol the app accepted (one of those offered), or None.
        self.subprotocol: str | None = None
        #: The headers the app added to its accept (the 101 response).
        self.response_headers = Headers()
        self._environ: dict[str, t.Any] = {}
        # app -> client, and client -> app
        self._outgoing: asyncio.Queue[Message] = asyncio.Queue()
        self._incoming: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        # A message taken from _outgoing by a receive() that was cancelled
        # (asyncio.wait_for around it): the next receive() returns it.
        self._held: Message | None = None
        self._server_close: WebsocketDisconnect | None = None  # the app sent a close
        self._client_close: WebsocketDisconnect | None = None  # the test closed
        self._error_raised = False  # the app's exception reached the test

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self._handshake.path!r} {state}>"

    @property
    def closed(self) -> bool:
        """Whether either side closed the connection, or the app ended."""
        return (
            self._client_close is not None
            or self._server_close is not None
            or (self._task is not None and self._task.done())
        )

    # -- the test's side -----------------------------------------------------------------

    async def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send ``data`` to the app: a ``str`` as a text frame, bytes as a binary
        frame. Raises :exc:`~kolben.WebsocketDisconnect` once the connection is
        closed."""
        if isinstance(data, str):
            message: Message = {"type": "websocket.receive", "text": data}
        elif isinstance(data, (bytes, bytearray, memoryview)):
            message = {"type": "websocket.receive", "bytes": bytes(data)}
        else:
            raise TypeError(
                "send() takes a str (a text frame) or bytes (a binary frame), not"
                f" {type(data).__name__}; use send_json() for other values."
            )
        self._check_open()
        self._incoming.put_nowait(message)

    async def send_json(self, value: t.Any) -> None:
        """Send ``value`` as JSON (with the app's JSON provider) in a text frame."""
        await self.send(self._client.application.json.dumps(value))

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message the app sent: ``str`` for a text frame, ``bytes`` for
        a binary one.

        :param timeout: seconds to wait (default: the connection's ``timeout``).
        :raises WebsocketTimeout: the app sent nothing in that time.
        :raises kolben.WebsocketDisconnect: the connection is closed (the app
            closed it: its code and reason), after the messages sent before the
            close were received.
        """
        if self._server_close is not None and self._outgoing.empty() and self._held is None:
            raise _copy(self._server_close)
        message = await self._next(timeout, "no message, no close")
        kind = message["type"]
        if kind == "websocket.send":
            text = message.get("text")
            if text is not None:
                return t.cast(str, text)
            return bytes(message.get("bytes") or b"")
        if kind == "websocket.close":
            assert self._server_close is not None
            raise _copy(self._server_close)
        if message is _ENDED:
            self._raise_app_error()
            if self._server_close is not None:
                raise _copy(self._server_close)
            if self._client_close is not None:
                raise _copy(self._client_close)
            raise WebsocketDisconnect(1006, "the app ended without closing the connection")
        raise RuntimeError(f"The app sent an unexpected ASGI message on a websocket: {kind!r}.")

    async def receive_json(self, timeout: float | None = None) -> t.Any:
        """The next message, decoded as JSON (with the app's JSON provider)."""
        return self._client.application.json.loads(await self.receive(timeout))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (the app sees
        :exc:`~kolben.WebsocketDisconnect` with them), then wait for the app to end
        (at most the connection's ``timeout``; then it is cancelled and
        :exc:`WebsocketTimeout` raised). Closing a closed connection only waits."""
        if not isinstance(code, int) or not (
            (1000 <= code <= 1014 and code not in _UNSENDABLE_CODES) or 3000 <= code <= 4999
        ):
            raise ValueError(
                f"{code!r} is not a close code a client can send: use 1000 (normal),"
                " another standard code (1001, 1008...) or one in 3000-4999."
            )
        if len(reason.encode("utf-8")) > 123:
            raise ValueError("A close reason can be at most 123 bytes of UTF-8.")
        if self._client_close is None:
            self._client_close = WebsocketDisconnect(code, reason)
            if self._server_close is None:
                self._incoming.put_nowait(
                    {"type": "websocket.disconnect", "code": code, "reason": reason}
                )
        await self._wait_for_app()

    # -- the server's side (what the app's receive and send see) ------------------------

    async def _app_receive(self) -> Message:
        message = await self._incoming.get()
        if message["type"] == "websocket.disconnect":
            self._incoming.put_nowait(message)  # every later receive gets it too
        return message

    async def _app_send(self, message: cabc.MutableMapping[str, t.Any]) -> None:
        kind = message["type"]
        if self._client_close is not None and kind in ("websocket.send", "websocket.close"):
            # What uvicorn does once the client is gone (ClientDisconnected).
            raise OSError("The test client closed the websocket connection.")
        if kind == "websocket.close" and self._server_close is None:
            code = int(message.get("code") or 1000)
            reason = message.get("reason") or ""
            self._server_close = WebsocketDisconnect(code, reason)
            # The client answers the close frame: the app's next receive sees it.
            self._incoming.put_nowait(
                {"type": "websocket.disconnect", "code": code, "reason": reason}
            )
        self._outgoing.put_nowait(dict(message))

    # -- internals -------------------------------------------------------------------------

    async def _open(self) -> None:
        scope, self._environ = self._handshake.build_scope()
        self._incoming.put_nowait({"type": "websocket.connect"})
        app = self._client.application
        coro = app.asgi_app(scope, self._app_receive, self._app_send)
        loop = asyncio.get_running_loop()
        # An empty context, as a server's: nothing the test pushed leaks in.
        task = contextvars.Context().run(loop.create_task, _run(coro))
        task.add_done_callback(self._ended)
        self._task = task
        try:
            await self._handshake_answer()
        except BaseException:
            await self._stop_app(raise_error=False)
            raise

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._outgoing.put_nowait(_ENDED)

    async def _handshake_answer(self) -> None:
        message = await self._next(None, "no answer to the handshake")
        kind = message["type"]
        if kind == "websocket.accept":
            self.subprotocol = message.get("subprotocol")
            self.response_headers = Headers(_decode_headers(message.get("headers") or ()))
            self._store_cookies(self.response_headers)
            return
        if kind == "websocket.http.response.start":
            status = int(message["status"])
            headers = Headers(_decode_headers(message.get("headers") or ()))
            chunks: list[bytes] = []
            while True:
                body = await self._next(None, "the handshake's response body")
                if body["type"] != "websocket.http.response.body":
                    raise RuntimeError(
                        "The app sent a websocket.http.response.start message without"
                        f" its body (then {body['type']!r})."
                    )
                chunks.append(bytes(body.get("body") or b""))
                if not body.get("more_body"):
                    break
            await self._refused(status, headers, b"".join(chunks))
        if kind == "websocket.close":
            await self._refused(403, Headers([("Content-Length", "0")]), b"")
        if message is _ENDED:
            self._raise_app_error()
            raise RuntimeError(
                "The app ended without answering the websocket handshake (no"
                " websocket.accept, websocket.close or websocket.http.response"
                " message); an ASGI server answers that with a 500."
            )
        raise RuntimeError(f"The app answered the websocket handshake with {kind!r}.")

    async def _refused(self, status: int, headers: Headers, body: bytes) -> t.NoReturn:
        client = self._client
        request = BaseRequest(self._environ)
        response = client.response_wrapper([body], str(status), headers, request=request)
        response.json_module = client.application.json  # type: ignore[assignment]
        self._store_cookies(headers)
        await self._wait_for_app()
        raise WebsocketResponseError(response)

    def _store_cookies(self, headers: Headers) -> None:
        cookies = headers.getlist("Set-Cookie")
        if cookies:
            url = urlsplit(get_current_url(self._environ))
            self._client._update_cookies_from_response(
                url.hostname or "localhost", url.path, cookies
            )

    def _check_open(self) -> None:
        if self._client_close is not None:
            raise _copy(self._client_close)
        if self._server_close is not None:
            raise _copy(self._server_close)
        task = self._task
        if task is not None and task.done():
            self._raise_app_error()
            raise WebsocketDisconnect(1006, "the app ended without closing the connection")

    async def _next(self, timeout: float | None, what: str) -> Message:
        """The next message from the app, waiting at most ``timeout`` seconds."""
        outgoing = self._outgoing
        if self._held is not None:
            message, self._held = self._held, None
        elif outgoing.empty():
            if timeout is None:
                timeout = self.timeout
            getter = asyncio.ensure_future(outgoing.get())
            try:
                await asyncio.wait((getter,), timeout=timeout)
            except BaseException:
                # Cancelled (asyncio.wait_for(ws.receive(), ...) timing out) just
                # as the getter took a message: keep it for the next receive.
                if getter.done() and not getter.cancelled():
                    self._held = getter.result()
                raise
            finally:
                if not getter.done():
                    # Cancelled before it took anything: the queue keeps its items.
                    getter.cancel()
                    await asyncio.wait((getter,))
            if getter.cancelled():
                raise WebsocketTimeout(
                    f"The app sent nothing on the websocket {self._handshake.path!r} in"
                    f" {timeout:g} seconds ({what}). Pass timeout= (to receive() or to"
                    " client.websocket()) to wait longer."
                )
            message = getter.result()
        else:
            message = outgoing.get_nowait()
        if message is _ENDED:
            outgoing.put_nowait(message)  # every later receive sees it too
        return message

    def _raise_app_error(self) -> None:
        """Raise the exception the app's task ended with, once."""
        task = self._task
        if task is None or not task.done() or task.cancelled() or self._error_raised:
            return
        error = task.exception()
        if error is not None:
            self._error_raised = True
            raise error

    async def _wait_for_app(self) -> None:
        """Wait for the app to end (it was told the connection is over); after
        the timeout, cancel it and raise WebsocketTimeout."""
        task = self._task
        if task is None:
            return
        if not task.done():
            await asyncio.wait((task,), timeout=self.timeout)
        if not task.done():
            await self._stop_app(raise_error=False)
            raise WebsocketTimeout(
                f"The app serving the websocket {self._handshake.path!r} did not end"
                f" within {self.timeout:g} seconds after the connection was closed; it"
                " was cancelled."
            )
        self._raise_app_error()

    async def _stop_app(self, *, raise_error: bool) -> None:
        task = self._task
        if task is None:
            return
        if not task.done():
            task.cancel()
            await asyncio.wait((task,), timeout=self.timeout)
        if raise_error:
            self._raise_app_error()

    async def _finish(self, failing: bool) -> None:
        """The end of the block: close (1000) unless a side did, wait for the app
        to end, raise the app's error unless the block is already failing."""
        try:
            if self._client_close is None:
                await self.close(1000)
            else:
                await self._wait_for_app()
        except BaseException:
            await self._stop_app(raise_error=False)
            if not failing:
                raise
        finally:
            if self._task is not None and not self._task.done():
                await self._stop_app(raise_error=False)


class WebsocketTestConnection:
    """An open test websocket, with blocking calls: ``with
    client.websocket(path) as ws``. The app runs on an event loop in a thread of
    this connection, which ends with the block.

    ``ws.send(data)``, ``ws.receive()``, ``send_json`` / ``receive_json``,
    ``ws.close(code, reason)``: as on :class:`AsyncWebsocketTestConnection`,
    without ``await``.
    """

    def __init__(self, handshake: WebsocketHandshake) -> None:
        self._handshake = handshake
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._run_loop,
            name=f"kolben-websocket-test {handshake.path}",
            daemon=True,
        )
        self._conn: AsyncWebsocketTestConnection | None = None

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self._handshake.path!r} {state}>"

    @property
    def timeout(self) -> float:
        """The default bound on every wait, in seconds."""
        return self._handshake.timeout

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the app accepted (one of those offered), or None."""
        return self._async.subprotocol

    @property
    def response_headers(self) -> Headers:
        """The headers the app added to its accept (the 101 response)."""
        return self._async.response_headers

    @property
    def closed(self) -> bool:
        """Whether either side closed the connection, or the app ended."""
        return self._async.closed

    def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send ``data``: a ``str`` as a text frame, bytes as a binary frame."""
        self._call(self._async.send(data))

    def send_json(self, value: t.Any) -> None:
        """Send ``value`` as JSON in a text frame."""
        self._call(self._async.send_json(value))

    def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message (``str`` or ``bytes``); see
        :meth:`AsyncWebsocketTestConnection.receive`."""
        return self._call(self._async.receive(timeout), timeout)

    def receive_json(self, timeout: float | None = None) -> t.Any:
        """The next message, decoded as JSON."""
        return self._call(self._async.receive_json(timeout), timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` and ``reason``, then wait for the app to end."""
        self._call(self._async.close(code, reason))

    # -- internals -------------------------------------------------------------------------

    @property
    def _async(self) -> AsyncWebsocketTestConnection:
        if self._conn is None:
            raise RuntimeError("The websocket is not open: use it inside its 'with' block.")
        return self._conn

    def _run_loop(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        await self._stop.wait()

    def _call(self, coro: t.Coroutine[t.Any, t.Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the connection's loop and wait for its result. The
        coroutine bounds its own waits; this bound is a second guard."""
        loop = self._loop
        if loop is None or not self._thread.is_alive():
            coro.close()
            raise RuntimeError("The websocket is not open: use it inside its 'with' block.")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        limit = 3 * max(timeout or 0.0, self.timeout) + 5.0
        # Not future.result(limit): the coroutine's own WebsocketTimeout is a
        # TimeoutError too, as is concurrent.futures.TimeoutError since 3.11.
        done, _ = concurrent.futures.wait((future,), limit)
        if future in done:
            return future.result()
        future.cancel()
        raise WebsocketTimeout(
            f"The websocket test connection {self._handshake.path!r} did not answer"
            f" in {limit:g} seconds: its event loop is blocked (a sync call in an"
            " async view?)."
        )

    def _open(self) -> None:
        self._thread.start()
        self._ready.wait(self.timeout)
        try:
            # Its queues bind to the connection's loop when first used there.
            self._conn = AsyncWebsocketTestConnection(self._handshake)
            self._call(self._conn._open())
        except BaseException:
            self._stop_thread(failing=True)
            raise

    def _finish(self, failing: bool) -> None:
        try:
            if self._conn is not None:
                self._call(self._conn._finish(failing))
        except BaseException:
            self._stop_thread(failing=True)
            if not failing:
                raise
        else:
            self._stop_thread(failing=failing)

    def _stop_thread(self, *, failing: bool) -> None:
        """Stop the loop (its leftover tasks are cancelled, as by asyncio.run)
        and wait for the thread to end."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
        self._thread.join(self.timeout)
        if self._thread.is_alive() and not failing:
            raise WebsocketTimeout(
                f"The event loop of the websocket test connection {self._handshake.path!r}"
                f" did not stop within {self.timeout:g} seconds: a task the app started"
                " does not end when cancelled."
            )


async def _run(coro: t.Awaitable[None]) -> None:
    await coro


def _copy(e: WebsocketDisconnect) -> WebsocketDisconnect:
    return WebsocketDisconnect(e.code, e.reason)


def _decode_headers(raw: cabc.Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw]


def _http_scheme(scheme: str | None) -> str | None:
    if scheme == "ws":
        return "http"
    if scheme == "wss":
        return "https"
    return scheme
