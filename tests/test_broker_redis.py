"""The Redis broker against the real Redis on 127.0.0.1:6379: stream ids, replay
without gap or duplicate (also while events are being published), brokers as
separate processes would use them, the one shared reader, connection drops
(CLIENT KILL), an unreachable server (BrokerError, 503), no leaks."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import typing as t
from collections.abc import Iterator

import pytest

import kolben
from kolben.broker import BrokerError, Subscription, parse_event_id
from kolben.broker.redis import RedisBroker, describe_url
from kolben.sse import stream_channel
from sse_apps import redis_env
from sse_apps.asgi import asgi_stream

pytestmark = pytest.mark.redis

WAIT = 10.0


@pytest.fixture
def broker(make_broker: t.Callable[..., RedisBroker]) -> RedisBroker:
    return make_broker()


def take(sub: Subscription, n: int) -> list[t.Any]:
    """The next ``n`` events, each within WAIT seconds."""
    out = []
    for _ in range(n):
        event = sub.get(WAIT)
        assert event is not None, f"only {len(out)} of {n} events arrived"
        out.append(event)
    return out


def values(events: t.Iterable[t.Any]) -> list[t.Any]:
    return [e.json() for e in events]


def wait_until(predicate: t.Callable[[], bool], limit: float = WAIT) -> bool:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- storage and ids ------------------------------------------------------------------


def test_events_are_stream_entries_with_their_ids(broker, prefix):
    ids = [broker.publish("c", {"n": i}, event="tick") for i in range(5)]
    assert [parse_event_id(i) for i in ids] == sorted({parse_event_id(i) for i in ids})
    entries = redis_env.admin().xrange(f"{prefix}c")
    assert [e[0].decode() for e in entries] == ids
    assert entries[0][1] == {b"d": b'{"n": 0}', b"e": b"tick"}


def test_retention_trims_each_stream(make_broker, prefix):
    broker = make_broker(retention=50)
    for i in range(1000):
        broker.publish("c", i)
    length = redis_env.admin().xlen(f"{prefix}c")
    assert 50 <= length < 1000  # MAXLEN ~: at least the retention, trimmed in whole nodes


def test_event_types_and_multiline_data_survive_the_round_trip(broker):
    with broker.subscribe("c") as sub:
        broker.publish("c", "line 1\nline 2\r\nline 3", event="multi")
        broker.publish("c", "é ✓")
        first, second = take(sub, 2)
    assert (first.text, first.event) == ("line 1\nline 2\r\nline 3", "multi")
    assert (second.text, second.event) == ("é ✓", None)
    assert first.encode().startswith(f"id: {first.id}\nevent: multi\ndata: line 1\n".encode())


# -- replay ---------------------------------------------------------------------------


def test_replay_after_last_event_id_then_live(broker):
    ids = [broker.publish("c", i) for i in range(10)]
    with broker.subscribe("c", last_event_id=ids[3]) as sub:
        assert values(take(sub, 6)) == [4, 5, 6, 7, 8, 9]
        broker.publish("c", 10)
        assert values(take(sub, 1)) == [10]
        assert sub.get(0.05) is None
        assert sub.last_id is not None
        assert parse_event_id(sub.last_id) > parse_event_id(ids[-1])  # type: ignore[operator]


def test_replay_while_another_process_publishes(make_broker):
    """Subscriptions made with a Last-Event-ID while events keep coming (from a
    second broker, as another process would) see every event once, in order."""
    # Nothing is consumed until the end: room for everything, nothing trimmed.
    here = make_broker(queue_size=10_000)
    there = make_broker(retention=10_000)
    first = there.publish("c", 0)
    stop = threading.Event()
    published: list[int] = []

    def publisher() -> None:
        n = 1
        while not stop.is_set() and n < 3000:
            there.publish("c", n)
            published.append(n)
            n += 1

    thread = threading.Thread(target=publisher)
    thread.start()
    subs = []
    try:
        assert wait_until(lambda: len(published) > 20)
        for _ in range(10):
            subs.append(here.subscribe("c", last_event_id=first))
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join(WAIT)
    end = there.publish("c", "end")
    for sub in subs:
        got = []
        while True:
            event = sub.get(WAIT)
            assert event is not None, f"stalled after {len(got)} events"
            if event.id == end:
                break
            got.append(event.json())
        assert got == published
        sub.close()


def test_last_event_id_of_the_newest_event_replays_nothing(broker):
    last = [broker.publish("c", i) for i in range(3)][-1]
    with broker.subscribe("c", last_event_id=last) as sub:
        assert sub.get(0.05) is None
        assert sub.last_id == last
        broker.publish("c", "new")
        assert [e.text for e in take(sub, 1)] == ["new"]


def test_last_event_id_older_than_retention_replays_all_retained(make_broker, prefix):
    broker = make_broker(retention=5)
    ids = [broker.publish("c", i) for i in range(300)]
    retained = len(redis_env.admin().xrange(f"{prefix}c"))
    with broker.subscribe("c", last_event_id=ids[0]) as sub:
        got = values(take(sub, retained))
        assert sub.get(0.05) is None
    assert got == list(range(300 - retained, 300))


@pytest.mark.parametrize("bad", ["garbage", "", "12", "1-2-3", "x" * 10_000])
def test_malformed_last_event_id_streams_live(broker, bad):
    broker.publish("c", "old")
    with broker.subscribe("c", last_event_id=bad) as sub:
        assert sub.get(0.05) is None
        broker.publish("c", "live")
        assert [e.text for e in take(sub, 1)] == ["live"]


def test_last_event_id_from_the_future_streams_live(broker):
    broker.publish("c", "old")
    with broker.subscribe("c", last_event_id="99999999999999-0") as sub:
        assert sub.get(0.05) is None
        broker.publish("c", "live")
        assert [e.text for e in take(sub, 1)] == ["live"]


def test_last_event_id_on_an_unknown_channel(broker):
    with broker.subscribe("nothing-yet", last_event_id="1-0") as sub:
        assert sub.get(0.05) is None
        broker.publish("nothing-yet", "live")
        assert [e.text for e in take(sub, 1)] == ["live"]


# -- live delivery --------------------------------------------------------------------


def test_across_brokers_in_order(make_broker):
    reader_side, publisher_side = make_broker(), make_broker()
    with reader_side.subscribe("c") as sub:
        ids = [publisher_side.publish("c", i) for i in range(200)]
        events = take(sub, 200)
    assert values(events) == list(range(200))
    assert [e.id for e in events] == ids


def test_one_reader_connection_for_all_subscribers(broker):
    subs = [broker.subscribe(f"c{i % 5}") for i in range(50)]
    try:
        # The reader thread connects on its own: wait for it (a busy machine may
        # take a while), then there must be exactly one connection.
        assert wait_until(lambda: bool(redis_env.reader_connections(broker.reader_name)))
        assert len(redis_env.reader_connections(broker.reader_name)) == 1
        for i in range(5):
            broker.publish(f"c{i}", i)
        for i, sub in enumerate(subs):
            assert values(take(sub, 1)) == [i % 5]
    finally:
        for sub in subs:
            sub.close()


def test_new_channel_is_picked_up_while_the_reader_blocks(broker):
    with broker.subscribe("first"):
        assert wait_until(lambda: bool(redis_env.reader_connections(broker.reader_name)))
        with broker.subscribe("second") as sub:
            broker.publish("second", "x")
            # Well within block_ms: the reader was woken for the new channel.
            assert sub.get(broker.block_ms / 1000 / 2) is not None


def test_threads_and_asyncio_tasks_at_once(make_broker):
    broker, other = make_broker(), make_broker()
    n = 100
    thread_sub = broker.subscribe("c")
    thread_got: list[int] = []

    def consume() -> None:
        thread_got.extend(values(take(thread_sub, n)))

    async def main() -> list[int]:
        sub = broker.subscribe("c")
        thread = threading.Thread(target=consume)
        thread.start()
        await asyncio.get_running_loop().run_in_executor(
            None, lambda: [other.publish("c", i) for i in range(n)]
        )
        got = []
        async for event in sub:
            got.append(event.json())
            if len(got) == n:
                break
        sub.close()
        await asyncio.get_running_loop().run_in_executor(None, thread.join, WAIT)
        return got

    assert asyncio.run(asyncio.wait_for(main(), WAIT)) == list(range(n))
    assert thread_got == list(range(n))
    thread_sub.close()


def test_apublish_and_asubscribe(broker):
    async def main() -> list[t.Any]:
        sub = await broker.asubscribe("c")
        await broker.apublish("c", {"a": 1}, event="x")
        event = await sub.aget(WAIT)
        sub.close()
        assert event is not None
        return [event.json(), event.event]

    assert asyncio.run(main()) == [{"a": 1}, "x"]


def test_slow_subscriber_is_disconnected_and_resumes(make_broker, caplog):
    broker = make_broker(queue_size=5)
    sub = broker.subscribe("c")
    with caplog.at_level(logging.WARNING, "kolben.broker"):
        for i in range(20):
            broker.publish("c", i)
        assert wait_until(lambda: sub.closed)
    assert "fell more than 5 events behind" in caplog.text
    assert values(sub) == [0, 1, 2, 3, 4]
    with broker.subscribe("c", last_event_id=sub.last_id) as again:
        assert values(take(again, 15)) == list(range(5, 20))


# -- faults ---------------------------------------------------------------------------


def test_reader_survives_client_kill_and_loses_nothing(make_broker, caplog):
    broker, other = make_broker(), make_broker()
    admin = redis_env.admin()
    with broker.subscribe("c") as sub:
        expected = [other.publish("c", "before")]
        assert [e.id for e in take(sub, 1)] == expected
        with caplog.at_level(logging.WARNING, "kolben.broker"):
            for round_ in range(3):
                assert wait_until(lambda: bool(redis_env.reader_connections(broker.reader_name)))
                killed = admin.execute_command("CLIENT KILL TYPE normal")
                assert killed >= 1
                # Published while the reader is away: it must resume from its last id.
                expected += [other.publish("c", f"{round_}-{i}") for i in range(50)]
                assert [e.id for e in take(sub, 50)] == expected[-50:]
        assert sub.get(0.05) is None
    assert "reconnecting" in caplog.text
    assert "connected to Redis again" in caplog.text
    admin.close()


def test_unreachable_redis_publish_raises_broker_error(make_broker, caplog):
    port = redis_env.closed_port()
    broker = make_broker(url=f"redis://:s3cret@127.0.0.1:{port}/0")
    with caplog.at_level(logging.ERROR, "kolben.broker"), pytest.raises(BrokerError) as info:
        broker.publish("c", "lost?")
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "BROKER_URL" in message
    assert "s3cret" not in message
    assert "s3cret" not in caplog.text
    assert "Could not publish" in caplog.text
    with pytest.raises(BrokerError):
        broker.subscribe("c")
    with pytest.raises(BrokerError):
        broker.subscribe("c", last_event_id="1-0")
    assert broker.subscriber_count() == 0

    async def apublish() -> None:
        await broker.apublish("c", "x")

    with pytest.raises(BrokerError):
        asyncio.run(apublish())


def test_describe_url_hides_the_password():
    assert describe_url("redis://:pw@h:1/2") == "redis://:***@h:1/2"
    assert describe_url("redis://user:pw@h:1/2") == "redis://user:***@h:1/2"
    assert describe_url("redis://h:1/2") == "redis://h:1/2"


# -- through the app ------------------------------------------------------------------


@pytest.fixture
def redis_app(app: kolben.Kolben, prefix: str) -> Iterator[kolben.Kolben]:
    app.config.update(BROKER_URL=redis_env.URL, BROKER_KEY_PREFIX=prefix)

    @app.post("/publish/<name>")
    def publish(name: str) -> dict[str, str]:
        return {"id": app.broker.publish(name, kolben.request.get_json())}

    @app.get("/events/<name>")
    def events(name: str) -> kolben.Response:
        return stream_channel(name)

    yield app
    if "broker" in app.__dict__:
        app.broker.close()


def test_app_broker_from_config(redis_app, prefix):
    broker = redis_app.broker
    assert isinstance(broker, RedisBroker)
    assert broker.key_prefix == prefix
    assert broker.close in redis_app.after_serving_funcs


def test_a_hung_redis_fails_a_publish_after_the_configured_timeout(app, prefix):
    # A server that accepts connections and never answers (a Redis stopped
    # with SIGSTOP): the publish fails after about three BROKER_REDIS_TIMEOUTs.
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    app.config.update(
        BROKER_URL=f"redis://127.0.0.1:{port}/0",
        BROKER_KEY_PREFIX=prefix,
        BROKER_REDIS_TIMEOUT=0.2,
    )
    try:
        with app.app_context():
            started = time.monotonic()
            with pytest.raises(BrokerError):
                app.broker.publish("c", {"x": 1})
            assert time.monotonic() - started < 3.0
    finally:
        stop.set()
        thread.join(2)
        if "broker" in app.__dict__:
            app.broker.close()
        for conn in held:
            conn.close()
        listener.close()


def test_the_broker_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="BROKER_REDIS_TIMEOUT"):
        RedisBroker(redis_env.URL, timeout=0)


def test_unreachable_redis_is_a_503_for_publish_and_a_retry_for_streams(app, client, prefix):
    app.config.update(
        BROKER_URL=f"redis://127.0.0.1:{redis_env.closed_port()}/0", BROKER_KEY_PREFIX=prefix
    )

    @app.post("/publish")
    def publish() -> dict[str, str]:
        return {"id": app.broker.publish("c", kolben.request.get_json())}

    @app.get("/events")
    def events() -> kolben.Response:
        return stream_channel("c")

    try:
        response = client.post("/publish", json={"x": 1})
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert b"127.0.0.1" not in response.data
        # The stream, though, is a 200 that tells the browser when to try
        # again, and ends: an EventSource given a 503 gives up for good.
        events = client.get("/events")
        assert events.status_code == 200
        assert events.mimetype == "text/event-stream"
        # The delay alone (no data line): the page gets no message.
        assert events.data.endswith(b": open\n\nretry: 2000\n\n")
    finally:
        app.broker.close()


def test_publish_posts_and_stream_channel_replays(redis_app, client):
    ids = [client.post("/publish/chat", json={"n": i}).get_json()["id"] for i in range(5)]
    stream = asyncio.run(
        asgi_stream(
            redis_app,
            "/events/chat",
            headers={"Last-Event-ID": ids[1]},
            until=lambda p: len(p.events) == 5,
            when_open=lambda: [redis_app.broker.publish("chat", {"n": i}) for i in (5, 6)],
        )
    )
    assert [e.data for e in stream.parser.events] == [f'{{"n": {i}}}' for i in range(2, 7)]
    assert [e.last_event_id for e in stream.parser.events[:3]] == ids[2:]


def test_stream_channel_in_an_async_view_subscribes_off_the_loop(redis_app, client):
    # An async view's stream_channel subscribed to Redis on the event loop: a
    # Redis that hung stopped the whole worker. It now subscribes when the body
    # starts, through the broker's asubscribe (a worker thread for Redis).
    on_loop: list[bool] = []
    subscribe = redis_app.broker.subscribe

    def recording_subscribe(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return subscribe(*args, **kwargs)

    redis_app.broker.subscribe = recording_subscribe

    @redis_app.get("/aevents/<name>")
    async def aevents(name: str) -> kolben.Response:
        return stream_channel(name)

    ids = [client.post("/publish/achat", json={"n": i}).get_json()["id"] for i in range(3)]
    stream = asyncio.run(
        asgi_stream(
            redis_app,
            "/aevents/achat",
            headers={"Last-Event-ID": ids[0]},
            until=lambda p: len(p.events) == 3,
            when_open=lambda: redis_app.broker.publish("achat", {"n": 3}),
        )
    )
    assert [e.data for e in stream.parser.events] == [f'{{"n": {i}}}' for i in (1, 2, 3)]
    assert on_loop == [False]


def test_stream_channel_in_an_async_view_with_redis_unreachable(app, client_for, prefix):
    app.config.update(
        BROKER_URL=f"redis://127.0.0.1:{redis_env.closed_port()}/0", BROKER_KEY_PREFIX=prefix
    )

    @app.get("/aevents")
    async def aevents() -> kolben.Response:
        return stream_channel("c")

    try:
        events = client_for(app).get("/aevents")
        assert events.status_code == 200
        assert events.data == b": open\n\nretry: 2000\n\n"
    finally:
        if "broker" in app.__dict__:
            app.broker.close()


def test_thousand_connect_disconnect_cycles_leave_no_subscription_and_no_reader(redis_app):
    app = redis_app
    app.broker.publish("chat", "first")

    async def cycles() -> None:
        for i in range(1000):
            await asgi_stream(
                app,
                f"/events/chat{i % 3}",
                headers={"Last-Event-ID": "0-0"} if i % 2 else {},
                until=lambda p: bool(p.comments),
            )

    asyncio.run(cycles())
    broker = t.cast(RedisBroker, app.broker)
    assert broker.subscriber_count() == 0
    assert wait_until(lambda: not broker.reader_alive())
    # The reader thread has been told to stop; give it a moment to end.
    assert wait_until(
        lambda: not [th for th in threading.enumerate() if th.name == "kolben-broker-reader"]
    )
    assert wait_until(lambda: not redis_env.reader_connections(broker.reader_name))
    assert broker._positions == {}


def test_closing_the_broker_stops_the_reader(broker):
    sub = broker.subscribe("c")
    assert broker.reader_alive()
    broker.close()
    assert not broker.reader_alive()
    assert sub.closed
    with pytest.raises(RuntimeError, match="closed"):
        broker.subscribe("c")
