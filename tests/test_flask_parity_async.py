"""``async def`` user code as in Flask 3.1 (which runs it through asgiref's
``async_to_sync``), on both doors: found by running the same generated apps on
Flask and on kolben and comparing every request."""

from __future__ import annotations

import contextvars
import sys
import typing as t

import pytest

import kolben
from kolben.globals import _cv_app, _cv_request

Client = t.Callable[..., t.Any]

CV: contextvars.ContextVar[str] = contextvars.ContextVar("test_flask_parity_async", default="unset")


def _name(exc: BaseException | None) -> str | None:
    return type(exc).__name__ if exc is not None else None


def _log_teardowns(app: kolben.Kolben, log: list[str]) -> None:
    @app.teardown_request
    def teardown_request(exc: BaseException | None) -> None:
        log.append(f"teardown_request({_name(exc)})")

    @app.teardown_appcontext
    def teardown_appcontext(exc: BaseException | None) -> None:
        log.append(f"teardown_appcontext({_name(exc)})")


def _nothing_left_pushed() -> bool:
    return _cv_request.get(None) is None and _cv_app.get(None) is None


def test_a_stream_from_an_async_view_of_an_app_with_its_own_ensure_sync(
    client_for: Client,
) -> None:
    # Under ASGI the request failed ("Token ... was created in a different
    # Context") and no teardown ran: the view ran in a copy of the request's
    # context that stream_with_context didn't know about.
    class App(kolben.Kolben):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            return super().ensure_sync(func)  # a tracing wrapper, say

    app = App(__name__)
    log: list[str] = []
    _log_teardowns(app, log)

    @app.route("/")
    async def index() -> t.Any:
        def gen() -> t.Iterator[str]:
            yield "a"
            yield kolben.request.path

        return kolben.stream_with_context(gen())

    response = client_for(app).get("/")
    assert (response.status_code, response.data) == (200, b"a/")
    assert "teardown_request(None)" in log and "teardown_appcontext(None)" in log
    assert _nothing_left_pushed()


@pytest.mark.parametrize("view_kind", ["sync", "async"])
def test_an_unsent_stream_with_an_async_appcontext_popped_receiver(
    client_for: Client, view_kind: str
) -> None:
    # An after_request function fails, so the streamed body is never sent and
    # the request closes it, which pops its contexts and runs the receiver:
    # under ASGI that ran on the event loop and failed ("An async function was
    # called from synchronous code"), with no teardown.
    app = kolben.Kolben(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []
    _log_teardowns(app, log)

    async def popped(sender: t.Any, **kwargs: t.Any) -> None:
        log.append("appcontext_popped")

    @app.after_request
    async def after(response: kolben.Response) -> kolben.Response:
        raise ValueError("after_request failed")

    def gen() -> t.Iterator[str]:
        yield "never sent"

    if view_kind == "sync":

        @app.route("/")
        def index() -> t.Any:
            return kolben.stream_with_context(gen())

    else:

        @app.route("/")
        async def aindex() -> t.Any:
            return kolben.stream_with_context(gen())

    with kolben.appcontext_popped.connected_to(popped, app):
        response = client_for(app).get("/")
    assert response.status_code == 500
    assert log.count("teardown_request(ValueError)") == 1
    assert log.count("teardown_appcontext(ValueError)") == 1
    assert "appcontext_popped" in log
    assert _nothing_left_pushed()


def test_a_stream_from_an_async_view_with_an_async_appcontext_pushed_receiver(
    client_for: Client,
) -> None:
    # Under ASGI the contexts were pushed again on the loop, where the async
    # receiver can't be run: a 500, and teardown_appcontext skipped.
    app = kolben.Kolben(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []
    _log_teardowns(app, log)

    async def pushed(sender: t.Any, **kwargs: t.Any) -> None:
        log.append("appcontext_pushed")

    @app.route("/")
    async def index() -> t.Any:
        def gen() -> t.Iterator[str]:
            yield "a"
            yield "b"

        return kolben.stream_with_context(gen())

    with kolben.appcontext_pushed.connected_to(pushed, app):
        response = client_for(app).get("/")
    assert (response.status_code, response.data) == (200, b"ab")
    assert "teardown_appcontext(None)" in log
    assert "teardown_appcontext(RuntimeError)" not in log
    assert _nothing_left_pushed()


@pytest.mark.parametrize("view_kind", ["sync", "async"])
def test_an_error_of_an_apps_own_ensure_sync_is_the_steps_error(
    client_for: Client, view_kind: str
) -> None:
    # Flask calls ensure_sync where it calls the view: its error is handled as
    # the view's (error handler, teardown). Under ASGI it escaped the app.
    class Refused(Exception):
        pass

    class App(kolben.Kolben):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            if getattr(func, "__name__", "") == "index":
                raise Refused("ensure_sync refused")
            return super().ensure_sync(func)

    app = App(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []
    _log_teardowns(app, log)

    @app.errorhandler(Refused)
    def refused(e: Refused) -> tuple[str, int]:
        log.append("handler")
        return "refused", 403

    if view_kind == "sync":

        @app.route("/")
        def index() -> str:
            return "ok"

    else:

        @app.route("/")  # type: ignore[no-redef]
        async def index() -> str:
            return "ok"

    response = client_for(app).get("/")
    assert (response.status_code, response.data) == (403, b"refused")
    assert log == ["handler", "teardown_request(None)", "teardown_appcontext(None)"]
    assert _nothing_left_pushed()


def test_an_apps_own_ensure_sync_may_read_each_functions_name(client_for: Client) -> None:
    # Signal receivers reached ensure_sync as nameless functools.partial objects.
    seen: list[str] = []

    class App(kolben.Kolben):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            seen.append(func.__name__)
            return super().ensure_sync(func)

    app = App(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = True

    async def started(sender: t.Any, **kwargs: t.Any) -> None:
        pass

    def finished(sender: t.Any, response: t.Any, **kwargs: t.Any) -> None:
        pass

    @app.route("/")
    async def index() -> str:
        return "ok"

    with (
        kolben.request_started.connected_to(started, app),
        kolben.request_finished.connected_to(finished, app),
    ):
        response = client_for(app).get("/")
    assert (response.status_code, response.data) == (200, b"ok")
    assert "started" in seen and "index" in seen


def test_an_apps_own_ensure_sync_sees_what_flasks_sees(client_for: Client) -> None:
    # Flask passes views, before/after_request, after_this_request and teardown
    # functions, error handlers and async signal receivers through ensure_sync
    # (context processors too); URL processors, sync signal receivers and the
    # pipeline methods a subclass overrides are called as they are. kolben passed
    # every step through it.
    seen: list[str] = []

    class App(kolben.Kolben):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            seen.append(func.__name__)
            return super().ensure_sync(func)

        def preprocess_request(self) -> t.Any:
            return super().preprocess_request()

        def dispatch_request(self) -> t.Any:
            return super().dispatch_request()

        def handle_user_exception(self, e: Exception) -> t.Any:
            return super().handle_user_exception(e)

        def finalize_request(self, rv: t.Any, from_error_handler: bool = False) -> t.Any:
            return super().finalize_request(rv, from_error_handler)

    app = App(__name__)

    @app.url_value_preprocessor
    def values(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        pass

    @app.url_defaults
    def defaults(endpoint: str, values: dict[str, t.Any]) -> None:
        pass

    @app.before_request
    def before() -> None:
        pass

    @app.after_request
    def after(response: kolben.Response) -> kolben.Response:
        return response

    @app.teardown_request
    def teardown_request(exc: BaseException | None) -> None:
        pass

    @app.teardown_appcontext
    def teardown_appcontext(exc: BaseException | None) -> None:
        pass

    @app.errorhandler(ValueError)
    def on_value_error(e: ValueError) -> tuple[str, int]:
        return "handled", 400

    def sync_receiver(sender: t.Any, **kwargs: t.Any) -> None:
        pass

    async def async_receiver(sender: t.Any, **kwargs: t.Any) -> None:
        pass

    @app.route("/<name>")
    def index(name: str) -> str:
        @kolben.after_this_request
        def after_this(response: kolben.Response) -> kolben.Response:
            return response

        kolben.url_for("index", name="other")
        raise ValueError(name)

    with (
        kolben.request_started.connected_to(sync_receiver, app),
        kolben.request_started.connected_to(async_receiver, app),
        kolben.request_finished.connected_to(sync_receiver, app),
        kolben.request_tearing_down.connected_to(sync_receiver, app),
    ):
        response = client_for(app).get("/a")
    assert (response.status_code, response.data) == (400, b"handled")
    assert seen == [
        "async_receiver",
        "before",
        "index",
        "on_value_error",
        "after_this",
        "after",
        "teardown_request",
        "teardown_appcontext",
    ]


@pytest.mark.parametrize("hook_kind", ["sync", "async"])
@pytest.mark.parametrize("view_kind", ["sync", "async"])
def test_a_context_variable_set_by_a_hook_is_seen_by_the_view(
    client_for: Client, hook_kind: str, view_kind: str
) -> None:
    # Flask (asgiref) copies back what an async function changed in its context;
    # under WSGI an async hook's change was lost.
    app = kolben.Kolben(__name__)

    if hook_kind == "sync":

        @app.before_request
        def set_it() -> None:
            CV.set("set-by-hook")

    else:

        @app.before_request  # type: ignore[no-redef]
        async def set_it() -> None:
            CV.set("set-by-hook")

    if view_kind == "sync":

        @app.route("/")
        def index() -> str:
            return CV.get()

    else:

        @app.route("/")  # type: ignore[no-redef]
        async def index() -> str:
            return CV.get()

    token = CV.set("unset")
    try:
        assert client_for(app).get("/").data == b"set-by-hook"
    finally:
        CV.reset(token)


def test_a_context_variable_set_through_ensure_sync_is_seen_after(client_for: Client) -> None:
    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> str:
        async def helper() -> None:
            CV.set("set-in-helper")

        kolben.current_app.ensure_sync(helper)()
        return CV.get()

    token = CV.set("unset")
    try:
        assert client_for(app).get("/").data == b"set-in-helper"
    finally:
        CV.reset(token)


def test_async_error_handlers_see_the_error_being_handled(client_for: Client) -> None:
    # As asgiref runs them for Flask: sys.exc_info() is the error, a bare
    # ``raise`` re-raises it (logger.exception and error reporters read it).
    # Under ASGI they saw no exception.
    app = kolben.Kolben(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    log: list[str] = []

    def current() -> str | None:
        kind = sys.exc_info()[0]
        return kind.__name__ if kind is not None else None

    async def on_exception(sender: t.Any, exception: BaseException, **kwargs: t.Any) -> None:
        log.append(f"got_request_exception: {current()}")

    @app.errorhandler(ValueError)
    async def handle(e: ValueError) -> tuple[str, int]:
        log.append(f"handler: {current()}")
        try:
            raise
        except ValueError:
            log.append("re-raised")
        return "handled", 400

    @app.errorhandler(500)
    async def internal(e: Exception) -> tuple[str, int]:
        log.append(f"500 handler: {current()}")
        return "500", 500

    @app.route("/value")
    async def value() -> str:
        raise ValueError("bad")

    @app.route("/key")
    async def key() -> str:
        raise KeyError("missing")

    client = client_for(app)
    with kolben.got_request_exception.connected_to(on_exception, app):
        assert client.get("/value").status_code == 400
        assert client.get("/key").status_code == 500
    assert log == [
        "handler: ValueError",
        "re-raised",
        "got_request_exception: KeyError",
        "500 handler: KeyError",
    ]


def test_tasks_an_async_view_leaves_pending_are_cancelled_under_wsgi(app: kolben.Kolben) -> None:
    """Flask's ensure_sync (asgiref) cancels what a call left pending when its loop
    ends: a task never resumes later, inside another request, with the old
    request's context, nor is destroyed pending when the thread ends."""
    import asyncio
    import threading

    events: list[str] = []

    async def audit(user: str) -> None:
        try:
            await asyncio.sleep(0.05)
            events.append(f"{user} ran in {kolben.request.args.get('u')}'s request")
        except asyncio.CancelledError:
            events.append(f"{user} cancelled")
            raise

    @app.route("/fire")
    async def fire() -> str:
        asyncio.create_task(audit(kolben.request.args["u"]))  # noqa: RUF006 - fire and forget, as apps do
        return "fired"

    @app.route("/wait")
    async def wait() -> str:
        await asyncio.sleep(0.1)
        return "waited"

    client = app.test_client()
    assert client.get("/fire?u=alice").data == b"fired"
    assert events == ["alice cancelled"]
    assert client.get("/wait?u=bob").data == b"waited"
    assert events == ["alice cancelled"]

    thread = threading.Thread(target=lambda: client.get("/fire?u=carol"))
    thread.start()
    thread.join()
    assert events == ["alice cancelled", "carol cancelled"]


def test_an_async_generator_left_unfinished_is_closed_within_its_request(
    app: kolben.Kolben, client: t.Any
) -> None:
    """As with asgiref's per-call loop, the ``finally`` of an async generator a
    view stops iterating runs before the response, not in a later request."""
    events: list[str] = []

    async def rows() -> t.AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            events.append(f"closed in {kolben.request.args['u']}'s request")

    @app.route("/")
    async def index() -> str:
        async for _ in rows():
            break
        return "ok"

    client.get("/?u=alice")
    assert events == ["closed in alice's request"]


def test_an_async_function_called_by_sync_code_on_the_loop_names_a_way_out(
    door: str, client_for: Client
) -> None:
    # An async context processor, rendered from an async view: Flask 3.1 fails
    # too (asgiref: "You cannot use AsyncToSync in the same thread as an async
    # event loop"). Under the ASGI door the message must not advise the ASGI door.
    app = kolben.Kolben(__name__)
    app.testing = True

    @app.context_processor
    async def extra() -> dict[str, str]:
        return {"x": "y"}

    @app.route("/")
    async def index() -> str:
        return kolben.render_template_string("{{ x }}")

    with pytest.raises(RuntimeError, match="can't be run to completion here") as info:
        client_for(app).get("/")
    # Under either door: async code runs on an event loop (the ASGI door is no
    # way out, as its own run shows).
    assert "ASGI door" not in str(info.value)
    assert "plain 'def' function" in str(info.value)
