"""How the one request pipeline is driven: the step protocol and its two drivers.

kolben's request pipeline (contexts, matching, hooks, the view, error handlers,
sessions, task resources, teardown, signals; see :mod:`kolben.app` and
:mod:`kolben.ctx`) is written once, as generator functions. Wherever the pipeline
calls *user code* (a view, a hook, an error handler, a teardown function, a
signal receiver, a task resource's ``commit``...), it does not call it: it yields
a **step**, ``(func, args)``, and receives the result (or has the exception thrown
in) when the driver has run it::

    rv = yield before_func, ()

The pipeline's own code between steps never blocks, so each driver decides only
*where* each user function runs:

- :func:`run_steps`, the synchronous driver (the WSGI door, and every public
  pipeline method such as :meth:`Kolben.preprocess_request` called directly):
  ``app.ensure_sync(func)(*args)``, exactly as Flask calls user code, so an
  ``async def`` function runs on the thread's own event loop under WSGI.
- :func:`drive`, the asynchronous driver (the ASGI door): an ``async def``
  function is awaited on the server's loop; a sync one runs in the app's worker
  threads, and that thread keeps advancing the pipeline, running the following
  sync steps inline, until the pipeline yields an ``async def`` step or ends. So
  a request whose user code is all async crosses no thread, one whose user code
  is all sync crosses once (there and back), and a mix crosses once per switch.

Sync or async is decided per function (:func:`kolben.concurrency.is_async_callable`),
not per request. A subclass that overrides ``ensure_sync`` or ``async_to_sync`` has
its ``ensure_sync`` see what Flask's sees (views, ``before_request``,
``after_request``, ``after_this_request`` and teardown functions, error handlers,
``async def`` signal receivers), each step run in a worker thread; a sync step
Flask calls as it is (an overridden pipeline method, a URL value preprocessor, a
signal receiver, kolben's own code) is a :class:`Direct` step.

All of a request's steps, on the loop and in worker threads, run in one
:class:`contextvars.Context`, so the context variables the pipeline sets (the
request and application contexts) are the same wherever the next step runs.
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import functools
import typing as t
from collections.abc import Generator
from contextvars import Context
from types import FunctionType

from . import globals as _globals
from .caching import Cache
from .concurrency import _CO_COROUTINE, _server_loop, is_async_callable, running_loop
from .sessions import SecureCookieSessionInterface
from .threads import Lane, current_lane, settle_now

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_request = _globals._cv_request

if t.TYPE_CHECKING:
    from .app import Kolben
    from .threads import WorkerThreads

T = t.TypeVar("T")
E = t.TypeVar("E", bound=BaseException)

#: One call of user code: the function and its positional arguments (a tuple),
#: or its keyword arguments (a dict: a view's URL arguments).
Step = tuple[t.Callable[..., t.Any], t.Any]
#: A piece of the pipeline: yields steps, is sent their results, returns ``T``.
Steps = Generator[Step, t.Any, T]


class DualStep:
    """A step with a sync and an ``async def`` implementation of the same work
    (a session store's I/O): :func:`run_steps` calls ``sync``, the ASGI driver
    awaits ``aio`` on the loop instead of crossing to a worker thread."""

    __slots__ = ("aio", "sync")

    def __init__(
        self, sync: t.Callable[..., t.Any], aio: t.Callable[..., t.Awaitable[t.Any]]
    ) -> None:
        self.sync = sync
        self.aio = aio

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        return self.sync(*args, **kwargs)


class Direct:
    """A sync step Flask calls as it is, not through ``ensure_sync``: an
    overridden pipeline method (``preprocess_request``, ``finalize_request``...),
    a URL value preprocessor, a sync signal receiver, kolben's own code. Made by
    :func:`direct` for an app with an ``ensure_sync`` of its own, which must not
    see it; the drivers call it as it is (in a worker thread under ASGI)."""

    __slots__ = ("func",)

    def __init__(self, func: t.Callable[..., t.Any]) -> None:
        self.func = func

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        return self.func(*args, **kwargs)


def direct(app: Kolben, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """The step for ``func``, which Flask calls as it is (see :class:`Direct`):
    ``func`` itself, unless the app has an ``ensure_sync`` of its own and ``func``
    is sync. An ``async def`` one (which Flask can't call there) is awaited as
    any other, or run through the app's own ``ensure_sync``."""
    if app._custom_ensure_sync and not is_async_callable(func):
        return Direct(func)
    return func


class Handling:
    """A sync step of the error path, run while ``error`` is the exception being
    handled, as Flask runs it inside its ``except`` block: in an error handler,
    an app's own ``handle_exception`` / ``handle_user_exception`` /
    ``handle_http_exception`` and a ``got_request_exception`` receiver,
    ``sys.exc_info()`` (so ``logging.exception``, and error reporters that read
    it) is the error, a bare ``raise`` re-raises it, and an exception raised
    there has the error as its ``__context__``.

    The pipeline's ``except`` block is in its generator, whose handled exception
    a driver calling the step can't see; this enters one around the call. The
    error's traceback and context are left as they were. Made by
    :func:`handling`; the drivers call it as it is (it is sync, and the app's own
    ``ensure_sync``, if any, was applied to ``func`` already unless it is a
    :class:`Direct` step).
    """

    __slots__ = ("error", "func")

    def __init__(self, func: t.Callable[..., t.Any], error: BaseException) -> None:
        self.func = func
        self.error = error

    def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        error = self.error
        traceback, context = error.__traceback__, error.__context__
        try:
            raise error
        except BaseException:
            # Raising it again added this frame to its traceback and, if some
            # exception was being handled here, made that its context: undone.
            error.__traceback__ = traceback
            error.__context__ = context
            return self.func(*args, **kwargs)


def handling(app: Kolben, func: t.Callable[..., t.Any], error: BaseException) -> t.Any:
    """``func``, a step of the error path, run while ``error`` is being handled
    (:class:`Handling`; an ``async def`` function is wrapped in a coroutine
    function that awaits it inside the ``except`` block, which a sync
    :class:`Handling` can't do)."""
    if is_async_callable(func):
        # Awaited inside an ``except`` block, as asgiref's AsyncToSync (Flask's
        # ensure_sync) runs it: sys.exc_info() is the error, a bare ``raise``
        # re-raises it, logger.exception() logs its traceback.
        async def handled(*args: t.Any, **kwargs: t.Any) -> t.Any:
            traceback, context = error.__traceback__, error.__context__
            try:
                raise error
            except BaseException:
                error.__traceback__ = traceback
                error.__context__ = context
                return await func(*args, **kwargs)

        return functools.update_wrapper(handled, func)
    if type(func) is Direct:
        return Handling(func.func, error)
    if app._custom_ensure_sync:
        func = app.ensure_sync(func)
    return Handling(func, error)


def handled_steps(app: Kolben, steps: Steps[T], error: BaseException) -> Steps[T]:
    """``steps``, each run while ``error`` is being handled (:func:`handling`).

    For the steps a stage reaches with ``yield from`` inside its ``except``
    block: a driver runs each step outside the stage's generators, and an
    exception it throws in is not chained to the error the delegating generator
    handles, as it would be if raised in the block (Flask runs them there). A
    :class:`DualStep` (a session store's I/O) is left as it is.
    """
    value: t.Any = None
    thrown: BaseException | None = None
    while True:
        try:
            func, args = steps.send(value) if thrown is None else steps.throw(thrown)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if type(func) is not Handling and type(func) is not DualStep:
            func = handling(app, func, error)
        try:
            value = yield func, args
            thrown = None
        except GeneratorExit:
            steps.close()
            raise
        except BaseException as e:  # the step's: thrown into ``steps``
            value = None
            thrown = e


#: The attribute marking a StopIteration that a step (user code) raised, once a
#: driver has seen it (see :func:`raised_by_step`).
_STEP_STOP = "_kolben_step_stop"


def _step_error(error: BaseException) -> BaseException:
    """``error``, raised by a step, as a driver throws it into the pipeline: a
    StopIteration is marked as the step's, so that :func:`raised_by_step` can
    find it again in the RuntimeError Python makes of it (PEP 479) when it leaves
    one of the pipeline's generators."""
    if isinstance(error, StopIteration):
        setattr(error, _STEP_STOP, True)
    return error


def raised_by_step(error: E) -> E | StopIteration:
    """The exception a step raised, as the pipeline's generators got it.

    A StopIteration that user code raised (``next()`` on an empty iterator in a
    ``before_request`` function, say) and that the pipeline re-raises out of one
    of its generators (no handler took it) comes out as
    ``RuntimeError("generator raised StopIteration")`` (PEP 479), where Flask,
    calling user code directly, has the StopIteration itself: its error handlers,
    ``handle_exception``, ``got_request_exception`` and the teardown functions
    see that. Given such a RuntimeError, this returns the StopIteration; any
    other exception (a user's own RuntimeError too) is returned as it is.
    """
    if type(error) is RuntimeError:
        cause = error.__cause__
        if isinstance(cause, StopIteration) and getattr(cause, _STEP_STOP, False):
            return cause
    return error


def run_steps(app: Kolben, steps: Steps[T]) -> T:
    """Run ``steps`` to the end in this thread and return their result.

    Each step is called as Flask calls user code, ``app.ensure_sync(func)(*args)``;
    its exception is thrown into the pipeline, which handles it or lets it
    propagate out of here (a StopIteration a step raised as itself, as Flask's
    ``ctx.pop()`` lets a ``teardown_appcontext`` function's out: not the
    RuntimeError PEP 479 made of it in the pipeline's generators).
    """
    custom_ensure_sync = app._custom_ensure_sync
    value: t.Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is None:
                func, args = steps.send(value)
            else:
                func, args = steps.throw(error)
                error = None
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        except RuntimeError as e:
            stopped = raised_by_step(e)
            if stopped is e:
                raise
            break
        try:
            # PERF: ensure_sync's test inlined for a plain function (the usual
            # step); anything else, or an app's own ensure_sync, goes through it.
            if (
                not custom_ensure_sync
                and type(func) is FunctionType
                and not func.__code__.co_flags & _CO_COROUTINE
                and "_is_coroutine_marker" not in func.__dict__
            ):
                call: t.Callable[..., t.Any] = func
            else:
                call = step_callable(app, func)
            value = call(**args) if type(args) is dict else call(*args)
        except BaseException as e:  # thrown into the pipeline, which decides
            error = _step_error(e)
            value = None
    # (raised outside the handler: the user's StopIteration, not chained to
    # PEP 479's RuntimeError, which has it as its cause)
    raise stopped


def step_callable(app: Kolben, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """What the synchronous driver calls for the step ``func`` when it is not a
    plain sync function (the test :func:`run_steps` and the twins of
    :mod:`kolben.sync_twin` make in place first): a :class:`DualStep`'s sync
    side, a :class:`Handling` or :class:`Direct` step as it is, else
    ``app.ensure_sync(func)``."""
    if type(func) is DualStep:
        return func.sync
    if type(func) is Handling or type(func) is Direct:
        return func
    return app.ensure_sync(func)


def sync_callable(app: Kolben, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any] | None:
    """How the asynchronous driver runs ``func``: None to await it on the loop
    (an ``async def`` function), else the callable to call in a worker thread
    (``func`` itself, or what the app's own ``ensure_sync`` made of it)."""
    if type(func) is Handling or type(func) is Direct or type(func) is DualStep:
        return func
    if app._custom_ensure_sync:
        return app.ensure_sync(func)
    if is_async_callable(func):
        return None
    return func


def _advance(steps: Steps[t.Any], value: t.Any, error: BaseException | None) -> Step:
    if error is None:
        return steps.send(value)
    return steps.throw(error)


class _Done:
    """What a worker thread hands back when the pipeline ended there."""

    __slots__ = ("value",)

    def __init__(self, value: t.Any) -> None:
        self.value = value


def _continue_in_thread(
    app: Kolben,
    steps: Steps[t.Any],
    func: t.Callable[..., t.Any],
    args: t.Any,
    loop: asyncio.AbstractEventLoop,
) -> Step | _Done:
    """In a worker thread: call the sync step ``func(*args)``, then keep advancing
    the pipeline, calling the sync steps that follow, until it yields a step to
    await on the loop (returned) or ends (its result returned in a :class:`_Done`).

    Runs in the request's context, where it records the server's loop: an
    ``async def`` function that sync code runs with ``ensure_sync`` is sent there
    (:func:`kolben.concurrency.run_sync`).
    """
    if _server_loop.get() is not loop:
        _server_loop.set(loop)
    value: t.Any = None
    error: BaseException | None = None
    while True:
        try:
            value = func(**args) if type(args) is dict else func(*args)
        except BaseException as e:  # thrown into the pipeline, which decides
            error = _step_error(e)
            value = None
        try:
            step = _advance(steps, value, error)
        except StopIteration as stop:
            result = stop.value
            if _needs_no_thread(result):
                # The request needs its thread no more. PERF: given back as this
                # call ends, not woken for it later.
                lane = current_lane.get()
                if lane is not None:
                    lane.release_after_call()
            return _Done(result)
        error = None
        func, args = step
        try:
            sync_func = sync_callable(app, func)
        except BaseException as e:  # an overridden ensure_sync failed
            sync_func = _raiser(e)
        if sync_func is None:
            return step
        func = sync_func


def _needs_no_thread(result: object) -> bool:
    """Whether ``result`` is the ASGI door's ``(body, status, headers)`` with a
    body whose sending runs no sync code: a buffered one (a list or tuple), or
    an async iterable (sent on the loop; closing it takes a thread again, as the
    request's last call). What is left of such a request needs no thread."""
    if type(result) is not tuple or len(result) != 3:
        return False
    body = result[0]
    return type(body) in _BUFFERED or isinstance(body, cabc.AsyncIterable)


_BUFFERED = (list, tuple)


def _raiser(error: BaseException) -> t.Callable[..., t.NoReturn]:
    def raise_(*args: t.Any, **kwargs: t.Any) -> t.NoReturn:
        raise error

    return raise_


_NOT_STARTED = object()


class InContext:
    """Await a coroutine with every step of it run in ``context``.

    The request's coroutines (an async view, hook, receiver...) see the context
    variables of the request's :class:`~contextvars.Context`, whichever task
    awaits them, without a task of their own: each resumption of the coroutine is
    one ``context.run`` call.
    """

    __slots__ = ("_context", "_coro", "_yielded")

    def __init__(self, context: Context, coro: t.Any, yielded: t.Any = _NOT_STARTED) -> None:
        self._context = context
        self._coro = coro
        #: What the coroutine yielded when the caller already resumed it once.
        self._yielded = yielded

    def __await__(self) -> Generator[t.Any, t.Any, t.Any]:
        run = self._context.run
        coro = self._coro
        if not hasattr(coro, "send"):
            coro = coro.__await__()
        send = coro.send
        throw = coro.throw
        value: t.Any = None
        error: BaseException | None = None
        yielded = self._yielded
        if yielded is _NOT_STARTED:
            try:
                yielded = run(send, None)
            except StopIteration as stop:
                return stop.value
        while True:
            try:
                if type(yielded) is _ThreadCall:
                    # Started here, outside the context: the worker thread
                    # enters it, and only one thread may be in it at a time.
                    value = yield from yielded.start()
                else:
                    value = yield yielded
            except GeneratorExit:
                close = getattr(coro, "close", None)
                if close is not None:
                    close()
                raise
            except BaseException as e:  # asyncio's cancellation, or a future's error
                error = e
                value = None
            try:
                yielded = run(send, value) if error is None else run(throw, error)
            except StopIteration as stop:
                return stop.value
            error = None


async def in_context(context: Context, awaitable: t.Awaitable[T]) -> T:
    """``awaitable`` awaited with every step of it run in ``context`` (see
    :class:`InContext`), as a coroutine: what ``create_task`` and
    ``run_coroutine_threadsafe`` take."""
    return t.cast(T, await InContext(context, awaitable))


class InlineCalls:
    """What :func:`_drive` hands runs of sync steps to where they must run in
    the calling thread (under the WSGI door, whose request thread is the one
    sync code expects: its ``threading.local`` values): each call is made at
    once, its outcome in a done future."""

    def run(
        self,
        loop: asyncio.AbstractEventLoop,
        func: t.Callable[[], T],
        *,
        cancellable: bool = True,
        on_cancel: t.Callable[[], None] | None = None,
    ) -> asyncio.Future[T]:
        return settle_now(loop, func)


#: The one :class:`InlineCalls` (it keeps no state).
INLINE_CALLS = InlineCalls()


class RequestLane:
    """What the ASGI door hands :func:`_drive` for a request's runs of sync steps:
    the request's :class:`~kolben.threads.Lane` (one worker thread for all of its
    sync code, as under WSGI), made at its first run of sync steps and kept in
    the request's context. The pipeline gives it back when it ends with a
    buffered body or an async one (sent on the loop); for a sync streamed body
    the door finds it (:func:`lane_of`), advances the body in it and releases
    it."""


#: The one :class:`RequestLane` (the lane itself is in the request's context).
REQUEST_LANE = RequestLane()


def lane_of(context: Context) -> Lane | None:
    """The lane the request running in ``context`` took, if it ran sync code
    (not one its context was copied with: a request served from inside
    another's view, through the test client)."""
    lane = context.get(current_lane)
    return lane if lane is not None and lane.owner is context else None


def _lane_for_this_request(app: Kolben, context: Context) -> Lane:
    lane = current_lane.get()
    if lane is None or lane.owner is not context:
        lane = app.worker_threads.lane(context)
        lane._task = asyncio.current_task()
        current_lane.set(lane)
    return lane


class _ThreadCall:
    """A call for the worker threads that :class:`InContext` starts once the
    awaiting coroutine has left the context (see :func:`_drive`)."""

    __slots__ = ("body", "future", "job", "loop", "pool")

    def __init__(
        self,
        pool: WorkerThreads | InlineCalls | Lane,
        loop: asyncio.AbstractEventLoop,
        job: t.Callable[[], t.Any],
        body: Body | None = None,
    ) -> None:
        self.pool = pool
        self.loop = loop
        self.job = job
        #: The request body the thread may wait for: abandoned if the awaiting
        #: task is cancelled (the thread stops waiting for the client).
        self.body = body
        self.future: asyncio.Future[t.Any] | None = None

    def start(self) -> asyncio.Future[t.Any]:
        body = self.body
        self.future = self.pool.run(
            self.loop,
            self.job,
            cancellable=False,
            on_cancel=None if body is None else body.abandon,
        )
        return self.future

    def __await__(self) -> Generator[t.Any, t.Any, t.Any]:
        return (yield self)


class Body(t.Protocol):
    """What :func:`drive` asks of a request body not received yet."""

    filled: bool

    async def before_thread_step(self) -> None: ...

    async def before_loop_step(self) -> None: ...

    def abandon(self) -> None: ...


def drive(
    app: Kolben,
    steps: Steps[T],
    context: Context,
    body: Body | None = None,
) -> t.Awaitable[T]:
    """Run ``steps`` to the end for the ASGI door, in ``context``: ``async def``
    steps awaited on the running loop, runs of sync steps in one worker-thread
    call each; returns the awaitable doing it.

    If the awaiting task is cancelled while an ``async def`` step awaits, that
    step raises :exc:`asyncio.CancelledError` into the pipeline, which runs its
    teardown steps (they see the error) and re-raises it. If it is cancelled
    while a worker thread runs part of the pipeline, the thread is let finish
    (the pipeline is never advanced in two places at once), the rest of the
    request is finished, and the cancellation is raised after.

    ``body`` (the ASGI door's lazily received body) is received before the first
    ``async def`` step (code on the loop can't wait for it), and its first
    message before the first worker-thread step.

    PERF: the driving coroutine itself runs in ``context`` (through
    :class:`InContext`), so each step is a plain ``await``; ``context`` is
    entered again only when the request suspends (a worker-thread call, an I/O
    wait), and it is free while a worker thread runs in it.
    """
    return InContext(context, _drive(app, steps, context, body))


def drive_eagerly(
    app: Kolben,
    steps: Steps[T],
    context: Context,
    body: Body | None = None,
    threads: RequestLane | None = None,
) -> tuple[bool, t.Any]:
    """:func:`drive`, advanced at once up to its first suspension.

    Returns ``(True, result)`` when the steps ran to the end without suspending
    (all of the request's user code was ``async def`` and never waited on I/O),
    else ``(False, awaitable)``: await it for the result.

    PERF: a request that never suspends needs no awaitable (nor its generator).
    """
    coro = _drive(app, steps, context, body, threads)
    try:
        yielded = context.run(coro.send, None)
    except StopIteration as stop:
        return True, stop.value
    return False, InContext(context, coro, yielded)


async def _drive(
    app: Kolben,
    steps: Steps[T],
    context: Context,
    body: Body | None,
    threads: WorkerThreads | InlineCalls | RequestLane | None = None,
) -> T:
    send = steps.send
    custom_ensure_sync = app._custom_ensure_sync
    #: A cancellation that arrived while a worker thread ran part of the
    #: pipeline: the rest of the request is finished, then it is raised.
    cancelled: asyncio.CancelledError | None = None
    #: The request's lane, once a run of sync steps took it (REQUEST_LANE).
    lane: Lane | None = None
    try:
        step = send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    preopened = False
    while True:
        func, args = step
        # PERF: sync_callable() inlined, the plain-function case first (an
        # ``async def`` one needs no test for inspect's coroutine marker).
        if type(func) is FunctionType and not custom_ensure_sync:
            sync_func: t.Callable[..., t.Any] | None = (
                None
                if func.__code__.co_flags & _CO_COROUTINE
                or "_is_coroutine_marker" in func.__dict__
                else func
            )
        elif type(func) is DualStep:
            func = func.aio
            sync_func = None
        elif type(func) is Handling or type(func) is Direct:
            sync_func = func
        elif custom_ensure_sync:
            try:
                sync_func = app.ensure_sync(func)
            except BaseException as e:  # the app's own ensure_sync failed: as
                # in Flask, an error of the step (handlers, teardown run)
                try:
                    step = steps.throw(e)
                except StopIteration as stop:
                    return _finish(stop.value, cancelled, lane)  # type: ignore[no-any-return]
                continue
        else:
            sync_func = None if is_async_callable(func) else func
        if sync_func is None:
            try:
                if body is not None and not body.filled:
                    await body.before_loop_step()
                if not preopened:
                    # A server-side session with async I/O is read before async
                    # user code may touch it on the loop (once per request).
                    preopened = True
                    req_ctx = _cv_request.get(None)
                    if (
                        req_ctx is not None
                        and req_ctx._opened_session is None
                        # PERF: the built-in cookie sessions do no I/O.
                        and type(app.session_interface) is not SecureCookieSessionInterface
                    ):
                        await req_ctx._preopen_session_if_needed()
                value = await (func(**args) if type(args) is dict else func(*args))
            except BaseException as e:  # thrown into the pipeline, which decides
                try:
                    step = steps.throw(_step_error(e))
                except StopIteration as stop:
                    return _finish(stop.value, cancelled, lane)  # type: ignore[no-any-return]
                continue
            try:
                step = send(value)
            except StopIteration as stop:
                return _finish(stop.value, cancelled, lane)  # type: ignore[no-any-return]
            continue
        if body is not None and not body.filled:
            try:
                await body.before_thread_step()
            except BaseException as e:
                # The client left, or the request was cancelled, while its body
                # was awaited: thrown into the pipeline in the place of the step
                # (which runs its teardown steps), and the body awaited no more.
                body.filled = True
                try:
                    step = steps.throw(e)
                except StopIteration as stop:
                    return _finish(stop.value, cancelled, lane)  # type: ignore[no-any-return]
                continue
        loop = running_loop()
        if threads is REQUEST_LANE:
            lane = _lane_for_this_request(app, context)
        call = _ThreadCall(
            app.worker_threads
            if threads is None
            else lane
            if lane is not None
            else t.cast("WorkerThreads | InlineCalls", threads),
            loop,
            partial(context.run, _continue_in_thread, app, steps, sync_func, args, loop),
            body,
        )
        try:
            outcome = await call
        except asyncio.CancelledError as e:
            # The future refuses to be cancelled, so the thread has finished its
            # part: the pipeline is where it left it. The request can't be
            # interrupted cleanly at an arbitrary point (it may be tearing down
            # already), so it is finished, as a WSGI server would, and the
            # cancellation raised after.
            future = call.future
            if future is None or not future.done() or future.exception() is not None:
                raise
            outcome = future.result()
            cancelled = e
        if isinstance(outcome, _Done):
            # Ended in the lane's thread, which gave itself back as the call ended
            # if the body needs no thread (_continue_in_thread): nothing to release.
            return _finish(outcome.value, cancelled, None)  # type: ignore[no-any-return]
        step = outcome


def _finish(value: T, cancelled: asyncio.CancelledError | None, lane: Lane | None) -> T:
    if lane is not None and _needs_no_thread(value):
        # The request needs its thread no more (the door releases it after a
        # sync streamed body).
        lane.release()
    if cancelled is not None:
        # The cancellation of a request whose pipeline was finished anyway (it came
        # while a worker thread ran part of it): raised as it came (asyncio's
        # timeout and TaskGroup check its exact type), carrying what the pipeline
        # returned, so the door can still send a response it has whole.
        cancelled.kolben_finished = (value,)  # type: ignore[attr-defined]
        raise cancelled
    return value


def partial(func: t.Callable[..., T], *args: t.Any) -> t.Callable[[], T]:
    """``functools.partial`` for positional arguments (kept here for the type)."""
    return functools.partial(func, *args)


# -- runs of hooks as one step ---------------------------------------------------------
#
# PERF: a list of hooks that are all sync (or all ``async def``) is one step: one
# driver round (and under ASGI at most one thread crossing) for the whole list.
# Whether a list is all of one kind is decided once per list (HookKinds) and
# remembered until the list changes. A list of mixed kinds, or an app whose own
# ensure_sync must see every function, gets one step per function.

SYNC = 1
ASYNC = 2
MIXED = 3


class HookKinds:
    """Whether each hook list of an app is all sync, all async or mixed,
    remembered per list (by identity and length: registration only appends)."""

    __slots__ = ("_kinds",)

    def __init__(self) -> None:
        self._kinds: Cache[int, tuple[list[t.Any], int, int]] = Cache(
            1024, "kolben.pipeline: hook list kinds"
        )

    def of(self, funcs: list[t.Callable[..., t.Any]]) -> int:
        entry = self._kinds.get(id(funcs))
        if entry is not None and entry[0] is funcs and entry[1] == len(funcs):
            return entry[2]
        kinds = {ASYNC if is_async_callable(func) else SYNC for func in funcs}
        kind = kinds.pop() if len(kinds) == 1 else MIXED
        # The list is kept in the entry, so its id can't be reused while there.
        self._kinds.put(id(funcs), (funcs, len(funcs), kind))
        return kind


def call_until_value(funcs: list[t.Callable[[], t.Any]]) -> t.Any:
    """Call each function until one returns a value (``before_request``)."""
    for func in funcs:
        rv = func()
        if rv is not None:
            return rv
    return None


async def acall_until_value(funcs: list[t.Callable[[], t.Any]]) -> t.Any:
    """Await each function until one returns a value (``before_request``)."""
    for func in funcs:
        rv = await func()
        if rv is not None:
            return rv
    return None


def call_in_reverse(funcs: list[t.Callable[[t.Any], t.Any]], value: t.Any) -> None:
    """Call each function with ``value``, last first (teardown functions)."""
    for func in reversed(funcs):
        func(value)


async def acall_in_reverse(funcs: list[t.Callable[[t.Any], t.Any]], value: t.Any) -> None:
    """Await each function with ``value``, last first (teardown functions)."""
    for func in reversed(funcs):
        await func(value)


def pass_through_reversed(funcs: list[t.Callable[[t.Any], t.Any]], value: t.Any) -> t.Any:
    """Pass ``value`` through each function, last first (``after_request``)."""
    for func in reversed(funcs):
        value = func(value)
    return value


async def apass_through_reversed(funcs: list[t.Callable[[t.Any], t.Any]], value: t.Any) -> t.Any:
    """Pass ``value`` through each awaited function, last first."""
    for func in reversed(funcs):
        value = await func(value)
    return value


#: The runners of a plan's sync hook lists (see :mod:`kolben.hook_plans`):
#: kolben's own plain functions, which the synchronous twins call directly.
#: PERF: one set lookup instead of the plain-function test (~1.4k instructions:
#: a function's ``__code__`` and ``__dict__`` are read through descriptors).
SYNC_RUNNERS = frozenset({call_until_value, call_in_reverse, pass_through_reversed})
