"""Running ``async def`` functions from synchronous code, and telling them apart.

Under WSGI an async view or hook runs on an event loop owned by the worker thread
and reused for every request that thread serves (never one loop per request).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import threading
import typing as t
from contextvars import ContextVar
from types import FunctionType

_CO_COROUTINE = inspect.CO_COROUTINE

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


def is_async_callable(func: t.Callable[..., t.Any]) -> bool:
    """Return whether calling ``func`` returns a coroutine (``async def``)."""
    # PERF: a plain function is told from its code flags; inspect.iscoroutinefunction
    # unwraps partials and methods and costs ~10x more. (A function marked with
    # inspect.markcoroutinefunction carries the marker in its __dict__; looking
    # there is cheaper than a failing hasattr.)
    if type(func) is FunctionType and "_is_coroutine_marker" not in func.__dict__:
        return bool(func.__code__.co_flags & _CO_COROUTINE)
    return inspect.iscoroutinefunction(func) or (
        callable(func)
        and not inspect.isclass(func)
        and inspect.iscoroutinefunction(getattr(func, "__call__", None))  # noqa: B004
    )


def mark_as_asgi3_entry(func: F) -> F:
    """Mark ``func``, a sync function that returns a coroutine when called as
    ASGI 3 (``await func(scope, receive, send)``), so that servers telling
    ASGI 3 from ASGI 2 (or from WSGI) by a coroutine function see ASGI 3:
    asyncio's marker (``asyncio.iscoroutinefunction``: uvicorn's automatic
    interface before Python 3.14, asgiref's ``guarantee_single_callable``,
    Starlette's ``TestClient``) and, from Python 3.12, inspect's
    (``inspect.markcoroutinefunction``: uvicorn on 3.14, hypercorn)."""
    marker = getattr(asyncio.coroutines, "_is_coroutine", None)
    if marker is not None:
        func._is_coroutine = marker  # type: ignore[attr-defined]
    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is not None:
        mark(func)
    return func


class _ThreadLoop:
    """An event loop owned by one thread, closed when the thread ends."""

    def __init__(self) -> None:
        # Made in an empty context: the loop's own handles (its self-pipe reader)
        # capture the context they are made in, and the first request served
        # with this loop must not stay reachable from it.
        self.loop = contextvars.Context().run(asyncio.new_event_loop)
        #: The tasks made on the loop since :func:`run_sync` last looked (see
        #: :func:`_cancel_leftover_tasks`). PERF: a task factory that notes them
        #: (~0.2 us a call) rather than asyncio.all_tasks() after every call (~2 us).
        self.created: list[asyncio.Task[t.Any]] = []
        note = self.created.append
        task_class = asyncio.Task

        def factory(
            loop: asyncio.AbstractEventLoop, coro: t.Any, **kwargs: t.Any
        ) -> asyncio.Task[t.Any]:
            task = task_class(coro, loop=loop, **kwargs)
            note(task)
            return task

        self.loop.set_task_factory(factory)

    def __del__(self) -> None:
        if not self.loop.is_closed():
            self.loop.close()


_local = threading.local()

#: The event loop of the ASGI server, in the context of a request served through
#: the ASGI door; None under WSGI.
_server_loop: ContextVar[asyncio.AbstractEventLoop | None] = ContextVar(
    "kolben.server_loop", default=None
)


#: How many sends a loop of sends (a streamed body's chunks, a WebSocket view's
#: messages) makes before it lets the event loop run once: a server's send() may
#: complete without suspending (granian and hypercorn's, once the client is
#: gone), and the loop would never see the client leave. PERF: not a loop
#: iteration per send (~4 us each).
LOOP_TURN_EVERY = 32


class _RunningLoopMemo(threading.local):
    loop: asyncio.AbstractEventLoop | None = None


_running = _RunningLoopMemo()


def running_loop() -> asyncio.AbstractEventLoop:
    """Return the event loop running in this thread, as
    :func:`asyncio.get_running_loop` does (and raise :exc:`RuntimeError` as it does
    when there is none).

    PERF: on Python 3.11, ``get_running_loop()`` makes a ``getpid()`` system call
    on every call (its check for a forked process), a measurable part of a served
    request where system calls are slow. The loop is remembered per thread and
    used while it is still running, in this thread (asyncio's loops record their
    thread); the memory is dropped in a forked child.
    """
    loop = _running.loop
    if (
        loop is not None
        and loop.is_running()
        and getattr(loop, "_thread_id", None) in (None, threading.get_ident())
    ):
        return loop
    _running.loop = loop = asyncio.get_running_loop()
    return loop


def on_a_thread_loop(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is this thread's own loop (:func:`run_sync`'s: the WSGI
    door's ``async def`` code runs there), where sync code called from async
    code runs in place, in the thread that serves the request."""
    holder: _ThreadLoop | None = getattr(_local, "holder", None)
    return holder is not None and holder.loop is loop


def _forget_running_loop() -> None:
    _running.loop = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_running_loop)

T = t.TypeVar("T")


def run_sync(
    awaitable: t.Coroutine[t.Any, t.Any, T], context: contextvars.Context | None = None
) -> T:
    """Run a coroutine to completion from synchronous code.

    Under the ASGI door (a request running in a worker thread) it runs on the
    server's event loop, in the current context, while this thread waits. Under
    WSGI it runs on this thread's own event loop, created once and reused.
    Raises :exc:`RuntimeError` if an event loop is already running in this thread:
    there the coroutine must be awaited instead.

    What the coroutine changes in its (copied) context is copied back, as
    asgiref's ``AsyncToSync`` does. With ``context`` (under WSGI: the steps of
    one async body, see :class:`kolben.wrappers._SyncBridge`) the coroutine runs
    in that context instead, so each step sees what the one before set there,
    and nothing is copied back.
    """
    server_loop = _server_loop.get()
    if context is None and server_loop is not None and server_loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not server_loop:
            # run_coroutine_threadsafe runs the task in a copy of this context.
            return _copying_back(
                lambda coro: asyncio.run_coroutine_threadsafe(coro, server_loop).result(),
                _body_received_first(awaitable),
            )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        awaitable.close()
        # The same under either door: async code (an async view, on the WSGI
        # door's per-thread loop or the ASGI server's) called the sync code.
        raise RuntimeError(
            "An async function was called from synchronous code that is itself running"
            " inside an event loop, so it can't be run to completion here. Await it"
            " instead, or make it a plain 'def' function."
        )
    holder: _ThreadLoop | None = getattr(_local, "holder", None)
    if holder is None:
        holder = _local.holder = _ThreadLoop()
    if context is not None:
        from .pipeline import InContext

        in_context: t.Awaitable[T] = InContext(context, awaitable)
        return holder.loop.run_until_complete(in_context)
    try:
        return _copying_back(holder.loop.run_until_complete, awaitable)
    finally:
        if len(holder.created) > 1:  # more than run_until_complete's own task
            _cancel_leftover_tasks(holder)
        else:
            holder.created.clear()


def _cancel_leftover_tasks(holder: _ThreadLoop) -> None:
    """Cancel the tasks a coroutine run by :func:`run_sync` left pending on the
    thread's loop (``asyncio.create_task`` in an ``async def`` view), and let them
    finish, as asgiref's ``AsyncToSync`` (Flask's ``ensure_sync``) does when its
    per-call loop ends: otherwise they would stay frozen until some later request
    on this thread runs its async code, then resume inside that request with the
    old request's context (or be destroyed pending when the thread ends).
    An exception other than the cancellation goes to the loop's exception
    handler, as in asgiref."""
    loop = holder.loop
    while holder.created:
        leftovers = [task for task in holder.created if not task.done()]
        holder.created.clear()
        if not leftovers:
            return
        for task in leftovers:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        for task in leftovers:
            if not task.cancelled() and task.exception() is not None:
                loop.call_exception_handler(
                    {
                        "message": "unhandled exception in a task left pending by an"
                        " async function run from synchronous code",
                        "exception": task.exception(),
                        "task": task,
                    }
                )


def _body_received_first(
    awaitable: t.Coroutine[t.Any, t.Any, T],
) -> t.Coroutine[t.Any, t.Any, T]:
    """``awaitable``, preceded by what the ASGI door receives of the request's
    body before ``async def`` code runs on the loop (see
    ``kolben.asgi.LazyBody.before_loop_step``).

    The driver does it before each ``async def`` step; an ``async def`` function
    called from a worker thread (by an override of ``full_dispatch_request``,
    ``dispatch_request`` or ``preprocess_request``, or through an app's own
    ``ensure_sync``) runs on the loop too, where reading a body not received yet is a 413: an
    ``async def`` view so called must find its whole body there, as it does
    without the override.
    """
    from .globals import _cv_request

    req_ctx = _cv_request.get(None)
    if req_ctx is None:
        return awaitable
    # A request without a body may not have made its environ: not made here.
    environ = req_ctx.request.__dict__.get("environ")
    body = environ.get("wsgi.input") if environ is not None else None
    step = getattr(body, "before_loop_step", None)
    if step is None or getattr(body, "filled", True):
        return awaitable

    async def received_first() -> T:
        try:
            await step()
        except BaseException:
            awaitable.close()
            raise
        return await awaitable

    return received_first()


def _copying_back(
    run: t.Callable[[t.Coroutine[t.Any, t.Any, T]], T], awaitable: t.Coroutine[t.Any, t.Any, T]
) -> T:
    """``run(awaitable)`` as a task in a copy of this context, marked so
    (stream_with_context must not push contexts there that the caller's context
    would later have to pop); what it changed there is then set here too."""
    ctx_out: list[contextvars.Context] = []
    try:
        return run(_in_task_copy(awaitable, ctx_out))
    finally:
        _copy_back(ctx_out)


#: True in code that runs in a copy of the caller's context: a coroutine run by
#: :func:`run_sync` on the thread's own loop (a task copies the context), whose
#: context-variable changes the caller never sees.
in_context_copy: ContextVar[bool] = ContextVar("kolben.in_context_copy", default=False)


async def _in_task_copy(
    awaitable: t.Coroutine[t.Any, t.Any, T], ctx_out: list[contextvars.Context] | None = None
) -> T:
    in_context_copy.set(True)
    try:
        return await awaitable
    finally:
        if ctx_out is not None:
            ctx_out.append(contextvars.copy_context())


def _copy_back(ctx_out: list[contextvars.Context]) -> None:
    """Set in the caller's context the context variables the coroutine set in
    its copy, as asgiref's AsyncToSync (Flask's ensure_sync) does: a ContextVar
    an ``async def`` hook sets is seen by the steps after it. kolben's own
    variables (the pushed contexts, the copy marker) are left as they are."""
    if not ctx_out:
        return
    for var, value in ctx_out[0].items():
        if var.name.startswith("kolben."):
            continue
        if var.get(_MISSING) is not value:
            var.set(value)


_MISSING = object()
