"""In-process ASGI micro-benchmark: kolben's ASGI door beside Starlette, as paired
ratios, plus the worker-thread crossings each request makes.

Every app is called directly (``await app(scope, receive, send)``) on one event
loop, with no server and no network. Each row of the table is one scenario built
twice, the kolben way and the Starlette way, doing the same observable work:

- ``hello``: an ``async def`` view / endpoint returning ``Hello, World!``;
- ``json``: ``GET /api/users/42``, ``jsonify`` of a 10-field user record
  (``JSONResponse`` in Starlette);
- ``hooks``: two ``before_request`` hooks setting ``g.a`` and ``g.b``, one
  ``after_request`` adding the header ``X-Hooked: a+b``, one ``teardown_request``,
  all ``async def``, and an ``async def`` view; Starlette does the same four steps
  as pure ASGI middleware (on ``scope["state"]``) around an async endpoint;
- ``hooks-sync``: the same with ``def`` hooks and a ``def`` view (kolben runs them
  in its worker threads, in one crossing); Starlette: a ``def`` endpoint (its
  threadpool) behind the same middleware;
- reference rows, no target: ``hello-sync`` (``def`` view vs ``def`` endpoint),
  ``params`` (50 rules with converters), ``resource`` (an ``async def`` view
  awaiting an async task resource and registering an async ``after_commit``
  callback; kolben only) and ``async-wsgi`` (kolben's ``async def`` view through
  its WSGI door beside Flask's, which needs ``asgiref``).

The scenarios mirror the shared yardstick's (``/work/shared/bench/apps``).
Every app's answer is checked before timing (status, body, ``Content-Length``,
the hook header, that teardown ran once). Samples are taken in interleaved
rounds (the frameworks of a row alternate, the order rotating each round);
the paired ratio is the median over rounds of kolben/peer from the same round.
A second table counts the worker-thread calls one request makes
(``app.worker_threads.calls`` before and after). A report, never a test: it
exits 1 only when an app answers wrongly, 2 when a required framework is missing.

    python benchmarks/asgi_run.py [--duration 0.2] [--rounds 7] [--rows hello,hooks]
                                  [--quart] [--loop uvloop] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import importlib.util
import io
import json
import os
import platform
import statistics
import sys
import time
import typing as t
from collections.abc import Callable
from dataclasses import dataclass, field

HELLO = "Hello, World!"
HOOK_HEADER = "X-Hooked"
JSON_ID = 42
N_ROUTES = 50
PARAMS_PATH = "/r25/42/items/widget"


def make_user(id: int) -> dict[str, t.Any]:
    """The 10-field record of the ``json`` scenario (as the shared yardstick's)."""
    return {
        "id": id,
        "username": f"user{id}",
        "email": f"user{id}@example.com",
        "full_name": "Ada Lovelace",
        "is_active": True,
        "is_admin": False,
        "score": 97.25,
        "roles": ["editor", "reviewer"],
        "created_at": "2024-01-01T12:00:00Z",
        "address": {"city": "London", "zip": "N1 9GU"},
    }


class Probe:
    """What an app reports about itself for the checks: teardowns run, and the
    task-resource steps of the ``resource`` scenario. Each scenario's teardown
    (kolben hook or Starlette middleware) adds one, so both pay the same."""

    def __init__(self) -> None:
        self.teardowns = 0
        self.steps: list[str] = []


# -- the apps, the Flask way (kolben, Quart, Flask) -------------------------------------


def build_flask_style(mod: t.Any, cls_name: str, scenario: str) -> tuple[t.Any, Probe]:
    """``scenario``'s app written against the Flask API of ``mod`` (kolben,
    quart, flask), and its probe."""
    app = getattr(mod, cls_name)("bench")
    g, jsonify = mod.g, mod.jsonify
    probe = Probe()

    if scenario in ("hello", "async-wsgi"):

        @app.route("/")
        async def hello() -> str:
            return HELLO

    elif scenario == "hello-sync":

        @app.route("/")
        def hello_sync() -> str:
            return HELLO

    elif scenario == "json":

        @app.route("/api/users/<int:id>")
        async def user(id: int) -> t.Any:
            return jsonify(make_user(id))

    elif scenario == "params":
        for i in range(N_ROUTES):

            async def view(id: int, name: str, i: int = i) -> str:
                return f"route {i}: id={id} name={name}"

            app.add_url_rule(f"/r{i}/<int:id>/items/<name>", f"r{i}", view)

    elif scenario == "hooks":

        @app.before_request
        async def before_a() -> None:
            g.a = "a"

        @app.before_request
        async def before_b() -> None:
            g.b = "b"

        @app.after_request
        async def after(response: t.Any) -> t.Any:
            response.headers[HOOK_HEADER] = g.a + "+" + g.b
            return response

        @app.teardown_request
        async def teardown(exc: BaseException | None) -> None:
            g.pop("a", None)
            probe.teardowns += 1

        @app.route("/")
        async def hooked() -> str:
            return HELLO

    elif scenario == "hooks-sync":

        @app.before_request
        def before_a_sync() -> None:
            g.a = "a"

        @app.before_request
        def before_b_sync() -> None:
            g.b = "b"

        @app.after_request
        def after_sync(response: t.Any) -> t.Any:
            response.headers[HOOK_HEADER] = g.a + "+" + g.b
            return response

        @app.teardown_request
        def teardown_sync(exc: BaseException | None) -> None:
            g.pop("a", None)
            probe.teardowns += 1

        @app.route("/")
        def hooked_sync() -> str:
            return HELLO

    elif scenario == "resource":
        from kolben.resources import after_commit

        async def acquire() -> dict[str, t.Any]:
            probe.steps.append("acquire")
            return {"open": True}

        async def commit(conn: dict[str, t.Any]) -> None:
            probe.steps.append("commit")

        async def release(conn: dict[str, t.Any]) -> None:
            conn["open"] = False
            probe.steps.append("release")

        db = app.task_resource("db", acquire=acquire, commit=commit, release=release)

        @app.route("/")
        async def saved() -> str:
            conn = await db.aget()
            assert conn["open"]

            @after_commit
            async def announce() -> None:
                probe.steps.append("after_commit")

            return HELLO

    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    return app, probe


# -- the apps, the Starlette way ----------------------------------------------------------


def starlette_middleware(probe: Probe) -> list[t.Any]:
    """The ``hooks`` scenario as pure ASGI middleware: teardown (outermost), two
    "before" steps setting ``scope["state"]``, one "after" step adding the header
    (as the shared yardstick's starlette_apps.py)."""
    from starlette.datastructures import MutableHeaders
    from starlette.middleware import Middleware

    class Teardown:
        def __init__(self, app: t.Any) -> None:
            self.app = app

        async def __call__(self, scope: t.Any, receive: t.Any, send: t.Any) -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                if scope["type"] == "http":
                    scope["state"].pop("a", None)
                    probe.teardowns += 1

    class BeforeA:
        def __init__(self, app: t.Any) -> None:
            self.app = app

        async def __call__(self, scope: t.Any, receive: t.Any, send: t.Any) -> None:
            if scope["type"] == "http":
                scope.setdefault("state", {})["a"] = "a"
            await self.app(scope, receive, send)

    class BeforeB:
        def __init__(self, app: t.Any) -> None:
            self.app = app

        async def __call__(self, scope: t.Any, receive: t.Any, send: t.Any) -> None:
            if scope["type"] == "http":
                scope.setdefault("state", {})["b"] = "b"
            await self.app(scope, receive, send)

    class After:
        def __init__(self, app: t.Any) -> None:
            self.app = app

        async def __call__(self, scope: t.Any, receive: t.Any, send: t.Any) -> None:
            if scope["type"] != "http":
                return await self.app(scope, receive, send)

            async def send_wrapper(message: t.Any) -> None:
                if message["type"] == "http.response.start":
                    state = scope["state"]
                    MutableHeaders(scope=message).append(HOOK_HEADER, state["a"] + "+" + state["b"])
                await send(message)

            await self.app(scope, receive, send_wrapper)

    return [Middleware(Teardown), Middleware(BeforeA), Middleware(BeforeB), Middleware(After)]


def build_starlette(scenario: str) -> tuple[t.Any, Probe]:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    probe = Probe()

    async def hello(request: t.Any) -> t.Any:
        return PlainTextResponse(HELLO)

    def hello_sync(request: t.Any) -> t.Any:
        return PlainTextResponse(HELLO)

    middleware: list[t.Any] = []
    if scenario == "hello":
        routes = [Route("/", hello)]
    elif scenario == "hello-sync":
        routes = [Route("/", hello_sync)]
    elif scenario == "json":

        async def user(request: t.Any) -> t.Any:
            return JSONResponse(make_user(request.path_params["id"]))

        routes = [Route("/api/users/{id:int}", user)]
    elif scenario == "params":
        routes = []
        for i in range(N_ROUTES):

            async def view(request: t.Any, i: int = i) -> t.Any:
                p = request.path_params
                return PlainTextResponse(f"route {i}: id={p['id']} name={p['name']}")

            routes.append(Route(f"/r{i}/{{id:int}}/items/{{name}}", view))
    elif scenario == "hooks":
        routes = [Route("/", hello)]
        middleware = starlette_middleware(probe)
    elif scenario == "hooks-sync":
        routes = [Route("/", hello_sync)]
        middleware = starlette_middleware(probe)
    else:
        raise ValueError(f"Starlette has no {scenario!r} scenario")
    return Starlette(routes=routes, middleware=middleware), probe


def build(framework: str, scenario: str) -> tuple[t.Any, Probe]:
    """``scenario``'s app for ``framework``: ``kolben`` (ASGI door), ``starlette``,
    ``quart``, or ``kolben-wsgi`` / ``flask`` (the WSGI doors)."""
    if framework == "starlette":
        return build_starlette(scenario)
    module, cls = {
        "kolben": ("kolben", "Kolben"),
        "kolben-wsgi": ("kolben", "Kolben"),
        "quart": ("quart", "Quart"),
        "flask": ("flask", "Flask"),
    }[framework]
    return build_flask_style(importlib.import_module(module), cls, scenario)


# -- the rows -----------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    path: str
    peer: str  # "starlette" (ASGI) or "flask" (WSGI)
    target: float | None  # kolben/peer at or below which the verdict is ok
    what: str
    door: str = "asgi"
    quart: bool = True  # Quart can build it (with --quart)


ROWS = [
    Row("hello", "/", "starlette", 1.5, "async def view, fixed cost of a request"),
    Row("json", f"/api/users/{JSON_ID}", "starlette", 1.5, "jsonify of a 10-field dict"),
    Row("hooks", "/", "starlette", 1.5, "2 before + 1 after + 1 teardown, all async; g"),
    Row("hooks-sync", "/", "starlette", 1.0, "def hooks + def view (one thread crossing)"),
    Row("hello-sync", "/", "starlette", None, "def view vs def endpoint"),
    Row("params", PARAMS_PATH, "starlette", None, "50 rules with converters"),
    Row("resource", "/", "", None, "async task resource + after_commit", quart=False),
    Row("async-wsgi", "/", "flask", None, "async def view under WSGI", door="wsgi", quart=False),
]
ROWS_BY_NAME = {row.name: row for row in ROWS}

#: Worker-thread calls one request should make under kolben's ASGI door.
EXPECTED_CROSSINGS = {
    "hello": 0,
    "json": 0,
    "hooks": 0,
    "params": 0,
    "resource": 0,
    "hooks-sync": 1,
    "hello-sync": 1,
}


# -- calling the apps ---------------------------------------------------------------------


def scope_for(path: str) -> dict[str, t.Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost:8000"),
            (b"user-agent", b"bench/1.0"),
            (b"accept", b"*/*"),
            (b"accept-encoding", b"gzip, deflate"),
            (b"connection", b"keep-alive"),
        ],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 54321),
    }


def environ_for(path: str) -> dict[str, t.Any]:
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost:8000",
        "HTTP_USER_AGENT": "bench/1.0", "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }  # fmt: skip


def make_receive(loop: asyncio.AbstractEventLoop) -> Callable[[], t.Any]:
    """Like a server: the (empty) body once, then nothing until the client goes
    away (a framework watching for a disconnect waits here and is cancelled)."""
    sent = False

    async def receive() -> dict[str, t.Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await loop.create_future()
        return {"type": "http.disconnect"}  # pragma: no cover - never reached

    return receive


Answer = tuple[int, list[tuple[str, str]], bytes]


async def asgi_once(app: t.Any, path: str, loop: asyncio.AbstractEventLoop) -> Answer:
    scope = scope_for(path)
    scope["state"] = {}
    start: dict[str, t.Any] = {}
    body: list[bytes] = []

    async def send(message: dict[str, t.Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await asyncio.wait_for(app(scope, make_receive(loop), send), 10)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
    return start.get("status", 0), headers, b"".join(body)


def wsgi_once(app: t.Any, path: str) -> Answer:
    got: dict[str, t.Any] = {}

    def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> None:
        got["status"], got["headers"] = int(status.split()[0]), list(headers)

    environ = environ_for(path)
    environ["wsgi.input"] = io.BytesIO()
    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return got["status"], got["headers"], body


def asgi_timer(app: t.Any, path: str, loop: asyncio.AbstractEventLoop) -> Callable[[int], float]:
    scope = scope_for(path)
    headers = scope["headers"]
    perf = time.perf_counter

    async def send(message: dict[str, t.Any]) -> None:
        pass

    async def batch(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            sc = scope.copy()
            sc["headers"] = list(headers)
            sc["state"] = {}
            await app(sc, make_receive(loop), send)
        return perf() - t0

    return lambda n: loop.run_until_complete(batch(n))


def wsgi_timer(app: t.Any, path: str) -> Callable[[int], float]:
    environ = environ_for(path)
    perf = time.perf_counter

    def start_response(status: str, headers: t.Any, exc_info: t.Any = None) -> None:
        pass

    def run(n: int) -> float:
        t0 = perf()
        for _ in range(n):
            env = environ.copy()
            env["wsgi.input"] = io.BytesIO()
            result = app(env, start_response)
            for _chunk in result:
                pass
            getattr(result, "close", lambda: None)()
        return perf() - t0

    return run


# -- checks -------------------------------------------------------------------------------


class WrongAnswer(Exception):
    pass


def check(row: Row, framework: str, answer: Answer, probe: Probe, calls: int) -> None:
    """Raise WrongAnswer unless ``answer`` is what ``row`` wants; ``calls`` is how
    many requests the app has served so far (for the teardown count)."""
    status, headers, body = answer

    def fail(why: str) -> t.NoReturn:
        raise WrongAnswer(
            f"{framework} / {row.name}: {why}; status={status} headers={headers!r}"
            f" body={body[:200]!r}"
        )

    if status != 200:
        fail("status is not 200")
    lower = [(k.lower(), v) for k, v in headers]
    lengths = [v for k, v in lower if k == "content-length"]
    if lengths and int(lengths[0]) != len(body):
        fail(f"Content-Length {lengths[0]} but {len(body)} bytes")
    text = body.decode()
    if row.name == "json":
        ctype = [v for k, v in lower if k == "content-type"]
        if not ctype or "application/json" not in ctype[0]:
            fail("content type is not JSON")
        if json.loads(text) != make_user(JSON_ID):
            fail("the JSON is not the user record")
    elif row.name == "params":
        if text != "route 25: id=42 name=widget":
            fail("wrong body")
    elif text != HELLO:
        fail("wrong body")
    if row.name.startswith("hooks"):
        hooked = [v for k, v in lower if k == HOOK_HEADER.lower()]
        if hooked != ["a+b"]:
            fail(f"{HOOK_HEADER} is {hooked!r}, not ['a+b']")
        if probe.teardowns != calls:
            fail(f"teardown ran {probe.teardowns} times in {calls} requests")
    if row.name == "resource":
        # One request since the probe was last cleared.
        want = ["acquire", "commit", "after_commit", "release"]
        if probe.steps != want:
            fail(f"task resource steps were {probe.steps!r}")
        probe.steps.clear()  # checked: do not let it grow while timing


# -- the run ------------------------------------------------------------------------------


@dataclass
class Case:
    row: Row
    framework: str
    app: t.Any
    probe: Probe
    door: str
    served: int = 0
    timer: Callable[[int], float] | None = None
    calls: int = 0
    samples: list[float] = field(default_factory=list)  # µs per request

    def once(self, loop: asyncio.AbstractEventLoop) -> Answer:
        self.served += 1
        if self.door == "asgi":
            return loop.run_until_complete(asgi_once(self.app, self.row.path, loop))
        return wsgi_once(self.app, self.row.path)


def versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("kolben", "starlette", "quart", "flask", "werkzeug", "anyio", "uvloop"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def count_crossings(loop: asyncio.AbstractEventLoop) -> list[tuple[str, int, int]]:
    """(scenario, worker-thread calls of one request, expected) for kolben's ASGI door."""
    out = []
    for name, expected in EXPECTED_CROSSINGS.items():
        row = ROWS_BY_NAME[name]
        app, probe = build("kolben", name)
        case = Case(row, "kolben", app, probe, "asgi")
        check(row, "kolben", case.once(loop), probe, case.served)  # warm-up request
        before = app.worker_threads.calls
        answer = case.once(loop)
        calls = app.worker_threads.calls - before
        check(row, "kolben", answer, probe, case.served)
        out.append((name, calls, expected))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", default=",".join(r.name for r in ROWS), help="comma list")
    parser.add_argument("--duration", type=float, default=0.2, help="seconds per sample")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--quart", action="store_true", help="add Quart (reference column)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--gc-off", action="store_true", help="no garbage collection in samples")
    parser.add_argument("--json", help="write samples, versions and machine to this file")
    args = parser.parse_args(argv)

    names = [n.strip() for n in args.rows.split(",") if n.strip()]
    unknown = [n for n in names if n not in ROWS_BY_NAME]
    if unknown:
        parser.error(f"unknown rows {unknown}; have {', '.join(ROWS_BY_NAME)}")
    rows = [ROWS_BY_NAME[n] for n in names]

    if args.loop == "uvloop":
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    try:
        import starlette  # noqa: F401

        import kolben  # noqa: F401
    except ImportError as e:
        print(f"{e.name} is not installed: pip install -e . starlette", file=sys.stderr)
        return 2

    # Build and check every app; a missing optional peer is a note.
    cases: dict[str, list[Case]] = {}
    notes: list[str] = []
    for row in rows:
        frameworks = ["kolben-wsgi" if row.door == "wsgi" else "kolben"]
        if row.peer:
            frameworks.append(row.peer)
        if args.quart and row.quart:
            frameworks.append("quart")
        row_cases = []
        for fw in frameworks:
            door = "wsgi" if fw in ("kolben-wsgi", "flask") else "asgi"
            if fw == "flask" and importlib.util.find_spec("asgiref") is None:
                notes.append(f"{row.name}: flask skipped (its async views need asgiref)")
                continue
            try:
                app, probe = build(fw, row.name)
            except ImportError as e:
                notes.append(f"{row.name}: {fw} skipped ({e.name} is not installed)")
                continue
            case = Case(row, fw, app, probe, door)
            try:
                for _ in range(2):
                    check(row, fw, case.once(loop), probe, case.served)
            except WrongAnswer as e:
                print(f"WRONG ANSWER: {e}", file=sys.stderr)
                return 1
            except Exception as e:  # e.g. Flask's async view without asgiref
                if fw == "kolben" or fw == "kolben-wsgi":
                    raise
                notes.append(f"{row.name}: {fw} skipped ({type(e).__name__}: {e})")
                continue
            row_cases.append(case)
        cases[row.name] = row_cases

    crossings = count_crossings(loop)

    load_before = os.getloadavg()
    started = time.time()
    all_cases = [c for cs in cases.values() for c in cs]
    for case in all_cases:
        if case.door == "asgi":
            case.timer = asgi_timer(case.app, case.row.path, loop)
        else:
            case.timer = wsgi_timer(case.app, case.row.path)
        case.timer(200)  # warm up
        case.served += 200
        per_call = case.timer(200) / 200
        case.served += 200
        case.calls = max(50, int(args.duration / per_call))

    for rnd in range(args.rounds):
        for row_cases in cases.values():
            k = rnd % len(row_cases) if row_cases else 0
            for case in row_cases[k:] + row_cases[:k]:
                gc.collect()
                if args.gc_off:
                    gc.disable()
                try:
                    assert case.timer is not None
                    elapsed = case.timer(case.calls)
                finally:
                    gc.enable()
                case.served += case.calls
                case.samples.append(elapsed / case.calls * 1e6)
                case.probe.steps.clear()

    # The answers are still right after all that.
    for case in all_cases:
        try:
            check(case.row, case.framework, case.once(loop), case.probe, case.served)
        except WrongAnswer as e:
            print(f"WRONG ANSWER after timing: {e}", file=sys.stderr)
            return 1
    load_after = os.getloadavg()
    loop.close()

    # -- report -------------------------------------------------------------------------
    vers = versions()
    print(
        f"kolben ASGI door beside Starlette, in-process, {args.loop} loop, {args.rounds} rounds"
        f" of {args.duration} s samples; python {vers['python']}, kolben {vers.get('kolben')},"
        f" starlette {vers.get('starlette')}; {os.cpu_count()} CPUs; load average"
        f" {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        f" ({time.time() - started:.0f} s)"
    )
    for note in notes:
        print(f"({note})")
    print()
    extra = " | quart µs/req | kolben/quart" if args.quart else ""
    print(
        "| scenario | kolben µs/req | peer | peer µs/req | paired ratio (min-max)"
        f" | target | verdict{extra} |"
    )
    print("|---|---:|---|---:|---:|---:|---|" + ("---:|---:|" if args.quart else ""))
    report: dict[str, t.Any] = {}
    for row in rows:
        by_fw = {c.framework: c for c in cases[row.name]}
        mine = by_fw.get("kolben") or by_fw.get("kolben-wsgi")
        assert mine is not None
        peer = by_fw.get(row.peer)
        k_us = statistics.median(mine.samples)
        entry: dict[str, t.Any] = {"kolben": mine.samples, "target": row.target}
        if peer is not None:
            ratios = [a / b for a, b in zip(mine.samples, peer.samples, strict=True)]
            ratio = statistics.median(ratios)
            entry.update({row.peer: peer.samples, "paired_ratio": ratio})
            p_cell = f"{statistics.median(peer.samples):.1f}"
            r_cell = f"{ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
            if row.target is None:
                verdict = "(reference)"
            else:
                verdict = "ok" if ratio <= row.target else "MISSED"
        else:
            p_cell, r_cell, verdict = "-", "-", "(kolben only)"
        target = f"≤ {row.target:.1f}x" if row.target is not None else "-"
        peer_name = row.peer or "-"
        if row.door == "wsgi":
            peer_name += " (WSGI)"
        line = (
            f"| {row.name} | {k_us:.1f} | {peer_name} | {p_cell} | {r_cell} | {target}"
            f" | {verdict} |"
        )
        if args.quart:
            quart = by_fw.get("quart")
            if quart is not None:
                q_ratios = [a / b for a, b in zip(mine.samples, quart.samples, strict=True)]
                line += f" {statistics.median(quart.samples):.1f} |"
                line += f" {statistics.median(q_ratios):.2f}x |"
                entry["quart"] = quart.samples
            else:
                line += " - | - |"
        print(line)
        report[row.name] = entry

    print()
    print("Worker-thread calls per request (kolben ASGI door, app.worker_threads.calls):")
    print()
    print("| scenario | user code | crossings | expected | verdict |")
    print("|---|---|---:|---:|---|")
    for name, calls, expected in crossings:
        kind = "all sync" if expected else "all async"
        verdict = "ok" if calls == expected else "UNEXPECTED"
        print(f"| {name} | {kind} | {calls} | {expected} | {verdict} |")

    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "rows": report,
                    "crossings": {name: calls for name, calls, _ in crossings},
                    "versions": vers,
                    "machine": {
                        "platform": platform.platform(),
                        "cpus": os.cpu_count(),
                        "loadavg_before": load_before,
                        "loadavg_after": load_after,
                    },
                    "options": vars(args),
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
