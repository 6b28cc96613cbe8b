"""Methods assigned on the app's class after apps exist (what tracing and
error-reporting libraries do to ``Flask``, and ``mock.patch.object`` in tests) are
called, as Flask calls them (see kolben.app_class)."""

from __future__ import annotations

import asyncio
import typing as t

import pytest

import kolben


def _served_app() -> kolben.Kolben:
    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> str:
        return "ok"

    @app.route("/fail")
    def fail() -> str:
        raise ValueError("boom")

    return app


@pytest.mark.parametrize(
    "method",
    [
        "full_dispatch_request",
        "dispatch_request",
        "preprocess_request",
        "process_response",
        "finalize_request",
        "do_teardown_request",
        "do_teardown_appcontext",
        "ensure_sync",
        "request_context",
        "app_context",
        "create_url_adapter",
    ],
)
def test_a_pipeline_method_patched_on_the_class_after_requests_is_called(
    method: str, client_for: t.Callable[..., t.Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _served_app()
    client = client_for(app)
    assert client.get("/").data == b"ok"  # the app has decided what it calls

    calls: list[str] = []
    original = getattr(kolben.Kolben, method)

    def traced(self: kolben.Kolben, *args: t.Any, **kwargs: t.Any) -> t.Any:
        calls.append(method)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(kolben.Kolben, method, traced)
    assert client.get("/").data == b"ok"
    assert method in calls

    monkeypatch.undo()
    calls.clear()
    assert client.get("/").data == b"ok"
    assert calls == []


def test_handle_exception_patched_on_a_subclass(
    client_for: t.Callable[..., t.Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    class App(kolben.Kolben):
        pass

    app = App(__name__)

    @app.route("/fail")
    def fail() -> str:
        raise ValueError("boom")

    client = client_for(app)
    assert client.get("/fail").status_code == 500

    def handle_exception(self: kolben.Kolben, e: Exception) -> t.Any:
        return self.response_class(f"reported {e}", 503)

    monkeypatch.setattr(App, "handle_exception", handle_exception)
    response = client.get("/fail")
    assert (response.status_code, response.text) == (503, "reported boom")
    # Another class's app is not touched.
    other = _served_app()
    assert client_for(other).get("/fail").status_code == 500


_SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"host", b"example.test")],
    "server": ("example.test", 80),
}


def _asgi_get(
    app: t.Any, scope: dict[str, t.Any] | None = None, *, named: bool = False
) -> tuple[int, bytes]:
    """``GET /`` as an ASGI server sends it, calling ``app(scope, receive, send)``
    (``app(scope=..., receive=..., send=...)`` if ``named``, as daphne calls it;
    and ``app(scope)(receive, send)`` when ``scope`` is given: ASGI 2)."""
    messages: list[dict[str, t.Any]] = []

    async def receive() -> dict[str, t.Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, t.Any]) -> None:
        messages.append(message)

    async def main() -> None:
        if named:
            await app(scope=dict(_SCOPE), receive=receive, send=send)
        elif scope is None:
            await app(dict(_SCOPE), receive, send)
        else:
            await app(scope)(receive, send)

    asyncio.run(main())
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return messages[0]["status"], body


def test_a_wsgi_only_call_patched_on_the_class_keeps_the_asgi_door(
    client_for: t.Callable[..., t.Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sentry-sdk's Flask integration replaces ``Flask.__call__`` with
    ``(self, environ, start_response)``: an ASGI server's call still works, and
    goes through the patched call, so the library sees the request."""
    app = _served_app()
    seen: list[str] = []
    original = kolben.Kolben.__call__

    def instrumented(self: kolben.Kolben, environ: t.Any, start_response: t.Any) -> t.Any:
        seen.append(environ["PATH_INFO"])
        return original(self, environ, start_response)

    monkeypatch.setattr(kolben.Kolben, "__call__", instrumented)
    assert _asgi_get(app) == (200, b"ok")
    assert _asgi_get(app, dict(_SCOPE)) == (200, b"ok")
    assert _asgi_get(app, named=True) == (200, b"ok")  # daphne's call
    assert client_for(app).get("/").data == b"ok"
    assert seen == ["/", "/", "/", "/"]

    monkeypatch.undo()
    seen.clear()
    assert _asgi_get(app) == (200, b"ok")
    assert client_for(app).get("/").data == b"ok"
    assert seen == []


def test_a_subclass_with_a_wsgi_only_call_is_served_by_both_doors(
    client_for: t.Callable[..., t.Any],
) -> None:
    seen: list[str] = []

    class App(kolben.Kolben):
        def __call__(self, environ: t.Any, start_response: t.Any) -> t.Any:
            seen.append(environ["PATH_INFO"])
            return super().__call__(environ, start_response)

    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "ok")
    assert _asgi_get(app) == (200, b"ok")
    assert client_for(app).get("/").data == b"ok"
    assert seen == ["/", "/"]
