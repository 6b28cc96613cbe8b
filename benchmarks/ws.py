"""WebSocket benchmark: kolben's websocket routes beside a Starlette websocket
endpoint doing the same, each under one uvicorn worker, in the same run.

For each framework it

1. starts uvicorn (one worker, ``--ws websockets-sansio``, the default when the
   ``websockets`` package is installed) on a free 127.0.0.1 port,
2. **echo**: ``--echo-clients`` clients (``websockets`` package, in this
   process) each send a 64-byte text message and wait for it to come back, as
   fast as they can, for ``--duration`` seconds; reports round trips per second
   (all clients together),
3. **broadcast**: connects ``--sockets`` clients to a route that relays a broker
   channel to the socket (kolben: ``await websocket.relay(channel)``; Starlette:
   the same loop written by hand over ``async for event in subscription``), waits
   until every one is subscribed, then publishes ``--events`` events (one every
   ``--interval`` s, through an HTTP POST) each stamped with ``time.monotonic()``
   just before ``broker.publish``; every client records the delay from publish to
   receipt (the same clock on one machine). Reports p50 / p99 / max.

Both apps use the same fan-out, kolben's in-process ``MemoryBroker``, so the
difference is the websocket layer (routing, contexts, the reader task, sends).
The clients run in this process: their own cost is in every figure, the same for
both frameworks. Everything stays on 127.0.0.1 and every wait is bounded. A
report, never a test: it fails only when a server does not start or answers
wrongly.

    python benchmarks/ws.py
    python benchmarks/ws.py --sockets 200 --events 50 --echo-clients 1,16
    python benchmarks/ws.py --frameworks kolben --json ws.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from uvicorn_worker import HOST, UvicornWorker, raise_open_files_limit, request

KOLBEN_APP = """
import time

from kolben import Kolben, request, websocket

app = Kolben(__name__)


@app.get("/ping")
def ping():
    return "ok"


@app.get("/stats")
def stats():
    return {"subscribers": app.broker.subscriber_count("bench")}


@app.post("/publish")
async def publish():
    seq = int(request.args["seq"])
    stamp = time.monotonic()
    return {"id": app.broker.publish("bench", {"seq": seq, "t": stamp})}


@app.websocket("/echo")
async def echo():
    await websocket.accept()
    async for message in websocket:
        await websocket.send(message)


@app.websocket("/feed")
async def feed():
    await websocket.accept()
    await websocket.relay("bench")
"""

STARLETTE_APP = """
import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from kolben.broker import MemoryBroker

broker = MemoryBroker()


async def ping(request):
    return PlainTextResponse("ok")


async def stats(request):
    return JSONResponse({"subscribers": broker.subscriber_count("bench")})


async def publish(request):
    seq = int(request.query_params["seq"])
    stamp = time.monotonic()
    return JSONResponse({"id": broker.publish("bench", {"seq": seq, "t": stamp})})


async def echo(websocket):
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(message["text"])
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        return


async def feed(websocket):
    await websocket.accept()
    async with await broker.asubscribe("bench") as sub:
        async for event in sub:
            await websocket.send_text(event.text)


app = Starlette(
    routes=[
        Route("/ping", ping),
        Route("/stats", stats),
        Route("/publish", publish, methods=["POST"]),
        WebSocketRoute("/echo", echo),
        WebSocketRoute("/feed", feed),
    ]
)
"""

APPS = {"kolben": KOLBEN_APP, "starlette": STARLETTE_APP}


def connect(port: int, path: str) -> Any:
    from websockets.asyncio.client import connect as ws_connect

    return ws_connect(
        f"ws://{HOST}:{port}{path}",
        proxy=None,
        compression=None,  # the servers' default is on; off measures the frameworks
        open_timeout=10,
        close_timeout=5,
        max_queue=None,
    )


async def echo_round_trips(port: int, clients: int, duration: float) -> float:
    """Round trips per second, all clients together."""
    message = "x" * 64
    counts = [0] * clients

    async def one(index: int, stop_at: float) -> None:
        async with connect(port, "/echo") as ws:
            await ws.send(message)  # warm-up
            if await asyncio.wait_for(ws.recv(), 5) != message:
                raise SystemExit("echo answered wrongly")
            while time.monotonic() < stop_at:
                await ws.send(message)
                await asyncio.wait_for(ws.recv(), 5)
                counts[index] += 1

    started = time.monotonic()
    await asyncio.gather(*(one(i, started + duration) for i in range(clients)))
    return sum(counts) / (time.monotonic() - started)


async def broadcast(
    server: UvicornWorker, sockets: int, events: int, interval: float
) -> dict[str, Any]:
    """Publish-to-receipt delays of ``events`` events to ``sockets`` clients."""
    latencies: list[float] = []
    received = [0] * sockets

    async def reader(index: int, ws: Any) -> None:
        while received[index] < events:
            text = await asyncio.wait_for(ws.recv(), 10)
            now = time.monotonic()
            latencies.append(now - float(json.loads(text)["t"]))
            received[index] += 1

    async with contextlib.AsyncExitStack() as stack:
        conns = []
        for start in range(0, sockets, 50):  # in batches: the server's backlog
            batch = range(start, min(start + 50, sockets))
            conns += await asyncio.gather(
                *(stack.enter_async_context(connect(server.port, "/feed")) for _ in batch)
            )
        deadline = time.monotonic() + 15
        while await asyncio.to_thread(server.subscribers) < sockets:
            if time.monotonic() > deadline:
                raise SystemExit("the sockets did not all subscribe in 15 s")
            await asyncio.sleep(0.05)
        readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(conns)]
        for seq in range(events):
            status, _ = await asyncio.to_thread(request, server.port, "POST", f"/publish?seq={seq}")
            if status != 200:
                raise SystemExit(f"publish answered {status}")
            await asyncio.sleep(interval)
        await asyncio.wait_for(asyncio.gather(*readers), 30)
    latencies.sort()
    return {
        "sockets": sockets,
        "events": events,
        "delivered": len(latencies),
        "complete": len(latencies) == sockets * events,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


async def bench(server: UvicornWorker, args: argparse.Namespace) -> dict[str, Any]:
    echo = {}
    for clients in args.echo_clients:
        echo[clients] = await echo_round_trips(server.port, clients, args.duration)
    fan = await broadcast(server, args.sockets, args.events, args.interval)
    return {"echo_round_trips_per_s": echo, "broadcast": fan}


def _median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the rounds."""
    echo = {
        clients: statistics.median(run["echo_round_trips_per_s"][clients] for run in runs)
        for clients in runs[0]["echo_round_trips_per_s"]
    }
    fan = dict(runs[0]["broadcast"])
    for key in ("p50_ms", "p99_ms", "max_ms"):
        fan[key] = statistics.median(run["broadcast"][key] for run in runs)
    fan["complete"] = all(run["broadcast"]["complete"] for run in runs)
    return {"echo_round_trips_per_s": echo, "broadcast": fan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frameworks", default="kolben,starlette")
    parser.add_argument("--echo-clients", default="1,16", help="comma-separated client counts")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per echo run")
    parser.add_argument("--sockets", type=int, default=200)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.02)
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs per framework, alternating; medians shown"
    )
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args()
    args.echo_clients = [int(n) for n in args.echo_clients.split(",")]
    raise_open_files_limit(args.sockets * 2 + 256)

    names = args.frameworks.split(",")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as folder:
        app_dir = Path(folder)
        for name in names:
            (app_dir / f"bench_ws_{name}.py").write_text(APPS[name])
        for round_ in range(args.rounds):
            # Alternate the order: a busy machine drifts, and the first run of a
            # round tends to differ.
            for name in names if round_ % 2 == 0 else reversed(names):
                server = UvicornWorker(app_dir, f"bench_ws_{name}", ["--ws", "websockets-sansio"])
                try:
                    runs[name].append(asyncio.run(bench(server, args)))
                finally:
                    server.stop()
    results = {name: _median_of(name_runs) for name, name_runs in runs.items()}

    print(
        f"uvicorn, one worker, {platform.python_implementation()} {platform.python_version()},"
        f" {os.cpu_count()} CPUs; medians of {args.rounds} rounds"
    )
    print(f"{'':10} " + " ".join(f"{f'echo x{n} rt/s':>14}" for n in args.echo_clients), end="")
    print(f"  {'broadcast':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  all?")
    for name, result in results.items():
        echo = result["echo_round_trips_per_s"]
        fan = result["broadcast"]
        print(f"{name:10} " + " ".join(f"{echo[n]:14,.0f}" for n in args.echo_clients), end="")
        print(
            f"  {fan['sockets']:>4} x {fan['events']:<3} {fan['p50_ms']:8.2f}"
            f" {fan['p99_ms']:8.2f} {fan['max_ms']:8.2f}  {fan['complete']}"
        )
    if args.json:
        versions = {}
        for package in ("kolben", "starlette", "uvicorn", "websockets"):
            with contextlib.suppress(Exception):
                from importlib.metadata import version

                versions[package] = version(package)
        payload = {
            "results": results,
            "runs": runs,
            "versions": versions,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str))


if __name__ == "__main__":
    main()
