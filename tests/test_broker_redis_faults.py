"""The Redis broker under faults, against the real Redis on 127.0.0.1:6379.

A publish whose reply is lost (the connection drops after Redis stored the event,
before the reply reaches the client) is retried by redis-py; the retry must not
store, nor deliver, the event a second time. A TCP proxy on 127.0.0.1 sits
between the publishing broker and Redis and drops the connection right after
forwarding the publishing command, swallowing the reply. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import typing as t
from collections.abc import Iterator

import pytest

from kolben.broker import Subscription, parse_event_id
from kolben.broker.redis import RedisBroker
from sse_apps import redis_env

WAIT = 10.0


def take(sub: Subscription, n: int) -> list[t.Any]:
    out = []
    for _ in range(n):
        event = sub.get(WAIT)
        assert event is not None, f"only {len(out)} of {n} events arrived"
        out.append(event)
    return out


# -- a proxy that loses replies ------------------------------------------------------------


class ReplyDroppingProxy:
    """A TCP proxy on 127.0.0.1 in front of Redis.

    While armed, every ``every``-th command named in ``commands`` a client sends
    (up to ``limit`` of them) is forwarded to Redis; when Redis's reply comes
    back, the client's connection is closed instead of passing the reply on.
    Redis has run the command; the client sees a dropped connection. The same
    bytes (a retry of the same command) are never dropped twice.
    """

    def __init__(self, upstream: tuple[str, int] = (redis_env.HOST, 6379)) -> None:
        self.upstream = upstream
        self.listener = socket.create_server((redis_env.HOST, 0))
        self.listener.settimeout(0.1)
        self.port: int = self.listener.getsockname()[1]
        self.commands: tuple[bytes, ...] = ()
        self.every = 1
        self.limit: int | None = None
        self.seen = 0
        self.doomed = 0
        self.dropped = 0
        self._doomed_commands: set[bytes] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"redis://{redis_env.HOST}:{self.port}/{redis_env.DB}"

    def arm(self, *commands: str, every: int = 1, limit: int | None = None) -> None:
        with self._lock:
            self.commands = tuple(f"\r\n{c.upper()}\r\n".encode() for c in commands)
            self.every, self.limit, self.seen, self.doomed = every, limit, 0, 0

    def disarm(self) -> None:
        with self._lock:
            self.commands = ()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=5)
            server.settimeout(None)
            state = {"drop_reply": False}
            with self._lock:
                self._sockets += [client, server]
            for target, args in (
                (self._up, (client, server, state)),
                (self._down, (server, client, state)),
            ):
                thread = threading.Thread(target=target, args=args, daemon=True)
                self._threads.append(thread)
                thread.start()

    def _up(self, client: socket.socket, server: socket.socket, state: dict[str, bool]) -> None:
        """Client to Redis: spot the commands whose reply is to be lost."""
        try:
            while data := client.recv(65536):
                with self._lock:
                    upper = data.upper()
                    if self.commands and any(c in upper for c in self.commands):
                        self.seen += 1
                        more = self.limit is None or self.doomed < self.limit
                        again = data in self._doomed_commands
                        if self.seen % self.every == 0 and more and not again:
                            self.doomed += 1
                            self._doomed_commands.add(data)
                            state["drop_reply"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)

    def _down(self, server: socket.socket, client: socket.socket, state: dict[str, bool]) -> None:
        """Redis to client: pass replies on, except the one to lose."""
        try:
            while data := server.recv(65536):
                if state["drop_reply"]:
                    with self._lock:
                        self.dropped += 1
                    return
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._accepting.join(WAIT)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(WAIT)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def proxy() -> Iterator[ReplyDroppingProxy]:
    running = ReplyDroppingProxy()
    try:
        yield running
    finally:
        running.close()


PUBLISHING = ("XADD", "EVALSHA", "EVAL")


@pytest.mark.redis
def test_a_publish_whose_reply_is_lost_is_stored_and_delivered_once(
    make_broker: t.Callable[..., RedisBroker], proxy: ReplyDroppingProxy, prefix: str
) -> None:
    publisher = make_broker(url=proxy.url)
    reader = make_broker()  # another process, straight to Redis
    admin = redis_env.admin()
    try:
        with reader.subscribe("c") as sub:
            first = publisher.publish("c", "first")
            proxy.arm(*PUBLISHING, limit=1)
            second = publisher.publish("c", "second")  # the reply is lost; retried
            proxy.disarm()
            assert proxy.dropped == 1
            third = publisher.publish("c", "third")
            got = take(sub, 3)
            assert sub.get(0.3) is None, "an event was delivered twice"
            assert [(e.id, e.text) for e in got] == [
                (first, "first"),
                (second, "second"),
                (third, "third"),
            ]
        stored = admin.xrange(f"{prefix}c")
        assert [fields[b"d"] for _, fields in stored] == [b"first", b"second", b"third"]
    finally:
        admin.close()


@pytest.mark.redis
def test_many_publishes_with_lost_replies_deliver_each_event_once(
    make_broker: t.Callable[..., RedisBroker], proxy: ReplyDroppingProxy, prefix: str
) -> None:
    """Every third publishing command loses its reply, for 120 publishes from
    three threads; each event arrives once, in the order Redis stored them."""
    publisher = make_broker(url=proxy.url)
    reader = make_broker()
    admin = redis_env.admin()
    errors: list[BaseException] = []
    ids: dict[str, str] = {}

    def publish(worker: int) -> None:
        try:
            for i in range(40):
                text = f"{worker}-{i}"
                ids[text] = publisher.publish("c", text)
        except BaseException as e:  # reported below
            errors.append(e)

    try:
        with reader.subscribe("c") as sub:
            publisher.publish("c", "warm-up")  # connections made, script known
            take(sub, 1)
            proxy.arm(*PUBLISHING, every=3)
            threads = [threading.Thread(target=publish, args=(w,)) for w in range(3)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(WAIT * 3)
            proxy.disarm()
            assert not errors, errors
            assert proxy.dropped >= 30
            got = take(sub, 120)
            assert sub.get(0.3) is None, "an event was delivered twice"
        assert sorted(e.text for e in got) == sorted(ids)
        assert {e.text: e.id for e in got} == ids
        keys = [parse_event_id(e.id) for e in got]
        assert keys == sorted(keys)
        assert admin.xlen(f"{prefix}c") == 121
    finally:
        admin.close()


@pytest.mark.redis
def test_apublish_with_a_lost_reply_is_stored_once(
    make_broker: t.Callable[..., RedisBroker], proxy: ReplyDroppingProxy, prefix: str
) -> None:
    publisher = make_broker(url=proxy.url)
    publisher.publish("c", "warm-up")
    proxy.arm(*PUBLISHING, limit=1)

    async def main() -> str:
        return await publisher.apublish("c", "once")

    event_id = asyncio.run(main())
    assert proxy.dropped == 1
    admin = redis_env.admin()
    try:
        stored = admin.xrange(f"{prefix}c")
    finally:
        admin.close()
    assert [(i.decode(), f[b"d"]) for i, f in stored][1:] == [(event_id, b"once")]
