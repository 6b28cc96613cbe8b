"""Publish/subscribe brokers for Server-Sent Events and in-app fan-out.

Every app has one, :attr:`Kolben.broker <kolben.Kolben.broker>`, chosen by the
``BROKER_URL`` config key on first use:

- unset (or ``memory://``): :class:`MemoryBroker`, in this process only;
- ``redis://...`` / ``rediss://...`` / ``unix://...``: :class:`RedisBroker`, one
  Redis Stream per channel, shared by every worker process and machine.

Both have the same interface::

    event_id = app.broker.publish("chat", {"user": "ada", "text": "hi"})

    with app.broker.subscribe("chat", last_event_id=request.headers.get("Last-Event-ID")) as sub:
        for event in sub:            # a WSGI worker thread
            ...
        async for event in sub:      # or an asyncio task
            ...
        event = sub.get(timeout=5)   # None after 5 s of silence

Event ids are ``"<milliseconds>-<sequence>"`` strings (Redis Stream entry ids, and
the same shape for :class:`MemoryBroker`), strictly increasing per channel. A
subscription started with ``last_event_id`` first replays every retained event
after that id, then continues live, with no gap and no duplicate between the two.
The last ``BROKER_RETENTION`` events of each channel are retained for replay.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import re
import threading
import time
import typing as t
from collections import deque

from werkzeug.exceptions import ServiceUnavailable

from ..sse import Event

if t.TYPE_CHECKING:
    from ..app import Kolben
    from .memory import MemoryBroker
    from .redis import RedisBroker

__all__ = [
    "Broker",
    "BrokerError",
    "MemoryBroker",
    "RedisBroker",
    "Subscription",
    "SubscriptionClosed",
    "create_broker",
    "parse_event_id",
]

logger = logging.getLogger("kolben.broker")

#: Default bound of a subscriber's queue of undelivered live events.
DEFAULT_QUEUE_SIZE = 256
#: Default number of events retained per channel for replay.
DEFAULT_RETENTION = 1000

EventKey = tuple[int, int]
_ID_RE = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
#: The largest part of an event id: Redis Stream ids are two unsigned 64-bit numbers.
MAX_ID_PART = 2**64 - 1


class BrokerError(ServiceUnavailable):
    """The broker could not do what was asked (Redis unreachable, say).

    It is a ``503 Service Unavailable`` HTTP exception: raised in a view and not
    handled, the client gets a 503 with ``Retry-After`` (and a generic message; the
    details stay in ``str(error)`` and the log, since they may name the server).
    """

    description = "The message broker is unavailable right now. Try again shortly."

    def __init__(self, message: str, *, retry_after: int | None = 1) -> None:
        super().__init__(retry_after=retry_after)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SubscriptionClosed(Exception):
    """Raised by :meth:`Subscription.get` once a closed subscription is drained."""


def parse_event_id(value: str | bytes | None) -> EventKey | None:
    """``"1700000000000-3"`` -> ``(1700000000000, 3)``; None for anything else.

    The tuples compare in event order. Both brokers give ids of this shape. Each
    part must fit in an unsigned 64-bit number, as in a Redis Stream id:
    ``"18446744073709551616-0"`` is not an id (None), so a client sending it as
    ``Last-Event-ID`` gets live events, as for any other malformed id.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    # ASCII digits only, around them only the whitespace HTTP allows (str.strip()
    # and \d would also take "\xa0" and non-ASCII digits).
    match = _ID_RE.fullmatch(value.strip(" \t\r\n"))
    if match is None:
        return None
    key = int(match[1]), int(match[2])
    if key[0] > MAX_ID_PART or key[1] > MAX_ID_PART:
        return None
    return key


def next_event_key(key: EventKey) -> EventKey | None:
    """The smallest id after ``key``; None after the largest possible id."""
    if key[1] < MAX_ID_PART:
        return key[0], key[1] + 1
    if key[0] < MAX_ID_PART:
        return key[0] + 1, 0
    return None


def replay_start(channel: str, last_event_id: str | None) -> EventKey | None:
    """Where a subscription to ``channel`` with ``last_event_id`` starts replaying:
    after that event, or None (live events only) for no id or a malformed one
    (not ``<digits>-<digits>``, or a part past 2**64 - 1), which is logged."""
    _check_channel(channel)
    start = parse_event_id(last_event_id)
    if last_event_id is not None and start is None:
        logging.getLogger("kolben.broker").info(
            "Ignoring the malformed Last-Event-ID %r on channel %r: streaming live"
            " events only.",
            last_event_id[:80],
            channel,
        )
    return start


def format_event_id(key: EventKey) -> str:
    """``(1700000000000, 3)`` -> ``"1700000000000-3"``."""
    return f"{key[0]}-{key[1]}"


def _check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not channel:
        raise ValueError(f"A channel name must be a non-empty string, got {channel!r}.")


class Subscription:
    """One consumer's view of a channel: a bounded queue of events, filled by the
    broker, read by one consumer.

    It is a context manager (``with`` / ``async with`` close it), a sync iterator
    (blocks a thread), an async iterator (awaits on the running loop), and has
    :meth:`get` / :meth:`aget` with a timeout. Iteration stops when the
    subscription is closed: by :meth:`close`, by the broker shutting down, or
    because the consumer fell more than ``queue_size`` events behind (logged; it
    can resume from :attr:`last_id` with a new subscription, which replays the
    retained events it missed).

    Sync and async consumers may use the same broker at the same time, from any
    thread or event loop; one subscription has one consumer at a time.
    """

    __slots__ = (
        "__weakref__",
        "_broker",
        "_closed",
        "_cond",
        "_last_key",
        "_limit",
        "_lock",
        "_queue",
        "_reason",
        "_sync_waiters",
        "_waiter",
        "channel",
        "last_id",
    )

    def __init__(
        self,
        broker: Broker,
        channel: str,
        *,
        queue_size: int,
        last_id: str | None = None,
    ) -> None:
        self._broker = broker
        #: The channel this subscription reads.
        self.channel = channel
        #: The id of the last event handed to the consumer (or the
        #: ``last_event_id`` it started from): where to resume after a reconnect.
        self.last_id = last_id
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[Event] = deque()
        self._limit = queue_size
        self._last_key: EventKey | None = None
        self._closed = False
        self._reason: str | None = None
        self._sync_waiters = 0
        self._waiter: asyncio.Future[bool] | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._queue)} queued"
        return f"<Subscription {self.channel!r} {state}>"

    @property
    def closed(self) -> bool:
        """Whether the subscription was closed (queued events may remain)."""
        return self._closed

    @property
    def close_reason(self) -> str | None:
        """Why the broker closed the subscription, if it did."""
        return self._reason

    # -- filled by the broker (under the broker's lock) ------------------------------

    def _prime(self, events: t.Sequence[Event], last_key: EventKey | None) -> None:
        """Queue the replayed events before any live one; live events up to
        ``last_key`` are duplicates from then on."""
        with self._lock:
            self._queue.extend(events)
            # The bound applies to live events: the replay is bounded by retention.
            self._limit += len(events)
            self._last_key = last_key

    def _put_in_front(
        self, replay: t.Sequence[tuple[EventKey, Event]], after: EventKey
    ) -> asyncio.Future[bool] | None:
        """Put replayed events (those after ``after``) in front of the live ones
        queued since the subscription was registered, dropping what is in both."""
        with self._lock:
            live = list(self._queue)
            self._queue.clear()
            last = after
            for key, event in replay:
                if key > last:
                    self._queue.append(event)
                    last = key
            for event in live:
                live_key = parse_event_id(event.id)
                if live_key is not None and live_key > last:
                    self._queue.append(event)
                    last = live_key
            self._limit += len(replay)
            self._last_key = last
            if not self._queue:
                return None
            if self._sync_waiters:
                self._cond.notify()
            waiter, self._waiter = self._waiter, None
            return waiter

    def _push(self, event: Event, key: EventKey) -> asyncio.Future[bool] | None:
        """Queue a live event; the async waiter to wake, if any. Events at or
        before the last queued id are dropped (they were replayed already)."""
        with self._lock:
            if self._closed:
                return None
            if self._last_key is not None and key <= self._last_key:
                return None
            if len(self._queue) >= self._limit:
                self._closed = True
                self._reason = (
                    f"the consumer fell more than {self._limit} events behind on channel"
                    f" {self.channel!r}"
                )
            else:
                self._queue.append(event)
                self._last_key = key
            if self._sync_waiters:
                self._cond.notify()
            waiter, self._waiter = self._waiter, None
            return waiter

    def _shut(self, reason: str | None, *, drop_queued: bool) -> asyncio.Future[bool] | None:
        with self._lock:
            if self._closed and not drop_queued:
                return None
            self._closed = True
            if reason is not None and self._reason is None:
                self._reason = reason
            if drop_queued:
                self._queue.clear()
            self._cond.notify_all()
            waiter, self._waiter = self._waiter, None
            return waiter

    # -- the consumer ----------------------------------------------------------------

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting at most ``timeout`` seconds (forever if None);
        None when the time passes with no event.

        Raises :exc:`SubscriptionClosed` once the subscription is closed and
        its queued events were all taken.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._queue:
                if self._closed:
                    raise SubscriptionClosed(self._closed_message())
                remaining = None
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                self._sync_waiters += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._sync_waiters -= 1
            event = self._queue.popleft()
        self.last_id = event.id
        return event

    async def aget(self, timeout: float | None = None) -> Event | None:
        """:meth:`get` for asyncio code: waits on the running loop, not a thread."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            with self._lock:
                if self._queue:
                    event = self._queue.popleft()
                    self.last_id = event.id
                    return event
                if self._closed:
                    raise SubscriptionClosed(self._closed_message())
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return None
                waiter: asyncio.Future[bool] = loop.create_future()
                self._waiter = waiter
            # PERF: a timer handle resolving the future, not asyncio.wait_for (which
            # wraps the wait in a task) nor asyncio.wait (a set and a helper future).
            timer = None if remaining is None else loop.call_later(remaining, _expire, waiter)
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                if self._waiter is waiter:  # timed out or cancelled: nobody resolved it
                    with self._lock:
                        if self._waiter is waiter:
                            self._waiter = None

    def _take(self, limit: int) -> list[Event]:
        """Up to ``limit`` events that are already queued, without waiting."""
        queue = self._queue
        if not queue:
            return []
        with self._lock:
            events = [queue.popleft() for _ in range(min(limit, len(queue)))]
        if events:
            self.last_id = events[-1].id
        return events

    def _closed_message(self) -> str:
        reason = f": {self._reason}" if self._reason else ""
        return f"The subscription to channel {self.channel!r} is closed{reason}."

    def __iter__(self) -> Subscription:
        return self

    def __next__(self) -> Event:
        try:
            event = self.get()
        except SubscriptionClosed:
            raise StopIteration from None
        assert event is not None
        return event

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            event = await self.aget()
        except SubscriptionClosed:
            raise StopAsyncIteration from None
        assert event is not None
        return event

    def close(self) -> None:
        """Stop receiving: leave the broker and drop the queued events. Idempotent;
        a consumer waiting in :meth:`get` or :meth:`aget` is woken."""
        self._broker._unsubscribe(self)
        _wake([w] if (w := self._shut(None, drop_queued=True)) is not None else [])

    async def aclose(self) -> None:
        """:meth:`close`, for ``async`` code and ``contextlib.aclosing``."""
        self.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _resolve(waiters: list[asyncio.Future[bool]]) -> None:
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(True)


def _wake(waiters: list[asyncio.Future[bool]]) -> None:
    """Wake async consumers, from any thread.

    PERF: one ``call_soon_threadsafe`` per event loop (one write to its self-pipe),
    not one per subscriber; on the loop's own thread the futures are resolved
    directly.
    """
    if not waiters:
        return
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[bool]]] = {}
    for waiter in waiters:
        by_loop.setdefault(waiter.get_loop(), []).append(waiter)
    for loop, group in by_loop.items():
        if loop is running:
            _resolve(group)
            continue
        # A closed loop raises RuntimeError: nobody is waiting there any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_resolve, group)


class Broker(abc.ABC):
    """What every broker does: publish, subscribe, keep track of subscriptions.

    Subclasses implement :meth:`publish` and :meth:`subscribe`; the registry of
    local subscriptions and the fan-out to them live here.
    """

    def __init__(
        self,
        *,
        retention: int = DEFAULT_RETENTION,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        dumps: t.Callable[[t.Any], str] | None = None,
    ) -> None:
        if retention < 1:
            raise ValueError(f"BROKER_RETENTION must be at least 1, got {retention!r}.")
        if queue_size < 1:
            raise ValueError(f"The subscriber queue size must be at least 1, got {queue_size!r}.")
        #: Events retained per channel for replay (``BROKER_RETENTION``).
        self.retention = retention
        #: Live events a subscriber may fall behind before it is disconnected.
        self.queue_size = queue_size
        self._dumps = dumps
        self._lock = threading.Lock()
        self._subscribers: dict[str, dict[Subscription, None]] = {}

    @abc.abstractmethod
    def publish(self, channel: str, data: t.Any, *, event: str | None = None) -> str:
        """Publish ``data`` (a string, or anything the app's JSON provider
        encodes) on ``channel``, with the SSE event type ``event``; the new event's
        id. Raises :exc:`BrokerError` if the event could not be stored."""

    async def apublish(self, channel: str, data: t.Any, *, event: str | None = None) -> str:
        """:meth:`publish` for ``async`` views: does not block the event loop."""
        return self.publish(channel, data, event=event)

    @abc.abstractmethod
    def subscribe(self, channel: str, *, last_event_id: str | None = None) -> Subscription:
        """Subscribe to ``channel``: with ``last_event_id``, every retained event
        after it first, then live events. A malformed ``last_event_id`` is ignored
        (live from now); one older than the retained events replays all of them;
        one newer than the channel's last event starts live."""

    async def asubscribe(self, channel: str, *, last_event_id: str | None = None) -> Subscription:
        """:meth:`subscribe` for ``async`` views: does not block the event loop."""
        return self.subscribe(channel, last_event_id=last_event_id)

    def subscriber_count(self, channel: str | None = None) -> int:
        """Open subscriptions in this process, on one channel or all."""
        with self._lock:
            if channel is not None:
                return len(self._subscribers.get(channel, ()))
            return sum(len(subs) for subs in self._subscribers.values())

    def close(self) -> None:
        """Close every subscription (their streams end) and release resources."""
        with self._lock:
            subs = [sub for group in self._subscribers.values() for sub in group]
            self._subscribers.clear()
        waiters = [sub._shut("the broker was closed", drop_queued=False) for sub in subs]
        _wake([w for w in waiters if w is not None])

    # -- for subclasses --------------------------------------------------------------

    def _encode(self, data: t.Any) -> str:
        """The text of an event's data: strings as they are, the rest as JSON."""
        if isinstance(data, str):
            return data
        if isinstance(data, (bytes, bytearray)):
            return bytes(data).decode("utf-8")
        if self._dumps is not None:
            return self._dumps(data)
        from ..json import dumps

        return dumps(data)

    def _new_subscription(self, channel: str, last_id: str | None) -> Subscription:
        return Subscription(self, channel, queue_size=self.queue_size, last_id=last_id)

    def _register(self, sub: Subscription) -> bool:
        """Add ``sub`` (the broker's lock held); whether it is the channel's first."""
        group = self._subscribers.get(sub.channel)
        if group is None:
            self._subscribers[sub.channel] = {sub: None}
            return True
        group[sub] = None
        return False

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            group = self._subscribers.get(sub.channel)
            if group is None or sub not in group:
                return
            del group[sub]
            if not group:
                del self._subscribers[sub.channel]
                self._channel_idle(sub.channel)

    def _channel_idle(self, channel: str) -> None:  # noqa: B027 (optional hook)
        """The last local subscriber of ``channel`` left (lock held)."""

    def _fanout(self, channel: str, event: Event, key: EventKey) -> list[asyncio.Future[bool]]:
        """Queue ``event`` for every subscriber of ``channel`` (lock held); the
        async waiters to wake once the lock is released."""
        group = self._subscribers.get(channel)
        if not group:
            return []
        waiters = []
        overflowed = None
        for sub in group:
            waiter = sub._push(event, key)
            if waiter is not None:
                waiters.append(waiter)
            if sub._closed:
                overflowed = [*(overflowed or ()), sub]
        for sub in overflowed or ():
            del group[sub]
            logger.warning(
                "Disconnected a subscriber of channel %r: it fell more than %d events"
                " behind. It can reconnect with Last-Event-ID %r to get the missed"
                " events replayed (up to BROKER_RETENTION=%d).",
                channel,
                sub._limit,
                sub.last_id,
                self.retention,
            )
        if not group:
            del self._subscribers[channel]
            self._channel_idle(channel)
        return waiters


def create_broker(app: Kolben) -> Broker:
    """The broker for ``app``'s config (``BROKER_URL``, ``BROKER_RETENTION``,
    ``BROKER_QUEUE_SIZE``, ``BROKER_KEY_PREFIX``); closed by the app's
    ``after_serving`` functions."""
    config = app.config
    url = config.get("BROKER_URL")
    retention = int(config.get("BROKER_RETENTION") or DEFAULT_RETENTION)
    queue_size = int(config.get("BROKER_QUEUE_SIZE") or DEFAULT_QUEUE_SIZE)

    def dumps(obj: t.Any) -> str:
        return app.json.dumps(obj)

    broker: Broker
    if not url or url == "memory://":
        from .memory import MemoryBroker

        broker = MemoryBroker(retention=retention, queue_size=queue_size, dumps=dumps)
    elif isinstance(url, str) and url.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisBroker

        broker = RedisBroker(
            url,
            retention=retention,
            queue_size=queue_size,
            key_prefix=config.get("BROKER_KEY_PREFIX") or "kolben:broker:",
            dumps=dumps,
            timeout=float(config.get("BROKER_REDIS_TIMEOUT") or 5.0),
        )
    else:
        raise ValueError(
            f"BROKER_URL {url!r} is not supported: leave it unset for the in-process"
            " broker, or use 'redis://host:port/db' for Redis."
        )
    # The decorator refuses after the first request; the list does not.
    app.after_serving_funcs.append(broker.close)
    return broker


def __getattr__(name: str) -> t.Any:
    # The implementations are imported on first use: the Redis one needs redis-py.
    if name == "MemoryBroker":
        from .memory import MemoryBroker

        return MemoryBroker
    if name == "RedisBroker":
        from .redis import RedisBroker

        return RedisBroker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
