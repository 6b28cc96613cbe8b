"""The signed-cookie interface remembers cookies it verified or signed: the cache
must never accept what itsdangerous would reject."""

from __future__ import annotations

import time

import pytest

import kolben
from kolben import session


@pytest.fixture
def counter_app(app: kolben.Kolben) -> kolben.Kolben:
    @app.route("/inc")
    def inc() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    @app.route("/get")
    def get() -> str:
        return str(session.get("n"))

    return app


def _cookie(client: kolben.testing.KolbenClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_signed_cookie_is_read_back(
    counter_app: kolben.Kolben, client: kolben.testing.KolbenClient
) -> None:
    assert client.get("/inc").text == "1"
    assert client.get("/inc").text == "2"
    assert client.get("/get").text == "2"


def test_tampered_cookie_rejected_after_the_genuine_one_was_cached(
    counter_app: kolben.Kolben, client: kolben.testing.KolbenClient
) -> None:
    client.get("/inc")
    genuine = _cookie(client)
    assert client.get("/get").text == "1"  # now remembered as verified
    payload, ts, sig = genuine.rsplit(".", 2)
    forged_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    for forged in (f"{payload}.{ts}.{forged_sig}", f"{payload}x.{ts}.{sig}", genuine[:-1]):
        client.set_cookie("session", forged)
        assert client.get("/get").text == "None", forged


def test_cached_cookie_still_expires(
    counter_app: kolben.Kolben, monkeypatch: pytest.MonkeyPatch, client: kolben.testing.KolbenClient
) -> None:
    counter_app.config["PERMANENT_SESSION_LIFETIME"] = 60
    client.get("/inc")
    assert client.get("/get").text == "1"  # cached
    cookie = _cookie(client)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 120)
    client.set_cookie("session", cookie)
    assert client.get("/get").text == "None"


def test_cookie_from_the_future_is_rejected_even_when_cached(
    counter_app: kolben.Kolben, monkeypatch: pytest.MonkeyPatch, client: kolben.testing.KolbenClient
) -> None:
    client.get("/inc")
    cookie = _cookie(client)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 120)
    client.set_cookie("session", cookie)
    assert client.get("/get").text == "None"


def test_rotation_removes_trust_in_old_keys(
    counter_app: kolben.Kolben, client: kolben.testing.KolbenClient
) -> None:
    client.get("/inc")
    old_cookie = _cookie(client)
    assert client.get("/get").text == "1"  # cached under the old key

    counter_app.config["SECRET_KEY"] = "new key"
    counter_app.config["SECRET_KEY_FALLBACKS"] = ["test key"]
    client.set_cookie("session", old_cookie)
    assert client.get("/get").text == "1"  # accepted through the fallback

    counter_app.config["SECRET_KEY_FALLBACKS"] = None
    client.set_cookie("session", old_cookie)
    assert client.get("/get").text == "None"  # the old key is no longer trusted


def test_cache_is_bounded(counter_app: kolben.Kolben) -> None:
    interface = counter_app.session_interface
    serializer = interface.get_signing_serializer(counter_app)  # type: ignore[attr-defined]
    for i in range(serializer.verified_cache_size + 10):
        serializer.dumps({"i": i})
    assert len(serializer._verified) <= serializer.verified_cache_size
    cookie = serializer.dumps({"x": 1})
    assert serializer.loads(cookie) == {"x": 1}
