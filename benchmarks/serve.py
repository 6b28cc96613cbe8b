"""Served benchmark: apps under real servers on 127.0.0.1, loaded by ``wrk``.

Three groups, each run on free local ports, all in one run (``--groups``):

``hello``
    ``Hello, World!`` under each server one after the other: Flask and kolben
    under gunicorn (2 sync workers, the reference), kolben under uvicorn (2
    workers) with a ``def`` and with an ``async def`` view, Starlette under
    uvicorn (2 workers), and, when granian is installed, kolben and Starlette
    under granian. Requests/s, p99 latency and the ratio to Flask-under-gunicorn.
``asgi``
    kolben's ASGI door beside Starlette under one uvicorn worker each (uvloop and
    httptools when installed): ``hello`` (``async def`` view vs async endpoint)
    and ``hooks`` (two ``before_request``, one ``after_request`` adding
    ``X-Hooked``, one ``teardown_request``, all ``async def``, vs the same four
    steps as pure ASGI middleware). The apps are ``asgi_run.py``'s. Servers stay
    up; the load alternates between them in ``--rounds`` rounds, and the paired
    ratio is the median of kolben/Starlette requests/s from the same round.
    Target: kolben at least 90% of Starlette's requests/s. With ``--pin``, each
    server runs on CPU 0 and wrk on the other CPUs. With ``--floor``,
    ``asgi_floor.py``'s device (the door's objects without its checks) serves
    ``hello`` beside them: the least the door's objects cost served.
``blog``
    The example blog's index page (``examples/blog``) under uvicorn and under
    gunicorn (``--blog-workers`` each), on one SQLite file: a user is registered
    and logged in, ten posts created, all through the served blog's own forms;
    then ``GET /`` is loaded with that session cookie (a logged-in reader).
    Requests/s and p99 latency; no target (see benchmarks/README.md for what one
    request does).

Every app's answer is checked before it is loaded and after (status, body, the
hook header, the blog's ten posts and logged-in user). Needs ``wrk`` (Debian
package ``wrk``); without it a small asyncio load generator in this process is
used instead (``--load python``), which saturates at a few thousand requests/s
and so understates fast servers. A report, never a test assertion; all traffic
stays on 127.0.0.1, every server is stopped by its PID.

    python benchmarks/serve.py [--groups hello,asgi,blog] [--seconds 5] [--rounds 3]
                               [--connections 64] [--floor] [--pin] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import importlib.util
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"
STARTUP_LIMIT = 30.0
HELLO = b"Hello, World!"

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

# The asgi group serves asgi_run.py's apps, so the in-process and the served
# numbers are of the same code.
ASGI_APPS = """
import sys
sys.path.insert(0, {here!r})
from asgi_run import build

kolben_hello, _ = build("kolben", "hello")
starlette_hello, _ = build("starlette", "hello")
kolben_hooks, _ = build("kolben", "hooks")
starlette_hooks, _ = build("starlette", "hooks")
"""

# With --floor: asgi_floor.py's measuring device (the door's objects, none of its
# checks) serving the hello app, in a process of its own (it replaces the door).
FLOOR_APPS = """
import sys
sys.path.insert(0, {here!r})
import asgi_floor
asgi_floor.install()
from asgi_run import build

kolben_floor_hello, _ = build("kolben", "hello")
"""


# -- HTTP, servers ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def fetch(
    port: int,
    path: str = "/",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
) -> Reply:
    """One request on a new connection (redirects are not followed)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        rv = conn.getresponse()
        return Reply(rv.status, rv.headers, rv.read())
    finally:
        conn.close()


Check = Callable[[Reply], str | None]  # None when right, else what is wrong


def expect_hello(rv: Reply) -> str | None:
    if rv.status != 200 or rv.body != HELLO:
        return f"expected 200 {HELLO!r}, got {rv.status} {rv.body[:200]!r}"
    return None


def expect_hooks(rv: Reply) -> str | None:
    wrong = expect_hello(rv)
    if wrong is None and rv.headers.get_all("X-Hooked") != ["a+b"]:
        wrong = f"X-Hooked is {rv.headers.get_all('X-Hooked')!r}, not ['a+b']"
    return wrong


@dataclass
class Server:
    name: str
    cmd: list[str]  # "{port}" is replaced by the port
    check: Check
    path: str = "/"
    headers: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] | None = None
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    #: The CPUs the server may run on (``--pin``); None: any.
    cpus: set[int] | None = None

    def start(self, cwd: str) -> None:
        self.port = free_port()
        cmd = [part.replace("{port}", str(self.port)) for part in self.cmd]
        self.log = Path(cwd, f"server-{self.port}.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_pinned(self.cpus),
            )
        deadline = time.monotonic() + STARTUP_LIMIT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                wrong = self.check(fetch(self.port, self.path, headers=self.headers, timeout=2))
            except OSError:
                wrong = "not answering"
            if wrong is None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {wrong} after {STARTUP_LIMIT} s\n{self.tail()}")
            time.sleep(0.2)

    def verify(self) -> None:
        wrong = self.check(fetch(self.port, self.path, headers=self.headers))
        if wrong is not None:
            raise RuntimeError(f"{self.name} answers wrongly: {wrong}\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the group this script started
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


@contextlib.contextmanager
def running(servers: list[Server], cwd: str) -> Iterator[list[Server]]:
    try:
        for server in servers:
            server.start(cwd)
        yield servers
    finally:
        for server in servers:
            server.stop()


# -- load ---------------------------------------------------------------------------------


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors and non-2xx/3xx answers


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _pinned(cpus: set[int] | None) -> t.Callable[[], None] | None:
    """A ``preexec_fn`` running the child on ``cpus`` only (None: no pinning)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def _load_cpus(server: Server) -> set[int] | None:
    """The CPUs the load generator runs on: those the server (pinned) does not."""
    if server.cpus is None:
        return None
    rest = set(range(os.cpu_count() or 1)) - server.cpus
    return rest or None


def run_wrk(port: int, server: Server, seconds: float, connections: int, threads: int) -> Load:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    for name, value in server.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(f"http://{HOST}:{port}{server.path}")
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
        preexec_fn=_pinned(_load_cpus(server)),
    ).stdout
    rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p50 = re.search(r"^\s*50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if rps is None or p50 is None or p99 is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    errors = 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    return Load(float(rps.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), errors)


def run_python_load(port: int, server: Server, seconds: float, connections: int) -> Load:
    """A small keep-alive HTTP/1.1 load generator on asyncio (when wrk is missing):
    ``connections`` clients, each sending the next request once the last answer
    is read, for ``seconds``."""
    head = f"GET {server.path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in server.headers.items())
    request = (head + "\r\n").encode("latin-1")
    latencies: list[float] = []
    errors = 0

    async def client(deadline: float) -> None:
        nonlocal errors
        reader: asyncio.StreamReader | None = None
        writer: asyncio.StreamWriter | None = None
        while time.perf_counter() < deadline:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(HOST, port)
                assert reader is not None
                t0 = time.perf_counter()
                writer.write(request)
                status = int((await reader.readline()).split()[1])
                length, chunked, close = None, False, False
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    name, value = name.strip().lower(), value.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "transfer-encoding" and "chunked" in value:
                        chunked = True
                    elif name == "connection" and value == "close":
                        close = True
                if chunked:
                    while size := int((await reader.readline()).split(b";")[0], 16):
                        await reader.readexactly(size + 2)
                    await reader.readline()
                elif length is not None:
                    await reader.readexactly(length)
                else:
                    await reader.read()
                    close = True
                latencies.append(time.perf_counter() - t0)
                if not 200 <= status < 400:
                    errors += 1
                if close:
                    writer.close()
                    writer = None
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
                errors += 1
                if writer is not None:
                    writer.close()
                writer = None
        if writer is not None:
            writer.close()

    async def main() -> float:
        t0 = time.perf_counter()
        await asyncio.wait_for(
            asyncio.gather(*(client(t0 + seconds) for _ in range(connections))), seconds + 30
        )
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    latencies.sort()
    if not latencies:
        return Load(0.0, float("nan"), float("nan"), errors)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return Load(len(latencies) / elapsed, pick(0.50), pick(0.99), errors)


@dataclass
class Loader:
    kind: str  # "wrk" or "python"
    connections: int
    threads: int

    def __call__(self, server: Server, seconds: float, connections: int | None = None) -> Load:
        conns = connections or self.connections
        if self.kind == "wrk":
            load = run_wrk(server.port, server, seconds, conns, self.threads)
        else:
            load = run_python_load(server.port, server, seconds, conns)
        server.verify()  # still answering, and rightly
        return load


# -- groups -------------------------------------------------------------------------------


def uvicorn_cmd(py: str, target: str, *, workers: int = 1, fast: bool = True) -> list[str]:
    cmd = [py, "-m", "uvicorn", target, "--host", HOST, "--port", "{port}"]
    cmd += ["--log-level", "warning", "--no-access-log"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    if fast and importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools"):
        cmd += ["--loop", "uvloop", "--http", "httptools"]
    return cmd


def gunicorn_cmd(py: str, target: str, workers: int) -> list[str]:
    return [py, "-m", "gunicorn", "-w", str(workers), "-b", f"{HOST}:{{port}}", target]


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def hello_group(args: argparse.Namespace, tmp: str, load: Loader) -> dict[str, t.Any]:
    py = sys.executable
    Path(tmp, "bench_apps.py").write_text(APPS)
    Path(tmp, "bench_starlette.py").write_text(STARLETTE_APP)
    servers: list[Server] = []
    if have("gunicorn"):
        servers.append(
            Server("flask gunicorn", gunicorn_cmd(py, "bench_apps:flask_app", 2), expect_hello)
        )
        servers.append(
            Server("kolben gunicorn", gunicorn_cmd(py, "bench_apps:kolben_app", 2), expect_hello)
        )
    else:
        print("(gunicorn not installed: no gunicorn rows, ratios are to the first row)")
    servers.append(
        Server(
            "kolben uvicorn (def view)",
            uvicorn_cmd(py, "bench_apps:kolben_app", workers=2),
            expect_hello,
        )
    )
    servers.append(
        Server(
            "kolben uvicorn (async def view)",
            uvicorn_cmd(py, "bench_apps:kolben_async_app", workers=2),
            expect_hello,
        )
    )
    servers.append(
        Server("starlette uvicorn", uvicorn_cmd(py, "bench_starlette:app", workers=2), expect_hello)
    )
    if have("granian"):

        def granian(target: str, interface: str) -> list[str]:
            return [
                py, "-m", "granian", "--interface", interface, "--workers", "2",
                "--host", HOST, "--port", "{port}", "--log-level", "warning",
                "--no-access-log", target,
            ]  # fmt: skip

        servers.append(
            Server(
                "kolben granian wsgi (def view)",
                granian("bench_apps:kolben_app", "wsgi"),
                expect_hello,
            )
        )
        servers.append(
            Server(
                "kolben granian asgi (async def view)",
                granian("bench_apps:kolben_async_app", "asgi"),
                expect_hello,
            )
        )
        servers.append(
            Server("starlette granian asgi", granian("bench_starlette:app", "asgi"), expect_hello)
        )
    else:
        print("(granian not installed: no granian rows)")

    results: dict[str, Load] = {}
    for server in servers:
        print(f"  hello: {server.name} ...", flush=True)
        with running([server], tmp):
            load(server, 1)  # warm up
            results[server.name] = load(server, args.seconds)

    base = next(iter(results.values()))
    base_name = next(iter(results))
    print()
    print(f"hello, 2 workers per server, {load.connections} connections, {args.seconds} s each:")
    print()
    print(f"| server | req/s | p99 ms | vs {base_name} |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r.rps:,.0f} | {r.p99_ms:.1f} | {r.rps / base.rps:.2f}x |")
    return {name: vars(r) for name, r in results.items()}


def paired_rounds(
    servers: list[Server], load: Loader, seconds: float, rounds: int, connections: int | None = None
) -> dict[str, list[Load]]:
    """Load each server once per round, the order rotating each round."""
    for server in servers:
        load(server, 1, connections)  # warm up
    out: dict[str, list[Load]] = {s.name: [] for s in servers}
    for rnd in range(rounds):
        k = rnd % len(servers)
        for server in servers[k:] + servers[:k]:
            print(f"  round {rnd + 1}/{rounds}: {server.name} ...", flush=True)
            out[server.name].append(load(server, seconds, connections))
    return out


def asgi_group(args: argparse.Namespace, tmp: str, load: Loader) -> dict[str, t.Any]:
    py = sys.executable
    Path(tmp, "bench_asgi_apps.py").write_text(ASGI_APPS.format(here=str(HERE)))
    fast = have("uvloop") and have("httptools")
    pairs = [
        ("hello", expect_hello, "bench_asgi_apps:kolben_hello", "starlette_hello"),
        ("hooks", expect_hooks, "bench_asgi_apps:kolben_hooks", "starlette_hooks"),
    ]
    if args.floor:
        Path(tmp, "bench_floor_apps.py").write_text(FLOOR_APPS.format(here=str(HERE)))
        pairs.append(
            ("hello-floor", expect_hello, "bench_floor_apps:kolben_floor_hello", "starlette_hello")
        )
    servers = []
    peers: dict[str, Server] = {}
    for scenario, check, kolben, starlette in pairs:
        servers.append(Server(f"kolben {scenario}", uvicorn_cmd(py, kolben), check))
        if starlette not in peers:
            peers[starlette] = Server(
                f"starlette {scenario}", uvicorn_cmd(py, f"bench_asgi_apps:{starlette}"), check
            )
            servers.append(peers[starlette])
    if args.pin and (os.cpu_count() or 1) > 1 and hasattr(os, "sched_setaffinity"):
        # One worker each: the server on CPU 0, wrk on the rest, so neither
        # takes the other's CPU (less noise on a small machine).
        for server in servers:
            server.cpus = {0}
    with running(servers, tmp):
        samples = paired_rounds(servers, load, args.seconds, args.rounds)

    print()
    how = "uvloop + httptools" if fast else "uvicorn's defaults"
    if servers[0].cpus is not None:
        how += "; servers pinned to CPU 0, wrk to the others"
    print(
        f"ASGI door under uvicorn, 1 worker each ({how}),"
        f" {load.connections} connections, {load.threads} wrk thread(s), {args.rounds} rounds"
        f" of {args.seconds} s:"
    )
    print()
    print(
        "| scenario | kolben req/s | starlette req/s | kolben p99 ms | starlette p99 ms"
        " | paired ratio (min-max) | target | verdict |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    report: dict[str, t.Any] = {}
    for scenario, _check, _kolben, starlette in pairs:
        mine, peer = samples[f"kolben {scenario}"], samples[peers[starlette].name]
        ratios = [a.rps / b.rps for a, b in zip(mine, peer, strict=True)]
        ratio = statistics.median(ratios)
        errors = sum(x.errors for x in mine + peer)
        verdict = "ok" if ratio >= 0.90 else "MISSED"
        if scenario.endswith("-floor"):
            verdict = "(device, no target)"
        if errors:
            verdict += f" ({errors} errors)"
        print(
            f"| {scenario} | {statistics.median(x.rps for x in mine):,.0f}"
            f" | {statistics.median(x.rps for x in peer):,.0f}"
            f" | {statistics.median(x.p99_ms for x in mine):.2f}"
            f" | {statistics.median(x.p99_ms for x in peer):.2f}"
            f" | {ratio:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) | ≥ 0.90x | {verdict} |"
        )
        report[scenario] = {
            "kolben": [vars(x) for x in mine],
            "starlette": [vars(x) for x in peer],
            "paired_ratio": ratio,
        }
    return report


# -- the blog -----------------------------------------------------------------------------

BLOG_USER, BLOG_PASSWORD, BLOG_POSTS = "benchreader", "bench-password-1", 10
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """Just enough of a browser for the blog's forms: cookies, CSRF tokens, redirects."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Reply:
        for _ in range(5):  # follow redirects
            headers = {"Cookie": self.cookie_header()} if self.cookies else {}
            body = None
            if form is not None:
                body = urllib.parse.urlencode(form).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            rv = fetch(self.port, path, method=method, headers=headers, body=body)
            for value in rv.headers.get_all("Set-Cookie") or []:
                pair = value.split(";", 1)[0]
                name, _, val = pair.partition("=")
                if val and "expires=thu, 01 jan 1970" not in value.lower():
                    self.cookies[name.strip()] = val
                else:
                    self.cookies.pop(name.strip(), None)
            if rv.status not in (301, 302, 303, 307, 308):
                return rv
            location = urllib.parse.urlsplit(rv.headers["Location"])
            path = location.path + (f"?{location.query}" if location.query else "")
            method, form = "GET", None
        raise RuntimeError(f"too many redirects at {path}")

    def submit(self, form_page: str, action: str, fields: dict[str, str]) -> Reply:
        page = self.request("GET", form_page)
        match = _TOKEN.search(page.body.decode())
        if page.status != 200 or match is None:
            raise RuntimeError(f"no form with a CSRF token at {form_page}: {page.status}")
        return self.request("POST", action, {"csrf_token": match.group(1), **fields})


def blog_setup(port: int) -> str:
    """Register, log in and write the posts through the served blog; the Cookie
    header of the logged-in reader."""
    b = Browser(port)
    user = {"username": BLOG_USER, "password": BLOG_PASSWORD}
    rv = b.submit("/auth/register", "/auth/register", user)
    if rv.status != 200:
        raise RuntimeError(f"registering failed: {rv.status} {rv.body[:300]!r}")
    rv = b.submit("/auth/login", "/auth/login", user)
    if rv.status != 200 or f'class="who">{BLOG_USER}<' not in rv.body.decode():
        raise RuntimeError(f"logging in failed: {rv.status} {rv.body[:300]!r}")
    for i in range(BLOG_POSTS):
        body = f"Post number {i + 1} of the benchmark. " * 8
        rv = b.submit("/create", "/create", {"title": f"Benchmark post {i + 1}", "body": body})
        if rv.status != 200:
            raise RuntimeError(f"creating post {i + 1} failed: {rv.status} {rv.body[:300]!r}")
    b.request("GET", "/")  # the last flash message is shown (and gone) now
    return b.cookie_header()


def expect_blog_index(rv: Reply) -> str | None:
    text = rv.body.decode(errors="replace")
    if rv.status != 200:
        return f"status {rv.status}: {text[:300]!r}"
    posts = text.count('<article class="post"')
    if posts != BLOG_POSTS:
        return f"{posts} posts on the page, not {BLOG_POSTS}"
    if f'class="who">{BLOG_USER}<' not in text:
        return "the reader is not logged in on the page"
    if rv.headers.get_all("Set-Cookie"):
        return f"the page sets a cookie: {rv.headers.get_all('Set-Cookie')!r}"
    return None


def blog_group(args: argparse.Namespace, tmp: str, load: Loader) -> dict[str, t.Any]:
    py = sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOLBEN_", "FLASK_"))}
    env.pop("DATABASE_URL", None)
    env["KOLBEN_DATABASE"] = str(Path(tmp, "blog.sqlite"))
    env["KOLBEN_SECRET_KEY"] = "serve.py benchmark key"
    if not have("blog"):  # not installed: import it from the repository
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "examples" / "blog"), env.get("PYTHONPATH")) if p
        )
    subprocess.run(
        [py, "-c", "import blog; from blog import db; db.init_db(blog.create_app())"],
        cwd=tmp,
        env=env,
        check=True,
        timeout=60,
    )
    workers = args.blog_workers
    uv = Server(
        f"blog uvicorn ({workers} worker{'s' * (workers > 1)})",
        [*uvicorn_cmd(py, "blog:create_app", workers=workers), "--factory"],
        lambda rv: None if rv.status == 200 else f"status {rv.status}",
        env=env,
    )
    gu = Server(
        f"blog gunicorn ({workers} sync worker{'s' * (workers > 1)})",
        gunicorn_cmd(py, "blog:create_app()", workers),
        lambda rv: None if rv.status == 200 else f"status {rv.status}",
        env=env,
    )
    if not have("gunicorn"):
        print("(gunicorn not installed: the blog under uvicorn only)")
    servers = [uv, gu] if have("gunicorn") else [uv]
    with running(servers, tmp):
        cookie = blog_setup(uv.port)
        page = b""
        for server in servers:
            server.headers = {"Cookie": cookie}
            server.check = expect_blog_index
            server.verify()
            page = fetch(server.port, "/", headers=server.headers).body
        samples = paired_rounds(servers, load, args.seconds, args.rounds, args.blog_connections)

    print()
    print(
        f"blog index (GET /, logged in, {BLOG_POSTS} posts, {len(page):,} bytes of HTML, SQLite),"
        f" {args.blog_connections} connections, {load.threads} wrk thread(s), {args.rounds}"
        f" rounds of {args.seconds} s:"
    )
    print()
    print("| server | req/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|")
    report: dict[str, t.Any] = {}
    for name, runs in samples.items():
        print(
            f"| {name} | {statistics.median(x.rps for x in runs):,.0f}"
            f" | {statistics.median(x.p50_ms for x in runs):.2f}"
            f" | {statistics.median(x.p99_ms for x in runs):.2f}"
            f" | {sum(x.errors for x in runs)} |"
        )
        report[name] = [vars(x) for x in runs]
    return report


GROUPS = {"hello": hello_group, "asgi": asgi_group, "blog": blog_group}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--groups", default="hello,asgi,blog", help="comma list of hello,asgi,blog")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per load run (whole)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (asgi and blog groups)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--blog-workers", type=int, default=1, help="server workers for the blog")
    parser.add_argument("--blog-connections", type=int, default=16)
    parser.add_argument("--load", choices=["wrk", "python"], default=None,
                        help="load generator (default: wrk if installed)")  # fmt: skip
    parser.add_argument("--floor", action="store_true",
                        help="asgi group: also serve asgi_floor.py's device (hello)")  # fmt: skip
    parser.add_argument("--pin", action="store_true",
                        help="asgi group: each server on CPU 0, wrk on the others")  # fmt: skip
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args(argv)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    for g in groups:
        if g not in GROUPS:
            parser.error(f"unknown group {g!r}; have {', '.join(GROUPS)}")

    kind = args.load or ("wrk" if shutil.which("wrk") else "python")
    if kind == "wrk" and shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    if kind == "python":
        print("(load by the asyncio load generator, not wrk: fast servers are understated)")
    load = Loader(kind, args.connections, args.threads)

    load_before = os.getloadavg()
    started = time.time()
    report: dict[str, t.Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for g in groups:
            print(f"group {g}:", flush=True)
            report[g] = GROUPS[g](args, tmp, load)
            print()
    load_after = os.getloadavg()
    print(
        f"load generator {kind}; python {platform.python_version()}; {os.cpu_count()} CPUs;"
        f" load average {load_before[0]:.2f} before, {load_after[0]:.2f} after;"
        f" {time.time() - started:.0f} s"
    )
    if args.json:
        report["machine"] = {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "load_generator": kind,
        }
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
