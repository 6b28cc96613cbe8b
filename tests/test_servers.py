"""One app module, served for real: uvicorn and granian (ASGI), gunicorn and granian
(WSGI), each in a subprocess on a free 127.0.0.1 port, stopped by its PID.

The app module is written to a temporary folder; it talks back to the tests through
marker files there (a streamed generator waits for a "go" file and writes a
"finally" file when it is closed). Every wait is bounded.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import sys
import textwrap
import time
import typing as t
import uuid
from pathlib import Path

import pytest

from serving import HOST, ServerProcess, answers, free_port, http_request, server_env

MODULE = "kolben_served_app"
MARKER_LIMIT = 2.0

APP_SOURCE = textwrap.dedent(
    """
    import asyncio
    import os
    import pathlib
    import time

    from kolben import Kolben, request, send_file

    MARKS = pathlib.Path(os.environ["KOLBEN_TEST_MARKS"])

    app = Kolben(__name__)


    @app.before_serving
    def started():
        (MARKS / "before_serving").write_text(str(os.getpid()))


    @app.after_serving
    async def stopped():
        await asyncio.sleep(0)
        (MARKS / "after_serving").write_text(str(os.getpid()))


    @app.get("/sync")
    def sync_view():
        return {"kind": "sync", "x": request.args.get("x"), "addr": request.remote_addr}


    @app.get("/async")
    async def async_view():
        await asyncio.sleep(0.01)
        return {"kind": "async", "x": request.args.get("x"), "path": request.path}


    @app.post("/form")
    def form():
        up = request.files.get("up")
        return {
            "form": request.form.to_dict(),
            "file": None if up is None else [up.filename, up.read().decode()],
        }


    @app.get("/boom")
    def boom():
        raise ZeroDivisionError("boom")


    @app.get("/header")
    def header():
        return "h", {"X-A": request.args["v"]}


    @app.get("/file")
    def file():
        return send_file(__file__)


    def _wait_for(path, limit=10.0):
        deadline = time.monotonic() + limit
        while not path.exists():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


    @app.get("/stream/<token>")
    def stream(token):
        def generate():
            try:
                yield "first\\n"
                # The test reads "first" before it lets the second chunk be made.
                yield "second\\n" if _wait_for(MARKS / f"{token}.go") else "timed out\\n"
            finally:
                (MARKS / f"{token}.finally").write_text("done")

        return generate(), {"Content-Type": "text/plain"}


    @app.get("/astream/<token>")
    def astream(token):
        async def generate():
            try:
                yield "first\\n"
                deadline = time.monotonic() + 10
                while not (MARKS / f"{token}.go").exists() and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                yield "second\\n"
            finally:
                (MARKS / f"{token}.finally").write_text("done")

        return generate(), {"Content-Type": "text/plain"}


    @app.get("/forever/<token>")
    def forever(token):
        def generate():
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    yield "tick\\n"
                    time.sleep(0.02)
            finally:
                (MARKS / f"{token}.finally").write_text("done")

        return generate(), {"Content-Type": "text/plain"}


    @app.get("/aforever/<token>")
    def aforever(token):
        async def generate():
            try:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    yield "tick\\n"
                    await asyncio.sleep(0.02)
            finally:
                (MARKS / f"{token}.finally").write_text("done")

        return generate(), {"Content-Type": "text/plain"}
    """
)

HAVE = {name: importlib.util.find_spec(name) is not None for name in ("uvicorn", "gunicorn")}
HAVE["granian"] = importlib.util.find_spec("granian") is not None

#: server name -> (the package it needs, whether it speaks ASGI to the app)
SERVERS = {
    "uvicorn": ("uvicorn", True),
    "gunicorn": ("gunicorn", False),
    "granian-asgi": ("granian", True),
    "granian-wsgi": ("granian", False),
}


def command(kind: str, port: int, app_dir: Path) -> list[str]:
    py = sys.executable
    target = f"{MODULE}:app"
    if kind == "uvicorn":
        return [
            *(py, "-m", "uvicorn", target, "--app-dir", str(app_dir)),
            *("--host", HOST, "--port", str(port), "--lifespan", "on"),
            *("--log-level", "warning", "--no-access-log"),
        ]
    if kind == "gunicorn":
        return [
            *(py, "-m", "gunicorn", "-w", "1", "-b", f"{HOST}:{port}"),
            *("--chdir", str(app_dir), "--graceful-timeout", "5", target),
        ]
    interface = kind.partition("-")[2]
    return [
        *(py, "-m", "granian", "--interface", interface, "--working-dir", str(app_dir)),
        *("--host", HOST, "--port", str(port), "--workers", "1", "--no-ws"),
        *("--log-level", "warning", target),
    ]


class Server(ServerProcess):
    """A server process serving the app module, and how to talk to it."""

    def __init__(self, kind: str, base: Path) -> None:
        self.kind = kind
        self.is_asgi = SERVERS[kind][1]
        self.app_dir = base / "app"
        self.marks = base / "marks"
        self.app_dir.mkdir()
        self.marks.mkdir()
        (self.app_dir / f"{MODULE}.py").write_text(APP_SOURCE)
        self.port = free_port()
        super().__init__(
            command(kind, self.port, self.app_dir),
            name=kind,
            cwd=self.app_dir,
            env=server_env(pythonpath=[self.app_dir], KOLBEN_TEST_MARKS=str(self.marks)),
            log_path=base / "server.log",
            ready=lambda: answers(self.port, "/sync"),
        )

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        return http_request(self.port, method, path, body, headers, timeout)

    def wait_for_mark(self, name: str, limit: float = MARKER_LIMIT) -> bool:
        deadline = time.monotonic() + limit
        while not (self.marks / name).exists():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


def _server_params() -> list[t.Any]:
    params = []
    for kind, (package, _) in SERVERS.items():
        marks = [pytest.mark.skipif(not HAVE[package], reason=f"{package} is not installed")]
        params.append(pytest.param(kind, marks=marks, id=kind))
    return params


@pytest.fixture(scope="module", params=_server_params())
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with Server(request.param, tmp_path_factory.mktemp(request.param)) as running:
        yield running


def token() -> str:
    return uuid.uuid4().hex


# -- plain requests -------------------------------------------------------------------


def test_sync_view(server):
    status, headers, body = server.request("GET", "/sync?x=1")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"kind": "sync", "x": "1", "addr": HOST}


def test_async_view(server):
    status, _, body = server.request("GET", "/async?x=%C3%A9")
    assert status == 200
    assert json.loads(body) == {"kind": "async", "x": "é", "path": "/async"}


def test_form_post_urlencoded(server):
    status, _, body = server.request(
        "POST",
        "/form",
        body=b"name=J%C3%BCrgen&n=1",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert json.loads(body) == {"form": {"name": "Jürgen", "n": "1"}, "file": None}


def test_form_post_multipart(server):
    body = (
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="title"\r\n\r\n'
        b"hello\r\n"
        b"--BOUNDARY\r\n"
        b'Content-Disposition: form-data; name="up"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"file contents\r\n"
        b"--BOUNDARY--\r\n"
    )
    status, _, response = server.request(
        "POST",
        "/form",
        body=body,
        headers={"Content-Type": "multipart/form-data; boundary=BOUNDARY"},
    )
    assert status == 200
    assert json.loads(response) == {"form": {"title": "hello"}, "file": ["a.txt", "file contents"]}


def test_view_raising_is_500_and_serving_goes_on(server):
    status, _, body = server.request("GET", "/boom")
    assert status == 500
    assert b"Internal Server Error" in body
    assert server.request("GET", "/sync")[0] == 200
    assert server.process is not None and server.process.poll() is None


@pytest.mark.parametrize("char", ["%00", "%0B", "%0C"])
def test_a_control_character_in_a_header_is_a_500_and_serving_goes_on(server, char):
    # (uvicorn dropped the connection on it, the status counted as sent.)
    status, headers, _ = server.request("GET", f"/header?v=a{char}b")
    if server.kind == "granian-wsgi":
        # granian's WSGI interface sends the response without the header, as
        # it does for Flask: the WSGI door leaves the check to the server.
        assert status == 200 and "X-A" not in headers
    else:
        assert status == 500
    status, headers, _ = server.request("GET", "/header?v=a%09b")
    assert (status, headers["X-A"]) == (200, "a\tb")


def test_not_found(server):
    assert server.request("GET", "/nowhere")[0] == 404


# -- streaming ------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["stream", "astream"], ids=["sync-gen", "async-gen"])
def test_stream_read_incrementally(server, route):
    name = token()
    conn = server.connection()
    try:
        conn.request("GET", f"/{route}/{name}")
        response = conn.getresponse()
        assert response.status == 200
        # The first chunk arrives while the generator is still waiting for "go".
        assert response.readline() == b"first\n"
        assert not (server.marks / f"{name}.finally").exists()
        (server.marks / f"{name}.go").write_text("go")
        assert response.read() == b"second\n"
    finally:
        conn.close()
    assert server.wait_for_mark(f"{name}.finally")


def _read_until(sock: socket.socket, needle: bytes) -> bytes:
    data = b""
    while needle not in data:
        chunk = sock.recv(4096)  # the socket's timeout bounds each wait
        if not chunk:
            break
        data += chunk
    return data


@pytest.mark.parametrize("route", ["forever", "aforever"], ids=["sync-gen", "async-gen"])
def test_client_disconnects_mid_stream(server, route):
    # The generator's finally must run soon after the client goes away (the ASGI
    # door cancels and closes an async generator body when it sees the disconnect).
    name = token()
    with socket.create_connection((HOST, server.port), timeout=10) as sock:
        sock.sendall(
            f"GET /{route}/{name} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        )
        received = _read_until(sock, b"tick\n")
        assert received.startswith(b"HTTP/1.1 200")
        assert b"tick\n" in received
    # The client is gone: the server-side generator must be closed, its finally run.
    assert server.wait_for_mark(f"{name}.finally"), server.log()
    # And the server still serves.
    assert server.request("GET", "/sync")[0] == 200


def test_head_has_no_body(server):
    conn = server.connection()
    try:
        conn.request("HEAD", "/sync")
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == b""
    finally:
        conn.close()


@pytest.mark.parametrize("headers", [{}, {"Range": "bytes=0-9"}], ids=["200", "206"])
def test_a_sent_file_has_one_date_header(server, headers):
    # An ASGI server adds its own Date: the app's made two under uvicorn.
    status, received, _ = server.request("GET", "/file", headers=headers)
    assert status in (200, 206)
    assert len(received.get_all("Date") or []) == 1


# -- lifespan and stopping ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [p for p in _server_params() if SERVERS[p.values[0]][1]],
)
def test_lifespan_under_a_real_server(kind, tmp_path):
    with Server(kind, tmp_path) as server:
        # Startup ran before the first request was answered.
        assert (server.marks / "before_serving").exists()
        assert not (server.marks / "after_serving").exists()
        assert server.request("GET", "/async")[0] == 200
        server.stop()
    assert (server.marks / "after_serving").exists(), server.log()
    # Both ran in the same serving process.
    before = (server.marks / "before_serving").read_text()
    assert before == (server.marks / "after_serving").read_text()
