"""Live updates: a change is announced on the broker once it is committed (never
when the request fails), and the event stream resumes with Last-Event-ID."""

from __future__ import annotations

import json
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from blog.live import CHANNEL, EVENT
from blog_testing import Visitor, csrf_token_in, make_app, serve_blog

from blog import db


@pytest.fixture
def announcements(app) -> Iterator[t.Any]:
    """A subscription to the blog's channel, opened before the test acts."""
    with app.broker.subscribe(CHANNEL) as subscription:
        yield subscription


def received(subscription: t.Any) -> list[dict[str, t.Any]]:
    """Everything announced so far (the requests are over: nothing is on its way)."""
    out = []
    while (event := subscription.get(timeout=0)) is not None:
        assert event.event == EVENT
        assert event.id
        out.append(event.json())
    return out


def test_create_update_delete_are_announced(visitor: Visitor, announcements):
    visitor.login("alice")
    visitor.post("/create", {"title": "New", "body": ""})
    visitor.post("/2/update", {"title": "Newer", "body": ""})
    visitor.post("/2/delete")
    visitor.post("/1/delete")
    assert received(announcements) == [
        {"action": "created", "id": 2},
        {"action": "updated", "id": 2},
        {"action": "deleted", "id": 2},
        {"action": "deleted", "id": 1},
    ]


def test_announced_only_once_committed(app, visitor: Visitor, monkeypatch):
    seen = []
    publish = app.broker.publish

    def publish_and_look(channel: str, data: t.Any, **kwargs: t.Any) -> str:
        # Another connection must already see the change when it is announced.
        conn = db.connect(app)
        try:
            statement = "SELECT title FROM posts WHERE id = " + str(int(data["id"]))
            row = conn.execute(statement).fetchone()
        finally:
            conn.close()
        seen.append(None if row is None else row["title"])
        return publish(channel, data, **kwargs)

    monkeypatch.setattr(app.broker, "publish", publish_and_look)
    visitor.login("alice")
    visitor.post("/create", {"title": "Committed", "body": ""})
    visitor.post("/2/update", {"title": "Committed again", "body": ""})
    assert seen == ["Committed", "Committed again"]


@pytest.mark.parametrize(
    ("user", "path", "data"),
    [
        ("alice", "/create", {"title": "", "body": "no title"}),
        ("alice", "/1/update", {"title": "x" * 500, "body": ""}),
        ("bob", "/1/update", {"title": "not bob's", "body": ""}),
        ("bob", "/1/delete", {}),
        ("alice", "/9/delete", {}),
    ],
)
def test_refused_changes_are_not_announced(visitor: Visitor, announcements, user, path, data):
    visitor.login(user)
    assert visitor.post(path, data).status_code >= 400
    assert received(announcements) == []


def test_forged_form_is_not_announced(visitor: Visitor, announcements):
    visitor.login("alice")
    visitor.client.post("/create", data={"title": "Forged"})
    assert received(announcements) == []


def test_failed_commit_is_not_announced(app, door, announcements, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    handle = app.extensions["blog.db"]

    def commit_fails(conn: t.Any) -> None:
        raise db.DatabaseUnavailable("the server closed the connection")

    monkeypatch.setattr(handle, "commit", commit_fails)
    visitor = Visitor(app.asgi_test_client() if door == "asgi" else app.test_client())
    visitor.login("alice")
    response = visitor.post("/create", {"title": "Lost", "body": ""})
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "the server closed the connection" in page
    assert "Traceback" not in page
    assert received(announcements) == []
    monkeypatch.undo()
    with app.app_context():
        assert [post.title for post in db.list_posts()] == ["First post"]


# -- the event stream, served for real ---------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_blog(tmp_path_factory.mktemp("blog-live")) as url:
        yield url


class Writer:
    """A person using the served blog over HTTP, registered and logged in."""

    def __init__(self, url: str, username: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10.0)
        credentials = {"username": username, "password": "pw"}
        assert self.post("/auth/register", credentials).status_code == 302
        assert self.post("/auth/login", credentials).status_code == 302

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        token = csrf_token_in(self.http.get("/auth/login").text)
        return self.http.post(path, data={"csrf_token": token, **data})

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def writer(served: str) -> Iterator[Writer]:
    person = Writer(served, f"writer-{uuid.uuid4().hex[:8]}")
    try:
        yield person
    finally:
        person.close()


def read_events(lines: Iterator[str], count: int) -> list[dict[str, str]]:
    """The next ``count`` events of an event stream (comments skipped)."""
    events: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                events.append(fields)
                if len(events) == count:
                    return events
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    raise AssertionError(f"the stream ended after {events}")


def test_event_stream_resumes_after_last_event_id(served: str, writer: Writer):
    with httpx.Client(base_url=served, timeout=10.0) as reader:
        with reader.stream("GET", "/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            writer.post("/create", {"title": "A", "body": ""})
            [first] = read_events(stream.iter_lines(), 1)
        assert first["event"] == "post"
        change = json.loads(first["data"])
        assert change["action"] == "created"
        post_a = change["id"]

        # Disconnected: three changes happen meanwhile.
        writer.post("/create", {"title": "B", "body": ""})
        post_b = post_a + 1
        writer.post(f"/{post_b}/update", {"title": "B2", "body": ""})
        writer.post(f"/{post_a}/delete", {})

        with reader.stream("GET", "/events", headers={"Last-Event-ID": first["id"]}) as stream:
            missed = read_events(stream.iter_lines(), 3)
    assert [(e["event"], json.loads(e["data"])) for e in missed] == [
        ("post", {"action": "created", "id": post_b}),
        ("post", {"action": "updated", "id": post_b}),
        ("post", {"action": "deleted", "id": post_a}),
    ]
    ids = [first["id"], *(e["id"] for e in missed)]
    assert len(set(ids)) == 4


def test_the_index_page_stream_starts_where_the_page_was_rendered(served: str, writer: Writer):
    # A change published between the page's render and its EventSource's first
    # connection (which has no Last-Event-ID) was never shown: the page renders
    # the position its stream starts from.
    import html
    import re

    with httpx.Client(base_url=served, timeout=10.0) as reader:
        page = reader.get("/").text
        events_url = html.unescape(re.search(r'data-events-url="([^"]+)"', page)[1])
        assert "since=" in events_url
        writer.post("/create", {"title": "published before the stream", "body": ""})
        with reader.stream("GET", events_url) as stream:
            [event] = read_events(stream.iter_lines(), 1)
    assert json.loads(event["data"])["action"] == "created"


def test_card_of_an_announced_post(writer: Writer):
    writer.post("/create", {"title": "<i>card</i>", "body": ""})
    index = writer.http.get("/").text
    post_id = int(index.split('data-post-id="')[1].split('"')[0])
    card = writer.http.get(f"/{post_id}/card")
    assert card.status_code == 200
    assert "&lt;i&gt;card&lt;/i&gt;" in card.text
    assert f'href="/{post_id}/update"' in card.text


@pytest.mark.redis
def test_two_processes_share_a_redis_broker(tmp_path: Path):
    """Two uvicorn processes (one database, one Redis broker): a page following
    one of them sees the changes made through the other."""
    import redis

    prefix = f"blog-test:{uuid.uuid4().hex}:"
    settings = {"BROKER_URL": "redis://127.0.0.1:6379/0", "BROKER_KEY_PREFIX": prefix}
    database = tmp_path / "shared.sqlite"
    db.init_db(make_app(DATABASE=str(database), DATABASE_URL=None))
    try:
        with (
            serve_blog(tmp_path, database=database, settings=settings) as first,
            serve_blog(tmp_path, database=database, settings=settings) as second,
        ):
            writer = Writer(first, "across")
            try:
                with (
                    httpx.Client(base_url=second, timeout=10.0) as reader,
                    reader.stream("GET", "/events") as stream,
                ):
                    writer.post("/create", {"title": "Across", "body": ""})
                    writer.post("/1/update", {"title": "Across again", "body": ""})
                    events = read_events(stream.iter_lines(), 2)
            finally:
                writer.close()
        assert [json.loads(e["data"]) for e in events] == [
            {"action": "created", "id": 1},
            {"action": "updated", "id": 1},
        ]
    finally:
        client = redis.Redis(host="127.0.0.1", port=6379, db=0, socket_timeout=5)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


# -- a WSGI worker that serves one request at a time -------------------------------------


def _read_whole(response: t.Any, within: float = 5.0) -> bytes:
    """The response body, which must end within ``within`` seconds."""
    import threading

    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(response.response), daemon=True)
    reader.start()
    reader.join(within)
    assert not reader.is_alive(), f"the event stream did not end: {b''.join(chunks)!r}"
    response.close()
    return b"".join(chunks)


def test_single_threaded_wsgi_worker_polls_instead_of_holding_the_worker(app):
    # gunicorn's default sync worker: an open stream would take the whole worker
    # (every other request waits until gunicorn kills it). The stream must end,
    # with what was missed, its position and a retry delay for EventSource.
    client = app.test_client()
    single = {"wsgi.multithread": False}
    first = _read_whole(client.get("/events", environ_overrides=single, buffered=False))
    assert b"retry: " in first and b"event: post" not in first

    visitor = Visitor(client)
    visitor.login("alice")
    visitor.post("/create", {"title": "Polled", "body": ""})
    visitor.post("/2/update", {"title": "Polled again", "body": ""})
    body = _read_whole(
        client.get("/events?since=0-0", environ_overrides=single, buffered=False)
    ).decode()
    blocks = [b for b in body.split("\n\n") if b.startswith("id: ")]
    assert [json.loads(b.split("data: ", 1)[1]) for b in blocks if "event: post" in b] == [
        {"action": "created", "id": 2},
        {"action": "updated", "id": 2},
    ]
    # The closing block repeats the last id (so the next poll resumes there).
    last_id = blocks[-2].split("\n")[0][4:]
    assert blocks[-1] == f"id: {last_id}\nretry: 3000\nevent: poll\ndata: 3000"

    # Coming back with that id: nothing new, the same position.
    again = _read_whole(
        client.get(
            "/events", headers={"Last-Event-ID": last_id}, environ_overrides=single, buffered=False
        )
    ).decode()
    assert "event: post" not in again
    assert f"id: {last_id}\nretry: 3000\nevent: poll" in again
