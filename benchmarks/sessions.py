"""Server-side session cost against the signed-cookie session, in one run.

One kolben app per backend (``SESSION_BACKEND`` = ``cookie``, ``memory``,
``redis``), the same two views, the same session data (``run.py``'s
``SESSION_DATA``). Each request carries the cookie of an existing session and is a
direct call of the WSGI callable (no server, no network except the Redis round trips
to 127.0.0.1). Rounds alternate between backends so a busy machine slows them alike.

- ``read``:   the view reads two keys (Redis: one GET)
- ``modify``: the view reads and changes the session, as ``run.py``'s ``session``
  scenario (Redis: one GET and one SET with its TTL)

Then, per server-side backend, the session work alone (open the session from
the cookie, run the view's change, save it; no request pipeline) done three ways:

- ``sync``:   ``open_session`` + ``save_session`` called directly (the WSGI door)
- ``thread``: the same calls in one worker-thread round trip from an event loop
  (what the ASGI door pays for a server-side session without the async path)
- ``async``:  ``await open_session_async`` + ``save_session_async`` on the loop
  (redis.asyncio for Redis; inline for memory)

It is a report, not a test. Run::

    python benchmarks/sessions.py                       # ~20 s, needs Redis for 'redis'
    python benchmarks/sessions.py --redis-url redis://127.0.0.1:6379/15 --duration 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import io
import platform
import statistics
import sys
import time
import typing as t
import uuid
from concurrent.futures import ThreadPoolExecutor

import kolben
from kolben import session

SECRET_KEY = "benchmark secret key, not secret"
SESSION_DATA: dict[str, t.Any] = {"user_id": 42, "visits": 1, "cart": [1, 2, 3]}
BACKENDS = ("cookie", "memory", "redis")
VIEWS = ("read", "modify")
WAYS = ("sync", "thread", "async")


def build(backend: str, redis_url: str, prefix: str) -> tuple[kolben.Kolben, str]:
    """The app for ``backend`` and the cookie of a session holding SESSION_DATA."""
    app = kolben.Kolben(__name__)
    app.config.update(
        SECRET_KEY=SECRET_KEY,
        SESSION_BACKEND=backend,
        SESSION_REDIS_URL=redis_url,
        SESSION_KEY_PREFIX=prefix,
    )

    @app.route("/read")
    def read() -> str:
        return f"user {session['user_id']} cart {len(session['cart'])}"

    @app.route("/modify")
    def modify() -> str:
        session["visits"] = session.get("visits", 0) + 1
        return f"user {session['user_id']} visit {session['visits']}"

    client = app.test_client()
    with client.session_transaction() as sess:
        sess.update(SESSION_DATA)
    cookie = client.get_cookie("session")
    assert cookie is not None
    return app, cookie.value


def environ_for(path: str, cookie: str) -> dict[str, t.Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost:8000",
        "HTTP_COOKIE": f"session={cookie}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def call(app: kolben.Kolben, environ: dict[str, t.Any]) -> tuple[str, bytes]:
    status: list[str] = []

    def start_response(s: str, headers: t.Any, exc_info: t.Any = None) -> t.Any:
        status.append(s)

    body_iter = app(dict(environ), start_response)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    return status[0], body


def sample(app: kolben.Kolben, environ: dict[str, t.Any], duration: float) -> float:
    """Nanoseconds per request over about ``duration`` seconds."""
    n = 0
    start = time.perf_counter_ns()
    deadline = start + int(duration * 1e9)
    while True:
        for _ in range(20):
            call(app, environ)
        n += 20
        now = time.perf_counter_ns()
        if now >= deadline:
            return (now - start) / n


def use_session(view: str, sess: t.Any) -> None:
    """What the view of that name does to the session."""
    sess.accessed = True  # as the request context does on use
    if view == "modify":
        sess["visits"] = sess.get("visits", 0) + 1
    else:
        assert sess["user_id"] == 42 and len(sess["cart"]) == 3


def sample_ways(app: kolben.Kolben, cookie: str, view: str, duration: float) -> dict[str, float]:
    """Nanoseconds per open + use + save of the session, for each of WAYS."""
    interface = app.session_interface
    environ = environ_for("/", cookie)

    def once() -> None:
        request = app.request_class(dict(environ))
        sess = interface.open_session(app, request)
        use_session(view, sess)
        interface.save_session(app, sess, app.response_class("ok"))

    async def once_async() -> None:
        request = app.request_class(dict(environ))
        sess = await interface.open_session_async(app, request)
        use_session(view, sess)
        await interface.save_session_async(app, sess, app.response_class("ok"))

    def timed(run_batch: t.Callable[[], None]) -> float:
        n = 0
        start = time.perf_counter_ns()
        deadline = start + int(duration * 1e9)
        while True:
            run_batch()
            n += 20
            now = time.perf_counter_ns()
            if now >= deadline:
                return (now - start) / n

    def batch_sync() -> None:
        for _ in range(20):
            once()

    async def measure_on_loop() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as pool:
            await loop.run_in_executor(pool, once)  # start the thread
            thread_ns = await timed_async(lambda: loop.run_in_executor(pool, once))
        await once_async()  # make the loop's client
        async_ns = await timed_async(once_async)
        return thread_ns, async_ns

    async def timed_async(make: t.Callable[[], t.Awaitable[None]]) -> float:
        n = 0
        start = time.perf_counter_ns()
        deadline = start + int(duration * 1e9)
        while True:
            for _ in range(20):
                await make()
            n += 20
            now = time.perf_counter_ns()
            if now >= deadline:
                return (now - start) / n

    sync_ns = timed(batch_sync)
    thread_ns, async_ns = asyncio.run(measure_on_loop())
    return {"sync": sync_ns, "thread": thread_ns, "async": async_ns}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--duration", type=float, default=0.3, help="seconds per sample")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument(
        "--uvloop", action="store_true", help="run the event-loop ways on uvloop (as uvicorn does)"
    )
    args = parser.parse_args(argv)
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    backends = [b for b in args.backends.split(",") if b]
    prefix = f"kolben-bench:{uuid.uuid4().hex[:8]}:"

    apps: dict[str, tuple[kolben.Kolben, str]] = {}
    for backend in backends:
        try:
            apps[backend] = build(backend, args.redis_url, prefix)
        except kolben.server_sessions.SessionUnavailable as e:
            print(f"skipping {backend}: {e}", file=sys.stderr)
    results: dict[tuple[str, str], list[float]] = {}
    ways: dict[tuple[str, str, str], list[float]] = {}
    try:
        for view in VIEWS:
            for backend, (app, cookie) in apps.items():
                environ = environ_for(f"/{view}", cookie)
                status, body = call(app, environ)
                if not status.startswith("200") or not body.startswith(b"user 42"):
                    print(f"{backend} {view}: wrong answer {status} {body!r}", file=sys.stderr)
                    return 1
            for _ in range(args.rounds):
                for backend, (app, cookie) in apps.items():
                    environ = environ_for(f"/{view}", cookie)
                    results.setdefault((view, backend), []).append(
                        sample(app, environ, args.duration)
                    )
            for _ in range(args.rounds):
                for backend, (app, cookie) in apps.items():
                    if backend == "cookie":
                        continue
                    for way, ns in sample_ways(app, cookie, view, args.duration).items():
                        ways.setdefault((view, backend, way), []).append(ns)
    finally:
        if "redis" in apps:
            app = apps["redis"][0]
            store = app.session_interface.get_store(app)  # type: ignore[attr-defined]
            client = store.client
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            store.close()

    print(
        f"kolben {kolben.__version__ if hasattr(kolben, '__version__') else ''}"
        f" python {platform.python_version()} on {platform.machine()},"
        f" {args.rounds} rounds x {args.duration}s,"
        f" event loop {'uvloop' if args.uvloop else 'asyncio'}"
    )
    print("| view | backend | best µs/request | median µs/request | vs cookie (best) |")
    print("| --- | --- | --- | --- | --- |")
    for view in VIEWS:
        cookie_best = min(results.get((view, "cookie"), [float("nan")]))
        for backend in apps:
            series = results[(view, backend)]
            best, median = min(series) / 1000, statistics.median(series) / 1000
            extra = best - cookie_best / 1000
            versus = (
                "-"
                if backend == "cookie"
                else f"{extra:+.1f} µs ({best / (cookie_best / 1000):.1f}x)"
            )
            print(f"| {view} | {backend} | {best:.1f} | {median:.1f} | {versus} |")
    if ways:
        print()
        print("Session work alone (open, use, save), best µs:")
        print("| view | backend | " + " | ".join(WAYS) + " |")
        print("| --- | --- |" + " --- |" * len(WAYS))
        for view in VIEWS:
            for backend in apps:
                if backend == "cookie":
                    continue
                cells = [f"{min(ways[(view, backend, way)]) / 1000:.1f}" for way in WAYS]
                print(f"| {view} | {backend} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
