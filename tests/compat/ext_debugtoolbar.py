"""Flask-DebugToolbar on kolben: in debug mode the toolbar is injected before
``</body>`` of HTML pages (and nowhere else), with its panels (versions, timer,
headers, request variables, config, templates, SQLAlchemy, logging, routes,
``g``); its static files and panel views are served from its blueprint; a
redirect is intercepted; ``DEBUG_TB_HOSTS`` limits it; off outside debug mode.
The extension replaces ``app.dispatch_request`` on the instance and keeps each
request's toolbar in a ``ContextVar`` set in a before-request function. Its
``dispatch_request`` calls the view without ``ensure_sync``, so ``async def``
views do not work with it, on Flask either (docs/extensions.md): the views here
are ``def``.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import re
import typing as t

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_debugtoolbar import DebugToolbarExtension

PAGE = """<!doctype html>
<html><head><title>{{ title }}</title></head>
<body><h1>{{ title }}</h1></body></html>"""

#: The default panels, by the id of their entry in the toolbar.
PANELS = [
    *("flDebugVersionPanel", "flDebugTimerPanel", "flDebugHeaderPanel"),
    *("flDebugRequestVarsPanel", "flDebugConfigVarsPanel", "flDebugTemplatePanel"),
    *("flDebugSQLAlchemyPanel", "flDebugLoggingPanel", "flDebugRouteListPanel"),
    *("flDebugProfilerPanel", "flDebuggPanel"),
]


def make_app(debug: bool = True, **config: t.Any) -> flask.Flask:
    app = flask.Flask(__name__)
    app.debug = debug
    app.config.update(SECRET_KEY="flask-debugtoolbar on kolben", **config)
    toolbar = DebugToolbarExtension(app)
    app.extensions["test_toolbar"] = toolbar

    @app.get("/")
    def index() -> str:
        flask.g.visitor = "ada"
        flask.current_app.logger.warning("index was here")
        return flask.render_template_string(PAGE, title="Home")

    @app.get("/other")
    def other() -> str:
        return flask.render_template_string(PAGE, title="Other")

    @app.get("/api")
    def api() -> dict[str, int]:
        return {"n": 1}

    @app.get("/go")
    def go() -> flask.Response:
        return flask.redirect("/")

    return app


@pytest.fixture
def app() -> flask.Flask:
    return make_app()


def toolbar_of(page: str) -> str:
    match = re.search(r'<div id="flDebug".*</body>', page, re.S)
    assert match, page[-2000:]
    return match.group(0)


@pytest.mark.parametrize("path", ["/", "/other"])
def test_toolbar_injected_into_html(client: t.Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    page = response.text
    assert page.startswith("<!doctype html>")
    assert page.rstrip().endswith("</body></html>")
    # Injected once, right before </body>, after the page's own content.
    assert page.count('id="flDebug"') == 1
    assert page.index("</h1>") < page.index('id="flDebug"') < page.index("</body>")
    assert response.content_length == len(response.data)
    toolbar = toolbar_of(page)
    for panel in PANELS:
        assert f'id="{panel}"' in toolbar, panel
    # The versions panel reads importlib.metadata.version("flask").
    assert "Flask 3.1.3" in toolbar
    # Its static files are linked from the toolbar's blueprint route.
    assert "/_debug_toolbar/static/" in toolbar


def test_panels_see_the_request(client: t.Any) -> None:
    toolbar = toolbar_of(client.get("/?q=kolben").text)
    # The template panel recorded the template the view rendered.
    assert re.search(r'id="flDebugTemplatePanel".*?1 rendered', toolbar, re.S), toolbar
    # The logging panel caught the view's warning.
    assert re.search(r'id="flDebugLoggingPanel".*?1 message', toolbar, re.S), toolbar
    # The route list has the app's rules.
    assert re.search(r'id="flDebugRouteListPanel".*?\d+ routes', toolbar, re.S), toolbar


def test_sqlalchemy_and_profiler_panels(door: str) -> None:
    """The SQLAlchemy panel counts the queries Flask-SQLAlchemy recorded (the
    toolbar turns SQLALCHEMY_RECORD_QUERIES on in debug mode); the profiler
    panel wraps the view through process_view, called by the toolbar's own
    dispatch_request."""
    import sqlalchemy as sa
    from flask_sqlalchemy import SQLAlchemy

    app = make_app(SQLALCHEMY_DATABASE_URI="sqlite://", DEBUG_TB_PROFILER_ENABLED=True)
    db = SQLAlchemy(app)

    @app.get("/db")
    def with_queries() -> str:
        db.session.execute(sa.text("select 1")).all()
        db.session.execute(sa.text("select 2")).all()
        return flask.render_template_string(PAGE, title="Queries")

    if door == "asgi" and not hasattr(app, "asgi_test_client"):
        pytest.skip("the real Flask has no ASGI door")
    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    toolbar = toolbar_of(client.get("/db").text)
    assert re.search(r'id="flDebugSQLAlchemyPanel".*?2 queries', toolbar, re.S), toolbar
    assert re.search(r'id="flDebugProfilerPanel".*?View: [\d.]+ms', toolbar, re.S), toolbar


def test_static_files_are_served(client: t.Any) -> None:
    with client.get("/_debug_toolbar/static/css/toolbar.css") as response:
        assert response.status_code == 200
        assert "#flDebug" in response.text


def test_not_injected_into_json(client: t.Any) -> None:
    response = client.get("/api")
    assert response.json == {"n": 1}
    assert "flDebug" not in response.text


def test_redirect_intercepted(client: t.Any) -> None:
    response = client.get("/go")
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert 'href="/"' in response.text
    assert "flDebug" in response.text


def test_redirect_not_intercepted_when_disabled(door: str) -> None:
    app = make_app(DEBUG_TB_INTERCEPT_REDIRECTS=False)
    if door == "asgi" and not hasattr(app, "asgi_test_client"):
        pytest.skip("the real Flask has no ASGI door")
    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    response = client.get("/go")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_hosts_limit_the_toolbar(door: str) -> None:
    app = make_app(DEBUG_TB_HOSTS=["10.0.0.1"])
    if door == "asgi" and not hasattr(app, "asgi_test_client"):
        pytest.skip("the real Flask has no ASGI door")
    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    assert "flDebug" not in client.get("/").text


def test_off_outside_debug_mode(door: str) -> None:
    app = make_app(debug=False)
    if door == "asgi" and not hasattr(app, "asgi_test_client"):
        pytest.skip("the real Flask has no ASGI door")
    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    page = client.get("/").text
    assert "flDebug" not in page
    assert client.get("/_debug_toolbar/static/css/toolbar.css").status_code == 404
