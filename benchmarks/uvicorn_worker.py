"""One uvicorn worker on a free 127.0.0.1 port, for the served benchmarks
(``sse.py``, ``ws.py``): started, waited for until ``GET /ping`` answers 200,
stopped by its PID (SIGTERM, then SIGKILL after a bounded wait)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

HOST = "127.0.0.1"
#: Seconds the worker has to answer ``/ping`` after it was started.
STARTUP_LIMIT = 15.0


def free_port() -> int:
    """A 127.0.0.1 TCP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def request(port: int, method: str, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """One request on a new connection: ``(status, body)``."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raise_open_files_limit(wanted: int) -> int:
    """Raise this process's open-files limit towards ``wanted`` (servers started
    afterwards inherit it); the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class UvicornWorker:
    """``uvicorn module:app`` from ``app_dir``, one worker, plus ``extra_args``."""

    def __init__(
        self,
        app_dir: Path,
        module: str,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log = app_dir / f"{module}-{self.port}.log"
        command = [
            *(sys.executable, "-m", "uvicorn", f"{module}:app", "--app-dir", str(app_dir)),
            *("--host", HOST, "--port", str(self.port), "--workers", "1"),
            *("--log-level", "warning", "--no-access-log", "--backlog", "4096"),
            *("--timeout-graceful-shutdown", "2", *extra_args),
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,  # inherits the raised open files limit
            )
        deadline = time.monotonic() + STARTUP_LIMIT
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"uvicorn exited:\n{self.log.read_text()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if request(self.port, "GET", "/ping", 1.0)[0] == 200:
                    break
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"uvicorn did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def subscribers(self) -> int:
        """What the app's ``/stats`` says about its broker's subscribers."""
        return int(json.loads(request(self.port, "GET", "/stats")[1])["subscribers"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
