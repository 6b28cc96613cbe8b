"""Registering, logging in and out, login_required, flashed errors."""

from __future__ import annotations

import pytest
from blog_testing import Visitor
from werkzeug.security import check_password_hash

from blog import db


def test_register_page_has_a_protected_form(client):
    page = client.get("/auth/register").get_data(as_text=True)
    assert '<form method="post"' in page
    assert 'name="csrf_token"' in page


def test_register_then_log_in(app, visitor: Visitor):
    response = visitor.register("carol", "carol-pw")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    with app.app_context():
        user = db.get_user_by_name("carol")
    assert user is not None
    assert user.password != "carol-pw"
    assert check_password_hash(user.password, "carol-pw")

    page = visitor.client.get("/auth/login").get_data(as_text=True)
    assert "Registered. You can log in now." in page

    response = visitor.login("carol", "carol-pw")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = visitor.client.get("/").get_data(as_text=True)
    assert "Welcome, carol!" in page
    assert '<span class="who">carol</span>' in page


def test_register_duplicate_username(visitor: Visitor):
    response = visitor.register("alice", "another")
    assert response.status_code == 400
    assert "User alice is already registered." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("", "pw", "Username is required."),
        ("   ", "pw", "Username is required."),
        ("dave", "", "Password is required."),
        ("d" * 41, "pw", "Username is too long (at most 40 characters)."),
        ("dave", "p" * 201, "Password is too long (at most 200 characters)."),
    ],
)
def test_register_validates(app, visitor: Visitor, username, password, message):
    response = visitor.register(username, password)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.get_user_by_name(username.strip()) is None


def test_register_keeps_the_typed_username(visitor: Visitor):
    page = visitor.register("alice", "x").get_data(as_text=True)
    assert 'value="alice"' in page


def test_login_sets_the_session(visitor: Visitor):
    visitor.login("alice")
    with visitor.client.session_transaction() as session:
        assert session["user_id"] == 1


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong"), ("nobody", "alice-pw"), ("ALICE", "alice-pw")],
)
def test_login_refused(visitor: Visitor, username, password):
    response = visitor.login(username, password)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Incorrect username or password." in page
    with visitor.client.session_transaction() as session:
        assert "user_id" not in session


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [("", "x", "Username is required."), ("alice", "", "Password is required.")],
)
def test_login_empty_fields(visitor: Visitor, username, password, message):
    response = visitor.login(username, password)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_flashed_error_is_shown_once(visitor: Visitor):
    assert "Incorrect username" in visitor.login("alice", "wrong").get_data(as_text=True)
    assert "Incorrect username" not in visitor.client.get("/").get_data(as_text=True)


def test_login_gets_a_new_csrf_token(visitor: Visitor):
    before = visitor.token()
    visitor.login("alice")
    assert visitor.token() != before


def test_logout(visitor: Visitor):
    visitor.login("alice")
    response = visitor.logout()
    assert response.status_code == 302
    page = visitor.client.get("/").get_data(as_text=True)
    assert "You are logged out." in page
    assert "Log in" in page
    with visitor.client.session_transaction() as session:
        assert "user_id" not in session


def test_logout_is_not_a_link(visitor: Visitor):
    visitor.login("alice")
    assert visitor.client.get("/auth/logout").status_code == 405
    with visitor.client.session_transaction() as session:
        assert session["user_id"] == 1


@pytest.mark.parametrize("path", ["/create", "/1/update"])
def test_login_required(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/auth/login?next={path}"
    assert "Please log in first." in client.get("/auth/login").get_data(as_text=True)


def test_login_required_for_post(visitor: Visitor, app):
    response = visitor.post("/create", {"title": "t", "body": "b"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    with app.app_context():
        assert len(db.list_posts()) == 1


def test_login_required_for_a_post_only_url_does_not_come_back_to_it(visitor: Visitor):
    # A delete form sent after the session ended: after logging in, the browser
    # must not be sent to GET /1/delete (405).
    response = visitor.post("/1/delete")
    assert response.headers["Location"] == "/auth/login"
    response = visitor.post("/1/update", {"title": "t", "body": "b"})
    assert response.headers["Location"] == "/auth/login?next=/1/update"


def test_session_cookie_is_same_site_lax(visitor: Visitor):
    response = visitor.login("alice")
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def test_login_returns_to_next(visitor: Visitor):
    response = visitor.post(
        "/auth/login?next=/1/update", {"username": "alice", "password": "alice-pw"}
    )
    assert response.headers["Location"] == "/1/update"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_login_ignores_an_outside_next(visitor: Visitor, target):
    response = visitor.client.post(
        "/auth/login",
        query_string={"next": target},
        data={"csrf_token": visitor.token(), "username": "alice", "password": "alice-pw"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_user_deleted_while_logged_in(visitor: Visitor):
    visitor.login("alice")
    with visitor.client.session_transaction() as session:
        session["user_id"] = 999
    page = visitor.client.get("/").get_data(as_text=True)
    assert "Log in" in page
    assert visitor.client.get("/create").status_code == 302
