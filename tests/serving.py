"""Real servers for the tests: a server subprocess on a free 127.0.0.1 port,
waited for until it answers, its output in a log file, stopped by its PID.

    port = free_port()
    with ServerProcess(
        [sys.executable, "-m", "uvicorn", "app:app", "--port", str(port)],
        name="uvicorn",
        cwd=folder,
        env=server_env(pythonpath=[folder]),
        log_path=folder / "server.log",
        ready=lambda: answers(port, "/ping"),
    ) as server:
        status, headers, body = http_request(port, "GET", "/ping")

Every wait is bounded: the start by ``startup_limit``, the stop by ``stop_limit``
after SIGTERM and ``KILL_LIMIT`` after SIGKILL, each request by its timeout. A
server that exits or does not answer in time fails the test with its log.
(Importable as ``serving``: pytest puts tests/ on ``sys.path``.)
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
import typing as t
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pytest

HOST = "127.0.0.1"
#: Seconds a server has to answer its readiness probe after it was started.
STARTUP_LIMIT = 15.0
#: Seconds a server has to exit after SIGTERM before it gets SIGKILL.
STOP_LIMIT = 10.0
#: Seconds to wait for a process to go after SIGKILL.
KILL_LIMIT = 5.0
#: Seconds between two readiness probes.
PROBE_INTERVAL = 0.1

_Server = t.TypeVar("_Server", bound="ServerProcess")


def free_port() -> int:
    """A 127.0.0.1 TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request to ``127.0.0.1:port`` on a new connection: the status, the
    headers and the whole body."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def answers(port: int, path: str = "/", *, body: bytes | None = None, timeout: float = 1.0) -> bool:
    """Whether ``GET path`` on ``127.0.0.1:port`` answers 200 (with ``body``, when
    given): a readiness probe. Connection errors mean "not yet"."""
    try:
        status, _, received = http_request(port, "GET", path, timeout=timeout)
    except (OSError, http.client.HTTPException):
        return False
    return status == 200 and (body is None or received == body)


def server_env(
    *, pythonpath: Iterable[str | os.PathLike[str]] = (), **extra: str
) -> dict[str, str]:
    """This process's environment for a server: ``pythonpath`` first on
    ``PYTHONPATH``, without ``KOLBEN_APP`` (a server names its app itself), and
    ``extra`` on top."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (*(os.fspath(p) for p in pythonpath), env.get("PYTHONPATH", "")) if p
    )
    env.pop("KOLBEN_APP", None)
    env.update(extra)
    return env


class ServerProcess:
    """A server subprocess: started, waited for until ``ready()`` is true, and
    stopped by its PID. Its stdout and stderr go to ``log_path``.

    Used as a context manager it is started on entry and stopped on exit.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        log_path: Path,
        ready: Callable[[], bool],
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        name: str | None = None,
        startup_limit: float = STARTUP_LIMIT,
        stop_limit: float = STOP_LIMIT,
    ) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.ready = ready
        self.cwd = cwd
        self.env = None if env is None else dict(env)
        #: How failures name the server (default: the program run).
        self.name = name or Path(self.command[0]).name
        self.startup_limit = startup_limit
        self.stop_limit = stop_limit
        self.process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        """What the server has written so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Start the server and wait until it is ready; fail the test with the
        server's log if it exits first or is not ready within ``startup_limit``."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + self.startup_limit
        try:
            while not self.ready():
                if self.process.poll() is not None:
                    pytest.fail(f"{self.name} exited ({self.process.returncode}):\n{self.log()}")
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"{self.name} did not answer in {self.startup_limit} s:\n{self.log()}"
                    )
                time.sleep(PROBE_INTERVAL)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> int | None:
        """SIGTERM by PID, then SIGKILL if it has not gone within ``stop_limit``;
        the exit code (None if it was never started). Stopping twice is fine."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=self.stop_limit)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(timeout=KILL_LIMIT)

    def __enter__(self: _Server) -> _Server:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
