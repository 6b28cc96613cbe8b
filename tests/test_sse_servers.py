"""Server-Sent Events served for real: uvicorn processes (and gunicorn, the WSGI
door) on free 127.0.0.1 ports, stopped by PID, with the Redis broker shared across
processes or the in-process broker. Clients are http.client connections reading
the chunked stream as it arrives; every wait is bounded."""

from __future__ import annotations

import json
import sys
import time
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving import HOST, ServerProcess, answers, free_port, http_request, server_env
from sse_apps import redis_env
from sse_apps.client import SSEClient

TESTS = Path(__file__).parent
WAIT = 10.0


def command(kind: str, port: int) -> list[str]:
    py = sys.executable
    if kind == "uvicorn":
        return [
            *(py, "-m", "uvicorn", "sse_apps.served:app", "--app-dir", str(TESTS)),
            *("--host", HOST, "--port", str(port), "--lifespan", "on"),
            *("--log-level", "warning", "--no-access-log"),
            *("--timeout-graceful-shutdown", "2"),
        ]
    return [
        *(py, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "8"),
        *("-b", f"{HOST}:{port}", "--chdir", str(TESTS)),
        *("--graceful-timeout", "2", "sse_apps.served:app"),
    ]


class Server(ServerProcess):
    """A uvicorn (or gunicorn) process serving tests/sse_apps/served.py."""

    def __init__(self, kind: str, log_dir: Path, **env: str) -> None:
        self.kind = kind
        self.port = free_port()
        super().__init__(
            command(kind, self.port),
            name=kind,
            cwd=TESTS,
            env=server_env(pythonpath=[TESTS], **env),
            log_path=log_dir / f"{kind}-{self.port}.log",
            ready=lambda: answers(self.port, "/ping"),
        )

    def request(
        self, method: str, path: str, body: t.Any = None, timeout: float = WAIT
    ) -> tuple[int, t.Any]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = json.dumps(body).encode() if body is not None else None
        status, response_headers, raw = http_request(
            self.port, method, path, data, headers, timeout
        )
        ok = response_headers.get("Content-Type") == "application/json"
        return status, json.loads(raw) if ok else raw

    def publish(self, channel: str, data: t.Any) -> str:
        status, body = self.request("POST", f"/publish/{channel}", data)
        assert status == 200, body
        return t.cast(str, body["id"])

    def stream(self, channel: str, last_event_id: str | None = None) -> SSEClient:
        client = SSEClient(self.port, f"/events/{channel}", last_event_id=last_event_id)
        assert client.status == 200
        assert client.headers["Content-Type"] == "text/event-stream"
        client.wait_open()
        return client

    def stats(self) -> dict[str, t.Any]:
        return t.cast(dict[str, t.Any], self.request("GET", "/stats")[1])

    def wait_for_stats(self, **expected: int) -> dict[str, t.Any]:
        deadline = time.monotonic() + WAIT
        while True:
            stats = self.stats()
            if all(stats[k] == v for k, v in expected.items()):
                return stats
            if time.monotonic() > deadline:
                pytest.fail(f"server stats stayed {stats}, expected {expected}")
            time.sleep(0.02)


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    yield from redis_env.prefixed()


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, redis_prefix: str
) -> Iterator[tuple[Server, Server]]:
    """Two uvicorn processes sharing one Redis broker."""
    log_dir = tmp_path_factory.mktemp("sse-pair")
    env = {"KOLBEN_TEST_BROKER_URL": redis_env.URL, "KOLBEN_TEST_BROKER_PREFIX": redis_prefix}
    with Server("uvicorn", log_dir, **env) as one, Server("uvicorn", log_dir, **env) as two:
        yield one, two


@pytest.fixture(scope="module")
def memory_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with Server("uvicorn", tmp_path_factory.mktemp("sse-memory")) as server:
        yield server


def channel_name() -> str:
    return f"room-{time.monotonic_ns()}"


# -- across processes -----------------------------------------------------------------


@pytest.mark.redis
def test_events_posted_to_one_process_stream_from_the_other(pair):
    one, two = pair
    assert one.stats()["pid"] != two.stats()["pid"]
    channel = channel_name()
    with one.stream(channel) as client:
        ids = [two.publish(channel, {"n": i}) for i in range(100)]
        events = client.take(100)
    assert [json.loads(e.data) for e in events] == [{"n": i} for i in range(100)]
    assert [e.last_event_id for e in events] == ids


@pytest.mark.redis
def test_async_publish_view_in_a_real_server(pair):
    one, two = pair
    channel = channel_name()
    with two.stream(channel) as client:
        status, body = one.request("POST", f"/apublish/{channel}", {"a": 1})
        assert status == 200
        [event] = client.take(1)
    assert event.last_event_id == body["id"]


@pytest.mark.redis
@pytest.mark.parametrize("reconnect_to", ["same", "other"])
def test_reconnect_with_last_event_id_gets_exactly_what_was_missed(pair, reconnect_to):
    one, two = pair
    channel = channel_name()
    with one.stream(channel) as client:
        for i in range(10):
            two.publish(channel, i)
        seen = client.take(10)
    last = seen[-1].last_event_id
    one.wait_for_stats(subscribers=0)  # the server noticed the disconnect
    missed = [two.publish(channel, 10 + i) for i in range(50)]
    again = one if reconnect_to == "same" else two
    with again.stream(channel, last_event_id=last) as client:
        replayed = client.take(50)
        end = one.publish(channel, "end")
        [after] = client.take(1)
    assert [e.last_event_id for e in replayed] == missed
    assert [json.loads(e.data) for e in replayed] == list(range(10, 60))
    assert after.last_event_id == end  # nothing more than the 50 was sent


@pytest.mark.redis
def test_streams_survive_a_redis_connection_drop(pair):
    one, two = pair
    channel = channel_name()
    admin = redis_env.admin()
    try:
        with one.stream(channel) as client:
            first = two.publish(channel, "before")
            assert [e.last_event_id for e in client.take(1)] == [first]
            admin.execute_command("CLIENT KILL TYPE normal")
            ids = [two.publish(channel, i) for i in range(50)]
            assert [e.last_event_id for e in client.take(50)] == ids
    finally:
        admin.close()


@pytest.mark.redis
def test_disconnects_leave_no_subscription_and_no_reader(pair):
    one, _ = pair
    channel = channel_name()
    for _ in range(20):
        with one.stream(channel):
            pass
    clients = [one.stream(f"{channel}-{i % 4}") for i in range(50)]
    assert one.stats()["subscribers"] == 50
    for client in clients:
        client.close()
    one.wait_for_stats(subscribers=0, readers=0)


@pytest.mark.redis
def test_unreachable_redis_gives_503_to_publish_and_a_retry_to_streams(tmp_path, redis_prefix):
    url = f"redis://{HOST}:{redis_env.closed_port()}/0"
    with Server(
        "uvicorn", tmp_path, KOLBEN_TEST_BROKER_URL=url, KOLBEN_TEST_BROKER_PREFIX=redis_prefix
    ) as server:
        status, body = server.request("POST", "/publish/c", {"x": 1})
        assert status == 503
        assert b"broker is unavailable" in body
        # A stream is a 200 that tells EventSource when to try again, and ends
        # (given a 503 it would give up for good).
        status, body = server.request("GET", "/events/c")
        assert status == 200
        assert b"retry: 2000\n" in body
        assert server.request("GET", "/ping")[0] == 200
    assert "Could not publish to channel 'c'" in server.log()


# -- one process, the in-process broker -----------------------------------------------


def test_memory_broker_reconnect_without_loss(memory_server):
    server = memory_server
    channel = channel_name()
    with server.stream(channel) as client:
        for i in range(5):
            server.publish(channel, i)
        last = client.take(5)[-1].last_event_id
    missed = [server.publish(channel, i) for i in range(5, 55)]
    with server.stream(channel, last_event_id=last) as client:
        assert [e.last_event_id for e in client.take(50)] == missed
        end = server.publish(channel, "end")
        assert [e.last_event_id for e in client.take(1)] == [end]
    server.wait_for_stats(subscribers=0)


def test_many_clients_on_one_worker(memory_server):
    server = memory_server
    channel = channel_name()
    clients = [server.stream(channel) for _ in range(100)]
    try:
        ids = [server.publish(channel, i) for i in range(20)]
        for client in clients:
            assert [e.last_event_id for e in client.take(20)] == ids
    finally:
        for client in clients:
            client.close()
    server.wait_for_stats(subscribers=0)


def test_keepalive_on_a_real_server(memory_server):
    client = SSEClient(memory_server.port, f"/events/{channel_name()}?keepalive=0.05")
    try:
        deadline = time.monotonic() + WAIT
        while "keepalive" not in client.parser.comments:
            assert time.monotonic() < deadline
            client._read()
    finally:
        client.close()


def test_wsgi_door_under_gunicorn(tmp_path):
    with Server("gunicorn", tmp_path) as server:
        channel = channel_name()
        with server.stream(channel) as client:
            ids = [server.publish(channel, i) for i in range(20)]
            assert [e.last_event_id for e in client.take(20)] == ids
        missed = [server.publish(channel, i) for i in range(20, 30)]
        with server.stream(channel, last_event_id=ids[-1]) as client:
            assert [e.last_event_id for e in client.take(10)] == missed
