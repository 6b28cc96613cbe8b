"""In-process ASGI micro-benchmark: kolben's ASGI door beside Starlette and Quart,
and kolben's ``async def`` view under WSGI beside Flask's.

Each app is called directly (``await app(scope, receive, send)``) in one event
loop, alternating frameworks per round, keeping the best round. Timings are a
report, never a test assertion.

    python benchmarks/asgi_run.py [--rounds N] [--calls N] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
PAYLOAD = {"id": 1, "name": "kolben", "tags": ["a", "b"], "ok": True, "score": 1.5}


def scope_for(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"localhost:8000"), (b"user-agent", b"bench")],
        "server": ("localhost", 8000),
        "client": ("127.0.0.1", 50000),
    }


def build_flask_style(mod: Any, cls_name: str) -> Any:
    app = getattr(mod, cls_name)("bench")

    @app.route("/sync")
    def sync_hello() -> str:
        return "Hello, World!"

    @app.route("/async")
    async def async_hello() -> str:
        return "Hello, World!"

    @app.route("/json")
    async def data() -> dict[str, Any]:
        return dict(PAYLOAD)

    for i in range(50):

        async def view(id: int, name: str, i: int = i) -> str:
            return f"r{i} {id} {name}"

        app.add_url_rule(f"/r{i}/<int:id>/items/<name>", f"r{i}", view)
    return app


def build_starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    def sync_hello(request: Any) -> Any:
        return PlainTextResponse("Hello, World!")

    async def async_hello(request: Any) -> Any:
        return PlainTextResponse("Hello, World!")

    async def data(request: Any) -> Any:
        return JSONResponse(dict(PAYLOAD))

    routes = [Route("/sync", sync_hello), Route("/async", async_hello), Route("/json", data)]
    for i in range(50):

        async def view(request: Any, i: int = i) -> Any:
            p = request.path_params
            return PlainTextResponse(f"r{i} {p['id']} {p['name']}")

        routes.append(Route(f"/r{i}/{{id:int}}/items/{{name}}", view))
    return Starlette(routes=routes)


SCENARIOS = {"sync": "/sync", "async": "/async", "json": "/json", "params": "/r25/42/items/w"}


async def time_asgi(app: ASGIApp, path: str, calls: int) -> tuple[float, int]:
    status = [0]
    request = {"type": "http.request", "body": b"", "more_body": False}
    never = asyncio.Event()

    def make_receive() -> Callable[[], Awaitable[dict[str, Any]]]:
        # Like a server: the body once, then nothing until the client goes away
        # (frameworks that watch for a disconnect wait here and are cancelled).
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return request
            await never.wait()
            return {"type": "http.disconnect"}

        return receive

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    scope = scope_for(path)
    t0 = time.perf_counter_ns()
    for _ in range(calls):
        await app(dict(scope), make_receive(), send)
    return (time.perf_counter_ns() - t0) / calls / 1000, status[0]


def time_wsgi(app: Any, path: str, calls: int) -> float:
    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost:8000", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }  # fmt: skip

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        assert status.startswith("200"), status

    t0 = time.perf_counter_ns()
    for _ in range(calls):
        result = app(dict(environ), start_response)
        for _chunk in result:
            pass
        getattr(result, "close", lambda: None)()
    return (time.perf_counter_ns() - t0) / calls / 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)

    kolben_mod = importlib.import_module("kolben")
    apps: dict[str, Any] = {"kolben-asgi": build_flask_style(kolben_mod, "Kolben")}
    for name, builder in (
        ("starlette", build_starlette),
        ("quart", lambda: build_flask_style(importlib.import_module("quart"), "Quart")),
    ):
        try:
            apps[name] = builder()
        except ImportError:
            print(f"({name} not installed: skipped)")

    results: dict[str, dict[str, float]] = {}

    async def run_asgi() -> None:
        for scenario, path in SCENARIOS.items():
            for name, app in apps.items():
                await time_asgi(app, path, 50)  # warm up
                best = float("inf")
                for _ in range(args.rounds):
                    us, status = await time_asgi(app, path, args.calls)
                    if status != 200:
                        raise SystemExit(f"{name} answered {status} for {path}")
                    best = min(best, us)
                results.setdefault(scenario, {})[name] = best

    asyncio.run(run_asgi())

    import flask

    import kolben

    wsgi = {
        "kolben-wsgi": build_flask_style(kolben, "Kolben"),
        "flask-wsgi": build_flask_style(flask, "Flask"),
    }
    for name, app in wsgi.items():
        try:
            time_wsgi(app, "/async", 50)
        except Exception as e:  # Flask needs asgiref for async views
            print(f"({name}: async view failed: {e!r})")
            continue
        results.setdefault("async-under-wsgi", {})[name] = min(
            time_wsgi(app, "/async", args.calls) for _ in range(args.rounds)
        )

    print("| scenario | " + " | ".join(f"{n} µs" for n in [*apps, *wsgi]) + " | kolben/peer |")
    for scenario, row in results.items():
        cells = [f"{row[n]:.1f}" if n in row else "-" for n in [*apps, *wsgi]]
        ratios = []
        for peer in ("starlette", "quart", "flask-wsgi"):
            mine = row.get("kolben-asgi", row.get("kolben-wsgi"))
            if peer in row and mine is not None:
                ratios.append(f"{mine / row[peer]:.2f}x {peer}")
        print(f"| {scenario} | " + " | ".join(cells) + f" | {', '.join(ratios)} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
