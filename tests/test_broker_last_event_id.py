"""A ``Last-Event-ID`` past what a Redis Stream id can hold (two unsigned 64-bit
numbers) is ignored, "live from now", as docs/sse.md promises: with both brokers
(the Redis one against the real Redis on 127.0.0.1:6379), directly and through
``stream_channel`` under both doors. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import time
import typing as t
from collections.abc import Iterator

import pytest

import kolben
from kolben.broker import Broker, Subscription, parse_event_id
from kolben.broker.memory import MemoryBroker
from kolben.sse import stream_channel
from sse_apps import redis_env
from sse_apps.asgi import asgi_stream

WAIT = 10.0
#: Ids past what Redis can hold (each part must fit in an unsigned 64-bit number).
OUT_OF_RANGE = [
    "99999999999999999999-0",
    "18446744073709551616-0",
    "0-18446744073709551616",
    "18446744073709551616-18446744073709551616",
    "99999999999999999999-99999999999999999999",
]
#: The largest ids Redis can hold: valid, and newer than any event.
LARGEST = ["18446744073709551615-0", "18446744073709551615-18446744073709551615"]


def take(sub: Subscription, n: int) -> list[t.Any]:
    out = []
    for _ in range(n):
        event = sub.get(WAIT)
        assert event is not None, f"only {len(out)} of {n} events arrived"
        out.append(event)
    return out


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def any_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    if request.param == "redis":  # Redis is needed only here, not for "memory"
        yield request.getfixturevalue("make_broker")()
        return
    broker = MemoryBroker()
    try:
        yield broker
    finally:
        broker.close()


@pytest.mark.parametrize("last_event_id", OUT_OF_RANGE)
def test_an_out_of_range_last_event_id_is_ignored(
    any_broker: Broker, last_event_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert parse_event_id(last_event_id) is None
    any_broker.publish("c", "old")
    with caplog.at_level(logging.INFO, "kolben.broker"):
        sub = any_broker.subscribe("c", last_event_id=last_event_id)
    with sub:
        assert sub.get(0.05) is None
        any_broker.publish("c", "live")
        assert [e.text for e in take(sub, 1)] == ["live"]
    assert "malformed Last-Event-ID" in caplog.text


@pytest.mark.parametrize(
    "last_event_id", ["\u0661\u0662-\u0663", "12-3\xa0", "\x8512-3", "\uff112-3", "12 -3"]
)
def test_an_id_of_other_digits_or_spaces_is_not_an_id(last_event_id: str) -> None:
    """ASCII digits only, and only HTTP's whitespace around them."""
    assert parse_event_id(last_event_id) is None


def test_http_whitespace_around_an_id_is_ignored() -> None:
    assert parse_event_id(" \t12-3\t ") == (12, 3)


@pytest.mark.parametrize("last_event_id", LARGEST)
def test_the_largest_last_event_id_streams_live(any_broker: Broker, last_event_id: str) -> None:
    """Valid, but newer than any event: live from now (nothing can come after
    the very largest id, and asking Redis for what does is an error)."""
    assert parse_event_id(last_event_id) is not None
    any_broker.publish("c", "old")
    with any_broker.subscribe("c", last_event_id=last_event_id) as sub:
        assert sub.get(0.05) is None
        any_broker.publish("c", "live")
        assert [e.text for e in take(sub, 1)] == ["live"]


@pytest.fixture
def sse_app(app: kolben.Kolben, request: pytest.FixtureRequest) -> Iterator[kolben.Kolben]:
    if request.param == "redis":
        prefix = request.getfixturevalue("prefix")
        app.config.update(BROKER_URL=redis_env.URL, BROKER_KEY_PREFIX=prefix)

    @app.get("/events")
    def events() -> kolben.Response:
        return stream_channel("c")

    yield app
    if "broker" in app.__dict__:
        app.broker.close()


@pytest.mark.parametrize(
    "sse_app", ["memory", pytest.param("redis", marks=pytest.mark.redis)], indirect=True
)
@pytest.mark.parametrize("last_event_id", [*OUT_OF_RANGE[:2], LARGEST[1]])
def test_stream_channel_with_an_out_of_range_id_streams_live(
    sse_app: kolben.Kolben, door: str, last_event_id: str
) -> None:
    """No 503: the stream opens, skips the old event and gets the live one."""
    sse_app.broker.publish("c", "old")
    headers = {"Last-Event-ID": last_event_id}
    if door == "asgi":
        stream = asyncio.run(
            asgi_stream(
                sse_app,
                "/events",
                headers=headers,
                until=lambda p: len(p.events) == 1,
                when_open=lambda: sse_app.broker.publish("c", "live"),
            )
        )
        assert stream.status == 200
        assert [e.data for e in stream.parser.events] == ["live"]
        return
    client = sse_app.test_client()
    with client.get("/events", headers=headers, buffered=False) as response:
        assert response.status_code == 200
        chunks = iter(response.response)
        assert next(chunks) == b": open\n\n"
        sse_app.broker.publish("c", "live")
        deadline = time.monotonic() + WAIT
        body = b""
        while b"data:" not in body and time.monotonic() < deadline:
            body += next(chunks)
        assert b"data: live\n" in body
        assert b"old" not in body
