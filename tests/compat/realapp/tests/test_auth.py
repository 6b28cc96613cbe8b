from __future__ import annotations

import pytest
from flask import Flask, g, session
from flask_login import current_user
from jotter.extensions import db, mail
from jotter.models import User

from conftest import PASSWORD, csrf_token


def test_register(app: Flask, client) -> None:
    page = client.get("/auth/register")
    assert page.status_code == 200
    data = {
        "username": "ada",
        "email": "ada@example.com",
        "password": "analytical",
        "confirm": "analytical",
        "csrf_token": csrf_token(page.text),
    }
    with mail.record_messages() as outbox:
        response = client.post("/auth/register", data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    [message] = outbox
    assert message.recipients == ["ada@example.com"]
    assert message.subject == "Welcome to Jotter"
    assert "Log in at http://localhost/auth/login." in message.body
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username="ada"))
        assert user is not None and user.check_password("analytical")
    login_page = client.get("/auth/login").text
    assert '<li class="success">Account created. Please log in.</li>' in login_page


@pytest.mark.parametrize(
    ("fields", "messages"),
    [
        ({"username": ""}, ["Username: This field is required."]),
        ({"email": "nope"}, ["Email: Invalid email address."]),
        (
            {"password": "short", "confirm": "shorter"},
            [
                "Password: Field must be at least 8 characters long.",
                "Repeat password: Passwords must match.",
            ],
        ),
        ({"username": "test"}, ["User test is already registered."]),
    ],
)
def test_register_validate_input(client, fields: dict[str, str], messages: list[str]) -> None:
    data = {
        "username": "ada",
        "email": "a@b.example",
        "password": "12345678",
        "confirm": "12345678",
    }
    data.update(fields, csrf_token=csrf_token(client.get("/auth/register").text))
    response = client.post("/auth/register", data=data)
    assert response.status_code == 200
    # Flashed as "error", shown by the layout's category_filter="errors" list.
    errors = response.text.split('<ul class="errors">')[1].split("</ul>")[0]
    for message in messages:
        assert f"<li>{message}</li>" in errors.replace("&#39;", "'")
    assert '<ul class="flashes">' not in response.text


def test_login(client, auth) -> None:
    assert client.get("/auth/login").status_code == 200
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    with client:
        page = client.get("/")
        assert current_user.username == "test"
        assert session["_user_id"] == "1"
        assert g._login_user is current_user._get_current_object()
    assert '<li class="success">Welcome back, test!</li>' in page.text
    assert '<span id="user">test</span>' in page.text
    # Flashed messages are shown once.
    assert "Welcome back" not in client.get("/").text


@pytest.mark.parametrize(("username", "password"), [("nobody", PASSWORD), ("test", "wrong")])
def test_login_validate_input(client, auth, username: str, password: str) -> None:
    response = auth.login(username, password)
    assert response.status_code == 200
    assert '<ul class="errors">\n    <li>Wrong username or password.</li>' in response.text


def test_login_redirects_to_next(client, auth) -> None:
    response = client.get("/new")
    assert response.headers["Location"] == "/auth/login?next=%2Fnew"
    page = client.get(response.headers["Location"]).text
    # Flask-Login's message, flashed as "info".
    assert '<li class="info">Please log in to access this page.</li>' in page
    response = auth.login(path="/auth/login?next=%2Fnew")
    assert response.headers["Location"] == "/new"
    # An absolute URL elsewhere is not followed.
    auth.logout()
    response = auth.login(path="/auth/login?next=https%3A%2F%2Fevil.example%2F")
    assert response.headers["Location"] == "/"


def test_logout(client, auth) -> None:
    auth.login()
    response = auth.logout(follow_redirects=True)
    assert response.request.path == "/auth/login"
    assert '<li class="info">You have been logged out.</li>' in response.text
    with client:
        client.get("/health")
        assert "_user_id" not in session


def test_remember_me(client, auth) -> None:
    data = {"username": "test", "password": PASSWORD, "remember": "y", "csrf_token": auth.token()}
    client.post("/auth/login", data=data)
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")
    assert '<span id="user">test</span>' in client.get("/").text


def test_csrf_is_required(client) -> None:
    client.get("/auth/login")
    response = client.post("/auth/login", data={"username": "test", "password": PASSWORD})
    assert response.status_code == 400
    assert "The CSRF token is missing." in response.text
