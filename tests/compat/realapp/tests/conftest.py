"""Jotter's test fixtures, as a Flask project writes them: ``app`` (a fresh
SQLite database with two users), ``client``, ``runner`` and ``auth``.

The one addition for kolben: ``client`` is parametrized by the ``door`` fixture
of kolben's suite, so every test using it runs through the WSGI door and, on
kolben, through the ASGI door too (on the real Flask, the ASGI half is skipped).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from jotter import create_app
from jotter.extensions import db
from jotter.models import Note, User

PASSWORD = "test-password"
#: The project folder (where `flask --app jotter` is run).
PROJECT = Path(__file__).parents[1]
#: Seconds a `flask` command may take.
TIME_LIMIT = 60


def deployed_env(folder: Path) -> dict[str, str]:
    """This process's environment plus the config of a Jotter deployed in
    ``folder``, given as FLASK_* variables (``app.config.from_prefixed_env``)."""
    return {
        **os.environ,
        "FLASK_SECRET_KEY": "deployed",
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'jotter.sqlite'}",
        "FLASK_BCRYPT_LOG_ROUNDS": "4",
        "FLASK_MAIL_SUPPRESS_SEND": "true",
        "JOTTER_INSTANCE_PATH": str(folder / "instance"),
    }


def run_flask(*args: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``flask --app jotter ARGS`` in the project folder, as a user runs it, for
    the Jotter deployed in ``folder`` (with this run's environment, so with
    ``KOLBEN_FLASK_COMPAT=1`` on kolben)."""
    flask = Path(sys.executable).with_name("flask")
    return subprocess.run(
        [str(flask), "--app", "jotter", *args],
        cwd=PROJECT,
        env=deployed_env(folder),
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "jotter tests",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'jotter.sqlite'}",
            "BCRYPT_LOG_ROUNDS": 4,
            "NOTES_PER_PAGE": 3,
        },
        instance_path=str(tmp_path / "instance"),
    )
    with app.app_context():
        db.create_all()
        for name in ("test", "other"):
            user = User(username=name, email=f"{name}@example.com")
            user.set_password(PASSWORD)
            user.notes = [Note(title=f"{name}'s first note", body="hello")]
            db.session.add(user)
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask, door: str) -> FlaskClient:
    if door == "asgi":
        if not hasattr(app, "asgi_test_client"):
            pytest.skip("the real Flask has no ASGI door")
        return t.cast(FlaskClient, app.asgi_test_client())
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    """The CSRF token of the first form (or the logout form) in a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, html
    return match.group(1)


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def token(self) -> str:
        return csrf_token(self._client.get("/auth/register").text)

    def login(self, username: str = "test", password: str = PASSWORD, **kwargs: t.Any) -> t.Any:
        data = {"username": username, "password": password, "csrf_token": self.token()}
        path = kwargs.pop("path", "/auth/login")
        return self._client.post(path, data=data, **kwargs)

    def logout(self, **kwargs: t.Any) -> t.Any:
        return self._client.post("/auth/logout", data={"csrf_token": self.token()}, **kwargs)


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
