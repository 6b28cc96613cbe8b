"""Flask-Bcrypt on kolben: ``Bcrypt(app)`` reading its config keys, hashing on
sign-up and checking on log-in in views, the module-level helpers, and long
passwords with ``BCRYPT_HANDLE_LONG_PASSWORDS``.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import typing as t

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_bcrypt import Bcrypt, check_password_hash, generate_password_hash

#: Fast hashes for tests (bcrypt's minimum cost).
ROUNDS = 4


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="flask-bcrypt on kolben", BCRYPT_LOG_ROUNDS=ROUNDS)
    bcrypt = Bcrypt(app)
    users: dict[str, bytes] = {}
    app.extensions["users"] = users

    @app.post("/signup")
    def signup() -> tuple[dict[str, t.Any], int]:
        data = flask.request.get_json()
        users[data["name"]] = bcrypt.generate_password_hash(data["password"])
        return {"name": data["name"]}, 201

    @app.post("/login")
    async def login() -> tuple[dict[str, t.Any], int]:
        data = flask.request.get_json()
        stored = users.get(data["name"])
        if stored is None or not bcrypt.check_password_hash(stored, data["password"]):
            return {"error": "wrong name or password"}, 401
        flask.session["user"] = data["name"]
        return {"welcome": data["name"]}, 200

    return app


def test_signup_and_login(app: flask.Flask, client: t.Any) -> None:
    assert client.post("/signup", json={"name": "ada", "password": "s3cret"}).status_code == 201
    stored = app.extensions["users"]["ada"]
    # The app's config chose the cost: $2b$04$...
    assert stored.startswith(b"$2b$04$")
    assert client.post("/login", json={"name": "ada", "password": "s3cret"}).json == {
        "welcome": "ada"
    }
    with client.session_transaction() as session:
        assert session["user"] == "ada"
    wrong = client.post("/login", json={"name": "ada", "password": "guess"})
    assert wrong.status_code == 401
    assert client.post("/login", json={"name": "bob", "password": "x"}).status_code == 401


def test_config_keys(app: flask.Flask) -> None:
    app.config.update(BCRYPT_HASH_PREFIX="2a", BCRYPT_LOG_ROUNDS=5)
    bcrypt = Bcrypt(app)
    hashed = bcrypt.generate_password_hash("pw")
    assert hashed.startswith(b"$2a$05$")
    assert bcrypt.check_password_hash(hashed, "pw")
    assert bcrypt.check_password_hash(hashed.decode(), b"pw")


def test_long_passwords(app: flask.Flask) -> None:
    long = "x" * 100
    app.config["BCRYPT_HANDLE_LONG_PASSWORDS"] = True
    bcrypt = Bcrypt(app)
    hashed = bcrypt.generate_password_hash(long)
    assert bcrypt.check_password_hash(hashed, long)
    # Pre-hashed with SHA-256: the 73rd byte counts.
    assert not bcrypt.check_password_hash(hashed, "x" * 72 + "y" * 28)


def test_module_helpers_need_no_app() -> None:
    hashed = generate_password_hash("hunter2", ROUNDS)
    assert check_password_hash(hashed, "hunter2")
    assert not check_password_hash(hashed, "hunter3")
    with pytest.raises(ValueError, match="Password must be non-empty"):
        generate_password_hash("", ROUNDS)
