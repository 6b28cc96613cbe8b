"""The cookie session's shortcuts give what the general path (werkzeug's cookie
functions, opening every session as Flask does) would give."""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

import pytest
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.http import dump_cookie

import kolben
from kolben.sessions import SecureCookieSessionInterface, _cookie_header
from kolben.testing import KolbenClient


@pytest.fixture
def sapp(app: kolben.Kolben) -> kolben.Kolben:
    @app.route("/login")
    def login() -> str:
        kolben.session["user"] = "ada"
        kolben.session.permanent = True
        return "in"

    @app.route("/nested")
    def nested() -> str:
        # "_permanent" appears in the JSON, but not as the session's own key.
        kolben.session["prefs"] = {"_permanent": True}
        return "set"

    @app.route("/plain")
    def plain() -> str:
        kolben.session["user"] = "bob"
        return "set"

    @app.route("/untouched")
    def untouched() -> str:
        return "nothing"

    return app


def _set_cookies(rv: t.Any) -> list[str]:
    return rv.headers.getlist("Set-Cookie")  # type: ignore[no-any-return]


def test_untouched_permanent_session_is_refreshed(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    client.get("/login")
    rv = client.get("/untouched")
    [header] = _set_cookies(rv)
    assert header.startswith("session=")
    assert rv.headers["Vary"] == "Cookie"


@pytest.mark.parametrize("path", ["/nested", "/plain"])
def test_untouched_non_permanent_session_is_left_alone(
    sapp: kolben.Kolben, client: KolbenClient, path: str
) -> None:
    client.get(path)
    rv = client.get("/untouched")
    assert _set_cookies(rv) == []
    assert "Vary" not in rv.headers


@pytest.mark.parametrize("value", ["garbage", "a.b.c", ""])
def test_untouched_invalid_cookie_is_left_alone(
    sapp: kolben.Kolben, client: KolbenClient, value: str
) -> None:
    client.set_cookie("session", value)
    rv = client.get("/untouched")
    assert _set_cookies(rv) == []


def test_untouched_expired_permanent_session_is_left_alone(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    client.get("/login")
    sapp.config["PERMANENT_SESSION_LIFETIME"] = timedelta(seconds=-1)
    assert _set_cookies(client.get("/untouched")) == []


def test_refresh_check_for_an_interface_without_the_hook(
    sapp: kolben.Kolben, client: KolbenClient
) -> None:
    """An interface not derived from SessionInterface is opened and saved on
    every request, its cookie sent or not, as Flask does."""
    calls: list[str] = []

    class DuckInterface:
        def open_session(self, app: kolben.Kolben, request: kolben.Request) -> t.Any:
            calls.append("open")
            return kolben.sessions.SecureCookieSession({"k": 1})

        def save_session(self, app: kolben.Kolben, session: t.Any, response: t.Any) -> None:
            calls.append("save")
            response.set_cookie("session", "x")

        def is_null_session(self, obj: object) -> bool:
            return False

        def get_cookie_name(self, app: kolben.Kolben) -> str:
            return "session"

    sapp.session_interface = DuckInterface()  # type: ignore[assignment]
    client.get("/untouched")
    assert calls == ["open", "save"]  # no cookie: opened and saved all the same
    client.set_cookie("session", "x")
    client.get("/untouched")
    assert calls == ["open", "save"] * 2


_SETTINGS = [
    {},
    {"domain": "example.com", "path": "/app", "secure": True},
    {"httponly": False, "samesite": "Lax"},
    {"samesite": "strict", "partitioned": True},
    {"domain": ".sub.example.com:8080", "path": "/a b;c"},
]


@pytest.mark.parametrize("settings", _SETTINGS)
@pytest.mark.parametrize("expires", [None, datetime(2031, 2, 3, 4, 5, 6, tzinfo=timezone.utc)])
def test_set_cookie_header_is_werkzeugs(
    settings: dict[str, t.Any], expires: datetime | None
) -> None:
    options: dict[str, t.Any] = {
        "domain": None,
        "path": "/",
        "secure": False,
        "httponly": True,
        "samesite": None,
        "partitioned": False,
        **settings,
    }
    value = "eyJ1c2VyIjoiYWRhIn0.Zx9Q2A.abc-DEF_123"
    assert _cookie_header("session", value, expires, **options) == dump_cookie(
        "session", value, expires=expires, max_size=0, **options
    )


def test_session_cookie_through_a_custom_set_cookie(app: kolben.Kolben, door: str) -> None:
    """A response class with its own set_cookie still gets to set the cookie."""
    seen: list[str] = []

    class MyResponse(kolben.Response):
        def set_cookie(self, key: str, value: str = "", **kwargs: t.Any) -> None:
            seen.append(key)
            super().set_cookie(key, value, **kwargs)

    app.response_class = MyResponse

    @app.route("/")
    def index() -> str:
        kolben.session["a"] = 1
        return "ok"

    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    assert _set_cookies(client.get("/"))[0].startswith("session=")
    assert seen == ["session"]


def test_parsed_cookies_are_shared_and_immutable(app: kolben.Kolben) -> None:
    header = "a=1; b=2; a=3"
    with app.test_request_context(headers={"Cookie": header}):
        first = kolben.request.cookies
    with app.test_request_context(headers={"Cookie": header}):
        second = kolben.request.cookies
    assert first is second
    assert isinstance(first, ImmutableMultiDict)
    assert first.getlist("a") == ["1", "3"]
    with pytest.raises(TypeError):
        first["c"] = "4"  # type: ignore[index]


def test_cookies_with_a_mutable_storage_class_are_not_shared(app: kolben.Kolben) -> None:
    class MutableRequest(kolben.Request):
        dict_storage_class = MultiDict  # type: ignore[assignment]

    app.request_class = MutableRequest
    with app.test_request_context(headers={"Cookie": "a=1"}):
        first = kolben.request.cookies
        first["b"] = "2"  # type: ignore[index]
    with app.test_request_context(headers={"Cookie": "a=1"}):
        assert kolben.request.cookies.to_dict() == {"a": "1"}


def test_quoted_cookie_values_are_unquoted(app: kolben.Kolben) -> None:
    with app.test_request_context(headers={"Cookie": 'a="x\\073y"; b=2'}):
        assert kolben.request.cookies["a"] == "x;y"


def test_default_interface_serializer_is_shared() -> None:
    # The refresh shortcut applies to the built-in serializer only.
    assert SecureCookieSessionInterface.serializer is SecureCookieSessionInterface().serializer
