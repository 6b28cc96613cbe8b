"""Faster equivalents of parts of werkzeug: what they replace, why, what they
measured and how they are verified.

**What.** Each function here gives werkzeug's own result, for the classes and
inputs werkzeug's code would handle the same way, with less work per request:

- :func:`make_request` builds ``request_class(environ)`` in one function (the
  steps of werkzeug's ``Request.__init__``, with no nested calls and no decoding
  of an ASCII path); :func:`routing_path` then reads the path it made.
- :func:`from_body` (``Response.from_body``) builds ``cls(body, mimetype=...)``
  without the general constructor's argument handling.
- :func:`load_urlencoded_form` parses a urlencoded form body without werkzeug's
  parser object (``Request._load_form_data`` calls it for a urlencoded body).
- :func:`session_cookie_header` gives ``dump_cookie``'s Set-Cookie value for a
  session cookie from a template made once per cookie settings, and
  :func:`add_vary_cookie` adds ``Vary: Cookie`` without parsing the header.

Each applies only where werkzeug's behaviour is known to be reproduced: the
constructors only for classes that keep werkzeug's ``__init__`` (and setters),
checked once per class by comparing the object state with the constructor's on
sample inputs (:func:`_check_fast_request_init`, :func:`_check_fast_response_init`,
memoized in weak-keyed :mod:`kolben.caching` caches, so a class made at run time is
freed); the form parser only for the plain urlencoded case of a class that does
not customise form parsing; the cookie template only for a value that needs no
quoting and a response class keeping werkzeug's ``set_cookie``. Anything else
goes to werkzeug.

**Why, measured.** The shared in-process benchmark; two processes pinned to one
core run at the same time, one as is and one with a piece replaced by werkzeug's
own code; thread CPU time per request, median of 5 paired ratios, on the 2-core
development machine (``hello`` is ~21 µs there):

- :func:`make_request` replaced by ``request_class(environ)``: ``hello`` 1.13x
  as long, ``session`` 1.04x, ``form`` 1.03x;
- :func:`from_body` replaced by ``cls(body, mimetype=...)``: ``hello`` 1.61x,
  ``json`` 1.18x;
- :func:`load_urlencoded_form` replaced by werkzeug's parser: ``form`` 1.13x.

The cookie template saves ~3 µs a session save and :func:`add_vary_cookie` ~4 µs
(measured when they were written).

**Verified by** ``tests/test_request_fast_init.py`` (the fast request equals
werkzeug's on ASCII and non-ASCII paths, mount points, unix sockets; subclasses
that customise construction take werkzeug's path), ``tests/test_fast_paths.py``
and ``tests/test_session_fast_paths.py`` (responses, forms, Set-Cookie and Vary
headers equal werkzeug's), and ``tests/test_library_privates.py`` (the werkzeug
privates written or read here: ``Headers._list``, ``Response._status``,
``_status_code``, ``_on_close``, the request's instance dict, ``_get_stream_for_parsing``),
under the version bound in ``pyproject.toml``.
"""

from __future__ import annotations

import inspect
import typing as t
from datetime import datetime
from urllib.parse import parse_qsl

from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import dump_cookie, http_date
from werkzeug.utils import get_content_type
from werkzeug.wrappers import Request as _WerkzeugRequest
from werkzeug.wrappers import Response as _WerkzeugResponse

from .caching import Cache, WeakKeyCache
from .headers import LISTED_HEADER_CLASSES
from .headers import Headers as ResponseHeaders

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "EMPTY_PATH_INFO",
    "URLENCODED",
    "add_vary_cookie",
    "from_body",
    "load_urlencoded_form",
    "make_request",
    "routing_path",
    "session_cookie_header",
]

R = t.TypeVar("R", bound=_WerkzeugResponse)


# -- requests ------------------------------------------------------------------------


def routing_target(request: _WerkzeugRequest) -> tuple[str, str]:
    """The path and method to match ``request`` with: the WSGI environ's
    ``PATH_INFO`` and ``REQUEST_METHOD``, as Flask matches (its URL adapter is
    bound to the environ), not ``request.path`` and ``request.method``, which a
    ``Request`` subclass may rewrite (prefixing the script root, or an
    ``X-HTTP-Method-Override`` property).

    PERF: a request built by kolben's fast constructor has ``path`` and
    ``method`` made from the environ exactly so; only other classes decode the
    environ again.
    """
    if _fast_request_classes.get(id(type(request))):
        path: str = request.path
        if path == "/":
            # PERF: an attribute read (kolben's Request has it as a class default),
            # not a getattr call nor a look in __dict__ (which makes CPython 3.11
            # turn the instance's inline attribute values into a dict).
            try:
                if request._kolben_empty_path_info:  # type: ignore[attr-defined]
                    path = ""
            except AttributeError:  # a werkzeug Request class of the app's own
                pass
        return path, request.method
    environ = request.environ
    method: str = environ.get("REQUEST_METHOD", "GET").upper()
    raw: str | None = environ.get("PATH_INFO")
    if not raw:
        return ("/" if raw is None else ""), method  # werkzeug binds a missing one as "/"
    # PEP 3333: the environ's str is latin-1 of the bytes, decoded as werkzeug does.
    return "/" + raw.encode("latin-1").decode(errors="replace").lstrip("/"), method


def routing_path(request: _WerkzeugRequest) -> str:
    """The path to match ``request`` with (see :func:`routing_target`)."""
    return routing_target(request)[0]


def routing_method(request: _WerkzeugRequest) -> str:
    """The method to match ``request`` with (see :func:`routing_target`)."""
    return routing_target(request)[1]


#: In the instance of a request built by :func:`make_request` (or from an ASGI
#: scope) whose ``PATH_INFO`` is empty (``/app`` for an app mounted at ``/app``):
#: its ``path`` is ``/``, as werkzeug makes it, but it is matched as werkzeug
#: matches an empty path (a rule for ``/`` answers with a redirect to ``/app/``,
#: as in Flask).
EMPTY_PATH_INFO = "_kolben_empty_path_info"  # routing_path reads it by this name


def make_request(request_class: type[_WerkzeugRequest], environ: WSGIEnvironment) -> t.Any:
    """Return ``request_class(environ)``.

    PERF: for a class that keeps werkzeug's constructor, the constructor's steps
    are done here in one function (no nested calls, no decoding of an ASCII
    path), ~40% of its cost. Whether the result is the same object state is
    verified once per class against the constructor; a class that fails the
    check, or overrides ``__init__``, is always constructed normally.
    """
    fast = _fast_request_classes.get(id(request_class))
    if fast is None:
        fast = _check_fast_request_init(request_class)
    if not fast:
        return request_class(environ)
    return _build_request(request_class, environ, fast == HEADERS_ON_READ)


#: In :data:`_fast_request_classes`: the class is built by :func:`_build_request`,
#: its ``headers`` made by :func:`_build_request` (``FAST``), or made when first
#: read (``HEADERS_ON_READ``: kolben's Request, whose class attribute makes them
#: from the environ); ``0``: by its constructor.
FAST, HEADERS_ON_READ = 1, 2


def _build_request(
    request_class: type[_WerkzeugRequest], environ: WSGIEnvironment, headers_on_read: bool = False
) -> t.Any:
    """The steps of werkzeug's ``Request.__init__(environ)``, in one function;
    with ``headers_on_read``, ``headers`` (a view of the environ) is left to the
    class to make when first read. PERF: most requests never read it
    (~3.5k instructions, 3% of a small request)."""
    rv = request_class.__new__(request_class)
    get = environ.get
    rv.method = get("REQUEST_METHOD", "GET").upper()
    rv.scheme = get("wsgi.url_scheme", "http")
    name = get("SERVER_NAME")
    if name is None:
        rv.server = None
    else:
        try:
            port: int | None = int(get("SERVER_PORT", None))  # type: ignore[arg-type]
        except (TypeError, ValueError):  # a unix socket
            port = None
        rv.server = (name, port)
    root_path = get("SCRIPT_NAME") or ""
    if root_path:
        if not root_path.isascii():
            root_path = root_path.encode("latin1").decode(errors="replace")
        root_path = root_path.rstrip("/")
    rv.root_path = root_path
    path = get("PATH_INFO")
    if not path:
        if path is not None:
            # Present and empty: matched as an empty path; werkzeug binds a
            # missing one as "/" (its ``path`` is "/" either way).
            setattr(rv, EMPTY_PATH_INFO, True)
        path = ""
    elif not path.isascii():
        path = path.encode("latin1").decode(errors="replace")
    rv.path = "/" + path.lstrip("/")
    rv.query_string = get("QUERY_STRING", "").encode("latin1")
    if not headers_on_read:
        rv.headers = EnvironHeaders(environ)
    rv.remote_addr = get("REMOTE_ADDR")
    rv.environ = environ
    rv.shallow = False
    environ["werkzeug.request"] = rv
    return rv


# Whether make_request may bypass __init__, per request class (weak keys: a class
# made at run time is freed).
_fast_request_classes: WeakKeyCache[int] = WeakKeyCache(
    256, "kolben._werkzeug_fast: request classes built without __init__"
)


def _check_fast_request_init(cls: type[_WerkzeugRequest]) -> int:
    """Decide once per class whether :func:`make_request` may bypass ``__init__``:
    only when the class keeps werkzeug's constructor and the fast path builds
    exactly the state the constructor does, for a few environs (ASCII and not,
    with and without a server port and a mount point)."""
    ok = False
    headers_on_read = getattr(
        type(inspect.getattr_static(cls, "headers", None)), "makes_headers_from_environ", False
    )
    # A class that defines what the constructor sets (a ``path`` or ``method``
    # property rewriting it, say) is built normally: routing then reads the
    # environ, as Flask routes (see routing_path, routing_method).
    defines_state = any(
        name in klass.__dict__
        for klass in cls.__mro__[: cls.__mro__.index(_WerkzeugRequest)]
        for name in _FAST_SET_NAMES
    )
    if cls.__init__ is _WerkzeugRequest.__init__ and not defines_state:
        try:
            ok = True
            for environ in _sample_environs():
                fast = _build_request(cls, dict(environ), headers_on_read)
                slow = cls(dict(environ))
                fast_state = {**vars(fast), "environ": None, "headers": None}
                fast_state.pop(EMPTY_PATH_INFO, None)
                slow_state = {**vars(slow), "environ": None, "headers": None}
                ok = ok and (
                    fast_state == slow_state
                    and type(fast.headers) is type(slow.headers)
                    and fast.environ == {**slow.environ, "werkzeug.request": fast}
                    and list(fast.headers) == list(slow.headers)
                )
        except Exception:
            ok = False
    kind = (HEADERS_ON_READ if headers_on_read else FAST) if ok else 0
    _fast_request_classes.put_for(cls, kind)
    return kind


#: What :func:`_build_request` sets on the instance.
_FAST_SET_NAMES = (
    "method",
    "scheme",
    "server",
    "root_path",
    "path",
    "query_string",
    "remote_addr",
    "shallow",
)


def _sample_environs() -> list[dict[str, t.Any]]:
    base = {
        "REQUEST_METHOD": "get",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/a/b",
        "QUERY_STRING": "x=1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost:8000",
        "wsgi.url_scheme": "http",
    }
    return [
        base,
        {
            **base,
            "SCRIPT_NAME": "/m\xc3\xa9/",
            "PATH_INFO": "//p\xc3\xa9\xff",
            "SERVER_PORT": "",
            "QUERY_STRING": "\xe9",
        },
        {"PATH_INFO": "", "SERVER_NAME": "/run/app.sock"},
        {},
    ]


# -- responses ---------------------------------------------------------------------

# Whether Response.from_body may bypass __init__, per response class (weak keys:
# a class made at run time is freed): False, or the class's defaults the fast
# path was checked with (see _fast_defaults), truthy.
_fast_response_classes: WeakKeyCache[tuple[t.Any, ...] | bool] = WeakKeyCache(
    256, "kolben._werkzeug_fast: response classes built without __init__"
)

_content_types: Cache[str, str] = Cache(64, "kolben._werkzeug_fast: Content-Type of a mimetype")


def _content_type(mimetype: str) -> str:
    rv = _content_types.get(mimetype)
    if rv is None:
        rv = _content_types.put(mimetype, get_content_type(mimetype, "utf-8"))
    return rv


def _fast_defaults(cls: type[_WerkzeugResponse]) -> tuple[t.Any, ...]:
    """The class attributes the fast path copies: a class (or a base) given new
    ones after its check is checked again."""
    return (cls.default_mimetype, cls.default_status, cls.automatically_set_content_length)


def _check_fast_response_init(cls: type[_WerkzeugResponse]) -> tuple[t.Any, ...] | bool:
    """Decide whether :func:`from_body` may bypass ``__init__`` for ``cls``
    (with its defaults as they are): only when the class keeps werkzeug's
    constructor and the fast path builds exactly the state the constructor
    does."""
    ok: tuple[t.Any, ...] | bool = False
    base = _WerkzeugResponse
    overrides_setters = any(
        name in klass.__dict__
        for klass in cls.__mro__[: cls.__mro__.index(base)]
        for name in ("set_data", "status", "status_code", "headers", "_clean_status")
    )
    if (
        cls.__init__ is base.__init__
        and not overrides_setters
        and cls.automatically_set_content_length
    ):
        mimetype = cls.default_mimetype
        cls._default_content_type = (  # type: ignore[attr-defined]
            get_content_type(mimetype, "utf-8") if mimetype else ""
        )
        if mimetype:
            defaults = _fast_defaults(cls)
            # The fast path is compared before the class is published as fast: a
            # from_body call made meanwhile (another thread) takes the constructor.
            try:
                same = True
                for mt in (None, "application/json"):
                    fast = _build_from_body(cls, "x\u00e9", mt)
                    slow = cls("x\u00e9", mimetype=mt)
                    same = same and (
                        vars(fast) == {**vars(slow), "headers": fast.headers}
                        and fast.headers.to_wsgi_list() == slow.headers.to_wsgi_list()
                    )
                ok = defaults if same else False
            except Exception:
                ok = False
    _fast_response_classes.put_for(cls, ok)
    return ok


#: Whether ``Headers()`` makes nothing but its ``_list`` (so an object made
#: without ``__init__``, given its list, is the same).
_HEADERS_ARE_A_LIST = (
    vars(ResponseHeaders()) == {"_list": []} and ResponseHeaders.__new__ is object.__new__
)
_new_headers = object.__new__


def from_body(cls: type[R], body: str | bytes | bytearray, mimetype: str | None = None) -> R:
    """Return ``cls(body, mimetype=mimetype)``: a 200 response, by default with
    the default mimetype.

    PERF: skips the general constructor's argument handling (~3 µs) when the
    class uses werkzeug's own constructor; the result is the same object state,
    which is verified once per class against the general constructor.
    """
    fast = _fast_response_classes.get(id(cls))
    if fast:
        # The defaults it was checked with: changed since (on it or a base)?
        mimetype_, status_, length_ = fast  # type: ignore[misc]
        if (
            cls.default_mimetype is not mimetype_
            or cls.default_status != status_
            or cls.automatically_set_content_length is not length_
        ):
            fast = _check_fast_response_init(cls)
    elif fast is None:
        fast = _check_fast_response_init(cls)
    if not fast:
        return cls(bytes(body) if isinstance(body, bytearray) else body, mimetype=mimetype)
    return _build_from_body(cls, body, mimetype)


def _build_from_body(cls: type[R], body: str | bytes | bytearray, mimetype: str | None) -> R:
    """The state werkzeug's constructor gives ``cls(body, mimetype=mimetype)``,
    set directly (what :func:`from_body` does for a checked class)."""
    data = body.encode() if isinstance(body, str) else bytes(body)
    rv = cls.__new__(cls)
    # PERF: werkzeug's Headers() only makes its list (checked at import).
    headers = _new_headers(ResponseHeaders) if _HEADERS_ARE_A_LIST else ResponseHeaders()
    content_type = (
        cls._default_content_type  # type: ignore[attr-defined]
        if mimetype is None
        else _content_type(mimetype)
    )
    headers._list = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(data))),
    ]
    rv.headers = headers
    rv._status = "200 OK"
    rv._status_code = 200
    rv.direct_passthrough = False
    rv._on_close = []
    rv.response = [data]
    return rv


# -- urlencoded forms ---------------------------------------------------------------

#: The content type werkzeug parses as a urlencoded form (since werkzeug 3.0 not
#: the invalid ``application/x-url-encoded``, whose body stays unparsed).
URLENCODED = frozenset({"application/x-www-form-urlencoded"})


def load_urlencoded_form(request: t.Any) -> None:
    """Parse a urlencoded body into ``request.form`` (and an empty ``files``), as
    werkzeug's ``Request._load_form_data`` does: the same result, the limits
    applied (``MAX_CONTENT_LENGTH`` through the input stream) and the silence
    about a malformed body are werkzeug's (``MAX_FORM_PARTS`` and
    ``MAX_FORM_MEMORY_SIZE`` apply to multipart forms only, as in werkzeug).

    PERF: werkzeug's parser builds a parser object and unquotes every field
    (~20 µs for five fields).
    """
    stream = request._get_stream_for_parsing()
    storage = request.parameter_storage_class
    d = request.__dict__
    try:
        text = stream.read().decode()
    except ValueError:
        items: list[tuple[str, str]] = []  # werkzeug's parser ignores a bad body
    else:
        if "%" in text or "+" in text:
            items = parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote")
        else:
            items = []
            for piece in text.split("&"):
                if piece:
                    name, _, value = piece.partition("=")
                    items.append((name, value))
    d["stream"] = stream
    d["form"] = storage(items)
    d["files"] = storage()


# -- session cookie headers ----------------------------------------------------------

# Placeholders for building Set-Cookie templates with werkzeug's dump_cookie; the
# value one must be a cookie value werkzeug does not quote.
_VALUE_MARK = "kolbenSessionValueMark"
_EXPIRES_MARK = "kolbenExpiresMark"
_COOKIE_TEMPLATES: Cache[tuple[t.Any, ...], tuple[str, str, str, str]] = Cache(
    64,
    "kolben._werkzeug_fast: Set-Cookie templates",  # settings rarely change
)


def session_cookie_header(
    name: str,
    value: str,
    expires: datetime | None,
    domain: str | None,
    path: str | None,
    secure: bool,
    httponly: bool,
    samesite: str | None,
    partitioned: bool,
) -> str:
    """The Set-Cookie value werkzeug's ``dump_cookie`` gives for the session cookie
    (``value`` must need no quoting), from templates cached per settings."""
    key = (name, domain, path, secure, httponly, samesite, partitioned)
    template = _COOKIE_TEMPLATES.get(key)
    if template is None:
        options: dict[str, t.Any] = {
            "path": path,
            "domain": domain,
            "secure": secure,
            "httponly": httponly,
            "samesite": samesite,
            "partitioned": partitioned,
            "max_size": 0,
        }
        plain = dump_cookie(name, _VALUE_MARK, **options)
        dated = dump_cookie(name, _VALUE_MARK, expires=_EXPIRES_MARK, **options)
        head, _, tail = plain.partition(_VALUE_MARK)
        before, _, after = dated.partition(_VALUE_MARK)[2].partition(_EXPIRES_MARK)
        template = _COOKIE_TEMPLATES.put(key, (head, tail, before, after))
    head, tail, before, after = template
    if expires is None:
        return f"{head}{value}{tail}"
    return f"{head}{value}{before}{http_date(expires)}{after}"


def add_vary_cookie(response: _WerkzeugResponse) -> None:
    """Add ``Cookie`` to the response's ``Vary`` header.

    PERF: ``response.vary.add`` parses and rewrites the header (~4 µs); most
    responses have no ``Vary`` yet, and adding one directly costs a tenth of that.
    """
    headers = response.headers
    if type(headers) in LISTED_HEADER_CLASSES:
        # PERF: one pass over werkzeug's header list instead of a lookup and a set
        # that both normalise every key (~1.5 µs).
        for key, _ in headers._list:
            if key.lower() == "vary":
                break
        else:
            headers._list.append(("Vary", "Cookie"))
            return
    response.vary.add("Cookie")
