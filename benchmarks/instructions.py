"""Instructions per request, counted by valgrind's callgrind: a steady measure.

Wall-clock micro-benchmarks move by 10-30% from run to run on a small, shared
machine. Instruction counts do not: the same code, inputs and environment give the
same count, whatever else the machine is doing. This script serves each scenario
of ``asgi_run.py`` (and ``hello`` through the WSGI door) N1 and then N2 times in a
fresh interpreter under callgrind, and reports ``(count(N2) - count(N1)) / (N2 -
N1)``: the instructions one request costs, with start-up and imports cancelled
out. Instructions are not time (memory and branch behaviour differ), so read it
beside ``asgi_run.py``; it is the number to compare when changing a hot path.

    python benchmarks/instructions.py [--scenarios hello,json,hooks] [--frameworks kolben,starlette]

``kolben-floor`` is kolben with the ASGI door's HTTP handler replaced by
``asgi_floor.py``'s: only the objects the door must build, with every check left
out (a measuring device, correct for the apps without hooks only: ``hello``,
``json``, ``params``). ``kolben-wsgi-floor`` is the same for the WSGI door
(``wsgi_floor.py``: kolben's objects, app-level sync hooks, no checks):
``--frameworks kolben-wsgi,kolben-wsgi-floor,flask``.

Needs valgrind (Debian package ``valgrind``). A report, never a test assertion.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# One child process: build the app, serve the scenario `calls` times, exit.
CHILD = r"""
import asyncio, io, sys
sys.path.insert(0, {here!r})
import asgi_run as B
framework, scenario, calls = {framework!r}, {scenario!r}, {calls}
if framework == "kolben-floor":
    import asgi_floor
    asgi_floor.install()
    framework = "kolben"
if framework == "kolben-wsgi-floor":
    import wsgi_floor
    wsgi_floor.install()
    framework = "kolben-wsgi"
app, _probe = B.build(framework, scenario)
path = B.ROWS_BY_NAME[scenario].path
if framework in ("kolben-wsgi", "flask"):
    environ = {{
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "localhost:8000", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "wsgi.version": (1, 0),
    }}
    def start_response(status, headers, exc_info=None):
        assert status.startswith("200"), status
    for _ in range(calls):
        body = app(dict(environ), start_response)
        for _chunk in body:
            pass
        getattr(body, "close", lambda: None)()
else:
    scope = B.scope_for(path)
    statuses = []
    never = asyncio.Event()
    def make_receive():
        # Like a server: the body once, then nothing until the client goes away
        # (frameworks that watch for a disconnect wait here and are cancelled).
        sent = []
        async def receive():
            if not sent:
                sent.append(True)
                return {{"type": "http.request", "body": b"", "more_body": False}}
            await never.wait()
        return receive
    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])
    async def main():
        for _ in range(calls):
            await app(dict(scope), make_receive(), send)
    asyncio.run(main())
    assert set(statuses) == {{200}}, statuses[:3]
"""

ASGI_SCENARIOS = ("hello", "json", "hooks", "hooks-sync", "hello-sync", "params")


def count(framework: str, scenario: str, calls: int) -> int:
    """Total instructions of one child process serving ``calls`` requests."""
    code = CHILD.format(here=str(HERE), framework=framework, scenario=scenario, calls=calls)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{framework} {scenario}: the child failed\n{proc.stderr[-2000:]}")
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if match is None:
        raise RuntimeError(f"could not read callgrind's output:\n{proc.stderr[-2000:]}")
    return int(match.group(1))


def per_request(framework: str, scenario: str, low: int, high: int) -> float:
    return (count(framework, scenario, high) - count(framework, scenario, low)) / (high - low)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="hello,json,hooks,params")
    parser.add_argument("--frameworks", default="kolben,starlette")
    parser.add_argument("--wsgi", action="store_true", help="also kolben vs flask, WSGI door")
    parser.add_argument("--low", type=int, default=500, help="requests in the first run")
    parser.add_argument("--high", type=int, default=1500, help="requests in the second run")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2

    frameworks = [f for f in args.frameworks.split(",") if f]
    print("| scenario | " + " | ".join(f"{f} instr/req" for f in frameworks) + " | ratio |")
    print("|---" * (len(frameworks) + 2) + "|")
    for scenario in [s for s in args.scenarios.split(",") if s]:
        if scenario not in ASGI_SCENARIOS:
            parser.error(f"unknown scenario {scenario!r}; have {', '.join(ASGI_SCENARIOS)}")
        counts = {f: per_request(f, scenario, args.low, args.high) for f in frameworks}
        first = counts[frameworks[0]]
        ratios = ", ".join(f"{first / counts[f]:.2f}x {f}" for f in frameworks[1:])
        cells = " | ".join(f"{counts[f]:,.0f}" for f in frameworks)
        print(f"| {scenario} | {cells} | {ratios or '-'} |", flush=True)
    if args.wsgi:
        kolben = per_request("kolben-wsgi", "hello-sync", args.low, args.high)
        flask = per_request("flask", "hello-sync", args.low, args.high)
        print(
            f"| hello (WSGI) | kolben {kolben:,.0f} | flask {flask:,.0f} | {kolben / flask:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
