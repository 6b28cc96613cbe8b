from __future__ import annotations

import pytest
from flask import Flask
from jotter.extensions import db
from jotter.models import Note

from conftest import csrf_token


@pytest.mark.parametrize("path", ["/", "/new"])
def test_login_required(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/auth/login?next=%2F{path[1:]}"


def test_delete_needs_a_login_and_a_token(client, auth) -> None:
    # CSRFProtect checks every POST before the view's login_required does.
    assert client.post("/1/delete").status_code == 400
    response = client.post("/1/delete", data={"csrf_token": auth.token()})
    assert response.headers["Location"] == "/auth/login?next=%2F1%2Fdelete"


def test_index_shows_own_notes(client, auth) -> None:
    auth.login()
    page = client.get("/").text
    assert "test's notes" in page
    assert "<h2>test&#39;s first note</h2>" in page
    assert "other&#39;s first note" not in page
    assert '<a href="/" aria-current="page">Notes</a>' in page
    assert '<a href="/new">New note</a>' in page


def test_create(app: Flask, client, auth) -> None:
    auth.login()
    form = client.get("/new")
    assert '<a href="/new" aria-current="page">New note</a>' in form.text
    data = {"title": "Groceries", "body": "milk", "csrf_token": csrf_token(form.text)}
    response = client.post("/new", data=data, follow_redirects=True)
    assert response.request.path == "/"
    assert '<li class="success">Note saved.</li>' in response.text
    assert "<h2>Groceries</h2>" in response.text
    with app.app_context():
        assert (
            db.session.scalar(db.select(Note).filter_by(title="Groceries")).author.username
            == "test"
        )


def test_create_validate(client, auth) -> None:
    auth.login()
    data = {"title": "", "csrf_token": csrf_token(client.get("/new").text)}
    response = client.post("/new", data=data)
    assert response.status_code == 200
    assert "<li>Title: This field is required.</li>" in response.text


def test_pagination(app: Flask, client, auth) -> None:
    with app.app_context():
        db.session.add_all(Note(author_id=1, title=f"note {i}") for i in range(2, 8))
        db.session.commit()
    auth.login()
    first = client.get("/").text
    assert "page 1 of 3 (7 notes)" in first
    assert '<a rel="next" href="/?page=2">older</a>' in first
    assert "<h2>note 7</h2>" in first
    last = client.get("/?page=3").text
    assert "<h2>test&#39;s first note</h2>" in last
    missing = client.get("/?page=4")
    assert missing.status_code == 404
    assert "Nothing at /." in missing.text


def test_delete(app: Flask, client, auth) -> None:
    auth.login()
    token = csrf_token(client.get("/").text)
    response = client.post("/1/delete", data={"csrf_token": token}, follow_redirects=True)
    assert '<li class="info">Note deleted.</li>' in response.text
    assert '<p id="empty">No notes yet.</p>' in response.text
    with app.app_context():
        assert db.session.get(Note, 1) is None
    # Someone else's note, and one that does not exist.
    assert client.post("/2/delete", data={"csrf_token": token}).status_code == 403
    assert client.post("/99/delete", data={"csrf_token": token}).status_code == 404


def test_not_found_page(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Nothing at /no/such/page." in response.text
