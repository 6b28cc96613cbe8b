"""Per-task resources: acquired lazily once per application context, committed or
rolled back and released when the context ends, with after-commit callbacks.

A *task* is one application context: a request, a CLI command, a
``with app.app_context():`` block. Register a resource once, at setup::

    db = app.task_resource(
        "db",
        acquire=lambda: sqlite3.connect(app.config["DATABASE"]),
        commit=lambda conn: conn.commit(),
        rollback=lambda conn: conn.rollback(),
        release=lambda conn: conn.close(),
    )

    @app.post("/users")
    def create_user():
        db.get().execute("INSERT INTO users (email) VALUES (?)", [email])
        after_commit(lambda: send_welcome_mail(email))  # only once it is saved
        return "", 201

How a task ends:

- In a request, once the response is ready (after the ``after_request``
  functions and the session save) and before it is sent, every resource the
  request acquired is committed, in the order acquired, then the after-commit
  callbacks run in the order registered. If a commit raises, the resources not
  yet committed are rolled back, the callbacks are discarded, and the error is
  handled as any unhandled error (logged, 500).
- When the context ends (its last pop), anything still pending is committed (no
  exception) or rolled back (an exception ended the task), then every resource is
  released, in the reverse order of acquisition. An exception handled by an error
  handler (``abort(404)``, an ``errorhandler``) is a response, not an exception:
  roll back explicitly with :func:`rollback_task` when an error response must not
  keep the writes.
- A request that never calls :meth:`TaskResource.get` pays nothing.

Errors at the end of a task are logged with the app's logger and never stop the
other resources from being rolled back and released. :func:`end_task` raises in
one case only: a commit it made itself failed (a CLI command or an app context
with no request, which has no response to turn into a 500), so the caller does not
believe its data was saved; it raises after everything was rolled back and
released.

``acquire``, ``commit``, ``rollback``, ``release`` and the after-commit callbacks
may be ``async def`` functions. The end of a task is a part of the request
pipeline (see :mod:`kolben.pipeline`): under ASGI an ``async def`` one is awaited
on the server's loop and a sync one runs in a worker thread; under WSGI they run
with :meth:`Kolben.ensure_sync`. In an ``async def`` view use
``await handle.aget()``.
"""

from __future__ import annotations

import asyncio
import contextvars
import typing as t
from functools import partial

from . import globals as _globals
from .concurrency import _server_loop, is_async_callable, on_a_thread_loop, running_loop
from .pipeline import Steps, run_steps

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app

if t.TYPE_CHECKING:
    from .app import Kolben
    from .ctx import AppContext

F = t.TypeVar("F", bound=t.Callable[[], t.Any])

__all__ = [
    "TaskResource",
    "acommit_task",
    "after_commit",
    "commit_task",
    "commit_task_steps",
    "end_task",
    "end_task_steps",
    "rollback_task",
]


class _TaskState:
    """What one application context acquired and must finish.

    PERF: created on the first ``get()`` or ``after_commit()`` in a context, so a
    task that uses no resource has none (the app checks for ``None``).
    """

    __slots__ = ("acquired", "callbacks", "failed", "pending", "request_committed")

    def __init__(self) -> None:
        #: handle -> resource, in acquisition order (all of them, until released).
        self.acquired: dict[TaskResource, t.Any] = {}
        #: Handles acquired and not yet committed or rolled back, in order.
        self.pending: list[TaskResource] = []
        #: after_commit callbacks waiting for the next successful commit.
        self.callbacks: list[t.Callable[[], t.Any]] = []
        #: A commit failed (or the task was rolled back): commit nothing more.
        self.failed = False
        #: commit_task ran (a request): end_task only logs its own errors.
        self.request_committed = False


def _state(ctx: AppContext) -> _TaskState:
    state: _TaskState | None = ctx._task_state
    if state is None:
        state = ctx._task_state = _TaskState()
    return state


def _current_context(what: str) -> AppContext:
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(
            f"{what} needs an active application context (a request, a CLI command,"
            " or 'with app.app_context():'); the resource lives as long as that"
            " context."
        )
    return ctx


class TaskResource:
    """The handle of a resource registered with :meth:`Kolben.task_resource`.

    :meth:`get` returns the resource of the current application context,
    acquiring it on first use.
    """

    __slots__ = ("_async_acquire", "acquire", "app", "commit", "name", "release", "rollback")

    def __init__(
        self,
        app: Kolben,
        name: str,
        *,
        acquire: t.Callable[[], t.Any],
        release: t.Callable[[t.Any], t.Any],
        commit: t.Callable[[t.Any], t.Any] | None = None,
        rollback: t.Callable[[t.Any], t.Any] | None = None,
    ) -> None:
        self.app = app
        self.name = name
        self.acquire = acquire
        self.release = release
        self.commit = commit
        self.rollback = rollback
        # PERF: sync or async decided once, at registration.
        self._async_acquire = is_async_callable(acquire)

    @classmethod
    def register(
        cls,
        app: Kolben,
        name: str,
        *,
        acquire: t.Callable[[], t.Any],
        release: t.Callable[[t.Any], t.Any],
        commit: t.Callable[[t.Any], t.Any] | None = None,
        rollback: t.Callable[[t.Any], t.Any] | None = None,
    ) -> TaskResource:
        """Create a handle and store it in ``app.task_resources[name]``.

        Raises :exc:`ValueError` if ``name`` is already registered on ``app``.
        """
        for label, fn in (("acquire", acquire), ("release", release)):
            if not callable(fn):
                raise TypeError(f"task_resource({name!r}): {label} must be a function, got {fn!r}.")
        for label, opt in (("commit", commit), ("rollback", rollback)):
            if opt is not None and not callable(opt):
                raise TypeError(
                    f"task_resource({name!r}): {label} must be a function or None, got {opt!r}."
                )
        if name in app.task_resources:
            raise ValueError(
                f"A task resource named {name!r} is already registered on app"
                f" {app.name!r}. Register each resource once, at setup, and share the"
                f" handle (or app.task_resources[{name!r}]); pick another name for a"
                " second resource."
            )
        handle = cls(app, name, acquire=acquire, release=release, commit=commit, rollback=rollback)
        app.task_resources[name] = handle
        return handle

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} of {self.app.name!r}>"

    def _context(self) -> AppContext:
        ctx = _current_context(f"Task resource {self.name!r}")
        if ctx.app is not self.app:
            raise RuntimeError(
                f"Task resource {self.name!r} belongs to app {self.app.name!r}, but the"
                f" active application context is {ctx.app.name!r}'s."
            )
        return ctx

    def _reuse(self, state: _TaskState, resource: t.Any) -> t.Any:
        """The resource this task acquired already; one used again after a
        commit (or a rollback) is finished again when the task ends."""
        if self not in state.pending:
            state.pending.append(self)
        return resource

    def _store(self, state: _TaskState, resource: t.Any) -> t.Any:
        state.acquired[self] = resource
        state.pending.append(self)
        return resource

    def get(self) -> t.Any:
        """The resource of the current application context, acquired on first use.

        An ``async def`` acquire is run with ``app.ensure_sync``; in an
        ``async def`` view, ``await`` :meth:`aget` instead.
        """
        ctx = self._context()
        state = _state(ctx)
        try:
            resource = state.acquired[self]
        except KeyError:
            return self._store(state, self.app.ensure_sync(self.acquire)())
        return self._reuse(state, resource)

    async def aget(self) -> t.Any:
        """:meth:`get` for ``async def`` code: an async acquire is awaited on the
        running loop. A sync one never runs on the ASGI door's loop: there it
        runs in a worker thread (the request's own when it has one that is free:
        not always the one its sync ``release`` runs in); elsewhere (the WSGI
        door, a loop a ``def`` view or a command started) in this thread."""
        ctx = self._context()
        state = _state(ctx)
        try:
            return self._reuse(state, state.acquired[self])
        except KeyError:
            pass
        if self._async_acquire:
            resource = await self.acquire()
        else:
            off_loop = _off_the_server_loop(self.app, self.acquire)
            if off_loop is None:
                resource = self.acquire()
            else:
                try:
                    resource = await off_loop
                except asyncio.CancelledError:
                    # The call refuses to be cancelled, so it has ended: what it
                    # acquired is kept for this task, to be released with it (or
                    # now, if another coroutine of the task acquired one meanwhile).
                    if off_loop.done() and off_loop.exception() is None:
                        if self in state.acquired:
                            await self._arelease_quietly(off_loop.result())
                        else:
                            self._store(state, off_loop.result())
                    raise
        if self in state.acquired:  # acquired meanwhile by another coroutine
            await self._arelease_quietly(resource)
            return state.acquired[self]
        return self._store(state, resource)

    async def _arelease_quietly(self, resource: t.Any) -> None:
        try:
            if is_async_callable(self.release):
                await self.release(resource)
            elif (off_loop := _off_the_server_loop(self.app, self.release, resource)) is None:
                self.release(resource)
            else:
                await off_loop
        except Exception:
            self.app.logger.exception(f"Releasing task resource {self.name!r} failed.")


def _off_the_server_loop(
    app: Kolben, func: t.Callable[..., t.Any], *args: t.Any
) -> asyncio.Future[t.Any] | None:
    """On the ASGI door's loop (:func:`_serves_requests`): ``func(*args)``
    started in a worker thread (the request's own when it is free), in a copy
    of this context, as a future that refuses to be cancelled (its outcome is
    always known). None on any other loop, where sync code runs in place."""
    loop = running_loop()
    if not _serves_requests(loop):
        return None
    call = partial(contextvars.copy_context().run, func, *args)
    return app.worker_threads.run(loop, call, cancellable=False)


def _serves_requests(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is the ASGI door's, where other requests' code runs too
    (not the WSGI door's per-thread loop, nor a loop a ``def`` view or a CLI
    command started with ``asyncio.run()``: sync code blocks that one anyway,
    and the request's sync code runs in this very thread)."""
    if on_a_thread_loop(loop):
        return False
    server_loop = _server_loop.get()
    if server_loop is not None:
        # The ASGI door's request (or WebSocket) has run sync code: its loop is
        # known (a def view's own asyncio.run() loop is not it).
        return server_loop is loop
    req_ctx = _globals._cv_request.get(None)
    if req_ctx is None:
        return False  # an app context of a command, say: its own loop
    from .helpers import _on_the_asgi_door

    return _on_the_asgi_door(req_ctx.request)


def rollback_task() -> None:
    """Roll back the task resources of the current context now and commit
    nothing more in it.

    For a view that answers with an error response instead of raising (an
    ``abort()`` turned into a 404 by an error handler is a response, so the
    resources would be committed): the pending resources are rolled back, the
    after-commit callbacks are discarded, and resources acquired later in this
    context are rolled back when it ends. They are still released then.
    """
    ctx = _current_context("rollback_task()")
    _rollback_pending(ctx.app, _state(ctx))


def after_commit(f: F) -> F:
    """Run ``f()`` once the task resources of the current context are committed.

    Callbacks run in the order registered, right after the commit (before the
    response of a request is sent, or when a CLI command's context ends). If the
    task fails (an exception, or a failing commit) they are discarded: use it for
    what must happen only once the data is saved, such as sending a mail. Works as
    a decorator; ``f`` may be ``async def``. An error in a callback is logged and
    the next callbacks still run: the data is already committed.
    """
    _state(_current_context("after_commit()")).callbacks.append(f)
    return f


def _rollback_pending(app: Kolben, state: _TaskState) -> None:
    """Roll back every pending resource; log (don't raise) what fails."""
    run_steps(app, _rollback_pending_steps(app, state))


def _rollback_pending_steps(app: Kolben, state: _TaskState) -> Steps[None]:
    state.failed = True
    state.callbacks.clear()
    pending, state.pending = state.pending, []
    for handle in pending:
        if handle.rollback is None:
            continue
        try:
            yield handle.rollback, (state.acquired[handle],)
        except Exception:
            app.logger.exception(f"Rolling back task resource {handle.name!r} failed.")


def _commit_steps(app: Kolben, state: _TaskState) -> Steps[None]:
    """Commit every pending resource, then run the callbacks. A failing commit
    rolls back what is left (callbacks discarded) and is re-raised."""
    # A callback may register another one, or write through a resource: commit
    # and run callbacks until neither is left.
    while state.pending or state.callbacks:
        while state.pending:
            handle = state.pending[0]
            if handle.commit is not None:
                try:
                    yield handle.commit, (state.acquired[handle],)
                except BaseException:
                    yield from _rollback_pending_steps(app, state)
                    raise
            del state.pending[0]
        while state.callbacks and not state.pending:
            callback = state.callbacks.pop(0)
            try:
                yield callback, ()
            except Exception:
                app.logger.exception(f"The after_commit callback {callback!r} failed.")


def commit_task(ctx: AppContext) -> None:
    """Commit what the context acquired, then run its after-commit callbacks.

    Called by the app once a request's response is ready. If a commit raises,
    everything not committed is rolled back, the callbacks are discarded, nothing
    more is committed in this context, and the error is re-raised (the app turns
    it into a 500).
    """
    run_steps(ctx.app, commit_task_steps(ctx))


def commit_task_steps(ctx: AppContext) -> Steps[None]:
    """:func:`commit_task` as pipeline steps (see :mod:`kolben.pipeline`): each
    commit, rollback and callback is a step, so under ASGI an ``async def`` one
    is awaited on the loop and a sync one runs in a worker thread."""
    state = _state(ctx)
    state.request_committed = True
    if state.failed:
        yield from _rollback_pending_steps(ctx.app, state)
        return
    yield from _commit_steps(ctx.app, state)


async def acommit_task(ctx: AppContext) -> None:
    """:func:`commit_task` for code running on the event loop: async commits,
    rollbacks and callbacks are awaited there, sync ones called."""
    steps = commit_task_steps(ctx)
    value: t.Any = None
    error: BaseException | None = None
    while True:
        try:
            fn, args = steps.send(value) if error is None else steps.throw(error)
        except StopIteration:
            return
        value = error = None
        try:
            value = fn(*args)
            if is_async_callable(fn):
                value = await value
        except BaseException as e:
            error = e


def end_task(ctx: AppContext, exc: BaseException | None) -> None:
    """Finish the context's task: commit (``exc`` is None) or roll back what is
    pending, then release every resource, in reverse order of acquisition.

    Called on the last pop of the application context, before the
    ``teardown_appcontext`` functions. Errors are logged, and every resource is
    released whatever fails. It raises only when a commit made here (not by a
    request) fails: after rollback and release, so a CLI command or script sees
    that its data was not saved.
    """
    run_steps(ctx.app, end_task_steps(ctx, exc))


def end_task_steps(ctx: AppContext, exc: BaseException | None) -> Steps[None]:
    """:func:`end_task` as pipeline steps."""
    state: _TaskState | None = ctx._task_state
    if state is None:
        return
    app = ctx.app
    error: BaseException | None = None
    try:
        if exc is None and not state.failed:
            try:
                yield from _commit_steps(app, state)
            except Exception as e:
                if state.request_committed:  # the response is sent: log it
                    app.logger.exception("Committing the task resources failed; rolled back.")
                else:
                    error = e
        else:
            yield from _rollback_pending_steps(app, state)
    finally:
        ctx._task_state = None
        yield from _release_all_steps(app, state)
    if error is not None:
        raise error


def _release_all_steps(app: Kolben, state: _TaskState) -> Steps[None]:
    acquired = state.acquired
    for handle in reversed(list(acquired)):
        resource = acquired.pop(handle)
        try:
            yield handle.release, (resource,)
        except Exception:
            app.logger.exception(f"Releasing task resource {handle.name!r} failed.")
