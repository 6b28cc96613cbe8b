"""The Redis broker: ``BROKER_URL = "redis://host:port/db"`` (``pip install kolben[redis]``).

Each channel is a Redis Stream (``<prefix><channel>``). :meth:`RedisBroker.publish`
is one ``XADD ... MAXLEN ~ retention``: the stream entry id is the event id, so
ids are ordered across every process and machine sharing the Redis server.

Publishing is idempotent: the ``XADD`` runs in a small Lua script together with a
per-publish token (``<prefix>_published:<token>``, kept ``publish_token_ttl``
seconds). When a connection drops after Redis ran the script but before its
reply arrived, redis-py sends the same script with the same token again, and
Redis answers with the id it already stored instead of storing the event twice.

Live delivery: one reader thread per process runs a blocking ``XREAD`` over every
channel that has a subscriber in this process, from the last id it has seen, and
fans each entry out to the local subscriptions (threads and event loops alike).
One Redis connection serves all of this process's subscribers, however many. When
the connection drops, the reader reconnects (with a growing pause, up to 2 s) and
resumes from the last id it has seen: nothing is lost as long as the events are
still retained. The reader is a daemon thread that ends when the last local
subscription closes or the broker is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import typing as t
import uuid
from functools import partial
from urllib.parse import urlsplit

from ..sse import Event, _check_field
from . import (
    Broker,
    BrokerError,
    EventKey,
    Subscription,
    _check_channel,
    _wake,
    format_event_id,
    next_event_key,
    parse_event_id,
    replay_start,
)

try:
    import redis
    from redis.backoff import ExponentialBackoff, NoBackoff
    from redis.retry import Retry
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "BROKER_URL names a Redis server, which needs the redis package:"
        " pip install 'kolben[redis]'"
    ) from e

logger = logging.getLogger("kolben.broker")

_ZERO: EventKey = (0, 0)
_DATA = b"d"
_TYPE = b"e"

#: Publishes one event at most once per token: a retry of the same call (same
#: token) gets the id stored the first time. Atomic, as every Lua script is.
#: KEYS[1]: the channel's stream; KEYS[2]: the token's key.
#: ARGV[1]: MAXLEN (approximate); ARGV[2]: the token's lifetime in ms;
#: ARGV[3], ARGV[4], ...: the entry's fields and values.
_PUBLISH_ONCE = """
local stored = redis.call('GET', KEYS[2])
if stored then
  return stored
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[2], id, 'PX', ARGV[2])
return id
"""


def describe_url(url: str) -> str:
    """The Redis URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return parts._replace(netloc=user + netloc).geturl()


class RedisBroker(Broker):
    """A broker on a Redis server, shared by every process using the same
    ``BROKER_URL`` and ``key_prefix``.

    Events are kept in one Redis Stream per channel, trimmed to about
    ``retention`` entries (``MAXLEN ~``: at least ``retention``). Ids are Redis
    Stream entry ids (``"1700000000000-0"``).

    ``timeout`` is how long a command (a publish, a subscription's replay) waits
    for Redis's reply before it is retried on a new connection (twice at most):
    a Redis server that hangs fails a call after about three times that
    (``BROKER_REDIS_TIMEOUT``, 5 seconds by default).
    """

    #: How long one blocking XREAD waits before the reader looks around again (ms).
    block_ms = 5000
    #: The longest pause between two reconnection attempts (seconds).
    max_backoff = 2.0
    #: How long Redis remembers that a publish was done, so that a retry of it
    #: (after a lost reply) is recognised (seconds). Far longer than a retry takes.
    publish_token_ttl = 60.0

    def __init__(
        self,
        url: str,
        *,
        retention: int = 1000,
        queue_size: int = 256,
        key_prefix: str = "kolben:broker:",
        dumps: t.Callable[[t.Any], str] | None = None,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(retention=retention, queue_size=queue_size, dumps=dumps)
        if not timeout > 0:
            raise ValueError(
                f"The broker's Redis timeout must be a positive number of seconds, got"
                f" {timeout!r} (BROKER_REDIS_TIMEOUT)."
            )
        self.url = url
        self.key_prefix = key_prefix
        self._where = describe_url(url)
        # Retried on a new connection when one drops or times out: every command
        # of this client can run twice safely (a publish carries its own token).
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=min(2.0, timeout),
            socket_timeout=timeout,
            retry=Retry(
                ExponentialBackoff(cap=0.5, base=0.02),
                2,
                supported_errors=(redis.ConnectionError, redis.TimeoutError),
            ),
        )
        self._publish_once = self._client.register_script(_PUBLISH_ONCE)
        token = uuid.uuid4().hex[:12]
        #: The client name (``CLIENT SETNAME``) of the reader's connection.
        self.reader_name = f"kolben-broker-reader-{os.getpid()}-{token}"
        self._wake_key = f"{key_prefix}_wake:{token}"
        self._wake_pos = "0-0"
        # Channels the reader follows and the last id it has seen in each.
        self._positions: dict[str, EventKey] = {}
        self._reader: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = False
        self._closed = False

    def __repr__(self) -> str:
        return f"<RedisBroker {self._where} prefix={self.key_prefix!r}>"

    def _key(self, channel: str) -> str:
        return self.key_prefix + channel

    def _error(self, doing: str, e: Exception) -> BrokerError:
        message = (
            f"Could not {doing}: Redis at {self._where} failed ({type(e).__name__}: {e})."
            " Check that Redis is running and BROKER_URL points to it."
        )
        logger.error("%s", message)
        return BrokerError(message)

    # -- publishing ------------------------------------------------------------------

    def publish(self, channel: str, data: t.Any, *, event: str | None = None) -> str:
        """Store the event in the channel's stream; its id.

        At most once: a retry after a lost reply (redis-py retries on a new
        connection when one drops or times out) finds this call's token and
        returns the id stored the first time. Raises :exc:`BrokerError` when
        Redis can't be reached even after the retries; the event may then have
        been stored (once) or not.
        """
        _check_channel(channel)
        if event is not None:
            _check_field("event type", event)
        args: list[str | bytes | int] = [
            self.retention,
            int(self.publish_token_ttl * 1000),
            _DATA,
            self._encode(data),
        ]
        if event is not None:
            args += [_TYPE, event]
        token_key = f"{self.key_prefix}_published:{uuid.uuid4().hex}"
        try:
            raw = self._publish_once(keys=[self._key(channel), token_key], args=args)
        except redis.RedisError as e:
            raise self._error(f"publish to channel {channel!r}", e) from e
        return t.cast(bytes, raw).decode("ascii")

    async def apublish(self, channel: str, data: t.Any, *, event: str | None = None) -> str:
        # The sync pool in a worker thread: one pool for every thread and event loop
        # (an asyncio client is bound to one loop, and servers and test clients
        # may run several).
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, partial(self.publish, channel, data, event=event))

    # -- subscribing -----------------------------------------------------------------

    def subscribe(self, channel: str, *, last_event_id: str | None = None) -> Subscription:
        start = replay_start(channel, last_event_id)
        if self._closed:
            raise RuntimeError("This broker was closed; the app's broker is closed on shutdown.")
        key = self._key(channel)
        tip: EventKey | None = None
        while True:
            if tip is None and channel not in self._positions:
                tip = self._tip(key, channel)
            with self._lock:
                new_channel = channel not in self._positions
                if new_channel and tip is None:
                    continue  # its last subscriber just left: look up the tip again
                if new_channel:
                    self._positions[channel] = t.cast(EventKey, tip)
                position = self._positions[channel]
                sub = self._new_subscription(channel, None)
                if start is None:
                    # Live from here: what the reader has not dispatched yet.
                    sub._prime((), position)
                    sub.last_id = format_event_id(position) if position != _ZERO else None
                # else: registered first, taking live events, then the replay goes in
                # front of them (see _replay), so nothing falls between the two.
                self._register(sub)
                start_reader = self._reader is None or not self._reader.is_alive()
                if start_reader:
                    self._start_reader()
                break
        if new_channel and not start_reader:
            self._wake_reader()
        if start is not None:
            try:
                self._replay(sub, key, t.cast(str, last_event_id), start)
            except BaseException:
                sub.close()
                raise
        return sub

    async def asubscribe(self, channel: str, *, last_event_id: str | None = None) -> Subscription:
        """:meth:`subscribe` without blocking the event loop on Redis."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, partial(self.subscribe, channel, last_event_id=last_event_id)
        )

    def _tip(self, key: str, channel: str) -> EventKey:
        """The id of the newest event in the stream, (0, 0) for none."""
        try:
            newest = self._client.xrevrange(key, count=1)
        except redis.RedisError as e:
            raise self._error(f"subscribe to channel {channel!r}", e) from e
        newest = t.cast(list[t.Any], newest)
        return (parse_event_id(newest[0][0]) or _ZERO) if newest else _ZERO

    def _replay(self, sub: Subscription, key: str, last_event_id: str, start: EventKey) -> None:
        """Put the retained events after ``start`` in front of the live events the
        subscription has received since it was registered."""
        # From the id after ``start`` (none after the largest possible id, and
        # Redis refuses an exclusive "(" start there).
        first = next_event_key(start)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                if first is not None:
                    pipe.xrange(key, min=format_event_id(first))
                pipe.xrevrange(key, count=1)
                *found, newest = pipe.execute()
        except redis.RedisError as e:
            raise self._error(f"replay channel {sub.channel!r} after {last_event_id!r}", e) from e
        entries = found[0] if found else []
        tip = (parse_event_id(newest[0][0]) or _ZERO) if newest else _ZERO
        replay = [(t.cast(EventKey, parse_event_id(i)), self._event(i, f)) for i, f in entries]
        if start > tip:
            # An id newer than anything in Redis (another server, a reset stream):
            # live from now rather than waiting for the ids to catch up.
            after, last_id = tip, (format_event_id(tip) if tip != _ZERO else None)
        else:
            after, last_id = start, last_event_id
        waiter = sub._put_in_front(replay, after)
        if sub.last_id is None:
            sub.last_id = last_id
        _wake([waiter] if waiter is not None else [])

    @staticmethod
    def _event(raw_id: bytes, fields: dict[bytes, bytes]) -> Event:
        kind = fields.get(_TYPE)
        return Event(
            fields.get(_DATA, b"").decode("utf-8"),
            event=kind.decode("utf-8") if kind is not None else None,
            id=raw_id.decode("ascii"),
        )

    def _unsubscribe(self, sub: Subscription) -> None:
        super()._unsubscribe(sub)
        if self._idle:
            self._idle = False
            self._wake_reader()  # so it stops reading the channel (and ends if idle)

    def _channel_idle(self, channel: str) -> None:
        self._positions.pop(channel, None)
        self._idle = True

    # -- the reader ------------------------------------------------------------------

    def _start_reader(self) -> None:
        """Start the reader thread (the broker's lock held)."""
        self._stop.clear()
        self._reader = threading.Thread(
            target=self._read_forever, name="kolben-broker-reader", daemon=True
        )
        self._reader.start()

    def reader_alive(self) -> bool:
        """Whether this process's reader thread is running."""
        reader = self._reader
        return reader is not None and reader.is_alive()

    def _wake_reader(self) -> None:
        """Make a blocked XREAD return now, to pick up a changed set of channels."""
        try:
            with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(self._wake_key, {"w": "1"}, maxlen=1)
                pipe.pexpire(self._wake_key, self.block_ms * 20)
                pipe.execute()
        except redis.RedisError as e:
            # The reader looks at the channels again after block_ms at the latest.
            logger.debug("Could not wake the broker's reader: %s", e)

    def _read_forever(self) -> None:
        connection: redis.Redis | None = None
        pause = 0.0
        failing = False
        try:
            while not self._stop.is_set():
                with self._lock:
                    if not self._positions:
                        self._reader = None  # a new subscriber starts a new reader
                        return
                    streams: dict[str, str] = {
                        self._key(ch): format_event_id(pos) for ch, pos in self._positions.items()
                    }
                streams[self._wake_key] = self._wake_pos
                try:
                    if connection is None:
                        connection = self._reader_connection()
                    reply = connection.xread(streams, count=self.retention, block=self.block_ms)  # type: ignore[arg-type]
                except redis.RedisError as e:
                    if self._stop.is_set():
                        return
                    if not failing:
                        logger.warning(
                            "The broker's reader lost Redis at %s (%s: %s); reconnecting,"
                            " and resuming every channel from the last event it saw.",
                            self._where,
                            type(e).__name__,
                            e,
                        )
                    failing = True
                    if connection is not None:
                        connection.close()
                        connection = None
                    self._stop.wait(pause)
                    pause = min(max(pause * 2, 0.05), self.max_backoff)
                    continue
                if failing:
                    logger.warning("The broker's reader is connected to Redis again.")
                    failing = False
                pause = 0.0
                if reply:
                    self._dispatch(t.cast(list[t.Any], reply))
        except Exception:  # pragma: no cover - a bug; don't die silently
            logger.exception("The broker's reader stopped on an unexpected error.")
            with self._lock:
                self._reader = None
        finally:
            if connection is not None:
                connection.close()

    def _reader_connection(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.url,
            client_name=self.reader_name,
            socket_connect_timeout=2.0,
            socket_timeout=self.block_ms / 1000 + 5.0,
            retry=Retry(NoBackoff(), 0),
            single_connection_client=True,
        )

    def _dispatch(self, reply: list[t.Any]) -> None:
        prefix = len(self.key_prefix)
        waiters: list[asyncio.Future[bool]] = []
        with self._lock:
            for raw_key, entries in reply:
                key = raw_key.decode("utf-8")
                if key == self._wake_key:
                    if entries:
                        self._wake_pos = entries[-1][0].decode("ascii")
                    continue
                channel = key[prefix:]
                position = self._positions.get(channel)
                for raw_id, fields in entries:
                    if position is None:
                        break  # no local subscriber left
                    event_key = parse_event_id(raw_id)
                    if event_key is None or event_key <= position:
                        continue
                    position = event_key
                    self._positions[channel] = position
                    waiters += self._fanout(channel, self._event(raw_id, fields), event_key)
                    position = self._positions.get(channel)
        _wake(waiters)

    # -- shutting down ---------------------------------------------------------------

    def close(self) -> None:
        """Close every subscription, stop the reader, release the connections."""
        self._closed = True
        self._stop.set()
        super().close()
        with self._lock:
            self._positions.clear()
            reader = self._reader
        if reader is not None and reader is not threading.current_thread():
            self._wake_reader()
            reader.join(timeout=self.max_backoff + 1.0)
        with contextlib.suppress(redis.RedisError):  # else it expires by itself
            self._client.delete(self._wake_key)
        self._client.close()
