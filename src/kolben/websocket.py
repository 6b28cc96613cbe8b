"""WebSocket routes on the ASGI door.

A view registered with ``@app.websocket(rule)`` (or ``@bp.websocket``) is an
``async def`` function; inside it the :data:`kolben.websocket` global is the
:class:`Websocket` it serves::

    @app.websocket("/echo")
    async def echo():
        await websocket.accept()
        async for message in websocket:      # str or bytes, until the client leaves
            await websocket.send(message)

How one connection is served (:func:`serve_websocket`):

1. The handshake becomes a request context over the same WSGI-shaped environ the
   HTTP side builds (method GET, scheme http/https), so ``request``, ``session``
   (read-only), ``g``, ``url_for`` and converters work as in an HTTP view; the
   route is matched among websocket rules only.
2. A routing error, a ``before_websocket`` function returning a value or raising
   an HTTP error, or the view returning a value before accepting refuses the
   handshake with that HTTP response (servers without the ASGI
   ``websocket.http.response`` extension answer a plain 403).
3. The view runs on the server's event loop, in its own task (in a copy of the
   websocket's context). Sync hooks, the
   context push and the teardown run in a worker thread, in the websocket's
   context, so a blocking hook never stalls the loop. PERF: that is a few thread
   hops per connection, none per message.
4. While the view keeps calling :meth:`Websocket.receive`, it receives straight
   from the server (PERF: no task and no queue between them). Once it has been
   busy elsewhere for :data:`WATCH_AFTER` seconds (waiting on a broker, say), a
   watcher task takes over receiving, into a small bounded queue (TCP slows the
   client down if the view doesn't keep up), so the client leaving is noticed
   anyway: a view waiting in :meth:`Websocket.receive` gets
   :exc:`WebsocketDisconnect`; a view busy elsewhere is cancelled
   :data:`DISCONNECT_GRACE` seconds later, so its ``finally`` blocks run
   promptly.
5. A message larger than ``WEBSOCKET_MAX_MESSAGE_SIZE`` closes the connection
   with 1009. An exception escaping a hook or the view goes to the error
   handler registered for it, as in Quart, accepted or not (see
   :func:`_handle_error`); one no handler takes is logged with ``app.logger``
   and closes the connection with 1011 (or refuses the handshake with a 500,
   if it was not accepted yet). The after_websocket functions run whatever
   ended the view (but a routing refusal or a cancellation), the
   teardown_websocket and teardown functions in every case.
"""

from __future__ import annotations

import asyncio
import builtins
import collections.abc as cabc
import contextlib
import contextvars
import inspect
import io
import typing as t
from functools import partial, update_wrapper

from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import WebsocketMismatch
from werkzeug.sansio.response import Response as SansIOResponse

from . import router
from .concurrency import LOOP_TURN_EVERY, _server_loop, is_async_callable
from .ctx import FRAMEWORK_MATCHERS, RequestContext
from .globals import _cv_websocket
from .headers import INVALID_NAME_CHARACTER, INVALID_VALUE_CHARACTER
from .pipeline import DualStep, Steps, direct, drive, handling
from .sessions import SecureCookieSessionInterface, SessionMixin, opens_at_push
from .signals import (
    got_request_exception,
    got_websocket_exception,
    signal_steps,
    websocket_finished,
    websocket_received,
    websocket_sent,
    websocket_started,
    websocket_tearing_down,
)
from .wrappers import routing_path

if t.TYPE_CHECKING:
    from werkzeug.datastructures import Authorization, Headers, MultiDict

    from .app import Kolben
    from .broker import Subscription
    from .sse import Event
    from .wrappers import Request, Response

__all__ = [
    "DISCONNECT_GRACE",
    "WATCH_AFTER",
    "NeedsASGI",
    "ReadOnlySession",
    "ReadOnlySessionError",
    "Websocket",
    "WebsocketContext",
    "WebsocketDisconnect",
    "copy_current_websocket_context",
    "has_websocket_context",
    "serve_websocket",
]

Scope = t.MutableMapping[str, t.Any]
Message = t.MutableMapping[str, t.Any]
Receive = t.Callable[[], t.Awaitable[Message]]
Send = t.Callable[[Message], t.Awaitable[None]]

#: Seconds a view busy with something other than :meth:`Websocket.receive` may
#: go on after its client left before it is cancelled (so a short piece of work,
#: saving the last message say, completes; a wait on a broker does not linger).
DISCONNECT_GRACE = 0.25
#: Seconds a view may spend away from :meth:`Websocket.receive` before a watcher
#: task receives for it (to notice the client leaving).
WATCH_AFTER = 0.1
#: Messages received from the client and not yet taken by the view, at most, by
#: count and by the size of their data (a message larger than INBOX_BYTES is
#: let in alone): a client sending more waits (TCP slows it down) until the view
#: takes some.
INBOX_SIZE = 1024
INBOX_BYTES = 1024 * 1024
#: Seconds the inbox may stay full without the view taking a message before the
#: connection is closed with 1008: while the watcher waits for room it can't
#: notice the client leaving (nor the server shutting down), so a view that
#: never receives would otherwise never be told.
INBOX_STALL = 10.0
#: What one held message is counted as beside its data (its dict and strings).
_MESSAGE_OVERHEAD = 256
#: The ASGI extension that lets an app refuse a handshake with an HTTP response.
_HTTP_RESPONSE_EXTENSION = "websocket.http.response"
T = t.TypeVar("T")
_HTTP_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


class WebsocketDisconnect(Exception):
    """The connection is over: the client left or closed it, or the app closed it.

    Raised by :meth:`Websocket.receive` and :meth:`Websocket.send`. A view need
    not catch it: a websocket view ending with it ends normally (the
    ``after_websocket`` functions run, nothing is logged); so does a
    ``before_websocket`` or ``after_websocket`` function ending with it (no
    error handler is called for it).
    """

    def __init__(self, code: int = 1005, reason: str = "") -> None:
        super().__init__(code, reason)
        #: The close code (1000 normal, 1001 going away, 1006 the connection was
        #: lost without a close frame, 1009 too big, ...).
        self.code = code
        #: The close reason the other side gave, or "".
        self.reason = reason

    def __str__(self) -> str:
        reason = f" ({self.reason})" if self.reason else ""
        return f"The websocket connection is closed: code {self.code}{reason}."


class NeedsASGI(HTTPException):
    """``426 Upgrade Required``: a WebSocket upgrade reached the WSGI door.

    WSGI can't carry a WebSocket connection; the route is only served through
    the ASGI door.
    """

    code = 426
    description = (
        "This URL is a WebSocket endpoint, but the app is served through WSGI, which"
        " can't carry WebSocket connections. Serve it with an ASGI server (for"
        " example 'uvicorn module:app'), or route WebSocket paths to an ASGI worker."
    )


class ReadOnlySessionError(RuntimeError):
    """A websocket view (or hook) tried to change the session."""


_READ_ONLY_MESSAGE = (
    "The session is read-only in a websocket: its cookie was sent with the"
    " handshake and can't be changed over an open connection. Change the session in"
    " an HTTP view (one the page calls before it connects, say), and keep"
    " per-connection state in local variables or 'g'."
)


class ReadOnlySession(SessionMixin):
    """The session of a websocket: the handshake's session, for reading only.

    Reading works as usual (``session["user_id"]``, ``get``, ``in``...); any change
    (setting, deleting, ``pop``, ``clear``, ``update``, ``permanent = ...``)
    raises :exc:`ReadOnlySessionError`.
    """

    #: Always False: nothing can change a websocket's session.
    modified = False

    def __init__(self, session: SessionMixin) -> None:
        self._session = session

    @property
    def new(self) -> bool:  # type: ignore[override]
        """Whether the handshake carried no session."""
        return bool(getattr(self._session, "new", False))

    def __getitem__(self, key: str) -> t.Any:
        return self._session[key]

    def __iter__(self) -> t.Iterator[str]:
        return iter(self._session)

    def __len__(self) -> int:
        return len(self._session)

    def __setitem__(self, key: str, value: t.Any) -> None:
        raise ReadOnlySessionError(_READ_ONLY_MESSAGE)

    def __delitem__(self, key: str) -> None:
        raise ReadOnlySessionError(_READ_ONLY_MESSAGE)

    def clear(self) -> None:
        """Refused: raises :exc:`ReadOnlySessionError`, like every change."""
        raise ReadOnlySessionError(_READ_ONLY_MESSAGE)

    def regenerate(self) -> None:
        """Refused: a websocket can't give the client a new session cookie."""
        raise ReadOnlySessionError(_READ_ONLY_MESSAGE)

    def __repr__(self) -> str:
        return f"<ReadOnlySession {dict(self._session)!r}>"


class WebsocketContext(RequestContext):
    """The request context of a websocket handshake: matched among websocket
    rules, with a read-only session (opened by the handshake's own steps, see
    :func:`_push_steps`)."""

    _opens_session_at_push = False

    def match_request(self) -> None:
        """Match the handshake against the app's websocket rules."""
        request = self.request
        try:
            adapter = self.app.create_url_adapter(request)
            if adapter is None:
                return
            rule, view_args = router.match(
                adapter, routing_path(request), "GET", request.query_string, websocket=True
            )
        except HTTPException as e:
            if isinstance(e, WebsocketMismatch):
                e.description = (
                    "This URL is not a WebSocket endpoint; request it over plain HTTP."
                )
            request.routing_exception = e
        else:
            request.url_rule = rule
            request.view_args = view_args

    def _open_session(self) -> SessionMixin:
        sess = ReadOnlySession(super()._open_session())
        self._session = sess
        return sess


FRAMEWORK_MATCHERS.add(WebsocketContext.match_request)


_GONE: Message = {"type": "kolben.gone"}


def _from_request(name: str, doc: str) -> t.Any:
    """A read-only property of :class:`Websocket` reading ``request.<name>``."""
    return property(lambda self: getattr(self.request, name), doc=doc)


def _ws_url_from_request(name: str, doc: str) -> t.Any:
    """A read-only property reading the URL ``request.<name>`` with ws/wss."""

    def get(self: Websocket) -> str:
        url: str = getattr(self.request, name)
        scheme = self.request.scheme
        return f"{self.scheme}{url[len(scheme) :]}" if url.startswith(scheme) else url

    return property(get, doc=doc)


class Websocket:
    """One WebSocket connection: the :data:`kolben.websocket` global in a
    websocket view.

    The handshake's data (:attr:`args`, :attr:`headers`, :attr:`cookies`,
    :attr:`path`...) come from the same request object as ``request`` in the
    view. :meth:`receive` and :meth:`send` accept the handshake first if the view
    didn't.
    """

    __slots__ = (
        "_accepted",
        "_app",
        "_blocked_on",
        "_close_code",
        "_close_reason",
        "_closed_sent",
        "_gone",
        "_grace",
        "_inbox",
        "_inbox_bytes",
        "_loop",
        "_max_size",
        "_receive",
        "_receiving",
        "_relays",
        "_returned_at",
        "_send",
        "_sends",
        "_started",
        "_taken",
        "_view_task",
        "_watch_timer",
        "_watcher",
        "request",
        "scope",
    )

    def __init__(
        self, app: Kolben, scope: Scope, receive: Receive, send: Send, request: Request
    ) -> None:
        #: The ASGI scope of the connection.
        self.scope = scope
        #: The handshake as a request object (``request`` in the view).
        self.request = request
        self._app = app
        self._receive = receive
        self._send = send
        self._max_size: int | None = app.config.get("WEBSOCKET_MAX_MESSAGE_SIZE")
        # Bounded by the watcher (see _room_for), not by the queue: _went_away
        # always finds room for the end marker.
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._inbox_bytes = 0
        #: Set as the view takes a message from the inbox.
        self._taken = asyncio.Event()
        self._accepted = False
        self._started = False  # the handshake was answered (accepted or refused)
        self._closed_sent = False
        self._gone = False
        self._sends = 0
        self._receiving = False
        self._close_code: int | None = None
        self._close_reason = ""
        self._loop = asyncio.get_running_loop()
        self._watcher: asyncio.Task[None] | None = None
        self._watch_timer: asyncio.TimerHandle | None = None
        self._returned_at = 0.0
        self._relays: list[Subscription] = []
        self._view_task: asyncio.Task[t.Any] | None = None
        self._grace: asyncio.TimerHandle | None = None
        #: What the view task was waiting on when another task was told of the
        #: disconnect (see _cancel_busy_view), else a marker.
        self._blocked_on: t.Any = _NOT_TOLD_ELSEWHERE

    def __repr__(self) -> str:
        state = "open" if self._accepted and not self.closed else (
            "closed" if self.closed else "handshake"
        )
        return f"<Websocket {self.path!r} {state}>"

    # -- the handshake ---------------------------------------------------------------

    @property
    def path(self) -> str:
        """The requested path (without the query string)."""
        return self.request.path

    @property
    def full_path(self) -> str:
        """The path with the query string."""
        return self.request.full_path

    @property
    def url(self) -> str:
        """The full URL, with the ``ws`` or ``wss`` scheme."""
        return f"{self.scheme}{self.request.url[len(self.request.scheme) :]}"

    @property
    def scheme(self) -> str:
        """``"ws"`` or ``"wss"``."""
        return "wss" if self.request.scheme == "https" else "ws"

    @property
    def host(self) -> str:
        """The host the client connected to (the Host header)."""
        return self.request.host

    @property
    def args(self) -> MultiDict[str, str]:
        """The query string arguments."""
        return self.request.args

    @property
    def headers(self) -> Headers:
        """The handshake's headers."""
        return self.request.headers

    @property
    def cookies(self) -> MultiDict[str, str]:
        """The cookies the handshake carried."""
        return self.request.cookies

    @property
    def remote_addr(self) -> str | None:
        """The client's address."""
        return self.request.remote_addr

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols") or ())

    @property
    def requested_subprotocols(self) -> list[str]:
        """:attr:`subprotocols`, by Quart's name."""
        return self.subprotocols

    @property
    def authorization(self) -> Authorization | None:
        """The handshake's ``Authorization`` header, parsed (as ``request.authorization``)."""
        return self.request.authorization

    @property
    def origin(self) -> str | None:
        """The handshake's ``Origin`` header (browsers send it; kolben does not
        check it: compare it with your own origins to refuse cross-site pages)."""
        return self.request.origin

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the matched websocket route."""
        return self.request.endpoint

    @property
    def view_args(self) -> dict[str, t.Any] | None:
        """The matched route's arguments."""
        return self.request.view_args

    @property
    def blueprint(self) -> str | None:
        """The name of the blueprint of the matched route, if any."""
        return self.request.blueprint

    # The rest of the handshake's request attributes Quart's ``websocket`` has (it
    # is a werkzeug request too): read from :attr:`request`, URLs with ws/wss.
    method = _from_request("method", "``GET``: the handshake's method.")
    query_string = _from_request("query_string", "The raw query string (bytes).")
    root_path = _from_request("root_path", "The prefix the app is mounted under.")
    script_root = _from_request("script_root", "Alias of :attr:`root_path`.")
    is_secure = _from_request("is_secure", "Whether the connection is ``wss``.")
    access_route = _from_request("access_route", "The client's forwarded-for chain.")
    user_agent = _from_request("user_agent", "The parsed ``User-Agent`` header.")
    referrer = _from_request("referrer", "The ``Referer`` header.")
    accept_languages = _from_request("accept_languages", "The ``Accept-Language`` header.")
    accept_mimetypes = _from_request("accept_mimetypes", "The ``Accept`` header.")
    accept_charsets = _from_request("accept_charsets", "The ``Accept-Charset`` header.")
    accept_encodings = _from_request("accept_encodings", "The ``Accept-Encoding`` header.")
    cache_control = _from_request("cache_control", "The ``Cache-Control`` header.")
    url_rule = _from_request("url_rule", "The matched websocket rule.")
    blueprints = _from_request("blueprints", "The matched blueprint and its parents.")
    routing_exception = _from_request("routing_exception", "The routing error, if any.")
    base_url = _ws_url_from_request("base_url", "The URL without the query string.")
    host_url = _ws_url_from_request("host_url", "``ws://host/``.")
    root_url = _ws_url_from_request("root_url", "The URL of the app's root.")
    url_root = _ws_url_from_request("url_root", "Alias of :attr:`root_url`.")

    @property
    def http_version(self) -> str:
        """The HTTP version of the handshake (``"1.1"``)."""
        return str(self.scope.get("http_version") or "1.1")

    # -- state ------------------------------------------------------------------------

    @property
    def accepted(self) -> bool:
        """Whether the handshake was accepted."""
        return self._accepted

    @property
    def closed(self) -> bool:
        """Whether the connection is over (either side closed it, or the client
        went away)."""
        return self._gone or self._closed_sent

    @property
    def close_code(self) -> int | None:
        """The close code once the connection is over, else None."""
        return self._close_code

    # -- talking -----------------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: cabc.Mapping[str, str] | cabc.Iterable[tuple[str, str]] | None = None,
    ) -> None:
        """Accept the handshake, choosing ``subprotocol`` (one the client offered,
        see :attr:`subprotocols`) and adding ``headers`` to the response.

        Called again without arguments once accepted (in the view after a
        ``before_websocket`` function accepted, as Quart allows), it does
        nothing."""
        if self._started:
            if self._accepted and subprotocol is None and not headers:
                return
            what = "accepted" if self._accepted else "refused"
            raise RuntimeError(
                f"The websocket handshake was already {what}; accept() is called once,"
                " before the first send() or receive() (which accept for you), and"
                " a subprotocol or headers can't be given after it."
            )
        if subprotocol is not None and not isinstance(subprotocol, str):
            raise TypeError(
                f"accept() takes the subprotocol first and the headers second; got"
                f" {type(subprotocol).__name__} for the subprotocol. Pass headers by"
                " name: accept(headers={...}) (Quart's order is the other way round)."
            )
        if subprotocol is not None and subprotocol not in self.subprotocols:
            raise ValueError(
                f"The subprotocol {subprotocol!r} was not offered by the client (it"
                f" offered {self.subprotocols!r}); choose one of those, or None."
            )
        message: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers:
            message["headers"] = _accept_headers(headers)
        await self._end_handshake_watch()
        self._started = True
        try:
            await self._send(message)
        except OSError:
            self._went_away(1006, "", told=True)
            raise WebsocketDisconnect(1006) from None
        self._accepted = True
        self._returned_at = self._loop.time()
        self._watch_timer = self._loop.call_later(WATCH_AFTER, self._check_busy)

    async def _end_handshake_watch(self) -> None:
        """Stop watching for the client leaving during the handshake (accept() is
        being sent: the view's own receive() calls read from the server again)."""
        if self._watch_timer is not None:
            self._watch_timer.cancel()
            self._watch_timer = None
        watcher = self._watcher
        if watcher is not None:
            # Before the 101 the client can send no message: the watcher holds none.
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._watcher = None
        if self._gone:
            self._started = True
            raise self._disconnect()

    async def receive(self) -> str | bytes:
        """The next message from the client: a ``str`` for a text frame, ``bytes``
        for a binary one. Raises :exc:`WebsocketDisconnect` when the connection
        is over (messages sent before the client closed are delivered first)."""
        if not self._accepted:
            await self._accept_or_raise()
        if self._watcher is None:
            # PERF: the fast path, straight from the server.
            if self._gone:
                raise self._disconnect()
            self._receiving = True
            try:
                message = await self._receive()
            finally:
                self._receiving = False
            message = await self._take(message)
            self._returned_at = self._loop.time()
            if self._watch_timer is None and not self._gone:
                self._watch_timer = self._loop.call_later(WATCH_AFTER, self._check_busy)
        else:
            inbox = self._inbox
            if not inbox.empty():
                message = inbox.get_nowait()
            elif self._gone:
                raise self._disconnect()
            else:
                self._receiving = True
                try:
                    message = await inbox.get()
                finally:
                    self._receiving = False
            if message is _GONE:
                raise self._disconnect()
            self._inbox_bytes -= _held_size(message)
            self._taken.set()
        text = message.get("text")
        data: str | bytes = text if text is not None else message.get("bytes") or b""
        if websocket_received.receivers:
            await self._signal(websocket_received, data)
        return data

    async def receive_json(self) -> t.Any:
        """The next message decoded as JSON (with the app's JSON provider)."""
        return self._app.json.loads(await self.receive())

    async def send(self, data: str | bytes | bytearray | memoryview) -> None:
        """Send ``data``: a ``str`` as a text frame, bytes as a binary frame.
        Raises :exc:`WebsocketDisconnect` when the connection is over."""
        if isinstance(data, str):
            message: Message = {"type": "websocket.send", "text": data}
        elif isinstance(data, (bytes, bytearray, memoryview)):
            message = {"type": "websocket.send", "bytes": bytes(data)}
        else:
            raise TypeError(
                "websocket.send() takes a str (a text frame) or bytes (a binary frame),"
                f" not {type(data).__name__}; use websocket.send_json() for other values."
            )
        if not self._accepted:
            await self._accept_or_raise()
        if self._gone or self._closed_sent:
            raise self._disconnect()
        try:
            await self._send(message)
        except OSError:  # the server's way of saying the client is gone
            self._went_away(1006, "", told=True)
            raise self._disconnect() from None
        if websocket_sent.receivers:
            await self._signal(websocket_sent, data)
        # Let the loop run now and then: a view sending in a loop that awaits
        # nothing else would never let the server see the client leave (nor
        # serve anyone else); uvicorn's send() may not suspend either.
        self._sends += 1
        if not self._sends % LOOP_TURN_EVERY:
            await asyncio.sleep(0)

    async def send_json(self, value: t.Any) -> None:
        """Send ``value`` encoded as JSON (with the app's JSON provider) in a text
        frame."""
        await self.send(self._app.json.dumps(value))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (at most 123 bytes
        of UTF-8). Before the handshake is accepted this refuses it (the server
        answers 403). Closing a closed connection does nothing."""
        _check_close(code, reason)
        if self._gone or self._closed_sent:
            return
        message: Message = {"type": "websocket.close", "code": code, "reason": reason}
        self._started = True
        self._closed_sent = True
        self._end_relays()
        self._close_code = code
        self._close_reason = reason
        with contextlib.suppress(OSError):
            await self._send(message)

    def __aiter__(self) -> Websocket:
        return self

    async def __anext__(self) -> str | bytes:
        """Messages until the connection is over (then the loop just ends)."""
        try:
            return await self.receive()
        except WebsocketDisconnect:
            raise StopAsyncIteration from None

    async def relay(
        self,
        channel: str,
        *,
        last_event_id: str | None = None,
        encode: t.Callable[[Event], str | bytes] | None = None,
    ) -> str | None:
        """Send every event published on ``app.broker``'s ``channel`` to this
        client, until the connection is over (either side closed it, or the client
        went away) or the subscription ends; returns the id of the last event
        sent (to resume from with ``last_event_id``). It never raises
        :exc:`WebsocketDisconnect`: the end of the connection ends the relay.

        Each event goes out as its text (``event.text``: the string published, or
        its JSON), or as what ``encode(event)`` returns. Run it beside a receive
        loop with a task group when the client also sends::

            @app.websocket("/chat/<room>")
            async def chat(room):
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(websocket.relay(f"chat:{room}"))
                    async for text in websocket:
                        await current_app.broker.apublish(f"chat:{room}", text)
        """
        if not self._accepted:
            try:
                await self._accept_or_raise()
            except WebsocketDisconnect:
                return last_event_id
        if self.closed:
            return last_event_id
        sub = await self._app.broker.asubscribe(channel, last_event_id=last_event_id)
        sent = last_event_id
        # The end of the connection closes the subscription, which ends the loop.
        self._relays.append(sub)
        try:
            async with sub:
                async for event in sub:
                    try:
                        await self.send(event.text if encode is None else encode(event))
                    except WebsocketDisconnect:
                        break
                    sent = event.id
        finally:
            self._relays.remove(sub)
        return sent

    # -- internals ---------------------------------------------------------------------

    async def _accept_or_raise(self) -> None:
        if self._started:  # refused or closed before accepting
            raise self._disconnect()
        await self.accept()

    def _disconnect(self) -> WebsocketDisconnect:
        return WebsocketDisconnect(self._close_code or 1005, self._close_reason)

    def _went_away(self, code: int, reason: str, *, told: bool = False) -> None:
        """The connection is over. Unless the code that found out is told (it
        raises WebsocketDisconnect itself), wake a view waiting in receive(), or
        cancel a view busy elsewhere after the grace period."""
        if self._gone:
            return
        self._gone = True
        if self._close_code is None:
            self._close_code = code
            self._close_reason = reason
        self._end_relays()
        task = self._view_task
        if told and (task is None or asyncio.current_task() is task):
            return  # the view found out itself: it raises WebsocketDisconnect
        # Told in another task (a receive loop or a sender the view started, as in
        # Quart's chat example), or not told: the view may be waiting in
        # receive() on the inbox, or on something else (a broker); it must not
        # wait forever.
        if self._receiving:
            with contextlib.suppress(asyncio.QueueFull):
                self._inbox.put_nowait(_GONE)
            return
        if told and task is not None:
            # The task told may be one the view awaits (asyncio.wait_for on
            # Python 3.11 runs receive() in a task of its own; gather; await
            # task): then the view gets the WebsocketDisconnect and handles it as
            # if it were told itself. Only a view still waiting on what it waited
            # on (a broker, a queue) when the grace period ends is cancelled.
            self._blocked_on = getattr(task, "_fut_waiter", None)
        self._cancel_after_grace()

    def _cancel_after_grace(self) -> None:
        """Cancel the view after DISCONNECT_GRACE seconds unless it has ended
        or is receiving (then it gets WebsocketDisconnect) by then."""
        task = self._view_task
        if task is not None and not task.done() and self._grace is None:
            self._grace = self._loop.call_later(DISCONNECT_GRACE, self._cancel_busy_view)

    def _end_relays(self) -> None:
        for sub in self._relays:
            sub.close()

    def _check_busy(self) -> None:
        """The watch timer: start the watcher if the view has been away from
        receive() for WATCH_AFTER seconds, else look again when it could be.

        PERF: one timer per WATCH_AFTER while messages flow, not one per message.
        """
        self._watch_timer = None
        if self._gone or self._watcher is not None or self._receiving:
            return  # receive() arms the timer again when it returns
        task = self._view_task
        if task is not None and task.done():
            return
        away = self._loop.time() - self._returned_at
        if away < WATCH_AFTER:
            self._watch_timer = self._loop.call_later(WATCH_AFTER - away, self._check_busy)
            return
        self._watcher = self._loop.create_task(self._read())

    async def _signal(self, signal: t.Any, data: str | bytes | bytearray | memoryview) -> None:
        """Send ``signal`` (``websocket_received`` / ``websocket_sent``) with the
        message ``data`` as the sender, as Quart does: ``async def`` receivers
        awaited here, on the loop; sync ones in a worker thread, in a copy of the
        websocket's context (the view's task is in the context itself). Nothing
        while the signal is muted (blinker's ``muted()``), as Quart's
        ``send_async`` and kolben's other signals."""
        if signal.is_muted:
            return
        for receiver in signal.receivers_for(data):
            if is_async_callable(receiver):
                await receiver(data)
            else:
                context = contextvars.copy_context()
                await self._app.worker_threads.run(
                    self._loop, partial(context.run, receiver, data), cancellable=False
                )

    async def _take(self, message: Message) -> Message:
        """A message the view received itself: returned, or (the client left, or
        it is too big) the connection ends and WebsocketDisconnect is raised."""
        kind = message["type"]
        if kind == "websocket.receive":
            size = self._too_big(message)
            if size is None:
                return message
            await self._refuse_big(size, told=True)
        elif kind == "websocket.disconnect":
            code = int(message.get("code") or 1005)
            self._went_away(code, message.get("reason") or "", told=True)
        else:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} on a websocket.")
        raise self._disconnect()

    def _cancel_busy_view(self) -> None:
        task = self._view_task
        if task is None or task.done() or self._receiving:
            return
        blocked_on = self._blocked_on
        if blocked_on is not _NOT_TOLD_ELSEWHERE and (
            blocked_on is None or getattr(task, "_fut_waiter", None) is not blocked_on
        ):
            return  # it woke up since: it found out, through the task told
        task.cancel()

    def _too_big(self, message: Message) -> int | None:
        """The size of a message over the limit, else None."""
        limit = self._max_size
        if limit is None:
            return None
        data = message.get("bytes")
        if data is not None:
            return len(data) if len(data) > limit else None
        text = message.get("text") or ""
        # PERF: a str of n characters is n to 4n bytes of UTF-8: encode only when
        # the character count can't decide.
        if len(text) * 4 <= limit:
            return None
        if len(text) > limit:
            return len(text)
        size = len(text.encode("utf-8", "surrogatepass"))
        return size if size > limit else None

    async def _read(self) -> None:
        """The watcher task: the client's messages into the inbox until it leaves."""
        receive = self._receive
        inbox = self._inbox
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    size = self._too_big(message)
                    if size is not None:
                        await self._refuse_big(size)
                        return
                    held = _held_size(message)
                    if not await self._room_for(held):
                        await self._refuse_unread()
                        return
                    inbox.put_nowait(message)
                    self._inbox_bytes += held
                elif kind == "websocket.disconnect":
                    self._went_away(int(message.get("code") or 1005), message.get("reason") or "")
                    return
        except OSError:
            self._went_away(1006, "")

    async def _room_for(self, held: int) -> bool:
        """Wait until the inbox has room for a message of ``held`` bytes (an
        empty inbox always has); False when the view took no message for
        INBOX_STALL seconds meanwhile."""
        inbox = self._inbox
        taken = self._taken
        while inbox.qsize() and (
            inbox.qsize() >= INBOX_SIZE or self._inbox_bytes + held > INBOX_BYTES
        ):
            taken.clear()
            try:
                await asyncio.wait_for(taken.wait(), INBOX_STALL)
            except asyncio.TimeoutError:
                if taken.is_set():
                    continue  # the view took one as the time ran out
                return False
        return True

    async def _refuse_unread(self) -> None:
        """Close the connection whose view stopped taking its messages (1008)."""
        self._app.logger.info(
            "Closed websocket %s with 1008: its view took none of the %d messages"
            " waiting for it in %s seconds (kolben.websocket.INBOX_STALL).",
            self.path,
            self._inbox.qsize(),
            INBOX_STALL,
        )
        await self._close_for(1008, "messages not read")

    async def _refuse_big(self, size: int, *, told: bool = False) -> None:
        self._app.logger.info(
            "Closed websocket %s with 1009: a message of %d bytes is over"
            " WEBSOCKET_MAX_MESSAGE_SIZE (%d bytes).",
            self.path,
            size,
            self._max_size,
        )
        await self._close_for(1009, "message too big", told=told)

    async def _close_for(self, code: int, reason: str, *, told: bool = False) -> None:
        """Close the connection for what the client did (unless the app closed
        it already), and end it: the view is told as when the client leaves."""
        if not self._closed_sent:
            self._closed_sent = True
            self._close_code, self._close_reason = code, reason
            with contextlib.suppress(OSError):
                await self._send({"type": "websocket.close", "code": code, "reason": reason})
        self._went_away(code, reason, told=told)

    async def _refuse(self, response: Response | None) -> None:
        """Answer the handshake with ``response`` (or a plain 403 when None or when
        the server can't send HTTP responses to a websocket handshake)."""
        if self._started:
            return
        if response is not None and not 100 <= response.status_code <= 999:
            # As for an HTTP response (kolben.asgi): HTTP's status is three
            # digits; a server handed another drops the connection or fails as
            # a whole. An error of the application, which the server answers.
            raise ValueError(
                f"The response status {response.status_code} refusing the websocket"
                " handshake is not an HTTP status code (three digits)."
            )
        extensions = self.scope.get("extensions") or {}
        headers = None
        if response is not None and _HTTP_RESPONSE_EXTENSION in extensions:
            # The HTTP door's conversion, with its checks: a header value with a
            # control character (or outside latin-1) is a ValueError here, before
            # anything is sent, which the server answers with a 500 (uvicorn
            # dropped the connection without an answer).
            from .asgi import _asgi_headers  # (kolben.asgi imports this module)

            headers = _asgi_headers(response.headers.to_wsgi_list())
        self._started = True
        self._closed_sent = True
        try:
            if response is None or headers is None:
                await self._send({"type": "websocket.close", "code": 1008})
                return
            await self._send(
                {
                    "type": "websocket.http.response.start",
                    "status": response.status_code,
                    "headers": headers,
                }
            )
            await self._send({"type": "websocket.http.response.body", "body": response.get_data()})
        except OSError:
            return

    async def _stop_watching(self) -> None:
        for timer in (self._grace, self._watch_timer):
            if timer is not None:
                timer.cancel()
        watcher = self._watcher
        if watcher is not None and not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def _held_size(message: Message) -> int:
    """What a message waiting in the inbox counts as (see INBOX_BYTES)."""
    data = message.get("bytes")
    if data is None:
        data = message.get("text") or ""
    return len(data) + _MESSAGE_OVERHEAD


def has_websocket_context() -> bool:
    """Whether a websocket is being served (the ``websocket`` global can be used):
    True in a websocket view, its hooks, and tasks they start."""
    return _cv_websocket.get(None) is not None


def copy_current_websocket_context(func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """Quart's decorator: ``func`` runs in the current websocket's context (the
    ``websocket``, ``request``, ``g`` and ``current_app`` globals) wherever the
    returned coroutine function is awaited or scheduled::

        @app.websocket("/ws")
        async def ws():
            async def producer():
                while True:
                    await websocket.send(await next_event())

            task = asyncio.ensure_future(copy_current_websocket_context(producer)())

    A task a websocket view starts sees that context anyway (asyncio copies it);
    this is for code that runs ``func`` from elsewhere. The wrapper is an
    ``async def`` function, also for a plain ``def`` ``func`` (called on the loop).
    """
    if _cv_websocket.get(None) is None:
        raise RuntimeError(
            "'copy_current_websocket_context' can only be used while a websocket is"
            " served, such as in a websocket view."
        )
    context = contextvars.copy_context()

    async def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        if not is_async_callable(func):
            return context.copy().run(func, *args, **kwargs)
        # The coroutine runs as a task made in (a copy of) the websocket's context.
        return await context.run(asyncio.ensure_future, func(*args, **kwargs))

    return update_wrapper(wrapper, func)


_RESERVED_CODES = frozenset({1004, 1005, 1006, 1015})


def _check_close(code: int, reason: str) -> None:
    if not isinstance(code, int) or not (
        (1000 <= code <= 1014 and code not in _RESERVED_CODES) or 3000 <= code <= 4999
    ):
        raise ValueError(
            f"{code!r} is not a close code an app may send: use 1000 (normal), a"
            " standard code such as 1001, 1008 or 1011, or your own in 3000-4999."
        )
    if len(reason.encode("utf-8")) > 123:
        raise ValueError(
            "A close reason can be at most 123 bytes of UTF-8 (it must fit in one"
            f" control frame); this one is {len(reason.encode('utf-8'))}. Shorten it."
        )


# -- serving -----------------------------------------------------------------------------


async def serve_websocket(app: Kolben, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one ASGI ``websocket`` connection with ``app`` (see the module's
    docstring for the steps)."""
    from .asgi import SCOPE_KEY, build_environ

    first = await receive()
    if first["type"] != "websocket.connect":
        return  # the client left before the handshake
    loop = asyncio.get_running_loop()
    http_scope = dict(scope)
    http_scope["method"] = "GET"
    http_scope["scheme"] = _HTTP_SCHEMES.get(scope.get("scheme") or "ws", "http")
    environ = build_environ(http_scope, _NO_BODY)
    environ[SCOPE_KEY] = scope
    refusal: Response | None = None
    overridden = app._overridden
    if "wsgi_app" in app.__dict__ or (overridden and "wsgi_app" in overridden):
        # WSGI middleware wraps the app (ProxyFix, an auth check), or the class
        # overrides wsgi_app: it sees the handshake too, as it sees every HTTP
        # request under both doors.
        app, environ, refusal = await app.worker_threads.run(
            loop, partial(_through_wsgi_middleware, app, environ)
        )
    ctx = WebsocketContext(app, environ)
    ws = Websocket(app, scope, receive, send, ctx.request)
    if refusal is not None:
        await ws._refuse(refusal)
        return
    # The websocket's own context: the request context is pushed in it (in a worker
    # thread), the view and async hooks run in it as tasks, teardown pops it.
    context = contextvars.copy_context()
    context.run(_enter, loop, ws)
    await _serve(app, ws, ctx, context, loop)


def _through_wsgi_middleware(
    app: Kolben, environ: dict[str, t.Any]
) -> tuple[Kolben, dict[str, t.Any], Response | None]:
    """Pass a handshake's environ through ``app.wsgi_app``: the app it reached
    (``app``, or a kolben app a dispatcher mounted under it) and the environ
    the middleware handed on to it, or the middleware's own response (it
    answered instead of the app) as the refusal."""
    from .wsgi import WEBSOCKET_PROBE_KEY

    seen: list[tuple[t.Any, dict[str, t.Any]]] = []
    environ[WEBSOCKET_PROBE_KEY] = seen
    started: list[t.Any] = []
    written: list[bytes] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Any:
        started[:] = [status, headers]
        return written.append

    app_iter = app.wsgi_app(environ, start_response)
    try:
        body = b"".join(written) + b"".join(app_iter)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    environ.pop(WEBSOCKET_PROBE_KEY, None)
    if seen:
        # The app that took it: a dispatcher may have handed it to another kolben
        # app (DispatcherMiddleware mounting one under a prefix), whose websocket
        # routes then serve it, as its HTTP routes serve the prefix's requests.
        taker, passed = seen[0]
        passed.pop(WEBSOCKET_PROBE_KEY, None)
        return taker, passed, None
    # A middleware that neither passed the request on nor started a response is
    # broken: the handshake is refused as a server error.
    status, headers = started or ("500 INTERNAL SERVER ERROR", [])
    return app, environ, app.response_class(body, status=status, headers=headers)


def _accept_headers(
    headers: cabc.Mapping[str, str] | cabc.Iterable[tuple[str, str]],
) -> list[tuple[bytes, bytes]]:
    """The headers of ``accept(headers=...)`` as ASGI's; a :exc:`ValueError` for a
    name or value werkzeug's ``Headers`` would refuse (a line break: it would
    split the header; characters outside latin-1) or servers refuse (another
    control character in a value, a name that is not a token), whatever the
    server does."""
    items = headers.items() if isinstance(headers, cabc.Mapping) else headers
    rv = []
    for name, value in items:
        for part in (name, value):
            if "\r" in part or "\n" in part:
                raise ValueError(
                    f"Header names and values must not contain line breaks; got"
                    f" {name!r}: {value!r} in accept(headers=...)."
                )
        if INVALID_VALUE_CHARACTER.search(value) or not name or INVALID_NAME_CHARACTER.search(name):
            raise ValueError(
                f"Header names must be tokens and values must not contain control"
                f" characters; got {name!r}: {value!r} in accept(headers=...)."
            )
        try:
            rv.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise ValueError(
                f"Header names and values must be latin-1 (encode other text, as"
                f" RFC 8187 says); got {name!r}: {value!r} in accept(headers=...)."
            ) from None
    return rv


def _enter(loop: asyncio.AbstractEventLoop, ws: Websocket) -> None:
    _server_loop.set(loop)
    _cv_websocket.set(ws)


async def _serve(
    app: Kolben,
    ws: Websocket,
    ctx: WebsocketContext,
    context: contextvars.Context,
    loop: asyncio.AbstractEventLoop,
) -> None:
    error: BaseException | None = None
    pushed = False
    try:
        try:
            # The push and the pop are the request pipeline's own steps (see
            # kolben.pipeline): what they run of user code (signal receivers,
            # converters, teardown functions, task resources) runs on the loop
            # when async and in the worker threads when sync.
            failure = await drive(app, _push_steps(ctx), context)
            pushed = True
        except Exception as e:
            error = e
            _log_error(app, ws, (type(e), e, e.__traceback__))
            server_error = InternalServerError(original_exception=e)
            await ws._refuse(
                t.cast("Response", app.response_class.force_type(server_error.get_response()))
            )
            return
        # What answers the handshake (when the view did not accept it), and the
        # close code (when it did).
        response: Response | None = None
        close: tuple[int, str] = (1000, "")
        try:
            if failure is not None:
                raise failure
            app._got_first_request = True
            response = await _before_view(app, ctx, context, loop)
            if response is None:
                rv = await _run_view(app, ws, ctx, context, loop)
                if not ws._started and rv is not None:
                    # Returned a value without accepting: refuse with it.
                    response = await drive(app, _response_steps(app, rv, False), context)
        except Exception as e:
            if not _ended_by_disconnect(e):
                response, close, error = await _handle_error(app, ws, ctx, context, loop, e)
            # else: a before_websocket function found the client gone (or
            # raised WebsocketDisconnect): a normal end, as for the view.
        # The after_websocket functions run whatever answered (the view ending,
        # a refusal, an error handler's or the 500 response), as Quart runs them
        # (and Flask its after_request functions on an error's response).
        try:
            response = await _after_view(app, ctx, context, loop, response)
        except Exception as e:
            if _ended_by_disconnect(e):
                pass  # it found the client gone (sending a last message): not an error
            elif error is None:
                # An after_websocket function broke a websocket that was going well.
                response, close, error = await _handle_error(
                    app, ws, ctx, context, loop, e, handlers=False
                )
            else:
                app.logger.exception("An after_websocket function failed after an error")
        if ws._started:
            await ws.close(*close)
        else:
            await ws._refuse(response)
    except BaseException as e:
        error = e
        if ws._accepted:
            # Cancelled: the server is going away (1012); an error escaping the
            # error handling itself (a signal receiver that raised): 1011.
            with contextlib.suppress(Exception):
                await ws.close(1011 if isinstance(e, Exception) else 1012)
        raise
    finally:
        await ws._stop_watching()
        if pushed:
            try:
                if app.teardown_websocket_funcs or websocket_tearing_down.receivers:
                    await drive(app, _teardown_steps(app, ctx, error), context)
            finally:
                await drive(app, ctx._pop(error), context)


async def _handle_error(
    app: Kolben,
    ws: Websocket,
    ctx: WebsocketContext,
    context: contextvars.Context,
    loop: asyncio.AbstractEventLoop,
    e: Exception,
    handlers: bool = True,
) -> tuple[Response | None, tuple[int, str], Exception | None]:
    """Handle ``e``, raised by a hook or the view, as Quart does: the error
    handler registered for it is called whether or not the handshake was
    accepted. Returns the response (refusing the handshake if it was not
    accepted; given to the after_websocket functions), the close code and
    reason (if it was), and the unhandled error (None when a handler took it).

    - an HTTP error (``abort(403)``): its handler (or its own response); once
      accepted, closes with 1008 (policy violation) and the error's name;
    - another exception with a registered handler: the handler's response;
      once accepted, closes with 1000 (the app handled it; the handler may
      send a last message, or close with its own code first);
    - otherwise (or the handler failed): logged, ``got_request_exception`` and
      ``got_websocket_exception`` sent, the 500 handler called; once accepted,
      closes with 1011 (internal error).

    ``handlers=False``: straight to the last case (an after_websocket function
    failed).
    """
    if handlers:
        try:
            if isinstance(e, HTTPException):
                response = await _error_response(app, ws, context, loop, e)
                return response, (1008, _short(e.name)), None
            if app._find_error_handler(e, ctx.request.blueprints):
                # @app.errorhandler(NotLoggedIn) answers it, as it answers an
                # HTTP request: not a server error.
                response = await _error_response(app, ws, context, loop, e)
                return response, (1000, ""), None
        except WebsocketDisconnect:
            return None, (1000, ""), None  # the handler found the client gone
        except Exception as handler_error:
            e = handler_error  # the handler failed: that is the server error
    _log_error(app, ws, (type(e), e, e.__traceback__))
    if got_request_exception.receivers or got_websocket_exception.receivers:
        await drive(app, _exception_signal_steps(app, e), context)
    server_error = InternalServerError(original_exception=e)
    try:
        response = await _error_response(app, ws, context, loop, server_error, during=e)
    except WebsocketDisconnect:
        response = None  # the 500 handler found the client gone
    except Exception:
        # As for an HTTP request: the error's own 500, never hidden.
        app.logger.exception("The 500 handler failed while handling a websocket's error")
        response = t.cast(
            "Response", app.response_class.force_type(server_error.get_response())
        )
    return response, (1011, ""), e


def _teardown_steps(
    app: Kolben, ctx: WebsocketContext, exc: BaseException | None
) -> Steps[None]:
    """The teardown_websocket functions, innermost blueprint first, last
    registered first, given the unhandled exception or None."""
    for name in (*ctx.request.blueprints, None):
        for func in reversed(app.teardown_websocket_funcs.get(name, ())):
            yield func, (exc,)
    if websocket_tearing_down.receivers:
        yield from signal_steps(websocket_tearing_down, app, {"exc": exc})


def _push_steps(ctx: WebsocketContext) -> Steps[Exception | None]:
    """Push the contexts and, when the handshake carries cookies or the session
    interface is the app's own (see :func:`kolben.sessions.opens_at_push`; unlike
    an HTTP request's push, after the URL is matched), open the session: a server-side store
    (Redis) is read here, in a worker thread, not on the loop when the view first
    reads ``session``. An error opening it (the store is down: 503) is returned,
    to refuse the handshake with."""
    yield from ctx._push()
    interface = ctx.app.session_interface
    if "HTTP_COOKIE" in ctx.request.environ or opens_at_push(interface):
        try:
            if type(interface) is SecureCookieSessionInterface:
                ctx._open_session()
            elif getattr(interface, "has_async_io", False):
                # A store with async I/O is read on the loop under the ASGI door.
                yield DualStep(ctx._open_session, ctx._aopen_session), ()
            else:
                yield ctx._open_session, ()
        except Exception as e:
            return e
    return None


def _before_view_steps(app: Kolben, ctx: WebsocketContext) -> Steps[Response | None]:
    """The routing error, the URL value preprocessors and the before_websocket
    functions, as pipeline steps (async ones on the loop, runs of sync ones in
    one worker-thread call); the response refusing the handshake, or None."""
    request = ctx.request
    if request.routing_exception is not None:
        return (yield from _response_steps(app, request.routing_exception, False))
    if websocket_started.receivers:
        yield from signal_steps(websocket_started, app, {})
    names: tuple[str | None, ...] = (None, *reversed(request.blueprints))
    if app.url_value_preprocessors:
        for name in names:
            for url_func in app.url_value_preprocessors.get(name, ()):
                yield direct(app, url_func), (request.endpoint, request.view_args)
    if app.before_websocket_funcs:
        for name in names:
            for func in app.before_websocket_funcs.get(name, ()):
                rv = yield func, ()
                if rv is not None:
                    return (yield from _response_steps(app, rv, False))
    return None


async def _before_view(
    app: Kolben,
    ctx: WebsocketContext,
    context: contextvars.Context,
    loop: asyncio.AbstractEventLoop,
) -> Response | None:
    """Run :func:`_before_view_steps` with the request pipeline's driver."""
    if ctx.request.routing_exception is None and not (
        app.url_value_preprocessors or app.before_websocket_funcs or websocket_started.receivers
    ):
        return None  # PERF: nothing to run
    if ctx.request.routing_exception is not None:
        return await drive(app, _before_view_steps(app, ctx), context)
    # The functions run in a task watched as the view's is: one that waits (a
    # free slot, a lookup) when the client leaves is cancelled, as Quart
    # cancels it, rather than living on (and holding up the server's shutdown).
    ws = context.run(_cv_websocket.get)
    ran, response = await _while_watched(
        ws, loop, drive(app, _before_view_steps(app, ctx), context)
    )
    if not ran:
        raise ws._disconnect()  # cancelled because the client left
    if response is None and ws._gone and not ws._accepted:
        # The client left during the handshake: the view is not started. (Once
        # a function accepted, the view is, as when the client leaves while it
        # runs: it reads what the client sent before leaving, then finds out.)
        raise ws._disconnect()
    return response


async def _awaited(awaitable: t.Awaitable[T]) -> T:
    return await awaitable


async def _while_watched(
    ws: Websocket, loop: asyncio.AbstractEventLoop, awaitable: t.Awaitable[T]
) -> tuple[bool, T | None]:
    """Await ``awaitable`` (the before_websocket or after_websocket functions)
    in a task watched as the view's is: once the client has left, a function
    still waiting on
    something other than the client DISCONNECT_GRACE later is cancelled, as
    Quart cancels it, rather than living on (and holding up the server's
    shutdown). ``(True, result)``, or ``(False, None)`` when it was cancelled
    because the client left; its exception is raised here."""
    task = loop.create_task(_awaited(awaitable))
    ws._view_task = task
    ws._blocked_on = _NOT_TOLD_ELSEWHERE
    if ws._gone:
        # Gone already: this task gets a grace period of its own (the view's,
        # if it had one, is over or no longer its).
        if ws._grace is not None:
            ws._grace.cancel()
        ws._grace = None
        ws._cancel_after_grace()
    if await _watch(ws, loop, task):
        return False, None
    return True, task.result()


async def _watch(
    ws: Websocket, loop: asyncio.AbstractEventLoop, task: asyncio.Task[t.Any]
) -> bool:
    """Wait for ``task`` (the view, or the before_websocket functions) while
    watching the client: when it leaves, the task is told (it is receiving)
    or cancelled after DISCONNECT_GRACE. Whether it was cancelled because the
    client left; its exception is not raised here. If the waiting task is
    cancelled (the server is going away), ``task`` is cancelled too."""
    ws._view_task = task
    # Watch the client during the handshake too: a view (or before_websocket
    # function) that waits before accepting (a lobby, a free slot) is cancelled
    # when its client leaves or the server shuts down, instead of waiting
    # forever (Quart cancels it as well).
    ws._returned_at = loop.time()
    if ws._watch_timer is None and ws._watcher is None:
        ws._watch_timer = loop.call_later(WATCH_AFTER, ws._check_busy)
    try:
        await asyncio.wait((task,))
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    return task.cancelled() and ws._gone


async def _run_view(
    app: Kolben,
    ws: Websocket,
    ctx: WebsocketContext,
    context: contextvars.Context,
    loop: asyncio.AbstractEventLoop,
) -> t.Any:
    """Run the view in its own task; its return value (None when the client left)."""
    request = ctx.request
    view = app.view_functions[t.cast(t.Any, request.url_rule).endpoint]
    # A copy of the websocket's context (create_task copies the current one;
    # ``context=`` needs Python 3.11): it sees the pushed contexts.
    task = context.run(loop.create_task, view(**(request.view_args or {})))
    if await _watch(ws, loop, task):
        return None  # cancelled because the client left
    if task.cancelled():
        raise RuntimeError(
            f"The websocket view {request.endpoint!r} was cancelled while its client"
            " was still connected."
        )
    exc = task.exception()
    if exc is None:
        return task.result()
    if _ended_by_disconnect(exc):
        # Also a task group (asyncio.TaskGroup, anyio) whose tasks ended with the
        # connection: the view ended with the client, not with an error.
        return None
    raise exc


def _ended_by_disconnect(exc: BaseException) -> bool:
    """Whether ``exc`` (raised by a hook) only says the connection is over, as
    the view may end: :exc:`WebsocketDisconnect`, or a group of them."""
    return isinstance(exc, WebsocketDisconnect) or _only_disconnects(exc)


def _only_disconnects(exc: BaseException) -> bool:
    """Whether ``exc`` is an exception group made only of WebsocketDisconnect."""
    group = getattr(builtins, "BaseExceptionGroup", None)  # Python 3.11+
    if group is None or not isinstance(exc, group):
        return False
    return exc.split(WebsocketDisconnect)[1] is None


def _after_view_steps(
    app: Kolben, ctx: WebsocketContext, response: Response | None
) -> Steps[Response | None]:
    for name in (*ctx.request.blueprints, None):
        for func in reversed(app.after_websocket_funcs.get(name, ())):
            if _wants_response(func):
                rv = yield func, (response,)
                if response is not None and isinstance(rv, SansIOResponse):
                    response = t.cast("Response", rv)
            else:
                yield func, ()
    if websocket_finished.receivers:
        yield from signal_steps(websocket_finished, app, {"response": response})
    return response


def _wants_response(func: t.Callable[..., t.Any]) -> bool:
    """Whether an after_websocket function takes Quart's ``response`` argument
    (``def after(response): ... return response``): it is given the response
    refusing the handshake, or None (there is no response once the handshake
    was accepted). Asked once per connection (a signature is cheap beside a
    connection; nothing is kept)."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        for p in params
    )


async def _after_view(
    app: Kolben,
    ctx: WebsocketContext,
    context: contextvars.Context,
    loop: asyncio.AbstractEventLoop,
    response: Response | None,
) -> Response | None:
    """The after_websocket functions, innermost blueprint first, as pipeline
    steps (see :func:`_before_view_steps`). Those taking an argument get
    ``response`` (the response refusing the handshake, or None) and may return
    another response to refuse with; returns the response. Not run for a
    routing refusal (no before_websocket function ran either)."""
    if ctx.request.routing_exception is not None or not (
        app.after_websocket_funcs or websocket_finished.receivers
    ):
        return response
    ws = context.run(_cv_websocket.get)
    ran, rv = await _while_watched(
        ws, loop, drive(app, _after_view_steps(app, ctx, response), context)
    )
    return rv if ran else response


_NOT_TOLD_ELSEWHERE = object()


async def _error_response(
    app: Kolben,
    ws: Websocket,
    context: contextvars.Context,
    loop: asyncio.AbstractEventLoop,
    e: Exception,
    during: Exception | None = None,
) -> Response | None:
    """The response of the error handler for ``e`` (see
    :meth:`Kolben.handle_user_exception`; an HTTP error without one: its own),
    or None when the handler returned None (as Quart allows: a handler that
    sent a last message over the websocket has nothing to answer), or when the
    client left and a handler still waiting was cancelled (see
    :func:`_while_watched`). The handler is a step of the request pipeline: an
    ``async def`` one awaited on the loop, a sync one in a worker thread.
    ``during``: the error being handled while the handler runs
    (``sys.exc_info()``) when it is not ``e``: the 500 handler runs while the
    original error is handled, as Quart and the HTTP door run it."""
    steps = _response_steps(app, e, raised=True, during=during)
    ran, response = await _while_watched(ws, loop, drive(app, steps, context))
    return response if ran else None


def _response_steps(
    app: Kolben, rv: t.Any, raised: bool, during: Exception | None = None
) -> Steps[Response | None]:
    """The response for ``rv`` as steps of the request pipeline (an ``async
    def`` error handler awaited on the loop, a sync one in a worker thread):

    - ``raised``: ``rv`` is an exception a hook or the view raised: its
      handler's response (``handle_http_exception`` or ``handle_user_exception``,
      an app's own override called as it is, while ``rv``, or ``during`` when
      given, is being handled), or None when the handler returned None;
    - else ``rv`` is what a hook or the view returned without accepting, to
      refuse the handshake with: an HTTP error through its handler.
    """
    overridden = app._overridden
    if raised or isinstance(rv, HTTPException):
        error = rv
        name = "handle_http_exception" if isinstance(rv, HTTPException) else "handle_user_exception"
        if name in overridden:
            handle = direct(app, getattr(app, name))
            in_hand = error if during is None else during
            rv = yield (handling(app, handle, in_hand) if raised else handle), (error,)
        elif isinstance(error, HTTPException):
            rv = yield from app._handle_http_exception(error, during)
        else:
            rv = yield from app._handle_user_exception(error)
        if rv is None and raised:
            return None
    if "make_response" in overridden:
        return t.cast("Response", (yield direct(app, app.make_response), (rv,)))
    return app.make_response(rv)


def _exception_signal_steps(app: Kolben, e: Exception) -> Steps[None]:
    """``got_request_exception`` then ``got_websocket_exception``, as steps (a
    coroutine receiver awaited on the loop), each receiver run while ``e`` is
    being handled."""
    for signal in (got_request_exception, got_websocket_exception):
        if signal.receivers:
            yield from signal_steps(signal, app, {"exception": e}, app, e)


def _log_error(app: Kolben, ws: Websocket, exc_info: t.Any) -> None:
    app.logger.error(f"Exception in websocket {ws.path}", exc_info=exc_info)


def _short(text: str) -> str:
    return text.encode("utf-8")[:123].decode("utf-8", "ignore")


_NO_BODY = t.cast(t.IO[bytes], io.BytesIO())
