"""Server-Sent Events: the Event encoding, the EventStream response under both
doors (sync and async sources, keep-alives, disconnects) and stream_channel with
the in-process broker (Last-Event-ID replay, no leaks)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kolben
from kolben.broker import parse_event_id
from kolben.json.provider import DefaultJSONProvider
from kolben.sse import KEEPALIVE, OPENING, Event, EventStream, stream_channel
from sse_apps.asgi import asgi_stream
from sse_apps.parser import Parser, Received, parse

WAIT = 10.0  # bound for waits that should end quickly


# -- Event encoding -------------------------------------------------------------------


def test_string_data_is_sent_as_it_is():
    assert Event("hello").encode() == b"data: hello\n\n"
    assert Event("").encode() == b"data: \n\n"  # dispatched, with empty data
    assert parse(Event("").encode()).events == [Received("")]
    assert Event(" x ").encode() == b"data:  x \n\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_data_is_split_on_every_kind_of_newline(newline):
    assert Event(f"a{newline}b{newline}").encode() == b"data: a\ndata: b\ndata: \n\n"


def test_other_unicode_line_separators_are_data():
    assert Event("a\u2028b\x0bc").encode() == "data: a\u2028b\x0bc\n\n".encode()


def test_all_fields():
    event = Event("x", event="update", id="7-1", retry=3000)
    assert event.encode() == b"id: 7-1\nevent: update\nretry: 3000\ndata: x\n\n"
    assert (event.data, event.event, event.id, event.retry) == ("x", "update", "7-1", 3000)
    assert event == Event("x", event="update", id="7-1", retry=3000)
    assert "update" in repr(event)


def test_empty_id_resets_the_last_event_id():
    assert Event("x", id="").encode() == b"id: \ndata: x\n\n"
    parser = parse(Event("a", id="5").encode() + Event("b", id="").encode())
    assert [e.last_event_id for e in parser.events] == ["5", ""]


def test_non_string_data_is_json_with_the_default_provider_outside_an_app():
    event = Event({"b": [1, "é"], "a": None})
    assert event.json() == {"b": [1, "é"], "a": None}
    assert event.encode() == b'data: {"b": [1, "\\u00e9"], "a": null}\n\n'


def test_non_string_data_uses_the_apps_json_provider(app):
    class Compact(DefaultJSONProvider):
        def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
            return super().dumps(obj, separators=(",", ":"), **kwargs)

    app.json = Compact(app)
    with app.app_context():
        assert Event({"b": 1, "a": 2}).encode() == b'data: {"a":2,"b":1}\n\n'


def test_bytes_data_is_utf8_text():
    assert Event("é".encode()).encode() == "data: é\n\n".encode()


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\r\nb", "\n"])
def test_line_break_in_event_type_is_refused(bad):
    with pytest.raises(ValueError, match="line break"):
        Event("x", event=bad)


@pytest.mark.parametrize("bad", ["1\n2", "1\r", "x\0y"])
def test_line_break_or_nul_in_id_is_refused(bad):
    with pytest.raises(ValueError, match=r"line break|NUL"):
        Event("x", id=bad)


@pytest.mark.parametrize("bad", [-1, True, "10", 1.5])
def test_retry_must_be_milliseconds(bad):
    with pytest.raises(ValueError, match="retry"):
        Event("x", retry=bad)


@pytest.mark.parametrize(
    "fields",
    [{"data": "a\ud800b"}, {"data": "x", "event": "\ud800"}, {"data": "x", "id": "\udc80"}],
    ids=["data", "event-type", "id"],
)
def test_text_that_is_not_utf8_is_refused_when_the_event_is_made(fields):
    # A lone surrogate (json.loads makes one of "\ud800") can't be encoded: the
    # event fails where it is made, not later in every stream that sends it.
    with pytest.raises(ValueError, match="lone surrogate"):
        Event(**fields)


def test_event_type_and_id_must_be_strings():
    with pytest.raises(TypeError):
        Event("x", event=t.cast(str, 1))
    with pytest.raises(TypeError):
        Event("x", id=t.cast(str, 1))


field = st.text(alphabet=st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)))


@given(
    data=st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    event=st.none() | field,
    event_id=st.none() | field,
)
def test_what_a_browser_parses_is_what_was_sent(data, event, event_id):
    body = OPENING + Event(data, event=event, id=event_id).encode()
    parser = parse(body)
    expected = re.sub(r"\r\n|\r", "\n", data)
    assert parser.events == [Received(expected, event or "message", event_id or "")]


# -- EventStream through both doors ---------------------------------------------------


def test_headers_and_wrapped_items(app, client):
    @app.get("/events")
    def events() -> EventStream:
        return EventStream([Event("one", event="a", id="1"), "two", {"three": 3}])

    response = client.get("/events")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Length" not in response.headers
    parser = parse(response.data)
    assert parser.comments == ["open"]
    assert parser.events == [
        Received("one", "a", "1"),
        Received("two", "message", "1"),
        Received('{"three": 3}', "message", "1"),
    ]


def test_async_source(app, client):
    @app.get("/events")
    def events() -> EventStream:
        async def generate() -> t.AsyncIterator[t.Any]:
            for i in range(3):
                await asyncio.sleep(0)
                yield Event(i, id=str(i))

        return EventStream(generate())

    parser = parse(client.get("/events").data)
    assert [(e.data, e.last_event_id) for e in parser.events] == [
        ("0", "0"),
        ("1", "1"),
        ("2", "2"),
    ]


def test_items_are_json_encoded_with_the_apps_provider_while_streaming(app, client):
    class Marked(DefaultJSONProvider):
        def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
            return "marked:" + super().dumps(obj, **kwargs)

    app.json = Marked(app)

    @app.get("/events")
    def events() -> EventStream:
        async def generate() -> t.AsyncIterator[t.Any]:
            yield {"a": 1}

        return EventStream(generate())

    assert parse(client.get("/events").data).events[0].data == 'marked:{"a": 1}'


def test_async_source_gets_keepalives_during_silence(app, client):
    @app.get("/events")
    def events() -> EventStream:
        async def generate() -> t.AsyncIterator[str]:
            yield "before"
            await asyncio.sleep(0.5)  # ten keep-alive periods of silence
            yield "after"

        return EventStream(generate(), keepalive=0.05)

    parser = parse(client.get("/events").data)
    assert [e.data for e in parser.events] == ["before", "after"]
    assert "keepalive" in parser.comments


def test_sync_source_yielding_none_gets_keepalives(app, client):
    @app.get("/events")
    def events() -> EventStream:
        def generate() -> t.Iterator[str | None]:
            yield "before"
            deadline = time.monotonic() + 0.3
            while time.monotonic() < deadline:
                time.sleep(0.01)
                yield None  # nothing yet
            yield "after"

        return EventStream(generate(), keepalive=0.05)

    parser = parse(client.get("/events").data)
    assert [e.data for e in parser.events] == ["before", "after"]
    assert "keepalive" in parser.comments


def test_no_keepalive_when_disabled(app, client):
    @app.get("/events")
    def events() -> EventStream:
        async def generate() -> t.AsyncIterator[str]:
            await asyncio.sleep(0.1)
            yield "x"

        return EventStream(generate(), keepalive=None)

    assert parse(client.get("/events").data).comments == ["open"]


def test_stream_with_context_source(app, client):
    @app.get("/events")
    def events() -> EventStream:
        @kolben.stream_with_context
        async def generate() -> t.AsyncIterator[str]:
            await asyncio.sleep(0)
            yield kolben.request.args["name"]

        return EventStream(generate(), keepalive=0.5)

    assert parse(client.get("/events?name=ada").data).events[0].data == "ada"


def test_status_and_headers_arguments(app, client):
    @app.get("/events")
    def events() -> EventStream:
        return EventStream(["x"], status=201, headers={"X-Extra": "1"})

    response = client.get("/events")
    assert response.status_code == 201
    assert response.headers["X-Extra"] == "1"


def test_invalid_arguments():
    with pytest.raises(TypeError, match="iterable"):
        EventStream(t.cast(t.Any, 42))
    with pytest.raises(ValueError, match="keepalive"):
        EventStream([], keepalive=0)


def test_get_data_iterates_a_sync_source():
    assert EventStream(["a"]).get_data() == OPENING + b"data: a\n\n"


def test_client_disconnect_closes_the_source(app, client):
    closed = threading.Event()

    @app.get("/events")
    def events() -> EventStream:
        def generate() -> t.Iterator[str]:
            try:
                while True:
                    yield "tick"
            finally:
                closed.set()

        return EventStream(generate())

    response = client.get("/events", buffered=False)
    chunks = iter(response.response)
    assert next(chunks) == OPENING
    assert next(chunks) == b"data: tick\n\n"
    response.close()
    assert closed.is_set()


# -- driving the ASGI door by hand, with a client that disconnects --------------------


def test_asgi_disconnect_while_an_async_source_waits_closes_it(app):
    closed = threading.Event()

    @app.get("/events")
    def events() -> EventStream:
        async def generate() -> t.AsyncIterator[str]:
            try:
                yield "first"
                await asyncio.sleep(WAIT * 2)  # the client leaves during this
                yield "never"
            finally:
                closed.set()

        return EventStream(generate(), keepalive=None)

    stream = asyncio.run(asgi_stream(app, "/events", until=lambda p: len(p.events) == 1))
    assert [e.data for e in stream.parser.events] == ["first"]
    assert closed.is_set()


# -- stream_channel -------------------------------------------------------------------


@pytest.fixture
def channel_app(app: kolben.Kolben) -> kolben.Kolben:
    @app.get("/events/<name>")
    def events(name: str) -> EventStream:
        return stream_channel(name, keepalive=5)

    @app.post("/publish/<name>")
    def publish(name: str) -> dict[str, str]:
        return {"id": app.broker.publish(name, kolben.request.get_json())}

    return app


def test_stream_channel_replays_after_last_event_id(channel_app, client):
    app = channel_app
    ids = [app.broker.publish("chat", {"n": i}) for i in range(5)]
    response = client.get("/events/chat", headers={"Last-Event-ID": ids[1]}, buffered=False)
    assert response.mimetype == "text/event-stream"
    parser = Parser()
    chunks = iter(response.response)
    while len(parser.events) < 3:
        parser.feed(next(chunks))
    # Now live: published from another thread while this one waits.
    threading.Timer(0.01, app.broker.publish, args=("chat", {"n": 5})).start()
    while len(parser.events) < 4:
        parser.feed(next(chunks))
    response.close()
    assert [e.data for e in parser.events] == [f'{{"n": {i}}}' for i in (2, 3, 4, 5)]
    assert [e.last_event_id for e in parser.events[:3]] == ids[2:]
    assert all(parse_event_id(e.last_event_id) for e in parser.events)
    assert app.broker.subscriber_count() == 0


@pytest.mark.parametrize("header", [False, True])
def test_stream_channel_starts_after_a_given_id_unless_the_header_says(app, header):
    # A page renders where its stream starts (events published before its
    # EventSource's first connection are not lost); the Last-Event-ID header a
    # reconnection sends wins.
    since: list[str] = []

    @app.get("/events/<name>")
    def events(name: str) -> EventStream:
        return stream_channel(name, keepalive=5, last_event_id=since[0])

    ids = [app.broker.publish("chat", i) for i in range(5)]
    since.append(ids[1])
    headers = {"Last-Event-ID": ids[3]} if header else {}
    stream = asyncio.run(
        asgi_stream(
            app,
            "/events/chat",
            headers=headers,
            until=lambda p: len(p.events) == (1 if header else 3),
        )
    )
    assert [int(e.data) for e in stream.parser.events] == ([4] if header else [2, 3, 4])


def test_stream_channel_replays_and_goes_live_under_asgi(channel_app):
    app = channel_app
    ids = [app.broker.publish("chat", i) for i in range(5)]

    def publish_live() -> None:
        for i in range(5, 10):
            app.broker.publish("chat", i)

    stream = asyncio.run(
        asgi_stream(
            app,
            "/events/chat",
            headers={"Last-Event-ID": ids[2]},
            until=lambda p: len(p.events) == 7,
            when_open=publish_live,
        )
    )
    assert stream.status == 200
    assert stream.headers["content-type"] == "text/event-stream"
    assert [int(e.data) for e in stream.parser.events] == list(range(3, 10))
    assert app.broker.subscriber_count() == 0


def test_publish_then_stream_across_requests(channel_app, client):
    app = channel_app
    first = client.post("/publish/news", json={"headline": "a"}).get_json()["id"]
    second = client.post("/publish/news", json={"headline": "b"}).get_json()["id"]
    assert parse_event_id(first) < parse_event_id(second)  # type: ignore[operator]
    with app.broker.subscribe("news", last_event_id=first) as sub:
        event = sub.get(0)
        assert event is not None
        assert event.json() == {"headline": "b"}


def test_a_client_cant_poison_a_channel_with_a_lone_surrogate(channel_app, client):
    # A hostile JSON body published as a string: the publishing request fails;
    # before, the in-memory broker kept the event, and every stream that sent it
    # (each reconnection replaying it included) died encoding it.
    app = channel_app
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.post("/say/<name>")
    def say_view(name: str) -> dict[str, str]:
        return {"id": app.broker.publish(name, kolben.request.get_json()["text"])}

    def say(body: bytes) -> int:
        headers = {"Content-Type": "application/json"}
        return client.post("/say/room", data=body, headers=headers).status_code

    assert say(b'{"text": "before"}') == 200
    assert say(b'{"text": "\\ud800"}') == 500
    assert say(b'{"text": "after"}') == 200
    with app.broker.subscribe("room", last_event_id="0-0") as sub:
        replayed = [sub.get(0), sub.get(0), sub.get(0)]
    assert [e.encode() for e in replayed if e is not None] == [
        f"id: {e.id}\ndata: {e.text}\n\n".encode() for e in replayed if e is not None
    ]
    assert [e.text for e in replayed if e is not None] == ["before", "after"]


def test_malformed_last_event_id_streams_live(channel_app):
    app = channel_app
    app.broker.publish("chat", "old")
    stream = asyncio.run(
        asgi_stream(
            app,
            "/events/chat",
            headers={"Last-Event-ID": "not an id"},
            until=lambda p: len(p.events) == 1,
            when_open=lambda: app.broker.publish("chat", "new"),
        )
    )
    assert [e.data for e in stream.parser.events] == ["new"]


def test_head_request_leaves_no_subscription(channel_app, client):
    response = client.head("/events/chat")
    assert response.status_code == 200
    assert response.data == b""
    assert channel_app.broker.subscriber_count() == 0


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("replaced_by", ["after_request error", "after_request response"])
def test_a_stream_channel_its_response_does_not_send_leaves_no_subscription(
    app, client, kind, replaced_by
):
    # A sync view subscribes at once: when an after_request function (or the
    # error handling of its error) replaced the stream, the subscription
    # stayed on the broker for good, one per request.
    if kind == "sync":

        @app.get("/events")
        def events():
            return stream_channel("chat")

    else:

        @app.get("/events")
        async def events():
            return stream_channel("chat")

    @app.after_request
    def replace(response):
        if replaced_by == "after_request error":
            raise RuntimeError("after_request failed")
        return kolben.Response("maintenance", 503)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    for _ in range(3):
        response = client.get("/events")
        assert response.status_code == (500 if replaced_by == "after_request error" else 503)
        response.close()
    assert app.broker.subscriber_count() == 0


def test_a_stream_channel_sent_stays_subscribed_while_it_streams(channel_app, client):
    response = client.get("/events/chat", buffered=False)
    assert response.status_code == 200
    assert channel_app.broker.subscriber_count() == 1
    response.close()
    assert channel_app.broker.subscriber_count() == 0


def test_stream_channel_needs_a_request(app):
    with app.app_context(), pytest.raises(RuntimeError, match="Last-Event-ID"):
        stream_channel("chat")


def test_broker_closing_ends_the_streams(channel_app):
    app = channel_app
    stream = asyncio.run(
        asgi_stream(
            app,
            "/events/chat",
            until=lambda p: False,  # the server ends it
            when_open=app.broker.close,
        )
    )
    assert stream.parser.events == []
    assert app.broker.subscriber_count() == 0


def test_thousand_connect_disconnect_cycles_leave_no_subscription(channel_app, client):
    app = channel_app

    async def cycles() -> None:
        for i in range(1000):
            await asgi_stream(app, "/events/chat", until=lambda p: bool(p.comments))
            if i % 100 == 0:
                app.broker.publish("chat", i)

    asyncio.run(cycles())
    for _ in range(100):
        response = client.get("/events/chat", buffered=False)
        assert next(iter(response.response)) == OPENING
        response.close()
    assert app.broker.subscriber_count() == 0
    assert app.broker._subscribers == {}


def test_keepalive_on_an_idle_channel(app, client):
    @app.get("/events")
    def events() -> EventStream:
        return stream_channel("idle", keepalive=0.05)

    stream = asyncio.run(asgi_stream(app, "/events", until=lambda p: "keepalive" in p.comments))
    assert stream.parser.events == []
    response = client.get("/events", buffered=False)
    chunks = iter(response.response)
    assert next(chunks) == OPENING
    assert next(chunks) == KEEPALIVE
    response.close()
    assert app.broker.subscriber_count() == 0


def test_event_stream_with_an_app_response_class_of_its_own(
    client_for: t.Callable[..., kolben.testing.KolbenClient],
) -> None:
    """An app with its own ``response_class`` streams an EventStream (which
    make_response does not turn into that class, as it does other responses)."""
    from kolben import Kolben, Response

    class AppResponse(Response):
        pass

    app = Kolben(__name__)
    app.response_class = AppResponse

    @app.route("/events")
    def events() -> EventStream:
        return EventStream(iter(["one", "two"]), keepalive=None)

    rv = client_for(app).get("/events")
    assert rv.status_code == 200
    assert rv.mimetype == "text/event-stream"
    assert rv.get_data() == OPENING + b"data: one\n\ndata: two\n\n"
