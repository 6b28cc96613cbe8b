"""The data-access module: every SQL statement of the blog, on SQLite or PostgreSQL.

The rest of the application calls the functions at the bottom of this module
(:func:`get_user`, :func:`create_post`, ...) and never sees a connection, a cursor
or a placeholder style. Which database is used is decided by configuration:

- ``DATABASE_URL`` set to ``postgresql://...``: PostgreSQL through psycopg 3
  (``pip install 'psycopg[binary]'``);
- otherwise SQLite, in the file named by ``DATABASE`` (by default ``blog.sqlite``
  in the instance folder).

One connection is opened per request (lazily, on the first query) as kolben's
per-task resource: committed once the response is ready (and only then are the
``after_commit`` callbacks run, which announce the change to live pages), rolled
back if the request fails, and closed when the request ends.
Statements are written once with ``?`` placeholders; for PostgreSQL they are
rewritten to psycopg's ``%s`` (once per statement, then cached).

A database that cannot be reached (a stopped PostgreSQL server, an SQLite file
that cannot be opened) raises :class:`DatabaseUnavailable`, a 503 error the
application renders as a page saying so, never a traceback.
"""

from __future__ import annotations

import sqlite3
import sys
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache

import click
from werkzeug.exceptions import ServiceUnavailable

from kolben import Kolben, current_app
from kolben.cli import with_appcontext

Row = dict[str, t.Any]


class DatabaseUnavailable(ServiceUnavailable):
    """The database could not be reached or is not set up (HTTP 503)."""

    def __init__(
        self, reason: str, hint: str = "Please try again in a moment.", *, public: bool = True
    ) -> None:
        super().__init__(f"The database is not available: {reason}. {hint}")
        #: What went wrong, for the log (and the 503 page when ``public``).
        self.reason = reason
        #: What to do about it.
        self.hint = hint
        #: Whether ``reason`` may be shown to visitors. A driver's message is not:
        #: it names the database's host, port, user or file.
        self.public = public


class UsernameTaken(Exception):
    """:func:`create_user` was given a username that is already registered."""


# -- schema ----------------------------------------------------------------------------

_SCHEMA = {
    "sqlite": (
        """CREATE TABLE IF NOT EXISTS users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT UNIQUE NOT NULL,
            password TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS posts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            author_id INTEGER NOT NULL REFERENCES users (id),
            created TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS posts_created ON posts (created DESC, id DESC)",
    ),
    "postgresql": (
        """CREATE TABLE IF NOT EXISTS users (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            username TEXT UNIQUE NOT NULL,
            password TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS posts (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            author_id BIGINT NOT NULL REFERENCES users (id),
            created TIMESTAMPTZ NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS posts_created ON posts (created DESC, id DESC)",
    ),
}
_DROP = ("DROP TABLE IF EXISTS posts", "DROP TABLE IF EXISTS users")

# -- connections -----------------------------------------------------------------------


def backend(app: Kolben) -> str:
    """``"postgresql"`` when ``DATABASE_URL`` names a PostgreSQL server, else ``"sqlite"``."""
    url = app.config.get("DATABASE_URL") or ""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    if url:
        raise RuntimeError(
            f"DATABASE_URL={url!r} is not supported: use postgresql://user@host:port/name,"
            " or unset it to use SQLite (the DATABASE setting)."
        )
    return "sqlite"


def _is_operational(exc: BaseException) -> bool:
    """Whether ``exc`` says the database itself is unreachable or unusable."""
    if isinstance(exc, sqlite3.OperationalError):
        return True
    psycopg = _psycopg_or_none()
    return psycopg is not None and isinstance(exc, psycopg.OperationalError)


def _psycopg_or_none() -> t.Any:
    """The psycopg module if it was imported (only PostgreSQL errors need it)."""
    return sys.modules.get("psycopg")


def is_unavailable_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot serve requests (see :func:`unavailable`)."""
    return isinstance(exc, DatabaseUnavailable) or _is_operational(exc) or _is_missing_table(exc)


def unavailable(exc: BaseException) -> DatabaseUnavailable:
    """Translate a driver error into the 503 the application shows."""
    if isinstance(exc, DatabaseUnavailable):
        return exc
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "no such table" in message or "does not exist" in message:
        return DatabaseUnavailable(
            "its tables have not been created", "Run 'kolben --app blog init-db' once."
        )
    return DatabaseUnavailable(message, public=False)


def connect(app: Kolben) -> t.Any:
    """Open a new connection for ``app``; :class:`DatabaseUnavailable` if that fails."""
    if backend(app) == "postgresql":
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError as e:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "DATABASE_URL names PostgreSQL but psycopg is not installed:"
                " pip install 'psycopg[binary]'"
            ) from e
        try:
            return psycopg.connect(
                app.config["DATABASE_URL"],
                row_factory=dict_row,
                connect_timeout=int(app.config.get("DATABASE_CONNECT_TIMEOUT", 5)),
            )
        except psycopg.OperationalError as e:
            raise unavailable(e) from e
    try:
        # A connection serves one request at a time, but under ASGI the request's
        # hooks, view and teardown may run in different worker threads.
        conn = sqlite3.connect(app.config["DATABASE"], check_same_thread=False)
    except sqlite3.OperationalError as e:
        raise unavailable(e) from e
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def get_db() -> t.Any:
    """The connection of the current request (or app context), opened on first use.

    It is kolben's per-task resource ``blog.db`` (see :func:`init_app`): committed
    once the request's response is ready, rolled back if the request fails, closed
    when the request ends.
    """
    return current_app.extensions["blog.db"].get()


def _end(method: str) -> t.Callable[[t.Any], None]:
    """``conn.commit`` or ``conn.rollback`` as a task-resource step; a database
    that went away while committing is a 503."""

    def step(conn: t.Any) -> None:
        try:
            getattr(conn, method)()
        except Exception as e:
            if _is_operational(e):
                raise unavailable(e) from e
            raise

    step.__name__ = method
    return step


# PERF: each statement's PostgreSQL spelling is computed once, not per query.
@lru_cache(maxsize=256)
def _sql(statement: str, kind: str) -> str:
    return statement.replace("?", "%s") if kind == "postgresql" else statement


def _run(statement: str, params: t.Sequence[t.Any] = ()) -> t.Any:
    """Execute one statement on the request's connection and return the cursor."""
    conn = get_db()
    kind = "postgresql" if not isinstance(conn, sqlite3.Connection) else "sqlite"
    try:
        return conn.execute(_sql(statement, kind), params)
    except Exception as e:
        if _is_operational(e) or _is_missing_table(e):
            raise unavailable(e) from e
        raise


def _is_missing_table(exc: BaseException) -> bool:
    psycopg = _psycopg_or_none()
    return psycopg is not None and isinstance(exc, psycopg.errors.UndefinedTable)


def _is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return True
    psycopg = _psycopg_or_none()
    return psycopg is not None and isinstance(exc, psycopg.errors.UniqueViolation)


# -- schema commands -------------------------------------------------------------------


def init_db(app: Kolben, *, reset: bool = False) -> None:
    """Create the tables (and drop the old ones first with ``reset``)."""
    kind = backend(app)
    conn = connect(app)
    try:
        for statement in (*(_DROP if reset else ()), *_SCHEMA[kind]):
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


@click.command("init-db")
@click.option("--reset", is_flag=True, help="Drop the existing tables and their data first.")
@with_appcontext
def init_db_command(reset: bool) -> None:
    """Create the blog's tables (safe to run again; --reset starts from empty)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        init_db(app, reset=reset)
    except DatabaseUnavailable as e:
        raise click.ClickException(e.description or str(e)) from e
    where = app.config["DATABASE_URL"] if backend(app) == "postgresql" else app.config["DATABASE"]
    click.echo(f"{'Reset' if reset else 'Initialized'} the database: {where}")


def init_app(app: Kolben) -> None:
    """Register the per-request connection and the ``init-db`` command on ``app``."""
    backend(app)  # a wrong DATABASE_URL fails at start-up, not on the first request
    app.extensions["blog.db"] = app.task_resource(
        "blog.db",
        acquire=lambda: connect(app),
        commit=_end("commit"),
        rollback=_end("rollback"),
        release=lambda conn: conn.close(),
    )
    app.cli.add_command(init_db_command)


# -- users -----------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A registered user (``password`` is the werkzeug password hash)."""

    id: int
    username: str
    password: str


@dataclass(frozen=True)
class Post:
    """A post, with its author's name."""

    id: int
    title: str
    body: str
    created: datetime
    author_id: int
    username: str


def _user(row: t.Any) -> User | None:
    return None if row is None else User(row["id"], row["username"], row["password"])


def _post(row: t.Any) -> Post | None:
    if row is None:
        return None
    created = row["created"]
    if isinstance(created, str):  # SQLite stores ISO 8601 text
        created = datetime.fromisoformat(created)
    created = created.astimezone(timezone.utc)  # PostgreSQL answers in the session TimeZone
    return Post(row["id"], row["title"], row["body"], created, row["author_id"], row["username"])


def get_user(user_id: int) -> User | None:
    """The user with this id, or None."""
    return _user(
        _run("SELECT id, username, password FROM users WHERE id = ?", (user_id,)).fetchone()
    )


def get_user_by_name(username: str) -> User | None:
    """The user with this username, or None."""
    row = _run("SELECT id, username, password FROM users WHERE username = ?", (username,))
    return _user(row.fetchone())


def create_user(username: str, password_hash: str) -> int:
    """Insert a user and return its id; :class:`UsernameTaken` if the name is in use."""
    if get_user_by_name(username) is not None:
        raise UsernameTaken(username)
    try:
        cur = _run(
            "INSERT INTO users (username, password) VALUES (?, ?) RETURNING id",
            (username, password_hash),
        )
        return int(cur.fetchone()["id"])
    except Exception as e:
        if _is_unique_violation(e):  # registered by a concurrent request meanwhile
            get_db().rollback()
            raise UsernameTaken(username) from e
        raise


# -- posts -----------------------------------------------------------------------------

_POST_COLUMNS = "p.id, p.title, p.body, p.created, p.author_id, u.username"


def list_posts(limit: int = 100) -> list[Post]:
    """The newest ``limit`` posts, newest first."""
    cur = _run(
        f"SELECT {_POST_COLUMNS} FROM posts p JOIN users u ON p.author_id = u.id"
        " ORDER BY p.created DESC, p.id DESC LIMIT ?",
        (limit,),
    )
    return [t.cast(Post, _post(row)) for row in cur.fetchall()]


def get_post(post_id: int) -> Post | None:
    """The post with this id, or None."""
    cur = _run(
        f"SELECT {_POST_COLUMNS} FROM posts p JOIN users u ON p.author_id = u.id WHERE p.id = ?",
        (post_id,),
    )
    return _post(cur.fetchone())


def _now(kind: str) -> t.Any:
    now = datetime.now(timezone.utc)
    # SQLite has no date type: ISO 8601 text sorts in time order.
    return now.isoformat() if kind == "sqlite" else now


def create_post(author_id: int, title: str, body: str) -> int:
    """Insert a post and return its id."""
    kind = "sqlite" if isinstance(get_db(), sqlite3.Connection) else "postgresql"
    cur = _run(
        "INSERT INTO posts (author_id, created, title, body) VALUES (?, ?, ?, ?) RETURNING id",
        (author_id, _now(kind), title, body),
    )
    return int(cur.fetchone()["id"])


def update_post(post_id: int, title: str, body: str) -> None:
    """Change a post's title and body."""
    _run("UPDATE posts SET title = ?, body = ? WHERE id = ?", (title, body, post_id))


def delete_post(post_id: int) -> None:
    """Delete a post."""
    _run("DELETE FROM posts WHERE id = ?", (post_id,))
