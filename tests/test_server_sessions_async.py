"""The async path of session interfaces and server-side stores
(``open_session_async`` / ``save_session_async``, ``SessionStore.aload`` ...):
the same cookies and records as the sync path, the same 503 when Redis is down, a
Redis client per event loop closed with its loop, and which interfaces and stores
offer the path (``has_async_io``). Against the real Redis on 127.0.0.1 (database
``KOLBEN_TEST_REDIS_DB``, a key prefix per test)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import logging
import re
import threading
import time
import typing as t
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis

import kolben
from kolben import request
from kolben.pipeline import run_steps
from kolben.server_sessions import (
    MemorySessionStore,
    RedisSessionStore,
    ServerSideSession,
    ServerSideSessionInterface,
    SessionStore,
    SessionUnavailable,
    UnavailableSession,
)
from kolben.sessions import (
    SecureCookieSessionInterface,
    SessionInterface,
    SessionMixin,
    replace_with_error_response,
)
from kolben.wrappers import Response
from sse_apps import redis_env

needs_redis = pytest.mark.redis
WAIT = 5.0
LIFETIME = 3600


def make_app(backend: str, prefix: str, **config: t.Any) -> kolben.Kolben:
    app = kolben.Kolben(__name__)
    settings: dict[str, t.Any] = {
        "SECRET_KEY": "test key",
        "SESSION_BACKEND": backend,
        "SESSION_REDIS_URL": redis_env.URL,
        "SESSION_KEY_PREFIX": prefix,
        "PERMANENT_SESSION_LIFETIME": timedelta(seconds=LIFETIME),
    }
    app.config.update(settings, **config)
    return app


def interface_of(app: kolben.Kolben) -> ServerSideSessionInterface:
    return t.cast(ServerSideSessionInterface, app.session_interface)


def cookie_header(value: str | None) -> dict[str, str]:
    return {"Cookie": f"session={value}"} if value else {}


@pytest.fixture
def fixed_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Session ids from a counter, restarted by calling the returned function, so
    two runs of one sequence make the same ids (and so the same signed cookies)."""
    counter: Iterator[int] = iter(())

    def restart() -> None:
        nonlocal counter
        counter = itertools.count(1)

    def next_id() -> str:
        return f"{next(counter):043d}"

    restart()
    monkeypatch.setattr("kolben.server_sessions.new_session_id", next_id)
    return restart


# -- the same results on both paths -----------------------------------------------------------

#: One request's use of the session, and what to do to the records before it.
Step = tuple[str, Callable[[SessionMixin], object]]


def regenerate_as(user: str) -> Callable[[SessionMixin], object]:
    def op(sess: SessionMixin) -> None:
        t.cast(ServerSideSession, sess).regenerate()
        sess["user"] = user

    return op


def clear_and_set(sess: SessionMixin) -> None:
    sess.clear()
    sess["notice"] = "bye"


def make_permanent(sess: SessionMixin) -> None:
    sess.permanent = True


SEQUENCE: list[Step] = [
    ("read-nothing", lambda s: s.get("a")),  # a new session, never stored
    ("new", lambda s: s.__setitem__("a", 1)),
    ("read", lambda s: s.get("a")),  # unchanged, not permanent: nothing written
    ("modify", lambda s: s.__setitem__("b", [1, (2, 3)])),
    ("regenerate", regenerate_as("ada")),
    ("permanent", make_permanent),
    ("refresh", lambda s: s.get("a")),  # permanent: record kept, cookie sent again
    ("clear-and-set", clear_and_set),  # the old record goes, a new id
    ("clear", lambda s: s.clear()),  # record and cookie deleted
    ("after-clear", lambda s: s.get("notice")),
    ("new-again", lambda s: s.__setitem__("a", 2)),
    ("regenerate-twice", lambda s: (regenerate_as("x")(s), regenerate_as("y")(s))),
]


class Outcome(t.NamedTuple):
    step: str
    opened: tuple[type, dict[str, t.Any], bool]
    status: int
    set_cookie: list[str]
    vary: str | None
    records: dict[str, tuple[t.Any, str]]


def normalize_cookie(header: str) -> str:
    return re.sub(r"Expires=[^;]+", "Expires=<date>", header)


def redis_records(prefix: str) -> dict[str, tuple[t.Any, str]]:
    """The stored records under ``prefix``: id -> (data, "full" or "short" TTL)."""
    admin = redis_env.admin()
    try:
        rv = {}
        for key in admin.scan_iter(match=f"{prefix}*", count=1000):
            data = admin.get(key)
            ttl = admin.ttl(key)
            assert data is not None
            rv[key.decode()[len(prefix) :]] = (
                json.loads(data),
                "full" if ttl > LIFETIME - 60 else "short",
            )
        return rv
    finally:
        admin.close()


def shorten_ttls(prefix: str) -> None:
    admin = redis_env.admin()
    try:
        for key in admin.scan_iter(match=f"{prefix}*", count=1000):
            admin.expire(key, 100)
    finally:
        admin.close()


def outcome(
    step: str, sess: SessionMixin, opened: tuple[type, dict[str, t.Any], bool], response: Response
) -> tuple[Outcome, str | None]:
    """What one request gave, and the session cookie the client holds after it."""
    headers = response.headers.getlist("Set-Cookie")
    cookie = None
    for header in headers:
        cookie = header.partition(";")[0].partition("=")[2] or None
    return (
        Outcome(
            step,
            opened,
            response.status_code,
            [normalize_cookie(h) for h in headers],
            response.headers.get("Vary"),
            {},
        ),
        cookie,
    )


def opened_state(sess: SessionMixin | None) -> tuple[type, dict[str, t.Any], bool]:
    assert sess is not None
    return (type(sess), dict(sess), bool(getattr(sess, "new", False)))


def run_sync(
    app: kolben.Kolben,
    records: Callable[[], dict[str, t.Any]],
    sequence: list[Step] = SEQUENCE,
) -> list[Outcome]:
    interface = app.session_interface
    cookie: str | None = None
    results = []
    for step, op in sequence:
        if step == "refresh":
            records_before_refresh(app)
        with app.test_request_context("/", headers=cookie_header(cookie)):
            sess = interface.open_session(app, request)
            opened = opened_state(sess)
            assert sess is not None
            sess.accessed = True  # as the request context does on use
            op(sess)
            response = app.response_class("ok")
            interface.save_session(app, sess, response)
        result, new_cookie = outcome(step, sess, opened, response)
        if new_cookie is not None or any(h.startswith("session=;") for h in result.set_cookie):
            cookie = new_cookie
        results.append(result._replace(records=records()))
    return results


def run_async(
    app: kolben.Kolben,
    records: Callable[[], dict[str, t.Any]],
    sequence: list[Step] = SEQUENCE,
) -> list[Outcome]:
    interface = app.session_interface
    assert interface.has_async_io

    async def main() -> list[Outcome]:
        cookie: str | None = None
        results = []
        for step, op in sequence:
            if step == "refresh":
                records_before_refresh(app)
            with app.test_request_context("/", headers=cookie_header(cookie)):
                sess = await interface.open_session_async(app, request)
                opened = opened_state(sess)
                assert sess is not None
                sess.accessed = True
                op(sess)
                response = app.response_class("ok")
                await interface.save_session_async(app, sess, response)
            result, new_cookie = outcome(step, sess, opened, response)
            if new_cookie is not None or any(h.startswith("session=;") for h in result.set_cookie):
                cookie = new_cookie
            results.append(result._replace(records=records()))
        return results

    return asyncio.run(main())


def records_before_refresh(app: kolben.Kolben) -> None:
    """Before the refresh step: shorten the records' lives, to see them pushed back."""
    interface = app.session_interface
    if isinstance(interface, ServerSideSessionInterface):
        store = interface.get_store(app)
        if isinstance(store, RedisSessionStore):
            shorten_ttls(store.key_prefix)


def memory_records(store: MemorySessionStore) -> dict[str, tuple[t.Any, str]]:
    now = time.monotonic()
    return {
        sid: (json.loads(data), "full" if expiry - now > LIFETIME - 60 else "short")
        for sid, (expiry, data) in store._records.items()
    }


@needs_redis
@pytest.mark.parametrize("refresh", [True, False], ids=["refresh-each-request", "no-refresh"])
def test_redis_async_path_gives_the_same_cookies_and_records(
    fixed_ids: Callable[[], None], refresh: bool
) -> None:
    sync_prefix, async_prefix = redis_env.unique_prefix(), redis_env.unique_prefix()
    try:
        sync_app = make_app("redis", sync_prefix, SESSION_REFRESH_EACH_REQUEST=refresh)
        async_app = make_app("redis", async_prefix, SESSION_REFRESH_EACH_REQUEST=refresh)
        fixed_ids()
        expected = run_sync(sync_app, lambda: redis_records(sync_prefix))
        fixed_ids()
        got = run_async(async_app, lambda: redis_records(async_prefix))
    finally:
        redis_env.delete_keys(sync_prefix)
        redis_env.delete_keys(async_prefix)
    assert got == expected
    # The sequence does what it says (checked once, on the sync run).
    by_step = {o.step: o for o in expected}
    assert by_step["read-nothing"].set_cookie == [] and by_step["read-nothing"].records == {}
    assert by_step["new"].set_cookie and by_step["new"].vary == "Cookie"
    assert by_step["read"].set_cookie == []
    regenerated = by_step["regenerate"].records
    assert list(regenerated) == [f"{2:043d}"]
    assert regenerated[f"{2:043d}"][0] == {"a": 1, "b": [1, {" t": [2, 3]}], "user": "ada"}
    assert "Expires=<date>" in by_step["permanent"].set_cookie[0]
    if refresh:
        assert by_step["refresh"].set_cookie and "full" in str(by_step["refresh"].records)
    else:
        assert by_step["refresh"].set_cookie == []
        assert "short" in str(by_step["refresh"].records)
    assert by_step["clear"].set_cookie[0].startswith("session=;")
    assert by_step["clear"].records == {}
    assert by_step["after-clear"].opened == (ServerSideSession, {}, True)


def test_memory_async_path_gives_the_same_cookies_and_records(
    fixed_ids: Callable[[], None],
) -> None:
    sync_app = make_app("memory", "")
    async_app = make_app("memory", "")
    sync_store = t.cast(MemorySessionStore, interface_of(sync_app).get_store(sync_app))
    async_store = t.cast(MemorySessionStore, interface_of(async_app).get_store(async_app))
    fixed_ids()
    expected = run_sync(sync_app, lambda: memory_records(sync_store))
    fixed_ids()
    got = run_async(async_app, lambda: memory_records(async_store))
    assert got == expected
    assert any(o.records for o in expected)


def test_cookie_interface_async_path_is_the_sync_one() -> None:
    app = make_app("cookie", "")
    assert type(app.session_interface) is SecureCookieSessionInterface
    sequence = [step for step in SEQUENCE if not step[0].startswith("regenerate")]
    expected = run_sync(app, dict, sequence)
    got = run_async(app, dict, sequence)
    # Signed cookies carry a timestamp: compare what they hold, not their bytes.
    assert [(o.step, o.opened, o.vary, len(o.set_cookie)) for o in got] == [
        (o.step, o.opened, o.vary, len(o.set_cookie)) for o in expected
    ]


@needs_redis
def test_tampered_unknown_and_missing_cookies_give_new_sessions(prefix: str) -> None:
    app = make_app("redis", prefix)
    interface = interface_of(app)
    signer = interface.get_signer(app)
    assert signer is not None
    cookies = [
        None,
        "garbage",
        signer.sign("A" * 43).decode()[:-1] + "x",
        signer.sign("A" * 43).decode(),  # well signed, never stored
    ]

    async def main() -> list[tuple[type, dict[str, t.Any], bool]]:
        rv = []
        for cookie in cookies:
            with app.test_request_context("/", headers=cookie_header(cookie)):
                rv.append(opened_state(await interface.open_session_async(app, request)))
        return rv

    assert asyncio.run(main()) == [(ServerSideSession, {}, True)] * len(cookies)


def test_without_a_secret_key_both_paths_give_none() -> None:
    app = make_app("memory", "", SECRET_KEY=None)
    interface = interface_of(app)
    with app.test_request_context("/"):
        assert interface.open_session(app, request) is None
        assert asyncio.run(interface.open_session_async(app, request)) is None


# -- Redis down -----------------------------------------------------------------------------


@pytest.fixture
def down_app() -> kolben.Kolben:
    app = make_app("redis", "down:")
    app.config.update(
        SESSION_REDIS_URL=f"redis://127.0.0.1:{redis_env.closed_port()}/0",
        SESSION_REDIS_TIMEOUT=1.0,
    )
    return app


def planted_cookie(app: kolben.Kolben) -> str:
    signer = interface_of(app).get_signer(app)
    assert signer is not None
    return signer.sign("Q" * 43).decode()


def test_redis_down_open_async_raises_the_503(
    down_app: kolben.Kolben, caplog: pytest.LogCaptureFixture
) -> None:
    interface = interface_of(down_app)

    async def main() -> tuple[SessionUnavailable, SessionMixin | None]:
        with down_app.test_request_context("/", headers=cookie_header(planted_cookie(down_app))):
            with pytest.raises(SessionUnavailable) as info:
                await interface.open_session_async(down_app, request)
            # A later use in the same request: no second attempt, a session that
            # reads as empty and refuses changes with the same 503.
            again = await interface.open_session_async(down_app, request)
        return info.value, again

    started = time.monotonic()
    error, again = asyncio.run(main())
    assert time.monotonic() - started < WAIT
    assert isinstance(again, UnavailableSession)
    with pytest.raises(SessionUnavailable):
        again["x"] = 1
    response = error.get_response()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert any("Could not load a session in Redis" in r.message for r in caplog.records)
    # The same error as the sync path.
    with (
        down_app.test_request_context("/", headers=cookie_header(planted_cookie(down_app))),
        pytest.raises(SessionUnavailable) as sync_info,
    ):
        interface.open_session(down_app, request)
    sync_response = sync_info.value.get_response()
    assert type(sync_info.value) is type(error)
    assert sync_response.status == response.status
    assert sync_response.headers == response.headers
    assert sync_response.get_data() == response.get_data()


def test_redis_down_open_async_without_a_cookie_needs_no_redis(down_app: kolben.Kolben) -> None:
    interface = interface_of(down_app)
    with down_app.test_request_context("/"):
        assert not interface.open_session_needs_io(down_app, request)
        sess = asyncio.run(interface.open_session_async(down_app, request))
    assert isinstance(sess, ServerSideSession) and sess.new


@pytest.mark.parametrize("handler", [False, True], ids=["plain-503", "app-handler"])
def test_redis_down_save_async_raises_and_the_app_makes_the_same_503(
    down_app: kolben.Kolben, handler: bool
) -> None:
    if handler:

        @down_app.errorhandler(503)
        def unavailable(e: Exception) -> tuple[dict[str, str], int]:
            return {"error": "try later", "kind": type(e).__name__}, 503

    interface = interface_of(down_app)

    def changed_session() -> ServerSideSession:
        sess = interface.open_session(down_app, request)  # no cookie: no Redis
        assert isinstance(sess, ServerSideSession)
        sess.accessed = True
        sess["a"] = "b"
        return sess

    async def main() -> Response:
        with down_app.test_request_context("/"):
            sess = changed_session()
            response = down_app.response_class("ok")
            with pytest.raises(SessionUnavailable) as info:
                await interface.save_session_async(down_app, sess, response)
            assert response.status_code == 200  # left alone
            assert "Set-Cookie" not in response.headers
            # What the app does with it: the error handler's response, in place.
            run_steps(down_app, replace_with_error_response(down_app, response, info.value))
        return response

    got = asyncio.run(main())
    with down_app.test_request_context("/"):
        expected = down_app.response_class("ok")
        interface.save_session(down_app, changed_session(), expected)
    assert got.status_code == expected.status_code == 503
    assert got.headers == expected.headers
    assert got.get_data() == expected.get_data()
    assert "Set-Cookie" not in got.headers
    if handler:
        assert got.json == {"error": "try later", "kind": "SessionUnavailable"}
    else:
        assert got.headers["Retry-After"] == "1"
        assert b"session store cannot be reached" in got.get_data()


def test_a_failing_error_handler_does_not_hide_the_503(
    down_app: kolben.Kolben, caplog: pytest.LogCaptureFixture
) -> None:
    @down_app.errorhandler(503)
    def broken(e: Exception) -> str:
        raise RuntimeError("handler bug")

    with down_app.test_request_context("/"):
        response = down_app.response_class(iter([b"streamed"]))
        run_steps(
            down_app,
            replace_with_error_response(down_app, response, SessionUnavailable("down")),
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "The error handler for" in caplog.text


# -- a client per event loop ----------------------------------------------------------------


def named_store(prefix: str, **kwargs: t.Any) -> tuple[RedisSessionStore, str]:
    """A store whose connections carry a client name of their own."""
    name = f"kolben-test-{uuid.uuid4().hex[:12]}"
    store = RedisSessionStore.from_url(
        f"{redis_env.URL}?client_name={name}", key_prefix=prefix, **kwargs
    )
    return store, name


def wait_for_connections(name: str, count: int) -> int:
    deadline = time.monotonic() + WAIT
    found = len(redis_env.reader_connections(name))
    while found != count and time.monotonic() < deadline:
        time.sleep(0.02)
        found = len(redis_env.reader_connections(name))
    return found


@needs_redis
def test_a_client_per_loop_closed_with_its_loop(prefix: str) -> None:
    store, name = named_store(prefix)
    clients = []

    async def use(n: int) -> bytes | None:
        await store.asave("s" * 43, b"%d" % n, 60)
        clients.append(store._loop_client())
        assert len(redis_env.reader_connections(name)) == 1  # open while the loop runs
        return await store.aload("s" * 43)

    assert asyncio.run(use(1)) == b"1"
    assert wait_for_connections(name, 0) == 0  # closed when the loop shut down
    assert store._loop_clients == {}
    assert asyncio.run(use(2)) == b"2"  # a second loop: a new client that works
    assert wait_for_connections(name, 0) == 0
    assert clients[0] is not None and clients[1] is not None
    assert clients[0] is not clients[1]
    assert store.load("s" * 43) == b"2"  # the sync path sees the same record
    store.close()


@needs_redis
def test_two_loops_at_once_each_have_their_client(prefix: str) -> None:
    store, name = named_store(prefix)
    clients: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def worker(label: str) -> None:
        async def main() -> None:
            await store.asave(label * 43, label.encode(), 60)
            barrier.wait(WAIT)  # both loops alive, each with its client
            assert await store.aload(label * 43) == label.encode()
            clients[label] = store._loop_client()

        asyncio.run(main())

    threads = [threading.Thread(target=worker, args=(label,)) for label in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert set(clients) == {"a", "b"} and clients["a"] is not clients["b"]
    assert wait_for_connections(name, 0) == 0


@needs_redis
def test_aclose_closes_the_loops_connections_now(prefix: str) -> None:
    store, name = named_store(prefix)

    async def main() -> None:
        await store.asave("c" * 43, b"x", 60)
        assert len(redis_env.reader_connections(name)) == 1
        await store.aclose()
        assert wait_for_connections(name, 0) == 0
        assert await store.aload("c" * 43) == b"x"  # a new client on the next call

    asyncio.run(main())
    assert wait_for_connections(name, 0) == 0


@needs_redis
def test_a_client_of_a_loop_closed_without_shutdown_is_not_reused(prefix: str) -> None:
    store, name = named_store(prefix)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(store.asave("d" * 43, b"x", 60))
        stale = loop.run_until_complete(_current_client(store))
    finally:
        loop.close()  # no shutdown_asyncgens(): nothing closed the client
    with warnings.catch_warnings():
        # Its connections can only be dropped by the garbage collector now, which
        # warns about them: that is the loop owner's doing, not the store's.
        warnings.simplefilter("ignore", ResourceWarning)

        async def main() -> object:
            assert await store.aload("d" * 43) == b"x"
            return store._loop_client()

        fresh = asyncio.run(main())
        assert fresh is not stale
        assert loop not in store._loop_clients  # dropped, not kept forever
        del stale, fresh, loop
        gc.collect()
    assert wait_for_connections(name, 0) == 0


async def _current_client(store: RedisSessionStore) -> object:
    return store._loop_client()


@needs_redis
def test_the_pool_of_a_loop_is_bounded(prefix: str) -> None:
    store, name = named_store(prefix, max_connections=2)
    counts = []

    async def one(n: int) -> bytes | None:
        await store.asave(f"{n:043d}", b"%d" % n, 60)
        counts.append(len(redis_env.reader_connections(name)))
        return await store.aload(f"{n:043d}")

    async def main() -> list[bytes | None]:
        return await asyncio.gather(*(one(n) for n in range(20)))

    assert asyncio.run(main()) == [b"%d" % n for n in range(20)]
    assert max(counts) <= 2
    assert wait_for_connections(name, 0) == 0


# -- which interfaces and stores have the async path -------------------------------------


def test_has_async_io_of_the_built_in_interfaces_and_stores() -> None:
    assert SessionInterface.has_async_io is False
    assert SecureCookieSessionInterface.has_async_io is True
    assert ServerSideSessionInterface().has_async_io  # store built from config
    assert ServerSideSessionInterface(MemorySessionStore()).has_async_io
    assert RedisSessionStore.from_url(redis_env.URL).has_async_io
    assert MemorySessionStore.has_async_io and RedisSessionStore.has_async_io
    assert SessionStore.has_async_io is False


def test_the_base_interface_does_not_provide_the_async_methods() -> None:
    app = make_app("cookie", "")
    with app.test_request_context("/"):
        with pytest.raises(NotImplementedError, match="has_async_io is False"):
            asyncio.run(SessionInterface().open_session_async(app, request))
        with pytest.raises(NotImplementedError, match="has_async_io is False"):
            asyncio.run(SessionInterface().save_session_async(app, {}, Response()))  # type: ignore[arg-type]


def test_overriding_a_sync_method_turns_the_async_path_off() -> None:
    class SaveHook(ServerSideSessionInterface):
        def save_session(self, app: t.Any, session: t.Any, response: t.Any) -> None:
            super().save_session(app, session, response)

    class Both(ServerSideSessionInterface):
        def open_session(self, app: t.Any, request: t.Any) -> t.Any:
            return super().open_session(app, request)

        async def open_session_async(self, app: t.Any, request: t.Any) -> t.Any:
            return await super().open_session_async(app, request)

    class Declared(SaveHook):
        has_async_io = True

    class Inherits(SaveHook):
        pass

    class Mixin:
        def open_session(self, app: t.Any, request: t.Any) -> t.Any:
            return None

    class Mixed(Mixin, ServerSideSessionInterface):
        pass

    class CountingCookies(SecureCookieSessionInterface):
        def open_session(self, app: t.Any, request: t.Any) -> t.Any:
            return super().open_session(app, request)

    class CookieSettings(SecureCookieSessionInterface):
        salt = "other"

        def get_cookie_name(self, app: t.Any) -> str:
            return "s"

    assert not SaveHook().has_async_io
    assert Both().has_async_io
    assert Declared().has_async_io
    assert not Inherits().has_async_io
    assert not Mixed().has_async_io
    assert not CountingCookies().has_async_io
    assert CookieSettings().has_async_io  # helpers are called by both paths


def test_a_store_without_async_methods_runs_them_in_a_thread() -> None:
    class DictStore(SessionStore):
        def __init__(self) -> None:
            self.data: dict[str, bytes] = {}
            self.threads: set[int] = set()

        def load(self, sid: str) -> bytes | None:
            self.threads.add(threading.get_ident())
            return self.data.get(sid)

        def save(self, sid: str, data: bytes, ttl: int) -> None:
            self.threads.add(threading.get_ident())
            self.data[sid] = data

        def delete(self, *sids: str) -> None:
            self.threads.add(threading.get_ident())
            for sid in sids:
                self.data.pop(sid, None)

    class LoggingMemory(MemorySessionStore):
        def load(self, sid: str) -> bytes | None:
            return super().load(sid)

    store = DictStore()
    assert not store.has_async_io
    assert not ServerSideSessionInterface(store).has_async_io
    assert not LoggingMemory().has_async_io

    async def main() -> bytes | None:
        await store.asave("a", b"1", 60)
        await store.atouch("a", b"2", 60)
        value = await store.aload("a")
        await store.adelete("a")
        return value

    assert asyncio.run(main()) == b"2"
    assert store.data == {}
    assert threading.get_ident() not in store.threads  # never on the loop's thread


def test_the_memory_store_runs_inline_on_the_loop() -> None:
    store = MemorySessionStore()
    loop_thread: list[int] = []
    original = store.load

    def load(sid: str) -> bytes | None:
        loop_thread.append(threading.get_ident())
        return original(sid)

    store.load = load  # type: ignore[method-assign]

    async def main() -> bytes | None:
        await store.asave("m", b"v", 60)
        # A touch extends the record's life only: a change a concurrent request
        # stored meanwhile is kept.
        await store.atouch("m", b"stale", 60)
        return await store.aload("m")

    assert asyncio.run(main()) == b"v"
    assert loop_thread == [threading.get_ident()]


@needs_redis
def test_a_store_on_a_hand_made_client_gets_an_async_twin(prefix: str) -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, db=redis_env.DB, socket_timeout=2)
    store = RedisSessionStore(client, key_prefix=prefix)
    assert store.has_async_io

    async def main() -> bytes | None:
        await store.asave("h" * 43, b"hand", 60)
        return await store.aload("h" * 43)

    assert asyncio.run(main()) == b"hand"
    assert store.load("h" * 43) == b"hand"
    store.close()


def test_a_client_whose_settings_cannot_be_carried_over_has_no_async_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class OwnConnection(redis.Connection):
        pass

    pool = redis.ConnectionPool(connection_class=OwnConnection, host="127.0.0.1")
    with caplog.at_level(logging.INFO, logger="kolben.sessions"):
        store = RedisSessionStore(redis.Redis(connection_pool=pool))
    assert not store.has_async_io
    assert not ServerSideSessionInterface(store).has_async_io
    assert "async_client_factory" in caplog.text
    store.close()


def test_open_session_needs_io_only_with_the_session_cookie() -> None:
    app = make_app("memory", "")
    interface = interface_of(app)
    cases = {None: False, "": False, "value": True}
    for value, expected in cases.items():
        headers = {"Cookie": f"session={value}"} if value is not None else {}
        with app.test_request_context("/", headers=headers):
            assert interface.open_session_needs_io(app, request) is expected
    with app.test_request_context("/", headers={"Cookie": "other=1; xsession=2"}):
        assert not interface.open_session_needs_io(app, request)
    with app.test_request_context("/", headers={"Cookie": "session=1"}):
        assert not SecureCookieSessionInterface().open_session_needs_io(app, request)
        assert SessionInterface().open_session_needs_io(app, request)
