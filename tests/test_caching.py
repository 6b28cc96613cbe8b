"""kolben.caching: bounded caches, weak keys, per-app caches, the request-data
switch (REQUEST_DATA_CACHES) and clear_all."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

import kolben
from kolben import router, session
from kolben._werkzeug_fast import _fast_request_classes
from kolben.caching import Cache, WeakKeyCache, app_cache, clear_all, request_data_cache
from kolben.sessions import _VERIFIED_CACHE
from kolben.testing import KolbenClient
from kolben.wrappers import _COOKIE_CACHE, _error_bodies

# -- Cache ------------------------------------------------------------------------------


def test_reads_are_plain_dict_reads() -> None:
    cache: Cache[str, int] = Cache(4)
    assert isinstance(cache, dict)
    assert type(cache).get is dict.get
    assert type(cache).__getitem__ is dict.__getitem__
    assert cache.put("a", 1) == 1
    assert cache.get("a") == 1 and cache["a"] == 1 and "a" in cache


def test_bounded_and_the_oldest_goes_first() -> None:
    cache: Cache[int, int] = Cache(3)
    for i in range(10):
        cache.put(i, i)
        assert len(cache) <= 3
    assert list(cache) == [7, 8, 9]


def test_a_hit_does_not_refresh_an_entry() -> None:
    cache: Cache[str, int] = Cache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert list(cache) == ["b", "c"]


def test_replacing_a_key_evicts_nothing() -> None:
    cache: Cache[str, int] = Cache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    assert cache == {"a": 3, "b": 2}


def test_on_evict_is_told_and_a_lower_bound_applies_at_the_next_put() -> None:
    evicted: list[tuple[int, str]] = []
    cache: Cache[int, str] = Cache(5, on_evict=lambda k, v: evicted.append((k, v)))
    for i in range(5):
        cache.put(i, str(i))
    cache.maxsize = 2
    cache.put(5, "5")
    assert list(cache) == [4, 5]
    assert evicted == [(0, "0"), (1, "1"), (2, "2"), (3, "3")]
    cache.clear()  # not an eviction
    assert len(evicted) == 4


def test_a_cache_of_size_zero_stores_nothing() -> None:
    cache: Cache[str, int] = Cache(0)
    assert cache.put("a", 1) == 1
    assert not cache


def test_threads_never_break_the_bound() -> None:
    cache: Cache[tuple[int, int], int] = Cache(50)
    errors: list[BaseException] = []

    def fill(n: int) -> None:
        try:
            for i in range(5000):
                cache.put((n, i), i)
                cache.get((n, i - 1))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(cache) <= 50


# -- WeakKeyCache -------------------------------------------------------------------------


class _Key:
    pass


def test_weak_keys_free_their_object_and_drop_the_entry() -> None:
    cache: WeakKeyCache[str] = WeakKeyCache(8)
    key = _Key()
    cache.put_for(key, "value")
    assert cache.get(id(key)) == "value"
    assert cache.lookup(key) == "value"
    ref = weakref.ref(key)
    del key
    gc.collect()
    assert ref() is None
    assert not cache and not cache._refs


def test_classes_made_at_run_time_are_freed() -> None:
    cache: WeakKeyCache[bool] = WeakKeyCache(8)

    def make() -> weakref.ref[type]:
        cls = type("Made", (kolben.Request,), {})
        cache.put_for(cls, True)
        _fast_request_classes.put_for(cls, True)
        return weakref.ref(cls)

    ref = make()
    gc.collect()
    assert ref() is None
    assert not cache


def test_an_id_reused_by_a_new_object_is_not_found() -> None:
    cache: WeakKeyCache[str] = WeakKeyCache(8)
    for _ in range(100):
        key = _Key()
        assert cache.lookup(key) is None  # never a dead object's entry
        cache.put_for(key, "value")
        del key


def test_weak_key_cache_is_bounded() -> None:
    cache: WeakKeyCache[int] = WeakKeyCache(3)
    keys = [_Key() for _ in range(10)]
    for i, key in enumerate(keys):
        cache.put_for(key, i)
    assert len(cache) == 3 and len(cache._refs) == 3
    assert [cache.lookup(key) for key in keys[-3:]] == [7, 8, 9]
    assert cache.lookup(keys[0]) is None


def test_an_object_without_weak_references_is_refused() -> None:
    cache: WeakKeyCache[int] = WeakKeyCache(3)
    with pytest.raises(TypeError):
        cache.put_for(42, 1)


# -- per-app caches, clear_all -------------------------------------------------------------


def test_app_caches_are_per_app_and_go_with_the_app() -> None:
    first, second = kolben.Kolben("first"), kolben.Kolben("second")
    app_cache(first, "test", 4).put("k", 1)
    assert app_cache(first, "test", 4) == {"k": 1}
    assert app_cache(second, "test", 4) == {}
    cache_ref = weakref.ref(app_cache(first, "test", 4))
    del first
    gc.collect()
    assert cache_ref() is None


def test_clear_all_empties_every_cache(app: kolben.Kolben, client: KolbenClient) -> None:
    module_cache: Cache[str, int] = Cache(4)
    module_cache.put("a", 1)
    weak: WeakKeyCache[int] = WeakKeyCache(4)
    key = _Key()
    weak.put_for(key, 1)
    app_cache(app, "test", 4).put("a", 1)

    @app.route("/")
    def index() -> str:
        session["a"] = 1
        return ",".join(kolben.request.cookies)

    client.set_cookie("c", "1")
    client.get("/")
    client.get("/")
    client.get("/missing")
    assert _error_bodies and router._compiled and _fast_request_classes
    assert request_data_cache(app, _COOKIE_CACHE, 1)
    clear_all()
    assert not module_cache and not weak and not weak._refs
    assert not app_cache(app, "test", 4)
    assert not _error_bodies and not router._compiled and not _fast_request_classes
    assert not request_data_cache(app, _COOKIE_CACHE, 1)
    assert not request_data_cache(app, _VERIFIED_CACHE, 1)
    assert client.get("/").text == "c,session"  # and everything still works


# -- the request-data switch ----------------------------------------------------------------


@pytest.fixture
def session_app(app: kolben.Kolben) -> kolben.Kolben:
    @app.route("/inc")
    def inc() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.route("/cookies")
    def cookies() -> str:
        return repr(sorted(kolben.request.cookies.items()))

    return app


def _request_data(app: kolben.Kolben) -> dict[str, int]:
    caches = vars(app)
    return {name: len(caches[name]) for name in (_COOKIE_CACHE, _VERIFIED_CACHE) if name in caches}


def test_request_data_is_cached_per_app_by_default(
    session_app: kolben.Kolben, client: kolben.testing.KolbenClient
) -> None:
    assert [client.get("/inc").text for _ in range(3)] == ["1", "2", "3"]
    # No Cookie header, then the two cookies the app set; three cookies verified.
    assert _request_data(session_app) == {_COOKIE_CACHE: 3, _VERIFIED_CACHE: 3}
    other = kolben.Kolben("other")
    assert _request_data(other) == {}


@pytest.mark.parametrize("cached", [True, False])
def test_the_switch_keeps_the_behaviour(
    session_app: kolben.Kolben, client: kolben.testing.KolbenClient, cached: bool
) -> None:
    session_app.config["REQUEST_DATA_CACHES"] = cached
    client.set_cookie("a", "1")
    assert [client.get("/inc").text for _ in range(3)] == ["1", "2", "3"]
    assert client.get("/cookies").text.startswith("[('a', '1'), ('session', ")
    cookie = client.get_cookie("session")
    assert cookie is not None
    payload, timestamp, signature = cookie.value.rsplit(".", 2)
    forged = ("A" if signature[0] != "A" else "B") + signature[1:]  # not the last: its
    client.set_cookie("session", f"{payload}.{timestamp}.{forged}")  # low bits are unused
    assert client.get("/inc").text == "1"  # a tampered cookie is still refused
    if cached:
        assert _request_data(session_app)[_VERIFIED_CACHE] > 0
    else:
        assert not any(_request_data(session_app).values())


def test_parsed_cookies_are_not_shared_when_off(session_app: kolben.Kolben) -> None:
    session_app.config["REQUEST_DATA_CACHES"] = False
    header = "a=1; b=2"
    with session_app.test_request_context(headers={"Cookie": header}):
        first = kolben.request.cookies
    with session_app.test_request_context(headers={"Cookie": header}):
        second = kolben.request.cookies
    assert first == second and first is not second


def test_turning_the_switch_off_empties_what_was_kept(
    session_app: kolben.Kolben, client: kolben.testing.KolbenClient
) -> None:
    client.get("/inc")
    client.get("/inc")
    assert all(_request_data(session_app).values())
    session_app.config["REQUEST_DATA_CACHES"] = False
    assert client.get("/inc").text == "3"
    assert not any(_request_data(session_app).values())
    session_app.config["REQUEST_DATA_CACHES"] = True
    assert client.get("/inc").text == "4"
    assert client.get("/inc").text == "5"
    assert all(_request_data(session_app).values())


def test_request_data_cache_is_none_when_off(app: kolben.Kolben) -> None:
    assert request_data_cache(app, "test", 4) is not None
    app.config["REQUEST_DATA_CACHES"] = False
    assert request_data_cache(app, "test", 4) is None
