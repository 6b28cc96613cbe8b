"""Helpers for the blog tests: driving the blog as a person would, through the
test client (importable as ``blog_testing`` from the tests in this folder)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import blog
import kolben
from blog import db
from kolben.testing import KolbenClient
from serving import HOST, ServerProcess, answers, free_port

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
CHROMIUM = Path("/usr/bin/chromium")
#: A cheap hash for tests (the app's default, scrypt, takes ~70 ms per hash).
FAST_HASH = "pbkdf2:sha256:1000"


def postgres_schema_url(schema: str) -> str:
    """The test database's URL with ``search_path`` set to ``schema``."""
    return f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A new, empty schema in the test database (dropped afterwards); its URL."""
    import psycopg

    schema = f"blog_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def make_app(**config: t.Any) -> kolben.Kolben:
    """The blog with test settings (and ``config`` on top)."""
    settings = {
        "TESTING": True,
        "SECRET_KEY": "blog test key",
        "PASSWORD_HASH_METHOD": FAST_HASH,
        **config,
    }
    return t.cast(kolben.Kolben, blog.create_app(settings))


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_in(html: str) -> str:
    """The CSRF token of the first form in a page."""
    match = _TOKEN.search(html)
    assert match is not None, f"no CSRF token in the page:\n{html[:2000]}"
    return match.group(1)


class Visitor:
    """What a person does with the blog, through the test client."""

    def __init__(self, client: KolbenClient) -> None:
        self.client = client

    def token(self) -> str:
        """The current session's CSRF token, read from a form as a browser would."""
        return csrf_token_in(self.client.get("/auth/login").get_data(as_text=True))

    def post(self, path: str, data: dict[str, str] | None = None, **kwargs: t.Any) -> t.Any:
        """POST a form with the session's CSRF token."""
        return self.client.post(path, data={"csrf_token": self.token(), **(data or {})}, **kwargs)

    def register(self, username: str = "carol", password: str = "carol-pw") -> t.Any:
        return self.post("/auth/register", {"username": username, "password": password})

    def login(self, username: str = "alice", password: str | None = None) -> t.Any:
        password = f"{username}-pw" if password is None else password
        return self.post("/auth/login", {"username": username, "password": password})

    def logout(self) -> t.Any:
        return self.post("/auth/logout")


# -- the blog served for real ------------------------------------------------------


@contextlib.contextmanager
def serve_blog(
    base: Path, *, database: Path | None = None, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """The blog under uvicorn on a free port; its URL. It uses the SQLite file
    ``database`` (default: a fresh one in ``base``), and ``settings`` become
    ``KOLBEN_*`` environment variables of the server."""
    if database is None:
        database = base / "blog.sqlite"
        db.init_db(make_app(DATABASE=str(database), DATABASE_URL=None))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOLBEN_", "FLASK_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        KOLBEN_DATABASE=str(database),
        KOLBEN_SECRET_KEY="served blog test key",
        KOLBEN_PASSWORD_HASH_METHOD=FAST_HASH,
    )
    env.update({f"KOLBEN_{name}": value for name, value in (settings or {}).items()})
    port = free_port()
    with ServerProcess(
        [
            *(sys.executable, "-m", "uvicorn", "--factory", "blog:create_app"),
            *("--host", HOST, "--port", str(port), "--log-level", "warning"),
            *("--timeout-graceful-shutdown", "1"),
        ],
        name="uvicorn",
        cwd=base,
        env=env,
        log_path=base / f"uvicorn-{port}.log",
        ready=lambda: answers(port, "/"),
    ):
        yield f"http://{HOST}:{port}"
