"""URL matching and building on werkzeug's routing, with adapters bound once.

Flask binds a new :class:`~werkzeug.routing.MapAdapter` to every request, twice.
kolben keeps one adapter per (host, scheme, script root) and passes the path and
method of each request to ``match``; a request that builds a URL gets its own bound
adapter lazily, copied from the cached one.
"""

from __future__ import annotations

import copy
import typing as t
from urllib.parse import quote

from werkzeug.routing import BaseConverter, Map, MapAdapter, Rule

from ._werkzeug_fast import routing_target
from .caching import Cache

if t.TYPE_CHECKING:
    from .wrappers import Request

__all__ = ["AdapterCache", "BaseConverter", "Map", "MapAdapter", "Rule", "quote_anchor"]

_ANCHOR_SAFE = "%!#$&'()*+,/:;=?@"


def quote_anchor(anchor: str) -> str:
    """Quote a URL fragment for ``url_for(..., _anchor=...)``."""
    return quote(anchor, safe=_ANCHOR_SAFE)


#: The first item of an adapter cache key made from an ASGI scope.
_FROM_SCOPE = "asgi scope"


#: The longest ``Host`` header whose adapter is kept (a DNS name has at most 253
#: characters, plus a port); a longer one is bound for its request only.
MAX_CACHED_HOST = 300


class AdapterCache:
    """Map adapters for matching, one per distinct request origin, and the rules
    without arguments matched for an origin, path and method.

    The key is made of the WSGI environ values ``bind_to_environ`` reads besides
    the path, method and query (which ``match`` is given per request). Bounded
    (:class:`kolben.caching.Cache`: the oldest entry goes first) because the
    Host header is chosen by the client.
    """

    __slots__ = ("_adapters", "_matches")

    #: How many matches of rules without arguments are remembered, for all
    #: origins together (a rule without methods matches any method name a client
    #: sends, so the count is the client's choice).
    matches_size = 4096

    def __init__(self, max_size: int = 128) -> None:
        self._adapters: Cache[tuple[t.Any, ...], MapAdapter] = Cache(
            max_size, "kolben.routing: map adapters"
        )
        # (origin key, path, method) -> rule: a rule without arguments matches a
        # path the same way every time for the same binding (the key holds all
        # of it), whichever adapter object the key has now.
        self._matches: Cache[tuple[tuple[t.Any, ...], str, str], Rule] = Cache(
            self.matches_size, "kolben.routing: matches of rules without arguments"
        )

    @property
    def max_size(self) -> int:
        """How many adapters are kept."""
        return self._adapters.maxsize

    @max_size.setter
    def max_size(self, value: int) -> None:
        self._adapters.maxsize = value

    @staticmethod
    def key(request: Request, settings: t.Any) -> tuple[t.Any, ...] | None:
        """Return the cache key for ``request`` and the app's ``settings`` that
        binding reads (hashable), or None if it must not be cached."""
        scope = request._scope
        if scope is not None and "environ" not in request.__dict__:
            # A request made from an ASGI scope, its environ not made: the scope
            # values the environ's entries would be made of (never an upgrade:
            # kolben.asgi_environ.can_make_lazily).
            server = scope.get("server")
            return (
                _FROM_SCOPE,
                request._known_environ.get("HTTP_HOST"),
                None if server is None else tuple(server),
                scope.get("scheme", "http"),
                scope.get("root_path", ""),
                settings,
            )
        environ = request.environ
        if "HTTP_UPGRADE" in environ:  # websocket upgrades change the scheme; rare
            return None
        return (
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ.get("wsgi.url_scheme"),
            environ.get("SCRIPT_NAME"),
            settings,
        )

    def get(self, key: tuple[t.Any, ...]) -> MapAdapter | None:
        return self._adapters.get(key)

    @staticmethod
    def _keeps(key: tuple[t.Any, ...]) -> bool:
        """Whether entries for ``key`` are kept: not for a ``Host`` header longer
        than :data:`MAX_CACHED_HOST` (a client could make each kept entry hold
        megabytes): that request is bound, and matched, for itself only."""
        host = key[1] if key[0] is _FROM_SCOPE else key[0]
        return host is None or len(host) <= MAX_CACHED_HOST

    def put(self, key: tuple[t.Any, ...], adapter: MapAdapter) -> None:
        """Keep ``adapter`` for ``key`` (see :meth:`_keeps`)."""
        if self._keeps(key):
            self._adapters.put(key, adapter)

    def clear(self) -> None:
        self._adapters.clear()
        self._matches.clear()

    def matched(self, key: tuple[t.Any, ...], path: str, method: str) -> Rule | None:
        """The rule without arguments matched before for the origin ``key``,
        ``path`` and ``method``, if remembered."""
        return self._matches.get((key, path, method))

    def remember(self, key: tuple[t.Any, ...], path: str, method: str, rule: Rule) -> None:
        """Remember that the origin ``key`` matched ``path`` and ``method`` to
        ``rule``, a rule without arguments: it always will, until the map's
        rules change (:meth:`forget_matches`)."""
        if self._keeps(key):
            self._matches.put((key, path, method), rule)

    def forget_matches(self) -> None:
        """Forget every remembered match (the map's rules changed)."""
        self._matches.clear()


def rebind(adapter: MapAdapter, request: Request) -> MapAdapter:
    """Return a copy of a cached ``adapter`` bound to this request's path and method."""
    bound = copy.copy(adapter)
    # What bind_to_environ binds: the environ's PATH_INFO (not a rewritten
    # ``request.path``; empty stays empty) and QUERY_STRING, decoded as werkzeug
    # decodes them (UTF-8, what isn't replaced).
    bound.path_info, bound.default_method = routing_target(request)
    bound.query_args = request.query_string.decode("utf-8", "replace")
    return bound
