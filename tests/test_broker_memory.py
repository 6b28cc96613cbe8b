"""The in-process broker: ids, retention and replay, live delivery to threads and
asyncio tasks at once, bounded queues, closing."""

from __future__ import annotations

import asyncio
import logging
import threading
import typing as t

import pytest

from kolben.broker import (
    Broker,
    BrokerError,
    Subscription,
    SubscriptionClosed,
    create_broker,
    parse_event_id,
)
from kolben.broker.memory import MemoryBroker
from kolben.json.provider import DefaultJSONProvider

WAIT = 5.0  # bound for every wait that should end quickly


def texts(events: t.Iterable[t.Any]) -> list[str]:
    return [e.text for e in events]


def drain(sub: Subscription) -> list[t.Any]:
    """Everything queued now, without waiting."""
    out = []
    while (event := sub.get(0)) is not None:
        out.append(event)
    return out


# -- ids ------------------------------------------------------------------------------


def test_ids_are_strictly_increasing_and_comparable():
    broker = MemoryBroker()
    ids = [broker.publish("c", i) for i in range(2000)]
    keys = [parse_event_id(i) for i in ids]
    assert all(k is not None for k in keys)
    assert keys == sorted(set(keys))  # strictly increasing: sorted and no repeat
    assert all(i.count("-") == 1 for i in ids)


def test_ids_are_per_channel():
    broker = MemoryBroker()
    a = [broker.publish("a", i) for i in range(50)]
    b = [broker.publish("b", i) for i in range(50)]
    assert a == sorted(a, key=parse_event_id)
    assert b == sorted(b, key=parse_event_id)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1700000000000-0", (1700000000000, 0)),
        (b"5-12", (5, 12)),
        (" 7-1 ", (7, 1)),
        ("1700000000000", None),
        ("abc", None),
        ("-1-2", None),
        ("1-2-3", None),
        ("9" * 30 + "-0", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_event_id(value, expected):
    assert parse_event_id(value) == expected


# -- publish and subscribe ------------------------------------------------------------


def test_publish_encodes_data_once_and_returns_its_id():
    broker = MemoryBroker()
    with broker.subscribe("c") as sub:
        event_id = broker.publish("c", {"b": 1, "a": [1, 2]}, event="update")
        event = sub.get(WAIT)
    assert event is not None
    assert event.id == event_id
    assert event.event == "update"
    assert event.json() == {"a": [1, 2], "b": 1}
    assert event.encode() == f"id: {event_id}\nevent: update\ndata: {event.text}\n\n".encode()
    assert sub.last_id == event_id


def test_publish_uses_the_apps_json_provider(app):
    class Compact(DefaultJSONProvider):
        def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
            return super().dumps(obj, separators=(",", ":"), **kwargs)

    app.json = Compact(app)
    with app.broker.subscribe("c") as sub:
        app.broker.publish("c", {"b": 1, "a": 2})
        assert t.cast(t.Any, sub.get(WAIT)).text == '{"a":2,"b":1}'


def test_invalid_publish_arguments():
    broker = MemoryBroker()
    with pytest.raises(ValueError, match="line break"):
        broker.publish("c", "x", event="a\nb")
    with pytest.raises(ValueError, match="non-empty string"):
        broker.publish("", "x")
    with pytest.raises(ValueError, match="non-empty string"):
        broker.subscribe(t.cast(str, None))
    with pytest.raises(TypeError):
        broker.publish("c", object())
    assert broker.subscribe("c", last_event_id=None).get(0) is None


def test_get_times_out_with_none():
    broker = MemoryBroker()
    with broker.subscribe("quiet") as sub:
        assert sub.get(0.01) is None
        assert sub.get(0) is None


def test_live_events_only_after_subscribing():
    broker = MemoryBroker()
    broker.publish("c", "before")
    with broker.subscribe("c") as sub:
        broker.publish("c", "after")
        assert texts(drain(sub)) == ["after"]


# -- replay ---------------------------------------------------------------------------


def test_replay_after_last_event_id_then_live_without_gap_or_duplicate():
    broker = MemoryBroker()
    ids = [broker.publish("c", f"e{i}") for i in range(10)]
    with broker.subscribe("c", last_event_id=ids[6]) as sub:
        broker.publish("c", "e10")
        assert texts(drain(sub)) == ["e7", "e8", "e9", "e10"]
        assert sub.last_id is not None
        assert parse_event_id(sub.last_id) > parse_event_id(ids[9])  # type: ignore[operator]


def test_replay_with_events_published_during_it_from_threads():
    broker = MemoryBroker(retention=100_000, queue_size=100_000)
    first = broker.publish("c", 0)
    stop = threading.Event()
    count = [1]

    def publisher() -> None:
        while not stop.is_set() and count[0] < 20_000:
            broker.publish("c", count[0])
            count[0] += 1

    thread = threading.Thread(target=publisher)
    thread.start()
    subs = []
    try:
        # Subscribe repeatedly while the publisher runs: each must see a contiguous run.
        for _ in range(20):
            subs.append(broker.subscribe("c", last_event_id=first))
    finally:
        stop.set()
        thread.join(WAIT)
    for sub in subs:
        got = [e.json() for e in drain(sub)]
        assert got == list(range(1, count[0]))
        sub.close()


def test_last_event_id_of_the_newest_event_replays_nothing():
    broker = MemoryBroker()
    last = [broker.publish("c", i) for i in range(3)][-1]
    with broker.subscribe("c", last_event_id=last) as sub:
        assert drain(sub) == []
        assert sub.last_id == last
        broker.publish("c", "new")
        assert texts(drain(sub)) == ["new"]


def test_last_event_id_older_than_retention_replays_all_retained():
    broker = MemoryBroker(retention=5)
    ids = [broker.publish("c", i) for i in range(12)]
    with broker.subscribe("c", last_event_id=ids[0]) as sub:
        assert [e.json() for e in drain(sub)] == [7, 8, 9, 10, 11]


@pytest.mark.parametrize("bad", ["garbage", "", "12", "1-2-3", "x" * 10_000, "\x00"])
def test_malformed_last_event_id_streams_live_only(bad, caplog):
    broker = MemoryBroker()
    broker.publish("c", "old")
    with (
        caplog.at_level(logging.INFO, "kolben.broker"),
        broker.subscribe("c", last_event_id=bad) as sub,
    ):
        assert drain(sub) == []
        broker.publish("c", "live")
        assert texts(drain(sub)) == ["live"]


def test_last_event_id_from_the_future_streams_live():
    broker = MemoryBroker()
    broker.publish("c", "old")
    with broker.subscribe("c", last_event_id="99999999999999-0") as sub:
        assert drain(sub) == []
        broker.publish("c", "live")  # its id is smaller than the client's: still sent
        assert texts(drain(sub)) == ["live"]


def test_last_event_id_on_an_unknown_channel():
    broker = MemoryBroker()
    with broker.subscribe("new", last_event_id="1-0") as sub:
        assert drain(sub) == []
        broker.publish("new", "live")
        assert texts(drain(sub)) == ["live"]


def test_retention_bounds_each_channel():
    broker = MemoryBroker(retention=3)
    for i in range(100):
        broker.publish("c", i)
    with broker.subscribe("c", last_event_id="0-0") as sub:
        assert [e.json() for e in drain(sub)] == [97, 98, 99]


# -- consumers in threads and tasks at once -------------------------------------------


def test_sync_iteration_in_a_thread():
    broker = MemoryBroker()
    sub = broker.subscribe("c")
    got: list[str] = []

    def consume() -> None:
        for event in sub:
            got.append(event.text)
            if len(got) == 3:
                sub.close()

    thread = threading.Thread(target=consume)
    thread.start()
    for i in range(3):
        broker.publish("c", f"m{i}")
    thread.join(WAIT)
    assert not thread.is_alive()
    assert got == ["m0", "m1", "m2"]
    assert broker.subscriber_count() == 0


def test_threads_and_asyncio_tasks_consume_the_same_broker_at_once():
    broker = MemoryBroker()
    n = 200
    thread_subs = [broker.subscribe("c") for _ in range(4)]
    thread_got: list[list[int]] = [[] for _ in thread_subs]

    def consume(sub: Subscription, into: list[int]) -> None:
        while len(into) < n:
            event = sub.get(WAIT)
            assert event is not None
            into.append(event.json())

    threads = [
        threading.Thread(target=consume, args=(s, g))
        for s, g in zip(thread_subs, thread_got, strict=True)
    ]

    async def main() -> list[list[int]]:
        async def consume_async(sub: Subscription) -> list[int]:
            into: list[int] = []
            async for event in sub:
                into.append(event.json())
                if len(into) == n:
                    break
            return into

        subs = [broker.subscribe("c") for _ in range(4)]
        tasks = [asyncio.ensure_future(consume_async(s)) for s in subs]
        for thread in threads:
            thread.start()

        def publish_from_a_thread() -> None:
            # Half from a worker thread, the other half from the loop's own thread.
            for i in range(n // 2):
                broker.publish("c", i)

        await asyncio.get_running_loop().run_in_executor(None, publish_from_a_thread)
        for i in range(n // 2, n):
            broker.publish("c", i)
            if i % 10 == 0:
                await asyncio.sleep(0)
        results = await asyncio.wait_for(asyncio.gather(*tasks), WAIT)
        for sub in subs:
            sub.close()
        return results

    results = asyncio.run(main())
    for thread in threads:
        thread.join(WAIT)
    for sub in thread_subs:
        sub.close()
    expected = list(range(n))
    assert results == [expected] * 4
    assert thread_got == [expected] * 4
    assert broker.subscriber_count() == 0


def test_aget_timeout_and_wakeup_from_a_thread():
    broker = MemoryBroker()

    async def main() -> tuple[t.Any, t.Any]:
        with broker.subscribe("c") as sub:
            quiet = await sub.aget(0.01)
            loop = asyncio.get_running_loop()
            loop.call_soon(threading.Thread(target=broker.publish, args=("c", "hi")).start)
            event = await sub.aget(WAIT)
            return quiet, event

    quiet, event = asyncio.run(main())
    assert quiet is None
    assert event.text == "hi"


def test_apublish_and_asubscribe():
    broker = MemoryBroker()

    async def main() -> str:
        async with await broker.asubscribe("c") as sub:
            event_id = await broker.apublish("c", "x", event="e")
            event = await sub.aget(WAIT)
            assert event is not None
            assert (event.event, event.id) == ("e", event_id)
            return event.text

    assert asyncio.run(main()) == "x"


def test_cancelled_aget_leaves_the_subscription_usable():
    broker = MemoryBroker()

    async def main() -> str:
        with broker.subscribe("c") as sub:
            task = asyncio.ensure_future(sub.aget())
            await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            broker.publish("c", "after")
            event = await sub.aget(WAIT)
            assert event is not None
            return event.text

    assert asyncio.run(main()) == "after"


# -- bounded memory -------------------------------------------------------------------


def test_a_subscriber_falling_behind_is_disconnected_and_can_resume(caplog):
    broker = MemoryBroker(retention=100, queue_size=3)
    sub = broker.subscribe("c")
    with caplog.at_level(logging.WARNING, "kolben.broker"):
        ids = [broker.publish("c", i) for i in range(10)]
    assert sub.closed
    assert "fell more than 3 events behind" in str(sub.close_reason)
    assert broker.subscriber_count("c") == 0
    [record] = [r for r in caplog.records if r.name == "kolben.broker"]
    assert "fell more than 3 events behind" in record.getMessage()
    assert "Last-Event-ID" in record.getMessage()
    # What was queued is still delivered, then iteration ends.
    assert [e.json() for e in sub] == [0, 1, 2]
    with pytest.raises(SubscriptionClosed, match="fell more than 3"):
        sub.get(0)
    # Resuming from the last delivered id replays the rest from retention.
    with broker.subscribe("c", last_event_id=sub.last_id) as again:
        assert [e.json() for e in drain(again)] == list(range(3, 10))
    assert sub.last_id == ids[2]


def test_replay_longer_than_the_queue_is_not_an_overflow():
    broker = MemoryBroker(retention=50, queue_size=2)
    for i in range(50):
        broker.publish("c", i)
    with broker.subscribe("c", last_event_id="0-0") as sub:
        broker.publish("c", 50)
        assert not sub.closed
        assert len(drain(sub)) == 51


# -- closing --------------------------------------------------------------------------


def test_close_wakes_a_waiting_thread():
    broker = MemoryBroker()
    sub = broker.subscribe("c")
    outcome: list[str] = []

    def wait() -> None:
        try:
            sub.get(WAIT * 2)
        except SubscriptionClosed:
            outcome.append("closed")

    thread = threading.Thread(target=wait)
    thread.start()
    threading.Timer(0.02, sub.close).start()
    thread.join(WAIT)
    assert outcome == ["closed"]
    sub.close()  # idempotent


def test_close_from_a_thread_wakes_an_async_consumer():
    broker = MemoryBroker()

    async def main() -> list[t.Any]:
        sub = broker.subscribe("c")
        asyncio.get_running_loop().call_later(0.02, threading.Thread(target=sub.close).start)
        return [e async for e in sub]

    assert asyncio.run(asyncio.wait_for(main(), WAIT)) == []
    assert broker.subscriber_count() == 0


def test_broker_close_ends_every_subscription():
    broker = MemoryBroker()
    subs = [broker.subscribe(f"c{i % 3}") for i in range(9)]
    broker.publish("c0", "queued")
    assert broker.subscriber_count() == 9
    broker.close()
    assert broker.subscriber_count() == 0
    assert all(s.closed for s in subs)
    assert texts(subs[0]) == ["queued"]
    assert "broker was closed" in str(subs[1].close_reason)


def test_async_context_manager_closes():
    broker = MemoryBroker()

    async def main() -> None:
        async with broker.subscribe("c") as sub:
            assert broker.subscriber_count("c") == 1
        assert sub.closed

    asyncio.run(main())
    assert broker.subscriber_count() == 0


def test_thousand_subscribe_close_cycles_leave_nothing():
    broker = MemoryBroker()
    for i in range(1000):
        with broker.subscribe(f"c{i % 7}", last_event_id="0-0"):
            broker.publish(f"c{i % 7}", i)
    assert broker.subscriber_count() == 0
    assert broker._subscribers == {}


# -- the app's broker -----------------------------------------------------------------


def test_app_broker_is_a_memory_broker_by_default(app):
    app.config.update(BROKER_RETENTION=7)
    broker = app.broker
    assert isinstance(broker, MemoryBroker)
    assert isinstance(broker, Broker)
    assert broker.retention == 7
    assert app.broker is broker
    assert broker.close in app.after_serving_funcs


def test_unknown_broker_url_is_explained(app):
    app.config["BROKER_URL"] = "amqp://localhost"
    with pytest.raises(ValueError, match="redis://host:port/db"):
        create_broker(app)


def test_broker_error_is_a_503_with_a_generic_body(app, client):
    @app.post("/publish")
    def publish() -> str:
        raise BrokerError("Redis at redis://:secret@db:6379/0 is unreachable")

    response = client.post("/publish")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert b"secret" not in response.data
    assert b"broker is unavailable" in response.data
    error = BrokerError("details")
    assert str(error) == "details"
