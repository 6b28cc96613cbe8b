#!/usr/bin/env python
"""Side-by-side WSGI micro-benchmark: kolben vs Flask 3.1 (plus optional references).

Every framework runs in this one process. For each scenario the SAME app is built
with the Flask-style API (``build_app(api, scenario)``, parametrized by the app
class), checked for a correct answer, warmed up, and then timed by calling the WSGI
callable ``app(environ, start_response)`` directly: no server, no sockets, no
network. Frameworks are alternated in rounds and the best (min) and median
per-request times are reported. The numbers are a report, never an assertion: the
script exits 0 whatever the ratios are (it exits non-zero only when a framework
answers wrongly or cannot be built).

Usage::

    python benchmarks/run.py
    python benchmarks/run.py --scenarios hello,params --frameworks kolben,flask
    python benchmarks/run.py --json benchmarks/results.json --duration 0.5 --rounds 7

See benchmarks/README.md for the method and how to read the table.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import json
import os
import platform
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

# Every Flask-style app gets this SECRET_KEY. With a secret key set, Flask opens the
# signed-cookie session on every request (building its serializer each time) even
# when the view never touches ``session``; that is the realistic production setup,
# and "pay only for what you use" is exactly what kolben is measured against here.
SECRET_KEY = "benchmark-secret-key-not-for-production"

# Defaults keep a full run (5 scenarios, kolben + flask + references) well under 60 s.
DEFAULT_DURATION = 0.3  # seconds per timed sample
DEFAULT_ROUNDS = 5  # samples per framework per scenario, frameworks alternated
WARMUP_CALLS = 2000  # untimed calls per app before calibration
CALIBRATION_CALLS = 300  # timed once to size each sample to ~duration seconds

PRIMARY = ("kolben", "flask")  # the pair whose ratio is judged against the target

Environ = dict[str, Any]
Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    target: float  # kolben/flask ratio at or below which the scenario is "ok"
    description: str
    expect_status: int = 200
    method: str = "GET"
    body: bytes | None = None  # request body; a fresh io.BytesIO per call when set
    content_type: str | None = None
    cookie: bool = False  # send the session cookie made by make_session_cookie()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "hello",
            "/",
            0.33,
            "GET / -> 'Hello, World!': the fixed cost of one request through the pipeline",
        ),
        Scenario(
            "params",
            "/r25/42/items/widget",
            0.33,
            "50 routes /r<i>/<int:id>/items/<name>, hit the 26th: URL matching + converters",
        ),
        Scenario(
            "json",
            "/json",
            0.40,
            "view returns a dict of 10 fields: JSON response building and serialization",
        ),
        Scenario(
            "hooks",
            "/hooks",
            0.33,
            "2 before_request (set g attrs), 1 after_request (adds header), 1 teardown",
        ),
        Scenario(
            "notfound",
            "/no/such/page",
            0.33,
            "~10 routes, none matches: the default 404 error path",
            expect_status=404,
        ),
        Scenario(
            "template",
            "/template",
            0.75,
            "render_template of a 20-item loop with autoescape (a file template)",
        ),
        Scenario(
            "session",
            "/session",
            0.30,
            "read and modify a signed-cookie session (the request carries the cookie)",
            cookie=True,
        ),
        Scenario(
            "form",
            "/form",
            0.40,
            "POST 5 urlencoded fields, read request.form",
            method="POST",
            body=b"name=alice&email=alice%40example.com&age=33&city=Berlin&agree=on",
            content_type="application/x-www-form-urlencoded",
        ),
    )
}

TEMPLATE_ITEMS = [{"name": f"item <{i}>", "price": i * 1.5} for i in range(20)]
TEMPLATE_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
SESSION_DATA: dict[str, Any] = {"user_id": 42, "visits": 1, "cart": [1, 2, 3]}

HELLO = b"Hello, World!"
JSON_PAYLOAD: dict[str, Any] = {
    "id": 12345,
    "name": "kolben",
    "active": True,
    "score": 98.6,
    "count": 42,
    "email": "user@example.com",
    "tags": ["web", "wsgi", "asgi"],
    "ratio": 7,
    "city": "Berlin",
    "matrix": [[1, 2], [3, 4]],
}
HOOK_HEADER = ("X-Bench-After", "yes")


def make_environ(scenario: Scenario) -> Environ:
    """A realistic WSGI environ, as a gunicorn-style server would pass it."""
    environ: Environ = {
        "REQUEST_METHOD": scenario.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": scenario.path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "54321",
        "HTTP_HOST": "localhost:8000",
        "HTTP_USER_AGENT": "kolben-bench/1.0",
        "HTTP_ACCEPT": "text/html,application/json;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate",
        "HTTP_CONNECTION": "keep-alive",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(scenario.body or b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if scenario.body is not None:
        environ["CONTENT_LENGTH"] = str(len(scenario.body))
        environ["CONTENT_TYPE"] = scenario.content_type or "application/octet-stream"
    if scenario.cookie:
        environ["HTTP_COOKIE"] = f"session={make_session_cookie()}"
    return environ


_session_cookie: list[str] = []


def make_session_cookie() -> str:
    """A session cookie holding SESSION_DATA, signed with SECRET_KEY by Flask.

    kolben reads Flask's cookies (and the reverse), so one cookie serves both.
    """
    if not _session_cookie:
        import flask

        app = flask.Flask(__name__)
        app.config["SECRET_KEY"] = SECRET_KEY
        value = app.session_interface.get_signing_serializer(app).dumps(SESSION_DATA)
        _session_cookie.append(value)
    return _session_cookie[0]


# --------------------------------------------------------------------------- app builders


@dataclass(frozen=True)
class FlaskAPI:
    """The handful of names the builder needs from a Flask-API framework."""

    app_cls: type[Any]
    g: Any
    request: Any
    session: Any
    render_template: Any


@dataclass
class Probe:
    """Side effects the correctness check looks at (e.g. teardown really ran)."""

    teardowns: int = 0


def build_flask_style(api: FlaskAPI, scenario: str) -> tuple[WSGIApp, Probe]:
    """Build the scenario's app with the Flask API; used verbatim for kolben and Flask."""
    app = api.app_cls(__name__, template_folder=TEMPLATE_FOLDER)
    app.config["SECRET_KEY"] = SECRET_KEY
    probe = Probe()
    g = api.g

    if scenario == "hello":

        @app.route("/")
        def hello() -> str:
            return "Hello, World!"

    elif scenario == "params":

        def make_view(i: int) -> Callable[..., str]:
            def view(id: int, name: str) -> str:
                return f"r{i} id={id} double={id * 2} name={name}"

            return view

        for i in range(50):
            app.add_url_rule(
                f"/r{i}/<int:id>/items/<name>", endpoint=f"r{i}", view_func=make_view(i)
            )

    elif scenario == "json":

        @app.route("/json")
        def data() -> dict[str, Any]:
            return dict(JSON_PAYLOAD)

    elif scenario == "hooks":

        @app.before_request
        def load_user() -> None:
            g.user = "alice"

        @app.before_request
        def load_request_no() -> None:
            g.request_no = 7

        @app.after_request
        def add_header(response: Any) -> Any:
            response.headers[HOOK_HEADER[0]] = HOOK_HEADER[1]
            return response

        @app.teardown_request
        def count_teardown(exc: BaseException | None) -> None:
            probe.teardowns += 1

        @app.route("/hooks")
        def hooked() -> str:
            return f"Hello {g.user} #{g.request_no}"

    elif scenario == "notfound":
        # ~10 ordinary routes; the request matches none of them.
        def make_page(label: str) -> Callable[..., str]:
            def page(**kwargs: Any) -> str:
                return label

            return page

        rules = [
            "/",
            "/about",
            "/contact",
            "/login",
            "/logout",
            "/users/<int:user_id>",
            "/users/<int:user_id>/edit",
            "/posts/<slug>",
            "/posts/<slug>/comments",
            "/static-page/<path:rest>",
        ]
        for n, rule in enumerate(rules):
            app.add_url_rule(rule, endpoint=f"page{n}", view_func=make_page(rule))

    elif scenario == "template":
        render_template = api.render_template

        @app.route("/template")
        def page() -> str:
            return render_template("bench.html", title="Items & prices", items=TEMPLATE_ITEMS)  # type: ignore[no-any-return]

    elif scenario == "session":
        session = api.session

        @app.route("/session")
        def visit() -> str:
            session["visits"] = session.get("visits", 0) + 1
            return f"user {session['user_id']} visit {session['visits']}"

    elif scenario == "form":
        request = api.request

        @app.route("/form", methods=["POST"])
        def form() -> str:
            f = request.form
            return f"{f['name']} {f['email']} {f['age']} {f['city']} {f['agree']}"

    else:  # pragma: no cover - guarded by argument parsing
        raise ValueError(f"unknown scenario {scenario!r}")
    return app, probe


def load_flask_api(module_name: str, class_name: str) -> Callable[[str], tuple[WSGIApp, Probe]]:
    module = importlib.import_module(module_name)
    api = FlaskAPI(
        app_cls=getattr(module, class_name),
        g=module.g,
        request=module.request,
        session=module.session,
        render_template=module.render_template,
    )
    return lambda scenario: build_flask_style(api, scenario)


# Reference points (hello only). Each loader imports its framework and returns a
# builder; an ImportError means "not installed" and the framework is skipped.


def load_raw() -> Callable[[str], tuple[WSGIApp, Probe]]:
    def raw_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK",
            [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(HELLO)))],
        )
        return [HELLO]

    return lambda scenario: (raw_app, Probe())


def load_falcon() -> Callable[[str], tuple[WSGIApp, Probe]]:
    falcon: Any = importlib.import_module("falcon")

    class Hello:
        def on_get(self, req: Any, resp: Any) -> None:
            resp.content_type = "text/html; charset=utf-8"
            resp.text = "Hello, World!"

    def build(scenario: str) -> tuple[WSGIApp, Probe]:
        app = falcon.App()
        app.add_route("/", Hello())
        return app, Probe()

    return build


def load_bottle() -> Callable[[str], tuple[WSGIApp, Probe]]:
    bottle: Any = importlib.import_module("bottle")

    def build(scenario: str) -> tuple[WSGIApp, Probe]:
        app = bottle.Bottle()

        @app.route("/")
        def hello() -> str:
            return "Hello, World!"

        return app, Probe()

    return build


@dataclass(frozen=True)
class Framework:
    name: str
    loader: Callable[[], Callable[[str], tuple[WSGIApp, Probe]]]
    dist: str | None  # distribution whose version is reported
    scenarios: frozenset[str] = field(default_factory=lambda: frozenset(SCENARIOS))


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("kolben", lambda: load_flask_api("kolben", "Kolben"), "kolben"),
        Framework("flask", lambda: load_flask_api("flask", "Flask"), "flask"),
        Framework("raw", load_raw, None, frozenset({"hello"})),
        Framework("falcon", load_falcon, "falcon", frozenset({"hello"})),
        Framework("bottle", load_bottle, "bottle", frozenset({"hello"})),
    )
}
OPTIONAL = ("falcon", "bottle")  # skipped with a note when not installed


# --------------------------------------------------------------------------- calling


class BenchError(Exception):
    """A framework could not be built or answered wrongly: the run is aborted."""


@dataclass
class Answer:
    status: str = ""
    headers: Headers = field(default_factory=list)
    body: bytes = b""


def call_once(app: WSGIApp, environ: Environ, scenario: Scenario) -> Answer:
    """One fully recorded call, used for the correctness check."""
    answer = Answer()

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Callable[..., Any]:
        answer.status = status
        answer.headers = list(headers)
        return lambda data: None

    env = environ.copy()
    if scenario.body is not None:
        env["wsgi.input"] = io.BytesIO(scenario.body)
    result = app(env, start_response)
    try:
        answer.body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer


def verify(fw: str, scenario: Scenario, app: WSGIApp, probe: Probe, environ: Environ) -> None:
    """Raise BenchError unless the app answers the scenario's request correctly."""
    teardowns_before = probe.teardowns
    try:
        answer = call_once(app, environ, scenario)
    except Exception as exc:
        raise BenchError(
            f"{fw} raised while answering {scenario.method} {scenario.path} "
            f"({scenario.name}):\n{traceback.format_exc()}"
        ) from exc

    headers = {k.lower(): v for k, v in answer.headers}
    ctype = headers.get("content-type", "")
    problems: list[str] = []
    code = answer.status.split(" ", 1)[0]
    if code != str(scenario.expect_status):
        problems.append(f"status {answer.status!r}, expected {scenario.expect_status}")

    name = scenario.name
    if name == "hello":
        if answer.body != HELLO:
            problems.append(f"body {answer.body[:200]!r}, expected {HELLO!r}")
        if not ctype.lower().startswith("text/html"):
            problems.append(f"Content-Type {ctype!r}, expected text/html")
    elif name == "params":
        want = b"r25 id=42 double=84 name=widget"
        if answer.body != want:
            problems.append(f"body {answer.body[:200]!r}, expected {want!r}")
    elif name == "json":
        if not ctype.startswith("application/json"):
            problems.append(f"Content-Type {ctype!r}, expected application/json")
        try:
            got = json.loads(answer.body)
        except ValueError:
            problems.append(f"body is not JSON: {answer.body[:200]!r}")
        else:
            if got != JSON_PAYLOAD:
                problems.append(f"JSON body {got!r}, expected {JSON_PAYLOAD!r}")
    elif name == "hooks":
        want = b"Hello alice #7"
        if answer.body != want:
            problems.append(f"body {answer.body[:200]!r}, expected {want!r}")
        if headers.get(HOOK_HEADER[0].lower()) != HOOK_HEADER[1]:
            problems.append(f"after_request header {HOOK_HEADER[0]} missing: {answer.headers!r}")
        if probe.teardowns != teardowns_before + 1:
            problems.append(
                f"teardown_request ran {probe.teardowns - teardowns_before} times, expected 1"
            )
    elif name == "notfound" and b"Not Found" not in answer.body:
        problems.append(f"body {answer.body[:200]!r} lacks the default 'Not Found' page")
    elif name == "template":
        for needed in (b"<title>Items &amp; prices</title>", b"item &lt;19&gt;", b"28.50"):
            if needed not in answer.body:
                problems.append(f"body lacks {needed!r}: {answer.body[:300]!r}")
    elif name == "session":
        want = b"user 42 visit 2"
        if answer.body != want:
            problems.append(f"body {answer.body[:200]!r}, expected {want!r}")
        cookie = headers.get("set-cookie", "")
        if not cookie.startswith("session="):
            problems.append(f"no updated session cookie in {answer.headers!r}")
    elif name == "form":
        want = b"alice alice@example.com 33 Berlin on"
        if answer.body != want:
            problems.append(f"body {answer.body[:200]!r}, expected {want!r}")

    if "content-length" in headers and headers["content-length"] != str(len(answer.body)):
        problems.append(
            f"Content-Length {headers['content-length']} but body has {len(answer.body)} bytes"
        )
    if problems:
        raise BenchError(
            f"{fw} answered {scenario.method} {scenario.path} ({name}) wrongly:\n  - "
            + "\n  - ".join(problems)
        )


def make_timer(
    app: WSGIApp, environ: Environ, body: bytes | None
) -> tuple[Callable[[int], int], list[str]]:
    """Return ``run(n) -> elapsed ns`` for n calls, and the cell holding the last status."""
    last_status = [""]

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> None:
        last_status[0] = status

    copy = environ.copy
    BytesIO = io.BytesIO
    perf = time.perf_counter_ns

    # PERF: two loops so the no-body case pays no per-call branch; both keep the
    # harness overhead (dict copy, iteration, close lookup) identical across frameworks.
    if body is None:

        def run(n: int) -> int:
            t0 = perf()
            for _ in range(n):
                result = app(copy(), start_response)
                for _chunk in result:
                    pass
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            return perf() - t0

    else:

        def run(n: int) -> int:
            t0 = perf()
            for _ in range(n):
                env = copy()
                env["wsgi.input"] = BytesIO(body)
                result = app(env, start_response)
                for _chunk in result:
                    pass
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            return perf() - t0

    return run, last_status


# --------------------------------------------------------------------------- running


@dataclass
class Series:
    calls_per_sample: int = 0
    samples_ns: list[float] = field(default_factory=list)  # ns per request, one per sample

    @property
    def best(self) -> float:
        return min(self.samples_ns)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ns)


def run_scenario(
    scenario: Scenario,
    builders: dict[str, Callable[[str], tuple[WSGIApp, Probe]]],
    duration: float,
    rounds: int,
    gc_off: bool,
) -> dict[str, Series]:
    environ = make_environ(scenario)
    timers: dict[str, tuple[Callable[[int], int], list[str]]] = {}
    series: dict[str, Series] = {}
    for fw, build in builders.items():
        try:
            app, probe = build(scenario.name)
        except Exception as exc:
            raise BenchError(
                f"{fw} failed to build the {scenario.name} app:\n{traceback.format_exc()}"
            ) from exc
        verify(fw, scenario, app, probe, environ)  # first request
        verify(fw, scenario, app, probe, environ)  # and a second one (caches warm)
        run, last_status = make_timer(app, environ, scenario.body)
        run(WARMUP_CALLS)
        verify(fw, scenario, app, probe, environ)  # still right after the warm-up
        per_call = run(CALIBRATION_CALLS) / CALIBRATION_CALLS
        n = max(1, int(duration * 1e9 / max(per_call, 1.0)))
        timers[fw] = (run, last_status)
        series[fw] = Series(calls_per_sample=n)

    names = list(builders)
    expected = str(scenario.expect_status)
    for r in range(rounds):
        # Rotate the order every round so no framework always runs first (or right
        # after another one's garbage).
        k = r % len(names)
        for fw in names[k:] + names[:k]:
            run, last_status = timers[fw]
            n = series[fw].calls_per_sample
            gc.collect()  # start every sample from a clean heap; GC stays on (see README)
            if gc_off:
                gc.disable()
            try:
                elapsed = run(n)
            finally:
                if gc_off:
                    gc.enable()
            if not last_status[0].startswith(expected):
                raise BenchError(
                    f"{fw} answered {scenario.path} with {last_status[0]!r} during timing"
                )
            series[fw].samples_ns.append(elapsed / n)
    return series


def dist_version(dist: str | None) -> str | None:
    if dist is None:
        return None
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def fmt_us(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1000:.2f}"


def render_table(
    scenarios: Sequence[Scenario], frameworks: Sequence[str], results: dict[str, dict[str, Series]]
) -> str:
    extras = [fw for fw in frameworks if fw not in PRIMARY]
    primary = [fw for fw in PRIMARY if fw in frameworks]
    header = ["scenario"]
    header += [f"{fw} µs/req (best/median)" for fw in primary]
    header += ["ratio kolben/flask", "target", "verdict", "paired ratio"]
    header += [f"{fw} µs/req" for fw in extras]
    rows: list[list[str]] = []
    for sc in scenarios:
        res = results.get(sc.name, {})
        row = [sc.name]
        for fw in primary:
            s = res.get(fw)
            row.append("-" if s is None else f"{fmt_us(s.best)} / {fmt_us(s.median)}")
        ratio = scenario_ratio(res)
        paired = paired_ratio(res)
        if ratio is None:
            row += ["-", f"{sc.target:.2f}", "-", "-"]
        else:
            verdict = "ok" if ratio <= sc.target else "MISSED"
            row += [f"{ratio:.2f}", f"{sc.target:.2f}", verdict, f"{paired:.2f}"]
        for fw in extras:
            s = res.get(fw)
            row.append("-" if s is None else fmt_us(s.best))
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def scenario_ratio(res: dict[str, Series]) -> float | None:
    if "kolben" in res and "flask" in res:
        return res["kolben"].best / res["flask"].best
    return None


def paired_ratio(res: dict[str, Series]) -> float | None:
    """Median over rounds of kolben/flask from the same round (adjacent in time).

    Both samples of a round see the same machine load, so this is steadier than
    best/best on a busy machine; it is shown next to the verdict, not used by it.
    """
    if "kolben" in res and "flask" in res:
        pairs = zip(res["kolben"].samples_ns, res["flask"].samples_ns, strict=True)
        return statistics.median(k / f for k, f in pairs)
    return None


def parse_list(value: str, known: Sequence[str], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in known]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown) or '(none given)'}; choose from {', '.join(known)}"
        )
    return list(dict.fromkeys(items))


def main(argv: Sequence[str] | None = None) -> int:
    epilog = "scenarios:\n" + "\n".join(
        f"  {s.name:<9} target {s.target:.2f}  {s.description}" for s in SCENARIOS.values()
    )
    parser = argparse.ArgumentParser(
        description="Time kolben vs Flask 3.1 (and references) as WSGI callables, in-process.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenarios",
        type=lambda v: parse_list(v, list(SCENARIOS), "scenario"),
        default=list(SCENARIOS),
        help="comma-separated subset (default: all)",
    )
    parser.add_argument(
        "--frameworks",
        type=lambda v: parse_list(v, list(FRAMEWORKS), "framework"),
        default=list(FRAMEWORKS),
        help="comma-separated subset of kolben,flask,raw,falcon,bottle (default: all; "
        "falcon and bottle are skipped when not installed)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the raw numbers here")
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION,
        metavar="SECONDS",
        help=f"length of one timed sample (default {DEFAULT_DURATION})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help=f"samples per framework per scenario (default {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--gc-off",
        action="store_true",
        help="disable the garbage collector during each sample (default: GC stays on)",
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rounds < 1:
        parser.error("--duration must be > 0 and --rounds >= 1")

    scenarios = [SCENARIOS[name] for name in args.scenarios]
    loaded: dict[str, Callable[[str], tuple[WSGIApp, Probe]]] = {}
    notes: list[str] = []
    for name in args.frameworks:
        try:
            loaded[name] = FRAMEWORKS[name].loader()
        except ImportError as exc:
            if name in OPTIONAL:
                notes.append(f"{name}: skipped, not installed ({exc})")
                continue
            print(
                f"error: cannot import {name}: {exc}\n"
                f"(install it into this interpreter, or leave it out with --frameworks)",
                file=sys.stderr,
            )
            return 2

    plan = [
        (sc, {fw: b for fw, b in loaded.items() if sc.name in FRAMEWORKS[fw].scenarios})
        for sc in scenarios
    ]
    n_samples = sum(len(b) for _, b in plan) * args.rounds
    print(
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        + ", ".join(
            f"{fw} {dist_version(FRAMEWORKS[fw].dist) or '(no dist)'}"
            for fw in loaded
            if FRAMEWORKS[fw].dist is not None
        )
        + f", werkzeug {dist_version('werkzeug') or '-'}"
    )
    print(
        f"{platform.platform()}, {os.cpu_count()} CPUs; {args.rounds} rounds x "
        f"{args.duration:g} s samples, GC {'off' if args.gc_off else 'on'} during samples; "
        f"~{n_samples * args.duration:.0f} s of timing"
    )
    for note in notes:
        print(f"note: {note}")
    print()

    results: dict[str, dict[str, Series]] = {}
    started = time.perf_counter()
    try:
        for sc, builders in plan:
            if not builders:
                continue
            print(f"  {sc.name} ...", end="", flush=True, file=sys.stderr)
            results[sc.name] = run_scenario(sc, builders, args.duration, args.rounds, args.gc_off)
            print(" done", file=sys.stderr)
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started

    print(render_table(scenarios, list(loaded), results))
    print()
    print(
        "best = min over rounds, median = median over rounds; ratio = kolben best / flask best "
        "(lower is better); verdict ok when ratio <= target.\npaired ratio = median over rounds "
        "of kolben/flask within the same round (steadier when the machine is busy)."
    )
    print(f"total {elapsed:.1f} s")

    if args.json:
        payload = {
            "meta": {
                "python": sys.version,
                "implementation": platform.python_implementation(),
                "versions": {
                    d: dist_version(d) for d in ("kolben", "flask", "werkzeug", "falcon", "bottle")
                },
                "platform": platform.platform(),
                "machine": platform.machine(),
                "processor": platform.processor(),
                "cpu_count": os.cpu_count(),
                "duration_s": args.duration,
                "rounds": args.rounds,
                "warmup_calls": WARMUP_CALLS,
                "gc_during_samples": not args.gc_off,
                "secret_key_set": True,
                "elapsed_s": round(elapsed, 3),
                "notes": notes,
            },
            "scenarios": {
                sc.name: {
                    "path": sc.path,
                    "description": sc.description,
                    "target": sc.target,
                    "ratio": scenario_ratio(results.get(sc.name, {})),
                    "paired_ratio": paired_ratio(results.get(sc.name, {})),
                    "ok": (
                        None
                        if (r := scenario_ratio(results.get(sc.name, {}))) is None
                        else r <= sc.target
                    ),
                    "frameworks": {
                        fw: {
                            "best_ns_per_req": s.best,
                            "median_ns_per_req": s.median,
                            "calls_per_sample": s.calls_per_sample,
                            "samples_ns_per_req": s.samples_ns,
                        }
                        for fw, s in results.get(sc.name, {}).items()
                    },
                }
                for sc in scenarios
            },
        }
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
