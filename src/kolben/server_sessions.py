"""Server-side sessions: the data stays on the server, the cookie carries a signed id.

Choose them by config, no code needed::

    app.config["SESSION_BACKEND"] = "redis"              # or "memory", or "cookie" (default)
    app.config["SESSION_REDIS_URL"] = "redis://127.0.0.1:6379/0"

or assign an interface yourself (an assigned interface always wins over the config)::

    app.session_interface = ServerSideSessionInterface(RedisSessionStore.from_url(url))

Each session lives under a random 256-bit id (:func:`secrets.token_urlsafe`). The
cookie holds that id signed with ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` are
accepted too), so a tampered or made-up id is refused without asking the store. The
record is the session as tagged JSON (the format of cookie sessions, never pickle),
kept ``PERMANENT_SESSION_LIFETIME`` after it was last saved. An id that is
malformed, badly signed, expired or unknown gives a new, empty session with a *new*
id: a client never chooses its id. ``session.regenerate()`` moves the session to a
new id and deletes the old record (call it on login); ``session.clear()`` deletes the
record. When the store cannot be reached the request gets a 503
(:exc:`SessionUnavailable`), never a silently empty session.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
import re
import secrets
import threading
import time
import typing as t
from collections import OrderedDict

from itsdangerous import BadSignature, Signer
from itsdangerous.encoding import base64_decode, base64_encode
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from ._itsdangerous_fast import OneShotHMAC
from ._werkzeug_fast import add_vary_cookie as _vary_cookie
from .caching import Cache
from .sessions import (
    _DEFAULT_SERIALIZER,
    NullSession,
    SecureCookieSession,
    SessionInterface,
    SessionMixin,
    _check_async_overrides,
    replace_with_error_response,
    set_session_cookie,
)

if t.TYPE_CHECKING:
    import redis
    import redis.asyncio

    from .app import Kolben
    from .wrappers import Request, Response

__all__ = [
    "MemorySessionStore",
    "RedisSessionStore",
    "ServerSideSession",
    "ServerSideSessionInterface",
    "SessionInterfaceSelector",
    "SessionStore",
    "SessionUnavailable",
    "create_session_interface",
]

logger = logging.getLogger("kolben.sessions")

#: The config values of ``SESSION_BACKEND``.
BACKENDS = ("cookie", "redis", "memory")

# A session id: 32 random bytes in URL-safe base64 without padding (43 characters).
_ID_BYTES = 32
_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")
# The environ key marking a request whose session could not be loaded.
_UNAVAILABLE_KEY = "kolben.session_unavailable"
# Where an app keeps its session stores and interfaces built from config.
_EXTENSION_KEY = "kolben.server_sessions"


def new_session_id() -> str:
    """A fresh random session id: 256 bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(_ID_BYTES)


class SessionUnavailable(ServiceUnavailable):
    """The session store could not be reached (Redis down, say).

    A ``503 Service Unavailable`` HTTP exception with ``Retry-After: 1``: raised when
    ``session`` is first used in a request (or when it is saved) and the store does
    not answer. Handle it with ``@app.errorhandler(503)`` like any other 503. The
    client sees a generic message; ``str(error)`` holds the details for the log.
    """

    description = (
        "Sessions are unavailable right now because the session store cannot be"
        " reached. Try again shortly."
    )

    def __init__(self, message: str, *, retry_after: int | None = 1) -> None:
        super().__init__(retry_after=retry_after)
        self.message = message

    def __str__(self) -> str:
        return self.message


# -- stores -------------------------------------------------------------------------


class SessionStore(abc.ABC):
    """Where :class:`ServerSideSessionInterface` keeps session records: bytes by id.

    Implement :meth:`load`, :meth:`save` and :meth:`delete`, and :meth:`replace`
    as one operation if the store can (the default loads, then saves); :meth:`touch`
    if the store can extend a record's life without rewriting it. Raise
    :exc:`SessionUnavailable` when the store cannot be reached; return None from
    :meth:`load` for an id it does not hold (or holds expired).

    **The async path.** :meth:`aload`, :meth:`asave`, :meth:`adelete` and
    :meth:`atouch` are the same operations for the event loop (used under ASGI).
    A store with an asyncio client implements them and sets
    :attr:`has_async_io` to True. A store whose methods never wait on I/O (in
    memory) just sets :attr:`has_async_io`: the async methods then call the sync
    ones inline. For any other store the async methods run the sync ones in a
    thread (:func:`asyncio.to_thread`), and the interface keeps to its sync path.
    """

    #: Whether the async methods can be awaited on an event loop without blocking
    #: it: they are implemented with an asyncio client, or the sync methods do no
    #: I/O. False here. A subclass that overrides a sync method without its async
    #: counterpart in the same class gets False, unless it sets this itself.
    has_async_io: bool = False

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_async_overrides(cls, SessionStore, _STORE_ASYNC_PAIRS)

    @abc.abstractmethod
    def load(self, sid: str) -> bytes | None:
        """The record stored under ``sid``, or None."""

    @abc.abstractmethod
    def save(self, sid: str, data: bytes, ttl: int) -> None:
        """Store ``data`` under ``sid`` for ``ttl`` seconds (replacing any record)."""

    @abc.abstractmethod
    def delete(self, *sids: str) -> None:
        """Delete the records of ``sids`` (unknown ids are ignored)."""

    def replace(self, sid: str, data: bytes, ttl: int) -> None:
        """Store ``data`` under ``sid`` for ``ttl`` seconds only if ``sid`` still has
        a record: a session loaded by a request is written back this way, so a
        record deleted meanwhile (a log-out in a concurrent request, which clears
        the session) stays deleted. The default loads, then saves: a store that
        can do it in one operation should (Redis: ``SET ... XX``)."""
        if self.load(sid) is not None:
            self.save(sid, data, ttl)

    def touch(self, sid: str, data: bytes, ttl: int) -> None:
        """Keep the unchanged record ``data`` of ``sid`` for ``ttl`` more seconds,
        if it is still stored (by default :meth:`replace`)."""
        self.replace(sid, data, ttl)

    def move(self, old: str, sid: str, data: bytes, ttl: int) -> None:
        """Delete the record of ``old`` and store ``data`` under the new id ``sid``,
        only if ``old`` still had a record: a session moved to a new id
        (``regenerate()``, a log-in) while a concurrent request logged it out
        stays logged out. The default loads, then deletes and saves."""
        if self.load(old) is not None:
            self.delete(old)
            self.save(sid, data, ttl)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections; the default does nothing."""

    # -- the async path: these defaults call the sync methods, inline when the store
    # declares it does no I/O (has_async_io), else in a thread.

    async def aload(self, sid: str) -> bytes | None:
        """:meth:`load`, awaitable on the event loop."""
        if self.has_async_io:
            return self.load(sid)
        return await asyncio.to_thread(self.load, sid)

    async def asave(self, sid: str, data: bytes, ttl: int) -> None:
        """:meth:`save`, awaitable on the event loop."""
        if self.has_async_io:
            self.save(sid, data, ttl)
        else:
            await asyncio.to_thread(self.save, sid, data, ttl)

    async def adelete(self, *sids: str) -> None:
        """:meth:`delete`, awaitable on the event loop."""
        if self.has_async_io:
            self.delete(*sids)
        else:
            await asyncio.to_thread(self.delete, *sids)

    async def areplace(self, sid: str, data: bytes, ttl: int) -> None:
        """:meth:`replace`, awaitable on the event loop (by default the store's own
        :meth:`replace` inline, or :meth:`aload` then :meth:`asave`)."""
        if self.has_async_io:
            if type(self).replace is not SessionStore.replace:
                self.replace(sid, data, ttl)  # its own, doing no I/O
            elif await self.aload(sid) is not None:
                await self.asave(sid, data, ttl)
        else:
            await asyncio.to_thread(self.replace, sid, data, ttl)

    async def atouch(self, sid: str, data: bytes, ttl: int) -> None:
        """:meth:`touch`, awaitable on the event loop (by default :meth:`areplace`)."""
        if self.has_async_io:
            if type(self).touch is not SessionStore.touch:
                self.touch(sid, data, ttl)  # its own, doing no I/O
            else:
                await self.areplace(sid, data, ttl)
        else:
            await asyncio.to_thread(self.touch, sid, data, ttl)

    async def amove(self, old: str, sid: str, data: bytes, ttl: int) -> None:
        """:meth:`move`, awaitable on the event loop."""
        if self.has_async_io:
            if type(self).move is not SessionStore.move:
                self.move(old, sid, data, ttl)  # its own, doing no I/O
            elif await self.aload(old) is not None:
                await self.adelete(old)
                await self.asave(sid, data, ttl)
        else:
            await asyncio.to_thread(self.move, old, sid, data, ttl)

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release the connections the async methods opened on the running event
        loop; the default does nothing."""


# The sync methods of a store and their async counterparts.
_STORE_ASYNC_PAIRS = (
    ("load", "aload"),
    ("save", "asave"),
    ("delete", "adelete"),
    ("replace", "areplace"),
    ("touch", "atouch"),
    ("move", "amove"),
)


class MemorySessionStore(SessionStore):
    """Session records in this process's memory: the development default.

    Bounded: it holds at most ``max_entries`` records and, when full, drops the one
    used least recently (that client starts a new session; a warning is logged the
    first time). Expired records are dropped when read. Each worker process has its
    own store, so use Redis once you run more than one process.

    Its methods do no I/O (a lock held for a dict operation), so its async methods
    call them inline on the event loop.
    """

    has_async_io = True

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError(f"SESSION_MEMORY_MAX_ENTRIES must be at least 1, not {max_entries!r}.")
        #: The most records kept at once.
        self.max_entries = max_entries
        self._records: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._warned = False

    def __len__(self) -> int:
        return len(self._records)

    def load(self, sid: str) -> bytes | None:
        with self._lock:
            entry = self._records.get(sid)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._records[sid]
                return None
            self._records.move_to_end(sid)
            return entry[1]

    def save(self, sid: str, data: bytes, ttl: int) -> None:
        with self._lock:
            records = self._records
            records[sid] = (time.monotonic() + ttl, data)
            records.move_to_end(sid)
            evicted = 0
            while len(records) > self.max_entries:
                records.popitem(last=False)
                evicted += 1
        if evicted and not self._warned:
            self._warned = True
            logger.warning(
                "The in-memory session store is full (%d sessions): the least recently"
                " used sessions are being dropped. Raise SESSION_MEMORY_MAX_ENTRIES, or"
                " use SESSION_BACKEND = 'redis' in production.",
                self.max_entries,
            )

    def replace(self, sid: str, data: bytes, ttl: int) -> None:
        self._renew(sid, ttl, data)

    def touch(self, sid: str, data: bytes, ttl: int) -> None:
        # Only the expiry: the record may have been changed by a concurrent request.
        self._renew(sid, ttl, None)

    def _renew(self, sid: str, ttl: int, data: bytes | None) -> None:
        """Keep the live record of ``sid`` ``ttl`` more seconds, with ``data``
        (None: its own); one deleted meanwhile (or dropped, or expired) stays so."""
        with self._lock:
            entry = self._records.get(sid)
            if entry is None:
                return
            now = time.monotonic()
            if entry[0] <= now:
                del self._records[sid]
                return
            self._records[sid] = (now + ttl, entry[1] if data is None else data)
            self._records.move_to_end(sid)

    def move(self, old: str, sid: str, data: bytes, ttl: int) -> None:
        with self._lock:
            entry = self._records.pop(old, None)
            if entry is None or entry[0] <= time.monotonic():
                return  # logged out (or expired) meanwhile: stays so
        self.save(sid, data, ttl)

    def delete(self, *sids: str) -> None:
        with self._lock:
            for sid in sids:
                self._records.pop(sid, None)


# Move a session record to a new key only if the old one still exists (not
# logged out by a concurrent request): KEYS[1] old, KEYS[2] new, ARGV data, ttl.
_MOVE_SCRIPT = """
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""


class RedisSessionStore(SessionStore):
    """Session records in Redis: ``SET key data EX ttl`` under ``key_prefix + id``.

    Shared by every worker process and machine using the same Redis. Any Redis
    error (unreachable, timed out, refused) raises :exc:`SessionUnavailable`.

    :param client: a ``redis.Redis`` client (bytes replies, the default).
    :param key_prefix: put before each session id to make its key.
    :param async_client_factory: makes the ``redis.asyncio.Redis`` client of the
        async methods, called once per event loop. None: one like ``client`` (same
        server, database, credentials, TLS and timeouts), with a connection pool of
        at most ``max_connections`` that waits (up to the client's socket timeout)
        for a free connection. When ``client``'s settings can't be carried over
        (an unknown connection class or option), the store has no async path
        (:attr:`has_async_io` is False) and a message at INFO level says so.
    :param max_connections: the bound of each event loop's connection pool.

    The async methods use a client per event loop, made on the loop's first call:
    a client is bound to its loop, and a server may run several loops (one per
    worker, or a new one per ``asyncio.run``). Its connections are closed when the
    loop shuts down (``asyncio.run`` and uvicorn call ``loop.shutdown_asyncgens()``,
    which closes them), or by :meth:`aclose`. A client of a loop that was closed
    without that is never reused.
    """

    has_async_io = True

    def __init__(
        self,
        client: redis.Redis,
        key_prefix: str = "kolben:session:",
        *,
        async_client_factory: t.Callable[[], redis.asyncio.Redis] | None = None,
        max_connections: int = 32,
    ) -> None:
        import redis as _redis

        if max_connections < 1:
            raise ValueError(
                f"SESSION_REDIS_MAX_CONNECTIONS must be at least 1, not {max_connections!r}."
            )
        self.client = client
        self.key_prefix = key_prefix
        #: The most connections each event loop's client opens.
        self.max_connections = max_connections
        # (asyncio.TimeoutError: not an OSError before Python 3.11.)
        self._errors: tuple[type[BaseException], ...] = (
            _redis.RedisError,
            OSError,
            asyncio.TimeoutError,
        )
        self._where = _describe(client)
        if async_client_factory is None:
            async_client_factory = _async_client_like(client, max_connections)
            if async_client_factory is None:
                self.has_async_io = False
                logger.info(
                    "The Redis session store has no async path: the settings of its"
                    " client can't be carried over to a redis.asyncio client. Pass"
                    " async_client_factory=... to give one; until then sessions are"
                    " loaded and saved in worker threads under ASGI."
                )
        self._async_client_factory = async_client_factory
        # The async clients by event loop, with the async generator that closes
        # each when its loop shuts down; the last one used, looked at first.
        self._loop_clients: dict[
            asyncio.AbstractEventLoop, tuple[redis.asyncio.Redis, t.AsyncGenerator[None, None]]
        ] = {}
        self._current: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis] | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        key_prefix: str = "kolben:session:",
        timeout: float = 2.0,
        max_connections: int = 32,
    ) -> RedisSessionStore:
        """A store on a new client for ``url`` (``redis://``, ``rediss://``,
        ``unix://``) whose connects and replies time out after ``timeout`` seconds,
        with one retry for a pooled connection the server closed while idle.

        The async methods' clients (one per event loop) are made from the same URL
        and settings, each with a pool of at most ``max_connections`` connections;
        a request waits up to ``timeout`` for a free one, then gets the 503.
        """
        try:
            import redis as _redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry
        except ImportError as e:  # pragma: no cover - redis is a dependency here
            raise RuntimeError(
                "SESSION_BACKEND = 'redis' needs the 'redis' package: pip install redis"
            ) from e
        client = _redis.Redis.from_url(
            url,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(_redis.ConnectionError,)),
        )
        return cls(
            client,
            key_prefix=key_prefix,
            async_client_factory=functools.partial(
                _async_client_from_url, url, timeout, max_connections
            ),
            max_connections=max_connections,
        )

    def _unavailable(self, action: str, error: BaseException) -> SessionUnavailable:
        message = (
            f"Could not {action} a session in Redis at {self._where}: {error}. Check that"
            " Redis is running and that SESSION_REDIS_URL points to it."
        )
        logger.error(message)
        return SessionUnavailable(message)

    def load(self, sid: str) -> bytes | None:
        try:
            rv = self.client.get(self.key_prefix + sid)
        except self._errors as e:
            raise self._unavailable("load", e) from e
        return t.cast("bytes | None", rv)

    def save(self, sid: str, data: bytes, ttl: int) -> None:
        self._set(sid, data, ttl, only_if_stored=False)

    def replace(self, sid: str, data: bytes, ttl: int) -> None:
        # SET ... XX: a record deleted meanwhile (a log-out) is not brought back.
        # (touch, by default replace, is the same command.)
        self._set(sid, data, ttl, only_if_stored=True)

    def _set(self, sid: str, data: bytes, ttl: int, *, only_if_stored: bool) -> None:
        try:
            self.client.set(self.key_prefix + sid, data, ex=ttl, xx=only_if_stored)
        except self._errors as e:
            raise self._unavailable("save", e) from e

    def delete(self, *sids: str) -> None:
        if not sids:
            return
        try:
            self.client.delete(*(self.key_prefix + sid for sid in sids))
        except self._errors as e:
            raise self._unavailable("delete", e) from e

    def touch(self, sid: str, data: bytes, ttl: int) -> None:
        # EXPIRE, not SET: a concurrent request's change to the record is kept
        # (and a record deleted meanwhile stays deleted).
        try:
            self.client.expire(self.key_prefix + sid, ttl)
        except self._errors as e:
            raise self._unavailable("save", e) from e

    def move(self, old: str, sid: str, data: bytes, ttl: int) -> None:
        try:
            prefix = self.key_prefix
            self.client.eval(_MOVE_SCRIPT, 2, prefix + old, prefix + sid, data, ttl)
        except self._errors as e:
            raise self._unavailable("save", e) from e

    def close(self) -> None:
        """Close the sync client's connections. The async clients' connections are
        closed with their event loops (or by :meth:`aclose` on each loop)."""
        self.client.close()

    # -- the async path: the same commands, keys, TTLs and errors, on the running
    # loop's client.

    async def _aclient(self) -> redis.asyncio.Redis:
        """The running loop's client (made on the loop's first use)."""
        client = self._loop_client()
        if client is None:
            client = await self._new_loop_client()
        return client

    async def aload(self, sid: str) -> bytes | None:
        try:
            client = await self._aclient()
            rv = await client.get(self.key_prefix + sid)
        except self._errors as e:
            raise self._unavailable("load", e) from e
        return t.cast("bytes | None", rv)

    async def asave(self, sid: str, data: bytes, ttl: int) -> None:
        await self._aset(sid, data, ttl, only_if_stored=False)

    async def areplace(self, sid: str, data: bytes, ttl: int) -> None:
        await self._aset(sid, data, ttl, only_if_stored=True)

    async def _aset(self, sid: str, data: bytes, ttl: int, *, only_if_stored: bool) -> None:
        try:
            client = await self._aclient()
            await client.set(self.key_prefix + sid, data, ex=ttl, xx=only_if_stored)
        except self._errors as e:
            raise self._unavailable("save", e) from e

    async def adelete(self, *sids: str) -> None:
        if not sids:
            return
        try:
            client = await self._aclient()
            await client.delete(*(self.key_prefix + sid for sid in sids))
        except self._errors as e:
            raise self._unavailable("delete", e) from e

    async def atouch(self, sid: str, data: bytes, ttl: int) -> None:
        try:
            client = await self._aclient()
            await client.expire(self.key_prefix + sid, ttl)
        except self._errors as e:
            raise self._unavailable("save", e) from e

    async def amove(self, old: str, sid: str, data: bytes, ttl: int) -> None:
        try:
            client = await self._aclient()
            prefix = self.key_prefix
            moved = client.eval(_MOVE_SCRIPT, 2, prefix + old, prefix + sid, data, ttl)
            await t.cast("t.Awaitable[int]", moved)
        except self._errors as e:
            raise self._unavailable("save", e) from e

    async def aclose(self) -> None:
        """Close the running event loop's client and its connections now (a later
        call on this loop makes a new one)."""
        entry = self._loop_clients.get(asyncio.get_running_loop())
        if entry is not None:
            await entry[1].aclose()

    def _loop_client(self) -> redis.asyncio.Redis | None:
        """The running loop's client, or None when it has none yet."""
        loop = asyncio.get_running_loop()
        # PERF: one identity test for the usual case (one loop per process).
        current = self._current
        if current is not None and current[0] is loop:
            return current[1]
        entry = self._loop_clients.get(loop)
        if entry is None:
            return None
        self._current = (loop, entry[0])
        return entry[0]

    async def _new_loop_client(self) -> redis.asyncio.Redis:
        """Make the running loop's client, to be closed when the loop shuts down."""
        factory = self._async_client_factory
        if factory is None:
            raise RuntimeError(
                "This RedisSessionStore has no async client (has_async_io is False):"
                " pass async_client_factory=... to use its async methods."
            )
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._loop_clients.get(loop)
            if entry is not None:
                return entry[0]
            # Bounded by the loops alive: a loop closed without shutting down its
            # async generators left its client here; nothing can close that
            # client's connections any more (they are closed when collected).
            for stale in [other for other in self._loop_clients if other.is_closed()]:
                del self._loop_clients[stale]
            client = factory()
            closer = self._close_with_loop(loop, client)
            self._loop_clients[loop] = (client, closer)
            self._current = (loop, client)
        # Started on the loop, the generator is one the loop finalizes:
        # loop.shutdown_asyncgens() (asyncio.run, uvicorn) closes it, which closes
        # the client while the loop can still run the closing.
        await closer.__anext__()
        return client

    async def _close_with_loop(
        self, loop: asyncio.AbstractEventLoop, client: redis.asyncio.Redis
    ) -> t.AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                entry = self._loop_clients.get(loop)
                if entry is not None and entry[0] is client:
                    del self._loop_clients[loop]
                current = self._current
                if current is not None and current[0] is loop:
                    self._current = None
            try:
                await client.aclose(close_connection_pool=True)
            except self._errors as e:  # the connections are gone either way
                logger.debug("Closing a Redis session client failed: %s", e)


def _async_client_from_url(url: str, timeout: float, max_connections: int) -> redis.asyncio.Redis:
    """A ``redis.asyncio`` client for ``url`` with the settings of
    :meth:`RedisSessionStore.from_url`'s sync client and a bounded pool."""
    import redis as _redis
    import redis.asyncio as _aredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = _aredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1, supported_errors=(_redis.ConnectionError,)),
    )
    return _aredis.Redis(connection_pool=pool)


# Connection options of a sync client that its async twin sets its own way.
_REPLACED_OPTIONS = frozenset({"retry", "parser_class", "redis_connect_func", "event_dispatcher"})


def _async_client_like(
    client: t.Any, max_connections: int
) -> t.Callable[[], redis.asyncio.Redis] | None:
    """A factory of ``redis.asyncio`` clients with ``client``'s connection settings
    and a bounded pool; None when a setting has no async equivalent here (silently
    dropping one, a TLS option say, would be wrong)."""
    import inspect

    import redis as _redis
    import redis.asyncio.connection as _aconnection
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    pool = getattr(client, "connection_pool", None)
    connection_class = getattr(pool, "connection_class", None)
    kwargs = getattr(pool, "connection_kwargs", None)
    if connection_class is None or not isinstance(kwargs, dict):
        return None
    name = connection_class.__name__
    if connection_class.__module__ != "redis.connection" or name not in (
        "Connection",
        "SSLConnection",
        "UnixDomainSocketConnection",
    ):
        return None
    async_class = getattr(_aconnection, name)
    accepted: set[str] = set()
    for klass in async_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            accepted.update(inspect.signature(init).parameters)
    options = {k: v for k, v in kwargs.items() if k not in _REPLACED_OPTIONS}
    if not set(options) <= accepted:
        return None
    timeout = options.get("socket_timeout") or 2.0
    options["retry"] = Retry(NoBackoff(), 1, supported_errors=(_redis.ConnectionError,))

    def make() -> redis.asyncio.Redis:
        async_pool = _aconnection.BlockingConnectionPool(
            connection_class=async_class,
            max_connections=max_connections,
            timeout=timeout,
            **options,
        )
        return _redis.asyncio.Redis(connection_pool=async_pool)

    return make


def _describe(client: t.Any) -> str:
    """``host:port/db`` of a redis client, without any password."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


# -- the session ----------------------------------------------------------------------


#: Values of a session key that can't be changed in place.
_SCALARS = (str, int, float, bool, type(None))


class ServerSideSession(SecureCookieSession):
    """A session whose data is kept by a :class:`SessionStore`.

    The same mapping API as the cookie session, plus :attr:`sid`, :meth:`regenerate`
    and a :meth:`clear` that deletes the stored record.
    """

    def __init__(
        self,
        initial: t.Mapping[str, t.Any] | None = None,
        sid: str | None = None,
    ) -> None:
        super().__init__(initial)
        #: The id the session is stored under; None until it is first saved (and
        #: again after :meth:`regenerate` or :meth:`clear`, until the next save).
        self.sid = sid
        #: True when the session was not loaded from the store.
        self.new = sid is None
        #: Ids whose records the next save deletes.
        self.discarded: list[str] = []
        #: The data as it was loaded (the save compares the keys that name the
        #: user with it: ``SESSION_REGENERATE_KEYS``).
        self.loaded: t.Mapping[str, t.Any] = initial if (sid is not None and initial) else {}
        #: The stored record as read (None for a new session): ``loaded`` shares
        #: its nested values with the session, so a value changed in place
        #: (``session["user"]["id"] = ...``) is compared with the record instead.
        self.loaded_record: bytes | None = None
        #: The stored id whose data regenerate() moved to a new id (None after clear()).
        self.moved_from: str | None = None

    def regenerate(self) -> None:
        """Move the session to a new id: the data is kept, the old record is deleted
        and the client gets the new id in its cookie when the response is saved.

        Call it when the user logs in (or their privileges change): an id someone
        planted in the browser beforehand (session fixation) then leads nowhere.
        """
        if self.sid is not None and self.moved_from is None and not self.new:
            self.moved_from = self.sid
        self._discard_id()
        self.modified = True
        self.accessed = True

    def clear(self) -> None:
        """Empty the session; its stored record is deleted when the response is
        saved, and data added afterwards is saved under a new id."""
        super().clear()
        self.moved_from = None  # what is stored from now on is not the old session's
        self._discard_id()

    def _discard_id(self) -> None:
        if self.sid is not None:
            self.discarded.append(self.sid)
            self.sid = None


class UnavailableSession(NullSession):
    """The session of a request whose store could not be reached, used when the
    request touches ``session`` again after the 503 (say, in an error page's
    template): it reads as empty, and any change raises :exc:`SessionUnavailable`
    again. It is never saved."""

    def _fail(self, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise SessionUnavailable(
            "The session store could not be reached earlier in this request, so the"
            " session cannot be changed."
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    del _fail


# -- the interface ------------------------------------------------------------------------


class _IdSigner(Signer):
    """itsdangerous's signer with its derived keys remembered.

    PERF: itsdangerous derives the signing key (an HMAC) on every sign and verify;
    the result only depends on the key, so each is computed once.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[str | bytes | None, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self._derived.get(secret_key)
        if key is None:
            # Bounded: called with None or one of self.secret_keys.
            key = self._derived[secret_key] = super().derive_key(secret_key)
        return key


class ServerSideSessionInterface(SessionInterface):
    """Sessions stored by a :class:`SessionStore`, with a signed id in the cookie.

    :param store: where records go. None (the default) builds one from the app's
        config on first use: ``SESSION_BACKEND`` ``"redis"`` (``SESSION_REDIS_URL``,
        ``SESSION_KEY_PREFIX``, ``SESSION_REDIS_TIMEOUT``) or ``"memory"``
        (``SESSION_MEMORY_MAX_ENTRIES``).

    Cookie name and flags come from the ``SESSION_COOKIE_*`` keys, as for cookie
    sessions; a permanent session's cookie expires ``PERMANENT_SESSION_LIFETIME``
    after it was last sent. Records expire ``PERMANENT_SESSION_LIFETIME`` after they
    were last saved; a permanent session is saved (and its cookie sent) again by
    every request that uses it while ``SESSION_REFRESH_EACH_REQUEST`` is on. Unlike
    cookie sessions, a request that never uses ``session`` does not refresh it, so
    static files and health checks never touch the store.
    """

    #: The class of the sessions this interface returns.
    session_class: type[ServerSideSession] = ServerSideSession
    #: The salt mixed into the key that signs session ids.
    salt = "kolben.server-session"
    #: The hash function of the id's HMAC signature (a hashlib name).
    digest_method = "sha256"
    #: Turns the session dict into text and back (tagged JSON, as cookie sessions).
    serializer: t.Any = _DEFAULT_SERIALIZER

    def __init__(self, store: SessionStore | None = None) -> None:
        #: The store given to the constructor, or None to build one from config.
        self.store = store
        # Bounded (kolben.caching): key rotations can't grow it.
        self._signers: Cache[tuple[t.Any, ...], _IdSigner] = Cache(
            16, "kolben.server_sessions: session id signers"
        )

    # -- helpers

    def get_store(self, app: Kolben) -> SessionStore:
        """The store for ``app``: the one given to the constructor, else the one built
        from the app's config (once, kept in ``app.extensions``)."""
        if self.store is not None:
            return self.store
        state = app.extensions.get(_EXTENSION_KEY)
        store = state.get("store") if state is not None else None
        if store is None:
            store = create_session_store(app)
            app.extensions.setdefault(_EXTENSION_KEY, {})["store"] = store
        return t.cast(SessionStore, store)

    def get_signer(self, app: Kolben) -> Signer | None:
        """The signer of session ids (``SECRET_KEY``, accepting
        ``SECRET_KEY_FALLBACKS``), or None without a secret key."""
        secret_key = app.secret_key  # as Flask reads it (also a class attribute)
        if not secret_key:
            return None
        fallbacks = app.config["SECRET_KEY_FALLBACKS"]
        cache_key = (secret_key, tuple(fallbacks) if fallbacks else (), self.salt)
        signer = self._signers.get(cache_key)
        if signer is None:
            # itsdangerous signs with the last key and accepts all of them.
            signer = self._signers.put(
                cache_key,
                _IdSigner(
                    [*cache_key[1], secret_key],
                    salt=self.salt,
                    key_derivation="hmac",
                    digest_method=self.digest_method,
                    algorithm=OneShotHMAC(self.digest_method),
                ),
            )
        return signer

    def get_record_ttl(self, app: Kolben) -> int:
        """How long a record is kept after it is saved, in seconds:
        ``PERMANENT_SESSION_LIFETIME`` (at least 1)."""
        return max(1, int(app.permanent_session_lifetime.total_seconds()))

    def _session_id(self, signer: Signer, value: str) -> str | None:
        """The id in a cookie value, or None when it is malformed or badly signed."""
        sid, sep, _ = value.partition(".")
        # PERF and hygiene: refuse a value of the wrong shape before any HMAC.
        if not sep or not _ID_RE.fullmatch(sid):
            return None
        try:
            sid_bytes = signer.unsign(value)
            # One spelling per signature: base64 decoding ignores the unused low
            # bits of the last character, so a changed last character can still
            # verify; only the canonical encoding is accepted.
            signature = value.rpartition(".")[2].encode("ascii")
            if base64_encode(base64_decode(signature)) != signature:
                return None
            return sid_bytes.decode("ascii")
        except (BadSignature, UnicodeError):
            return None

    # -- SessionInterface
    #
    # The sync and async methods share everything but the store calls: what the
    # cookie says (_open_start), what a record gives (_open_finish), what saving
    # means (_plan_save: a _SavePlan of store operations and the cookie) and the
    # cookie itself (_send_cookie).

    @property
    def has_async_io(self) -> bool:  # type: ignore[override]
        """True when the store's async methods don't block the event loop (the
        stores built from config, Redis and memory, never do); see
        :attr:`SessionInterface.has_async_io`."""
        store = self.store
        return store is None or store.has_async_io

    def has_session_cookie_to_refresh(self, app: Kolben, request: Request) -> bool:
        """False: a request that never used ``session`` leaves it alone (no store
        round trip for static files; see the class docstring)."""
        return False

    def open_session_needs_io(self, app: Kolben, request: Request) -> bool:
        """Whether the request carries a session cookie: only then does opening
        the session ask the store. (True for a cookie whose id turns out malformed
        or badly signed too: that is found without the store, when opening.)"""
        name = self.get_cookie_name(app)
        # PERF: a substring test before parsing the Cookie header.
        cookie_header = request.environ.get("HTTP_COOKIE") or ""
        return f"{name}=" in cookie_header and bool(request.cookies.get(name))

    def open_session(self, app: Kolben, request: Request) -> SessionMixin | None:
        """Load the session whose signed id the request's cookie carries.

        A new empty session when there is no cookie, or its id is malformed, badly
        signed, expired or unknown; None without a secret key (a null session is
        then used). Raises :exc:`SessionUnavailable` (a 503) when the store cannot
        be reached; a later use of ``session`` in the same request then gets an
        :class:`UnavailableSession`.
        """
        sid = self._open_start(app, request)
        if not isinstance(sid, str):
            return sid
        try:
            raw = self.get_store(app).load(sid)
        except HTTPException:
            request.environ[_UNAVAILABLE_KEY] = True
            raise
        return self._open_finish(sid, raw)

    async def open_session_async(self, app: Kolben, request: Request) -> SessionMixin | None:
        """:meth:`open_session` on the event loop: the same session, the record
        loaded with the store's :meth:`~SessionStore.aload`."""
        sid = self._open_start(app, request)
        if not isinstance(sid, str):
            return sid
        try:
            raw = await self.get_store(app).aload(sid)
        except HTTPException:
            request.environ[_UNAVAILABLE_KEY] = True
            raise
        return self._open_finish(sid, raw)

    def save_session(self, app: Kolben, session: SessionMixin, response: Response) -> None:
        """Store the session and send its cookie as needed.

        Deletes the records of ids given up by :meth:`ServerSideSession.regenerate`
        or ``clear()``; an emptied session deletes its record and the cookie. A
        changed session is written; a new id (or, with
        ``SESSION_REFRESH_EACH_REQUEST``, a permanent session) sends the cookie.
        ``Vary: Cookie`` is added whenever the session was used or the cookie is
        sent. When the store cannot be reached the response becomes the app's 503
        response.
        """
        accessed = session.accessed
        if accessed:
            _vary_cookie(response)
        if not isinstance(session, ServerSideSession):
            return  # a plain mapping assigned to ctx.session: nothing to store
        try:
            plan = self._plan_save(app, session)
            if plan is None:
                return
            plan.run(self.get_store(app))
        except SessionUnavailable as e:
            _replace_with_error(app, response, e)
            return
        self._send_cookie(app, session, response, plan.cookie, accessed)

    async def save_session_async(
        self, app: Kolben, session: SessionMixin, response: Response
    ) -> None:
        """:meth:`save_session` on the event loop: the same records (written with
        the store's async methods), cookie and headers. When the store cannot be
        reached it raises :exc:`SessionUnavailable` and leaves ``response`` alone;
        the app then turns the response into its 503 response (see
        :meth:`SessionInterface.save_session_async`)."""
        accessed = session.accessed
        if accessed:
            _vary_cookie(response)
        if not isinstance(session, ServerSideSession):
            return
        plan = self._plan_save(app, session)
        if plan is None:
            return
        await plan.arun(self.get_store(app))
        self._send_cookie(app, session, response, plan.cookie, accessed)

    # -- what both paths share

    def _open_start(self, app: Kolben, request: Request) -> SessionMixin | str | None:
        """What opening the session comes to without the store: the id whose record
        to load, else the session itself (None without a secret key)."""
        signer = self.get_signer(app)
        if signer is None:
            return None
        if _UNAVAILABLE_KEY in request.environ:
            return UnavailableSession()
        self.get_store(app)  # a misconfigured store fails on first use, cookie or not
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        sid = self._session_id(signer, value)
        if sid is None:
            return self.session_class()
        return sid

    def _open_finish(self, sid: str, raw: bytes | None) -> SessionMixin:
        """The session of ``sid`` from its record ``raw`` (None: not stored); an
        unreadable record gives a new, empty session."""
        if raw is None:
            return self.session_class()
        try:
            data = self.serializer.loads(raw.decode("utf-8"))
        except Exception:  # a record we can't read is an empty session
            logger.warning("Ignoring an unreadable session record (id %s...).", sid[:8])
            return self.session_class()
        if not isinstance(data, dict):
            return self.session_class()
        session = self.session_class(data, sid=sid)
        session.loaded_record = raw
        return session

    def _plan_save(self, app: Kolben, session: ServerSideSession) -> _SavePlan | None:
        """What saving ``session`` means: the records to delete, the record to
        write and the cookie to send; None when there is nothing to do.

        Does no I/O; it updates the session's id bookkeeping (a new id, the
        discarded ids handed to the plan).
        """
        delete = session.discarded[:]
        session.discarded.clear()
        if not session:
            if not session.modified:
                return _SavePlan(delete) if delete else None
            if session.sid is not None:
                delete.append(session.sid)
                session.sid = None
            return _SavePlan(delete, cookie=_DELETE_COOKIE)
        if session.sid is not None and session.modified and self._identity_changed(app, session):
            # A log-in (or a change of user) in a session loaded from the store:
            # a new id, as regenerate() gives, against session fixation.
            session.regenerate()
            delete.extend(session.discarded)
            session.discarded.clear()
        new_id = session.sid is None
        set_cookie = new_id or self.should_set_cookie(app, session)
        if not (set_cookie or session.modified):
            return _SavePlan(delete) if delete else None
        sid = session.sid
        if sid is None:
            sid = session.sid = new_session_id()
        move_from = session.moved_from
        session.moved_from = None
        if move_from is not None and move_from in delete:
            delete.remove(move_from)  # deleted by the move, which writes only if it was there
        cookie = None
        if set_cookie:
            signer = self.get_signer(app)
            if signer is not None:  # else the secret key was removed during the request
                cookie = signer.sign(sid).decode("ascii")
        return _SavePlan(
            delete,
            sid=sid,
            data=self.serializer.dumps(dict(session)).encode("utf-8"),
            ttl=self.get_record_ttl(app),
            touch=not (session.modified or new_id),
            stored=not new_id,
            cookie=cookie,
            move_from=move_from,
        )

    def _identity_changed(self, app: Kolben, session: ServerSideSession) -> bool:
        """Whether a key of ``SESSION_REGENERATE_KEYS`` (the user's id) changed
        since the session was loaded."""
        keys = app.config.get("SESSION_REGENERATE_KEYS") or ()
        if isinstance(keys, str):
            keys = (keys,)
        loaded = session.loaded
        raw = getattr(session, "loaded_record", None)
        if raw is not None and any(
            not isinstance(session.get(key), _SCALARS) for key in keys
        ):
            # A value that can be changed in place (a dict, a list) may have been:
            # compare with the record decoded again (only then: a save is about to
            # write anyway).
            loaded = self.serializer.loads(raw.decode("utf-8"))
        return any(session.get(key, _ABSENT) != loaded.get(key, _ABSENT) for key in keys)

    def _send_cookie(
        self,
        app: Kolben,
        session: ServerSideSession,
        response: Response,
        cookie: str | None,
        accessed: bool,
    ) -> None:
        """Set the cookie to ``cookie``, or delete it (``_DELETE_COOKIE``), or leave
        it (None); a changed cookie makes the response vary by it."""
        if cookie is None:
            return
        if cookie is _DELETE_COOKIE:
            self._delete_cookie(app, response)
        else:
            self._set_cookie(app, session, response, cookie)
        if not accessed:
            _vary_cookie(response)

    def _delete_cookie(self, app: Kolben, response: Response) -> None:
        response.delete_cookie(
            self.get_cookie_name(app),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app),
            httponly=self.get_cookie_httponly(app),
        )

    def _set_cookie(
        self, app: Kolben, session: ServerSideSession, response: Response, value: str
    ) -> None:
        set_session_cookie(
            response,
            self.get_cookie_name(app),
            value,
            expires=self.get_expiration_time(app, session),
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            secure=self.get_cookie_secure(app),
            httponly=self.get_cookie_httponly(app),
            samesite=self.get_cookie_samesite(app),
            partitioned=self.get_cookie_partitioned(app),
        )


# A key missing from a session (compared by _identity_changed).
_ABSENT = object()

# The cookie value of a _SavePlan that deletes the cookie.
_DELETE_COOKIE = "\x00delete"


class _SavePlan:
    """The store operations of saving a session, for either path, and the cookie
    to send once they succeeded: records to delete first, then the record to write
    (or to keep, ``touch``)."""

    __slots__ = ("cookie", "data", "delete", "move_from", "sid", "stored", "touch", "ttl")

    def __init__(
        self,
        delete: list[str],
        *,
        sid: str | None = None,
        data: bytes = b"",
        ttl: int = 0,
        touch: bool = False,
        stored: bool = False,
        cookie: str | None = None,
        move_from: str | None = None,
    ) -> None:
        self.move_from = move_from
        self.delete = delete
        self.sid = sid
        self.data = data
        self.ttl = ttl
        self.touch = touch
        #: The record was loaded by this request: written back only if it is
        #: still stored (:meth:`SessionStore.replace`), else made.
        self.stored = stored
        #: The signed id to set, ``_DELETE_COOKIE``, or None to leave the cookie.
        self.cookie = cookie

    def run(self, store: SessionStore) -> None:
        if self.delete:
            store.delete(*self.delete)
        if self.sid is not None:
            if self.move_from is not None:
                store.move(self.move_from, self.sid, self.data, self.ttl)
            elif self.touch:
                store.touch(self.sid, self.data, self.ttl)
            elif self.stored:
                store.replace(self.sid, self.data, self.ttl)
            else:
                store.save(self.sid, self.data, self.ttl)

    async def arun(self, store: SessionStore) -> None:
        if self.delete:
            await store.adelete(*self.delete)
        if self.sid is not None:
            if self.move_from is not None:
                await store.amove(self.move_from, self.sid, self.data, self.ttl)
            elif self.touch:
                await store.atouch(self.sid, self.data, self.ttl)
            elif self.stored:
                await store.areplace(self.sid, self.data, self.ttl)
            else:
                await store.asave(self.sid, self.data, self.ttl)


def _replace_with_error(app: Kolben, response: Response, error: HTTPException) -> None:
    """Turn ``response``, already through the after-request hooks, into the app's
    response for ``error``, in place (see :func:`replace_with_error_response`)."""
    from .pipeline import run_steps

    run_steps(app, replace_with_error_response(app, response, error))


# -- selection by config -------------------------------------------------------------------


def create_session_store(app: Kolben) -> SessionStore:
    """The store ``SESSION_BACKEND`` names, built from the app's config.

    ``"redis"``: :class:`RedisSessionStore` on ``SESSION_REDIS_URL`` with
    ``SESSION_KEY_PREFIX``, ``SESSION_REDIS_TIMEOUT`` and
    ``SESSION_REDIS_MAX_CONNECTIONS`` (per event loop, 32 by default); ``"memory"``:
    :class:`MemorySessionStore` bounded by ``SESSION_MEMORY_MAX_ENTRIES``.
    """
    config = app.config
    backend = config.get("SESSION_BACKEND") or "cookie"
    if backend == "memory":
        return MemorySessionStore(int(config.get("SESSION_MEMORY_MAX_ENTRIES", 10_000)))
    if backend == "redis":
        url = config.get("SESSION_REDIS_URL")
        if not url:
            raise RuntimeError(
                "SESSION_BACKEND is 'redis' but SESSION_REDIS_URL is not set. Set it to"
                " the Redis server's URL, for example 'redis://127.0.0.1:6379/0'."
            )
        return RedisSessionStore.from_url(
            str(url),
            key_prefix=str(config.get("SESSION_KEY_PREFIX", "kolben:session:")),
            timeout=float(config.get("SESSION_REDIS_TIMEOUT", 2.0)),
            max_connections=int(config.get("SESSION_REDIS_MAX_CONNECTIONS", 32)),
        )
    raise ValueError(
        f"SESSION_BACKEND is {backend!r}, which names no session store here: use"
        " 'redis' or 'memory' for server-side sessions ('cookie' for signed cookies)."
    )


def create_session_interface(app: Kolben) -> SessionInterface | None:
    """The interface ``SESSION_BACKEND`` asks for, or None for ``"cookie"`` (the
    default): a :class:`ServerSideSessionInterface` for ``"redis"`` or ``"memory"``.
    Raises ValueError for any other value."""
    backend = app.config.get("SESSION_BACKEND") or "cookie"
    if backend == "cookie":
        return None
    if backend not in BACKENDS:
        raise ValueError(
            f"SESSION_BACKEND is {backend!r}; it must be one of {', '.join(map(repr, BACKENDS))}."
        )
    return ServerSideSessionInterface()


class SessionInterfaceSelector:
    """The ``session_interface`` attribute of :class:`~kolben.Kolben`: picks the
    interface from ``SESSION_BACKEND`` when nothing was assigned.

    On the class it is the default :class:`SecureCookieSessionInterface` instance,
    as in Flask. On an app it is, in order: an interface assigned to the app
    (``app.session_interface = ...``) or set on a subclass; else the one
    ``SESSION_BACKEND`` names (built once per app). The choice is fixed when the app
    handles its first request.
    """

    def __init__(self, default: SessionInterface) -> None:
        #: The interface of ``SESSION_BACKEND = "cookie"`` (shared by every app).
        self.default = default
        self.name = "session_interface"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @t.overload
    def __get__(self, app: None, owner: type | None = None) -> SessionInterface: ...

    @t.overload
    def __get__(self, app: Kolben, owner: type | None = None) -> SessionInterface: ...

    def __get__(self, app: Kolben | None, owner: type | None = None) -> SessionInterface:
        if app is None:
            return self.default
        backend = app.config.get("SESSION_BACKEND") or "cookie"
        rv: SessionInterface | None
        if backend == "cookie":
            rv = self.default
        else:
            state = app.extensions.setdefault(_EXTENSION_KEY, {})
            rv = state.get(("interface", backend))
            if rv is None:
                rv = state[("interface", backend)] = create_session_interface(app)
            rv = t.cast(SessionInterface, rv)
        if app._got_first_request:
            # PERF: later lookups find the choice in the instance dict (this is a
            # non-data descriptor): a plain attribute read on the hot path.
            app.__dict__[self.name] = rv
        return rv
