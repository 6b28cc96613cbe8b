"""Server-Sent Events: :class:`Event`, the :class:`EventStream` response, and
:func:`stream_channel`, a view helper streaming a broker channel with resumption.

The wire format is the HTML Living Standard's ``text/event-stream``
(https://html.spec.whatwg.org/multipage/server-sent-events.html)::

    @app.post("/messages")
    def post_message():
        app.broker.publish("chat", {"text": request.form["text"]})
        return redirect(url_for("index"))

    @app.get("/events")
    def events():
        return stream_channel("chat")   # resumes from the Last-Event-ID header
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import sys
import time
import typing as t
import weakref

from . import globals as _globals
from .wrappers import Response

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app
_cv_request = _globals._cv_request

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from .broker import Subscription


__all__ = ["KEEPALIVE", "Event", "EventStream", "stream_channel"]

#: The comment sent after ``keepalive`` seconds without an event.
KEEPALIVE = b": keepalive\n\n"
#: The comment a stream starts with, so the client sees the response open at once
#: (some WSGI servers send the headers only with the first body bytes).
OPENING = b": open\n\n"

T = t.TypeVar("T")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Events delivered in one body chunk when several are ready at once.
_BATCH = 64
_TASK_CONTEXT = sys.version_info >= (3, 11)


def _task_in(
    loop: asyncio.AbstractEventLoop,
    coro: t.Coroutine[t.Any, t.Any, T],
    context: contextvars.Context,
) -> asyncio.Task[T]:
    """A task running ``coro`` with every step in ``context`` (``create_task``'s
    ``context=`` from Python 3.11; before, each resumption through
    ``context.run``, as :class:`kolben.pipeline.InContext` does)."""
    if _TASK_CONTEXT:
        return loop.create_task(coro, context=context)  # type: ignore[call-arg]
    from .pipeline import in_context

    return loop.create_task(in_context(context, coro))


def _check_field(name: str, value: str) -> None:
    if "\n" in value or "\r" in value:
        raise ValueError(
            f"An SSE {name} can't contain a line break ({value!r}): it would end the"
            f" {name} field and start another. Remove line breaks from it."
        )


def _data_text(data: t.Any, dumps: t.Callable[[t.Any], str] | None) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray)):
        return bytes(data).decode("utf-8")
    if dumps is not None:
        return dumps(data)
    from .json import dumps as json_dumps  # the current app's provider, or the default

    return json_dumps(data)


class Event:
    """One Server-Sent Event.

    ``data`` is sent as it is when it is a string, otherwise JSON-encoded with the
    current app's JSON provider (the default provider outside an app context); a
    multi-line value becomes several ``data:`` lines. ``event`` is the event type
    (``addEventListener(event, ...)`` in the browser; ``message`` when None),
    ``id`` the event id the browser sends back as ``Last-Event-ID`` when it
    reconnects, ``retry`` the reconnection delay in milliseconds.

    Raises :exc:`ValueError` for a line break in ``event`` or ``id``, or a NUL in
    ``id``: they would let data inject fields or events; and for text that can't
    be sent as UTF-8 (a lone surrogate, which ``json.loads`` makes of
    ``"\\ud800"`` in a request body). The event is encoded here, so such an event
    fails where it is made (the request that publishes it), not in every stream
    it is sent to (and again on each reconnection that replays it).
    """

    __slots__ = ("_encoded", "_event", "_id", "_retry", "_text", "data")

    def __init__(
        self,
        data: t.Any,
        event: str | None = None,
        id: str | None = None,
        retry: int | None = None,
        *,
        _dumps: t.Callable[[t.Any], str] | None = None,
    ) -> None:
        if event is not None:
            if not isinstance(event, str):
                raise TypeError(f"An SSE event type must be a string, got {event!r}.")
            _check_field("event type", event)
        if id is not None:
            if not isinstance(id, str):
                raise TypeError(f"An SSE event id must be a string, got {id!r}.")
            _check_field("id", id)
            if "\0" in id:
                raise ValueError(
                    f"An SSE event id can't contain a NUL character ({id!r}): browsers"
                    " ignore such an id. Remove it."
                )
        if retry is not None and (
            not isinstance(retry, int) or isinstance(retry, bool) or retry < 0
        ):
            raise ValueError(
                f"An SSE retry must be a non-negative number of milliseconds, got {retry!r}."
            )
        #: The data as given.
        self.data = data
        self._event = event
        self._id = id
        self._retry = retry
        self._text = _data_text(data, _dumps)
        try:
            self._encoded = _encode_event(event, id, retry, self._text)
        except UnicodeEncodeError as e:
            raise ValueError(
                f"An SSE event can't contain {e.object[e.start : e.end]!r}, which is not"
                " valid UTF-8 (a lone surrogate): it could not be sent. Check text that"
                ' came from a client (json.loads accepts "\\ud800").'
            ) from None

    @property
    def event(self) -> str | None:
        """The event type, or None for the default (``message``)."""
        return self._event

    @property
    def id(self) -> str | None:
        """The event id, or None."""
        return self._id

    @property
    def retry(self) -> int | None:
        """The reconnection delay to set in the browser, in milliseconds."""
        return self._retry

    @property
    def text(self) -> str:
        """The data as it is sent: the string, or its JSON encoding."""
        return self._text

    def json(self) -> t.Any:
        """The data decoded from JSON (with the current app's provider)."""
        from .json import loads

        return loads(self._text)

    def encode(self) -> bytes:
        """The event in the ``text/event-stream`` format, UTF-8 encoded.

        PERF: computed once, when the event is made, so an event fanned out to a
        thousand subscribers is encoded once.
        """
        return self._encoded

    def __repr__(self) -> str:
        fields = [repr(self._text)]
        for name in ("event", "id", "retry"):
            value = getattr(self, name)
            if value is not None:
                fields.append(f"{name}={value!r}")
        return f"Event({', '.join(fields)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self._text, self._event, self._id, self._retry) == (
            other._text,
            other._event,
            other._id,
            other._retry,
        )

    def __hash__(self) -> int:
        return hash((self._text, self._event, self._id, self._retry))


def _encode_event(event: str | None, id: str | None, retry: int | None, text: str) -> bytes:
    """An event's fields in the ``text/event-stream`` format, UTF-8 encoded."""
    head = ""
    if id is not None:
        head = f"id: {id}\n"
    if event is not None:
        head += f"event: {event}\n"
    if retry is not None:
        head += f"retry: {retry}\n"
    if "\n" in text or "\r" in text:
        body = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(text))
    else:
        body = f"data: {text}\n"
    return f"{head}{body}\n".encode()


EventSource: t.TypeAlias = "t.Iterable[t.Any] | t.AsyncIterable[t.Any]"


class EventStream(Response):
    """A ``text/event-stream`` response streaming the events of ``source``.

    ``source`` is an iterable or async iterable of :class:`Event` (anything else,
    a ``str`` or a ``dict`` say, is wrapped in an :class:`Event`), or a broker
    :class:`~kolben.broker.Subscription`. The response has ``Cache-Control:
    no-cache`` and ``X-Accel-Buffering: no`` (nginx sends each event at once).

    After ``keepalive`` seconds without an event a ``: keepalive`` comment is sent
    (None: never), which keeps proxies from closing an idle connection and lets
    the server notice a client that went away. Under ASGI an async source (or a
    subscription) is awaited on the event loop, many clients per worker; under
    WSGI a sync source (or a subscription) is iterated in the worker's thread, one
    thread per client. A plain sync iterator can't be interrupted while it waits
    for its next item: such a source may yield None to mean "nothing yet", and a
    keep-alive is sent when one is due.

    The stream ends when the source ends; when the client disconnects, the
    source is closed (``close()`` / ``aclose()``), which ends a subscription.
    """

    #: ``make_response`` returns it as it is, also when the app has a
    #: ``response_class`` of its own (which other response objects become).
    keeps_its_class = True

    def __init__(
        self,
        source: EventSource,
        *,
        keepalive: float | None = 15.0,
        status: int | str | None = None,
        headers: t.Any = None,
    ) -> None:
        if not (hasattr(source, "__iter__") or hasattr(source, "__aiter__")):
            raise TypeError(
                f"EventStream needs an iterable or async iterable of events, got {source!r}."
            )
        if keepalive is not None and keepalive <= 0:
            raise ValueError(
                f"keepalive must be a positive number of seconds or None, got {keepalive!r}."
            )
        super().__init__(status=status, headers=headers, content_type="text/event-stream")
        self.headers["Cache-Control"] = "no-cache"
        self.headers["X-Accel-Buffering"] = "no"
        #: The events' source.
        self.source = source
        #: Seconds of silence after which a keep-alive comment is sent.
        self.keepalive = keepalive
        app_ctx = _cv_app.get(None)
        self._dumps: t.Callable[[t.Any], str] | None = (
            app_ctx.app.json.dumps if app_ctx is not None else None
        )
        self.response = _Deferred(self)

    def get_app_iter(self, environ: WSGIEnvironment) -> t.Iterable[bytes]:
        """The body for the door serving it: async under ASGI when the source can
        be awaited, sync otherwise."""
        if (
            environ["REQUEST_METHOD"] == "HEAD"
            or 100 <= self.status_code < 200
            or self.status_code in (204, 304)
        ):
            self._close_source()
            return ()
        self.response = self._body(asgi="asgi.scope" in environ)
        return super().get_app_iter(environ)

    def _body(self, *, asgi: bool) -> t.Any:
        from .broker import Subscription

        source = self.source
        if type(source) is _Channel:
            return self._channel_async(source) if asgi else self._channel_sync(source)
        if isinstance(source, Subscription):
            return self._subscription_async(source) if asgi else self._subscription_sync(source)
        if hasattr(source, "__aiter__") and (asgi or not hasattr(source, "__iter__")):
            return self._async_source(t.cast(t.AsyncIterable[t.Any], source))
        return self._sync_source(t.cast(t.Iterable[t.Any], source))

    def _event(self, item: t.Any) -> bytes:
        if isinstance(item, Event):
            return item.encode()
        return Event(item, _dumps=self._dumps).encode()

    def _close_source(self) -> None:
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    # -- the bodies ----------------------------------------------------------------------

    def _channel_sync(self, channel: _Channel) -> t.Iterator[bytes]:
        from .broker import BrokerError

        try:
            sub = channel.broker.subscribe(channel.channel, last_event_id=channel.last_event_id)
        except BrokerError:  # logged by the broker
            yield OPENING
            yield _RetryOnly("").encode()
            return
        yield from self._subscription_sync(sub)

    async def _channel_async(self, channel: _Channel) -> t.AsyncIterator[bytes]:
        from .broker import BrokerError

        subscribing = asyncio.ensure_future(
            channel.broker.asubscribe(channel.channel, last_event_id=channel.last_event_id)
        )
        try:
            sub = await asyncio.shield(subscribing)
        except BrokerError:  # logged by the broker
            yield OPENING
            yield _RetryOnly("").encode()
            return
        except asyncio.CancelledError:
            # The client left while the broker answered: the subscription it
            # makes is closed once made.
            subscribing.add_done_callback(_close_made_subscription)
            raise
        body = t.cast(t.AsyncGenerator[bytes, None], self._subscription_async(sub))
        try:
            async for chunk in body:
                yield chunk
        finally:
            await body.aclose()

    def _subscription_sync(self, sub: Subscription) -> t.Iterator[bytes]:
        from .broker import SubscriptionClosed

        keepalive = self.keepalive
        try:
            yield OPENING
            while True:
                try:
                    event = sub.get(keepalive)
                except SubscriptionClosed:
                    return
                yield KEEPALIVE if event is None else _with_waiting(event, sub)
        finally:
            sub.close()

    async def _subscription_async(self, sub: Subscription) -> t.AsyncIterator[bytes]:
        from .broker import SubscriptionClosed

        keepalive = self.keepalive
        try:
            yield OPENING
            while True:
                try:
                    event = await sub.aget(keepalive)
                except SubscriptionClosed:
                    return
                yield KEEPALIVE if event is None else _with_waiting(event, sub)
        finally:
            sub.close()

    def _sync_source(self, source: t.Iterable[t.Any]) -> t.Iterator[bytes]:
        keepalive = self.keepalive
        iterator = iter(source)
        try:
            yield OPENING
            last = time.monotonic()
            for item in iterator:
                if item is None:
                    if keepalive is not None and time.monotonic() - last >= keepalive:
                        last = time.monotonic()
                        yield KEEPALIVE
                    continue
                yield self._event(item)
                last = time.monotonic()
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    async def _async_source(self, source: t.AsyncIterable[t.Any]) -> t.AsyncIterator[bytes]:
        iterator = source.__aiter__()
        keepalive = self.keepalive
        loop = asyncio.get_running_loop()
        # Every step of the source runs in this one context, so a source that sets
        # context variables (stream_with_context) resets them where it set them.
        context = contextvars.copy_context()
        step: asyncio.Future[t.Any] | None = None
        try:
            yield OPENING
            while True:
                if keepalive is None:
                    try:
                        item = await iterator.__anext__()
                    except StopAsyncIteration:
                        return
                else:
                    if step is None:
                        step = _task_in(loop, _anext(iterator), context)
                    done, _ = await asyncio.wait((step,), timeout=keepalive)
                    if not done:
                        yield KEEPALIVE
                        continue
                    item, step = step.result(), None
                    if item is _END:
                        return
                yield self._event(item)
        finally:
            if step is not None and not step.done():
                step.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await step
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await _task_in(loop, aclose(), context)


_END = object()


async def _anext(iterator: t.AsyncIterator[t.Any]) -> t.Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _END


class _Deferred:
    """The body before a door asks for it: the source decides, in
    :meth:`EventStream.get_app_iter`, between a sync and an async body. Iterating it
    directly (``response.get_data()``, say) iterates the sync body."""

    __slots__ = ("_stream",)

    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    def __iter__(self) -> t.Iterator[bytes]:
        return t.cast(t.Iterator[bytes], self._stream._body(asgi=False))


def stream_channel(
    channel: str, *, last_event_id: str | None = None, keepalive: float | None = 15.0
) -> EventStream:
    """An :class:`EventStream` of the broker channel ``channel``, for a view::

        @app.get("/events")
        def events():
            return stream_channel("chat")

    It subscribes with ``app.broker.subscribe(channel, last_event_id=...)``,
    where the id is the request's ``Last-Event-ID`` header: a browser's
    ``EventSource`` that reconnects gets every retained event it missed, then
    live ones. Every event carries its ``id:``.

    When the broker is unreachable the stream only tells the browser to try
    again in :data:`UNAVAILABLE_RETRY` milliseconds (``retry:``) and ends: an
    ``EventSource`` given any status but 200 (a 503) gives up for good, so a
    page open during a short broker outage would never get live events again.
    It reconnects with its ``Last-Event-ID``, so nothing is lost.

    ``last_event_id`` is where a *first* connection starts when the request has
    no ``Last-Event-ID`` header: a page can render the position it was rendered
    at (``?since=...``) so that events published before its ``EventSource``
    connects are not lost. The header, sent on every reconnection, wins.
    """
    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        raise RuntimeError(
            "'stream_channel' needs an active request (it reads the Last-Event-ID"
            " header); call it in a view function."
        )
    from .broker import BrokerError

    last_event_id = req_ctx.request.headers.get("Last-Event-ID") or last_event_id or None
    broker = req_ctx.app.broker
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        # An async view on the event loop: subscribing may wait on the broker
        # (Redis), so it is awaited when the body starts, not done here.
        return EventStream(_Channel(broker, channel, last_event_id), keepalive=keepalive)
    try:
        sub = broker.subscribe(channel, last_event_id=last_event_id)
    except BrokerError:  # logged by the broker
        return EventStream([_RetryOnly("")], keepalive=None)
    # Subscribed now: if the request's response turns out not to send it (an
    # after_request function or an error handler replaced it), the request
    # closes it, as it closes an unsent stream_with_context body (see
    # RequestContext._unsent_streams); else it stayed subscribed for good.
    if req_ctx._streams is None:
        req_ctx._streams = []
    req_ctx._streams.append(weakref.ref(sub))
    return EventStream(sub, keepalive=keepalive)


def _close_made_subscription(future: asyncio.Future[t.Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


class _Channel:
    """A broker channel to subscribe to when the stream's body starts (see
    :func:`stream_channel` in an ``async def`` view)."""

    __slots__ = ("broker", "channel", "last_event_id")

    def __init__(self, broker: t.Any, channel: str, last_event_id: str | None) -> None:
        self.broker = broker
        self.channel = channel
        self.last_event_id = last_event_id

    def __aiter__(self) -> t.NoReturn:  # an async source, for EventStream's checks
        raise TypeError("a channel is subscribed to by EventStream itself")


#: Milliseconds after which a browser tries a stream again when
#: :func:`stream_channel` could not reach the broker.
UNAVAILABLE_RETRY = 2000



class _RetryOnly(Event):
    """What a stream that could not reach the broker sends after its opening
    comment: the reconnection delay alone. A field block with no ``data:`` line
    sets it and dispatches nothing (an event with empty data reached the page as
    a message with ``data == ""``)."""

    __slots__ = ()

    def encode(self) -> bytes:
        return f"retry: {UNAVAILABLE_RETRY}\n\n".encode()


def _with_waiting(event: Event, sub: Subscription) -> bytes:
    """``event`` encoded, followed by the events already waiting behind it.

    PERF: a subscriber that fell a little behind gets them in one chunk (one
    send) rather than one chunk each.
    """
    more = sub._take(_BATCH)
    if not more:
        return event.encode()
    return b"".join([event.encode(), *(e.encode() for e in more)])
