"""Flask-Moment on kolben: the ``moment`` template helper from its context
processor (``include_moment``, ``locale``, ``format``, ``fromNow``, ``calendar``,
``diff``), ``MOMENT_DEFAULT_FORMAT`` from the app's config, ``Moment.create`` in
a view, and its JavaScript served from a view.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import re
import typing as t
from datetime import datetime

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_moment import Moment

WHEN = datetime(2024, 5, 17, 9, 30, 0)
LATER = datetime(2024, 5, 20, 12, 0, 0)

PAGE = """<!doctype html>
<html><head>{{ moment.include_moment(local_js="/static/moment.js") }}
{{ moment.locale("de") }}</head>
<body>
<p id="format">{{ moment(when).format("LLL") }}</p>
<p id="from-now">{{ moment(when).fromNow(refresh=True) }}</p>
<p id="calendar">{{ moment(when).calendar() }}</p>
<p id="diff">{{ moment(later).diff(when, "days") }}</p>
<p id="default">{{ moment(when).format() }}</p>
</body></html>
"""


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, MOMENT_DEFAULT_FORMAT="YYYY-MM-DD")
    moment = Moment(app)

    @app.get("/")
    def index() -> str:
        return flask.render_template_string(PAGE, when=WHEN, later=LATER)

    @app.get("/created")
    async def created() -> str:
        return str(moment.create(WHEN).fromNow(no_suffix=True))

    @app.get("/flask-moment.js")
    def moment_js() -> tuple[str, int, dict[str, str]]:
        return moment.flask_moment_js(), 200, {"Content-Type": "application/javascript"}

    return app


def span(page: str, element: str) -> str:
    match = re.search(rf'<p id="{element}">(.*?)</p>', page, re.S)
    assert match, page
    return match.group(1)


def test_template_helper(client: t.Any) -> None:
    page = client.get("/").text
    assert '<script src="/static/moment.js"></script>' in page
    assert 'moment.locale("de");' in page
    assert 'moment.defaultFormat = "YYYY-MM-DD";' in page
    assert span(page, "format") == (
        '<span class="flask-moment" data-timestamp="2024-05-17T09:30:00Z"'
        ' data-function="format" data-format="LLL" data-refresh="0"'
        ' style="display: none">2024-05-17T09:30:00Z</span>'
    )
    assert 'data-function="fromNow" data-refresh="60000"' in span(page, "from-now")
    assert 'data-function="calendar"' in span(page, "calendar")
    diff = span(page, "diff")
    assert 'data-timestamp="2024-05-20T12:00:00Z"' in diff
    assert 'data-timestamp2="2024-05-17T09:30:00Z" data-units="days"' in diff
    assert 'data-function="format" data-refresh="0"' in span(page, "default")


def test_create_in_a_view(client: t.Any) -> None:
    assert client.get("/created").text == (
        '<span class="flask-moment" data-timestamp="2024-05-17T09:30:00Z"'
        ' data-function="fromNow" data-nosuffix="1" data-refresh="0"'
        ' style="display: none">2024-05-17T09:30:00Z</span>'
    )


def test_javascript_view(client: t.Any) -> None:
    response = client.get("/flask-moment.js")
    assert response.mimetype == "application/javascript"
    assert response.text.startswith('moment.locale("en");\nmoment.defaultFormat = "YYYY-MM-DD";')
    assert "function flask_moment_render_all()" in response.text


def test_helper_outside_a_request(app: flask.Flask) -> None:
    with app.app_context():
        rendered = flask.render_template_string("{{ moment(when).unix() }}", when=WHEN)
    assert 'data-function="unix"' in rendered
