"""Session cookies are interchangeable with Flask 3.1's: with the same secret key and
settings, a cookie written by a kolben app is read by a Flask app and the other way
round, through their test clients (kolben's through both doors, with ``client_for``).
Also secret key rotation across the two."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone
from uuid import UUID

import pytest
from markupsafe import Markup

import kolben

flask = pytest.importorskip("flask")

KEY = "shared secret key"
VALUES: dict[str, t.Any] = {
    "str": "ünïcödé ✓",
    "int": 42,
    "float": 1.5,
    "bool": True,
    "none": None,
    "list": [1, "two", [3]],
    "nested": {"a": {"b": [1, {"c": (2, 3)}]}, " t": "tag-like key"},
    "tag_like": {" t": [1, 2]},
    "tuple": (1, "x", (2.5, None)),
    "bytes": b"\x00\xffraw bytes",
    "datetime": datetime(2024, 5, 17, 12, 30, 45, tzinfo=timezone.utc),
    "uuid": UUID("12345678-1234-5678-1234-567812345678"),
    "markup": Markup("<strong>safe</strong>"),
}


def _configure(app: t.Any, **config: t.Any) -> None:
    app.config.update(TESTING=True, SECRET_KEY=KEY, **config)

    @app.route("/write")
    def write() -> str:
        session = _session_of(app)
        session.update(VALUES)
        session.permanent = True
        return "ok"

    @app.route("/write/<key>/<value>")
    def write_one(key: str, value: str) -> str:
        _session_of(app)[key] = value
        return "ok"

    @app.route("/read")
    def read() -> str:
        session = _session_of(app)
        return _canon(dict(session))

    @app.route("/permanent")
    def permanent() -> str:
        return repr(_session_of(app).permanent)


def _canon(value: t.Any) -> str:
    """A repr that keeps every type (tuple vs list, bytes, Markup, UUID, aware
    datetime) and doesn't depend on dict order."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_canon(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_canon(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner},)"
    return f"{type(value).__name__}:{value!r}"


def _session_of(app: t.Any) -> t.Any:
    return kolben.session if isinstance(app, kolben.Kolben) else flask.session


def _expected(**extra: t.Any) -> str:
    return _canon({**VALUES, "_permanent": True, **extra})


def _cookie(client: t.Any, name: str = "session", domain: str = "localhost") -> str:
    cookie = client.get_cookie(name, domain=domain)
    assert cookie is not None, f"no {name!r} cookie was set"
    return t.cast(str, cookie.value)


@pytest.fixture
def kapp() -> kolben.Kolben:
    app = kolben.Kolben("interop_kolben")
    _configure(app)
    return app


@pytest.fixture
def fapp() -> t.Any:
    app = flask.Flask("interop_flask")
    _configure(app)
    return app


def test_kolben_cookie_read_by_flask(
    kapp: kolben.Kolben, fapp: t.Any, client_for: t.Callable[..., t.Any]
) -> None:
    kclient = client_for(kapp)
    kclient.get("/write")
    fclient = fapp.test_client()
    fclient.set_cookie("session", _cookie(kclient))
    assert fclient.get("/read").text == _expected()
    assert fclient.get("/permanent").text == "True"


def test_flask_cookie_read_by_kolben(
    kapp: kolben.Kolben, fapp: t.Any, client_for: t.Callable[..., t.Any]
) -> None:
    fclient = fapp.test_client()
    fclient.get("/write")
    kclient = client_for(kapp)
    kclient.set_cookie("session", _cookie(fclient))
    assert kclient.get("/read").text == _expected()
    assert kclient.get("/permanent").text == "True"


def test_round_trip_both_ways(
    kapp: kolben.Kolben, fapp: t.Any, client_for: t.Callable[..., t.Any]
) -> None:
    kclient = client_for(kapp)
    fclient = fapp.test_client()
    kclient.get("/write")
    fclient.set_cookie("session", _cookie(kclient))
    fclient.get("/write/by/flask")
    kclient.set_cookie("session", _cookie(fclient))
    kclient.get("/write/and/kolben")
    fclient.set_cookie("session", _cookie(kclient))
    expected = _expected(by="flask", **{"and": "kolben"})
    assert fclient.get("/read").text == expected
    assert kclient.get("/read").text == expected


def test_same_cookie_attributes(
    kapp: kolben.Kolben, fapp: t.Any, client_for: t.Callable[..., t.Any]
) -> None:
    settings = {
        "SESSION_COOKIE_NAME": "sid",
        "SESSION_COOKIE_DOMAIN": "example.com",
        "SESSION_COOKIE_PATH": "/app",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_PARTITIONED": True,
    }
    kapp.config.update(settings)
    fapp.config.update(settings)
    headers = []
    for test_client in (client_for(kapp), fapp.test_client()):
        rv = test_client.get("/write/a/1", base_url="https://example.com/")
        [header] = rv.headers.getlist("Set-Cookie")
        attributes = header.partition("; ")[2]
        headers.append(attributes)
        assert rv.headers["Vary"] == "Cookie"
    assert headers[0] == headers[1]


def test_same_cookie_value_for_same_data_and_time(
    kapp: kolben.Kolben,
    fapp: t.Any,
    client_for: t.Callable[..., t.Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the clock fixed, both apps write byte-identical cookies for data that
    doesn't compress. (Compressed payloads differ in their zlib settings, not in
    format: each side reads the other's, as the tests above show.)"""
    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: 1_700_000_000.0)
    kclient = client_for(kapp)
    fclient = fapp.test_client()
    kclient.get("/write/user/ada")
    fclient.get("/write/user/ada")
    assert _cookie(kclient) == _cookie(fclient)
    assert not _cookie(kclient).startswith(".")


def test_compressed_cookies(
    kapp: kolben.Kolben, fapp: t.Any, client_for: t.Callable[..., t.Any]
) -> None:
    kclient = client_for(kapp)
    kclient.get("/write")
    value = _cookie(kclient)
    assert value.startswith(".")  # compressed: shorter than the JSON
    fclient = fapp.test_client()
    fclient.get("/write")
    assert len(value) <= len(_cookie(fclient)) + 8


def test_settings_must_match(
    kapp: kolben.Kolben, fapp: t.Any, client_for: t.Callable[..., t.Any]
) -> None:
    kclient = client_for(kapp)
    kclient.get("/write")
    fapp.config["SECRET_KEY"] = "a different key"
    fclient = fapp.test_client()
    fclient.set_cookie("session", _cookie(kclient))
    assert fclient.get("/read").text == "{}"


# -- key rotation --------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["kolben", "flask"])
@pytest.mark.parametrize("reader", ["kolben", "flask"])
def test_secret_key_rotation(writer: str, reader: str, client_for: t.Callable[..., t.Any]) -> None:
    def make(kind: str) -> t.Any:
        app = kolben.Kolben(f"rot_{kind}") if kind == "kolben" else flask.Flask(f"rot_{kind}")
        _configure(app)
        app.config["SECRET_KEY"] = "old key"
        return app

    def client_of(app: t.Any) -> t.Any:
        return client_for(app) if isinstance(app, kolben.Kolben) else app.test_client()

    wapp, rapp = make(writer), make(reader)
    wclient = client_of(wapp)
    wclient.get("/write/who/" + writer)
    old_cookie = _cookie(wclient)

    # Rotate on the reader: the new key signs, the old one is still accepted.
    rapp.config.update(SECRET_KEY="new key", SECRET_KEY_FALLBACKS=["older key", "old key"])
    rclient = client_of(rapp)
    rclient.set_cookie("session", old_cookie)
    assert rclient.get("/read").text == _canon({"who": writer})

    # A change is signed with the new key: readable with the new key alone, not with
    # the old one.
    rclient.get("/write/seen/yes")
    new_cookie = _cookie(rclient)
    for kind in ("kolben", "flask"):
        only_new = make(kind)
        only_new.config["SECRET_KEY"] = "new key"
        c = client_of(only_new)
        c.set_cookie("session", new_cookie)
        assert c.get("/read").text == _canon({"seen": "yes", "who": writer})
        only_old = make(kind)
        c = client_of(only_old)
        c.set_cookie("session", new_cookie)
        assert c.get("/read").text == "{}"

    # Once the old key is dropped from the fallbacks, old cookies are refused.
    rapp.config["SECRET_KEY_FALLBACKS"] = []
    rclient = client_of(rapp)
    rclient.set_cookie("session", old_cookie)
    assert rclient.get("/read").text == "{}"


def test_session_transaction_cookie_read_by_flask(
    kapp: kolben.Kolben, fapp: t.Any, client_for: t.Callable[..., t.Any]
) -> None:
    kclient = client_for(kapp)
    with kclient.session_transaction() as sess:
        sess.update(VALUES)
        sess.permanent = True
    fclient = fapp.test_client()
    fclient.set_cookie("session", _cookie(kclient))
    assert fclient.get("/read").text == _expected()
