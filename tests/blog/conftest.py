"""Fixtures for the example blog (examples/blog, importable as ``blog``).

``app`` here replaces the suite's plain app, so the suite's ``client`` fixture
drives the blog under both front doors (WSGI and ASGI). Each test runs on SQLite
(a fresh file) and on the real PostgreSQL server (a fresh schema, dropped after
the test). The ``browser`` marker's rule also lives here: without Debian's
chromium a browser test is skipped with a reason, or fails under ``CI=true``.
"""

from __future__ import annotations

import os
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest
from blog_testing import CHROMIUM, FAST_HASH, Visitor, make_app, postgres_schema
from werkzeug.security import generate_password_hash

import kolben
from blog import db
from kolben.testing import KolbenClient


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``browser`` needs Debian's chromium at /usr/bin/chromium."""
    if item.get_closest_marker("browser") is None or CHROMIUM.exists():
        return
    message = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the browser tests are required)", pytrace=False)
    pytest.skip(message)


# -- databases -------------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, t.Any]]:
    """The database settings of one test: a fresh SQLite file or PostgreSQL schema."""
    if request.param == "sqlite":
        yield {"DATABASE": str(tmp_path / "blog.sqlite"), "DATABASE_URL": None}
        return
    with postgres_schema() as url:
        yield {"DATABASE": str(tmp_path / "unused.sqlite"), "DATABASE_URL": url}


@pytest.fixture
def app(database: dict[str, t.Any]) -> kolben.Kolben:
    """The blog on a fresh database with its tables, holding two users, ``alice``
    and ``bob`` (passwords ``alice-pw`` and ``bob-pw``), and one post by alice."""
    app = make_app(**database)
    db.init_db(app)
    with app.app_context():
        alice = db.create_user("alice", generate_password_hash("alice-pw", method=FAST_HASH))
        db.create_user("bob", generate_password_hash("bob-pw", method=FAST_HASH))
        db.create_post(alice, "First post", "Hello from alice.")
    return app


@pytest.fixture
def visitor(client: KolbenClient) -> Visitor:
    """A person using the blog through the test client (under both doors)."""
    return Visitor(client)
