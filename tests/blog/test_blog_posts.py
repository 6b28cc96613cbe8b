"""Posts: the index, create, update, delete, permissions, limits, escaping, CSRF."""

from __future__ import annotations

import pytest
from blog.blog import BODY_MAX, TITLE_MAX
from blog_testing import Visitor, csrf_token_in

from blog import db


def titles(app) -> list[str]:
    with app.app_context():
        return [post.title for post in db.list_posts()]


def test_index_shows_posts_to_everyone(client):
    page = client.get("/").get_data(as_text=True)
    assert "First post" in page
    assert "by alice on" in page
    assert "Hello from alice." in page
    assert 'href="/auth/login"' in page
    assert 'href="/1/update"' not in page


def test_index_newest_first(app, visitor: Visitor):
    visitor.login("bob")
    visitor.post("/create", {"title": "Second post", "body": ""})
    visitor.post("/create", {"title": "Third post", "body": ""})
    page = visitor.client.get("/").get_data(as_text=True)
    assert page.index("Third post") < page.index("Second post") < page.index("First post")
    assert titles(app) == ["Third post", "Second post", "First post"]


def test_edit_link_only_for_the_author(visitor: Visitor):
    visitor.login("alice")
    assert 'href="/1/update"' in visitor.client.get("/").get_data(as_text=True)
    visitor.logout()
    visitor.login("bob")
    assert 'href="/1/update"' not in visitor.client.get("/").get_data(as_text=True)


def test_create(app, visitor: Visitor):
    visitor.login("bob")
    page = visitor.client.get("/create").get_data(as_text=True)
    assert "New post" in page
    assert 'name="csrf_token"' in page
    response = visitor.post("/create", {"title": "  Bob writes  ", "body": "Some words."})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = visitor.client.get("/").get_data(as_text=True)
    assert "Your post is published." in page
    assert "Bob writes" in page
    with app.app_context():
        post = db.get_post(2)
    assert post is not None
    assert (post.title, post.body, post.username) == ("Bob writes", "Some words.", "bob")


def test_update(app, visitor: Visitor):
    visitor.login("alice")
    page = visitor.client.get("/1/update").get_data(as_text=True)
    assert 'value="First post"' in page
    assert "Hello from alice.</textarea>" in page
    response = visitor.post("/1/update", {"title": "Updated", "body": "New body"})
    assert response.status_code == 302
    assert "Your changes are saved." in visitor.client.get("/").get_data(as_text=True)
    with app.app_context():
        post = db.get_post(1)
    assert post is not None
    assert (post.title, post.body) == ("Updated", "New body")


def test_delete(app, visitor: Visitor):
    visitor.login("alice")
    response = visitor.post("/1/delete")
    assert response.status_code == 302
    page = visitor.client.get("/").get_data(as_text=True)
    assert "The post is deleted." in page
    assert "No posts yet." in page
    assert titles(app) == []


def test_delete_needs_post(visitor: Visitor):
    visitor.login("alice")
    assert visitor.client.get("/1/delete").status_code == 405


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/1/update"), ("POST", "/1/update"), ("POST", "/1/delete")]
)
def test_another_users_post_is_403(app, visitor: Visitor, method, path):
    visitor.login("bob")
    if method == "GET":
        response = visitor.client.get(path)
    else:
        response = visitor.post(path, {"title": "Hijacked", "body": ""})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "You can only change your own posts." in page
    assert '<span class="who">bob</span>' in page
    assert titles(app) == ["First post"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/2/update"),
        ("POST", "/2/update"),
        ("POST", "/2/delete"),
        ("GET", "/2/card"),
        ("GET", "/999999999999/update"),
    ],
)
def test_missing_post_is_404(visitor: Visitor, method, path):
    visitor.login("alice")
    if method == "GET":
        response = visitor.client.get(path)
    else:
        response = visitor.post(path, {"title": "x", "body": ""})
    assert response.status_code == 404
    assert "does not exist." in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/abc/update", "/-1/update", "/1.5/delete", "/%00/update"])
def test_malformed_post_ids_are_404(visitor: Visitor, path):
    visitor.login("alice")
    response = visitor.client.get(path)
    assert response.status_code == 404
    assert "Not Found" in response.get_data(as_text=True)


def test_card_renders_one_post(client):
    response = client.get("/1/card")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<article class="post" id="post-1"')
    assert "<html" not in html


@pytest.mark.parametrize(
    ("title", "body", "message"),
    [
        ("", "body", "Title is required."),
        ("   ", "body", "Title is required."),
        ("t" * (TITLE_MAX + 1), "", f"Title is too long: {TITLE_MAX + 1} characters, at most"),
        ("ok", "b" * (BODY_MAX + 1), f"Body is too long: {BODY_MAX + 1} characters, at most"),
    ],
)
@pytest.mark.parametrize("path", ["/create", "/1/update"])
def test_post_validation(app, visitor: Visitor, path, title, body, message):
    visitor.login("alice")
    response = visitor.post(path, {"title": title, "body": body})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'class="flash error"' in page
    assert titles(app) == ["First post"]


def test_limits_are_inclusive(app, visitor: Visitor):
    visitor.login("alice")
    response = visitor.post("/create", {"title": "t" * TITLE_MAX, "body": "b" * BODY_MAX})
    assert response.status_code == 302
    assert titles(app)[0] == "t" * TITLE_MAX


def test_request_too_large_is_413(app, visitor: Visitor):
    visitor.login("alice")
    response = visitor.post("/create", {"title": "big", "body": "b" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "Request Entity Too Large" in response.get_data(as_text=True)
    assert titles(app) == ["First post"]


def test_html_in_posts_is_escaped(visitor: Visitor):
    visitor.login("alice")
    visitor.post(
        "/create",
        {"title": "<script>alert('t')</script>", "body": '<img src=x onerror="alert(1)">'},
    )
    for path in ("/", "/2/card", "/2/update"):
        page = visitor.client.get(path).get_data(as_text=True)
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in page


# -- CSRF ------------------------------------------------------------------------------

CSRF_MESSAGE = "its security token is missing or does not match your session"


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/create", {"title": "Forged", "body": ""}),
        ("/1/update", {"title": "Forged", "body": ""}),
        ("/1/delete", {}),
        ("/auth/logout", {}),
    ],
)
@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_csrf_rejected(app, visitor: Visitor, path, data, token):
    visitor.login("alice")
    form = dict(data) if token is None else {**data, "csrf_token": token}
    response = visitor.client.post(path, data=form)
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert titles(app) == ["First post"]
    with visitor.client.session_transaction() as session:
        assert session["user_id"] == 1


def test_csrf_rejected_on_login_and_register(app, client):
    for path in ("/auth/login", "/auth/register"):
        response = client.post(path, data={"username": "mallory", "password": "pw"})
        assert response.status_code == 400
        assert CSRF_MESSAGE in response.get_data(as_text=True)
    with app.app_context():
        assert db.get_user_by_name("mallory") is None


def test_csrf_token_of_another_session_is_rejected(app, visitor: Visitor, client_for):
    other = client_for(app)
    stolen = csrf_token_in(other.get("/auth/login").get_data(as_text=True))
    visitor.login("alice")
    response = visitor.client.post("/create", data={"csrf_token": stolen, "title": "x"})
    assert response.status_code == 400


def test_csrf_token_in_a_header(app, visitor: Visitor):
    visitor.login("alice")
    response = visitor.client.post(
        "/create", data={"title": "From a script"}, headers={"X-CSRF-Token": visitor.token()}
    )
    assert response.status_code == 302
    assert titles(app)[0] == "From a script"


def test_csrf_needs_a_session(app, client_for):
    client = client_for(app, use_cookies=False)
    token = csrf_token_in(client.get("/auth/login").get_data(as_text=True))
    response = client.post("/auth/login", data={"csrf_token": token, "username": "a"})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/9223372036854775808/card", "/99999999999999999999/update"])
def test_post_ids_past_the_databases_range_are_404(visitor: Visitor, path):
    # SQLite's INTEGER (and PostgreSQL's BIGINT) stop at 2**63 - 1: a larger id
    # was a 500 ("Python int too large to convert to SQLite INTEGER").
    visitor.login("alice")
    assert visitor.client.get(path).status_code == 404


@pytest.mark.parametrize(
    "fields", [{"title": "a\x00b", "body": ""}, {"title": "ok", "body": "a\x00b"}]
)
def test_a_nul_character_is_refused(app, visitor: Visitor, fields):
    # PostgreSQL's text can't hold NUL: it was a 500 there.
    visitor.login("alice")
    response = visitor.post("/create", fields)
    assert response.status_code == 400
    assert "cannot contain NUL characters" in response.get_data(as_text=True)
    assert titles(app) == ["First post"]


def test_a_nul_character_in_a_username_is_refused(visitor: Visitor):
    response = visitor.post("/auth/register", {"username": "a\x00b", "password": "pw"})
    assert response.status_code == 400
    assert "cannot contain NUL characters" in response.get_data(as_text=True)


def test_a_body_counts_a_line_break_as_one_character(app, visitor: Visitor):
    # Browsers count a textarea's line break as one character (maxlength) and
    # submit it as CRLF: a body the browser allowed was refused as too long.
    visitor.login("alice")
    body = ("b" * 99 + "\r\n") * (BODY_MAX // 100)
    response = visitor.post("/create", {"title": "lines", "body": body})
    assert response.status_code == 302
    with app.app_context():
        assert db.list_posts()[0].body == body.replace("\r\n", "\n").strip()


def test_an_unknown_url_is_404_before_the_csrf_check(visitor: Visitor):
    assert visitor.client.post("/no/such/page", data={}).status_code == 404
    assert visitor.client.put("/", data={}).status_code == 405
