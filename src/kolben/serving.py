"""``while_serving`` functions: code around an ASGI server's life, as in Quart.

A ``while_serving`` function is a generator function with one ``yield``: its
code before the ``yield`` runs at the lifespan startup (after the
``before_serving`` functions), the rest at shutdown (before the
``after_serving`` functions), so what it opens and closes sit together::

    @app.while_serving
    async def pool():
        app.extensions["pool"] = await create_pool()
        yield
        await app.extensions["pool"].close()

This module turns each function into the steps the lifespan runs
(:func:`kolben.asgi._run_serving_funcs`): a *starter*, which makes the generator
and runs it to its ``yield``, and, for each generator started, a *finisher*,
which runs the rest. ``async def`` ones run on the server's loop, plain
generator functions in a worker thread.
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import typing as t

if t.TYPE_CHECKING:
    from .app import Kolben

__all__ = ["Started", "closers", "finishers", "serving_function_of", "starters"]

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
