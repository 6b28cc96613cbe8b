"""Sessions: data kept for one client across requests.

The default, :class:`SecureCookieSessionInterface`, stores the whole session in a
cookie signed with ``SECRET_KEY`` (itsdangerous): the client can read it but cannot
change it. The cookie format is Flask 3.1's, so apps sharing a secret key share
sessions. Replace :attr:`Kolben.session_interface <kolben.Kolben.session_interface>`
with your own :class:`SessionInterface` subclass to store sessions elsewhere.

The session is opened on first use of ``session`` in a request, not before: a
request that never touches it never parses or verifies the cookie.
"""

from __future__ import annotations

import logging
import typing as t
from collections.abc import MutableMapping
from datetime import datetime, timezone

from itsdangerous import BadData, URLSafeTimedSerializer
from werkzeug.datastructures import CallbackDict, Headers
from werkzeug.wrappers import Response as _WerkzeugResponse

from ._itsdangerous_fast import SessionSerializer, lazy_sha1, session_serializer
from ._werkzeug_fast import add_vary_cookie as _vary_cookie
from ._werkzeug_fast import session_cookie_header as _cookie_header
from .caching import (
    REQUEST_DATA_CACHES,
    Cache,
    WeakKeyCache,
    app_cache,
    request_data_cache,
    request_data_caching,
)
from .json.tag import TaggedJSONSerializer

if t.TYPE_CHECKING:
    from werkzeug.exceptions import HTTPException

    from .app import Kolben
    from .pipeline import Steps
    from .wrappers import Request, Response

logger = logging.getLogger("kolben.sessions")


_DEFAULT_SERIALIZER = TaggedJSONSerializer()


class SessionMixin(MutableMapping[str, t.Any]):
    """The attributes every session object has, on top of being a mutable mapping.

    Custom session classes mix this in. The default ``modified = True`` makes a
    session class that doesn't track changes be saved on every response.
    """

    @property
    def permanent(self) -> bool:
        """Whether the session outlives the browser session.

        A permanent session's cookie expires ``PERMANENT_SESSION_LIFETIME`` after
        the response that set it; otherwise the cookie has no expiry and the browser
        drops it when it closes. Stored in the session under the ``_permanent`` key.
        """
        return bool(self.get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)

    #: True if the session was just created rather than loaded from the client.
    #: The cookie session leaves this False.
    new = False

    #: True if the session was changed and must be saved. A session class that
    #: tracks changes sets it on mutation; changes inside nested mutable values
    #: (``session["cart"].append(x)``) are not seen, so set it to True yourself.
    modified = True

    #: True if the session was used during the request. The response then gets
    #: ``Vary: Cookie``, so caches keep one copy per session. As in Flask 3.1.3,
    #: the request context sets it on every access through ``session`` (even
    #: ``in`` or ``len``), so a session class need not track it.
    accessed = False


class SecureCookieSession(CallbackDict[str, t.Any], SessionMixin):
    """The session of :class:`SecureCookieSessionInterface`: a dict that records
    whether it was modified (any mutation).

    :attr:`accessed` is not set by the object itself: as in Flask 3.1.3, the
    request context sets it on each use of ``session``. So an interface's own
    code reading the session (in ``open_session`` or ``save_session``), or a test
    using it in ``session_transaction``, does not make a response vary by the
    cookie.
    """

    #: Set when the session is changed (setting, deleting, ``update``, ``pop`` ...).
    modified = False

    def __init__(
        self,
        initial: t.Mapping[str, t.Any] | t.Iterable[tuple[str, t.Any]] | None = None,
    ) -> None:
        def on_update(self: SecureCookieSession) -> None:
            self.modified = True

        super().__init__(initial, on_update)


class NullSession(SecureCookieSession):
    """The session used when no real one can be made (no ``SECRET_KEY`` is set).

    Reading works and finds nothing; any change raises :exc:`RuntimeError` that
    explains how to set the key.
    """

    def _fail(self, *args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise RuntimeError(
            "The session is unavailable because no secret key was set.  Set the"
            " secret_key on the application to something unique and secret. (Set"
            " 'app.secret_key' or the 'SECRET_KEY' config value to a long, random"
            " string, for example from 'python -c \"import secrets;"
            " print(secrets.token_hex())\"'.)"
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    del _fail


# The sync methods of a session interface and their async counterparts.
_INTERFACE_ASYNC_PAIRS = (
    ("open_session", "open_session_async"),
    ("save_session", "save_session_async"),
)


#: Per session-interface class: whether the request context opens its session
#: when it is pushed (see opens_at_push).
_opens_at_push: WeakKeyCache[bool] = WeakKeyCache(256, "session interfaces opened at push")


def opens_at_push(interface: object) -> bool:
    """Whether a request opens the session of ``interface`` when its context is
    pushed and saves it with every response, as Flask does for every interface.

    True for an interface whose ``open_session`` or ``save_session`` is the app's
    or an extension's own code (Flask-Session's, a subclass overriding either):
    that code runs on every request, as it expects (an interface may set a cookie
    of its own on each response, or refresh a session its cookie does not carry).
    False for kolben's own interfaces (the signed cookie, the server-side stores):
    PERF: they open the session on its first use, so a request that never touches
    ``session`` neither reads nor verifies it. Decided once per class.
    """
    cls = type(interface)
    known: bool | None = _opens_at_push.get(id(cls))
    if known is None:
        own_code = not all(
            getattr(getattr(cls, name, None), "__module__", "").startswith("kolben.")
            for name in ("open_session", "save_session")
        )
        known = _opens_at_push.put_for(cls, own_code)
    return known


def _check_async_overrides(cls: type, base: type, pairs: tuple[tuple[str, str], ...]) -> None:
    """Set ``cls.has_async_io = False`` when ``cls`` overrides a sync method of
    ``pairs`` without its async counterpart in the same class (the async path would
    skip the override), unless that class sets ``has_async_io`` itself.

    Mixins listed before ``cls``'s first base derived from ``base`` count as part of
    ``cls``; that base was checked when it was defined. Runs once per class.
    """
    for klass in cls.__mro__:
        if klass is not cls and issubclass(klass, base):
            return
        own = vars(klass)
        if "has_async_io" in own:
            return
        for sync_name, async_name in pairs:
            if sync_name in own and async_name not in own:
                cls.has_async_io = False  # type: ignore[attr-defined]
                return


class SessionInterface:
    """The interface the app uses to load and save sessions.

    Subclass it and set an instance as ``app.session_interface`` to store sessions
    somewhere else. Implement :meth:`open_session` and :meth:`save_session`; the
    ``get_cookie_*`` methods read the ``SESSION_COOKIE_*`` config keys for you.

    :meth:`open_session` returns the session for a request, or ``None`` when one
    can't be made (the app then uses :meth:`make_null_session`). The app calls
    :meth:`save_session` for every response of a request whose session was opened,
    unless :meth:`is_null_session` says the session is a null session.

    **The async path (optional).** An interface whose storage has an asyncio
    client can also implement :meth:`open_session_async` and
    :meth:`save_session_async` and set :attr:`has_async_io` to True. Under ASGI
    the app then awaits them on the server's event loop instead of running
    :meth:`open_session` and :meth:`save_session` in a worker thread, so a request
    whose user code is all ``async def`` crosses no thread.
    """

    #: The class :meth:`make_null_session` instantiates.
    null_session_class: type[SessionMixin] = NullSession

    #: Set to True when the session data is pickled, to let other code know that
    #: it must be picklable. The cookie session uses JSON and leaves it False.
    pickle_based = False

    #: Whether :meth:`open_session_async` and :meth:`save_session_async` do what
    #: :meth:`open_session` and :meth:`save_session` do, without blocking the event
    #: loop (their I/O is awaited, or they do none). False here: the async methods
    #: are not provided and the app never calls them.
    #:
    #: The app reads it once per request, so it may be a (cheap) property. A
    #: subclass that overrides :meth:`open_session` or :meth:`save_session`
    #: without overriding the matching async method in the same class gets False
    #: (the async path would skip its override), unless it sets
    #: ``has_async_io`` itself.
    has_async_io: bool = False

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_async_overrides(cls, SessionInterface, _INTERFACE_ASYNC_PAIRS)

    def open_session_needs_io(self, app: Kolben, request: Request) -> bool:
        """Whether :meth:`open_session` may wait on I/O for ``request``.

        Asked under ASGI, for an interface with :attr:`has_async_io`, before the
        request's ``async def`` code runs on the event loop: when True the app
        awaits :meth:`open_session_async` first (code on the loop can't wait for a
        blocking :meth:`open_session`, and ``session`` is opened on first use);
        when False a first use of ``session`` on the loop calls
        :meth:`open_session` there. True by default; override it to say when
        opening is free (no session cookie, say), so such requests pay nothing.
        """
        return True

    async def open_session_async(self, app: Kolben, request: Request) -> SessionMixin | None:
        """:meth:`open_session` for the event loop: the same result, its I/O
        awaited. An exception it raises is raised by the app at the first use of
        ``session`` in the request, where :meth:`open_session` would raise it.

        Only called when :attr:`has_async_io` is True; not provided here.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no async path: has_async_io is False, so call"
            " open_session() (in a worker thread under ASGI) instead."
        )

    async def save_session_async(
        self, app: Kolben, session: SessionMixin, response: Response
    ) -> None:
        """:meth:`save_session` for the event loop: the same stored data, cookie
        and headers, its I/O awaited.

        One difference: when the session cannot be saved and the response must
        become an error response (a :exc:`~kolben.server_sessions.SessionUnavailable`
        503), it raises that :exc:`~werkzeug.exceptions.HTTPException` and leaves
        ``response`` alone, where :meth:`save_session` builds the error response
        itself. The app's error handler for it is user code, which the app runs as
        a pipeline step (:func:`replace_with_error_response`), not on the loop.

        Only called when :attr:`has_async_io` is True; not provided here.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no async path: has_async_io is False, so call"
            " save_session() (in a worker thread under ASGI) instead."
        )

    def make_null_session(self, app: Kolben) -> SessionMixin:
        """Return the session to use when :meth:`open_session` returned ``None``.

        It supports reads but fails on writes, with an error explaining the cause.
        """
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """Return whether ``obj`` is a null session (not to be saved)."""
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: Kolben) -> str:
        """The session cookie's name: ``SESSION_COOKIE_NAME``."""
        return t.cast(str, app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: Kolben) -> str | None:
        """The cookie's ``Domain``: ``SESSION_COOKIE_DOMAIN``, or None (the cookie is
        then sent only to the exact host that set it)."""
        rv = app.config["SESSION_COOKIE_DOMAIN"]
        return rv if rv else None

    def get_cookie_path(self, app: Kolben) -> str:
        """The cookie's ``Path``: ``SESSION_COOKIE_PATH``, else ``APPLICATION_ROOT``."""
        return t.cast(str, app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"])

    def get_cookie_httponly(self, app: Kolben) -> bool:
        """Whether the cookie is ``HttpOnly``: ``SESSION_COOKIE_HTTPONLY``."""
        return bool(app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: Kolben) -> bool:
        """Whether the cookie is ``Secure``: ``SESSION_COOKIE_SECURE``."""
        return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: Kolben) -> str | None:
        """The cookie's ``SameSite``: ``SESSION_COOKIE_SAMESITE``."""
        return t.cast("str | None", app.config["SESSION_COOKIE_SAMESITE"])

    def get_cookie_partitioned(self, app: Kolben) -> bool:
        """Whether the cookie is ``Partitioned`` (CHIPS): ``SESSION_COOKIE_PARTITIONED``."""
        return bool(app.config["SESSION_COOKIE_PARTITIONED"])

    def get_expiration_time(self, app: Kolben, session: SessionMixin) -> datetime | None:
        """When the cookie expires: now + ``PERMANENT_SESSION_LIFETIME`` for a
        permanent session, None (end of the browser session) otherwise."""
        if session.permanent:
            return datetime.now(timezone.utc) + app.permanent_session_lifetime
        return None

    def should_set_cookie(self, app: Kolben, session: SessionMixin) -> bool:
        """Whether :meth:`save_session` should send the cookie this time.

        When the session was modified; or when it is permanent and
        ``SESSION_REFRESH_EACH_REQUEST`` is on, to push its expiry forward.
        """
        return session.modified or (
            session.permanent and bool(app.config["SESSION_REFRESH_EACH_REQUEST"])
        )

    def has_session_cookie_to_refresh(self, app: Kolben, request: Request) -> bool:
        """Whether a request that never used ``session`` must still open and save
        it: when it carries the session cookie and ``SESSION_REFRESH_EACH_REQUEST``
        is on, so a permanent session's expiry moves forward as in Flask (which
        opens every session). Other requests skip sessions entirely. An interface
        with its own :meth:`should_set_cookie` gets every request carrying the
        cookie, whatever the config: Flask asks its rule on every request.

        kolben asks this at the end of such a request; override it to refine it.
        """
        if (
            not app.config["SESSION_REFRESH_EACH_REQUEST"]
            and type(self).should_set_cookie is SessionInterface.should_set_cookie
        ):
            return False
        name = self.get_cookie_name(app)
        # PERF: a substring test before parsing the Cookie header.
        cookie_header = request.environ.get("HTTP_COOKIE") or ""
        return f"{name}=" in cookie_header and name in request.cookies

    def open_session(self, app: Kolben, request: Request) -> SessionMixin | None:
        """Load the session for ``request``; return None when sessions can't work
        (for example no secret key), so a null session is used instead.

        Called at the start of the first access to ``session`` in a request.
        """
        raise NotImplementedError

    def save_session(self, app: Kolben, session: SessionMixin, response: Response) -> None:
        """Store ``session`` and update ``response`` (typically its cookie).

        Called for every response of a request whose session was opened, unless the
        session is a null session.
        """
        raise NotImplementedError


# The names of the per-app caches (kolben.caching) of the cookie sessions.
_SIGNER_CACHE = "kolben.sessions: signing serializers"
_VERIFIED_CACHE = "kolben.sessions: verified session cookies"


class SecureCookieSessionInterface(SessionInterface):
    """Keeps the session in a cookie signed with ``SECRET_KEY`` (the default).

    The data is JSON (see :mod:`kolben.json.tag`), signed by an itsdangerous
    :class:`~itsdangerous.URLSafeTimedSerializer`. ``SECRET_KEY_FALLBACKS`` lists
    older keys that are still accepted, for rotating the key without logging
    everyone out; new cookies are always signed with ``SECRET_KEY``. A cookie
    older than ``PERMANENT_SESSION_LIFETIME``, or one that is tampered with,
    truncated or otherwise invalid, gives an empty session.
    """

    #: The salt mixed into the signing key, separating session signatures from
    #: other signatures made with the same secret key.
    salt = "cookie-session"
    #: The hash function of the HMAC signature.
    digest_method = staticmethod(lazy_sha1)
    #: How itsdangerous derives the signing key from the secret key.
    key_derivation = "hmac"
    #: Turns the session dict into text and back.
    serializer: t.Any = _DEFAULT_SERIALIZER
    #: The class of the sessions this interface returns.
    session_class: type[SecureCookieSession] = SecureCookieSession

    # PERF: signing serializers already built, by the settings they were built for,
    # in a cache of each app (kolben.caching). Building one costs ~20 µs (Flask
    # does it on every request); settings rarely change, so requests reuse it.
    # Per app because a serializer remembers the cookies it verified (request
    # data, kept per app); bounded so key rotations can't grow it without limit.
    _signer_cache_size = 16

    def get_signing_serializer(self, app: Kolben) -> URLSafeTimedSerializer | None:
        """The serializer that signs and verifies cookies, or None without a secret key.

        Signs with ``SECRET_KEY``, accepts ``SECRET_KEY_FALLBACKS`` too. Built once
        per app and (keys, salt, digest, key derivation, serializer) and reused.
        It remembers the cookies it verified or signed, unless the app's
        ``REQUEST_DATA_CACHES`` config is false (see :mod:`kolben.caching`).
        """
        config = app.config
        # app.secret_key, as Flask reads it: a subclass may set it as a class
        # attribute (``class App(Flask): secret_key = ...``), not in the config.
        secret_key = app.secret_key
        if not secret_key:
            return None
        fallbacks = config["SECRET_KEY_FALLBACKS"]
        # PERF: the switch read inline; request_data_caching() only when it is off
        # (it empties the app's request-data caches).
        remember = True if config.get(REQUEST_DATA_CACHES, True) else request_data_caching(app)
        cache_key = (
            secret_key,
            tuple(fallbacks) if fallbacks else (),
            self.salt,
            self.digest_method,
            self.key_derivation,
            self.serializer,
            remember,
        )
        cache: Cache[tuple[t.Any, ...], URLSafeTimedSerializer] | None = app.__dict__.get(
            _SIGNER_CACHE  # PERF: app_cache(), inline
        )
        if cache is None:
            cache = app_cache(app, _SIGNER_CACHE, self._signer_cache_size)
        signer = cache.get(cache_key)
        if signer is not None:
            return signer
        # PERF: kolben._itsdangerous_fast: itsdangerous' format, signed faster.
        return cache.put(
            cache_key,
            session_serializer(
                # itsdangerous signs with the last key and accepts all of them.
                [*cache_key[1], secret_key],
                salt=self.salt,
                serializer=self.serializer,
                digest_method=self.digest_method,
                key_derivation=self.key_derivation,
                verified=(
                    request_data_cache(app, _VERIFIED_CACHE, SessionSerializer.verified_cache_size)
                    if remember
                    else None
                ),
            ),
        )

    def open_session(self, app: Kolben, request: Request) -> SecureCookieSession | None:
        """Load the session from the request's cookie; an empty session when there is
        no cookie or it is invalid or expired; None without a secret key."""
        signer = self.get_signing_serializer(app)
        if signer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        try:
            data = signer.loads(value, max_age=max_age)
        except (BadData, ValueError, TypeError):
            # Tampered, truncated, expired (all BadSignature) or signed but not
            # decodable (BadPayload; Flask lets that one through as a 500): start a
            # new session. ValueError and TypeError are a safety net.
            return self.session_class()
        if not isinstance(data, dict):
            return self.session_class()
        return self.session_class(data)

    def save_session(self, app: Kolben, session: SessionMixin, response: Response) -> None:
        """Set (or delete) the session cookie on ``response`` as needed.

        An emptied session deletes the cookie (with the same domain, path and
        flags it was set with). Otherwise the cookie is set when
        :meth:`should_set_cookie` says so. ``Vary: Cookie`` is added whenever the
        session was accessed.
        """
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        partitioned = self.get_cookie_partitioned(app)
        samesite = self.get_cookie_samesite(app)
        httponly = self.get_cookie_httponly(app)

        # Read once, before should_set_cookie() below (an interface's own may
        # read the session, and a custom session class may mark itself).
        accessed = session.accessed
        if accessed:
            _vary_cookie(response)

        if not session:
            if session.modified:
                response.delete_cookie(
                    name,
                    domain=domain,
                    path=path,
                    secure=secure,
                    partitioned=partitioned,
                    samesite=samesite,
                    httponly=httponly,
                )
                if not accessed:
                    _vary_cookie(response)
            return

        if not self.should_set_cookie(app, session):
            return
        signer = self.get_signing_serializer(app)
        if signer is None:  # the secret key was removed during the request
            return
        value = signer.dumps(dict(session))
        set_session_cookie(
            response,
            name,
            value,
            expires=self.get_expiration_time(app, session),
            domain=domain,
            path=path,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
        )
        if not accessed:
            _vary_cookie(response)

    # -- the async path: the cookie session does no I/O, so the sync methods run
    # inline on the event loop.

    #: True: :meth:`open_session_async` and :meth:`save_session_async` call the sync
    #: methods, which do no I/O.
    has_async_io = True

    def open_session_needs_io(self, app: Kolben, request: Request) -> bool:
        """False: the session is in the cookie; opening it is a signature check."""
        return False

    async def open_session_async(self, app: Kolben, request: Request) -> SecureCookieSession | None:
        """:meth:`open_session`, called inline (no I/O)."""
        return self.open_session(app, request)

    async def save_session_async(
        self, app: Kolben, session: SessionMixin, response: Response
    ) -> None:
        """:meth:`save_session`, called inline (no I/O; it never raises a 503)."""
        self.save_session(app, session, response)

    def has_session_cookie_to_refresh(self, app: Kolben, request: Request) -> bool:
        """See :meth:`SessionInterface.has_session_cookie_to_refresh`; also False
        when the cookie does not hold a valid permanent session, which the default
        :meth:`should_set_cookie` would not save.

        PERF: looks for the ``_permanent`` key in the verified JSON text before
        loading it; most sessions are not permanent, and those cost no JSON parse.
        """
        if not super().has_session_cookie_to_refresh(app, request):
            return False
        value = request.cookies[self.get_cookie_name(app)]
        signer = self.get_signing_serializer(app)
        if signer is None:
            return False
        if (
            type(self).open_session is SecureCookieSessionInterface.open_session
            and type(self).should_set_cookie is SessionInterface.should_set_cookie
            and self.session_class is SecureCookieSession
            and isinstance(signer, SessionSerializer)
            and self.serializer is _DEFAULT_SERIALIZER
        ):
            max_age = int(app.permanent_session_lifetime.total_seconds())
            text = signer.verified_json(value, max_age)
            if text is None or b'"_permanent"' not in text:
                return False
        return True


def set_session_cookie(
    response: Response,
    name: str,
    value: str,
    *,
    expires: datetime | None,
    domain: str | None,
    path: str | None,
    secure: bool,
    httponly: bool,
    samesite: str | None,
    partitioned: bool,
) -> None:
    """``response.set_cookie(name, value, ...)`` for a session cookie, whose value
    (URL-safe base64 and dots) never needs quoting.

    PERF: werkzeug's dump_cookie quotes and formats every attribute on each call
    (~3 µs); the attributes depend only on the cookie settings, so the header
    around the value is built once per settings (:func:`_cookie_header`). A
    response class with its own ``set_cookie``, or a cookie large enough for
    werkzeug's size warning, goes through ``set_cookie``.
    """
    if type(response).set_cookie is _WerkzeugResponse.set_cookie:
        header = _cookie_header(
            name, value, expires, domain, path, secure, httponly, samesite, partitioned
        )
        max_size = response.max_cookie_size
        if not max_size or len(header) <= max_size:
            response.headers.add("Set-Cookie", header)
            return
    response.set_cookie(
        name,
        value,
        expires=expires,
        httponly=httponly,
        domain=domain,
        path=path,
        secure=secure,
        partitioned=partitioned,
        samesite=samesite,
    )


def replace_with_error_response(
    app: Kolben, response: Response, error: HTTPException
) -> Steps[None]:
    """Turn ``response`` into the app's response for ``error``, in place: the
    steps to run when saving the session failed (the client must learn that its
    session change was not kept).

    The response is the one after the ``after_request`` functions; it becomes the
    response of the error handler for ``error`` (a step: user code), else the
    exception's own response. A failing handler is logged and the exception's own
    response used, so the error is never hidden. A streamed body that will not be
    sent is closed.

    :meth:`SessionInterface.save_session_async` raises the exception for the app to
    run these steps; ``save_session`` implementations run them with
    :func:`kolben.pipeline.run_steps`.
    """
    # The client is told its request failed (to retry, for a 503): nothing of
    # the request's work is committed either (its task resources are rolled
    # back, its after_commit callbacks dropped), or a retry would do it twice.
    from .globals import _cv_app
    from .pipeline import direct
    from .resources import _rollback_pending_steps

    app_ctx = _cv_app.get(None)
    if app_ctx is not None and app_ctx._task_state is not None:
        yield from _rollback_pending_steps(app, app_ctx._task_state)
    try:
        if "handle_http_exception" in app._overridden:
            rv = yield direct(app, app.handle_http_exception), (error,)
        else:
            rv = yield from app._handle_http_exception(error)
        error_response = app.make_response(rv)
    except Exception:  # a failing handler must not hide the error
        logger.exception("The error handler for %r failed", error)
        error_response = t.cast("Response", app.response_class.force_type(error.get_response()))
    body = response.response
    close = getattr(body, "close", None)
    if close is not None and not isinstance(body, (list, tuple)):
        close()  # a streamed body that will never be sent
    response.status = error_response.status
    response.headers = Headers(error_response.headers)
    response.response = error_response.response
    response.direct_passthrough = False


__all__ = [
    "NullSession",
    "SecureCookieSession",
    "SecureCookieSessionInterface",
    "SessionInterface",
    "SessionMixin",
    "opens_at_push",
    "replace_with_error_response",
]
