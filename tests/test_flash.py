"""Message flashing: flash() and get_flashed_messages() (Flask 3.1 behaviour)."""

from __future__ import annotations

import typing as t

import pytest
from markupsafe import Markup

import kolben
from kolben import flash, get_flashed_messages, message_flashed, session
from kolben.testing import KolbenClient


@pytest.fixture
def fapp(app: kolben.Kolben) -> kolben.Kolben:
    @app.route("/flash")
    def do_flash() -> str:
        flash("Saved.")
        flash("Bad password.", "error")
        flash(Markup("<b>Bold</b>"), "info")  # type: ignore[arg-type]
        flash("Careful.", "warning")
        return "ok"

    @app.route("/messages")
    def messages() -> t.Any:
        return [str(m) for m in get_flashed_messages()]

    @app.route("/with-categories")
    def with_categories() -> t.Any:
        return [[c, str(m)] for c, m in get_flashed_messages(with_categories=True)]

    @app.route("/errors")
    def errors() -> t.Any:
        return get_flashed_messages(category_filter=["error", "warning"])

    return app


def test_flash_then_read_on_next_request(fapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/flash")
    assert client.get("/messages").json == ["Saved.", "Bad password.", "<b>Bold</b>", "Careful."]
    # Read once: gone afterwards.
    assert client.get("/messages").json == []


def test_with_categories(fapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/flash")
    assert client.get("/with-categories").json == [
        ["message", "Saved."],
        ["error", "Bad password."],
        ["info", "<b>Bold</b>"],
        ["warning", "Careful."],
    ]


def test_category_filter_removes_all(fapp: kolben.Kolben, client: KolbenClient) -> None:
    client.get("/flash")
    assert client.get("/errors").json == ["Bad password.", "Careful."]
    # The other categories were popped from the session too.
    assert client.get("/messages").json == []


def test_cached_for_the_request(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> t.Any:
        flash("one")
        flash("two", "error")
        return "ok"

    @app.route("/read")
    def read() -> t.Any:
        first = get_flashed_messages()
        second = get_flashed_messages(with_categories=True)
        third = get_flashed_messages(category_filter=("error",))
        fourth = get_flashed_messages(with_categories=True, category_filter=["error"])
        # Flashing after reading doesn't change what this request sees.
        flash("three")
        return {
            "first": first,
            "second": [list(x) for x in second],
            "third": third,
            "fourth": [list(x) for x in fourth],
            "again": get_flashed_messages(),
        }

    client.get("/")
    assert client.get("/read").json == {
        "first": ["one", "two"],
        "second": [["message", "one"], ["error", "two"]],
        "third": ["two"],
        "fourth": [["error", "two"]],
        "again": ["one", "two"],
    }
    # The message flashed after reading waits for the next request.
    assert client.get("/read").json["first"] == ["three"]


def test_categories_are_tuples(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        flash("x", "c")
        return "ok"

    @app.route("/read")
    def read() -> str:
        return repr(get_flashed_messages(with_categories=True))

    client.get("/")
    assert client.get("/read").text == "[('c', 'x')]"


def test_flash_and_read_in_same_request(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> t.Any:
        flash("now")
        return get_flashed_messages()

    assert client.get("/").json == ["now"]
    assert client.get("/").json == ["now"]


def test_flashes_live_in_the_session(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        flash("hello", "info")
        return "ok"

    @app.route("/read")
    def read() -> t.Any:
        return get_flashed_messages()

    rv = client.get("/")
    assert any(h.startswith("session=") for h in rv.headers.getlist("Set-Cookie"))
    with client.session_transaction() as sess:
        assert sess["_flashes"] == [("info", "hello")]
        sess["_flashes"].append(("message", "added in test"))
        sess.modified = True

    assert client.get("/read").json == ["hello", "added in test"]


def test_reading_empties_the_session(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        flash("x")
        return "ok"

    @app.route("/read")
    def read() -> t.Any:
        return get_flashed_messages()

    client.get("/")
    rv = client.get("/read")
    # The session held only the flashes: now empty, so the cookie is deleted.
    assert any("Max-Age=0" in h for h in rv.headers.getlist("Set-Cookie"))
    assert client.get_cookie("session") is None


def test_no_flashes_sets_no_cookie(fapp: kolben.Kolben, client: KolbenClient) -> None:
    rv = client.get("/messages")
    assert rv.json == []
    assert rv.headers.getlist("Set-Cookie") == []
    # Flask 3.1.3: looking in the session counts as using it.
    assert rv.headers["Vary"] == "Cookie"


def test_flash_keeps_other_session_values(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        session["user"] = "ada"
        flash("hi")
        return "ok"

    @app.route("/read")
    def read() -> t.Any:
        return {"flashes": get_flashed_messages(), "user": session["user"]}

    client.get("/")
    assert client.get("/read").json == {"flashes": ["hi"], "user": "ada"}
    assert client.get("/read").json == {"flashes": [], "user": "ada"}


def test_message_flashed_signal(app: kolben.Kolben, client: KolbenClient) -> None:
    recorded: list[tuple[t.Any, str, str]] = []

    def record(sender: t.Any, message: str, category: str) -> None:
        recorded.append((sender, message, category))

    @app.route("/")
    def index() -> str:
        flash("first")
        flash("second", "error")
        return "ok"

    with message_flashed.connected_to(record, app):
        client.get("/")
    assert recorded == [(app, "first", "message"), (app, "second", "error")]


def test_message_flashed_async_receiver(app: kolben.Kolben, client: KolbenClient) -> None:
    recorded: list[str] = []

    async def record(sender: t.Any, message: str, category: str) -> None:
        recorded.append(message)

    @app.route("/")
    def index() -> str:
        flash("async")
        return "ok"

    with message_flashed.connected_to(record, app):
        client.get("/")
    assert recorded == ["async"]


def test_flash_without_secret_key(app: kolben.Kolben, client: KolbenClient) -> None:
    app.secret_key = None

    @app.route("/")
    def index() -> str:
        flash("x")
        return "ok"

    @app.route("/read")
    def read() -> t.Any:
        return get_flashed_messages()

    with pytest.raises(RuntimeError, match="secret key"):
        client.get("/")
    # Reading works and finds nothing.
    assert client.get("/read").json == []


def test_flash_outside_request_context() -> None:
    with pytest.raises(RuntimeError, match="outside of request context"):
        flash("x")
    with pytest.raises(RuntimeError, match="outside of request context"):
        get_flashed_messages()


def test_flashes_in_templates(app: kolben.Kolben, client: KolbenClient) -> None:
    @app.route("/")
    def index() -> str:
        flash("<hello>", "info")
        return "ok"

    @app.route("/page")
    def page() -> str:
        return kolben.render_template_string(
            "{% for c, m in get_flashed_messages(with_categories=true) %}"
            "[{{ c }}:{{ m }}]{% endfor %}"
        )

    client.get("/")
    assert client.get("/page").text == "[info:&lt;hello&gt;]"
