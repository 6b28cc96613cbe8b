"""Served benchmark: ``hello`` under real servers, loaded by ``wrk`` from 127.0.0.1.

Runs, one after the other, each on a free local port:

- Flask under gunicorn (2 sync workers): the reference,
- kolben under gunicorn (2 sync workers),
- kolben under uvicorn (2 workers), with a ``def`` view (run in a worker thread)
  and with an ``async def`` view (run on the loop),
- Starlette under uvicorn (2 workers), when installed,
- for reference, when granian is installed: kolben under granian (2 workers, its
  WSGI and ASGI interfaces) and Starlette under granian,

each loaded by ``wrk`` for a bounded time, and prints requests per second and the
ratio to Flask-under-gunicorn. Needs ``wrk`` (Debian package ``wrk``). A report,
never a test assertion; all traffic stays on 127.0.0.1.

    python benchmarks/serve.py [--seconds 10] [--connections 64] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

APPS = """
import flask, kolben

flask_app = flask.Flask("flask_app")
kolben_app = kolben.Kolben("kolben_app")


@flask_app.route("/")
@kolben_app.route("/")
def hello():
    return "Hello, World!"


# The same app with an async view: under an ASGI server it runs on the loop,
# with no worker-thread hop (a sync view crosses into a thread per request).
kolben_async_app = kolben.Kolben("kolben_async_app")


@kolben_async_app.route("/")
async def hello_async():
    return "Hello, World!"
"""

STARLETTE_APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("Hello, World!")


app = Starlette(routes=[Route("/", hello)])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as rv:
                if rv.read() == b"Hello, World!":
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not answer within {timeout} s")


def run_wrk(port: int, seconds: int, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    return float(match.group(1))


def serve(cmd: list[str], cwd: str, port: int, seconds: int, connections: int) -> float:
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(port)
        run_wrk(port, 2, connections)  # warm up
        return run_wrk(port, seconds, connections)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2

    py = sys.executable
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "bench_apps.py").write_text(APPS)
        Path(tmp, "bench_starlette.py").write_text(STARLETTE_APP)
        runs: list[tuple[str, list[str]]] = []

        def gunicorn(target: str, port: int) -> list[str]:
            return [py, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", target]

        def uvicorn(target: str, port: int) -> list[str]:
            return [
                py, "-m", "uvicorn", target, "--workers", "2", "--port", str(port),
                "--log-level", "warning", "--no-access-log",
            ]  # fmt: skip

        runs.append(("flask gunicorn", gunicorn("bench_apps:flask_app", 0)))
        runs.append(("kolben gunicorn", gunicorn("bench_apps:kolben_app", 0)))
        runs.append(("kolben uvicorn (def view)", uvicorn("bench_apps:kolben_app", 0)))
        runs.append(("kolben uvicorn (async def view)", uvicorn("bench_apps:kolben_async_app", 0)))
        try:
            import starlette  # noqa: F401

            runs.append(("starlette uvicorn", uvicorn("bench_starlette:app", 0)))
        except ImportError:
            print("(starlette not installed: skipped)")
            starlette_installed = False
        else:
            starlette_installed = True

        def granian(target: str, port: int, interface: str) -> list[str]:
            return [
                py, "-m", "granian", "--interface", interface, "--workers", "2",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--no-access-log", target,
            ]  # fmt: skip

        if importlib.util.find_spec("granian") is not None:
            # Reference rows: the same apps under granian (a server written in Rust).
            runs.append(
                ("kolben granian wsgi (def view)", granian("bench_apps:kolben_app", 0, "wsgi"))
            )
            runs.append(
                (
                    "kolben granian asgi (async def view)",
                    granian("bench_apps:kolben_async_app", 0, "asgi"),
                )
            )
            if starlette_installed:
                runs.append(("starlette granian asgi", granian("bench_starlette:app", 0, "asgi")))
        else:
            print("(granian not installed: skipped)")

        for name, cmd in runs:
            port = free_port()
            cmd = [str(port) if part == "0" else part for part in cmd]
            cmd = [part.replace("127.0.0.1:0", f"127.0.0.1:{port}") for part in cmd]
            print(f"  {name} ...", flush=True)
            results[name] = serve(cmd, tmp, port, args.seconds, args.connections)

    base = results["flask gunicorn"]
    print("| server | req/s | vs flask gunicorn |")
    print("|---|---|---|")
    for name, rps in results.items():
        print(f"| {name} | {rps:,.0f} | {rps / base:.2f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
