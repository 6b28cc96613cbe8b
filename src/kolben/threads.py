"""The worker threads that run sync code for the ASGI door.

A sync view (and every request with sync user code) runs in a worker thread so
it never blocks the event loop. Handing a call to a thread and its result back
is most of what such a request costs, so the door uses this small pool rather
than ``loop.run_in_executor``: one queue put, and one ``call_soon_threadsafe``
back, where the executor adds a ``concurrent.futures.Future``, its locks and the
chaining of two futures (about half the round trip on a small machine; see
``benchmarks/asgi_run.py``, scenario ``sync``).

The pool starts threads as work needs them, up to ``max_threads``
(``ASGI_WORKER_THREADS``; by default ``min(32, CPUs + 4)``, the default of
``ThreadPoolExecutor``), and keeps them. They are daemon threads, waiting on the
queue when idle.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import threading
import typing as t
import weakref

T = t.TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[t.Any]", t.Callable[[], t.Any]]


def default_max_threads() -> int:
    """``min(32, CPUs + 4)``, as :class:`concurrent.futures.ThreadPoolExecutor`."""
    return min(32, (os.cpu_count() or 1) + 4)


class WorkerThreads:
    """A bounded pool of daemon threads running sync callables for event loops.

    ``await pool.run(loop, func)`` calls ``func()`` in a worker thread and gives
    its result (or raises its exception) in the awaiting task. Cancelling the
    awaiting task does not stop a call that has started; its result is dropped.
    """

    def __init__(self, max_threads: int | None = None, name: str = "kolben-worker") -> None:
        if max_threads is None:
            max_threads = default_max_threads()
        if not isinstance(max_threads, int) or isinstance(max_threads, bool) or max_threads < 1:
            raise ValueError(
                f"The number of worker threads must be a positive integer, got"
                f" {max_threads!r} (set ASGI_WORKER_THREADS to one, or to None for"
                f" the default of {default_max_threads()})."
            )
        self.max_threads = max_threads
        self.name = name
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._reset()
        _pools.add(self)

    def _reset(self) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        #: How many calls were handed to the threads (each one a thread crossing
        #: there and back); tests read it.
        self.calls = 0
        #: Threads started (and not stopped), and how many of them wait for work
        #: no caller has claimed yet.
        self._started = 0
        self._idle = 0
        #: Jobs queued while every thread was busy, not yet claimed by a thread.
        self._queued = 0
        #: Calls handed to the threads and not finished yet.
        self._running = 0

    @property
    def threads(self) -> int:
        """How many worker threads the pool has started."""
        return self._started

    @property
    def busy(self) -> int:
        """How many calls were handed to the threads and have not returned yet
        (running, or queued for a free thread)."""
        return self._running

    async def wait_idle(self, timeout: float | None) -> bool:
        """Wait until no call is running or queued, at most ``timeout`` seconds
        (None: as long as it takes); whether the pool is idle. For a server's
        shutdown: ``def`` code still running finishes before the app's
        ``after_serving`` functions close what it uses."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._running:
            if deadline is not None and loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def run(
        self,
        loop: asyncio.AbstractEventLoop,
        func: t.Callable[[], T],
        *,
        cancellable: bool = True,
    ) -> asyncio.Future[T]:
        """Call ``func()`` in a worker thread; return a future of ``loop`` for the
        result. Must be called from ``loop``'s thread.

        With ``cancellable=False`` the future refuses to be cancelled: a task
        awaiting it that is cancelled gets its :exc:`asyncio.CancelledError` only
        once ``func`` has returned (and can still read the future's result), for
        callers that must know where a call they started ended.
        """
        self.calls += 1
        future: asyncio.Future[T] = (
            loop.create_future() if cancellable else _UncancellableFuture(loop=loop)
        )
        with self._lock:
            # Counted before a thread can take it (and count it done); one lock
            # for the count and the choice of a thread.
            self._running += 1
            self._queue.put((loop, future, func))
            if self._idle:
                self._idle -= 1  # that waiting thread takes the job
                return future
            if self._started >= self.max_threads:
                self._queued += 1  # taken by the next thread to finish its job
                return future
            self._started += 1
            number = next(self._numbers)
        thread = threading.Thread(
            target=self._work, name=f"{self.name}-{number}", daemon=True
        )
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._started -= 1
            raise
        return future

    def stop(self) -> None:
        """Let every worker thread end once the work queued before is done."""
        with self._lock:
            started, self._started, self._idle, self._queued = self._started, 0, 0, 0
            work_queue = self._queue
            self._queue = queue.SimpleQueue()
        for _ in range(started):
            work_queue.put(None)

    def _work(self) -> None:
        work_queue = self._queue
        get = work_queue.get
        while True:
            job = get()
            if job is None:
                return
            loop, future, func = job
            del job
            outcome = _call(func)
            del func
            # Count this thread idle before handing the result back: the caller
            # may submit its next call the moment it has the result, and must
            # find this thread rather than start another. After stop() it no
            # longer counts: it takes the rest of its queue, up to its None.
            with self._lock:
                self._running -= 1
                if work_queue is self._queue:
                    if self._queued:
                        self._queued -= 1  # a job no thread claimed: this one takes it
                    else:
                        self._idle += 1
            _deliver(loop, future, *outcome)
            del loop, future, outcome  # drop the references before waiting again

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._started}/{self.max_threads} threads>"


class _UncancellableFuture(asyncio.Future[t.Any]):
    """A future whose ``cancel()`` is refused: see :meth:`WorkerThreads.run`."""

    def cancel(self, msg: t.Any = None) -> bool:
        return False


def _call(func: t.Callable[[], t.Any]) -> tuple[t.Any, BaseException | None]:
    try:
        return func(), None
    except BaseException as e:  # handed to the awaiting task
        return None, e


def _deliver(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[t.Any],
    result: t.Any,
    error: BaseException | None,
) -> None:
    error = _storable(error, "in a worker thread")
    try:  # noqa: SIM105 - PERF: cheaper than contextlib.suppress, per request
        loop.call_soon_threadsafe(_settle, future, result, error)
    except RuntimeError:
        pass  # the loop is closed: nobody waits for this any more


def _storable(error: BaseException | None, where: str) -> BaseException | None:
    """``error`` as a future can hold it: a StopIteration (which would end the
    awaiting coroutine) wrapped in a RuntimeError saying where it was raised."""
    if isinstance(error, StopIteration):
        wrapped = RuntimeError(f"A function run {where} raised StopIteration.")
        wrapped.__cause__ = error
        return wrapped
    return error


def settle_now(loop: asyncio.AbstractEventLoop, func: t.Callable[[], T]) -> asyncio.Future[T]:
    """Call ``func()`` here and now; a done future of ``loop`` with its outcome
    (as :meth:`WorkerThreads.run` gives it, from a worker thread)."""
    future: asyncio.Future[T] = loop.create_future()
    result, error = _call(func)
    _settle(future, result, _storable(error, "in place of a worker thread"))
    return future


def _settle(future: asyncio.Future[t.Any], result: t.Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


_pools: weakref.WeakSet[WorkerThreads] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The parent's threads do not exist in the child: start afresh.
    for pool in list(_pools):
        pool._lock = threading.Lock()
        pool._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
