"""The WSGI environ of an ASGI HTTP scope, and requests that make it only when read.

werkzeug's request object is built on a WSGI environ, and Flask's API exposes it
(``request.environ``, ``request.headers`` as an ``EnvironHeaders`` view of it). The
ASGI door gives every request that environ, made by :func:`build_environ` from the
scope with PEP 3333's string rules. A request that may have a body gets it up
front (what reads the body reads the environ), but a ``GET`` or ``HEAD``
without one often never reads it. What such a request needs (method, scheme,
server, paths, query string, client address) is set on it from the scope
directly, and the few environ entries the door and the pipeline read before
anything else would (the Host and Cookie headers, the body's framing headers,
the Upgrade header) are picked out of the headers in one pass
(:func:`scan_headers`).
:func:`scope_request` makes such a request; its ``environ`` and ``headers`` are
made on first read by :class:`MadeOnRead`, equal to what :func:`build_environ`
gives (checked once per request class by :func:`scope_requests_allowed`).

PERF: building the environ and the headers view was about a fifth of the ASGI
door's cost for a request that reads neither (``hello`` in the shared benchmark).
"""

from __future__ import annotations

import io
import sys
import typing as t
from urllib.parse import unquote_to_bytes

from werkzeug.datastructures import EnvironHeaders
from werkzeug.wrappers import Request as _WerkzeugRequest

from . import typing as ft
from ._werkzeug_fast import (
    EMPTY_PATH_INFO,
    _check_fast_request_init,
    _fast_request_classes,
    make_request,
)
from .caching import Cache, WeakKeyCache
from .wsgi import PRESERVE_CONTEXT_KEY

#: The environ key holding the ASGI scope, for code that wants it.
SCOPE_KEY = "asgi.scope"
#: Extra environ entries a caller may pass in the scope (used by the test client).
ENVIRON_EXTRA_KEY = "kolben.environ"


def scope_paths(scope: ft.ASGIScope) -> tuple[str, bytes]:
    """The root path of a scope and its path below it: the raw path (bytes),
    percent-decoded, less the root path."""
    root_path: str = scope.get("root_path", "")
    raw_path: bytes | None = scope.get("raw_path")
    if raw_path is not None:
        # PERF: bytes.find, not `in`: CPython's `bytes in bytes` first tries the
        # operand as an int, and the TypeError it makes costs more than the search.
        if raw_path.find(b"?") != -1:
            raw_path = raw_path.partition(b"?")[0]
        # PERF: most paths have nothing percent-encoded.
        path = unquote_to_bytes(raw_path) if raw_path.find(b"%") != -1 else raw_path
        # raw_path is what the server received, "path" what the app is to serve:
        # ASGI middleware that rewrites "path" (a prefix stripped, a version
        # routed) usually leaves raw_path as it was. The raw bytes (exact, where
        # "path" has U+FFFD for bytes that are not UTF-8) are used only while
        # they spell "path" (or "path" less the root path some servers add to
        # "path" alone), as Starlette, Quart and Django route on "path".
        spelled: str = scope["path"]
        try:
            same = path == spelled.encode()
        except UnicodeEncodeError:  # a lone surrogate
            same = False
        if not same:
            text = path.decode("utf-8", "replace")
            if text != spelled and not (
                root_path and spelled.startswith(root_path) and spelled[len(root_path) :] == text
            ):
                path = spelled.encode("utf-8", "surrogatepass")
    else:
        path = scope["path"].encode("utf-8")
    if root_path:
        root = root_path.encode("utf-8")
        # Only at a segment boundary: "/app" is not the root of "/application".
        if path.startswith(root) and path[len(root) : len(root) + 1] in (b"", b"/"):
            path = path[len(root) :]
    return root_path, path


def build_environ(scope: ft.ASGIScope, body: t.IO[bytes]) -> dict[str, t.Any]:
    """The WSGI environ for an ASGI HTTP scope (PEP 3333 string rules)."""
    root_path, path = scope_paths(scope)
    # PERF: the constant entries come from a template (one dict copy).
    environ = _ENVIRON_TEMPLATE.copy()
    environ["REQUEST_METHOD"] = scope["method"]
    # PEP 3333: str of the bytes as latin-1.
    environ["SCRIPT_NAME"] = root_path.encode("utf-8").decode("latin-1") if root_path else ""
    environ["PATH_INFO"] = path.decode("latin-1")
    environ["QUERY_STRING"] = scope.get("query_string", b"").decode("latin-1")
    server = scope.get("server") or _DEFAULT_SERVER
    environ["SERVER_NAME"] = server[0]
    port = server[1]
    environ["SERVER_PORT"] = "" if port is None else str(port)
    version = scope.get("http_version", "1.1")
    # granian gives "1" for HTTP/1.0 (the ASGI spec says "1.0").
    environ["SERVER_PROTOCOL"] = (
        "HTTP/1.1" if version == "1.1" else "HTTP/1.0" if version == "1" else f"HTTP/{version}"
    )
    environ["wsgi.url_scheme"] = scope.get("scheme", "http")
    environ["wsgi.input"] = body
    environ["wsgi.errors"] = sys.stderr
    environ[SCOPE_KEY] = scope
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"] = client[0]
        environ["REMOTE_PORT"] = str(client[1])
    keys = _ENVIRON_KEYS
    # A header sent many times is joined once, at the end: joining as each
    # value comes would copy the value so far every time (quadratic in the
    # header block, which some servers don't bound: seconds of the loop).
    repeated: dict[str, list[str]] | None = None
    for raw_name, raw_value in scope.get("headers", ()):
        key = keys.get(raw_name) or _environ_key(raw_name)
        if key is _DROPPED:
            continue
        value = raw_value.decode("latin-1")
        if key in environ:
            repeated = _note_repeated(repeated, environ, key, value)
        else:
            environ[key] = value
    if repeated:
        _join_repeated(environ, repeated)
    if "CONTENT_LENGTH" not in environ or "HTTP_TRANSFER_ENCODING" in environ:
        # (With Transfer-Encoding the server framed the body by it, whatever a
        # Content-Length said, RFC 9112 6.3; werkzeug ignores the length then.)
        # A body of unknown length (chunked, HTTP/2) ends where the server's
        # stream ends. With a Content-Length the key is absent, as from
        # werkzeug's server: werkzeug then reads the body through a stream
        # limited to the environ's CONTENT_LENGTH (which middleware may change)
        # with sized reads (what a wrapped ``wsgi.input`` may need).
        environ["wsgi.input_terminated"] = True
    extra = scope.get(ENVIRON_EXTRA_KEY)
    if extra:
        environ.update(extra)
    return environ


def _note_repeated(
    repeated: dict[str, list[str]] | None, target: dict[str, t.Any], key: str, value: str
) -> dict[str, list[str]]:
    """Note ``value``, another value of the header ``key`` already in ``target``,
    in ``repeated`` (made on the first repeat): :func:`_join_repeated` joins
    them all once, at the end."""
    if repeated is None:
        repeated = {}
    values = repeated.get(key)
    if values is None:
        repeated[key] = [target[key], value]
    else:
        values.append(value)
    return repeated


def _join_repeated(target: dict[str, t.Any], repeated: dict[str, list[str]]) -> None:
    """Set the environ value of each header sent more than once: its values
    joined (cookies joined as one Cookie header)."""
    for key, values in repeated.items():
        target[key] = ("; " if key == "HTTP_COOKIE" else ",").join(values)


_DEFAULT_SERVER = ("localhost", 80)
_ENVIRON_TEMPLATE: dict[str, t.Any] = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "",
    "QUERY_STRING": "",
    "SERVER_NAME": "",
    "SERVER_PORT": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.input": None,
    "wsgi.errors": None,
    "wsgi.multithread": True,
    "wsgi.multiprocess": True,
    "wsgi.run_once": False,
    SCOPE_KEY: None,
}


# PERF: header name -> environ key, for the names clients send (bounded: the names
# are the client's choice; see kolben.caching for the eviction).
_ENVIRON_KEYS: Cache[bytes, str] = Cache(512, "kolben.asgi: environ keys of header names")


#: What :func:`_environ_key` gives for a header name with an underscore: the
#: header is left out of the environ.
_DROPPED = "\0dropped"


def _environ_key(raw_name: bytes) -> str:
    """The environ key of a header name (``x-forwarded-for`` ->
    ``HTTP_X_FORWARDED_FOR``), or :data:`_DROPPED` for a name with an underscore.

    A name with an underscore would map to the same key as the name with a dash
    (``X_Forwarded_For`` and ``X-Forwarded-For``), so a client could pass off its
    own value as one a proxy sets; it is left out, as werkzeug's server and
    gunicorn do.
    """
    if raw_name.find(b"_") != -1:
        return _ENVIRON_KEYS.put(raw_name, _DROPPED)
    name = raw_name.decode("latin-1").upper().replace("-", "_")
    key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{name}"
    return _ENVIRON_KEYS.put(raw_name, key)


# -- requests whose environ is made when read ------------------------------------------

#: The environ entries :func:`scan_headers` picks out: what the door and the
#: pipeline read before any user code could read the environ.
KNOWN_HEADERS = frozenset(
    {"HTTP_HOST", "HTTP_COOKIE", "CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING", "HTTP_UPGRADE"}
)

#: The lowercase header names of :data:`KNOWN_HEADERS`.
_KNOWN_RAW_NAMES: dict[bytes, str] = {
    (key[5:] if key.startswith("HTTP_") else key).lower().replace("_", "-").encode(): key
    for key in KNOWN_HEADERS
}

#: The environ entries :func:`build_environ` makes from the scope (all but the
#: ``HTTP_`` headers).
SCOPE_ENTRIES = frozenset(
    {
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "wsgi.version",
        "wsgi.url_scheme",
        "wsgi.input",
        "wsgi.multithread",
        "wsgi.multiprocess",
        "wsgi.run_once",
        "wsgi.input_terminated",
    }
)

#: Extra environ entries (the test client's) that a scope request can't have:
#: they would change what it reads from the scope.
_SCOPE_READS = KNOWN_HEADERS | SCOPE_ENTRIES


def scan_headers(scope: ft.ASGIScope) -> dict[str, str]:
    """The :data:`KNOWN_HEADERS` entries the scope's environ would have (a header
    sent twice joined as :func:`build_environ` joins it), plus the test client's
    :data:`PRESERVE_CONTEXT_KEY` entry."""
    known: dict[str, str] = {}
    repeated: dict[str, list[str]] | None = None
    watched = _KNOWN_RAW_NAMES
    for raw_name, raw_value in scope.get("headers", ()):
        key = watched.get(raw_name)
        if key is None:
            if raw_name.islower():
                continue  # PERF: a header the door doesn't read (ASGI names are lowercase)
            key = _ENVIRON_KEYS.get(raw_name) or _environ_key(raw_name)
            if key not in KNOWN_HEADERS:
                continue
        value = raw_value.decode("latin-1")
        if key in known:
            repeated = _note_repeated(repeated, known, key, value)
        else:
            known[key] = value
    if repeated:
        _join_repeated(known, repeated)
    extra = scope.get(ENVIRON_EXTRA_KEY)
    if extra and PRESERVE_CONTEXT_KEY in extra:
        known[PRESERVE_CONTEXT_KEY] = extra[PRESERVE_CONTEXT_KEY]
    return known


def scope_request(
    request_class: type[_WerkzeugRequest], scope: ft.ASGIScope, known: dict[str, str]
) -> t.Any:
    """A request of ``request_class`` for an HTTP scope of a request without a
    body, with ``known`` from :func:`scan_headers`: the state werkzeug's
    constructor sets from the environ, set from the scope; ``environ`` (its
    ``wsgi.input`` an empty stream) and ``headers`` made when first read.

    Only for a class :func:`scope_requests_allowed` allows.
    """
    rv = request_class.__new__(request_class)
    rv.method = scope["method"].upper()
    rv.scheme = scope.get("scheme", "http")
    name, port = scope.get("server") or _DEFAULT_SERVER
    if name is None:
        rv.server = None
    else:
        if type(port) is not int and port is not None:
            try:
                port = int(str(port))
            except ValueError:
                port = None
        rv.server = (name, port)
    spelled: str = scope["path"]
    if not scope.get("root_path") and spelled.isascii():
        # PERF: an ASCII "path" and no root path: scope_paths would give "path"
        # itself whatever raw_path is (raw bytes are kept only when they are
        # not UTF-8, and then "path" has U+FFFD, not ASCII). ~0.3 us a request.
        if not spelled:
            setattr(rv, EMPTY_PATH_INFO, True)
        rv.root_path = ""
        single = spelled[:1] == "/" and spelled[1:2] != "/"
        rv.path = spelled if single else "/" + spelled.lstrip("/")
    else:
        root_path, path = scope_paths(scope)
        if not path:
            setattr(rv, EMPTY_PATH_INFO, True)
        # As werkzeug decodes SCRIPT_NAME and PATH_INFO (UTF-8, errors replaced).
        rv.root_path = root_path.rstrip("/")
        text = path.decode("latin-1") if path.isascii() else path.decode(errors="replace")
        rv.path = "/" + text.lstrip("/")
    rv.query_string = scope.get("query_string", b"")
    client = scope.get("client")
    rv.remote_addr = client[0] if client else None
    rv.shallow = False
    state = rv.__dict__
    state["_scope"] = scope
    state["_known_environ"] = known
    return rv


def can_make_lazily(scope: ft.ASGIScope, known: dict[str, str]) -> bool:
    """Whether a request for ``scope`` may make its environ when read: not for an
    upgrade (the adapter cache doesn't cover it), nor with extra environ entries
    that the request's state is read from."""
    if "HTTP_UPGRADE" in known:
        return False
    extra = scope.get(ENVIRON_EXTRA_KEY)
    return not extra or _SCOPE_READS.isdisjoint(extra)


class MadeOnRead:
    """``environ`` or ``headers`` of a request made by :func:`scope_request`: both
    made on the first read of either, then kept in the instance. A request built
    from an environ has its environ from the start, and its ``headers`` are made
    here from it when first read (:func:`kolben._werkzeug_fast.make_request`)."""

    __slots__ = ("name",)

    #: ``headers`` of a request built from an environ without them
    #: (kolben._werkzeug_fast.make_request) is made from its environ here.
    makes_headers_from_environ = True

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: t.Any, owner: type[t.Any] | None = None) -> t.Any:
        if obj is None:
            return self
        scope = obj._scope
        if scope is None:
            state = obj.__dict__
            if self.name == "headers" and "environ" in state:
                # A request made from an environ: its headers view, made once.
                headers = state["headers"] = EnvironHeaders(state["environ"])
                return headers
            raise AttributeError(f"{type(obj).__name__!r} object has no attribute {self.name!r}")
        environ = build_environ(scope, io.BytesIO())
        state = obj.__dict__
        # The request, as werkzeug's constructor links it; None once the request
        # context was popped, which unlinks it (in the known entries until now).
        known = state.get("_known_environ")
        environ["werkzeug.request"] = obj if known is None else known.get("werkzeug.request", obj)
        state["environ"] = environ
        state["headers"] = EnvironHeaders(environ)
        # From now on the pipeline reads the environ (KnownEnviron), whatever
        # code does with request.environ.
        del state["_known_environ"]
        return state[self.name]


class KnownEnviron:
    """A request's ``_known_environ`` when its instance has none (any request
    but one made by :func:`scope_request` whose environ is not made yet): its
    ``environ``, as it is now."""

    __slots__ = ()

    def __get__(self, obj: t.Any, owner: type[t.Any] | None = None) -> t.Any:
        if obj is None:
            return self
        return obj.environ


# Whether scope_request may make requests of a class (weak keys).
_scope_request_classes: WeakKeyCache[bool] = WeakKeyCache(
    256, "kolben.asgi_environ: request classes made from a scope"
)


def scope_requests_allowed(request_class: type[t.Any]) -> bool:
    """Whether :func:`scope_request` may make requests of ``request_class``:
    decided once per class. It must keep werkzeug's constructor (the fast
    constructor's check), keep :class:`MadeOnRead` for ``environ`` and
    ``headers``, and give, on sample scopes, the state, environ and headers that
    the environ-built request has."""
    allowed = _scope_request_classes.get(id(request_class))
    if allowed is None:
        allowed = _check_scope_requests(request_class)
    return allowed


def _check_scope_requests(cls: type[t.Any]) -> bool:
    from inspect import getattr_static

    fast_init = _fast_request_classes.get(id(cls))
    if fast_init is None:
        fast_init = _check_fast_request_init(cls)
    ok = bool(fast_init) and all(
        isinstance(getattr_static(cls, name, None), MadeOnRead) for name in ("environ", "headers")
    )
    if ok:
        try:
            for scope in _sample_scopes():
                fast = scope_request(cls, scope, scan_headers(scope))
                slow = make_request(cls, build_environ(scope, fast.environ["wsgi.input"]))
                private = {"_scope": None, "_known_environ": None}
                fast_state = {**vars(fast), "environ": None, "headers": None, **private}
                slow_state = {**vars(slow), "environ": None, "headers": None, **private}
                ok = ok and (
                    fast_state == slow_state
                    and fast.environ == {**slow.environ, "werkzeug.request": fast}
                    and list(fast.headers) == list(slow.headers)
                    and scan_headers(scope)
                    == {k: v for k, v in slow.environ.items() if k in KNOWN_HEADERS}
                )
        except Exception:
            ok = False
    _scope_request_classes.put_for(cls, ok)
    return ok


def _sample_scopes() -> list[dict[str, t.Any]]:
    base: dict[str, t.Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/a/b",
        "raw_path": b"/a/b",
        "root_path": "",
        "query_string": b"x=1",
        "headers": [(b"host", b"localhost:8000"), (b"cookie", b"a=1")],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
    }
    return [
        base,
        {
            **base,
            "method": "post",
            "root_path": "/m\u00e9",
            "path": "/m\u00e9//p\u00e9 x",
            "raw_path": b"/m%C3%A9//p%C3%A9%20x%FF",
            "query_string": b"\xe9=1",
            "headers": [
                (b"host", b"a"),
                (b"host", b"b"),
                (b"cookie", b"a=1"),
                (b"cookie", b"b=2"),
                (b"content-length", b"3"),
                (b"x_forwarded_for", b"1.2.3.4"),
            ],
            "server": ("/run/app.sock", None),
            "client": None,
        },
        {"type": "http", "method": "GET", "path": "/", "headers": []},
    ]
