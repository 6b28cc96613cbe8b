"""The caches of kolben: one helper for every memo the framework keeps.

kolben remembers work it would otherwise repeat on every request (a parsed
Cookie header, a verified session cookie, a bound URL adapter, a rendered error
page...). Every such memory is one of the two classes here, so each is bounded,
evicts the same way, can be cleared, and never keeps an app or a class alive:

:class:`Cache`
    A ``dict`` with a bound. Reading is a plain dict read (``cache.get(key)``;
    nothing is done on a hit, so a cache on the per-request path costs one dict
    lookup). Writing goes through :meth:`Cache.put`, which evicts when the cache
    is full.

:class:`WeakKeyCache`
    A :class:`Cache` for values about an object that must be freed when nothing
    else uses it: an app, a class made at run time, a URL map. Entries are keyed
    by ``id(obj)`` and dropped when ``obj`` is garbage collected (a weak
    reference with a callback), so the id of a dead object is never found; read
    it with ``cache.get(id(obj))``, one dict lookup. A value must not refer to
    its object, or the object is never collected.

**Bounds and eviction.** Every cache has a ``maxsize``. Entries are only ever
removed when one is added to a full cache (:meth:`Cache.put`): the *oldest
entry* (first inserted) goes, one for each entry added; a hit does not refresh
an entry. So a cache never holds more than ``maxsize`` entries, a read never
writes, and a stream of new keys (Host or Cookie headers are chosen by clients)
evicts the oldest entries instead of growing memory. A ``maxsize`` of 0 or less
stores nothing. A :class:`WeakKeyCache` also drops an entry as soon as its object
is collected.

**Caches of an app.** :func:`app_cache` gives the cache of one name for one app,
kept on that app (in its ``__dict__``) and freed with it. The caches that hold *request data*
(the parsed Cookie headers, the decoded session cookies) are such per-app caches,
obtained with :func:`request_data_cache`; the ``REQUEST_DATA_CACHES`` config key
(default True) turns them off for an app, which also empties them, so that the
headers and session payloads of past requests are not kept in memory.

**Clearing.** Every cache registers itself (weakly) when it is made;
:func:`clear_all` empties all of them, for example between tests. Caches only
ever hold what can be computed again, so clearing changes no behaviour.
"""

from __future__ import annotations

import functools
import typing as t
import weakref

__all__ = [
    "REQUEST_DATA_CACHES",
    "Cache",
    "WeakKeyCache",
    "app_cache",
    "clear_all",
    "request_data_cache",
]

K = t.TypeVar("K")
V = t.TypeVar("V")

#: The config key that turns an app's request-data caches on (default) or off.
REQUEST_DATA_CACHES = "REQUEST_DATA_CACHES"

#: id(cache) -> cache, for every cache alive (see clear_all).
_registry: weakref.WeakValueDictionary[int, Cache[t.Any, t.Any]] = weakref.WeakValueDictionary()


class Cache(dict[K, V]):
    """A bounded dict: read it as a dict, add to it with :meth:`put`.

    :param maxsize: the most entries it holds; when full, :meth:`put` evicts the
        oldest entry first. 0 or less: nothing is stored.
    :param name: what the cache is for, shown by ``repr``.
    :param on_evict: called with ``(key, value)`` for each entry evicted to make
        room (not for :meth:`clear`), for a cache whose entries own something else.
    """

    __slots__ = ("__weakref__", "maxsize", "name", "on_evict")

    def __init__(
        self,
        maxsize: int,
        name: str = "",
        on_evict: t.Callable[[K, V], None] | None = None,
    ) -> None:
        super().__init__()
        self.maxsize = maxsize
        self.name = name
        self.on_evict = on_evict
        _registry[id(self)] = self

    def put(self, key: K, value: V) -> V:
        """Store ``value`` under ``key`` and return it; when the cache is full,
        first evict its oldest entries (first inserted) to make room."""
        if len(self) >= self.maxsize and key not in self:
            if self.maxsize <= 0:
                return value
            self._evict(len(self) - self.maxsize + 1)
        self[key] = value
        return value

    def _evict(self, count: int) -> None:
        on_evict = self.on_evict
        for _ in range(count):
            try:
                # A dict iterates in insertion order: the first key is the oldest.
                key = next(iter(self))
            except (StopIteration, RuntimeError):  # emptied or changed by another thread
                return
            value = self.pop(key, _MISSING)
            if value is not _MISSING and on_evict is not None:
                on_evict(key, value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self)}/{self.maxsize}>"


_MISSING: t.Any = object()


class WeakKeyCache(Cache[int, V]):
    """A bounded cache of values about objects, keyed by ``id(obj)``, whose entry
    goes when ``obj`` is garbage collected.

    Read with ``cache.get(id(obj))`` (one dict lookup: the hot path) or
    :meth:`lookup`; write with :meth:`put_for`. The object must support weak
    references (classes, apps, functions and most instances do): :meth:`put_for`
    raises :exc:`TypeError` for one that doesn't. A value must not refer to its
    object, or the object would be kept alive.
    """

    __slots__ = ("_refs",)

    def __init__(self, maxsize: int, name: str = "") -> None:
        super().__init__(maxsize, name, on_evict=self._forget_ref)
        self._refs: dict[int, weakref.ref[t.Any]] = {}

    def lookup(self, obj: object, default: t.Any = None) -> t.Any:
        """The value stored for ``obj``, or ``default``."""
        return self.get(id(obj), default)

    def put_for(self, obj: object, value: V) -> V:
        """Store ``value`` for ``obj`` (until ``obj`` is collected or the entry is
        evicted) and return it."""
        key = id(obj)
        ref = self._refs.get(key)
        if ref is None or ref() is not obj:
            self._refs[key] = weakref.ref(obj, functools.partial(_drop, weakref.ref(self), key))
        self.put(key, value)
        if self.maxsize <= 0:
            self._refs.pop(key, None)
        return value

    def _forget_ref(self, key: int, value: V) -> None:
        self._refs.pop(key, None)

    def clear(self) -> None:
        """Remove every entry, and the weak references that watch their objects."""
        super().clear()
        self._refs.clear()


def _drop(cache_ref: weakref.ref[WeakKeyCache[t.Any]], key: int, ref: weakref.ref[t.Any]) -> None:
    """The weak reference callback: ``ref``'s object is gone, and its entry too."""
    cache = cache_ref()
    if cache is not None and cache._refs.get(key) is ref:
        del cache._refs[key]
        cache.pop(key, None)


# -- caches of an app ---------------------------------------------------------------
#
# Kept in the app's own __dict__, under their name (a string that is not an
# identifier, so it never clashes with an attribute): freed with the app, and
# found with one dict lookup on the per-request path.


class _RequestDataCache(Cache[K, V]):
    """A per-app cache of request data: emptied when the app's switch is off."""

    __slots__ = ()


def app_cache(app: t.Any, name: str, maxsize: int) -> Cache[t.Any, t.Any]:
    """The cache called ``name`` of ``app`` (made with ``maxsize`` on first use):
    kept on the app, freed with it. ``name`` must not be an identifier (say
    ``"kolben.static: file versions"``)."""
    cache: Cache[t.Any, t.Any] | None = app.__dict__.get(name)
    if cache is None:
        cache = app.__dict__.setdefault(name, Cache(maxsize, f"{name} of app {id(app):#x}"))
    return cache


def request_data_cache(app: t.Any, name: str, maxsize: int) -> Cache[t.Any, t.Any] | None:
    """The per-app cache ``name`` (see :func:`app_cache`) for data taken from
    requests, or None when the app's ``REQUEST_DATA_CACHES`` config is false (the
    caller then computes the value each time). Turning the config off empties
    the app's request-data caches at their next use.
    """
    if app.config.get(REQUEST_DATA_CACHES, True):
        cache: Cache[t.Any, t.Any] | None = app.__dict__.get(name)
        if cache is None:
            cache = app.__dict__.setdefault(
                name, _RequestDataCache(maxsize, f"{name} (request data) of app {id(app):#x}")
            )
        return cache
    _empty_request_data(app)
    return None


def request_data_caching(app: t.Any) -> bool:
    """Whether ``app`` keeps request data in caches (``REQUEST_DATA_CACHES``);
    when it doesn't, what its request-data caches still hold is dropped."""
    if app.config.get(REQUEST_DATA_CACHES, True):
        return True
    _empty_request_data(app)
    return False


def _empty_request_data(app: t.Any) -> None:
    for value in list(app.__dict__.values()):
        if type(value) is _RequestDataCache and value:
            value.clear()


def clear_all() -> None:
    """Empty every cache kolben keeps (each app's included).

    Caches hold only what can be computed again, so this changes no behaviour;
    the test suite calls it between tests so that no test sees another's cached
    state.
    """
    for cache in list(_registry.values()):
        cache.clear()
