"""Request behaviours as in Flask 3.1 (both doors), found by running the same
apps on Flask and on kolben."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import typing as t

import pytest
from werkzeug.exceptions import RequestEntityTooLarge

import kolben
from kolben.sessions import SecureCookieSessionInterface


@pytest.mark.parametrize("hook", ["sync", "async"])
def test_a_limit_raised_in_before_request_holds_for_an_async_view(
    client_for: t.Callable[..., t.Any], hook: str
) -> None:
    """docs/security.md: a before_request function may raise the body limit for
    one request; under ASGI the body of an ``async def`` view is received on
    the loop with the limit as it is then."""
    app = kolben.Kolben(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 10

    def raise_limit() -> None:
        kolben.request.max_content_length = 10_000

    async def araise_limit() -> None:
        raise_limit()

    app.before_request(raise_limit if hook == "sync" else araise_limit)

    @app.post("/")
    async def view() -> t.Any:
        return kolben.request.form.to_dict()

    client = client_for(app)
    response = client.post("/", data={"a": "x" * 50})
    assert response.status_code == 200
    assert response.json == {"a": "x" * 50}
    assert client.post("/", data={"a": "x" * 20_000}).status_code == 413


def test_an_async_view_after_a_sync_hook_gets_a_large_body(
    client_for: t.Callable[..., t.Any],
) -> None:
    """The 1 MiB a sync hook's worker-thread step receives first is not all an
    ``async def`` view gets: the rest is received before the view runs."""
    app = kolben.Kolben(__name__)
    app.before_request(lambda: None)

    @app.post("/")
    async def view() -> str:
        return str(len(kolben.request.get_data()))

    body = b"x" * (3 * 1024 * 1024)
    response = client_for(app).post("/", data=body)
    assert response.status_code == 200
    assert response.text == str(len(body))


class LowerPathRequest(kolben.Request):
    @property  # type: ignore[override]
    def path(self) -> str:
        return t.cast(str, self._raw_path).lower()

    @path.setter
    def path(self, value: str) -> None:
        self._raw_path = value


class MethodOverrideRequest(kolben.Request):
    @property  # type: ignore[override]
    def method(self) -> str:
        return t.cast(str, self.environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", self._method)).upper()

    @method.setter
    def method(self, value: str) -> None:
        self._method = value


def test_routing_reads_the_environ_not_a_rewritten_path_or_method(
    client_for: t.Callable[..., t.Any],
) -> None:
    """As Flask, which binds its URL adapter to the environ: a Request subclass
    rewriting ``path`` or ``method`` changes what the view sees, not which view
    runs."""
    for request_class in (LowerPathRequest, MethodOverrideRequest):
        app = kolben.Kolben(__name__)
        app.request_class = request_class
        app.add_url_rule("/Hello", "upper", lambda: "upper " + kolben.request.path)
        app.add_url_rule("/hello", "lower", lambda: "lower " + kolben.request.path)
        app.add_url_rule("/x", "get", lambda: "get " + kolben.request.method)
        app.add_url_rule("/x", "delete", lambda: "delete", methods=["DELETE"])
        client = client_for(app)
        expected_path = "/hello" if request_class is LowerPathRequest else "/Hello"
        assert client.get("/Hello").text == f"upper {expected_path}"
        override = client.get("/x", headers={"X-HTTP-Method-Override": "DELETE"})
        expected_method = "DELETE" if request_class is MethodOverrideRequest else "GET"
        assert override.text == f"get {expected_method}"


def test_session_transaction_gives_a_null_session_and_saves_nothing(
    client_for: t.Callable[..., t.Any],
) -> None:
    class NullSessions(SecureCookieSessionInterface):
        def open_session(self, app: t.Any, request: t.Any) -> t.Any:
            return self.make_null_session(app)

    app = kolben.Kolben(__name__)
    app.session_interface = NullSessions()
    client = client_for(app)
    with client.session_transaction() as session:
        assert app.session_interface.is_null_session(session)
        assert session.get("x") is None
    assert client.get_cookie(app.config["SESSION_COOKIE_NAME"]) is None


def test_an_empty_remote_addr_is_kept(client_for: t.Callable[..., t.Any]) -> None:
    app = kolben.Kolben(__name__)
    app.add_url_rule(
        "/", "i", lambda: {"addr": kolben.request.remote_addr, "route": kolben.request.access_route}
    )
    response = client_for(app).get("/", environ_base={"REMOTE_ADDR": ""})
    assert response.json == {"addr": "", "route": [""]}


def test_unread_file_responses_of_the_asgi_client_let_the_process_exit(tmp_path: t.Any) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "a.txt").write_text("a" * 1000)
    script = textwrap.dedent(
        f"""
        import kolben
        app = kolben.Kolben(__name__, root_path={str(tmp_path)!r})
        client = app.asgi_test_client()
        kept = [client.get("/static/a.txt"), client.get("/static/a.txt")]
        print(kept[0].status_code, kept[1].status_code)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "200"]


def _streaming_upload(
    app: kolben.Kolben, path: str, chunks: int, chunk_size: int = 1 << 20
) -> tuple[int, list[int], int]:
    """POST ``chunks`` body messages to ``path`` as fast as the door receives
    them, the client leaving once the (streamed) response ended; returns the
    messages sent, the statuses and the peak of memory allocated meanwhile."""
    import asyncio
    import tracemalloc

    async def main() -> tuple[int, list[int]]:
        sent = 0
        statuses: list[int] = []
        finished = asyncio.Event()

        async def receive() -> dict[str, t.Any]:
            nonlocal sent
            if sent < chunks:
                sent += 1
                more = sent < chunks
                return {"type": "http.request", "body": b"x" * chunk_size, "more_body": more}
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, t.Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            elif not message.get("more_body", False):
                finished.set()

        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": b"", "server": ("localhost", 80),
            "client": ("127.0.0.1", 1), "headers": [(b"host", b"localhost")],
        }  # fmt: skip
        await app(scope, receive, send)
        return sent, statuses

    tracemalloc.start()
    try:
        sent, statuses = asyncio.run(main())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return sent, statuses, peak


@pytest.mark.parametrize("limit", [2 * 1024 * 1024, None])
def test_a_body_is_not_kept_while_a_stream_is_sent(limit: int | None) -> None:
    """While a streamed response is sent, the door watches for the client's
    disconnect and keeps the body it receives for readers: up to the
    request's limit (past it nothing can be read, a 413), or without a limit
    up to 1 MiB waiting to be read. A client can't make the door hold a large
    body in memory (a 40 MiB upload to an event stream, no limit set, was all
    held)."""
    import time

    app = kolben.Kolben(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limit
    # Without a limit the watcher waits this long for a reader, then drops.
    app.config["ASGI_BODY_TIMEOUT"] = 0.02

    @app.post("/slow")
    def slow() -> t.Any:
        def gen() -> t.Iterator[bytes]:
            for _ in range(20):
                time.sleep(0.01)
                yield b"x"

        return kolben.Response(gen())

    chunks = 40  # 40 MiB, sent as fast as the door receives
    sent, statuses, peak = _streaming_upload(app, "/slow", chunks)
    assert statuses == [200]
    assert sent == chunks  # the door received it all (watching for a disconnect)
    assert peak < 12 * (1 << 20), f"{peak >> 20} MiB held"


def test_a_body_read_as_it_comes_while_streaming_is_kept_whole() -> None:
    # A duplex echo (a streamed response reading the body as it streams), the
    # client sending faster than the response goes out: the door waits for the
    # reader instead of dropping (a 4 MiB echo was cut at 1 MiB by a 413).
    app = kolben.Kolben(__name__)

    @app.post("/echo")
    def echo() -> t.Any:
        def gen() -> t.Iterator[bytes]:
            while chunk := kolben.request.stream.read(65536):
                yield chunk

        return kolben.Response(kolben.stream_with_context(gen()))

    import asyncio

    async def main() -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/echo", "raw_path": b"/echo",
            "root_path": "", "query_string": b"", "server": ("localhost", 80),
            "client": ("127.0.0.1", 1),
            "headers": [(b"host", b"localhost"), (b"transfer-encoding", b"chunked")],
        }  # fmt: skip
        messages = [
            {"type": "http.request", "body": b"x" * 65536, "more_body": i < 63}
            for i in range(64)
        ]
        done = asyncio.Event()
        echoed = 0

        async def receive() -> dict[str, t.Any]:
            if messages:
                return messages.pop(0)
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, t.Any]) -> None:
            nonlocal echoed
            if message["type"] == "http.response.body":
                echoed += message.get("body", b"").count(b"x")
                await asyncio.sleep(0.002)  # a slow client

        await asyncio.wait_for(app(scope, receive, send), 30)
        done.set()
        return echoed

    assert asyncio.run(main()) == 64 * 65536


@pytest.mark.parametrize(
    ("size", "grace"), [("small", 30.0), ("large", 30.0), ("large", 0.05)]
)
def test_a_stream_reading_the_body_gets_all_of_it_or_a_413(size: str, grace: float) -> None:
    """A streamed response that reads the request body after it started gets the
    whole body when the door could keep it (a small one; a large one it reads
    within ASGI_BODY_TIMEOUT of the door's waiting for it), and a 413 (never a
    cut body) when the door dropped what nobody took in time."""
    import time

    app = kolben.Kolben(__name__)
    app.config["ASGI_BODY_TIMEOUT"] = grace
    seen: list[t.Any] = []

    @app.post("/echo")
    def echo() -> t.Any:
        @kolben.stream_with_context
        def gen() -> t.Iterator[bytes]:
            yield b"started\n"
            time.sleep(0.3)  # the door receives the body meanwhile
            try:
                seen.append(len(kolben.request.get_data()))
            except Exception as e:
                seen.append(e)
            yield b"done"

        return kolben.Response(gen())

    chunks, chunk_size = (4, 64 * 1024) if size == "small" else (8, 1 << 20)
    _, statuses, _ = _streaming_upload(app, "/echo", chunks, chunk_size)
    assert statuses == [200]
    if grace > 1:
        assert seen == [chunks * chunk_size]
    else:
        assert len(seen) == 1 and isinstance(seen[0], RequestEntityTooLarge)
        assert "MAX_CONTENT_LENGTH" in seen[0].description


@pytest.mark.parametrize("path", ["/", "/item/1"])
def test_a_request_class_with_trusted_hosts_rejects_other_hosts(
    client_for: t.Callable[..., t.Any], path: str
) -> None:
    """werkzeug's ``Request.trusted_hosts``, set on the app's request class (the
    way before the TRUSTED_HOSTS config key): Flask's create_url_adapter checks
    the host against it, a 400 for any other host, also without TRUSTED_HOSTS."""

    class TrustingRequest(kolben.Request):
        trusted_hosts = ["good.test"]

    app = kolben.Kolben(__name__)
    app.request_class = TrustingRequest

    @app.route("/")
    def index() -> str:
        return "index"  # the view doesn't read request.host itself

    @app.route("/item/<int:n>")
    def item(n: int) -> str:
        return str(n)

    client = client_for(app)
    for _ in range(2):  # the second request finds the bound adapter cached
        assert client.get(path, base_url="http://good.test/").status_code == 200
        response = client.get(path, base_url="http://evil.test/")
        assert response.status_code == 400
        assert b"not trusted" in response.data
