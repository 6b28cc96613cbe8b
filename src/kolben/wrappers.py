"""The request and response objects: werkzeug's, with what an app adds.

The request knows the route it matched (``url_rule``, ``view_args``, ``endpoint``,
``blueprint``) and reads its size limits from the current app's config; the
response defaults to HTML and takes its cookie size limit from the config too.
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import contextvars
import typing as t
from functools import cached_property
from inspect import getattr_static

from werkzeug.datastructures import Headers, ImmutableMultiDict
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.sansio.http import parse_cookie
from werkzeug.wrappers import Request as _WerkzeugRequest
from werkzeug.wrappers import Response as _WerkzeugResponse
from werkzeug.wsgi import ClosingIterator, LimitedStream

from . import globals as _globals
from . import json
from ._werkzeug_fast import URLENCODED as _URLENCODED
from ._werkzeug_fast import from_body as _from_body
from ._werkzeug_fast import load_urlencoded_form
from ._werkzeug_fast import make_request as make_request
from ._werkzeug_fast import routing_path as routing_path
from ._werkzeug_fast import routing_target as routing_target
from .asgi_environ import KnownEnviron, MadeOnRead
from .caching import REQUEST_DATA_CACHES, Cache, request_data_cache
from .headers import LISTED_HEADER_CLASSES

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app

#: werkzeug's ``Request.stream`` getter (the stream :attr:`Request.stream` adjusts).
_WERKZEUG_STREAM: t.Callable[[_WerkzeugRequest], t.IO[bytes]] = t.cast(
    t.Any, _WerkzeugRequest.__dict__["stream"]
).fget

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from werkzeug.routing import Rule


def _config_value(key: str, default: t.Any) -> t.Any:
    ctx = _cv_app.get(None)
    if ctx is None:
        return default
    return ctx.app.config[key]


# Parsed Cookie headers, shared by the requests of one app sending the same header:
# a per-app request-data cache (kolben.caching; off with REQUEST_DATA_CACHES=False)
# of at most _COOKIE_CACHE_SIZE headers of at most _COOKIE_CACHE_MAX_HEADER characters.
_COOKIE_CACHE = "kolben.wrappers: parsed Cookie headers"
_COOKIE_CACHE_SIZE = 1024
_COOKIE_CACHE_MAX_HEADER = 2048


class _MaxLimitedStream(LimitedStream):
    """The input stream of a body of unknown length (chunked, or an ASGI body)
    under a ``max_content_length``: werkzeug's :class:`~werkzeug.wsgi.LimitedStream`,
    except that reading it to the end (``read()``, ``readall()``: what
    ``get_data``, ``get_json`` and the urlencoded form parser do) when more than
    the limit was sent is a 413, as werkzeug documents for any read past the
    limit, not the first ``max_content_length`` bytes returned as if they were
    the whole body. (werkzeug's ``readall`` stops at the limit without looking
    further, so Flask cuts such a body short silently.)"""

    def readall(self) -> bytes:
        data = super().readall()
        if self.is_exhausted:
            # The server ends the stream (``wsgi.input_terminated``), so one more
            # byte can be asked for without waiting on a client with no more to send.
            try:
                more = self._stream.read(1)
            except (OSError, ValueError):  # a client gone: what was read stands
                more = b""
            if more:
                self.on_exhausted()
        return data


class Request(_WerkzeugRequest):
    """The request object used by default in kolben.

    It is werkzeug's :class:`~werkzeug.wrappers.Request` plus what routing
    records about the request, and size limits taken from the app's config
    (``MAX_CONTENT_LENGTH``, ``MAX_FORM_MEMORY_SIZE``, ``MAX_FORM_PARTS``), which
    may also be set on one request, e.g. in a ``before_request`` function.
    """

    json_module: t.Any = json

    # A request made from an ASGI scope (kolben.asgi_environ.scope_request) makes
    # its environ, and the headers view of it, when first read; a request made
    # from an environ has both in its instance from the start.
    environ: WSGIEnvironment = MadeOnRead("environ")  # type: ignore[assignment]
    headers: Headers = MadeOnRead("headers")  # type: ignore[assignment]
    #: The ASGI scope of a request made from one.
    _scope: dict[str, t.Any] | None = None
    #: What the pipeline reads of the environ (Host, Cookie, the body's framing
    #: headers, the test client's context keeper): the environ itself, or, for a
    #: request made from a scope whose environ is not made yet, those entries
    #: (:data:`kolben.asgi_environ.KNOWN_HEADERS`), so reading them does not make
    #: it. In the instance only for such a request; else the environ.
    _known_environ: dict[str, t.Any] = KnownEnviron()  # type: ignore[assignment]

    #: The rule that matched the request, or None before matching or on failure.
    url_rule: Rule | None = None
    #: The keyword arguments from matching the rule, or None.
    view_args: dict[str, t.Any] | None = None
    #: The 404, 405 or redirect raised while matching, raised when dispatching.
    routing_exception: HTTPException | None = None
    #: For a request that matched no route (404, 405) under the URL prefix of a
    #: blueprint registered with ``owns_prefix=True``: that blueprint's name.
    prefix_owner: str | None = None
    #: The adapter cache key the request was matched under (kolben.matching): the
    #: origin and settings at the start of the request, which URLs are built for.
    _kolben_adapter_key: tuple[t.Any, ...] | None = None

    #: Whether the request's PATH_INFO was empty (see kolben._werkzeug_fast.routing_path).
    _kolben_empty_path_info: bool = False

    _max_content_length: int | None = None
    _max_form_memory_size: int | None = None
    _max_form_parts: int | None = None

    @property
    def max_content_length(self) -> int | None:
        """The largest request body accepted, in bytes (``MAX_CONTENT_LENGTH``).

        A larger body raises a 413 when it is read. Setting it on the request
        overrides the config for this request only.
        """
        if self._max_content_length is not None:
            return self._max_content_length
        return _config_value("MAX_CONTENT_LENGTH", None)  # type: ignore[no-any-return]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:
        """The largest non-file form field, in bytes (``MAX_FORM_MEMORY_SIZE``)."""
        if self._max_form_memory_size is not None:
            return self._max_form_memory_size
        return _config_value(  # type: ignore[no-any-return]
            "MAX_FORM_MEMORY_SIZE", _WerkzeugRequest.max_form_memory_size
        )

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value

    @property  # type: ignore[override]
    def max_form_parts(self) -> int | None:
        """The most fields a multipart form may have (``MAX_FORM_PARTS``); as in
        werkzeug, a urlencoded form has no such limit (``MAX_CONTENT_LENGTH``
        bounds its size)."""
        if self._max_form_parts is not None:
            return self._max_form_parts
        return _config_value(  # type: ignore[no-any-return]
            "MAX_FORM_PARTS", _WerkzeugRequest.max_form_parts
        )

    @max_form_parts.setter
    def max_form_parts(self, value: int | None) -> None:
        self._max_form_parts = value

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the matched rule, or None if matching failed."""
        if self.url_rule is not None:
            return t.cast(str, self.url_rule.endpoint)
        return None

    @property
    def blueprint(self) -> str | None:
        """The dotted name of the blueprint the matched endpoint belongs to, or None.

        For a request that matched no route under the prefix of a blueprint that
        owns it (``owns_prefix=True``), the owning blueprint.
        """
        endpoint = self.endpoint
        if endpoint is None:
            return self.prefix_owner
        if "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The current blueprint and its parents, innermost first (empty if none)."""
        name = self.blueprint
        if name is None:
            return []
        return split_blueprint_path(name)

    @cached_property
    def cookies(self) -> ImmutableMultiDict[str, str]:
        """The cookies sent with the request.

        PERF: parsed from the WSGI ``HTTP_COOKIE`` value directly (werkzeug goes
        through the environ headers view, ~4 µs more); the result is the same. A
        client sends the same Cookie header until a cookie changes, so the app
        remembers parsed headers (a bounded per-app cache, see
        :mod:`kolben.caching`; ``REQUEST_DATA_CACHES = False`` turns it off); the
        immutable result is shared.
        """
        header = self._known_environ.get("HTTP_COOKIE") or ""
        storage = self.dict_storage_class
        if storage is not ImmutableMultiDict or len(header) > _COOKIE_CACHE_MAX_HEADER:
            return parse_cookie(header, cls=storage)  # type: ignore[return-value]
        ctx = _cv_app.get(None)
        if ctx is None:
            return parse_cookie(header, cls=ImmutableMultiDict)  # type: ignore[return-value]
        app = ctx.app
        # PERF: request_data_cache(), inline when the cache exists and is on.
        cache = (
            app.__dict__.get(_COOKIE_CACHE) if app.config.get(REQUEST_DATA_CACHES, True) else None
        )
        if cache is None:
            cache = request_data_cache(app, _COOKIE_CACHE, _COOKIE_CACHE_SIZE)
            if cache is None:
                return parse_cookie(header, cls=ImmutableMultiDict)  # type: ignore[return-value]
        cookies = cache.get(header)
        if cookies is None:
            cookies = cache.put(header, parse_cookie(header, cls=ImmutableMultiDict))
        return cookies  # type: ignore[no-any-return]

    @cached_property
    def stream(self) -> t.IO[bytes]:
        """The body as a binary stream, limited to ``Content-Length`` or, for a
        body of unknown length, to :attr:`max_content_length` (see werkzeug's
        :attr:`~werkzeug.wrappers.Request.stream`). Reading such a body to the end
        when more than ``max_content_length`` was sent is a 413, not a body cut
        short at the limit."""
        stream: t.Any = _WERKZEUG_STREAM(self)
        if type(stream) is LimitedStream and stream._limit_is_max:
            return t.cast(t.IO[bytes], _MaxLimitedStream(stream._stream, stream.limit, True))
        return t.cast(t.IO[bytes], stream)

    async def iter_body(self, chunk_size: int = 64 * 1024) -> t.AsyncIterator[bytes]:
        """The request body, chunk by chunk, for ``async for``.

        In an ``async def`` view marked with :func:`kolben.stream_request_body`
        under the ASGI door, the chunks are received from the client as this is
        iterated (``MAX_CONTENT_LENGTH`` enforced as they come: 413). Anywhere
        else they are read from :attr:`stream`, ``chunk_size`` bytes at a time.
        """
        limit = self.max_content_length
        if limit is not None and self.content_length is not None and self.content_length > limit:
            raise RequestEntityTooLarge()
        receive_chunks = getattr(self.environ.get("wsgi.input"), "receive_chunks", None)
        if receive_chunks is not None and "stream" not in self.__dict__:
            async for chunk in receive_chunks(limit):
                yield chunk
            return
        stream = self.stream
        while True:
            chunk = stream.read(chunk_size)
            if not chunk:
                return
            yield chunk

    def _load_form_data(self) -> None:
        """Parse the form body into :attr:`form` and :attr:`files`.

        PERF: a urlencoded body is parsed here directly (werkzeug's parser builds a
        parser object and unquotes every field; ~20 µs for five fields); the result,
        the limits applied (``MAX_CONTENT_LENGTH`` through the input stream) and the
        silence about a malformed body are werkzeug's. Anything else, or a subclass
        that customises form parsing, takes werkzeug's path.

        In debug mode, ``request.files[key]`` for a key that was sent as a form
        field (the form lacked ``enctype="multipart/form-data"``) raises
        :exc:`~kolben.debughelpers.DebugFilesKeyError`, which says so.
        """
        if "form" in self.__dict__:
            return
        cls = type(self)
        if (
            self.mimetype not in _URLENCODED
            or cls.make_form_data_parser is not _WerkzeugRequest.make_form_data_parser
            or cls.form_data_parser_class is not FormDataParser
            or not self.want_form_data_parsed
        ):
            super()._load_form_data()
            self._check_files_in_debug()
            return
        # PERF: kolben._werkzeug_fast: werkzeug's parser, for a urlencoded body.
        load_urlencoded_form(self)
        self._check_files_in_debug()

    def _check_files_in_debug(self) -> None:
        """In debug mode, make ``files[key]`` explain a file sent as a form field
        (Flask's behaviour; nothing is done outside debug mode)."""
        if (
            _config_value("DEBUG", False)
            and self.mimetype != "multipart/form-data"
            and not self.__dict__.get("files", True)
        ):
            from .debughelpers import attach_enctype_error_multidict

            attach_enctype_error_multidict(self)

    def get_json(
        self, force: bool = False, silent: bool = False, cache: bool = True
    ) -> t.Any | None:
        """The body parsed as JSON (see werkzeug's
        :meth:`~werkzeug.wrappers.Request.get_json`).

        Beyond werkzeug (and Flask, which answers 500): a body nested too deeply
        for the parser (``[[[[...`` past Python's recursion limit, a few kilobytes
        from any client) is malformed JSON like any other, a 400 (None with
        ``silent=True``), not a ``RecursionError``.
        """
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            return self.on_json_loading_failed(
                ValueError("The JSON body is nested too deeply to be parsed.")
            )

    def on_json_loading_failed(self, e: ValueError | None) -> t.Any:
        """Called when :meth:`get_json` fails: 415 without a JSON content type, 400
        for a malformed body. In debug mode the 400 says what was wrong."""
        try:
            return super().on_json_loading_failed(e)
        except BadRequest as ebr:
            if _config_value("DEBUG", False):
                raise
            raise BadRequest() from ebr


class Response(_WerkzeugResponse):
    """The response object used by default in kolben.

    werkzeug's :class:`~werkzeug.wrappers.Response` with ``text/html`` as the
    default mimetype, the app's JSON provider for :attr:`json`, and
    ``MAX_COOKIE_SIZE`` from the config.
    """

    default_mimetype: str | None = "text/html"
    json_module: t.Any = json
    autocorrect_location_header = False

    _max_cookie_size: int | None = None

    #: Whether the class keeps werkzeug's ``close`` and ``iter_encoded``: the
    #: one-chunk paths (``__call__``, ``get_app_iter``, the ASGI door's
    #: ``asgi_response``) hand the body list to the server as it is, which
    #: skips both; a subclass overriding either (cleanup in ``close``, a body
    #: transform in ``iter_encoded``) goes through werkzeug's methods, as in Flask.
    _werkzeug_body_methods: bool = True
    #: Whether the class keeps werkzeug's ``force_type``: a subclass overriding
    #: it is given an HTTP exception to convert, as Flask's ``make_response``
    #: gives it (see :meth:`from_http_exception`).
    _werkzeug_force_type: bool = True

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._werkzeug_body_methods = (
            cls.close is _WerkzeugResponse.close
            and cls.iter_encoded is _WerkzeugResponse.iter_encoded
        )
        cls._werkzeug_force_type = (
            getattr_static(cls, "force_type") is getattr_static(_WerkzeugResponse, "force_type")
        )

    @property
    def max_cookie_size(self) -> int:
        """The cookie size above which werkzeug warns (``MAX_COOKIE_SIZE``)."""
        if self._max_cookie_size is not None:
            return self._max_cookie_size
        return _config_value(  # type: ignore[no-any-return]
            "MAX_COOKIE_SIZE", _WerkzeugResponse.max_cookie_size
        )

    @max_cookie_size.setter
    def max_cookie_size(self, value: int) -> None:
        self._max_cookie_size = value

    if t.TYPE_CHECKING:

        @classmethod
        def from_body(cls, body: str | bytes | bytearray, mimetype: str | None = None) -> Response:
            """Return ``cls(body, mimetype=mimetype)``."""

    else:
        # PERF: kolben._werkzeug_fast.from_body: werkzeug's constructor, in one pass.
        from_body = classmethod(_from_body)

    @classmethod
    def from_http_exception(
        cls, e: HTTPException, environ: WSGIEnvironment | None = None
    ) -> Response:
        """Return the response for an HTTP exception, as ``e.get_response()`` does.

        A subclass overriding :meth:`force_type` is asked to convert the
        exception itself (a WSGI app) with ``environ``, as Flask's
        ``make_response`` asks it.

        PERF: the HTML error page of werkzeug's own exceptions with their own
        description is rendered once per class and code and reused (~25 µs saved
        per 404); a description set per request is rendered each time.
        """
        if not cls._werkzeug_force_type and environ is not None:
            return cls.force_type(e, environ)  # type: ignore[arg-type, return-value]
        cls_e = type(e)
        if (
            cls_e.get_response is HTTPException.get_response
            # A subclass may skip HTTPException.__init__ (no ``response``).
            and getattr(e, "response", None) is None
            and cls_e.get_body is HTTPException.get_body
            and cls_e.get_headers is HTTPException.get_headers
            and cls_e.get_description is HTTPException.get_description
            and getattr_static(cls_e, "name") is _HTTP_EXCEPTION_NAME
            and isinstance(e.description, (str, type(None)))
            and hasattr(cls, "from_body")
            # The page werkzeug makes has a Content-Length, which Flask's
            # force_type keeps whatever the response class's own setting.
            and cls.automatically_set_content_length
        ):
            # Only the page of the class's own description is kept: a description
            # the app wrote per request (abort(404, f"no user {name}")) may hold
            # request data, and is rendered each time.
            if e.description is cls_e.description:
                # The description is in the key: an app may change the class's
                # (``NotFound.description = ...``) after a first page was made.
                key = (cls_e, e.code, e.description)
                body = _error_bodies.get(key)
                if body is None:
                    body = _error_bodies.put(key, e.get_body(environ).encode())
            else:
                body = e.get_body(environ).encode()
            rv = cls.from_body(body, mimetype="text/html")
            if e.code is not None:  # else 200, as werkzeug's get_response gives
                rv.status_code = e.code
            return rv
        return cls.force_type(e.get_response(environ))  # type: ignore[return-value]

    _default_content_type: str = "text/html; charset=utf-8"

    def make_conditional(
        self,
        request_or_environ: WSGIEnvironment | _WerkzeugRequest,
        accept_ranges: bool | str = False,
        complete_length: int | None = None,
    ) -> Response:
        """werkzeug's :meth:`~werkzeug.wrappers.Response.make_conditional`
        (``304``, ``412`` and ``206`` answers to conditional and range requests).

        werkzeug adds a ``Date`` header when the response has none, for a WSGI
        server to keep or replace. An ASGI server (uvicorn, granian, hypercorn)
        adds its own ``Date`` to every response, so under the ASGI door none is
        added here: a response sent by ``send_file`` or the static route carries
        one ``Date``, not two, as with Quart. A ``Date`` the app set is kept.
        """
        environ = (
            request_or_environ
            if isinstance(request_or_environ, dict)
            else request_or_environ.environ
        )
        server_sends_date = "asgi.scope" in environ and "date" not in self.headers
        super().make_conditional(request_or_environ, accept_ranges, complete_length)
        if server_sends_date:
            self.headers.pop("Date", None)  # werkzeug's: the ASGI server adds its own
        return self

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> t.Iterable[bytes]:
        """Answer as a WSGI application: ``start_response(status, headers)``,
        then the body iterable (werkzeug's ``get_wsgi_response``).

        PERF: a buffered body of one bytes chunk whose headers werkzeug's
        ``get_wsgi_headers`` would pass on unchanged (a Content-Length, no
        Location; a 2xx-5xx status other than 204 and 304; not a HEAD request),
        with its WSGI methods not overridden, is answered in one pass over its
        headers; anything else goes through werkzeug's methods.
        """
        cls = type(self)
        if cls is Response or (
            cls.get_wsgi_response is _GET_WSGI_RESPONSE
            and cls.get_wsgi_headers is _GET_WSGI_HEADERS
            and cls.get_app_iter is _GET_APP_ITER
            and cls.status is _STATUS
            and cls.status_code is _STATUS_CODE
        ):
            headers = self.headers
            if sends_one_chunk(self, self._status_code, environ["REQUEST_METHOD"]) and (
                type(headers) in LISTED_HEADER_CLASSES
            ):
                # What werkzeug's get_wsgi_headers passes on as it is (a
                # Content-Length, no Location), found in the same pass.
                items = headers._list
                has_length = False
                for key, _ in items:
                    lowered = key.lower()
                    if lowered == "content-length":
                        has_length = True
                    elif lowered == "location" or lowered == "content-location":
                        break  # werkzeug may rewrite it
                else:
                    if has_length:
                        start_response(self._status, list(items))
                        return self.response  # type: ignore[return-value]
        return super().__call__(environ, start_response)

    def get_app_iter(self, environ: WSGIEnvironment) -> t.Iterable[bytes]:
        """The body iterable for the server (empty for HEAD and bodiless statuses).

        PERF: a buffered body of one bytes chunk with nothing to close is handed to
        the server as it is, without werkzeug's encoding and closing wrappers.
        """
        body = self.response
        if (
            type(body) is not list
            and isinstance(body, cabc.AsyncIterable)
            # A body that is also a sync iterable is iterated as one (as werkzeug
            # and Flask iterate it).
            and not isinstance(body, cabc.Iterable)
        ):
            return _async_body(self, environ)
        if (
            type(body) is list
            and not self._on_close
            and not self.direct_passthrough
            and self._werkzeug_body_methods
        ):
            status = self.status_code
            if environ["REQUEST_METHOD"] == "HEAD" or 100 <= status < 200 or status in (204, 304):
                # No body is sent and nothing needs closing (werkzeug's answer is
                # an empty iterable with a no-op close).
                return []
            if len(body) == 1 and type(body[0]) is bytes:
                return body
        return super().get_app_iter(environ)


def _async_body(response: Response, environ: WSGIEnvironment) -> t.Any:
    """The body of a response whose iterable is asynchronous.

    Under the ASGI door the encoded async iterator itself (the door iterates it on
    the loop); under WSGI a sync iterator that advances it with
    :func:`kolben.concurrency.run_sync`, on the worker thread's own loop.
    """
    status = response.status_code
    if environ["REQUEST_METHOD"] == "HEAD" or 100 <= status < 200 or status in (204, 304):
        # No body is sent, but the response is closed as werkzeug closes it
        # (ClosingIterator((), self.close)): its call_on_close functions run.
        return ClosingIterator((), response.close)
    source = t.cast(cabc.AsyncIterable[t.Any], response.response)

    async def encoded() -> t.AsyncGenerator[bytes, None]:
        try:
            async for item in source:
                if type(item) is bytes:
                    yield item
                else:
                    # memoryview: a TypeError for what is not bytes-like, as a
                    # sync body's chunk gets (bytes(5) was five NUL bytes).
                    yield item.encode() if isinstance(item, str) else memoryview(item).tobytes()
        finally:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

    if "asgi.scope" in environ:
        return _AsyncBody(encoded(), response)
    return _SyncBridge(encoded(), response)


class _AsyncBody:
    """The encoded async body under the ASGI door, with the response's ``close``
    (the door calls it in a worker thread once the body is done or the client
    left: the ``call_on_close`` functions run, as under WSGI)."""

    def __init__(self, agen: t.AsyncGenerator[bytes, None], response: Response) -> None:
        self._agen = agen
        self.close = response.close

    def __aiter__(self) -> _AsyncBody:
        return self

    def __anext__(self) -> t.Awaitable[bytes]:
        return self._agen.__anext__()

    def aclose(self) -> t.Awaitable[None]:
        return self._agen.aclose()

    def __iter__(self) -> t.Iterator[bytes]:
        """The body as a sync iterator, for WSGI middleware on ``app.wsgi_app``
        that iterates the app's body in its worker thread (as it does under
        WSGI, where the body is a :class:`_SyncBridge`): each step runs on the
        server's event loop while the thread waits."""
        return _LoopBridge(self._agen, self.close)


class _LoopBridge:
    """An async body (:class:`_AsyncBody`) iterated from a worker thread under
    the ASGI door: each step, and its close, runs on the server's event loop, all
    in one context of the body's own (as :class:`_SyncBridge` runs them on the
    thread's loop), so a step that pushes contexts (an async
    ``stream_with_context`` body) pops them where it pushed them."""

    def __init__(self, agen: t.AsyncGenerator[bytes, None], close: t.Callable[[], None]) -> None:
        from .concurrency import _server_loop, in_context_copy

        loop = _server_loop.get()
        if loop is None:
            raise RuntimeError(
                "An async response body can only be iterated synchronously in a worker"
                " thread of the ASGI door, or under WSGI."
            )
        self._loop = loop
        self._agen = agen
        self._close = close
        self._context = contextvars.copy_context()
        self._context.run(in_context_copy.set, True)

    def _run(self, awaitable: t.Coroutine[t.Any, t.Any, t.Any]) -> t.Any:
        from .pipeline import in_context

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            awaitable.close()
            # Waiting here for the loop this thread runs would never end.
            raise RuntimeError(
                "An async response body can't be iterated synchronously on the event"
                " loop: iterate it with 'async for'."
            )

        return asyncio.run_coroutine_threadsafe(
            in_context(self._context, awaitable), self._loop
        ).result()

    def __iter__(self) -> _LoopBridge:
        return self

    def __next__(self) -> bytes:
        try:
            return t.cast(bytes, self._run(self._agen.__anext__()))
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        try:
            self._run(self._agen.aclose())
        finally:
            self._close()


class _SyncBridge:
    """A WSGI body iterating an async generator on this thread's event loop."""

    def __init__(self, agen: t.AsyncGenerator[bytes, None], response: Response) -> None:
        from .concurrency import in_context_copy

        self._agen = agen
        self._response = response
        # Every step of the body, and its close, runs in this one context (a
        # copy of the server's): a step that pushes contexts (an async
        # stream_with_context body) finds them in the next one and pops them
        # where it pushed them.
        self._context = contextvars.copy_context()
        self._context.run(in_context_copy.set, True)

    def __iter__(self) -> _SyncBridge:
        return self

    def __next__(self) -> bytes:
        from .concurrency import run_sync

        try:
            return run_sync(self._agen.__anext__(), self._context)
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        from .concurrency import run_sync

        try:
            run_sync(self._agen.aclose(), self._context)
        finally:
            self._response.close()


# The HTML error pages of werkzeug's exceptions with their class's own
# description, by (class, code, description). Process-wide: nothing in them comes from a request.
_error_bodies: Cache[tuple[t.Any, ...], bytes] = Cache(256, "kolben.wrappers: error pages")
_HTTP_EXCEPTION_NAME = getattr_static(HTTPException, "name")


def split_blueprint_path(name: str) -> list[str]:
    """``"a.b.c"`` -> ``["a.b.c", "a.b", "a"]``: a blueprint and its parents."""
    out = [name]
    while "." in name:
        name = name.rpartition(".")[0]
        out.append(name)
    return out


def sends_one_chunk(response: _WerkzeugResponse, status: int, method: str) -> bool:
    """Whether ``response`` goes out as its one buffered ``bytes`` chunk, as it
    is (the doors' one-pass path): a status with a body (2xx-5xx but 204 and
    304), nothing to call on close, not passed through, not a HEAD request."""
    body = response.response
    return (
        type(body) is list
        and len(body) == 1
        and type(body[0]) is bytes
        and status >= 200
        and status != 204
        and status != 304
        and not response._on_close
        and not response.direct_passthrough
        and method != "HEAD"
        # A subclass's own close() / iter_encoded() must run (werkzeug's path).
        and getattr(response, "_werkzeug_body_methods", True)
    )


_GET_WSGI_RESPONSE = Response.get_wsgi_response
_GET_WSGI_HEADERS = Response.get_wsgi_headers
_GET_APP_ITER = Response.get_app_iter
_STATUS = Response.status
_STATUS_CODE = Response.status_code
