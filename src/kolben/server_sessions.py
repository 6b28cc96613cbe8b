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
import logging
import re
import secrets
import threading
import time
import typing as t
from collections import OrderedDict

from itsdangerous import BadSignature, Signer
from itsdangerous.encoding import base64_decode, base64_encode
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from .sessions import (
    _DEFAULT_SERIALIZER,
    NullSession,
    SecureCookieSession,
    SessionInterface,
    SessionMixin,
    _OneShotHMAC,
    _vary_cookie,
    set_session_cookie,
)

if t.TYPE_CHECKING:
    import redis

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

    Implement :meth:`load`, :meth:`save` and :meth:`delete` (and :meth:`touch` if
    the store can extend a record's life without rewriting it). Raise
    :exc:`SessionUnavailable` when the store cannot be reached; return None from
    :meth:`load` for an id it does not hold (or holds expired).
    """

    @abc.abstractmethod
    def load(self, sid: str) -> bytes | None:
        """The record stored under ``sid``, or None."""

    @abc.abstractmethod
    def save(self, sid: str, data: bytes, ttl: int) -> None:
        """Store ``data`` under ``sid`` for ``ttl`` seconds (replacing any record)."""

    @abc.abstractmethod
    def delete(self, *sids: str) -> None:
        """Delete the records of ``sids`` (unknown ids are ignored)."""

    def touch(self, sid: str, data: bytes, ttl: int) -> None:
        """Keep the unchanged record ``data`` of ``sid`` for ``ttl`` more seconds."""
        self.save(sid, data, ttl)

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections; the default does nothing."""


class MemorySessionStore(SessionStore):
    """Session records in this process's memory: the development default.

    Bounded: it holds at most ``max_entries`` records and, when full, drops the one
    used least recently (that client starts a new session; a warning is logged the
    first time). Expired records are dropped when read. Each worker process has its
    own store, so use Redis once you run more than one process.
    """

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

    def delete(self, *sids: str) -> None:
        with self._lock:
            for sid in sids:
                self._records.pop(sid, None)


class RedisSessionStore(SessionStore):
    """Session records in Redis: ``SET key data EX ttl`` under ``key_prefix + id``.

    Shared by every worker process and machine using the same Redis. Any Redis
    error (unreachable, timed out, refused) raises :exc:`SessionUnavailable`.

    :param client: a ``redis.Redis`` client (bytes replies, the default).
    :param key_prefix: put before each session id to make its key.
    """

    def __init__(self, client: redis.Redis, key_prefix: str = "kolben:session:") -> None:
        import redis as _redis

        self.client = client
        self.key_prefix = key_prefix
        self._errors: tuple[type[BaseException], ...] = (_redis.RedisError, OSError)
        self._where = _describe(client)

    @classmethod
    def from_url(
        cls, url: str, *, key_prefix: str = "kolben:session:", timeout: float = 2.0
    ) -> RedisSessionStore:
        """A store on a new client for ``url`` (``redis://``, ``rediss://``,
        ``unix://``) whose connects and replies time out after ``timeout`` seconds,
        with one retry for a pooled connection the server closed while idle."""
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
        return cls(client, key_prefix=key_prefix)

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
        try:
            self.client.set(self.key_prefix + sid, data, ex=ttl)
        except self._errors as e:
            raise self._unavailable("save", e) from e

    def touch(self, sid: str, data: bytes, ttl: int) -> None:
        # SET rather than EXPIRE: also brings back a record that expired meanwhile.
        self.save(sid, data, ttl)

    def delete(self, *sids: str) -> None:
        if not sids:
            return
        try:
            self.client.delete(*(self.key_prefix + sid for sid in sids))
        except self._errors as e:
            raise self._unavailable("delete", e) from e

    def close(self) -> None:
        self.client.close()


def _describe(client: t.Any) -> str:
    """``host:port/db`` of a redis client, without any password."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


# -- the session ----------------------------------------------------------------------


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

    def regenerate(self) -> None:
        """Move the session to a new id: the data is kept, the old record is deleted
        and the client gets the new id in its cookie when the response is saved.

        Call it when the user logs in (or their privileges change): an id someone
        planted in the browser beforehand (session fixation) then leads nowhere.
        """
        self._discard_id()
        self.modified = True
        self.accessed = True

    def clear(self) -> None:
        """Empty the session; its stored record is deleted when the response is
        saved, and data added afterwards is saved under a new id."""
        super().clear()
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
        self._signers: dict[tuple[t.Any, ...], _IdSigner] = {}

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
        secret_key = app.config["SECRET_KEY"]
        if not secret_key:
            return None
        fallbacks = app.config["SECRET_KEY_FALLBACKS"]
        cache_key = (secret_key, tuple(fallbacks) if fallbacks else (), self.salt)
        signer = self._signers.get(cache_key)
        if signer is None:
            if len(self._signers) >= 16:  # bounded: key rotations can't grow it
                self._signers.clear()
            # itsdangerous signs with the last key and accepts all of them.
            signer = self._signers[cache_key] = _IdSigner(
                [*cache_key[1], secret_key],
                salt=self.salt,
                key_derivation="hmac",
                digest_method=self.digest_method,
                algorithm=_OneShotHMAC(self.digest_method),
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

    def has_session_cookie_to_refresh(self, app: Kolben, request: Request) -> bool:
        """False: a request that never used ``session`` leaves it alone (no store
        round trip for static files; see the class docstring)."""
        return False

    def open_session(self, app: Kolben, request: Request) -> SessionMixin | None:
        """Load the session whose signed id the request's cookie carries.

        A new empty session when there is no cookie, or its id is malformed, badly
        signed, expired or unknown; None without a secret key (a null session is
        then used). Raises :exc:`SessionUnavailable` (a 503) when the store cannot
        be reached; a later use of ``session`` in the same request then gets an
        :class:`UnavailableSession`.
        """
        signer = self.get_signer(app)
        if signer is None:
            return None
        environ = request.environ
        if _UNAVAILABLE_KEY in environ:
            return UnavailableSession()
        store = self.get_store(app)
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        sid = self._session_id(signer, value)
        if sid is None:
            return self.session_class()
        try:
            raw = store.load(sid)
        except HTTPException:
            environ[_UNAVAILABLE_KEY] = True
            raise
        if raw is None:
            return self.session_class()
        try:
            data = self.serializer.loads(raw.decode("utf-8"))
        except Exception:  # a record we can't read is an empty session
            logger.warning("Ignoring an unreadable session record (id %s...).", sid[:8])
            return self.session_class()
        if not isinstance(data, dict):
            return self.session_class()
        return self.session_class(data, sid=sid)

    def save_session(self, app: Kolben, session: SessionMixin, response: Response) -> None:
        """Store the session and send its cookie as needed.

        Deletes the records of ids given up by :meth:`ServerSideSession.regenerate`
        or ``clear()``; an emptied session deletes its record and the cookie. A
        changed session is written; a new id (or, with
        ``SESSION_REFRESH_EACH_REQUEST``, a permanent session) sends the cookie.
        ``Vary: Cookie`` is added whenever the session was used. When the store
        cannot be reached the response becomes the app's 503 response.
        """
        accessed = session.accessed
        if accessed:
            _vary_cookie(response)
        if not isinstance(session, ServerSideSession):
            return  # a plain mapping assigned to ctx.session: nothing to store
        try:
            self._store_session(app, session, response)
        except SessionUnavailable as e:
            _replace_with_error(app, response, e)

    def _store_session(self, app: Kolben, session: ServerSideSession, response: Response) -> None:
        store = self.get_store(app)
        if session.discarded:
            store.delete(*session.discarded)
            session.discarded.clear()
        if not session:
            if session.modified:
                if session.sid is not None:
                    store.delete(session.sid)
                    session.sid = None
                self._delete_cookie(app, response)
                if not session.accessed:
                    _vary_cookie(response)
            return
        new_id = session.sid is None
        set_cookie = new_id or self.should_set_cookie(app, session)
        if not (set_cookie or session.modified):
            return
        sid = session.sid
        if sid is None:
            sid = session.sid = new_session_id()
        data = self.serializer.dumps(dict(session)).encode("utf-8")
        ttl = self.get_record_ttl(app)
        if session.modified or new_id:
            store.save(sid, data, ttl)
        else:
            store.touch(sid, data, ttl)
        if set_cookie:
            signer = self.get_signer(app)
            if signer is None:  # the secret key was removed during the request
                return
            self._set_cookie(app, session, response, signer.sign(sid).decode("ascii"))
            if not session.accessed:
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


def _replace_with_error(app: Kolben, response: Response, error: HTTPException) -> None:
    """Turn ``response``, already through the after-request hooks, into the app's
    response for ``error`` (its error handler's, else the plain one), in place: the
    client must learn that the session change was not kept."""
    try:
        rv = app.handle_http_exception(error)
        error_response = app.make_response(rv)
    except Exception:  # a failing handler must not hide the 503
        logger.exception("The error handler for a session store failure failed")
        error_response = t.cast("Response", app.response_class.force_type(error.get_response()))
    body = response.response
    close = getattr(body, "close", None)
    if close is not None and not isinstance(body, (list, tuple)):
        close()  # a streamed body that will never be sent
    response.status = error_response.status
    response.headers = Headers(error_response.headers)
    response.response = error_response.response
    response.direct_passthrough = False


# -- selection by config -------------------------------------------------------------------


def create_session_store(app: Kolben) -> SessionStore:
    """The store ``SESSION_BACKEND`` names, built from the app's config.

    ``"redis"``: :class:`RedisSessionStore` on ``SESSION_REDIS_URL`` with
    ``SESSION_KEY_PREFIX`` and ``SESSION_REDIS_TIMEOUT``; ``"memory"``:
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
