"""Flask-Limiter on kolben: default and per-view limits, exemptions, blueprint
limits, keys from the request, rate-limit headers, the 429 error handler, async
views, and its ``limiter`` command found through the ``flask.commands`` entry
point group, with memory and the real Redis as storage.

Flask-Limiter keeps its per-request state on ``flask.globals.request_ctx``.
Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors. Redis keys carry a unique prefix and are deleted
afterwards.
"""

from __future__ import annotations

import asyncio
import typing as t
import uuid
from collections.abc import Iterator

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
import redis
from click.testing import CliRunner
from flask.cli import FlaskGroup, ScriptInfo
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def storage(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    prefix = f"kolben-compat-{uuid.uuid4().hex[:12]}"
    if request.param == "memory":
        yield {"RATELIMIT_STORAGE_URI": "memory://", "RATELIMIT_KEY_PREFIX": prefix}
        return
    yield {"RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def app(storage: dict[str, str]) -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, RATELIMIT_HEADERS_ENABLED=True, **storage)
    limiter = Limiter(get_remote_address, app=app, default_limits=["3 per minute"])

    @app.get("/")
    def index() -> str:
        return "index"

    @app.get("/strict")
    @limiter.limit("1 per minute")
    def strict() -> str:
        return "strict"

    @app.get("/free")
    @limiter.exempt
    def free() -> str:
        return "free"

    @app.get("/keyed")
    @limiter.limit("2 per minute", key_func=lambda: flask.request.headers.get("X-Key", "none"))
    def keyed() -> str:
        return "keyed"

    @app.get("/async")
    @limiter.limit("2 per minute")
    async def async_view() -> str:
        await asyncio.sleep(0)
        return "async"

    @app.get("/only-errors")
    @limiter.limit("1 per minute", deduct_when=lambda response: response.status_code >= 400)
    def only_errors() -> tuple[str, int]:
        return "err" if flask.request.args.get("fail") else "ok", (
            400 if flask.request.args.get("fail") else 200
        )

    bp = flask.Blueprint("api", __name__)
    limiter.limit("2 per minute")(bp)

    @bp.get("/a")
    def a() -> str:
        return "a"

    @bp.get("/b")
    def b() -> str:
        return "b"

    app.register_blueprint(bp, url_prefix="/api")

    @app.errorhandler(429)
    def too_many(e: RateLimitExceeded) -> tuple[dict[str, str], int]:
        return {"error": "slow down", "limit": str(e.limit.limit)}, 429

    return app


def statuses(client: t.Any, path: str, n: int, **kwargs: t.Any) -> list[int]:
    return [client.get(path, **kwargs).status_code for _ in range(n)]


def test_default_limit_and_headers(client: t.Any) -> None:
    first = client.get("/")
    assert first.text == "index"
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert int(first.headers["X-RateLimit-Reset"]) > 0
    assert statuses(client, "/", 2) == [200, 200]
    refused = client.get("/")
    assert refused.status_code == 429
    assert refused.json == {"error": "slow down", "limit": "3 per 1 minute"}
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["Retry-After"]) > 0


def test_view_limit_and_exemption(client: t.Any) -> None:
    assert statuses(client, "/strict", 2) == [200, 429]
    assert statuses(client, "/free", 5) == [200] * 5


def test_keys_from_the_request(client: t.Any) -> None:
    assert statuses(client, "/keyed", 3, headers={"X-Key": "alice"}) == [200, 200, 429]
    assert statuses(client, "/keyed", 2, headers={"X-Key": "bob"}) == [200, 200]


def test_remote_address_is_the_key(client: t.Any) -> None:
    assert statuses(client, "/strict", 1, environ_base={"REMOTE_ADDR": "10.0.0.1"}) == [200]
    assert statuses(client, "/strict", 1, environ_base={"REMOTE_ADDR": "10.0.0.2"}) == [200]
    assert statuses(client, "/strict", 1, environ_base={"REMOTE_ADDR": "10.0.0.1"}) == [429]


def test_async_view(client: t.Any) -> None:
    assert statuses(client, "/async", 3) == [200, 200, 429]


def test_blueprint_limit_applies_to_each_route(client: t.Any) -> None:
    assert statuses(client, "/api/a", 3) == [200, 200, 429]
    assert statuses(client, "/api/b", 1) == [200]


def test_deduct_when(client: t.Any) -> None:
    assert statuses(client, "/only-errors", 3) == [200, 200, 200]
    assert statuses(client, "/only-errors?fail=1", 2) == [400, 429]


def test_limiter_command_from_the_entry_point(app: flask.Flask) -> None:
    """``limiter`` comes from the ``flask.commands`` entry point group. (Its
    subcommands need the ``flask-limiter[cli]`` extra, not installed here.)"""
    group = FlaskGroup(create_app=lambda: app)
    info = ScriptInfo(create_app=lambda: app)
    result = CliRunner().invoke(group, ["--help"], obj=info)
    assert result.exit_code == 0, result.output
    assert "limiter" in result.output
    result = CliRunner().invoke(group, ["limiter", "--help"], obj=info)
    assert result.exit_code == 0, result.output
    assert "Flask-Limiter maintenance & utility commands" in result.output
    assert "limits" in result.output
