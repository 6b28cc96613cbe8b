"""The one request pipeline (kolben.pipeline) as both doors drive it.

- Where user code runs under ASGI: ``async def`` functions on the server's loop,
  sync ones in the worker threads, with the thread crossings counted on the pool
  (``app.worker_threads.calls``): none when all user code is async, one when all
  of it is sync, at most one per switch otherwise.
- Flask's overridable pipeline methods, honoured on both doors.
- Faults: hooks that raise, a client that leaves, a cancelled request.
"""

from __future__ import annotations

import asyncio
import threading
import time
import typing as t

import pytest
from werkzeug.routing import BaseConverter

import kolben
from kolben import Kolben, after_this_request, g, request
from kolben.resources import after_commit
from kolben.signals import request_finished, request_started
from kolben.views import MethodView

Message = t.MutableMapping[str, t.Any]


def http_scope(path: str = "/", method: str = "GET") -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }


async def serve(app: Kolben, path: str = "/", method: str = "GET") -> tuple[int, bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(http_scope(path, method), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def crossings(app: Kolben, path: str = "/") -> tuple[int, bytes, int]:
    """Serve one request through the ASGI door (after one warm-up request) and
    count the worker-thread calls it made."""

    async def main() -> tuple[int, bytes, int]:
        await serve(app, path)
        before = app.worker_threads.calls
        status, body = await serve(app, path)
        return status, body, app.worker_threads.calls - before

    return asyncio.run(main())


def on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# -- where user code runs --------------------------------------------------------------


def test_all_async_request_crosses_no_thread() -> None:
    app = Kolben(__name__)
    app.secret_key = "k"
    seen: list[tuple[str, bool]] = []

    @app.before_request
    async def first() -> None:
        seen.append(("before", on_loop()))
        g.a = "a"

    @app.before_request
    async def second() -> None:
        g.b = "b"

    @app.after_request
    async def after(response: kolben.Response) -> kolben.Response:
        seen.append(("after", on_loop()))
        response.headers["X-Hooked"] = g.a + g.b
        return response

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        seen.append(("teardown", on_loop()))

    @app.route("/")
    async def index() -> str:
        seen.append(("view", on_loop()))
        kolben.session["n"] = kolben.session.get("n", 0) + 1

        @after_this_request
        async def later(response: kolben.Response) -> kolben.Response:
            seen.append(("after_this_request", on_loop()))
            return response

        return "ok"

    status, body, calls = crossings(app)
    assert (status, body) == (200, b"ok")
    assert calls == 0
    assert all(loop for _, loop in seen)
    assert [name for name, _ in seen[-5:]] == [
        "before",
        "view",
        "after_this_request",
        "after",
        "teardown",
    ]


def test_all_sync_request_crosses_once() -> None:
    app = Kolben(__name__)
    app.secret_key = "k"
    seen: list[bool] = []

    @app.before_request
    def first() -> None:
        seen.append(on_loop())

    @app.after_request
    def after(response: kolben.Response) -> kolben.Response:
        seen.append(on_loop())
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        seen.append(on_loop())

    @app.route("/")
    def index() -> str:
        seen.append(on_loop())
        kolben.session["n"] = 1
        return "ok"

    status, body, calls = crossings(app)
    assert (status, body) == (200, b"ok")
    assert calls == 1
    assert not any(seen)


def test_mixed_request_crosses_once_per_switch() -> None:
    app = Kolben(__name__)

    @app.before_request
    async def first() -> None:  # loop
        pass

    @app.route("/")
    def index() -> str:  # thread (switch 1)
        return "ok"

    @app.after_request
    async def after(response: kolben.Response) -> kolben.Response:  # loop
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:  # thread (switch 2)
        pass

    status, _, calls = crossings(app)
    assert status == 200
    assert calls == 2


def test_async_task_resource_and_after_commit_cross_no_thread() -> None:
    app = Kolben(__name__)
    log: list[tuple[str, bool]] = []

    async def acquire() -> dict[str, t.Any]:
        log.append(("acquire", on_loop()))
        return {}

    async def commit(res: dict[str, t.Any]) -> None:
        log.append(("commit", on_loop()))

    async def release(res: dict[str, t.Any]) -> None:
        log.append(("release", on_loop()))

    db = app.task_resource("db", acquire=acquire, commit=commit, release=release)

    @app.route("/")
    async def index() -> str:
        await db.aget()

        @after_commit
        async def mail() -> None:
            log.append(("after_commit", on_loop()))

        return "saved"

    status, body, calls = crossings(app)
    assert (status, body) == (200, b"saved")
    assert calls == 0
    assert [name for name, _ in log[-4:]] == ["acquire", "commit", "after_commit", "release"]
    assert all(loop for _, loop in log)


def test_sync_converter_runs_off_the_loop() -> None:
    app = Kolben(__name__)
    where: list[bool] = []

    class Upper(BaseConverter):
        def to_python(self, value: str) -> str:
            where.append(on_loop())
            return value.upper()

    app.url_map.converters["upper"] = Upper

    @app.route("/<upper:name>")
    async def index(name: str) -> str:
        return name

    status, body, calls = crossings(app, "/abc")
    assert (status, body) == (200, b"ABC")
    assert where and not any(where)
    assert calls == 1


def test_async_method_view_and_signal_receivers_run_on_the_loop() -> None:
    app = Kolben(__name__)
    seen: list[tuple[str, bool]] = []

    class Items(MethodView):
        async def get(self) -> str:
            seen.append(("get", on_loop()))
            return "items"

    app.add_url_rule("/", view_func=Items.as_view("items"))

    async def started(sender: Kolben, **extra: t.Any) -> None:
        seen.append(("started", on_loop()))

    async def finished(sender: Kolben, response: kolben.Response, **extra: t.Any) -> None:
        seen.append(("finished", on_loop()))

    with request_started.connected_to(started, app), request_finished.connected_to(finished, app):
        status, body, calls = crossings(app)
    assert (status, body) == (200, b"items")
    assert calls == 0
    assert [name for name, _ in seen[-3:]] == ["started", "get", "finished"]
    assert all(loop for _, loop in seen)


def test_async_after_this_request_in_async_view(client: kolben.testing.KolbenClient) -> None:
    app = client.application

    @app.route("/")
    async def index() -> str:
        @after_this_request
        async def add(response: kolben.Response) -> kolben.Response:
            response.headers["X-Later"] = "yes"
            return response

        return "ok"

    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["X-Later"] == "yes"


# -- Flask's overridable methods, on both doors ------------------------------------------

OVERRIDABLE = [
    "full_dispatch_request",
    "preprocess_request",
    "dispatch_request",
    "finalize_request",
    "process_response",
    "make_response",
    "do_teardown_request",
    "do_teardown_appcontext",
    "request_context",
]


@pytest.mark.parametrize("method", OVERRIDABLE)
def test_overridden_pipeline_method_is_called(
    client_for: t.Callable[..., kolben.testing.KolbenClient], method: str
) -> None:
    calls: list[str] = []

    def override(self: Kolben, *args: t.Any, **kwargs: t.Any) -> t.Any:
        calls.append(method)
        return getattr(Kolben, method)(self, *args, **kwargs)

    App = type("App", (Kolben,), {method: override})
    app = App(__name__)

    @app.before_request
    async def before() -> None:
        g.seen = True

    @app.route("/")
    async def index() -> str:
        return "ok" if g.seen else "no"

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        pass

    client = client_for(app)
    response = client.get("/")
    assert response.status_code == 200
    assert response.data == b"ok"
    assert calls and set(calls) == {method}


@pytest.mark.parametrize("patch", ["class", "instance"])
def test_override_made_after_the_app_and_before_its_first_request_is_honoured(
    client_for: t.Callable[..., kolben.testing.KolbenClient], patch: str
) -> None:
    """What the pipeline overrides is decided on first use, not when the app is
    made: a method patched on the app's class (as a test's monkeypatch does) or
    on the app between the two is called; one assigned on the app later too."""
    App = type("App", (Kolben,), {})
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "ok")
    calls: list[str] = []

    def process_response(self: Kolben, response: t.Any) -> t.Any:
        calls.append("process_response")
        return Kolben.process_response(self, response)

    if patch == "class":
        App.process_response = process_response  # type: ignore[method-assign]
    else:
        app.process_response = process_response.__get__(app)  # type: ignore[method-assign]
    client = client_for(app)
    assert client.get("/").data == b"ok"
    assert calls == ["process_response"]

    def finalize_request(rv: t.Any, from_error_handler: bool = False) -> t.Any:
        calls.append("finalize_request")
        return Kolben.finalize_request(app, rv, from_error_handler)

    app.finalize_request = finalize_request  # type: ignore[method-assign]
    assert client.get("/").data == b"ok"
    assert calls == ["process_response", "finalize_request", "process_response"]


@pytest.mark.parametrize("is_async", [False, True], ids=["def", "async"])
def test_an_overridden_finalize_request_gets_from_error_handler_by_keyword(
    client_for: t.Callable[..., kolben.testing.KolbenClient], is_async: bool
) -> None:
    """handle_exception calls an own finalize_request as Flask does, with
    ``from_error_handler=True`` by keyword: an override taking it as a
    keyword-only argument or in ``**kwargs`` works (found by the two-door
    differential fuzzer: it was passed by position, a TypeError)."""
    seen: list[t.Any] = []

    class App(Kolben):
        def finalize_request(self, rv: t.Any, **kwargs: t.Any) -> t.Any:
            seen.append(kwargs)
            return super().finalize_request(rv, **kwargs)

    app = App(__name__)

    def boom() -> str:
        raise ValueError("boom")

    async def aboom() -> str:
        raise ValueError("boom")

    app.add_url_rule("/", "boom", aboom if is_async else boom)
    rv = client_for(app).get("/")
    assert rv.status_code == 500
    assert seen == [{"from_error_handler": True}]


def test_overridden_error_methods_are_called(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    calls: list[str] = []

    class App(Kolben):
        def handle_user_exception(self, e: Exception) -> t.Any:
            calls.append("handle_user_exception")
            return super().handle_user_exception(e)

        def handle_http_exception(self, e: t.Any) -> t.Any:
            calls.append("handle_http_exception")
            return super().handle_http_exception(e)

        def handle_exception(self, e: Exception) -> kolben.Response:
            calls.append("handle_exception")
            return super().handle_exception(e)

        def log_exception(self, exc_info: t.Any) -> None:
            calls.append("log_exception")

    app = App(__name__)

    @app.route("/missing")
    async def missing() -> str:
        kolben.abort(404)

    @app.route("/boom")
    async def boom() -> str:
        raise ZeroDivisionError

    client = client_for(app)
    assert client.get("/missing").status_code == 404
    assert calls == ["handle_user_exception", "handle_http_exception"]
    calls.clear()
    assert client.get("/boom").status_code == 500
    assert calls == ["handle_user_exception", "handle_exception", "log_exception"]


def test_overridden_ensure_sync_sees_every_user_function(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    seen: list[str] = []

    class App(Kolben):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            seen.append(getattr(func, "__name__", repr(func)))
            return super().ensure_sync(func)

    app = App(__name__)

    @app.before_request
    async def before() -> None:
        pass

    @app.route("/")
    async def index() -> str:
        return "ok"

    @app.after_request
    def after(response: kolben.Response) -> kolben.Response:
        return response

    client = client_for(app)
    assert client.get("/").data == b"ok"
    assert {"before", "index", "after"} <= set(seen)


def test_should_ignore_error_is_honoured(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    seen: list[BaseException | None] = []

    class App(Kolben):
        def should_ignore_error(self, error: BaseException | None) -> bool:
            return True

    app = App(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.logger.disabled = True

    @app.route("/")
    async def index() -> str:
        raise ValueError("x")

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        seen.append(exc)

    client = client_for(app)
    assert client.get("/").status_code == 500
    assert seen == [None]


def test_request_subclass_rewriting_path_still_matches(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    # Flask matches the environ's PATH_INFO, not request.path.
    class PrefixedRequest(kolben.Request):
        def __init__(self, environ: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
            super().__init__(environ, *args, **kwargs)
            self.path = "/mounted" + self.path

    app = Kolben(__name__)
    app.request_class = PrefixedRequest

    @app.route("/page")
    def page() -> str:
        return request.path

    client = client_for(app)
    response = client.get("/page")
    assert response.status_code == 200
    assert response.data == b"/mounted/page"


# -- faults ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_raising_hook_runs_handler_and_teardown_once(
    client_for: t.Callable[..., kolben.testing.KolbenClient], kind: str
) -> None:
    app = Kolben(__name__)
    handled: list[str] = []
    torn_down: list[type[BaseException] | None] = []

    if kind == "sync":

        @app.before_request
        def before() -> None:
            raise KeyError("hook")

    else:

        @app.before_request
        async def before() -> None:
            raise KeyError("hook")

    @app.errorhandler(KeyError)
    def on_key_error(e: KeyError) -> tuple[str, int]:
        handled.append("key")
        return "handled", 409

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        torn_down.append(type(exc) if exc is not None else None)

    @app.route("/")
    async def index() -> str:
        return "never"

    client = client_for(app)
    response = client.get("/")
    assert (response.status_code, response.data) == (409, b"handled")
    assert handled == ["key"]
    assert torn_down == [None]  # handled: the request did not fail
    assert client.get("/").status_code == 409  # and the app keeps serving


def test_cancelled_while_an_async_hook_awaits() -> None:
    app = Kolben(__name__)
    torn_down: list[str] = []
    state: dict[str, t.Any] = {}

    @app.before_request
    async def slow() -> None:
        if request.path == "/":
            state["started"].set()
            await asyncio.sleep(30)

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.append(type(exc).__name__ if exc is not None else "None")

    @app.route("/")
    async def index() -> str:
        return "never"

    @app.route("/fine")
    async def fine() -> str:
        return "fine"

    async def main() -> tuple[int, bytes]:
        state["started"] = asyncio.Event()
        task = asyncio.create_task(serve(app))
        await state["started"].wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == []
        return await serve(app, "/fine")

    assert asyncio.run(main()) == (200, b"fine")
    # The hook saw the cancellation; teardown ran once with it (then once for /fine).
    assert torn_down == ["CancelledError", "None"]
    assert kolben.ctx.has_request_context() is False


def test_cancelled_during_a_worker_thread_step() -> None:
    app = Kolben(__name__)
    in_view = threading.Event()
    release = threading.Event()
    torn_down: list[str] = []

    @app.route("/")
    def index() -> str:
        in_view.set()
        release.wait(10)
        return "late"

    @app.teardown_request
    async def teardown(exc: BaseException | None) -> None:
        torn_down.append(type(exc).__name__ if exc is not None else "None")

    @app.route("/fine")
    def fine() -> str:
        return "fine"

    async def main() -> tuple[int, bytes]:
        task = asyncio.create_task(serve(app))
        await asyncio.get_running_loop().run_in_executor(None, in_view.wait, 10)
        task.cancel()
        await asyncio.sleep(0.05)
        assert not task.done()  # the thread's step is let finish first
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await serve(app, "/fine")

    assert asyncio.run(main()) == (200, b"fine")
    # The view was let finish, the request too (teardown once, as for a finished
    # request), then the task's cancellation was raised; /fine is served after.
    assert torn_down == ["None", "None"]
    pool = app.worker_threads
    # (a thread counts idle just after it handed its last result over)
    deadline = time.monotonic() + 5
    while pool._idle != pool.threads and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool._idle == pool.threads


# -- nothing of a finished request stays reachable -----------------------------------


def test_no_request_context_outlives_its_request(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    # Under WSGI an async view runs on an event loop the worker thread keeps;
    # that loop must hold nothing of the requests it served.
    import gc

    from kolben.ctx import RequestContext

    app = Kolben(__name__)

    @app.route("/")
    async def index() -> str:
        return request.cookies.get("c", "none")

    client = client_for(app)
    client.set_cookie("c", "secret-value")
    assert client.get("/").data == b"secret-value"
    gc.collect()
    assert [o for o in gc.get_objects() if isinstance(o, RequestContext)] == []
    assert not [
        o
        for o in gc.get_objects()
        if isinstance(o, dict) and "secret-value" in str(o.get("HTTP_COOKIE", ""))
    ]


def test_stream_with_context_in_an_async_view(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    from kolben import stream_with_context

    app = Kolben(__name__)
    torn_down: list[bool] = []

    @app.route("/")
    async def index() -> t.Any:
        def generate() -> t.Iterator[str]:
            yield "a"
            yield request.args.get("x", "-")

        return stream_with_context(generate())

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        torn_down.append(True)

    client = client_for(app)
    response = client.get("/?x=1")
    assert (response.status_code, response.data) == (200, b"a1")
    assert torn_down  # the contexts were popped again once the body was done


# -- the ASGI door routes before it receives a body --------------------------------------


class _BigUpload:
    """A client sending ``total`` bytes in 64 KiB messages, counting what the app
    received."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.received = 0

    async def receive(self) -> Message:
        size = min(65536, self.total - self.received)
        self.received += size
        return {
            "type": "http.request",
            "body": b"x" * size,
            "more_body": self.received < self.total,
        }


def _post(app: Kolben, path: str, upload: _BigUpload) -> int:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = http_scope(path, "POST")
    scope["headers"].append((b"content-length", str(upload.total).encode()))
    asyncio.run(app(scope, upload.receive, send))
    return int(sent[0]["status"])


@pytest.mark.parametrize(("path", "status"), [("/missing", 404), ("/get-only", 405)])
@pytest.mark.parametrize("hooks", ["none", "async-before-request", "sync-before-request"])
def test_the_body_of_an_unmatched_request_is_not_received(
    path: str, status: int, hooks: str
) -> None:
    app = Kolben(__name__)  # MAX_CONTENT_LENGTH unset, the default

    if hooks == "async-before-request":

        @app.before_request
        async def check() -> None:
            pass

    elif hooks == "sync-before-request":

        @app.before_request
        def sync_check() -> None:
            pass

    @app.get("/get-only")
    def get_only() -> str:
        return "get"

    @app.post("/ignores")
    def ignores() -> str:
        return "ignored"

    upload = _BigUpload(200 * 1024 * 1024)
    assert _post(app, path, upload) == status
    assert upload.received <= 3 * 1024 * 1024


def test_a_sync_views_body_is_received_up_to_max_content_length() -> None:
    """A ``def`` view may read its body in a worker thread, which must never
    wait for the client: the door receives it first, on the loop, no further
    than MAX_CONTENT_LENGTH."""
    app = Kolben(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024

    @app.post("/ignores")
    def ignores() -> str:
        return "ignored"

    upload = _BigUpload(200 * 1024 * 1024)
    upload.total_declared = None  # type: ignore[attr-defined]
    assert _post_chunked(app, "/ignores", upload) == 200
    assert upload.received <= 2 * 1024 * 1024


def _post_chunked(app: Kolben, path: str, upload: _BigUpload) -> int:
    """POST ``upload`` without a Content-Length (as a chunked upload arrives)."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    scope = http_scope(path, "POST")
    scope["headers"].append((b"transfer-encoding", b"chunked"))
    asyncio.run(app(scope, upload.receive, send))
    return int(sent[0]["status"])


@pytest.mark.parametrize("wrapped", [False, True])
def test_clients_stalling_mid_body_hold_no_worker_thread(wrapped: bool) -> None:
    """More clients than there are worker threads send part of a body to a
    ``def`` view and stop: another request to a ``def`` view is still served
    (their bodies are awaited on the loop, not in worker threads). ``wrapped``:
    the app's ``wsgi_app`` is wrapped in middleware, so the whole request runs
    in a worker thread."""
    app = Kolben(__name__)
    app.worker_threads.max_threads = 2

    @app.post("/form")
    def form() -> str:
        return str(len(request.form))

    @app.get("/")
    def index() -> str:
        return "still serving"

    if wrapped:
        inner = app.wsgi_app
        app.wsgi_app = lambda environ, start_response: inner(environ, start_response)  # type: ignore[method-assign]

    async def main() -> tuple[int, bytes]:
        never = asyncio.Event()

        def stalling() -> t.Callable[[], t.Awaitable[Message]]:
            first = True

            async def receive() -> Message:
                nonlocal first
                if first:
                    first = False
                    return {"type": "http.request", "body": b"a=1&b=", "more_body": True}
                await never.wait()  # the client sends nothing more
                raise AssertionError("unreachable")

            return receive

        async def ignore(message: Message) -> None:
            pass

        scope = http_scope("/form", "POST")
        scope["headers"] += [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", b"100"),
        ]
        stalled = [
            asyncio.create_task(app(dict(scope), stalling(), ignore)) for _ in range(6)
        ]
        await asyncio.sleep(0.2)
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        try:
            await asyncio.wait_for(app(http_scope("/"), receive, send), 10)
        finally:
            for task in stalled:
                task.cancel()
            await asyncio.gather(*stalled, return_exceptions=True)
        return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])

    assert asyncio.run(main()) == (200, b"still serving")


def test_a_body_is_received_when_read() -> None:
    app = Kolben(__name__)

    @app.post("/sync")
    def sync_view() -> dict[str, int]:
        return {"size": len(request.get_data())}

    @app.post("/async")
    async def async_view() -> dict[str, int]:
        return {"size": len(request.get_data())}

    for path in ("/sync", "/async"):
        upload = _BigUpload(3 * 1024 * 1024 + 5)
        assert _post(app, path, upload) == 200
        assert upload.received == upload.total


# -- a Redis session under ASGI: read and saved on the loop ------------------------------


async def _serve_with_cookie(app: Kolben, cookie: bytes) -> tuple[int, str, bytes, int]:
    """Serve GET / with ``cookie``; (status, body, the new cookie, thread calls)."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = http_scope("/")
    if cookie:
        scope["headers"].append((b"cookie", cookie))
    before = app.worker_threads.calls
    await app(scope, receive, send)
    for name, value in sent[0]["headers"]:
        if name == b"set-cookie":
            cookie = value.split(b";")[0]
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    return sent[0]["status"], body, cookie, app.worker_threads.calls - before


@pytest.mark.redis
def test_async_view_with_a_redis_session_crosses_no_thread() -> None:
    from sse_apps import redis_env

    app = Kolben(__name__)
    app.secret_key = "k"

    @app.route("/")
    async def index() -> str:
        kolben.session["n"] = kolben.session.get("n", 0) + 1
        return str(kolben.session["n"])

    async def main() -> list[tuple[int, str, int]]:
        cookie = b""
        results = []
        for _ in range(3):
            status, body, cookie, calls = await _serve_with_cookie(app, cookie)
            results.append((status, body, calls))
        return results

    for prefix in redis_env.prefixed():
        app.config.update(
            SESSION_BACKEND="redis", SESSION_REDIS_URL=redis_env.URL, SESSION_KEY_PREFIX=prefix
        )
        assert asyncio.run(main()) == [(200, "1", 0), (200, "2", 0), (200, "3", 0)]


def test_a_custom_session_interface_opens_off_the_loop() -> None:
    from kolben.sessions import SecureCookieSessionInterface

    where: list[bool] = []

    class Recording(SecureCookieSessionInterface):
        def open_session(self, app: t.Any, request: t.Any) -> t.Any:
            where.append(on_loop())
            return super().open_session(app, request)

    app = Kolben(__name__)
    app.secret_key = "k"
    app.session_interface = Recording()

    @app.route("/")
    async def index() -> str:
        kolben.session["n"] = kolben.session.get("n", 0) + 1
        return str(kolben.session["n"])

    async def main() -> list[str]:
        cookie = b""
        bodies = []
        for _ in range(2):
            _, body, cookie, _ = await _serve_with_cookie(app, cookie)
            bodies.append(body)
        return bodies

    assert asyncio.run(main()) == ["1", "2"]
    assert where and not any(where)


def test_an_interface_of_the_apps_own_with_an_async_path_opens_on_the_loop() -> None:
    """Opened at push (as Flask) yet through its async path under ASGI (as
    docs/sessions.md promises): an async view's request crosses no thread."""
    from kolben.sessions import SecureCookieSessionInterface

    calls: list[tuple[str, bool]] = []

    class AsyncPath(SecureCookieSessionInterface):
        has_async_io = True

        def open_session_needs_io(self, app: t.Any, request: t.Any) -> bool:
            return True

        def open_session(self, app: t.Any, request: t.Any) -> t.Any:
            calls.append(("open_session", on_loop()))
            return super().open_session(app, request)

        async def open_session_async(self, app: t.Any, request: t.Any) -> t.Any:
            calls.append(("open_session_async", on_loop()))
            return super().open_session(app, request)

        def save_session(self, app: t.Any, session: t.Any, response: t.Any) -> None:
            calls.append(("save_session", on_loop()))
            super().save_session(app, session, response)

        async def save_session_async(self, app: t.Any, session: t.Any, response: t.Any) -> None:
            calls.append(("save_session_async", on_loop()))
            super().save_session(app, session, response)

    app = Kolben(__name__)
    app.secret_key = "k"
    app.session_interface = AsyncPath()

    @app.route("/")
    async def index() -> str:
        return "ok"

    status, body, calls_made = crossings(app)
    assert (status, body, calls_made) == (200, b"ok", 0)
    assert calls[-2:] == [("open_session_async", True), ("save_session_async", True)]


def test_an_app_that_served_requests_is_freed() -> None:
    import gc
    import weakref

    from kolben import Blueprint

    def serve_some() -> weakref.ref[Kolben]:
        app = Kolben("freed")
        app.secret_key = "k"
        app.config["SESSION_BACKEND"] = "memory"
        bp = Blueprint("bp", __name__, url_prefix="/bp")

        @bp.route("/")
        def in_blueprint() -> str:
            return "bp"

        app.register_blueprint(bp)
        db = app.task_resource("db", acquire=dict, release=lambda r: None, commit=lambda r: None)

        @app.route("/")
        async def index() -> str:
            kolben.session["a"] = 1
            await db.aget()
            return "x"

        @app.route("/sync")
        def sync_view() -> str:
            db.get()
            return "y"

        @app.route("/publish")
        def publish() -> str:
            app.broker.publish("channel", "hello")
            return "published"

        for client in (app.test_client(), app.asgi_test_client()):
            for path in ("/", "/sync", "/bp/", "/publish"):
                assert client.get(path).status_code == 200, path
        return weakref.ref(app)

    ref = serve_some()
    gc.collect()
    assert ref() is None


# -- WebSockets go through the same stages --------------------------------------------


@pytest.mark.parametrize(("kind", "expected"), [("async", 0), ("sync", 1)])
def test_websocket_hooks_run_where_their_kind_says(kind: str, expected: int) -> None:
    app = Kolben(__name__)
    seen: list[bool] = []

    if kind == "async":

        @app.before_websocket
        async def first() -> None:
            seen.append(on_loop())

        @app.before_websocket
        async def second() -> None:
            seen.append(on_loop())

    else:

        @app.before_websocket
        def first() -> None:
            seen.append(on_loop())

        @app.before_websocket
        def second() -> None:
            seen.append(on_loop())

    @app.websocket("/ws")
    async def echo() -> None:
        ws = kolben.websocket
        await ws.accept()
        await ws.send(await ws.receive())

    async def main() -> tuple[str | bytes, int]:
        before = app.worker_threads.calls
        async with app.test_client().websocket("/ws") as ws:
            await ws.send("hi")
            answer = await ws.receive()
        return answer, app.worker_threads.calls - before

    answer, calls = asyncio.run(main())
    assert answer == "hi"
    assert seen == [kind == "async"] * 2
    assert calls == expected
