"""Server-side sessions (kolben.server_sessions): the Redis store against the real
Redis on 127.0.0.1 (database ``KOLBEN_TEST_REDIS_DB``, a key prefix per test), the
bounded in-memory store, and the choice of interface by ``SESSION_BACKEND``. Every
behaviour test runs under both doors through the ``client`` fixture."""

from __future__ import annotations

import contextlib
import json
import time
import typing as t
from datetime import timedelta

import pytest

import kolben
from kolben import session
from kolben.server_sessions import (
    MemorySessionStore,
    RedisSessionStore,
    ServerSideSession,
    ServerSideSessionInterface,
    SessionUnavailable,
)
from kolben.sessions import SecureCookieSessionInterface
from kolben.testing import KolbenClient
from sse_apps import redis_env

WAIT = 5.0


def add_views(app: kolben.Kolben) -> None:
    @app.get("/set/<key>/<value>")
    def set_value(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.get("/get")
    def get_all() -> dict[str, t.Any]:
        return {"data": dict(session), "new": getattr(session._get_current_object(), "new", None)}

    @app.get("/aget")
    async def aget_all() -> dict[str, t.Any]:
        return {"data": dict(session)}

    @app.get("/aset/<key>/<value>")
    async def aset_value(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.get("/login/<user>")
    def login(user: str) -> str:
        session.regenerate()  # type: ignore[attr-defined]
        session["user"] = user
        return "logged in"

    @app.get("/logout")
    def logout() -> str:
        session.clear()
        return "logged out"

    @app.get("/logout-and-flash")
    def logout_and_flash() -> str:
        session.clear()
        session["notice"] = "bye"
        return "logged out"

    @app.get("/permanent")
    def permanent() -> str:
        session.permanent = True
        session["p"] = "yes"
        return "ok"

    @app.get("/touch")
    def touch() -> str:
        return str(session.get("p"))

    @app.get("/plain")
    def plain() -> str:
        return "no session here"


def sid_of(client: KolbenClient, name: str = "session") -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, "no session cookie"
    sid, _, signature = cookie.value.partition(".")
    assert len(sid) == 43 and signature
    return sid


# -- Redis ---------------------------------------------------------------------------------


@pytest.fixture
def redis_app(app: kolben.Kolben, prefix: str) -> kolben.Kolben:
    app.config.update(
        SESSION_BACKEND="redis", SESSION_REDIS_URL=redis_env.URL, SESSION_KEY_PREFIX=prefix
    )
    add_views(app)
    return app


@pytest.fixture
def rclient(redis_app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]) -> KolbenClient:
    return client_for(redis_app)


def record(prefix: str, sid: str) -> dict[str, t.Any] | None:
    raw = redis_env.admin().get(prefix + sid)
    return None if raw is None else t.cast("dict[str, t.Any]", json.loads(raw))


needs_redis = pytest.mark.redis


@needs_redis
def test_config_picks_the_redis_interface(redis_app: kolben.Kolben) -> None:
    interface = redis_app.session_interface
    assert type(interface) is ServerSideSessionInterface
    assert redis_app.session_interface is interface  # built once per app
    assert isinstance(interface.get_store(redis_app), RedisSessionStore)
    # The class attribute stays Flask's: the default cookie interface.
    assert isinstance(kolben.Kolben.session_interface, SecureCookieSessionInterface)


@needs_redis
def test_data_lives_in_redis_and_the_cookie_holds_only_a_signed_id(
    rclient: KolbenClient, prefix: str
) -> None:
    response = rclient.get("/set/color/blue")
    assert response.status_code == 200
    assert "Cookie" in response.headers["Vary"]
    sid = sid_of(rclient)
    cookie = rclient.get_cookie("session")
    assert cookie is not None and "blue" not in cookie.value
    assert record(prefix, sid) == {"color": "blue"}
    ttl = redis_env.admin().ttl(prefix + sid)
    assert 0 < ttl <= 31 * 24 * 3600
    header = response.headers["Set-Cookie"]
    assert "HttpOnly" in header and "Path=/" in header and "Expires" not in header

    assert rclient.get("/get").json == {"data": {"color": "blue"}, "new": False}
    rclient.get("/set/size/L")
    assert sid_of(rclient) == sid  # same id while the session lives
    assert record(prefix, sid) == {"color": "blue", "size": "L"}


@needs_redis
def test_async_views_use_redis_sessions_too(rclient: KolbenClient, prefix: str) -> None:
    assert rclient.get("/aset/k/v").status_code == 200
    assert rclient.get("/aget").json == {"data": {"k": "v"}}
    assert record(prefix, sid_of(rclient)) == {"k": "v"}


@needs_redis
def test_a_request_that_does_not_touch_the_session_does_not_touch_redis(
    rclient: KolbenClient,
) -> None:
    rclient.get("/set/a/b")
    response = rclient.get("/plain")
    assert "Set-Cookie" not in response.headers
    assert "Vary" not in response.headers


@needs_redis
def test_unmodified_session_is_not_written_again(rclient: KolbenClient, prefix: str) -> None:
    rclient.get("/set/a/b")
    sid = sid_of(rclient)
    redis_env.admin().set(prefix + sid, json.dumps({"a": "changed in redis"}), ex=60)
    response = rclient.get("/get")
    assert response.json == {"data": {"a": "changed in redis"}, "new": False}
    assert "Set-Cookie" not in response.headers
    assert record(prefix, sid) == {"a": "changed in redis"}


@needs_redis
def test_records_expire_with_the_session_lifetime(
    redis_app: kolben.Kolben, rclient: KolbenClient, prefix: str
) -> None:
    redis_app.permanent_session_lifetime = timedelta(seconds=1)
    rclient.get("/set/a/b")
    sid = sid_of(rclient)
    admin = redis_env.admin()
    assert 0 < admin.pttl(prefix + sid) <= 1000
    deadline = time.monotonic() + WAIT
    while admin.exists(prefix + sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not admin.exists(prefix + sid), "Redis did not expire the record"
    # The expired id is not reused: a new empty session under a new id.
    assert rclient.get("/get").json == {"data": {}, "new": True}
    rclient.get("/set/c/d")
    assert sid_of(rclient) != sid


@needs_redis
def test_permanent_session_cookie_expires_and_is_refreshed_by_use(
    redis_app: kolben.Kolben, rclient: KolbenClient, prefix: str
) -> None:
    redis_app.permanent_session_lifetime = timedelta(hours=1)
    response = rclient.get("/permanent")
    assert "Expires=" in response.headers["Set-Cookie"]
    sid = sid_of(rclient)
    admin = redis_env.admin()
    admin.expire(prefix + sid, 10)
    response = rclient.get("/touch")
    assert response.text == "yes"
    assert "Expires=" in response.headers["Set-Cookie"]  # cookie pushed forward
    assert admin.ttl(prefix + sid) > 10  # and the record
    assert sid_of(rclient) == sid
    redis_app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    admin.expire(prefix + sid, 10)
    response = rclient.get("/touch")
    assert "Set-Cookie" not in response.headers
    assert admin.ttl(prefix + sid) <= 10


@needs_redis
def test_regenerate_defeats_session_fixation(
    redis_app: kolben.Kolben,
    rclient: KolbenClient,
    prefix: str,
    client_for: t.Callable[..., KolbenClient],
) -> None:
    # The attacker gets a valid id from the site and plants it in the victim's browser.
    attacker = client_for(redis_app)
    attacker.get("/set/lang/fr")
    planted = attacker.get_cookie("session")
    assert planted is not None
    rclient.set_cookie("session", planted.value)
    assert rclient.get("/get").json == {"data": {"lang": "fr"}, "new": False}

    response = rclient.get("/login/victim")
    assert response.status_code == 200
    new_sid = sid_of(rclient)
    old_sid = planted.value.partition(".")[0]
    assert new_sid != old_sid
    assert record(prefix, old_sid) is None  # the old record is gone
    assert record(prefix, new_sid) == {"lang": "fr", "user": "victim"}
    # The attacker's cookie now leads to an empty session, not the victim's.
    assert attacker.get("/get").json == {"data": {}, "new": True}
    assert rclient.get("/get").json == {"data": {"lang": "fr", "user": "victim"}, "new": False}


@needs_redis
def test_regenerate_on_a_new_session(rclient: KolbenClient, prefix: str) -> None:
    rclient.get("/login/ada")
    assert record(prefix, sid_of(rclient)) == {"user": "ada"}


@needs_redis
def test_clear_deletes_the_record_and_the_cookie(rclient: KolbenClient, prefix: str) -> None:
    rclient.get("/set/user/ada")
    sid = sid_of(rclient)
    response = rclient.get("/logout")
    assert record(prefix, sid) is None
    header = response.headers["Set-Cookie"]
    assert header.startswith("session=;") and "Expires=Thu, 01 Jan 1970" in header
    assert rclient.get_cookie("session") is None
    assert rclient.get("/get").json == {"data": {}, "new": True}


@needs_redis
def test_clear_then_new_data_gets_a_new_id(rclient: KolbenClient, prefix: str) -> None:
    rclient.get("/set/user/ada")
    sid = sid_of(rclient)
    rclient.get("/logout-and-flash")
    assert record(prefix, sid) is None
    new_sid = sid_of(rclient)
    assert new_sid != sid
    assert record(prefix, new_sid) == {"notice": "bye"}


@needs_redis
def test_unknown_id_gives_a_new_session_with_a_new_id(
    redis_app: kolben.Kolben, rclient: KolbenClient, prefix: str
) -> None:
    interface = t.cast(ServerSideSessionInterface, redis_app.session_interface)
    signer = interface.get_signer(redis_app)
    assert signer is not None
    unknown = "A" * 43
    rclient.set_cookie("session", signer.sign(unknown).decode())
    assert rclient.get("/get").json == {"data": {}, "new": True}
    rclient.get("/set/a/b")
    assert sid_of(rclient) != unknown
    assert record(prefix, unknown) is None


@needs_redis
@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"), id="signature"),
        pytest.param(lambda v: ("B" if v[0] != "B" else "C") + v[1:], id="id"),
        pytest.param(lambda v: v.partition(".")[0], id="unsigned"),
        pytest.param(lambda v: v + ".extra", id="extra-part"),
        pytest.param(lambda v: "x" * 4000, id="long-garbage"),
        pytest.param(lambda v: "../../etc/passwd.sig", id="path"),
        pytest.param(lambda v: "é" * 43 + ".sig", id="non-ascii"),
        pytest.param(lambda v: "*" * 43 + "." + v.partition(".")[2], id="bad-alphabet"),
    ],
)
def test_tampered_or_malformed_cookie_gives_an_empty_session(
    rclient: KolbenClient, prefix: str, mangle: t.Callable[[str], str]
) -> None:
    rclient.get("/set/user/ada")
    cookie = rclient.get_cookie("session")
    assert cookie is not None
    rclient.set_cookie("session", mangle(cookie.value))
    response = rclient.get("/get")
    assert response.status_code == 200
    assert response.json == {"data": {}, "new": True}


@needs_redis
@pytest.mark.parametrize(
    "raw", [b"not json", b"\xff\xfe", b"[1, 2]", b'{"a": {" t": 5}}']
)
def test_unreadable_record_gives_an_empty_session(
    rclient: KolbenClient, prefix: str, raw: bytes
) -> None:
    rclient.get("/set/user/ada")
    redis_env.admin().set(prefix + sid_of(rclient), raw, ex=60)
    response = rclient.get("/get")
    assert response.status_code == 200
    assert response.json == {"data": {}, "new": True}


@needs_redis
def test_session_transaction_reads_and_writes_redis(
    redis_app: kolben.Kolben, rclient: KolbenClient, prefix: str
) -> None:
    with rclient.session_transaction() as sess:
        assert isinstance(sess, ServerSideSession)
        sess["user"] = "grace"
    assert rclient.get("/get").json == {"data": {"user": "grace"}, "new": False}
    with rclient.session_transaction() as sess:
        assert sess["user"] == "grace"


@needs_redis
def test_cookie_settings_apply(redis_app: kolben.Kolben, rclient: KolbenClient) -> None:
    redis_app.config.update(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_PATH="/",
    )
    response = rclient.get("/set/a/b", base_url="https://localhost")
    header = response.headers["Set-Cookie"]
    assert header.startswith("sid=")
    assert "Secure" in header and "SameSite=Lax" in header and "HttpOnly" in header


@needs_redis
def test_key_rotation_keeps_sessions(redis_app: kolben.Kolben, rclient: KolbenClient) -> None:
    rclient.get("/set/user/ada")
    redis_app.config.update(SECRET_KEY="new key", SECRET_KEY_FALLBACKS=["test key"])
    assert rclient.get("/get").json == {"data": {"user": "ada"}, "new": False}
    redis_app.config.update(SECRET_KEY_FALLBACKS=None)
    assert rclient.get("/get").json == {"data": {}, "new": True}


# -- Redis unreachable -----------------------------------------------------------------------


@pytest.fixture
def down_app(app: kolben.Kolben) -> kolben.Kolben:
    app.config.update(
        SESSION_BACKEND="redis",
        SESSION_REDIS_URL=f"redis://127.0.0.1:{redis_env.closed_port()}/0",
        SESSION_REDIS_TIMEOUT=1.0,
    )
    add_views(app)
    return app


@pytest.fixture
def dclient(down_app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]) -> KolbenClient:
    return client_for(down_app)


def planted_cookie(app: kolben.Kolben) -> str:
    interface = t.cast(ServerSideSessionInterface, app.session_interface)
    signer = interface.get_signer(app)
    assert signer is not None
    return signer.sign("Q" * 43).decode()


def test_redis_down_on_load_is_a_503_not_an_empty_session(
    down_app: kolben.Kolben, dclient: KolbenClient, caplog: pytest.LogCaptureFixture
) -> None:
    dclient.set_cookie("session", planted_cookie(down_app))
    response = dclient.get("/get")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "session store cannot be reached" in response.text
    assert "127.0.0.1" not in response.text  # the details stay in the log
    assert any("Could not load a session in Redis" in r.message for r in caplog.records)
    # A request that never touches the session is served.
    assert dclient.get("/plain").status_code == 200


def test_redis_down_on_save_is_a_503(dclient: KolbenClient) -> None:
    response = dclient.get("/set/a/b")  # no cookie: nothing to load, the save fails
    assert response.status_code == 503
    assert "Set-Cookie" not in response.headers
    assert "session store cannot be reached" in response.text


def test_redis_down_goes_to_the_apps_503_handler(
    down_app: kolben.Kolben, dclient: KolbenClient
) -> None:
    seen: list[str] = []

    @down_app.errorhandler(503)
    def unavailable(e: Exception) -> tuple[dict[str, t.Any], int]:
        # Using the session again in the handler does not fail a second time.
        seen.append(repr(session.get("user")))
        return {"error": "try later", "kind": type(e).__name__}, 503

    dclient.set_cookie("session", planted_cookie(down_app))
    response = dclient.get("/get")
    assert response.status_code == 503
    assert response.json == {"error": "try later", "kind": "SessionUnavailable"}
    assert seen == ["None"]
    dclient.delete_cookie("session")
    response = dclient.get("/set/a/b")
    assert response.status_code == 503
    assert response.json == {"error": "try later", "kind": "SessionUnavailable"}


def test_redis_down_changing_the_session_after_the_503_raises_it_again(
    down_app: kolben.Kolben, dclient: KolbenClient
) -> None:
    @down_app.get("/stubborn")
    def stubborn() -> str:
        with contextlib.suppress(SessionUnavailable):
            session.get("x")
        session["x"] = 1  # raises SessionUnavailable again: a 503
        return "unreachable"

    dclient.set_cookie("session", planted_cookie(down_app))
    assert dclient.get("/stubborn").status_code == 503


# -- memory ---------------------------------------------------------------------------------


@pytest.fixture
def memory_app(app: kolben.Kolben) -> kolben.Kolben:
    app.config.update(SESSION_BACKEND="memory", SESSION_MEMORY_MAX_ENTRIES=2)
    add_views(app)
    return app


def test_memory_backend_round_trip_regenerate_clear(
    memory_app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    client = client_for(memory_app)
    client.get("/set/a/b")
    sid = sid_of(client)
    store = t.cast(ServerSideSessionInterface, memory_app.session_interface).get_store(memory_app)
    assert isinstance(store, MemorySessionStore)
    assert store.load(sid) is not None
    assert client.get("/get").json == {"data": {"a": "b"}, "new": False}
    client.get("/login/ada")
    assert store.load(sid) is None and sid_of(client) != sid
    assert client.get("/get").json == {"data": {"a": "b", "user": "ada"}, "new": False}
    client.get("/logout")
    assert len(store) == 0
    assert client.get("/get").json == {"data": {}, "new": True}


def test_memory_backend_is_bounded(
    memory_app: kolben.Kolben,
    client_for: t.Callable[..., KolbenClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    clients = [client_for(memory_app) for _ in range(3)]
    for i, client in enumerate(clients):
        client.get(f"/set/n/{i}")
    store = t.cast(ServerSideSessionInterface, memory_app.session_interface).get_store(memory_app)
    assert len(store) == 2
    assert "least recently used sessions are being dropped" in caplog.text
    # The oldest session was dropped; the newer two are kept.
    assert clients[0].get("/get").json == {"data": {}, "new": True}
    assert clients[1].get("/get").json == {"data": {"n": "1"}, "new": False}
    assert clients[2].get("/get").json == {"data": {"n": "2"}, "new": False}


def test_memory_records_expire() -> None:
    store = MemorySessionStore(max_entries=10)
    store.save("a" * 43, b"{}", ttl=0)
    assert store.load("a" * 43) is None and len(store) == 0
    store.save("b" * 43, b"{}", ttl=60)
    assert store.load("b" * 43) == b"{}"
    store.delete("b" * 43, "never-stored")
    assert len(store) == 0
    with pytest.raises(ValueError, match="SESSION_MEMORY_MAX_ENTRIES"):
        MemorySessionStore(max_entries=0)


# -- choosing the interface --------------------------------------------------------------------


def test_default_is_the_cookie_interface(app: kolben.Kolben) -> None:
    assert app.config["SESSION_BACKEND"] == "cookie"
    assert app.session_interface is kolben.Kolben.session_interface


def test_an_assigned_interface_wins_over_the_config(
    app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    class Custom(SecureCookieSessionInterface):
        pass

    custom = Custom()
    app.config.update(SESSION_BACKEND="redis")  # no URL: would fail if it were used
    app.session_interface = custom
    add_views(app)
    client = client_for(app)
    assert client.get("/set/a/b").status_code == 200
    assert app.session_interface is custom

    class Sub(kolben.Kolben):
        session_interface = custom

    sub = Sub("sub")
    sub.config["SESSION_BACKEND"] = "memory"
    assert sub.session_interface is custom


def test_an_assigned_server_side_interface_with_its_own_store(
    app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    store = MemorySessionStore()
    app.session_interface = ServerSideSessionInterface(store)
    add_views(app)
    client = client_for(app)
    client.get("/set/a/b")
    assert store.load(sid_of(client)) == b'{"a":"b"}'


def test_the_choice_is_kept_after_the_first_request(
    app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    app.config["SESSION_BACKEND"] = "memory"
    add_views(app)
    client_for(app).get("/set/a/b")
    chosen = app.session_interface
    assert "session_interface" in app.__dict__  # a plain attribute read from now on
    app.config["SESSION_BACKEND"] = "cookie"
    assert app.session_interface is chosen


def test_bad_backend_names_are_explained(
    app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    app.config["SESSION_BACKEND"] = "memcached"
    with pytest.raises(ValueError, match="SESSION_BACKEND is 'memcached'"):
        app.session_interface  # noqa: B018
    app.config.update(SESSION_BACKEND="redis", SESSION_REDIS_URL=None)
    add_views(app)
    with pytest.raises(RuntimeError, match="SESSION_REDIS_URL is not set"):
        client_for(app).get("/set/a/b")


def test_without_a_secret_key_the_session_is_a_null_session(
    app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    app.config.update(SESSION_BACKEND="memory", SECRET_KEY=None)
    add_views(app)
    client = client_for(app)
    assert client.get("/get").json == {"data": {}, "new": False}
    with pytest.raises(RuntimeError, match="no secret key was set"):
        client.get("/set/a/b")


# -- real servers -----------------------------------------------------------------------------

SERVED_APP = """
import os

from kolben import Kolben, session

app = Kolben(__name__)
app.config.update(
    SECRET_KEY="served key",
    SESSION_BACKEND="redis",
    SESSION_REDIS_URL=os.environ["KOLBEN_TEST_REDIS_URL"],
    SESSION_KEY_PREFIX=os.environ["KOLBEN_TEST_SESSION_PREFIX"],
)


@app.get("/sync")
def ready():
    return "ok"


@app.get("/login/<user>")
def login(user):
    session.regenerate()
    session["user"] = user
    return "ok"


@app.get("/whoami")
async def whoami():
    return {"user": session.get("user")}
"""


@needs_redis
@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_served_by_a_real_server(
    kind: str, tmp_path: t.Any, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_servers import HAVE, MODULE, Server

    if not HAVE[kind]:
        pytest.skip(f"{kind} is not installed")
    monkeypatch.setenv("KOLBEN_TEST_REDIS_URL", redis_env.URL)
    monkeypatch.setenv("KOLBEN_TEST_SESSION_PREFIX", prefix)
    server = Server(kind, tmp_path)
    (server.app_dir / f"{MODULE}.py").write_text(SERVED_APP)
    server.start()
    try:
        status, headers, _ = server.request("GET", "/login/ada")
        assert status == 200
        cookie = headers["Set-Cookie"].partition(";")[0]
        sid = cookie.partition("=")[2].partition(".")[0]
        assert record(prefix, sid) == {"user": "ada"}
        status, _, body = server.request("GET", "/whoami", headers={"Cookie": cookie})
        assert (status, json.loads(body)) == (200, {"user": "ada"})
        status, _, body = server.request("GET", "/whoami")
        assert (status, json.loads(body)) == (200, {"user": None})
    finally:
        server.stop()


@needs_redis
def test_signature_has_one_spelling(rclient: KolbenClient) -> None:
    """base64 ignores the unused low bits of the last character: every other
    spelling of the same signature bytes is refused, not only most of them."""
    from itsdangerous.encoding import base64_decode

    rclient.get("/set/user/ada")
    cookie = rclient.get_cookie("session")
    assert cookie is not None
    value = cookie.value
    head, _, signature = value.rpartition(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [
        f"{head}.{signature[:-1]}{c}"
        for c in alphabet
        if c != signature[-1] and base64_decode(signature[:-1] + c) == base64_decode(signature)
    ]
    assert twins  # a 32-byte HMAC-SHA256 leaves 2 unused bits: 3 other spellings
    for twin in twins:
        rclient.set_cookie("session", twin)
        assert rclient.get("/get").json == {"data": {}, "new": True}


# -- a log-out in a concurrent request stays a log-out ------------------------------------


def _add_race_views(app: kolben.Kolben) -> None:
    """Views that, while they run, have the session's record deleted as a
    log-out in a concurrent request would (the store's own delete)."""

    def logged_out_meanwhile() -> None:
        interface = t.cast(ServerSideSessionInterface, app.session_interface)
        sid = t.cast(ServerSideSession, session._get_current_object()).sid
        assert sid is not None
        interface.get_store(app).delete(sid)

    @app.get("/race/read")
    def race_read() -> str:
        user = str(session.get("user"))
        logged_out_meanwhile()
        return user

    @app.get("/race/write")
    def race_write() -> str:
        user = str(session.get("user"))
        logged_out_meanwhile()
        session["seen"] = "yes"
        return user

    @app.get("/race/aread")
    async def race_aread() -> str:
        user = str(session.get("user"))
        logged_out_meanwhile()
        return user

    @app.get("/race/awrite")
    async def race_awrite() -> str:
        user = str(session.get("user"))
        logged_out_meanwhile()
        session["seen"] = "yes"
        return user

    @app.get("/race/regenerate")
    def race_regenerate() -> str:
        user = str(session.get("user"))
        logged_out_meanwhile()
        session.regenerate()  # type: ignore[attr-defined]
        return user

    @app.get("/race/aregenerate")
    async def race_aregenerate() -> str:
        user = str(session.get("user"))
        logged_out_meanwhile()
        session.regenerate()  # type: ignore[attr-defined]
        return user

    def changed_meanwhile() -> None:
        # A concurrent request stored a change (a demotion) of this session.
        interface = t.cast(ServerSideSessionInterface, app.session_interface)
        sid = t.cast(ServerSideSession, session._get_current_object()).sid
        assert sid is not None
        changed = {**dict(session), "role": "user"}
        data = interface.serializer.dumps(changed).encode("utf-8")
        interface.get_store(app).replace(sid, data, 3600)

    @app.get("/race/read-while-changed")
    def race_read_while_changed() -> str:
        role = str(session.get("role"))
        changed_meanwhile()
        return role

    @app.get("/race/aread-while-changed")
    async def race_aread_while_changed() -> str:
        role = str(session.get("role"))
        changed_meanwhile()
        return role


@pytest.fixture(params=["memory", pytest.param("redis", marks=needs_redis)])
def race_client(
    request: pytest.FixtureRequest,
    app: kolben.Kolben,
    prefix: str,
    client_for: t.Callable[..., KolbenClient],
) -> KolbenClient:
    if request.param == "redis":
        app.config.update(
            SESSION_BACKEND="redis", SESSION_REDIS_URL=redis_env.URL, SESSION_KEY_PREFIX=prefix
        )
    else:
        app.config.update(SESSION_BACKEND="memory")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=1)
    add_views(app)
    _add_race_views(app)
    return client_for(app)


@pytest.mark.parametrize("view", ["read", "aread"])
def test_a_request_in_flight_does_not_bring_back_a_deleted_session(
    race_client: KolbenClient, view: str
) -> None:
    # A permanent session read (not changed) by a request is refreshed at its end
    # (SESSION_REFRESH_EACH_REQUEST): that refresh must not recreate a record
    # a log-out deleted meanwhile, or a copied cookie outlives the log-out.
    race_client.get("/permanent")
    race_client.get("/login/ada")
    assert race_client.get("/get").json["data"]["user"] == "ada"
    assert race_client.get(f"/race/{view}").text == "ada"
    assert race_client.get("/get").json["data"] == {}


@pytest.mark.parametrize("view", ["write", "awrite"])
def test_a_changed_session_is_not_written_back_over_a_log_out(
    race_client: KolbenClient, view: str
) -> None:
    race_client.get("/login/ada")
    assert race_client.get(f"/race/{view}").text == "ada"
    assert race_client.get("/get").json["data"] == {}


@pytest.mark.parametrize("view", ["regenerate", "aregenerate"])
def test_a_session_moved_to_a_new_id_is_not_brought_back_over_a_log_out(
    race_client: KolbenClient, view: str
) -> None:
    # docs/security.md: a request still running can't bring a logged-out session
    # back, also when it moves the session to a new id (regenerate(), a log-in):
    # the new id is written only if the old record was still there.
    race_client.get("/login/ada")
    assert race_client.get(f"/race/{view}").text == "ada"
    assert race_client.get("/get").json["data"] == {}


@pytest.mark.parametrize("view", ["read-while-changed", "aread-while-changed"])
def test_a_read_only_request_keeps_a_change_stored_meanwhile(
    race_client: KolbenClient, view: str
) -> None:
    # A permanent session a request only read is refreshed at its end: its
    # record's life is extended, not written back as the request loaded it (a
    # demotion stored by a concurrent request was undone).
    race_client.get("/permanent")
    race_client.get("/set/role/admin")
    assert race_client.get(f"/race/{view}").text == "admin"
    assert race_client.get("/get").json["data"]["role"] == "user"


def test_a_regenerated_session_is_still_stored(race_client: KolbenClient) -> None:
    race_client.get("/login/ada")
    race_client.get("/login/bob")  # regenerate() on a stored session: moved
    assert race_client.get("/get").json["data"]["user"] == "bob"


def test_a_new_session_is_still_stored(race_client: KolbenClient) -> None:
    race_client.get("/set/a/b")
    assert race_client.get("/get").json["data"] == {"a": "b"}
    race_client.get("/set/c/d")  # a change of a stored session is written
    assert race_client.get("/get").json["data"] == {"a": "b", "c": "d"}


# -- a log-in moves the session to a new id by itself -------------------------------------


def _add_login_views(app: kolben.Kolben) -> None:
    @app.get("/plain-login/<key>/<user>")
    def plain_login(key: str, user: str) -> str:
        # What flask_login.login_user() and the tutorial's login view do: set
        # the user's id, no regenerate().
        session[key] = user
        return "logged in"


@pytest.mark.parametrize("key", ["_user_id", "user_id", "user", "username"])
def test_a_log_in_without_regenerate_gets_a_new_id(
    race_client: KolbenClient, app: kolben.Kolben, key: str
) -> None:
    _add_login_views(app)
    # The attacker's own session id, planted in the victim's browser.
    race_client.get("/set/theme/dark")
    planted = race_client.get_cookie("session")
    assert planted is not None
    race_client.get(f"/plain-login/{key}/victim")
    after = race_client.get_cookie("session")
    assert after is not None and after.value != planted.value
    assert race_client.get("/get").json["data"] == {"theme": "dark", key: "victim"}
    # The planted id leads nowhere now.
    race_client.set_cookie("session", planted.value)
    assert race_client.get("/get").json["data"] == {}


def test_a_change_of_other_keys_keeps_the_id(race_client: KolbenClient, app: kolben.Kolben) -> None:
    _add_login_views(app)
    race_client.get("/plain-login/_user_id/ada")
    cookie = race_client.get_cookie("session")
    race_client.get("/set/theme/dark")
    race_client.get("/plain-login/_user_id/ada")  # the same user again
    assert race_client.get_cookie("session").value == cookie.value  # type: ignore[union-attr]


def test_regenerate_keys_can_be_turned_off(race_client: KolbenClient, app: kolben.Kolben) -> None:
    app.config["SESSION_REGENERATE_KEYS"] = ()
    _add_login_views(app)
    race_client.get("/set/theme/dark")
    planted = race_client.get_cookie("session")
    race_client.get("/plain-login/_user_id/victim")
    assert race_client.get_cookie("session").value == planted.value  # type: ignore[union-attr]


def test_user_value_changed_in_place_moves_the_session_to_a_new_id(
    app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    """A key of SESSION_REGENERATE_KEYS holding a dict changed in place (then
    ``session.modified = True``) is a change of user too: the planted id must
    not carry the new identity."""
    app.config.update(SESSION_BACKEND="memory")

    @app.get("/as/<name>")
    def as_user(name: str) -> str:
        kolben.session["user"] = {"id": name}
        return ""

    @app.get("/switch/<name>")
    def switch(name: str) -> str:
        kolben.session["user"]["id"] = name
        kolben.session.modified = True
        return ""

    @app.get("/who")
    def who() -> dict[str, t.Any]:
        return dict(kolben.session)

    attacker = client_for(app)
    attacker.get("/as/mallory")
    planted = sid_of(attacker)
    victim = client_for(app)
    victim.set_cookie("session", attacker.get_cookie("session").value)
    victim.get("/switch/victim")
    assert sid_of(victim) != planted
    assert attacker.get("/who").json == {}
