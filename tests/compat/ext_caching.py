"""Flask-Caching on kolben: cached views (sync and async, by path and by query
string, with ``unless`` and ``response_filter``), the hit header Flask-Caching
adds to ``app.after_request_funcs[None]`` mid-request, memoized functions,
cached ``Response`` objects (pickled for Redis) and the Jinja ``{% cache %}`` tag,
with SimpleCache and the real Redis.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors. Redis keys use a unique prefix and are deleted
afterwards.
"""

from __future__ import annotations

import asyncio
import itertools
import typing as t
import uuid
from collections.abc import Iterator

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
import redis
from flask_caching import Cache, make_template_fragment_key

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["simple", pytest.param("redis", marks=pytest.mark.redis)])
def cache_config(request: pytest.FixtureRequest) -> Iterator[dict[str, t.Any]]:
    if request.param == "simple":
        yield {"CACHE_TYPE": "SimpleCache"}
        return
    prefix = f"kolben-compat-{uuid.uuid4().hex[:12]}-"
    yield {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": prefix}
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def app(cache_config: dict[str, t.Any]) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, CACHE_DEFAULT_TIMEOUT=60, **cache_config)
    cache = app.extensions["test_cache"] = Cache(app)
    app.extensions["calls"] = calls = itertools.count(1)

    @app.get("/now")
    @cache.cached(unless=lambda: flask.request.args.get("fresh") == "1")
    def now() -> str:
        return f"call {next(calls)}"

    @app.get("/async-now")
    @cache.cached()
    async def async_now() -> str:
        await asyncio.sleep(0)
        return f"async call {next(calls)}"

    @app.get("/search")
    @cache.cached(query_string=True, response_hit_indication=True)
    def search() -> dict[str, t.Any]:
        return {"q": flask.request.args.get("q"), "call": next(calls)}

    @app.get("/json")
    @cache.cached()
    def as_json() -> flask.Response:
        response = flask.jsonify(call=next(calls))
        response.headers["X-Made"] = "view"
        return response

    @app.get("/flaky")
    @cache.cached(response_filter=lambda rv: not isinstance(rv, tuple))
    def flaky() -> tuple[str, int]:
        return f"failed {next(calls)}", 503

    @cache.memoize()
    def square(n: int) -> str:
        return f"{n * n} (call {next(calls)})"

    @app.get("/square/<int:n>")
    def square_view(n: int) -> str:
        if flask.request.args.get("forget") == "1":
            cache.delete_memoized(square, n)
        return square(n)

    @app.get("/fragment/<name>")
    def fragment(name: str) -> str:
        return flask.render_template_string(
            "{% cache 60, 'greeting', name %}hello {{ name }} ({{ n }}){% endcache %}",
            name=name,
            n=next(calls),
        )

    return app


def test_cached_view(client: t.Any) -> None:
    assert client.get("/now").text == "call 1"
    assert client.get("/now").text == "call 1"
    # unless=...: this request bypasses the cache.
    assert client.get("/now?fresh=1").text == "call 2"
    assert client.get("/now").text == "call 1"


def test_cached_async_view(client: t.Any) -> None:
    assert client.get("/async-now").text == "async call 1"
    assert client.get("/async-now").text == "async call 1"


def test_query_string_keys_and_hit_header(app: flask.Flask, client: t.Any) -> None:
    first = client.get("/search?q=a")
    assert first.json == {"q": "a", "call": 1}
    assert "hit_cache" not in first.headers
    again = client.get("/search?q=a")
    assert again.json == {"q": "a", "call": 1}
    # Flask-Caching added its after_request function to the app's dict mid-request.
    assert again.headers["hit_cache"] == "True"
    assert client.get("/search?q=b").json == {"q": "b", "call": 2}
    hooks = app.after_request_funcs[None]
    # (once since Flask-Caching 2.5; 2.4, the last for Python 3.10, adds it per hit)
    assert {f.__name__ for f in hooks} == {"apply_caching"}


def test_cached_response_object(client: t.Any) -> None:
    first = client.get("/json")
    again = client.get("/json")
    assert first.json == again.json == {"call": 1}
    assert again.headers["X-Made"] == "view"
    assert again.mimetype == "application/json"


def test_response_filter(client: t.Any) -> None:
    assert client.get("/flaky").text == "failed 1"
    assert client.get("/flaky").text == "failed 2"


def test_memoize(client: t.Any) -> None:
    assert client.get("/square/4").text == "16 (call 1)"
    assert client.get("/square/4").text == "16 (call 1)"
    assert client.get("/square/5").text == "25 (call 2)"
    assert client.get("/square/4?forget=1").text == "16 (call 3)"


def test_template_fragment(app: flask.Flask, client: t.Any) -> None:
    assert client.get("/fragment/ada").text == "hello ada (1)"
    assert client.get("/fragment/ada").text == "hello ada (1)"
    assert client.get("/fragment/bob").text == "hello bob (3)"
    cache: Cache = app.extensions["test_cache"]
    with app.app_context():
        cache.delete(make_template_fragment_key("greeting", vary_on=["ada"]))
    assert client.get("/fragment/ada").text == "hello ada (4)"
