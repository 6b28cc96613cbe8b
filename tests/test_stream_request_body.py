"""``stream_request_body``: a view that reads its request body as it arrives, under
both doors, with the body limit enforced while reading."""

from __future__ import annotations

import asyncio
import hashlib
import typing as t

import pytest

import kolben
from kolben import request, stream_request_body
from test_asgi import http_scope

BODY = bytes(range(256)) * 1000  # 256,000 bytes


@pytest.fixture
def sapp(app: kolben.Kolben) -> kolben.Kolben:
    @app.post("/async")
    @stream_request_body
    async def async_upload() -> t.Any:
        digest = hashlib.sha256()
        chunks = 0
        async for chunk in request.iter_body():
            digest.update(chunk)
            chunks += 1
        return {"sha256": digest.hexdigest(), "chunks": chunks}

    @app.post("/sync")
    @stream_request_body
    def sync_upload() -> t.Any:
        digest = hashlib.sha256()
        while chunk := request.stream.read(10_000):
            digest.update(chunk)
        return {"sha256": digest.hexdigest()}

    @app.post("/async-data")
    @stream_request_body
    async def async_data() -> t.Any:
        return {"size": len(request.get_data())}

    @app.post("/json")
    async def normal_json() -> t.Any:
        # Not marked: the body is received first, as usual, in the same app.
        return {"got": request.get_json()}

    return app


@pytest.mark.parametrize("path", ["/async", "/sync"])
def test_whole_body_arrives(sapp: kolben.Kolben, client: t.Any, path: str) -> None:
    rv = client.post(path, data=BODY)
    assert rv.status_code == 200
    assert rv.json["sha256"] == hashlib.sha256(BODY).hexdigest()


def test_unmarked_views_still_get_the_whole_body(sapp: kolben.Kolben, client: t.Any) -> None:
    assert client.post("/json", json={"a": [1, 2]}).json == {"got": {"a": [1, 2]}}


@pytest.mark.parametrize("path", ["/async", "/sync"])
def test_body_limit_is_enforced_while_reading(
    sapp: kolben.Kolben, client: t.Any, path: str
) -> None:
    sapp.config["MAX_CONTENT_LENGTH"] = 100_000
    assert client.post(path, data=BODY).status_code == 413
    assert client.post(path, data=BODY[:50_000]).status_code == 200


def test_iter_body_without_the_mark(app: kolben.Kolben, client: t.Any) -> None:
    @app.post("/")
    async def plain() -> t.Any:
        return {"size": sum([len(c) async for c in request.iter_body(chunk_size=1000)])}

    assert client.post("/", data=BODY).json == {"size": len(BODY)}


# -- through the ASGI callable, watching the order of receive and read ------------------


def _chunked(parts: list[bytes]) -> list[dict[str, t.Any]]:
    return [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]


async def _serve(
    app: kolben.Kolben, path: str, parts: list[bytes], log: list[str]
) -> list[dict[str, t.Any]]:
    incoming = _chunked(parts)
    sent: list[dict[str, t.Any]] = []

    async def receive() -> dict[str, t.Any]:
        if incoming:
            log.append("received")
            return incoming.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, t.Any]) -> None:
        sent.append(dict(message))

    scope = http_scope(path, method="POST", headers=[("content-type", "text/plain")])
    await asyncio.wait_for(app(scope, receive, send), 5)
    return sent


def test_async_view_reads_chunks_as_they_arrive(app: kolben.Kolben) -> None:
    log: list[str] = []

    @app.post("/")
    @stream_request_body
    async def upload() -> str:
        log.append("view starts")
        async for _ in request.iter_body():
            log.append("read")
        return "ok"

    sent = asyncio.run(_serve(app, "/", [b"a", b"b", b"c"], log))
    assert sent[0]["status"] == 200
    assert log == ["view starts", "received", "read", "received", "read", "received", "read"]


def test_unmarked_async_view_gets_the_body_first(app: kolben.Kolben) -> None:
    log: list[str] = []

    @app.post("/")
    async def upload() -> str:
        log.append("view starts")
        return request.get_data(as_text=True)

    @app.post("/other")
    @stream_request_body
    async def other() -> str:
        return "other"

    sent = asyncio.run(_serve(app, "/", [b"a", b"b"], log))
    assert log == ["received", "received", "view starts"]
    assert sent[-1]["body"] == b"ab"


def test_async_view_reading_the_body_at_once_gets_a_clear_413(app: kolben.Kolben) -> None:
    app.config["TESTING"] = False

    @app.post("/")
    @stream_request_body
    async def upload() -> str:
        return str(len(request.get_data()))

    client = app.asgi_test_client()
    rv = client.post("/", data=b"x" * 10)
    assert rv.status_code == 413


def test_route_matched_once(app: kolben.Kolben, client: t.Any) -> None:
    calls: list[str] = []

    class Counting(kolben.routing.BaseConverter):
        def to_python(self, value: str) -> str:
            calls.append(value)
            return value

    app.url_map.converters["counting"] = Counting

    @app.post("/s/<counting:name>")
    @stream_request_body
    async def streamed(name: str) -> str:
        return name + str(sum([len(c) async for c in request.iter_body()]))

    @app.post("/n/<counting:name>")
    def normal(name: str) -> str:
        return name + str(len(request.get_data()))

    assert client.post("/s/a", data=b"xyz").text == "a3"
    assert client.post("/n/b", data=b"xy").text == "b2"
    assert calls == ["a", "b"]
