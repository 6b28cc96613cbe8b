"""Flask-SQLAlchemy on kolben: models, ``db.session`` scoped to each request's
app context and removed at teardown, pagination from the query string,
``get_or_404``, the shell context, modification tracking and recorded queries,
against SQLite and the real PostgreSQL.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors. Each PostgreSQL test gets its own schema, dropped
afterwards.
"""

from __future__ import annotations

import asyncio
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import psycopg
import pytest
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.record_queries import get_recorded_queries
from flask_sqlalchemy.track_modifications import models_committed
from sqlalchemy.orm import Mapped, mapped_column, relationship

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

db = SQLAlchemy()


class Author(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "kolben_compat_author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), unique=True)
    books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")


class Book(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "kolben_compat_book"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("kolben_compat_author.id"))
    author: Mapped[Author] = relationship(back_populates="books")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, t.Any]]:
    """Config for a fresh database: a SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'compat.db'}"}
        return
    schema = f"kolben_compat_{uuid.uuid4().hex[:12]}"
    admin = POSTGRES.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield {
            "SQLALCHEMY_DATABASE_URI": POSTGRES,
            "SQLALCHEMY_ENGINE_OPTIONS": {
                "connect_args": {"options": f"-csearch_path={schema}", "connect_timeout": 5}
            },
        }
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def app(database: dict[str, t.Any]) -> Iterator[flask.Flask]:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, SQLALCHEMY_RECORD_QUERIES=True, **database)
    app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = True
    db.init_app(app)
    app.extensions["open_sessions"] = []

    @app.get("/authors/<name>/books")
    def books_of(name: str) -> dict[str, t.Any]:
        author = db.first_or_404(db.select(Author).filter_by(name=name))
        return {"author": author.name, "books": [b.title for b in author.books]}

    @app.post("/authors/<name>")
    def add_author(name: str) -> tuple[dict[str, t.Any], int]:
        author = Author(name=name)
        db.session.add(author)
        titles = flask.request.get_json(silent=True) or []
        db.session.add_all(Book(title=title, author=author) for title in titles)
        if flask.request.args.get("commit", "1") == "1":
            db.session.commit()
        else:
            db.session.flush()  # written inside the transaction, never committed
        # One session for the whole request: the scoped session gives it back.
        assert db.session() is db.session()
        app.extensions["open_sessions"].append(len(db.session.registry.registry))  # type: ignore[attr-defined]
        return {"id": author.id}, 201

    @app.get("/books/<int:book_id>")
    def book(book_id: int) -> dict[str, t.Any]:
        found = db.get_or_404(Book, book_id, description="no such book")
        return {"title": found.title, "author": found.author.name}

    @app.get("/books")
    def books() -> dict[str, t.Any]:
        page = db.paginate(db.select(Book).order_by(Book.id), max_per_page=3)
        return {
            "items": [b.title for b in page.items],
            "page": page.page,
            "pages": page.pages,
            "total": page.total,
            "next": page.next_num,
            "prev": page.prev_num,
            "numbers": list(page.iter_pages()),
        }

    @app.get("/count")
    async def count() -> dict[str, int]:
        await asyncio.sleep(0)
        return {"authors": db.session.scalar(sa.select(sa.func.count(Author.id))) or 0}

    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def add(client: t.Any, name: str, *titles: str, commit: bool = True) -> t.Any:
    response = client.post(f"/authors/{name}?commit={int(commit)}", json=list(titles))
    assert response.status_code == 201, response.text
    return response


def test_models_and_relationships(client: t.Any) -> None:
    add(client, "le guin", "The Dispossessed", "The Lathe of Heaven")
    response = client.get("/authors/le guin/books")
    assert response.json == {
        "author": "le guin",
        "books": ["The Dispossessed", "The Lathe of Heaven"],
    }
    assert client.get("/authors/nobody/books").status_code == 404


def test_get_or_404(client: t.Any) -> None:
    add(client, "butler", "Kindred")
    assert client.get("/books/1").json == {"title": "Kindred", "author": "butler"}
    missing = client.get("/books/99")
    assert missing.status_code == 404
    assert "no such book" in missing.text


def test_session_is_removed_after_each_request(app: flask.Flask, client: t.Any) -> None:
    add(client, "ghost", "Unwritten", commit=False)
    # The flushed but uncommitted rows went away with the request's session.
    assert client.get("/count").json == {"authors": 0}
    add(client, "real")
    assert client.get("/count").json == {"authors": 1}
    # Each request saw only its own session, and none is left afterwards.
    assert app.extensions["open_sessions"] == [1, 1]
    assert db.session.registry.registry == {}  # type: ignore[attr-defined]


def test_pagination_from_the_query_string(client: t.Any) -> None:
    add(client, "many", *(f"Book {i}" for i in range(1, 8)))
    first = client.get("/books").json
    assert first == {
        "items": ["Book 1", "Book 2", "Book 3"],
        "page": 1,
        "pages": 3,
        "total": 7,
        "next": 2,
        "prev": None,
        "numbers": [1, 2, 3],
    }
    last = client.get("/books?page=3").json
    assert last["items"] == ["Book 7"]
    assert last["next"] is None and last["prev"] == 2
    assert client.get("/books?page=2&per_page=2").json["items"] == ["Book 3", "Book 4"]
    # Out of range, or not a number: 404, as Flask-SQLAlchemy does.
    assert client.get("/books?page=4").status_code == 404
    assert client.get("/books?page=x").status_code == 404


def test_integrity_error_rolls_back_at_teardown(app: flask.Flask, client: t.Any) -> None:
    add(client, "dup")
    app.testing = False
    app.logger.disabled = True
    response = client.post("/authors/dup", json=[])
    assert response.status_code == 500
    add(client, "after")
    assert client.get("/count").json == {"authors": 2}


def test_modification_tracking_signal(app: flask.Flask, client: t.Any) -> None:
    committed: list[tuple[str, str]] = []

    def on_commit(sender: flask.Flask, changes: list[tuple[t.Any, str]]) -> None:
        assert sender is app
        committed.extend((type(obj).__name__, op) for obj, op in changes)

    with models_committed.connected_to(on_commit, app):
        add(client, "tracked", "One")
    assert sorted(committed) == [("Author", "insert"), ("Book", "insert")]


def test_recorded_queries(app: flask.Flask) -> None:
    with app.test_request_context():
        db.session.execute(sa.select(Author)).all()
        queries = get_recorded_queries()
    assert len(queries) == 1
    assert "kolben_compat_author" in queries[0].statement


def test_shell_context(app: flask.Flask) -> None:
    with app.app_context():  # as the shell command does
        context = app.make_shell_context()
    assert context["db"] is db
    assert context["Author"] is Author
    assert context["Book"] is Book
