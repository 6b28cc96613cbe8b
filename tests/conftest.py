"""Shared fixtures: an app, its test client and CLI runner, and a guard that
fails any test leaving an application or request context pushed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import kolben
from kolben.globals import _cv_app, _cv_request


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


@pytest.fixture
def client(app: kolben.Kolben) -> kolben.testing.KolbenClient:
    return app.test_client()


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
