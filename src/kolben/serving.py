"""The ASGI lifespan: ``before_serving``, ``while_serving`` and ``after_serving``.

The ``before_serving`` and ``after_serving`` functions run once when an ASGI
server starts and stops. A ``while_serving`` function is a generator function
with one ``yield``: its code before the ``yield`` runs at the lifespan startup
(after the ``before_serving`` functions), the rest at shutdown (before the
``after_serving`` functions), so what it opens and closes sit together::

    @app.while_serving
    async def pool():
        app.extensions["pool"] = await create_pool()
        yield
        await app.extensions["pool"].close()

This module serves the ASGI ``lifespan`` scope (:func:`serve_lifespan`, which
:mod:`kolben.asgi` hands it to) and turns each ``while_serving`` function into
the steps the lifespan runs: a *starter*, which makes the generator
and runs it to its ``yield``, and, for each generator started, a *finisher*,
which runs the rest. ``async def`` ones run on the server's loop, plain
generator functions in a worker thread.
"""

from __future__ import annotations

import asyncio
import collections.abc as cabc
import contextlib
import contextvars
import inspect
import typing as t

from . import typing as ft

if t.TYPE_CHECKING:
    from .app import Kolben

__all__ = ["serve_lifespan"]

#: The attribute of a starter or finisher naming the user's function (for logs).
_OWNER = "_kolben_while_serving"


#: The generators a lifespan started, with their functions (one list per
#: lifespan: an app served by two servers at once, or by nested test tools,
#: keeps each one's).
Started = list[tuple[t.Any, t.Callable[..., t.Any]]]


def starters(app: Kolben, started: Started) -> list[t.Callable[[], t.Any]]:
    """One step per ``while_serving`` function of ``app``, in registration
    order: each makes its generator and runs it to its ``yield``, adding it to
    ``started`` for :func:`finishers`."""
    return [_starter(started, func) for func in app.while_serving_funcs]


def finishers(started: Started) -> list[t.Callable[[], t.Any]]:
    """One step per generator :func:`starters` started (taken out of
    ``started``), the last started first: each runs the rest of it, which must
    end there."""
    generators, started[:] = started[:], []
    return [_finisher(gen, func) for gen, func in reversed(generators)]


def closers(started: Started) -> list[t.Callable[[], t.Any]]:
    """After a failed startup: one step per generator started (taken out of
    ``started``), the last first, closing it (``GeneratorExit`` at its
    ``yield``, so its ``finally`` blocks and context managers end what it
    opened)."""
    generators, started[:] = started[:], []
    return [_closer(gen, func) for gen, func in reversed(generators)]


def serving_function_of(step: t.Callable[..., t.Any]) -> t.Callable[..., t.Any] | None:
    """The ``while_serving`` function a step made here runs, else None."""
    return getattr(step, _OWNER, None)


def _not_a_generator(func: t.Callable[..., t.Any], made: object) -> TypeError:
    return TypeError(
        f"The while_serving function {func!r} returned {type(made).__name__!r}, not a"
        " generator: write it as a generator function, 'async def' (or 'def') with"
        " one 'yield' between its startup and its shutdown code."
    )


def _no_yield(func: t.Callable[..., t.Any]) -> RuntimeError:
    return RuntimeError(
        f"The while_serving function {func!r} ended without yielding: it must"
        " 'yield' once, where the server serves (startup code before it, shutdown"
        " code after it)."
    )


def _second_yield(func: t.Callable[..., t.Any]) -> RuntimeError:
    return RuntimeError(
        f"The while_serving function {func!r} yielded more than once: it must"
        " 'yield' once, and end after its shutdown code (it was closed)."
    )


def _starter(started: Started, func: t.Callable[..., t.Any]) -> t.Callable[[], t.Any]:
    start: t.Callable[[], t.Any]
    if inspect.isasyncgenfunction(func):

        async def start_async() -> None:
            gen = func()
            try:
                await gen.__anext__()
            except StopAsyncIteration:
                raise _no_yield(func) from None
            started.append((gen, func))

        start = start_async
    else:

        def start_sync() -> None:
            gen = func()
            if not isinstance(gen, cabc.Generator):
                if isinstance(gen, cabc.AsyncGenerator):
                    # Made by a sync callable (a lambda, a partial of one): closed
                    # unstarted, then refused.
                    gen.aclose().close()
                raise _not_a_generator(func, gen)
            try:
                next(gen)
            except StopIteration:
                raise _no_yield(func) from None
            started.append((gen, func))

        start = start_sync
    setattr(start, _OWNER, func)
    return start


def _finisher(gen: t.Any, func: t.Callable[..., t.Any]) -> t.Callable[[], t.Any]:
    finish: t.Callable[[], t.Any]
    if isinstance(gen, cabc.AsyncGenerator):

        async def finish_async() -> None:
            try:
                await gen.__anext__()
            except StopAsyncIteration:
                return
            await gen.aclose()
            raise _second_yield(func)

        finish = finish_async
    else:

        def finish_sync() -> None:
            try:
                next(gen)
            except StopIteration:
                return
            gen.close()
            raise _second_yield(func)

        finish = finish_sync
    setattr(finish, _OWNER, func)
    return finish


def _closer(gen: t.Any, func: t.Callable[..., t.Any]) -> t.Callable[[], t.Any]:
    close: t.Callable[[], t.Any]
    if isinstance(gen, cabc.AsyncGenerator):

        async def close_async() -> None:
            await gen.aclose()

        close = close_async
    else:

        def close_sync() -> None:
            gen.close()

        close = close_sync
    setattr(close, _OWNER, func)
    return close


# -- the lifespan protocol ----------------------------------------------------------


async def serve_lifespan(
    app: Kolben, scope: ft.ASGIScope, receive: ft.ASGIReceive, send: ft.ASGISend
) -> None:
    """Serve the ASGI ``lifespan`` scope: the ``before_serving`` functions and the
    starters of the ``while_serving`` generators at startup, their finishers and
    the ``after_serving`` functions at shutdown (see the module)."""
    # One context for the server's life, as one task runs Quart's startup and
    # shutdown: a while_serving function's code after its yield sees the
    # context variables its code before it set (and can reset their tokens).
    context = contextvars.copy_context()
    #: The while_serving generators this lifespan started (kolben.serving).
    started: Started = []
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "lifespan.startup":
            try:
                await _run_serving_funcs(
                    app, [*app.before_serving_funcs, *starters(app, started)], context
                )
            except Exception as e:
                app.logger.exception("Lifespan startup failed")
                if started:
                    # The while_serving functions started end what they opened.
                    with contextlib.suppress(Exception):
                        await _run_serving_funcs(
                            app, closers(started), context, run_all=True
                        )
                await send({"type": "lifespan.startup.failed", "message": _describe(e)})
                # Raised after the message, as Starlette does: a server that saw
                # the message ignores it (uvicorn), and a test tool that waits
                # for the app's end (Starlette's TestClient) raises it instead of
                # serving a half-started app and hanging at its shutdown.
                raise
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            # def code of requests the server stopped waiting for (its graceful
            # shutdown timed out) is let finish first: the after_serving
            # functions close what it uses, and the process ends after them.
            timeout = app.config.get("ASGI_SHUTDOWN_TIMEOUT")
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            # So is async code: the requests the server cancelled (uvicorn
            # cancels them and sends lifespan.shutdown at once, then ends the
            # process) still run their finally blocks, teardown functions and
            # the aclose() of their streamed bodies, which await.
            await _wait_cancelled_tasks(timeout)
            if deadline is not None:
                timeout = max(0.0, deadline - loop.time())
            if not await app.worker_threads.wait_idle(timeout):
                app.logger.warning(
                    "Shutting down with def code still running in %d worker"
                    " thread(s) after %s seconds (ASGI_SHUTDOWN_TIMEOUT).",
                    app.worker_threads.busy,
                    timeout,
                )
            try:
                await _run_serving_funcs(
                    app,
                    [*finishers(started), *app.after_serving_funcs],
                    context,
                    run_all=True,
                )
            except Exception as e:
                # Each failing function was logged with its traceback already.
                app.logger.error("Lifespan shutdown failed: %s", _describe(e))
                await send({"type": "lifespan.shutdown.failed", "message": _describe(e)})
                raise
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _wait_cancelled_tasks(timeout: float | None) -> None:
    """Wait, at most ``timeout`` seconds, for the tasks of this loop that were
    cancelled and are still unwinding (Python 3.11+: ``Task.cancelling()``)."""
    current = asyncio.current_task()
    cancelled = [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and not task.done()
        and getattr(task, "cancelling", _never)()
        and _serves_a_connection(task)
    ]
    if cancelled:
        await asyncio.wait(cancelled, timeout=timeout)


def _serves_a_connection(task: asyncio.Task[t.Any]) -> bool:
    """Whether ``task`` is running one of the door's requests or WebSockets (its
    chain of awaited coroutines goes through the door's handler): not the
    server's own task, which may be cancelled itself and be waiting for this
    shutdown (a driver stopped by cancellation, asyncio.timeout around a test),
    nor another app's tasks on the loop, which may never end."""
    from .asgi import _serve_http
    from .websocket import serve_websocket

    codes = (_serve_http.__code__, serve_websocket.__code__)
    coro: t.Any = task.get_coro()
    for _ in range(256):  # (a chain is never this deep; a cycle can't be)
        code = getattr(coro, "cr_code", None) or getattr(coro, "ag_code", None)
        if code is None:
            return False
        if code in codes:
            return True
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return False


def _never() -> int:
    return 0


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


async def _run_serving_funcs(
    app: Kolben,
    funcs: list[t.Callable[[], t.Any]],
    context: contextvars.Context,
    run_all: bool = False,
) -> None:
    """Run serving functions in an application context pushed in ``context``
    (the lifespan's, the same at startup and shutdown): async ones on the loop,
    sync ones in a worker thread. The first error stops them; with ``run_all``
    (shutdown: each one closes something) every one runs, each error is logged
    and the first is raised at the end.

    The context's push and pop run user code too (appcontext signal receivers,
    ``teardown_appcontext`` functions, the task resources' commit and release),
    which may be ``async def``: the whole block is pipeline steps, driven as a
    request's are (not ``with app.app_context()``, whose pop would run them with
    the synchronous driver, on the loop's thread)."""
    from .pipeline import drive

    await drive(app, _serving_steps(app, funcs, run_all), context)


def _serving_steps(
    app: Kolben, funcs: list[t.Callable[[], t.Any]], run_all: bool
) -> t.Generator[t.Any, t.Any, None]:
    ctx = app.app_context()
    yield from ctx._push()
    first_error: Exception | None = None
    exc: BaseException | None = None
    try:
        for func in funcs:
            try:
                yield func, ()
            except Exception as e:
                if not run_all:
                    raise
                owner = serving_function_of(func)
                if owner is None:
                    app.logger.exception("The after_serving function %r failed", func)
                else:
                    app.logger.exception("The while_serving function %r failed", owner)
                if first_error is None:
                    first_error = e
    except BaseException as e:
        exc = e
        raise
    finally:
        yield from ctx._pop(exc)
    if first_error is not None:
        raise first_error
