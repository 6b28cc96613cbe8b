"""The hook stages follow every change to the hook registries, however it is made.

kolben keeps, per blueprint chain, the plan of each hook stage (kolben.hook_plans);
these tests change the registries after requests were served, through the
decorators and directly (as extensions do), and check the next request runs what
Flask would run, in Flask's order, on both doors.
"""

from __future__ import annotations

import copy
import pickle
import typing as t
from collections import defaultdict

import pytest
from tests.helpers import kolben_only, needs_async

import kolben


def make_app() -> tuple[kolben.Kolben, list[str]]:
    app = kolben.Kolben(__name__)
    calls: list[str] = []

    @app.route("/")
    def index() -> str:
        calls.append("view")
        return "ok"

    return app, calls


@needs_async
def test_a_hook_inserted_first_after_requests_runs_first(client_for: t.Any) -> None:
    app, calls = make_app()

    @app.before_request
    def second() -> None:
        calls.append("second")

    client = client_for(app)
    assert client.get("/").status_code == 200

    async def first() -> None:
        calls.append("first")

    # What Flask-Limiter and others do to run before the app's own hooks.
    app.before_request_funcs.setdefault(None, []).insert(0, first)
    calls.clear()
    assert client.get("/").status_code == 200
    assert calls == ["first", "second", "view"]


def test_a_replaced_list_and_a_replaced_item_take_effect(client_for: t.Any) -> None:
    app, _calls = make_app()

    @app.after_request
    def one(response: kolben.Response) -> kolben.Response:
        response.headers["X-Hook"] = "one"
        return response

    client = client_for(app)
    assert client.get("/").headers["X-Hook"] == "one"

    def two(response: kolben.Response) -> kolben.Response:
        response.headers["X-Hook"] = "two"
        return response

    def three(response: kolben.Response) -> kolben.Response:
        response.headers["X-Hook"] = "three"
        return response

    app.after_request_funcs[None] = [two]
    assert client.get("/").headers["X-Hook"] == "two"
    app.after_request_funcs[None][0] = three
    assert client.get("/").headers["X-Hook"] == "three"
    del app.after_request_funcs[None]
    assert "X-Hook" not in client.get("/").headers


def test_removed_and_cleared_hooks_no_longer_run(client_for: t.Any) -> None:
    app, calls = make_app()

    @app.teardown_request
    def a(exc: BaseException | None) -> None:
        calls.append("a")

    @app.teardown_request
    def b(exc: BaseException | None) -> None:
        calls.append("b")

    client = client_for(app)
    client.get("/")
    assert calls == ["view", "b", "a"]
    app.teardown_request_funcs[None].remove(b)
    calls.clear()
    client.get("/")
    assert calls == ["view", "a"]
    app.teardown_request_funcs[None] += [b, b]
    calls.clear()
    client.get("/")
    assert calls == ["view", "b", "b", "a"]
    app.teardown_request_funcs.clear()
    calls.clear()
    client.get("/")
    assert calls == ["view"]


def test_a_plain_dict_put_in_place_of_a_registry_is_used(client_for: t.Any) -> None:
    app, _calls = make_app()
    client = client_for(app)
    client.get("/")

    def stop() -> str:
        return "stopped"

    app.before_request_funcs = {None: [stop]}
    assert client.get("/").text == "stopped"
    app.before_request_funcs = defaultdict(list)
    assert client.get("/").text == "ok"


@needs_async
def test_mixed_kinds_and_nested_blueprints_keep_flasks_order(client_for: t.Any) -> None:
    app, calls = make_app()
    parent = kolben.Blueprint("parent", __name__, url_prefix="/p")
    child = kolben.Blueprint("child", __name__, url_prefix="/c")

    @child.route("/")
    async def leaf() -> str:
        calls.append("view")
        return "leaf"

    def hook(name: str, is_async: bool) -> t.Callable[..., t.Any]:
        if is_async:

            async def async_hook(*args: t.Any) -> t.Any:
                calls.append(name)
                return args[0] if args and isinstance(args[0], kolben.Response) else None

            return async_hook

        def sync_hook(*args: t.Any) -> t.Any:
            calls.append(name)
            return args[0] if args and isinstance(args[0], kolben.Response) else None

        return sync_hook

    app.before_request(hook("app-before-1", False))
    app.before_request(hook("app-before-2", True))
    parent.before_request(hook("parent-before", True))
    child.before_request(hook("child-before-1", False))
    child.before_request(hook("child-before-2", False))
    app.after_request(hook("app-after-1", True))
    app.after_request(hook("app-after-2", True))
    child.after_request(hook("child-after", False))
    parent.teardown_request(hook("parent-teardown", False))
    app.teardown_request(hook("app-teardown", True))
    parent.register_blueprint(child)
    app.register_blueprint(parent)

    client = client_for(app)
    expected = [
        "app-before-1",
        "app-before-2",
        "parent-before",
        "child-before-1",
        "child-before-2",
        "view",
        "child-after",
        "app-after-2",
        "app-after-1",
        "parent-teardown",
        "app-teardown",
    ]
    for _ in range(2):  # the first request makes the plans, the second uses them
        calls.clear()
        assert client.get("/p/c/").text == "leaf"
        assert calls == expected
    # The app's own routes get the app's hooks only.
    calls.clear()
    client.get("/")
    assert calls == [
        "app-before-1",
        "app-before-2",
        "view",
        "app-after-2",
        "app-after-1",
        "app-teardown",
    ]
    # A hook added to the child's chain directly shows up in that chain only.
    app.before_request_funcs["parent.child"].append(hook("child-before-3", True))
    calls.clear()
    client.get("/p/c/")
    assert calls[:6] == [
        "app-before-1",
        "app-before-2",
        "parent-before",
        "child-before-1",
        "child-before-2",
        "child-before-3",
    ]
    calls.clear()
    client.get("/")
    assert "child-before-3" not in calls


@kolben_only
def test_an_ensure_sync_set_after_requests_sees_every_hook(client_for: t.Any) -> None:
    app, calls = make_app()

    @app.before_request
    def a() -> None:
        calls.append("a")

    @app.before_request
    def b() -> None:
        calls.append("b")

    client = client_for(app)
    client.get("/")
    seen: list[str] = []
    original = app.ensure_sync

    def ensure_sync(func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        seen.append(getattr(func, "__name__", repr(func)))
        return original(func)

    app.ensure_sync = ensure_sync  # type: ignore[method-assign]
    client.get("/")
    assert "a" in seen and "b" in seen
    del app.ensure_sync
    seen.clear()
    calls.clear()
    client.get("/")
    assert seen == [] and calls == ["a", "b", "view"]


@kolben_only
def test_the_registries_are_still_defaultdicts_of_lists() -> None:
    app, _calls = make_app()

    def f() -> None:
        pass

    app.before_request(f)
    registry = app.before_request_funcs
    assert isinstance(registry, defaultdict) and isinstance(registry[None], list)
    assert registry == {None: [f]}
    assert registry["nothing"] == [] and registry["nothing"] is registry["nothing"]
    for other in (copy.copy(registry), copy.deepcopy(registry), pickle.loads(pickle.dumps({}))):
        assert isinstance(other, dict)
    duplicate = copy.copy(registry)
    duplicate[None].append(f)
    assert registry[None] == [f], "a copy's lists are its own"
    assert registry.copy() == registry and registry.copy() is not registry


@pytest.mark.parametrize("method", ["setdefault", "update", "ior"])
def test_lists_added_to_a_registry_are_followed(client_for: t.Any, method: str) -> None:
    app, calls = make_app()
    client = client_for(app)
    client.get("/")
    funcs: list[t.Callable[[], None]] = []
    if method == "setdefault":
        funcs = app.before_request_funcs.setdefault(None, funcs)
    elif method == "update":
        app.before_request_funcs.update({None: funcs})
        funcs = app.before_request_funcs[None]
    else:
        app.before_request_funcs |= {None: funcs}
        funcs = app.before_request_funcs[None]
    client.get("/")
    funcs.append(lambda: calls.append("late"))
    calls.clear()
    client.get("/")
    assert calls == ["late", "view"]


def test_blueprint_hooks_added_after_requests_run_for_the_blueprint_only(
    client_for: t.Any,
) -> None:
    """With only app hooks, one plan serves every blueprint (no chain is worked
    out); a blueprint's hooks added later, by any route, run for its requests."""
    app, calls = make_app()
    bp = kolben.Blueprint("bp", __name__)
    inner = kolben.Blueprint("inner", __name__)

    @inner.route("/x")
    def x() -> str:
        calls.append("x")
        return "x"

    bp.register_blueprint(inner, url_prefix="/inner")
    app.register_blueprint(bp, url_prefix="/bp")
    # A dotted endpoint outside any blueprint: request.blueprint is "api".
    app.add_url_rule("/api", "api.view", lambda: "api")

    @app.before_request
    def app_hook() -> None:
        calls.append("app")

    client = client_for(app)
    for path in ("/", "/bp/inner/x", "/api", "/missing"):
        client.get(path)
    assert calls == ["app", "view", "app", "x", "app", "app"]

    def bp_hook() -> None:
        calls.append("bp")

    def inner_hook() -> None:
        calls.append("inner")

    def api_hook() -> None:
        calls.append("api")

    app.before_request_funcs.setdefault("bp", []).append(bp_hook)
    app.before_request_funcs["bp.inner"] = [inner_hook]
    app.before_request_funcs["api"].append(api_hook)
    calls.clear()
    for path in ("/", "/bp/inner/x", "/api"):
        client.get(path)
    assert calls == ["app", "view", "app", "bp", "inner", "x", "app", "api"]

    # The blueprints' lists emptied again: only the app's hook runs anywhere.
    app.before_request_funcs["bp"].clear()
    app.before_request_funcs["bp.inner"] = []
    del app.before_request_funcs["api"]
    calls.clear()
    for path in ("/", "/bp/inner/x", "/api"):
        client.get(path)
    assert calls == ["app", "view", "app", "x", "app"]
    app.before_request_funcs["bp.inner"].append(inner_hook)  # a list put in by hand
    calls.clear()
    client.get("/bp/inner/x")
    assert calls == ["app", "inner", "x"]
    # Another registry's list, which tells that registry of its changes, not this one.
    del app.before_request_funcs["bp.inner"]
    shared = kolben.Kolben("other").before_request_funcs["bp"]
    app.before_request_funcs["bp"] = shared
    calls.clear()
    client.get("/")
    client.get("/bp/inner/x")
    shared.append(bp_hook)
    client.get("/bp/inner/x")
    assert calls == ["app", "view", "app", "x", "app", "bp", "x"]
