"""The synchronous twin of a pipeline stage: its steps called in place.

A stage of the request pipeline is a generator function (see :mod:`kolben.pipeline`):
it yields each call of user code as a step and is sent the result. The synchronous
driver, :func:`~kolben.pipeline.run_steps`, does nothing but call each step at once
and send the result back (or throw the step's exception in); a generator frame per
stage and a round through the driver per step is all it adds.

:func:`sync_twin` compiles, from the stage's own source, a plain function that does
exactly that in place: the same code, with

- ``yield (func, args)`` (any step expression) turned into a call of
  :func:`call_step`, which calls the step as ``run_steps`` calls it (the app's own
  ``ensure_sync`` honoured, an ``async def`` function run on the thread's event
  loop, :class:`~kolben.pipeline.DualStep` and :class:`~kolben.pipeline.Handling`
  as they are): a step's result is the value of the expression and its exception
  is raised there, as ``run_steps`` throws it in there;
- ``yield from obj.stage(...)``, for a stage named in ``twins``, turned into
  ``obj.stage_direct(...)`` (the twin of that stage); any other ``yield from`` into
  ``run_steps(app, ...)``, which drives the generator as before;
- ``return value`` returning the value, as the generator's ``StopIteration`` did.

So the stage is still written once (the generator, which the ASGI driver runs), and
the WSGI door and Flask's public pipeline methods call its twin, compiled the
first time it is used (~4 ms a stage: import time and CLI start-up don't pay it). The twin is
compiled with the stage's file name and line numbers, so tracebacks and debuggers
show the stage's source. Where the source can't be read (a frozen or ``.pyc``-only
install), the twin is ``run_steps`` over the generator: the same behaviour.

PERF: ~5-10% of a whole WSGI request (a generator frame per stage, a driver round
and its tests per step).
"""

from __future__ import annotations

import ast
import inspect
import typing as t
from types import FunctionType

from .concurrency import _CO_COROUTINE
from .pipeline import SYNC_RUNNERS, run_steps, step_callable

if t.TYPE_CHECKING:
    from .app import Kolben

P = t.ParamSpec("P")
T = t.TypeVar("T")

__all__ = ["call_step", "sync_twin"]

# The names the twins use, put in the stage's module.
_STEP = "__kolben_call_step"
_CALLABLE = "__kolben_step_callable"
_FUNCTION_TYPE = "__kolben_FunctionType"
_RUN = "__kolben_run_steps"
_SYNC_RUNNERS = "__kolben_sync_runners"


def call_step(app: Kolben, func: t.Callable[..., t.Any], args: t.Any) -> t.Any:
    """Call the step ``(func, args)`` as :func:`~kolben.pipeline.run_steps` does:
    ``app.ensure_sync(func)(*args)`` (keyword arguments when ``args`` is a dict)."""
    if (
        type(func) is FunctionType
        and not func.__code__.co_flags & _CO_COROUTINE
        and not app._custom_ensure_sync
        and "_is_coroutine_marker" not in func.__dict__
    ):
        call: t.Callable[..., t.Any] = func
    else:
        call = step_callable(app, func)
    return call(**args) if type(args) is dict else call(*args)


class _Twin(ast.NodeTransformer):
    """Turns a stage's generator function into its twin (see the module)."""

    def __init__(self, app: str, twins: frozenset[str], name: str) -> None:
        self.app = app
        self.twins = twins
        self.name = name
        self.depth = 0
        self.temps = 0

    def _app(self) -> ast.expr:
        return _template(self.app)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        if self.depth:  # a function defined inside the stage is left alone
            return node
        self.depth += 1
        node.name = self.name
        node.decorator_list = []
        node.returns = None
        for arg in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs):
            arg.annotation = None
        if node.args.vararg is not None:
            node.args.vararg.annotation = None
        if node.args.kwarg is not None:
            node.args.kwarg.annotation = None
        self.generic_visit(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AST:
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        # ``x: T = value``: the annotation is not needed (nor its names).
        self.generic_visit(node)
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value)

    def visit_Yield(self, node: ast.Yield) -> ast.AST:
        self.generic_visit(node)
        if node.value is None:
            raise ValueError("a stage yields steps, not None")
        return self._step(node.value)

    def _step(self, step: ast.expr, runner: bool = False) -> ast.expr:
        """The call of the step ``step`` evaluates to; ``runner``: its function is
        usually one of :data:`~kolben.pipeline.SYNC_RUNNERS`."""
        if isinstance(step, ast.IfExp):
            # ``yield (f, (a,)) if c else (f, ())``: each branch its own call. A
            # plan's loop (``yield (func, (funcs,)) if funcs is not None else
            # (func, ())``) runs a list of hooks with a runner in its first branch.
            return ast.IfExp(
                test=step.test,
                body=self._step(step.body, runner=_tests_for_a_list(step.test)),
                orelse=self._step(step.orelse),
            )
        if not (isinstance(step, ast.Tuple) and len(step.elts) == 2):
            return _call(_STEP, self._app(), ast.Starred(value=step, ctx=ast.Load()))
        func, args = step.elts
        if isinstance(args, ast.Tuple) and not any(
            isinstance(arg, ast.Starred) for arg in args.elts
        ):
            # PERF: ``yield func, (a, b)``: call_step's test for a plain function
            # made in place, and the arguments passed without a tuple.
            return ast.Call(func=self._callee(func, runner), args=list(args.elts), keywords=[])
        if isinstance(func, ast.Name) and isinstance(args, ast.Name):
            # ``yield view, view_args`` (names: evaluated in any order).
            kwargs = ast.Call(
                func=self._callee(func), args=[], keywords=[ast.keyword(arg=None, value=args)]
            )
            positional = ast.Call(
                func=self._callee(func),
                args=[ast.Starred(value=args, ctx=ast.Load())],
                keywords=[],
            )
            test = _template(f"type({args.id}) is dict")
            return ast.IfExp(test=test, body=kwargs, orelse=positional)
        return _call(_STEP, self._app(), func, args)

    def _callee(self, func: ast.expr, runner: bool = False) -> ast.expr:
        """``func`` itself when it is a plain function and the app has no
        ``ensure_sync`` of its own, else what call_step would call: the test
        call_step makes, in place. ``runner``: kolben's own runners of sync hook
        lists are called as they are, whatever the app's ``ensure_sync`` (a plan
        runs a list with one only when the app has none), found first."""
        self.temps += 1
        temp = f"__kolben_step_{self.temps}"
        # After ``type(<the function>)``: the rest of call_step's test.
        plain = (
            f" is {_FUNCTION_TYPE}"
            f" and not {temp}.__code__.co_flags & {_CO_COROUTINE}"
            f" and not ({self.app})._custom_ensure_sync"
            f" and '_is_coroutine_marker' not in {temp}.__dict__"
        )
        if runner:
            test = _template(f"({temp} := FUNC) in {_SYNC_RUNNERS} or (type({temp}){plain})")
        else:
            test = _template(f"type({temp} := FUNC){plain}")
        test = _Substitute(func).visit(test)
        return ast.IfExp(
            test=test,
            body=ast.Name(id=temp, ctx=ast.Load()),
            orelse=_call(_CALLABLE, self._app(), ast.Name(id=temp, ctx=ast.Load())),
        )

    def visit_YieldFrom(self, node: ast.YieldFrom) -> ast.AST:
        self.generic_visit(node)
        value = node.value
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr in self.twins
        ):
            value.func.attr += "_direct"
            return value
        return _call(_RUN, self._app(), value)


def _tests_for_a_list(test: ast.expr) -> bool:
    """Whether ``test`` is ``funcs is not None``: a plan entry's list of hooks."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "funcs"
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    )


def _template(source: str) -> ast.expr:
    """The expression ``source``, without locations: it takes those of the
    ``yield`` it replaces (so tracebacks and coverage see the stage's line)."""
    expr = ast.parse(source, mode="eval").body
    for node in ast.walk(expr):
        for name in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
            if hasattr(node, name):
                delattr(node, name)
    return expr


class _Substitute(ast.NodeTransformer):
    """Puts an expression in the place of the name ``FUNC``."""

    def __init__(self, expr: ast.expr) -> None:
        self.expr = expr

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self.expr if node.id == "FUNC" else node


def _call(name: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args), keywords=[])


def _compile(
    func: t.Callable[..., t.Any], app: str, twins: frozenset[str], name: str
) -> t.Callable[..., t.Any] | None:
    if func.__closure__ is not None:
        return None  # a stage that closes over names (kolben's stages don't)
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return None
    source = "".join(lines)
    if source[:1].isspace():
        # A method: parsed inside a block of its own indentation (dedenting could
        # change a multi-line string's text).
        block = ast.parse("if True:\n" + source)
        ast.increment_lineno(block, first - 2)
        tree = ast.Module(body=[block.body[0].body[0]], type_ignores=[])  # type: ignore[attr-defined]
    else:
        tree = ast.parse(source)
        ast.increment_lineno(tree, first - 1)
    tree = ast.fix_missing_locations(_Twin(app, twins, name).visit(tree))
    code = compile(tree, func.__code__.co_filename, "exec")
    # The twin lives in the stage's module: it reads the module's names as the
    # stage does (those defined after it, or changed later, included).
    module = func.__globals__
    module.setdefault(_STEP, call_step)
    module.setdefault(_CALLABLE, step_callable)
    module.setdefault(_FUNCTION_TYPE, FunctionType)
    module.setdefault(_RUN, run_steps)
    module.setdefault(_SYNC_RUNNERS, SYNC_RUNNERS)
    namespace: dict[str, t.Any] = {}
    exec(code, module, namespace)
    twin: t.Callable[..., t.Any] = namespace[name]
    return twin


def _make_twin(
    stage: t.Callable[..., t.Any], app: str, names: frozenset[str]
) -> t.Callable[..., t.Any]:
    name = f"{stage.__name__}_direct"
    twin = _compile(stage, app, names, name)
    if twin is not None:
        twin.__qualname__ = f"{stage.__qualname__}_direct"
        twin.__doc__ = f"The synchronous twin of {stage.__name__} (kolben.sync_twin)."
        twin.__module__ = stage.__module__
        return twin
    # The app expression, read where the stage reads it (``self`` being the
    # first argument).
    get_app = eval(f"lambda self=None, *args, **kwargs: {app}", stage.__globals__)

    def driven(*args: t.Any, **kwargs: t.Any) -> t.Any:
        return run_steps(get_app(*args, **kwargs), stage(*args, **kwargs))

    driven.__name__ = name
    driven.__qualname__ = f"{stage.__qualname__}_direct"
    return driven


class _LazyTwin:
    """A stage's twin, compiled when first used (a process that never serves
    through the WSGI door, a CLI command, never compiles it). In a class body it
    then replaces itself on the class with the plain function; elsewhere it
    calls it."""

    def __init__(self, stage: t.Callable[..., t.Any], app: str, names: frozenset[str]) -> None:
        self._stage = stage
        self._app = app
        self._names = names
        self._twin: t.Callable[..., t.Any] | None = None
        self._owner: type | None = None
        self._name = ""

    def _get_twin(self) -> t.Callable[..., t.Any]:
        twin = self._twin
        if twin is None:
            twin = self._twin = _make_twin(self._stage, self._app, self._names)
            if self._owner is not None:
                setattr(self._owner, self._name, twin)
        return twin

    def __set_name__(self, owner: type, name: str) -> None:
        self._owner = owner
        self._name = name

    def __get__(self, instance: t.Any, owner: type | None = None) -> t.Any:
        twin = self._get_twin()
        return twin if instance is None else twin.__get__(instance, owner)

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        return self._get_twin()(*args, **kwargs)


def sync_twin(
    app: str = "self", twins: t.Iterable[str] = ()
) -> t.Callable[[t.Callable[P, t.Generator[t.Any, t.Any, T]]], t.Callable[P, T]]:
    """Make the twin of a stage (see the module), for a class body::

        def _stage(self) -> Steps[Response]: ...
        _stage_direct = sync_twin(twins={"_other_stage"})(_stage)

    ``app`` is the expression, in the stage, of the app whose ``ensure_sync``
    runs its steps; ``twins``, the stages called with ``yield from`` whose twins
    are called instead (``<name>_direct``). The twin is compiled on first use.
    """
    names = frozenset(twins)

    def make(stage: t.Callable[P, t.Generator[t.Any, t.Any, T]]) -> t.Callable[P, T]:
        return t.cast(t.Callable[P, T], _LazyTwin(stage, app, names))

    return make
