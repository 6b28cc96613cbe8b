"""kolben.sync_twin: a stage's twin does what run_steps over the stage does."""

from __future__ import annotations

import asyncio
import sys
import traceback
import typing as t

import pytest

import kolben
from kolben.pipeline import DualStep, Steps, handling, run_steps
from kolben.sync_twin import sync_twin

calls: list[t.Any] = []


def record(*args: t.Any, **kwargs: t.Any) -> t.Any:
    calls.append((args, kwargs))
    return args[0] if args else kwargs


def fail(message: str) -> t.NoReturn:
    raise LookupError(message)


async def async_double(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


class Stages:
    """Stages in the style of Kolben's (a method per stage, ``self.app``)."""

    def __init__(self, app: kolben.Kolben) -> None:
        self.app = app

    def _inner(self, value: int) -> Steps[int]:
        doubled = yield async_double, (value,)
        return t.cast(int, doubled) + 1

    _inner_direct = sync_twin("self.app", twins={"_inner"})(_inner)

    def _outer(self, value: int) -> Steps[t.Any]:
        first = yield record, (value,)
        named = yield record, {"name": "x"}
        step = (record, ("computed",))
        computed = yield step
        both = yield (record, (1,)) if value else (record, (2,))
        try:
            yield fail, ("in the step",)
        except LookupError as e:
            caught = str(e)
        inner = yield from self._inner(value)
        plain = yield from plain_generator(value)
        return first, named, computed, both, caught, inner, plain

    _outer_direct = sync_twin("self.app", twins={"_inner"})(_outer)

    def _raising(self) -> Steps[None]:
        yield record, ("before",)
        yield fail, ("escapes",)

    _raising_direct = sync_twin("self.app")(_raising)


def plain_generator(value: int) -> Steps[int]:
    got = yield record, (value + 100,)
    return t.cast(int, got)


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    calls.clear()


def test_twin_gives_what_run_steps_gives() -> None:
    app = kolben.Kolben(__name__)
    stages = Stages(app)
    driven = run_steps(app, stages._outer(5))
    driven_calls = list(calls)
    calls.clear()
    direct = stages._outer_direct(5)
    assert direct == driven == (5, {"name": "x"}, "computed", 1, "in the step", 11, 105)
    assert calls == driven_calls


def test_a_twin_is_compiled_on_first_use_and_then_a_plain_method() -> None:
    class Fresh:
        def __init__(self) -> None:
            self.app = kolben.Kolben(__name__)

        def _stage(self) -> Steps[t.Any]:
            return (yield record, ("fresh",))

        _stage_direct = sync_twin("self.app")(_stage)

    assert not isinstance(vars(Fresh)["_stage_direct"], type(Fresh._stage))
    assert Fresh()._stage_direct() == "fresh"
    compiled = vars(Fresh)["_stage_direct"]
    assert compiled.__name__ == "_stage_direct"
    assert compiled.__code__.co_filename == __file__
    assert compiled.__code__ is not Fresh._stage.__code__


def test_twin_raises_where_run_steps_raises() -> None:
    app = kolben.Kolben(__name__)
    stages = Stages(app)
    with pytest.raises(LookupError, match="escapes") as info:
        stages._raising_direct()
    assert calls == [(("before",), {})]
    # The traceback shows the stage's own source line.
    frames = traceback.extract_tb(info.value.__traceback__)
    assert any(
        frame.name == "_raising_direct" and frame.line == 'yield fail, ("escapes",)'
        for frame in frames
    )


def test_twin_honours_an_apps_own_ensure_sync() -> None:
    seen: list[t.Any] = []

    class App(kolben.Kolben):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            seen.append(getattr(func, "__name__", func))
            return super().ensure_sync(func)

    app = App(__name__)
    stages = Stages(app)
    assert stages._outer_direct(0)[3] == 2
    assert "record" in seen and "async_double" in seen and "fail" in seen


APP = kolben.Kolben(__name__)


async def _never(*args: t.Any) -> t.Any:  # pragma: no cover - the sync side runs
    raise AssertionError("the async side of a DualStep ran under the sync driver")


def _seen_error() -> t.Any:
    return sys.exc_info()[1]


def _dual_and_handling() -> Steps[t.Any]:
    dual = yield DualStep(record, _never), ("dual",)
    error = ValueError("being handled")
    handled = yield handling(APP, _seen_error, error), ()
    return dual, handled, error


_dual_and_handling_direct = sync_twin("APP")(_dual_and_handling)


def test_dual_steps_and_handling_steps_run_as_run_steps_runs_them() -> None:
    for result in (run_steps(APP, _dual_and_handling()), _dual_and_handling_direct()):
        dual, handled, error = result
        assert dual == "dual"
        assert handled is error


def test_a_stage_without_readable_source_is_driven_by_run_steps() -> None:
    namespace: dict[str, t.Any] = {"record": record}
    exec(  # a function whose source inspect can't find
        "def stage(self, value):\n    got = yield record, (value,)\n    return got * 3\n",
        namespace,
    )

    class Holder:
        app = kolben.Kolben(__name__)

    twin = sync_twin("self.app")(namespace["stage"])
    assert twin(Holder(), 4) == 12
    assert calls == [((4,), {})]


def test_a_stage_closing_over_names_is_driven_by_run_steps() -> None:
    app = kolben.Kolben(__name__)

    def stage() -> Steps[t.Any]:
        got = yield record, (app.name,)
        return got

    twin = sync_twin("APP")(stage)
    assert twin() == app.name


def test_the_wsgi_door_runs_the_twins(client_for: t.Callable[..., t.Any]) -> None:
    """Hooks, the view, error handlers and teardown run once each, in Flask's
    order, with ``sys.exc_info()`` the error inside an error handler."""
    app = kolben.Kolben(__name__)
    order: list[str] = []

    @app.before_request
    def before() -> None:
        order.append("before")

    @app.route("/boom")
    def boom() -> str:
        order.append("view")
        raise KeyError("boom")

    @app.errorhandler(KeyError)
    def on_key_error(e: KeyError) -> tuple[str, int]:
        assert sys.exc_info()[1] is e
        order.append("handler")
        return "handled", 418

    @app.after_request
    def after(response: kolben.Response) -> kolben.Response:
        order.append("after")
        return response

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        order.append(f"teardown {exc!r}")

    client = client_for(app)
    response = client.get("/boom")
    assert (response.status_code, response.data) == (418, b"handled")
    assert order == ["before", "view", "handler", "after", "teardown None"]


def _plan_loop(plan: t.Any) -> Steps[list[t.Any]]:
    results = []
    for func, funcs in plan:
        results.append((yield (func, (funcs, "v")) if funcs is not None else (func, ("v",))))
    return results


_plan_loop_direct = sync_twin("APP")(_plan_loop)


def test_a_plan_loop_calls_kolben_runners_and_steps_as_run_steps_does() -> None:
    """A plan entry's list runs through its runner (kolben's sync runners are
    called as they are: the twin finds them first), an async runner and a single
    hook as any step; the results are what run_steps gives."""
    from kolben.pipeline import SYNC_RUNNERS, apass_through_reversed, pass_through_reversed

    def upper(value: str) -> str:
        calls.append(("upper", value))
        return value.upper()

    async def twice(value: str) -> str:
        await asyncio.sleep(0)
        calls.append(("twice", value))
        return value * 2

    assert pass_through_reversed in SYNC_RUNNERS
    plan = (
        (pass_through_reversed, [upper, upper]),
        (apass_through_reversed, [twice]),
        (upper, None),
        (twice, None),
    )
    driven = run_steps(APP, _plan_loop(plan))
    driven_calls = list(calls)
    calls.clear()
    assert _plan_loop_direct(plan) == driven == ["V", "vv", "V", "vv"]
    assert calls == driven_calls
