"""Sessions: the signed-cookie session, its config keys, the SessionInterface API
and the test client's session_transaction (Flask 3.1 behaviour)."""

from __future__ import annotations

import hashlib
import secrets
import time
import typing as t
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer
from werkzeug.http import parse_date
from werkzeug.routing import BaseConverter

import kolben
from kolben import session
from kolben import sessions as sessions_module
from kolben.caching import app_cache
from kolben.json.tag import TaggedJSONSerializer
from kolben.sessions import (
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
    SessionMixin,
)
from kolben.testing import KolbenClient


def _cookie_headers(rv: t.Any) -> list[str]:
    return [h for h in rv.headers.getlist("Set-Cookie") if h.startswith("session=")]


def _session_cookie(client: KolbenClient, name: str = "session") -> str | None:
    cookie = client.get_cookie(name)
    return None if cookie is None else cookie.value


@pytest.fixture
def sapp(app: kolben.Kolben) -> kolben.Kolben:
    """An app with views that set, read, change and clear the session."""

    @app.route("/set/<key>/<value>")
    def set_value(key: str, value: str) -> str:
        session[key] = value
        return "ok"

    @app.route("/get/<key>")
    def get_value(key: str) -> str:
        return repr(session.get(key))

    @app.route("/items")
    def items() -> dict[str, t.Any]:
        return dict(session)

    @app.route("/permanent/<int:on>")
    def permanent(on: int) -> str:
        session.permanent = bool(on)
        return "ok"

    @app.route("/clear")
    def clear() -> str:
        session.clear()
        return "ok"

    @app.route("/untouched")
    def untouched() -> str:
        return "ok"

    return app


# -- the basics ----------------------------------------------------------------------


def test_values_survive_across_requests(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/set/name/Ada")
    client.get("/set/lang/en")
    assert client.get("/get/name").text == "'Ada'"
    assert client.get("/items").json == {"name": "Ada", "lang": "en"}


def test_set_cookie_defaults(sapp: kolben.Kolben, client: KolbenClient) -> None:
    rv = client.get("/set/a/1")
    [header] = _cookie_headers(rv)
    assert "HttpOnly" in header
    assert "Path=/" in header
    # Not permanent: no expiry, the browser drops it when it closes.
    assert "Expires" not in header
    assert "Max-Age" not in header
    for attr in ("Domain", "Secure", "SameSite", "Partitioned"):
        assert attr not in header
    assert rv.headers["Vary"] == "Cookie"


def test_untouched_session_sets_nothing(sapp: kolben.Kolben, client: KolbenClient) -> None:
    rv = client.get("/untouched")
    assert rv.headers.getlist("Set-Cookie") == []
    assert "Vary" not in rv.headers
    client.get("/set/a/1")
    rv = client.get("/untouched")
    assert rv.headers.getlist("Set-Cookie") == []
    assert "Vary" not in rv.headers


def test_reading_adds_vary_but_no_cookie(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/set/a/1")
    rv = client.get("/get/a")
    assert rv.text == "'1'"
    assert rv.headers.getlist("Set-Cookie") == []
    assert rv.headers["Vary"] == "Cookie"


def test_vary_is_added_to_an_existing_vary(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> kolben.Response:
        session.get("x")
        rv = kolben.make_response("ok")
        rv.headers["Vary"] = "Accept-Encoding"
        return rv

    assert client.get("/").headers["Vary"] == "Accept-Encoding, Cookie"


@pytest.mark.parametrize(
    "use",
    [
        lambda: "x" in session,
        lambda: len(session),
        lambda: list(session),
        lambda: session.keys(),
        lambda: session.permanent,
    ],
    ids=["in", "len", "iter", "keys", "permanent"],
)
def test_any_access_marks_accessed(
    app: kolben.Kolben, client: KolbenClient, use: t.Callable[[], t.Any]
) -> None:
    """Flask 3.1.3: any use of the session through the request context counts, so
    a page that only checks ``"user" in session`` still gets ``Vary: Cookie``."""

    @app.route("/")
    def index() -> str:
        use()
        return "ok"

    rv = client.get("/")
    assert rv.headers["Vary"] == "Cookie"
    assert rv.headers.getlist("Set-Cookie") == []


@pytest.mark.parametrize("where", ["open_session", "save_session"])
def test_interface_reading_its_session_adds_no_vary(
    app: kolben.Kolben, client: KolbenClient, where: str
) -> None:
    """An interface's own code reading the session (not through ``session``) does
    not mark it accessed, as in Flask 3.1.3: a page that never uses the session
    gets no ``Vary: Cookie``."""

    class Interface(SecureCookieSessionInterface):
        def open_session(self, app: t.Any, request: t.Any) -> SecureCookieSession | None:
            sess = super().open_session(app, request)
            if where == "open_session" and sess is not None and sess.get("expired"):
                sess.clear()
            return sess

        def save_session(self, app: t.Any, session: SessionMixin, response: t.Any) -> None:
            if where == "save_session":
                response.headers["X-User"] = repr(session.get("user"))
            super().save_session(app, session, response)

    app.session_interface = Interface()

    @app.route("/login")
    def login() -> str:
        session["user"] = "ann"
        return "ok"

    @app.route("/page")
    def page() -> str:
        return "page"

    @app.route("/me")
    def me() -> str:
        return repr(session.get("user"))

    assert "Vary" not in client.get("/page").headers
    assert client.get("/login").headers["Vary"] == "Cookie"
    rv = client.get("/page")
    assert "Vary" not in rv.headers
    assert rv.headers.getlist("Set-Cookie") == []
    assert client.get("/me").headers["Vary"] == "Cookie"


def test_clearing_deletes_the_cookie(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/set/a/1")
    rv = client.get("/clear")
    [header] = _cookie_headers(rv)
    assert header.startswith("session=;")
    assert "Max-Age=0" in header
    assert "Expires=Thu, 01 Jan 1970 00:00:00 GMT" in header
    assert rv.headers["Vary"] == "Cookie"
    assert _session_cookie(client) is None
    assert client.get("/items").json == {}


def test_clearing_an_empty_session_sets_no_cookie(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        session.get("x")  # accessed, not modified, empty
        return "ok"

    rv = client.get("/")
    assert rv.headers.getlist("Set-Cookie") == []
    assert rv.headers["Vary"] == "Cookie"


def test_delete_uses_the_same_cookie_attributes(sapp: kolben.Kolben, client: KolbenClient) -> None:
    sapp.config.update(
        SESSION_COOKIE_DOMAIN="example.com",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PARTITIONED=True,
        SERVER_NAME="example.com",
        APPLICATION_ROOT="/app",
    )
    set_header = _cookie_headers(client.get("/set/a/1"))[0]
    del_header = _cookie_headers(client.get("/clear"))[0]
    for attr in (
        "Domain=example.com",
        "Path=/app",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Partitioned",
    ):
        assert attr in set_header.split("; ")
        assert attr in del_header.split("; ")


def test_nested_change_needs_modified(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/init")
    def init() -> str:
        session["cart"] = []
        return "ok"

    @app.route("/add/<mark>")
    def add(mark: str) -> str:
        session["cart"].append("x")
        if mark == "yes":
            session.modified = True
        return "ok"

    @app.route("/cart")
    def cart() -> t.Any:
        return session["cart"]

    client.get("/init")
    assert _cookie_headers(client.get("/add/no")) == []
    assert client.get("/cart").json == []
    assert len(_cookie_headers(client.get("/add/yes"))) == 1
    assert client.get("/cart").json == ["x"]


def test_session_object_flags(app: kolben.Kolben) -> None:
    with app.test_request_context():
        assert isinstance(session._get_current_object(), SecureCookieSession)  # type: ignore[attr-defined]
        assert session.new is False
        assert session.modified is False
        assert session.accessed is True  # used through the request context
        session.get("x")
        assert session.modified is False
        session["x"] = 1
        assert session.modified is True


@pytest.mark.parametrize(
    "action",
    [
        lambda s: s["k"],
        lambda s: s.get("k"),
        lambda s: s.setdefault("k", 2),
    ],
    ids=["getitem", "get", "setdefault"],
)
def test_reads_do_not_mark_accessed(action: t.Callable[[SecureCookieSession], t.Any]) -> None:
    """Flask 3.1.3: the session object does not track reads; the request context
    marks it accessed on each use of ``session``."""
    s = SecureCookieSession({"k": 1})
    assert not s.accessed
    action(s)
    assert s.accessed is False
    assert not s.modified


@pytest.mark.parametrize(
    "action",
    [
        lambda s: s.__setitem__("k", 2),
        lambda s: s.__delitem__("k"),
        lambda s: s.pop("k"),
        lambda s: s.popitem(),
        lambda s: s.update(k=3),
        lambda s: s.clear(),
        lambda s: s.setdefault("new", 1),
    ],
    ids=["setitem", "delitem", "pop", "popitem", "update", "clear", "setdefault-new"],
)
def test_writes_mark_modified(action: t.Callable[[SecureCookieSession], t.Any]) -> None:
    s = SecureCookieSession({"k": 1})
    action(s)
    assert s.modified
    assert s.accessed is False  # Flask 3.1.3: the request context tracks it


def test_mixin_defaults() -> None:
    class DictSession(dict[str, t.Any], SessionMixin):  # type: ignore[misc]
        pass

    s = DictSession()
    assert s.modified is True
    assert s.accessed is False  # Flask 3.1.3: the request context tracks it
    assert s.new is False
    assert s.permanent is False
    s.permanent = 1  # type: ignore[assignment]
    assert s["_permanent"] is True
    assert s.permanent is True


# -- permanent sessions and expiry ---------------------------------------------------


def _expires(header: str) -> datetime:
    for part in header.split("; "):
        if part.startswith("Expires="):
            rv = parse_date(part[len("Expires=") :])
            assert rv is not None
            return rv
    raise AssertionError(f"no Expires in {header!r}")


def test_permanent_session_expires_after_lifetime(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    rv = client.get("/permanent/1")
    [header] = _cookie_headers(rv)
    expected = datetime.now(timezone.utc) + timedelta(days=31)
    assert abs((_expires(header) - expected).total_seconds()) < 60
    assert client.get("/items").json == {"_permanent": True}


@pytest.mark.parametrize("lifetime", [3600, timedelta(hours=1)], ids=["int", "timedelta"])
def test_permanent_session_lifetime_config(
    sapp: kolben.Kolben, client: KolbenClient, lifetime: int | timedelta
) -> None:
    sapp.config["PERMANENT_SESSION_LIFETIME"] = lifetime
    [header] = _cookie_headers(client.get("/permanent/1"))
    expected = datetime.now(timezone.utc) + timedelta(hours=1)
    assert abs((_expires(header) - expected).total_seconds()) < 60


def test_permanent_session_refreshed_each_request(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    client.get("/permanent/1")
    # The view doesn't touch the session: the cookie is sent again all the same,
    # pushing its expiry forward.
    for url in ("/untouched", "/get/a"):
        rv = client.get(url)
        assert len(_cookie_headers(rv)) == 1
        assert rv.headers["Vary"] == "Cookie"


def test_refresh_each_request_off(sapp: kolben.Kolben, client: KolbenClient) -> None:
    sapp.config["SESSION_REFRESH_EACH_REQUEST"] = False
    client.get("/permanent/1")
    assert _cookie_headers(client.get("/untouched")) == []
    assert _cookie_headers(client.get("/get/a")) == []
    assert len(_cookie_headers(client.get("/set/a/1"))) == 1


def test_non_permanent_session_not_refreshed(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/set/a/1")
    assert _cookie_headers(client.get("/untouched")) == []
    assert _cookie_headers(client.get("/get/a")) == []


def test_making_a_session_non_permanent(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/permanent/1")
    [header] = _cookie_headers(client.get("/permanent/0"))
    assert "Expires" not in header
    assert client.get("/items").json == {"_permanent": False}


class _OldSigner(TimestampSigner):
    """Signs with a timestamp two hours in the past."""

    def get_timestamp(self) -> int:
        return int(time.time()) - 7200


def _sign(
    data: dict[str, t.Any],
    key: str | bytes = "test key",
    signer: type[TimestampSigner] = TimestampSigner,
    salt: str = "cookie-session",
) -> str:
    """Sign a session the way the documented defaults say (independently of kolben)."""
    s = URLSafeTimedSerializer(
        key,
        salt=salt,
        serializer=TaggedJSONSerializer(),
        signer=signer,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return s.dumps(data)


def test_cookie_signed_with_documented_defaults_is_read(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    client.set_cookie("session", _sign({"a": "x", "t": (1, 2)}))
    assert client.get("/get/t").text == "(1, 2)"


def test_expired_cookie_gives_empty_session(sapp: kolben.Kolben, client: KolbenClient) -> None:
    sapp.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=1)
    client.set_cookie("session", _sign({"a": "x"}, signer=_OldSigner))
    assert client.get("/items").json == {}
    sapp.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=3)
    assert client.get("/items").json == {"a": "x"}


# -- bad cookies ---------------------------------------------------------------------


def _bad_cookies() -> list[tuple[str, str]]:
    good = _sign({"a": "x"})
    payload, ts, sig = good.rsplit(".", 2)
    # Change the first character: the last one of a base64 SHA-1 carries padding
    # bits, so changing it may leave the decoded signature as it was.
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return [
        ("tampered-signature", f"{payload}.{ts}.{flipped}"),
        ("tampered-payload", f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{ts}.{sig}"),
        ("tampered-timestamp", f"{payload}.{ts[:-1]}{'A' if ts[-1] != 'A' else 'B'}.{sig}"),
        ("truncated", good[: len(good) // 2]),
        ("no-signature", payload),
        ("no-timestamp", f"{payload}.{sig}"),
        ("empty-parts", ".."),
        ("only-dots", "...."),
        ("garbage", "not a session"),
        ("unicode", "ünïcödé.🍪.x"),
        ("other-key", _sign({"a": "x"}, key="another key")),
        ("other-salt", _sign({"a": "x"}, salt="something-else")),
        (
            "signed-list",
            _sign(
                [1, 2],
            ),
        ),  # type: ignore[arg-type]
        ("signed-string", _sign("just a string")),  # type: ignore[arg-type]
        ("signed-null", _sign(None)),  # type: ignore[arg-type]
        ("bad-base64", _sign_raw(b"!!!not base64!!!")),
        ("bad-zlib", _sign_raw(b".eJzzSM3JyVcozy_KSQEAGAQE")),
        ("bad-json", _sign_raw(b"eyJhIjo")),
        ("bad-tag-bytes", _sign_raw(_b64(b'{" b":"***"}'))),
        ("bad-tag-uuid", _sign_raw(_b64(b'{" u":"nope"}'))),
        ("bad-tag-date", _sign_raw(_b64(b'{" d":"not a date"}'))),
        ("bad-tag-tuple", _sign_raw(_b64(b'{" t":5}'))),
        ("bad-tag-dict", _sign_raw(_b64(b'{"a":{" di":5}}'))),
        # Compressed payloads (a leading "."), as itsdangerous writes long ones.
        ("huge-number", _sign_raw(b"." + _b64(zlib.compress(b'{"a":' + b"9" * 5000 + b"}")))),
        ("deep-nesting", _sign_raw(b"." + _b64(zlib.compress(b"[" * 100_000 + b"]" * 100_000)))),
        ("deep-tags", _sign_raw(b"." + _b64(zlib.compress(b'{" t":' * 5000 + b"1" + b"}" * 5000)))),
    ]


def _b64(data: bytes) -> bytes:
    from base64 import urlsafe_b64encode

    return urlsafe_b64encode(data).rstrip(b"=")


def _sign_raw(payload: bytes, key: str = "test key") -> str:
    """Sign an arbitrary payload with the session key, bypassing the serializer."""
    from itsdangerous.timed import TimestampSigner as _TS

    signer = _TS(key, salt="cookie-session", key_derivation="hmac", digest_method=hashlib.sha1)
    return signer.sign(payload).decode("ascii")


@pytest.mark.parametrize(("name", "value"), _bad_cookies(), ids=[n for n, _ in _bad_cookies()])
def test_bad_cookie_gives_empty_session(
    sapp: kolben.Kolben, client: KolbenClient, name: str, value: str
) -> None:
    client.set_cookie("session", value)
    rv = client.get("/items")
    assert rv.status_code == 200
    assert rv.json == {}
    # A new value replaces the bad cookie.
    client.set_cookie("session", value)
    client.get("/set/a/new")
    assert client.get("/items").json == {"a": "new"}


def test_empty_cookie_value_gives_empty_session(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.set_cookie("session", "")
    assert client.get("/items").json == {}


# -- configuration -------------------------------------------------------------------


def test_cookie_config_keys(sapp: kolben.Kolben, client: KolbenClient) -> None:
    sapp.config.update(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN="example.com",
        SESSION_COOKIE_PATH="/shop",
        SESSION_COOKIE_HTTPONLY=False,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PARTITIONED=True,
    )
    rv = client.get("/set/a/1")
    [header] = rv.headers.getlist("Set-Cookie")
    parts = header.split("; ")
    assert parts[0].startswith("sid=")
    assert "Domain=example.com" in parts
    assert "Path=/shop" in parts
    assert "HttpOnly" not in parts
    assert "Secure" in parts
    assert "SameSite=Strict" in parts
    assert "Partitioned" in parts


def test_cookie_name_is_used_for_reading(sapp: kolben.Kolben, client: KolbenClient) -> None:
    sapp.config["SESSION_COOKIE_NAME"] = "sid"
    client.get("/set/a/1")
    assert _session_cookie(client, "sid") is not None
    assert _session_cookie(client) is None
    assert client.get("/get/a").text == "'1'"


def test_cookie_path_defaults_to_application_root(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    sapp.config["APPLICATION_ROOT"] = "/root"
    [header] = _cookie_headers(client.get("/set/a/1"))
    assert "Path=/root" in header.split("; ")


def test_interface_getters_read_config(app: kolben.Kolben) -> None:
    si = app.session_interface
    assert si.get_cookie_name(app) == "session"
    assert si.get_cookie_domain(app) is None
    assert si.get_cookie_path(app) == "/"
    assert si.get_cookie_httponly(app) is True
    assert si.get_cookie_secure(app) is False
    assert si.get_cookie_samesite(app) is None
    assert si.get_cookie_partitioned(app) is False
    app.config["SESSION_COOKIE_DOMAIN"] = ""
    assert si.get_cookie_domain(app) is None


def test_get_expiration_time(app: kolben.Kolben) -> None:
    si = app.session_interface
    s = SecureCookieSession()
    assert si.get_expiration_time(app, s) is None
    s.permanent = True
    rv = si.get_expiration_time(app, s)
    assert rv is not None
    assert rv.tzinfo is not None
    assert abs((rv - datetime.now(timezone.utc) - timedelta(days=31)).total_seconds()) < 60


def test_should_set_cookie(app: kolben.Kolben) -> None:
    si = app.session_interface
    s = SecureCookieSession({"a": 1})
    assert not si.should_set_cookie(app, s)
    s["b"] = 2
    assert si.should_set_cookie(app, s)
    s = SecureCookieSession({"_permanent": True})
    assert si.should_set_cookie(app, s)
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    assert not si.should_set_cookie(app, s)


def test_too_large_cookie_warns(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        session["x"] = secrets.token_hex(3000)  # random: compression doesn't help
        return "ok"

    with pytest.warns(UserWarning, match="'session' cookie is too large"):
        client.get("/")


def test_max_cookie_size_config(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        session["x"] = secrets.token_hex(3000)
        return "ok"

    app.config["MAX_COOKIE_SIZE"] = 0  # 0 turns the check off, as in werkzeug
    rv = client.get("/")
    assert len(_cookie_headers(rv)) == 1


def test_unserializable_value_is_an_error(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        session["x"] = object()
        return "ok"

    with pytest.raises(TypeError):
        client.get("/")


# -- no secret key -------------------------------------------------------------------


def test_no_secret_key_reads_work_writes_fail(app: kolben.Kolben, client: KolbenClient) -> None:
    app.secret_key = None

    @app.route("/read")
    def read() -> str:
        return f"{session.get('x')!r} {len(session)} {type(session._get_current_object()).__name__}"  # type: ignore[attr-defined]

    @app.route("/write")
    def write() -> str:
        session["x"] = 1
        return "ok"

    rv = client.get("/read")
    assert rv.text == "None 0 NullSession"
    assert rv.headers.getlist("Set-Cookie") == []
    with pytest.raises(RuntimeError, match=r"no secret key was set.*app\.secret_key"):
        client.get("/write")


@pytest.mark.parametrize(
    "action",
    [
        lambda s: s.__setitem__("k", 1),
        lambda s: s.__delitem__("k"),
        lambda s: s.pop("k", None),
        lambda s: s.popitem(),
        lambda s: s.update(k=1),
        lambda s: s.clear(),
        lambda s: s.setdefault("k", 1),
    ],
    ids=["setitem", "delitem", "pop", "popitem", "update", "clear", "setdefault"],
)
def test_null_session_refuses_changes(action: t.Callable[[NullSession], t.Any]) -> None:
    s = NullSession()
    with pytest.raises(RuntimeError, match="secret key"):
        action(s)
    assert s.get("k") is None
    assert dict(s) == {}


def test_null_session_helpers(app: kolben.Kolben) -> None:
    si = app.session_interface
    null = si.make_null_session(app)
    assert isinstance(null, NullSession)
    assert si.is_null_session(null)
    assert not si.is_null_session(SecureCookieSession())
    app.secret_key = None
    with app.test_request_context():
        assert si.open_session(app, kolben.request) is None


def test_empty_secret_key_counts_as_missing(app: kolben.Kolben) -> None:
    app.secret_key = ""
    assert app.session_interface.get_signing_serializer(app) is None


# -- key rotation and the signing serializer -----------------------------------------


def test_fallback_keys_are_accepted(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.set_cookie("session", _sign({"a": "old"}, key="old key"))
    assert client.get("/get/a").text == "None"
    sapp.config["SECRET_KEY_FALLBACKS"] = ["older key", "old key"]
    assert client.get("/get/a").text == "'old'"
    # A new cookie is signed with SECRET_KEY, not a fallback.
    client.get("/set/b/new")
    value = _session_cookie(client)
    assert value is not None
    s = URLSafeTimedSerializer(
        "test key",
        salt="cookie-session",
        serializer=TaggedJSONSerializer(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    assert s.loads(value) == {"a": "old", "b": "new"}


def test_bytes_secret_key(sapp: kolben.Kolben, client: KolbenClient) -> None:
    sapp.secret_key = b"\x00binary\xffkey"
    client.get("/set/a/1")
    assert client.get("/get/a").text == "'1'"
    value = _session_cookie(client)
    assert value is not None
    assert _sign({"a": "1"}, key=b"\x00binary\xffkey").split(".")[0] == value.split(".")[0]


def test_signing_serializer_is_reused(app: kolben.Kolben) -> None:
    si = SecureCookieSessionInterface()
    first = si.get_signing_serializer(app)
    assert first is not None
    assert si.get_signing_serializer(app) is first
    app.config["SECRET_KEY_FALLBACKS"] = ["old"]
    second = si.get_signing_serializer(app)
    assert second is not first
    assert second is not None
    assert si.get_signing_serializer(app) is second
    app.secret_key = "new key"
    third = si.get_signing_serializer(app)
    assert third is not second
    # Settings changed on the interface are honoured too.
    si.salt = "other-salt"
    fourth = si.get_signing_serializer(app)
    assert fourth is not third
    assert fourth is not None
    assert fourth.salt == b"other-salt"


def test_signing_serializer_per_app(app: kolben.Kolben) -> None:
    other = kolben.Kolben("other")
    other.secret_key = "other key"
    si = app.session_interface
    assert si is other.session_interface  # one instance shared by the class
    a = si.get_signing_serializer(app)
    b = si.get_signing_serializer(other)
    assert a is not b
    assert si.get_signing_serializer(app) is a
    assert si.get_signing_serializer(other) is b


def test_signing_serializer_cache_is_bounded(app: kolben.Kolben) -> None:
    si = SecureCookieSessionInterface()
    for i in range(100):
        app.secret_key = f"key {i}"
        assert si.get_signing_serializer(app) is not None
    cache = app_cache(app, sessions_module._SIGNER_CACHE, 0)
    assert 0 < len(cache) <= si._signer_cache_size


def test_interface_class_attributes() -> None:
    si = SecureCookieSessionInterface()
    assert si.salt == "cookie-session"
    assert si.key_derivation == "hmac"
    assert si.digest_method().name == "sha1"
    assert si.digest_method(b"x").hexdigest() == hashlib.sha1(b"x").hexdigest()
    assert isinstance(si.serializer, TaggedJSONSerializer)
    assert si.session_class is SecureCookieSession
    assert si.null_session_class is NullSession
    assert si.pickle_based is False
    assert isinstance(kolben.Kolben.session_interface, SecureCookieSessionInterface)


# -- custom interfaces ---------------------------------------------------------------


class _MemorySession(dict[str, t.Any], SessionMixin):  # type: ignore[misc]
    pass


class _MemoryInterface(SessionInterface):
    """Sessions kept server-side in a dict, keyed by a cookie id."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, t.Any]] = {}
        self.opened = 0
        self.saved = 0

    def open_session(self, app: kolben.Kolben, request: kolben.Request) -> SessionMixin | None:
        self.opened += 1
        sid = request.cookies.get(self.get_cookie_name(app))
        s = _MemorySession(self.store.get(sid or "", {}))
        s.sid = sid  # type: ignore[attr-defined]
        return s

    def save_session(
        self, app: kolben.Kolben, session: SessionMixin, response: kolben.Response
    ) -> None:
        self.saved += 1
        sid = getattr(session, "sid", None) or secrets.token_hex(8)
        self.store[sid] = dict(session)
        response.set_cookie(self.get_cookie_name(app), sid, path=self.get_cookie_path(app))


def test_custom_session_interface(sapp: kolben.Kolben, client: KolbenClient) -> None:
    si = _MemoryInterface()
    sapp.session_interface = si
    client.get("/set/a/1")
    assert client.get("/get/a").text == "'1'"
    assert list(si.store.values()) == [{"a": "1"}]
    assert si.saved == 2


def test_custom_interface_opened_and_saved_on_every_request(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    """As Flask: an interface of the app's own is opened when the request context
    is pushed and saved with every response, used by the view or not."""
    si = _MemoryInterface()
    sapp.session_interface = si
    client.get("/untouched")
    assert (si.opened, si.saved) == (1, 1)
    client.get("/get/a")
    assert (si.opened, si.saved) == (2, 2)


def test_custom_interface_sets_its_cookie_on_every_response(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """A save_session that always sets a cookie of its own (a visitor id) sets it
    on a first visit whose view never uses the session, as on Flask."""

    class VisitorInterface(SecureCookieSessionInterface):
        def save_session(
            self, app: kolben.Kolben, session: SessionMixin, response: kolben.Response
        ) -> None:
            super().save_session(app, session, response)
            response.set_cookie("visitor", "v1")

    app.session_interface = VisitorInterface()

    @app.route("/")
    def index() -> str:
        return "ok"

    assert client.get("/").headers.getlist("Set-Cookie") == ["visitor=v1; Path=/"]


def test_custom_interface_opened_before_matching_and_hooks(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """Flask opens the session at push, before the URL is matched (so converters
    can use it) and before the request's hooks, whether they use it or not."""
    calls: list[str] = []

    class Interface(SecureCookieSessionInterface):
        def open_session(self, app: kolben.Kolben, request: kolben.Request) -> t.Any:
            calls.append("open")
            return super().open_session(app, request)

    class Remembering(BaseConverter):
        def to_python(self, value: str) -> str:
            calls.append("convert")
            return value

    app.url_map.converters["remembering"] = Remembering
    app.session_interface = Interface()

    @app.before_request
    def before() -> None:
        calls.append("before")

    @app.route("/<remembering:v>")
    def view(v: str) -> str:
        calls.append("view")
        return v

    assert client.get("/x").text == "x"
    assert calls == ["open", "convert", "before", "view"]


def test_custom_interface_open_error_is_a_server_error(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """An open_session that fails fails the request as on Flask: the 500 handler
    answers, no hook or view runs, and the teardown functions still do."""
    calls: list[str] = []

    class Broken(SecureCookieSessionInterface):
        def open_session(self, app: kolben.Kolben, request: kolben.Request) -> t.Any:
            raise OSError("store down")

        def save_session(self, *args: t.Any) -> None:
            calls.append("save")

    app.session_interface = Broken()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.errorhandler(500)
    def failed(e: Exception) -> tuple[str, int]:
        calls.append(f"500 {type(e.original_exception).__name__}")  # type: ignore[attr-defined]
        return "store down", 500

    @app.before_request
    def before() -> None:
        calls.append("before")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        calls.append(f"teardown {type(exc).__name__}")

    @app.route("/")
    def index() -> str:
        calls.append("view")
        return "ok"

    rv = client.get("/")
    assert (rv.status_code, rv.text) == (500, "store down")
    assert calls == ["500 OSError", "teardown OSError"]


def test_custom_interface_that_failed_to_open_is_not_opened_again(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    """As Flask: an open_session that failed at push is called once, also when the
    request carries the session cookie (the save doesn't open it again)."""
    calls: list[str] = []

    class Broken(SecureCookieSessionInterface):
        def open_session(self, app: kolben.Kolben, request: kolben.Request) -> t.Any:
            calls.append("open")
            raise OSError("store down")

    app.session_interface = Broken()
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/")
    def index() -> str:
        return "ok"

    client.set_cookie("session", "x")
    assert client.get("/").status_code == 500
    assert calls == ["open"]


@pytest.mark.parametrize("backend", ["cookie", "memory"])
def test_own_interfaces_not_opened_when_unused(
    sapp: kolben.Kolben, client: KolbenClient, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kolben's own interfaces open the session on its first use (PERF), unlike
    one of the app's own (above): a request that never uses it doesn't read it."""
    sapp.config["SESSION_BACKEND"] = backend
    client.get("/set/a/1")
    interface = sapp.session_interface
    opened: list[str] = []
    original = interface.open_session

    def counting(app: kolben.Kolben, request: kolben.Request) -> t.Any:
        opened.append(request.path)
        return original(app, request)

    # On the instance: the class stays kolben's own.
    monkeypatch.setattr(interface, "open_session", counting)
    client.get("/untouched")
    assert opened == []
    assert client.get("/get/a").text == "'1'"
    assert opened == ["/get/a"]


def test_open_session_none_gives_null_session(app: kolben.Kolben, client: KolbenClient) -> None:
    class NoSessions(SecureCookieSessionInterface):
        def open_session(self, app: kolben.Kolben, request: kolben.Request) -> None:
            return None

        def save_session(self, *args: t.Any) -> None:
            raise AssertionError("a null session is never saved")

    app.session_interface = NoSessions()

    @app.route("/")
    def index() -> str:
        return type(session._get_current_object()).__name__  # type: ignore[attr-defined]

    assert client.get("/").text == "NullSession"


def test_base_interface_methods_are_abstract(app: kolben.Kolben) -> None:
    si = SessionInterface()
    with app.test_request_context(), pytest.raises(NotImplementedError):
        si.open_session(app, kolben.request)
    with pytest.raises(NotImplementedError):
        si.save_session(app, SecureCookieSession(), app.response_class())


def test_session_outside_request_context() -> None:
    with pytest.raises(RuntimeError, match="outside of request context"):
        session.get("x")


def test_session_in_test_request_context(app: kolben.Kolben) -> None:
    cookie = _sign({"who": "me"})
    with app.test_request_context(headers={"Cookie": f"session={cookie}"}):
        assert session["who"] == "me"


# -- session_transaction -------------------------------------------------------------


def test_session_transaction_sets_values(sapp: kolben.Kolben, client: KolbenClient) -> None:
    with client.session_transaction() as sess:
        assert dict(sess) == {}
        sess["a"] = "from test"
        sess["n"] = (1, 2)
    assert client.get("/get/a").text == "'from test'"
    assert client.get("/get/n").text == "(1, 2)"


def test_session_transaction_sees_request_values(sapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/set/a/1")
    with client.session_transaction() as sess:
        assert sess["a"] == "1"
        del sess["a"]
        sess["b"] = "2"
    assert client.get("/items").json == {"b": "2"}


def test_session_transaction_without_change_keeps_cookie(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    client.get("/set/a/1")
    before = _session_cookie(client)
    with client.session_transaction() as sess:
        assert sess["a"] == "1"
    assert _session_cookie(client) == before


def test_session_transaction_clear_deletes_cookie(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    client.get("/set/a/1")
    with client.session_transaction() as sess:
        sess.clear()
    assert _session_cookie(client) is None
    assert client.get("/items").json == {}


def test_session_transaction_permanent(sapp: kolben.Kolben, client: KolbenClient) -> None:
    with client.session_transaction() as sess:
        sess.permanent = True
        sess["a"] = "x"
    cookie = client.get_cookie("session")
    assert cookie is not None
    assert cookie.expires is not None
    assert client.get("/items").json == {"_permanent": True, "a": "x"}


def test_session_transaction_uses_request_arguments(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    sapp.config["SESSION_COOKIE_DOMAIN"] = "example.com"
    with client.session_transaction(base_url="http://example.com/") as sess:
        sess["a"] = "x"
    assert client.get_cookie("session", domain="example.com") is not None
    assert client.get("/get/a", base_url="http://example.com/").text == "'x'"


def test_session_transaction_with_server_name_and_path(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    sapp.config.update(SERVER_NAME="shop.test", APPLICATION_ROOT="/app")
    with client.session_transaction() as sess:
        sess["a"] = "x"
    cookie = client.get_cookie("session", domain="shop.test", path="/app")
    assert cookie is not None
    assert client.get("/get/a").text == "'x'"


def test_session_transaction_inside_with_client(sapp: kolben.Kolben, client: KolbenClient) -> None:
    with client:
        with client.session_transaction() as sess:
            sess["a"] = "x"
        client.get("/get/a")
        assert session["a"] == "x"


def test_session_transaction_needs_cookies(
    app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]
) -> None:
    client = client_for(app, use_cookies=False)
    with pytest.raises(RuntimeError, match="use_cookies=True"):  # noqa: SIM117
        with client.session_transaction():
            pass
    with pytest.raises(TypeError, match="Cookies are disabled"):  # noqa: SIM117
        with client.session_transaction():
            pass


def test_session_transaction_needs_secret_key(app: kolben.Kolben, client: KolbenClient) -> None:
    app.secret_key = None
    with pytest.raises(RuntimeError, match="secret key"):  # noqa: SIM117
        with client.session_transaction():
            pass


def test_session_transaction_exception_saves_nothing(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    with pytest.raises(ZeroDivisionError), client.session_transaction() as sess:
        sess["a"] = "x"
        1 / 0  # noqa: B018
    assert _session_cookie(client) is None


def test_session_transaction_custom_interface(sapp: kolben.Kolben, client: KolbenClient) -> None:
    si = _MemoryInterface()
    sapp.session_interface = si
    with client.session_transaction() as sess:
        sess["a"] = "x"
    assert client.get("/get/a").text == "'x'"


def test_signing_serializer_works_with_other_salts(app: kolben.Kolben) -> None:
    """The serializer reuses its signers; explicit salts still separate signatures."""
    signer = app.session_interface.get_signing_serializer(app)
    assert signer is not None
    tokens = {f"salt-{i}": signer.dumps({"i": i}, salt=f"salt-{i}") for i in range(20)}
    for salt, token in tokens.items():
        assert signer.loads(token, salt=salt) == {"i": int(salt[5:])}
    with pytest.raises(BadSignature):
        signer.loads(tokens["salt-1"], salt="salt-2")
    assert signer.loads(signer.dumps({"a": 1})) == {"a": 1}


def test_secret_key_removed_during_request(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        session["a"] = 1
        app.secret_key = None
        return "ok"

    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.headers.getlist("Set-Cookie") == []
