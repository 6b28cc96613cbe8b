"""Flask-Session on kolben: its own server-side sessions replacing the app's
``session_interface``, with cachelib's ``FileSystemCache`` and with the real
Redis, and in a table through Flask-SQLAlchemy (with its ``session_cleanup``
command). The cookie holds only the session id; the data is in the store, read on
the next request, deleted when the session is cleared; the id is regenerated
on log-in (``session_interface.regenerate``); ``Vary: Cookie``; permanent and
browser sessions; an unknown id starts a new session; async views.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors. Redis keys use a unique prefix and are deleted
afterwards.
"""

from __future__ import annotations

import asyncio
import typing as t
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
import redis
from cachelib.file import FileSystemCache
from flask_session import Session
from flask_sqlalchemy import SQLAlchemy

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["cachelib", "sqlalchemy", pytest.param("redis", marks=pytest.mark.redis)])
def session_config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, t.Any]]:
    prefix = f"kolben-compat-{uuid.uuid4().hex[:12]}:"
    if request.param == "cachelib":
        cache = FileSystemCache(str(tmp_path / "sessions"), threshold=100)
        yield {"SESSION_TYPE": "cachelib", "SESSION_CACHELIB": cache, "SESSION_KEY_PREFIX": prefix}
        return
    if request.param == "sqlalchemy":
        # A Flask-SQLAlchemy instance (made for the app in the app fixture); a
        # table of its own per test, as the model is declared on db.metadata.
        yield {
            "SESSION_TYPE": "sqlalchemy",
            "SESSION_SQLALCHEMY_TABLE": f"sessions_{uuid.uuid4().hex[:8]}",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'sessions.db'}",
            "SESSION_KEY_PREFIX": prefix,
        }
        return
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        yield {"SESSION_TYPE": "redis", "SESSION_REDIS": client, "SESSION_KEY_PREFIX": prefix}
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def app(session_config: dict[str, t.Any]) -> flask.Flask:
    return make_app(session_config)


def make_app(session_config: dict[str, t.Any]) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="flask-session on kolben", **session_config)
    if app.config["SESSION_TYPE"] == "sqlalchemy":
        app.config["SESSION_SQLALCHEMY"] = SQLAlchemy(app)
    Session(app)

    @app.post("/cart/<item>")
    def add(item: str) -> dict[str, t.Any]:
        flask.session.setdefault("cart", []).append(item)
        flask.session.modified = True
        return {"cart": flask.session["cart"]}

    @app.get("/cart")
    async def cart() -> dict[str, t.Any]:
        await asyncio.sleep(0)
        return {"cart": flask.session.get("cart", [])}

    @app.post("/login/<name>")
    def login(name: str) -> str:
        flask.current_app.session_interface.regenerate(flask.session)  # type: ignore[attr-defined]
        flask.session["user"] = name
        return name

    @app.post("/logout")
    def logout() -> str:
        flask.session.clear()
        return "bye"

    @app.get("/plain")
    def plain() -> str:
        return "no session here"

    return app


def test_default_key_prefix_is_flask_sessions(tmp_path: Path) -> None:
    """Without SESSION_KEY_PREFIX, Flask-Session uses its own default prefix, as on
    Flask: records written by a Flask deployment are found (kolben's own
    server-side sessions read the key with a default of their own)."""
    app = flask.Flask(__name__)
    cache = FileSystemCache(str(tmp_path / "sessions"))
    app.config.update(SECRET_KEY="k", SESSION_TYPE="cachelib", SESSION_CACHELIB=cache)
    Session(app)
    assert app.session_interface.key_prefix == "session:"  # type: ignore[attr-defined]


def stored(app: flask.Flask, sid: str) -> dict[str, t.Any] | None:
    """What the store holds for the session id ``sid`` (without the
    ``_permanent`` flag Flask-Session keeps with it)."""
    interface = app.session_interface
    with app.app_context():  # the SQLAlchemy store queries through db.session
        data = interface._retrieve_session_data(interface.key_prefix + sid)  # type: ignore[attr-defined]
    if data is None:
        return None
    assert data.pop("_permanent") is app.config.get("SESSION_PERMANENT", True)
    return t.cast(dict[str, t.Any], data)


def test_data_lives_on_the_server(app: flask.Flask, client: t.Any) -> None:
    from flask_session.base import ServerSideSessionInterface

    assert isinstance(app.session_interface, ServerSideSessionInterface)
    first = client.post("/cart/apple")
    assert first.json == {"cart": ["apple"]}
    assert "Cookie" in first.vary
    sid = client.get_cookie("session").value
    # The cookie is only an id, not signed data.
    assert "apple" not in sid and "." not in sid
    assert stored(app, sid) == {"cart": ["apple"]}
    client.post("/cart/pear")
    assert client.get("/cart").json == {"cart": ["apple", "pear"]}
    assert client.get_cookie("session").value == sid
    assert stored(app, sid) == {"cart": ["apple", "pear"]}


def test_session_transaction(app: flask.Flask, client: t.Any) -> None:
    """The test client's session_transaction() goes through Flask-Session's
    interface: the store, and the id cookie."""
    with client.session_transaction() as session:
        session["cart"] = ["from the test"]
    sid = client.get_cookie("session").value
    assert stored(app, sid) == {"cart": ["from the test"]}
    assert client.get("/cart").json == {"cart": ["from the test"]}
    client.post("/cart/pear")
    with client.session_transaction() as session:
        assert session["cart"] == ["from the test", "pear"]


def test_untouched_session_stores_nothing(client: t.Any) -> None:
    response = client.get("/plain")
    assert response.text == "no session here"
    assert "Set-Cookie" not in response.headers
    assert client.get_cookie("session") is None


def test_refreshed_by_requests_that_do_not_use_it(app: flask.Flask, client: t.Any) -> None:
    """SESSION_REFRESH_EACH_REQUEST (on by default): a request that carries the
    session cookie stores the session again and re-sends the cookie, even when
    its view never reads the session (kolben opens sessions lazily, and opens
    this one at the end of the request, as Flask opens every session)."""
    client.post("/cart/apple")
    sid = client.get_cookie("session").value
    response = client.get("/plain")
    assert response.text == "no session here"
    assert response.headers["Set-Cookie"].startswith(f"session={sid}; Expires=")
    assert stored(app, sid) == {"cart": ["apple"]}
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    assert "Set-Cookie" not in client.get("/plain").headers


def test_regenerate_on_login(app: flask.Flask, client: t.Any) -> None:
    client.post("/cart/apple")
    before = client.get_cookie("session").value
    assert client.post("/login/ada").text == "ada"
    after = client.get_cookie("session").value
    assert after != before
    assert stored(app, before) is None
    assert stored(app, after) == {"cart": ["apple"], "user": "ada"}


def test_clear_deletes_the_stored_session(app: flask.Flask, client: t.Any) -> None:
    client.post("/cart/apple")
    sid = client.get_cookie("session").value
    response = client.post("/logout")
    assert response.text == "bye"
    assert stored(app, sid) is None
    assert client.get_cookie("session") is None
    assert client.get("/cart").json == {"cart": []}


def test_unknown_id_starts_a_new_session(app: flask.Flask, client: t.Any) -> None:
    client.set_cookie("session", "not-a-known-id")
    assert client.get("/cart").json == {"cart": []}
    client.post("/cart/fig")
    sid = client.get_cookie("session").value
    assert sid != "not-a-known-id"
    assert stored(app, sid) == {"cart": ["fig"]}


def test_permanent_and_browser_sessions(app: flask.Flask, client: t.Any) -> None:
    client.post("/cart/apple")
    assert client.get_cookie("session").expires is not None  # SESSION_PERMANENT: True
    app.session_interface.permanent = False  # type: ignore[attr-defined]
    other = app.test_client()
    other.post("/cart/apple")
    assert other.get_cookie("session").expires is None


def test_sqlalchemy_store_cleanup_command(tmp_path: Path) -> None:
    """The SQLAlchemy store has no TTL: Flask-Session adds a ``session_cleanup``
    command to ``app.cli`` that deletes expired records."""
    app = make_app(
        {
            "SESSION_TYPE": "sqlalchemy",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'sessions.db'}",
            "SESSION_SQLALCHEMY_TABLE": "sessions_cleanup",
        }
    )
    app.permanent_session_lifetime = timedelta(seconds=-1)  # everything expires at once
    client = app.test_client()
    client.post("/cart/apple")
    model = app.session_interface.sql_session_model  # type: ignore[attr-defined]
    with app.app_context():
        assert model.query.count() == 1
    result = app.test_cli_runner().invoke(args=["session_cleanup"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert model.query.count() == 0
