"""An app is freed when its last reference goes, whatever it served.

Every cache keyed by an app or a class holds it weakly and the caches of an app
go with it (kolben.caching), so ``del app; gc.collect()`` frees an app that
served requests through both doors: nested blueprints, cookie or server-side
sessions, Server-Sent Events (a finite stream and a live broker channel), a
task resource, templates, static files with cache busting, signed tokens,
error pages, and request and response classes made at run time.
"""

from __future__ import annotations

import asyncio
import gc
import typing as t
import weakref
from pathlib import Path

import pytest

import kolben
from kolben import Blueprint, Kolben, session
from kolben.sse import Event, EventStream, stream_channel
from sse_apps.asgi import asgi_stream
from sse_apps.parser import Parser


def _build(backend: str, static: Path) -> Kolben:
    class App(Kolben):
        """An app class made at run time."""

    class Request(kolben.Request):
        """A request class made at run time."""

    class Response(kolben.Response):
        """A response class made at run time."""

    app = App("lifetime", static_folder=str(static), static_url_path="/static")
    app.request_class = Request
    app.extensions["test.response_class"] = Response
    app.config.update(SECRET_KEY="k", SESSION_BACKEND=backend, STATIC_CACHE_BUST=True)

    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")

    @parent.before_request
    def parent_hook() -> None:
        kolben.g.seen = True

    @child.route("/")
    def in_child() -> str:
        return f"{kolben.url_for('.in_child')} {kolben.request.blueprint} {kolben.g.seen}"

    parent.register_blueprint(child)
    app.register_blueprint(parent)

    db = app.task_resource("db", acquire=dict, release=lambda r: None, commit=lambda r: None)

    @app.route("/session")
    async def count() -> str:
        session["n"] = session.get("n", 0) + 1
        await db.aget()
        return str(session["n"])

    @app.route("/page")
    def page() -> str:
        db.get()["x"] = 1
        kolben.flash("hello")
        return kolben.render_template_string(
            "{{ n }} {{ url_for('static', filename='a.txt') }}", n=kolben.request.cookies["c"]
        )

    @app.route("/token")
    def token() -> Response:
        return Response.from_body(str(app.tokens.loads(app.tokens.dumps(1, salt="s"), salt="s")))

    @app.route("/events")
    def events() -> EventStream:
        return EventStream([Event("one", id="1"), "two"])

    @app.get("/channel")
    def channel() -> EventStream:
        return stream_channel("chat", keepalive=5)

    @app.route("/publish")
    def publish() -> str:
        return app.broker.publish("chat", "hello")

    return app


def _serve(app: Kolben) -> None:
    for client in (app.test_client(), app.asgi_test_client()):
        client.set_cookie("c", "1")
        for path in ("/session", "/session", "/page", "/parent/child/", "/token", "/publish"):
            assert client.get(path).status_code == 200, path
        assert client.get("/session").text == "3"
        assert client.get("/parent/child/").text == "/parent/child/ parent.child True"
        assert client.get("/events").data.count(b"data:") == 2
        with client.get("/static/a.txt") as rv:
            assert rv.data == b"static"
        assert client.get("/no/such/page").status_code == 404

    # A live channel stream through each door, ended by the client.
    response = app.test_client().get("/channel", buffered=False)
    parser = Parser()
    chunks = iter(response.response)
    app.broker.publish("chat", "live")
    while not parser.events:
        parser.feed(next(chunks))
    response.close()
    stream = asyncio.run(
        asgi_stream(
            app,
            "/channel",
            until=lambda p: len(p.events) == 1,
            when_open=lambda: app.broker.publish("chat", "live"),
        )
    )
    assert stream.status == 200
    assert app.broker.subscriber_count() == 0


@pytest.mark.parametrize("request_data_caches", [True, False])
@pytest.mark.parametrize("backend", ["cookie", "memory"])
def test_an_app_that_served_both_doors_is_freed(
    backend: str, request_data_caches: bool, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_bytes(b"static")
    refs: list[weakref.ref[t.Any]] = []

    def serve_some() -> None:
        app = _build(backend, tmp_path)
        app.config["REQUEST_DATA_CACHES"] = request_data_caches
        _serve(app)
        response_class = app.extensions["test.response_class"]
        refs.extend(weakref.ref(obj) for obj in (app, type(app), app.request_class, response_class))

    serve_some()
    gc.collect()
    alive = [ref() for ref in refs if ref() is not None]
    if alive:  # pragma: no cover - say what holds them
        holders = {repr(obj): [type(r).__name__ for r in gc.get_referrers(obj)] for obj in alive}
        del alive
        pytest.fail(f"still referenced: {holders}")


@pytest.mark.parametrize("with_hooks", [False, True])
def test_an_app_is_freed_when_its_last_reference_goes(with_hooks: bool) -> None:
    """No reference cycle runs through a new app (its static route included), so
    it is freed at once, without the garbage collector, as Flask's is."""
    gc.collect()
    gc.disable()
    try:
        app = Kolben(__name__)
        assert app.view_functions["static"]
        if with_hooks:
            app.before_request(lambda: None)
            app.after_request(lambda response: response)
            app.teardown_request(lambda exc: None)
            app.before_request_funcs["a.b"].append(lambda: None)
        ref = weakref.ref(app)
        del app
        assert ref() is None
    finally:
        gc.enable()


def test_the_static_route_still_calls_the_apps_send_static_file(
    tmp_path: Path, client_for: t.Callable[..., t.Any]
) -> None:
    (tmp_path / "a.txt").write_text("static")

    class App(Kolben):
        def send_static_file(self, filename: str) -> t.Any:
            response = super().send_static_file(filename)
            response.headers["X-Own"] = "yes"
            return response

    app = App(__name__, static_folder=str(tmp_path), static_url_path="/static")
    response = client_for(app).get("/static/a.txt")
    assert response.status_code == 200 and response.headers["X-Own"] == "yes"
    response.close()
