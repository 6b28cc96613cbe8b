"""Shared fixtures: an app, its test client and CLI runner, and a guard that
fails any test leaving an application or request context pushed."""

from __future__ import annotations

import os
import socket
import typing as t
from collections.abc import Iterator

import pytest

import kolben
from kolben.caching import clear_all
from kolben.globals import _cv_app, _cv_request

_SERVICES = {"redis": ("127.0.0.1", 6379), "postgres": ("127.0.0.1", 5432)}


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1.0):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``redis`` or ``postgres`` needs that service on 127.0.0.1.

    When the service does not answer the test is skipped with a reason, except
    with ``CI=true``, where a missing service is a failure.
    """
    for name, address in _SERVICES.items():
        if item.get_closest_marker(name) is None or _answers(address):
            continue
        message = f"{name} is not answering on {address[0]}:{address[1]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: services are required)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _restore_cli_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo what CLI commands run in-process write to the environment."""
    for key in (
        "KOLBEN_APP",
        "KOLBEN_DEBUG",
        "KOLBEN_RUN_FROM_CLI",
        "FLASK_APP",
        "FLASK_DEBUG",
        "FLASK_RUN_FROM_CLI",
    ):
        monkeypatch.setenv(key, "x")  # records the original value (or its absence)
        monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _empty_caches() -> None:
    """Every test starts with kolben's caches empty: none sees what another cached."""
    clear_all()


@pytest.fixture(autouse=True)
def _no_context_left_pushed() -> Iterator[None]:
    """Fail a test that leaves an app or request context pushed, then clean up."""
    yield
    leaked = []
    while (req := _cv_request.get(None)) is not None:
        leaked.append(req)
        req.pop()
    while (app_ctx := _cv_app.get(None)) is not None:
        leaked.append(app_ctx)
        app_ctx.pop()
    if leaked:
        pytest.fail(f"the test left contexts pushed: {leaked!r}")


@pytest.fixture
def app() -> kolben.Kolben:
    app = kolben.Kolben("test_app", root_path=os.path.dirname(__file__))
    app.config.update(TESTING=True, SECRET_KEY="test key")
    return app


@pytest.fixture(params=["wsgi", "asgi"])
def door(request: pytest.FixtureRequest) -> str:
    """The front door a behaviour test goes through; tests using ``client`` run
    under both."""
    return t.cast(str, request.param)


@pytest.fixture
def client(app: kolben.Kolben, door: str) -> kolben.testing.KolbenClient:
    """The test client, through the WSGI door or through the ASGI door."""
    if door == "asgi":
        return app.asgi_test_client()
    return app.test_client()


@pytest.fixture
def client_for(door: str) -> t.Callable[..., kolben.testing.KolbenClient]:
    """``client_for(app)``: a test client for an app the test builds itself,
    through the door of this run (the test runs under both, like ``client``).
    Keyword arguments go to ``test_client()`` / ``asgi_test_client()``."""

    def make(app: kolben.Kolben, **kwargs: t.Any) -> kolben.testing.KolbenClient:
        if door == "asgi":
            return app.asgi_test_client(**kwargs)
        return app.test_client(**kwargs)

    return make


@pytest.fixture
def runner(app: kolben.Kolben) -> kolben.testing.KolbenCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def app_ctx(app: kolben.Kolben) -> Iterator[kolben.ctx.AppContext]:
    with app.app_context() as ctx:
        yield ctx


@pytest.fixture
def req_ctx(app: kolben.Kolben) -> Iterator[kolben.ctx.RequestContext]:
    with app.test_request_context() as ctx:
        yield ctx


# -- Redis (tests marked ``redis``) ---------------------------------------------------------


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of the test's own, its keys deleted afterwards."""
    from sse_apps import redis_env

    yield from redis_env.prefixed()


@pytest.fixture
def make_broker(prefix: str) -> Iterator[t.Callable[..., t.Any]]:
    """Redis brokers on the test's key prefix (like separate processes), closed
    after the test."""
    from kolben.broker.redis import RedisBroker
    from sse_apps import redis_env

    made: list[RedisBroker] = []

    def make(**kwargs: t.Any) -> RedisBroker:
        kwargs.setdefault("key_prefix", prefix)
        broker = RedisBroker(kwargs.pop("url", redis_env.URL), **kwargs)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()
