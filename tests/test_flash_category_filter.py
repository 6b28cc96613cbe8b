"""get_flashed_messages(category_filter=...) with a string, as Flask does it:
``category in category_filter``, a substring test for a string."""

from __future__ import annotations

import typing as t

import flask
import pytest

import kolben

CATEGORIES = ["error", "errors", "e", "r", "message", "", "warning"]
FILTERS: list[t.Any] = ["errors", "error", "e", "warning", "xyz", ["error"], ("errors", "e")]


def flashed_app(app: t.Any, framework: t.Any) -> t.Any:
    """Routes that flash one message per category, and read them through a filter
    (with ``framework``'s own flash and get_flashed_messages)."""

    @app.route("/flash")
    def do_flash() -> str:
        for category in CATEGORIES:
            framework.flash(f"in {category!r}", category)
        return "ok"

    @app.route("/read/<int:which>")
    def read(which: int) -> t.Any:
        read = framework.get_flashed_messages(with_categories=True, category_filter=FILTERS[which])
        return [list(pair) for pair in read]

    return app


@pytest.fixture
def fapp(app: kolben.Kolben) -> kolben.Kolben:
    return t.cast(kolben.Kolben, flashed_app(app, kolben))


def flask_reads(which: int) -> t.Any:
    app = flashed_app(flask.Flask(__name__), flask)
    app.config.update(TESTING=True, SECRET_KEY="test key")
    client = app.test_client()
    client.get("/flash")
    return client.get(f"/read/{which}").json


@pytest.mark.parametrize("which", range(len(FILTERS)))
def test_category_filter_like_flask(fapp: kolben.Kolben, client: t.Any, which: int) -> None:
    client.get("/flash")
    assert client.get(f"/read/{which}").json == flask_reads(which)


def test_a_string_filter_is_a_substring_test(fapp: kolben.Kolben, client: t.Any) -> None:
    client.get("/flash")
    got = client.get(f"/read/{FILTERS.index('errors')}").json
    # "error", "errors", "e", "r" and "" are substrings of "errors"; "message" and
    # "warning" are not, though their letters are all in it or nearly.
    assert [c for c, _ in got] == ["error", "errors", "e", "r", ""]
