"""Flask-Login on kolben: log in and out, protected views, ``current_user``, the
remember-me cookie, the user loader, the unauthorized handler and the signals.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import asyncio
import typing as t
from datetime import timedelta

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_login import (
    FlaskLoginClient,
    LoginManager,
    UserMixin,
    current_user,
    fresh_login_required,
    login_required,
    login_user,
    logout_user,
    user_logged_in,
    user_logged_out,
)


class User(UserMixin):
    def __init__(self, user_id: str, name: str) -> None:
        self.id = user_id
        self.name = name


USERS = {"1": User("1", "ada"), "2": User("2", "grace")}


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(
        TESTING=True,
        SECRET_KEY="flask-login on kolben",
        REMEMBER_COOKIE_DURATION=timedelta(days=3),
    )
    login_manager = LoginManager(app)
    login_manager.login_view = "login"
    login_manager.refresh_view = "login"
    app.extensions["loads"] = []

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        app.extensions["loads"].append(user_id)
        return USERS.get(user_id)

    @app.post("/login/<user_id>")
    def do_login(user_id: str) -> str:
        remember = flask.request.args.get("remember") == "1"
        return "yes" if login_user(USERS[user_id], remember=remember) else "no"

    def login_page() -> str:
        return f"please log in (next={flask.request.args.get('next')})"

    app.add_url_rule("/login", endpoint="login", view_func=login_page)

    @app.post("/logout")
    def logout() -> str:
        logout_user()
        return "bye"

    @app.get("/me")
    def me() -> dict[str, t.Any]:
        return {
            "authenticated": current_user.is_authenticated,
            "name": getattr(current_user, "name", None),
        }

    @app.get("/private")
    @login_required
    def private() -> str:
        return f"hello {current_user.name}"

    @app.get("/async-private")
    @login_required
    async def async_private() -> str:
        await asyncio.sleep(0)
        return f"async hello {current_user.name}"

    @app.get("/settings")
    @fresh_login_required
    def settings() -> str:
        return "fresh enough"

    return app


def test_login_required_redirects_to_the_login_view(client: t.Any) -> None:
    response = client.get("/private")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fprivate"
    followed = client.get("/private", follow_redirects=True)
    assert followed.text == "please log in (next=/private)"


def test_login_and_logout(app: flask.Flask, client: t.Any) -> None:
    assert client.get("/me").json == {"authenticated": False, "name": None}
    assert client.post("/login/1").text == "yes"
    assert client.get("/me").json == {"authenticated": True, "name": "ada"}
    assert client.get("/private").text == "hello ada"
    assert client.get("/async-private").text == "async hello ada"
    assert client.get("/settings").text == "fresh enough"
    # The user comes back from the session through the loader, once per request.
    assert app.extensions["loads"] == ["1", "1", "1", "1"]
    assert client.post("/logout").text == "bye"
    assert client.get("/me").json == {"authenticated": False, "name": None}
    assert client.get("/private").status_code == 302


def test_unknown_user_in_the_session_is_anonymous(client: t.Any) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = "404"
    assert client.get("/me").json == {"authenticated": False, "name": None}


def test_remember_me_cookie(app: flask.Flask, client: t.Any) -> None:
    client.post("/login/2?remember=1")
    cookie = client.get_cookie("remember_token")
    assert cookie is not None
    assert cookie.value.startswith("2|")
    assert cookie.expires is not None
    # A new browser session: no session cookie, only the remember cookie.
    client.delete_cookie("session")
    assert client.get("/me").json == {"authenticated": True, "name": "grace"}
    # Restored from the cookie: not fresh, so a fresh login is needed.
    response = client.get("/settings")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fsettings"
    # A tampered cookie is ignored.
    client.delete_cookie("session")
    client.set_cookie("remember_token", "1|" + cookie.value.partition("|")[2])
    assert client.get("/me").json == {"authenticated": False, "name": None}


def test_logout_clears_the_remember_cookie(client: t.Any) -> None:
    client.post("/login/1?remember=1")
    assert client.get_cookie("remember_token") is not None
    client.post("/logout")
    assert client.get_cookie("remember_token") is None
    client.delete_cookie("session")
    assert client.get("/me").json["authenticated"] is False


def test_unauthorized_handler(app: flask.Flask, client: t.Any) -> None:
    @app.login_manager.unauthorized_handler  # type: ignore[attr-defined]
    def unauthorized() -> tuple[dict[str, str], int]:
        return {"error": "log in first"}, 401

    response = client.get("/private")
    assert response.status_code == 401
    assert response.json == {"error": "log in first"}


def test_no_login_view_gives_401(app: flask.Flask, client: t.Any) -> None:
    app.login_manager.login_view = None  # type: ignore[attr-defined]
    assert client.get("/private").status_code == 401


def test_signals(app: flask.Flask, client: t.Any) -> None:
    seen: list[tuple[str, str]] = []

    def logged_in(sender: flask.Flask, user: User) -> None:
        assert sender is app
        seen.append(("in", user.name))

    def logged_out(sender: flask.Flask, user: User) -> None:
        seen.append(("out", user.name))

    with user_logged_in.connected_to(logged_in, app), user_logged_out.connected_to(
        logged_out, app
    ):
        client.post("/login/1")
        client.post("/logout")
    assert seen == [("in", "ada"), ("out", "ada")]


def test_current_user_outside_a_request_is_none(app: flask.Flask) -> None:
    with app.app_context():
        assert current_user._get_current_object() is None  # type: ignore[attr-defined]


def test_flask_login_test_client(app: flask.Flask) -> None:
    """Flask-Login's own test client, set as ``app.test_client_class``."""
    app.test_client_class = FlaskLoginClient
    client = app.test_client(user=USERS["2"])
    assert client.get("/private").text == "hello grace"
