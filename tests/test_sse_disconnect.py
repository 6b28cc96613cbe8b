"""How soon a server notices an SSE client that went away, as docs/sse.md says:
under ASGI (uvicorn) at once; under WSGI (gunicorn) only when a write fails, so
on a quiet channel at a keep-alive (the second one after a clean close: the
first write still succeeds), which ``stream_channel(..., keepalive=...)`` brings
closer. Real servers on free 127.0.0.1 ports; every wait is bounded."""

from __future__ import annotations

import json
import sys
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving import HOST, ServerProcess, answers, free_port, http_request, server_env
from sse_apps.client import SSEClient

TESTS = Path(__file__).parent
#: How long a dropped client may stay subscribed where it should go "at once".
AT_ONCE = 2.0


def serve(kind: str, log_dir: Path) -> ServerProcess:
    port = free_port()
    py = sys.executable
    if kind == "uvicorn":
        command = [
            *(py, "-m", "uvicorn", "sse_apps.served:app", "--app-dir", str(TESTS)),
            *("--host", HOST, "--port", str(port), "--log-level", "warning"),
            *("--timeout-graceful-shutdown", "2"),
        ]
    else:
        command = [
            *(py, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4"),
            *("-b", f"{HOST}:{port}", "--chdir", str(TESTS)),
            *("--graceful-timeout", "2", "sse_apps.served:app"),
        ]
    server = ServerProcess(
        command,
        name=kind,
        cwd=TESTS,
        env=server_env(pythonpath=[TESTS]),
        log_path=log_dir / f"{kind}.log",
        ready=lambda: answers(port, "/ping"),
    )
    server.port = port  # type: ignore[attr-defined]
    return server


def subscribers(port: int) -> int:
    status, _, body = http_request(port, "GET", "/stats")
    assert status == 200
    return t.cast(int, json.loads(body)["subscribers"])


def seconds_until_unsubscribed(port: int, keepalive: float, limit: float) -> float | None:
    """Open a stream, drop the connection, and time how long the server keeps the
    subscription (None if still subscribed after ``limit`` seconds)."""
    before = subscribers(port)
    client = SSEClient(port, f"/events/quiet-{time.monotonic_ns()}?keepalive={keepalive}")
    client.wait_open()
    assert subscribers(port) == before + 1
    client.close()
    dropped = time.monotonic()
    while time.monotonic() - dropped < limit:
        if subscribers(port) == before:
            return time.monotonic() - dropped
        time.sleep(0.05)
    return None


@pytest.fixture(params=["uvicorn", "gunicorn"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[t.Any]:
    with serve(request.param, tmp_path) as running:
        running.kind = request.param  # type: ignore[attr-defined]
        yield running


def test_a_dropped_client_leaves(server: t.Any) -> None:
    if server.kind == "uvicorn":
        # ASGI: the disconnect arrives as an event; the default keep-alive plays no part.
        took = seconds_until_unsubscribed(server.port, keepalive=15, limit=AT_ONCE)
        assert took is not None, "uvicorn kept a dropped client subscribed"
        return
    # WSGI: nothing tells the app before a write fails. With the default 15 s
    # keep-alive the client is still subscribed a while later ...
    assert seconds_until_unsubscribed(server.port, keepalive=15, limit=AT_ONCE) is None
    # ... and a short keep-alive frees the next one within two intervals (a
    # margin for a busy machine).
    took = seconds_until_unsubscribed(server.port, keepalive=0.5, limit=5.0)
    assert took is not None, "gunicorn kept a dropped client subscribed past 5 s"
