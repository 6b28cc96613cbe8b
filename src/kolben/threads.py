"""The worker threads that run sync code for the ASGI door.

A sync view (and every request with sync user code) runs in a worker thread so
it never blocks the event loop. Handing a call to a thread and its result back
is most of what such a request costs, so the door uses this small pool rather
than ``loop.run_in_executor``: one queue put, and one ``call_soon_threadsafe``
back, where the executor adds a ``concurrent.futures.Future``, its locks and the
chaining of two futures (about half the round trip on a small machine; see
``benchmarks/asgi_run.py``, scenario ``sync``).

The pool starts threads as work needs them and keeps them: up to
``max_threads`` (``ASGI_WORKER_THREADS``; by default ``min(32, CPUs + 4)``, the
default of ``ThreadPoolExecutor``) run calls at once, and a request's
:class:`Lane` keeps its thread while the request runs async code (and a call
waiting for its client, :meth:`WorkerThreads.waiting_for_client`, keeps its own),
up to ``HELD_THREADS_FACTOR`` times ``max_threads`` threads in all. They are daemon
threads, waiting on the queue when idle, and they end when the pool is collected
(an app that is dropped takes its threads with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import queue
import threading
import typing as t
import weakref
from contextvars import ContextVar

T = t.TypeVar("T")

#: A call for a worker thread: the loop and future its outcome goes to, the
#: callable, the lane it is made through (see Lane) or None, and the queue of
#: the lane when it is the lane's first call (its thread serves the lane).
_Job = tuple[
    asyncio.AbstractEventLoop,
    "asyncio.Future[t.Any]",
    t.Callable[[], t.Any],
    "Lane | None",
    "queue.SimpleQueue[_Job | None] | None",
]


#: How many threads a pool may have, in multiples of its ``max_threads``: the
#: threads beyond ``max_threads`` wait for requests running async code, which
#: keep their thread for their later sync code (see Lane).
HELD_THREADS_FACTOR = 8


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
        #: The most threads there may be (see HELD_THREADS_FACTOR).
        self._most_threads = max_threads * HELD_THREADS_FACTOR
        self.name = name
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        #: The queue the threads take jobs from now, for the finalizer below.
        self._current_queue: list[queue.SimpleQueue[_Job | None]] = []
        self._reset()
        _pools.add(self)
        # The threads hold the pool only while they run a job: a pool nobody
        # holds any more (its app was dropped) is collected, and its threads end.
        weakref.finalize(self, _end_threads, self._current_queue)

    def _reset(self) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._current_queue[:] = [self._queue]
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
        #: Lanes whose thread waits for their next call, the longest waiting
        #: first: the first to give a thread back when every thread is taken
        #: (see run()). A dict as an ordered set.
        self._waiting: dict[Lane, None] = {}
        #: Threads owed to calls queued while every thread was taken and no lane
        #: waited: the next lanes to wait for a call give theirs back instead.
        self._owed = 0
        #: Threads of this pool waiting for a client (see waiting_for_client):
        #: they run no call meanwhile, as a lane waiting for async code.
        self._client_waits = 0

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

    @contextlib.contextmanager
    def waiting_for_client(self) -> t.Iterator[None]:
        """Around a wait of one of this pool's threads for the client (more of a
        request body it sends slowly): the thread doesn't count as running a call
        meanwhile, as a lane's thread waiting for its request's async code
        doesn't, so a call queued for a thread, or one made meanwhile, gets
        another (up to ``HELD_THREADS_FACTOR`` times ``max_threads`` threads in
        all): a few clients trickling their bodies don't stop every ``def``
        view. Does nothing in a thread of another pool or none."""
        pool_ref = getattr(_worker, "pool", None)
        if pool_ref is None or pool_ref() is not self:
            yield
            return
        with self._lock:
            self._client_waits += 1
            number = None
            if self._queued and self._started < self._most_threads:
                # A call waits for a thread, and this one is taken for a while.
                self._queued -= 1
                self._owed = min(self._owed, self._queued)
                self._started += 1
                number = next(self._numbers)
        try:
            if number is not None:
                self._start_thread(number)
            yield
        finally:
            with self._lock:
                self._client_waits -= 1

    def lane(self, owner: object = None) -> Lane:
        """A :class:`Lane` (of ``owner``): the calls made through it run in one
        thread of this pool, the first free one, until it is released."""
        return Lane(self, owner)

    def run(
        self,
        loop: asyncio.AbstractEventLoop,
        func: t.Callable[[], T],
        *,
        cancellable: bool = True,
        lane: Lane | None = None,
        on_cancel: t.Callable[[], None] | None = None,
    ) -> asyncio.Future[T]:
        """Call ``func()`` in a worker thread; return a future of ``loop`` for the
        result. Must be called from ``loop``'s thread.

        With ``cancellable=False`` the future refuses to be cancelled: a task
        awaiting it that is cancelled gets its :exc:`asyncio.CancelledError` only
        once ``func`` has returned (and can still read the future's result), for
        callers that must know where a call they started ended. ``on_cancel``
        (with ``cancellable=False``) is called, once, when the awaiting task is
        cancelled meanwhile: it may tell ``func`` to end sooner.
        """
        self.calls += 1
        future: asyncio.Future[T]
        if cancellable:
            future = loop.create_future()
        else:
            future = _UncancellableFuture(loop=loop)
            if on_cancel is not None:  # (PERF: no instance dict otherwise)
                future.on_cancel = on_cancel
        opens: queue.SimpleQueue[_Job | None] | None = None
        with self._lock:
            # Counted before a thread can take it (and count it done); one lock
            # for the count and the choice of a thread.
            self._running += 1
            if lane is None:
                lane = self._free_lane_of_caller(loop)
            if lane is not None:
                lane._pending += 1
                held = lane._queue
                if held is not None:
                    # The lane's thread takes it, once done with the lane's
                    # calls before it.
                    self._waiting.pop(lane, None)
                    held.put((loop, future, func, lane, None))
                    return future
                lane._queue = opens = queue.SimpleQueue()
            self._queue.put((loop, future, func, lane, opens))
            if self._idle:
                self._idle -= 1  # that waiting thread takes the job
                return future
            # Threads that wait for their lane's next call run nothing: up to
            # max_threads threads run calls, and up to HELD_THREADS_FACTOR times
            # as many exist, the rest waiting for their requests' async code.
            running = self._started - len(self._waiting) - self._client_waits
            if running >= self.max_threads or self._started >= self._most_threads:
                if self._waiting and (opens is None or self._started >= self._most_threads):
                    # This call may be what a request waiting in async code awaits
                    # (or no thread may be added): the lane waiting longest gives
                    # its thread back (its later sync code takes one again), so a
                    # call never waits for threads that wait for it.
                    next(iter(self._waiting))._give_back()
                elif opens is None:
                    self._owed += 1  # the next lane to wait gives its thread back
                # A request's first sync code waits for a thread that finishes a
                # call, as under a WSGI server.
                self._queued += 1  # taken by the next thread to finish its job
                return future
            self._started += 1
            number = next(self._numbers)
        self._start_thread(number)
        return future

    def _free_lane_of_caller(self, loop: asyncio.AbstractEventLoop) -> Lane | None:
        """For a call from a request's own async code: the request's lane, when
        it has a thread of this pool that is free (what the request keeps per
        thread is there; the thread waits for the request anyway). Not for a task
        the request started: its call could hold the request's later sync code
        up, or wait for it. Under the lock."""
        current = current_lane.get()
        if (
            current is not None
            and current._queue is not None
            and not current._pending
            and current._pool is self
            and (current._task is None or current._task is asyncio.current_task(loop))
        ):
            return current
        return None

    def _start_thread(self, number: int) -> None:
        """Start a thread counted in ``_started`` already (not under the lock)."""
        thread = threading.Thread(
            target=_work,
            args=(weakref.ref(self), self._queue),
            name=f"{self.name}-{number}",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._started -= 1
            raise

    def stop(self) -> None:
        """Let every worker thread end once the work queued before is done."""
        with self._lock:
            started, self._started, self._idle, self._queued = self._started, 0, 0, 0
            work_queue = self._queue
            self._queue = queue.SimpleQueue()
            self._current_queue[:] = [self._queue]
        for _ in range(started):
            work_queue.put(None)

    def _run_job(self, job: _Job, work_queue: queue.SimpleQueue[_Job | None]) -> None:
        """In a worker thread taking jobs from ``work_queue``: run ``job``, and
        the rest of its lane's calls when it is a lane's first."""
        loop, future, func, lane, lane_queue = job
        del job
        outcome = _call(func)
        del func
        if lane_queue is not None:
            # The first call of a lane: this thread runs the lane's calls
            # until the lane is released, then is free again.
            with self._lock:
                self._running -= 1
                number = self._lane_call_done(lane)  # type: ignore[arg-type]
                held = lane._queue is lane_queue  # type: ignore[union-attr]
                if not held:  # given back already: free now, as below
                    self._count_free(work_queue)
            if number is not None:
                self._start_thread(number)
            _deliver(loop, future, *outcome)
            del loop, future, outcome, lane
            if held:
                self._serve_lane(lane_queue)
                with self._lock:
                    self._count_free(work_queue)
            return
        # Count this thread free before handing the result back: the caller
        # may submit its next call the moment it has the result, and must
        # find this thread rather than start another.
        with self._lock:
            self._running -= 1
            self._count_free(work_queue)
        _deliver(loop, future, *outcome)

    def _count_free(self, work_queue: queue.SimpleQueue[_Job | None]) -> None:
        """Count this thread free (under the lock): it takes a job no thread
        claimed, or waits idle. After stop() it no longer counts: it takes the
        rest of its queue, up to its None."""
        if work_queue is self._queue:
            if self._queued:
                self._queued -= 1  # a job no thread claimed: this one takes it
                # Threads are owed to queued calls only.
                self._owed = min(self._owed, self._queued)
            else:
                self._idle += 1

    def _serve_lane(self, lane_queue: queue.SimpleQueue[_Job | None]) -> None:
        """Run a lane's calls in this thread, up to the None of its release."""
        while True:
            job = lane_queue.get()
            if job is None:
                return
            loop, future, func, lane, _ = job
            del job
            outcome = _call(func)
            del func
            with self._lock:
                self._running -= 1
                number = self._lane_call_done(lane)  # type: ignore[arg-type]
            if number is not None:
                self._start_thread(number)
            _deliver(loop, future, *outcome)
            del loop, future, outcome, lane

    def _lane_call_done(self, lane: Lane) -> int | None:
        """Count a lane's call done (under the lock); a lane with no call left
        waits for its next one, its thread held. A call queued meanwhile (every
        thread ran a call when it came) gets a thread of its own, or this one
        when no thread may be added: returns the number of the thread to start,
        if one (started by the caller, outside the lock)."""
        lane._pending -= 1
        if not lane._pending and lane._queue is not None:
            if lane._release_after_call:
                lane._give_back()
                lane._disown()
            elif self._owed:
                self._owed -= 1
                lane._give_back()
            elif self._queued:
                if self._started < self._most_threads:
                    self._waiting[lane] = None
                    self._queued -= 1
                    self._owed = min(self._owed, self._queued)
                    self._started += 1
                    return next(self._numbers)
                lane._give_back()  # its thread takes the call (see _count_free)
            else:
                self._waiting[lane] = None
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._started}/{self.max_threads} threads>"


class Lane:
    """The worker thread of one request: calls made through :meth:`run` run in
    one thread of the pool (the first free one when the first call is made), one
    after the other, until :meth:`release` hands the thread back to the pool.
    When every thread of the pool is taken, a request's first sync code waits for
    a thread (as under a WSGI server); any other call (from ``async def`` code,
    which a request holding a thread may be awaiting) makes the lane waiting
    longest for its next call give its thread back (that lane's next call takes a
    thread again), so a call never waits for threads that wait for it.

    The ASGI door gives each HTTP request one, so all of a request's sync code
    (its sync steps before and after an ``async def`` one, and the ``next()``
    calls of a sync generator body) runs in one thread, as under a WSGI server:
    what a request keeps per thread (a SQLite connection, a thread-scoped
    SQLAlchemy session) is the same from the view to its teardown and its
    streamed body. While the request runs ``async def`` code, its thread waits
    for it. A lane that is collected unreleased is released then.
    """

    __slots__ = (
        "__weakref__",
        "_pending",
        "_pool",
        "_queue",
        "_release_after_call",
        "_task",
        "owner",
    )

    def __init__(self, pool: WorkerThreads, owner: object = None) -> None:
        self._pool = pool
        #: What the lane belongs to (the ASGI door: the request's context).
        self.owner = owner
        #: The queue its thread takes the lane's calls from; None until the first
        #: call (no thread is held by a lane that never ran one).
        self._queue: queue.SimpleQueue[_Job | None] | None = None
        #: Calls made through it and not finished (counted under the pool's lock).
        self._pending = 0
        #: Give the thread back as soon as the calls made so far are done.
        self._release_after_call = False
        #: The task of the request (set by kolben.pipeline): only its own async
        #: code's calls take the lane's thread (see WorkerThreads.run).
        self._task: asyncio.Task[t.Any] | None = None

    def run(
        self,
        loop: asyncio.AbstractEventLoop,
        func: t.Callable[[], T],
        *,
        cancellable: bool = True,
        on_cancel: t.Callable[[], None] | None = None,
    ) -> asyncio.Future[T]:
        """:meth:`WorkerThreads.run`, in this lane's thread."""
        return self._pool.run(
            loop, func, cancellable=cancellable, lane=self, on_cancel=on_cancel
        )

    def release(self) -> None:
        """Hand the thread back to the pool once the calls made so far are done;
        a later call takes a thread again."""
        if self._queue is not None:
            with self._pool._lock:
                self._give_back()
        self._disown()

    def _disown(self) -> None:
        # The request's context holds the lane (current_lane) and the lane its
        # owner, the context: a reference cycle, which kept the lane, its pool
        # and the app alive until the next garbage collection. A released lane
        # is no request's any more (lane_of() no longer finds it; a later sync
        # call of the request takes a new one).
        self.owner = None

    def release_after_call(self) -> None:
        """From the lane's own thread, in a call: :meth:`release` once the call
        ends (the thread then takes no wake-up to be given back)."""
        self._release_after_call = True

    def _give_back(self) -> None:
        # Under the pool's lock.
        held, self._queue = self._queue, None
        self._release_after_call = False
        if held is not None:
            self._pool._waiting.pop(self, None)
            held.put(None)

    def __del__(self) -> None:
        # Not under the pool's lock (a collection may run while it is held); a
        # lane in the pool's waiting set is alive, so only its queue is left.
        held, self._queue = self._queue, None
        if held is not None:
            held.put(None)  # SimpleQueue.put may be called from __del__


#: ``pool``: a weak reference to the pool whose worker thread this is (see
#: waiting_for_client).
_worker = threading.local()


def _work(
    pool_ref: weakref.ref[WorkerThreads], work_queue: queue.SimpleQueue[_Job | None]
) -> None:
    """A worker thread: takes jobs from ``work_queue`` until a None. It holds
    its pool only while it runs a job, so a pool nobody holds is collected (its
    finalizer puts a None); a None ends every thread of the queue, each putting
    it back for the next."""
    _worker.pool = pool_ref
    get = work_queue.get
    while True:
        job = get()
        if job is None:
            work_queue.put(None)
            return
        pool = pool_ref()
        if pool is None:  # collected as this job was queued: run it all the same
            _deliver(job[0], job[1], *_call(job[2]))
        else:
            pool._run_job(job, work_queue)
        del job, pool  # drop the references before waiting again


def _end_threads(current_queue: list[queue.SimpleQueue[_Job | None]]) -> None:
    """A collected pool's finalizer: its threads end (see :func:`_work`)."""
    for work_queue in current_queue:
        work_queue.put(None)

#: The lane of the request whose code is running (set by kolben.pipeline in the
#: request's context): :meth:`WorkerThreads.run` called from its async code uses
#: the request's thread when that is free.
current_lane: ContextVar[Lane | None] = ContextVar("kolben.request_lane", default=None)


class _UncancellableFuture(asyncio.Future[t.Any]):
    """A future whose ``cancel()`` is refused: see :meth:`WorkerThreads.run`.

    ``on_cancel``, if set, is called (once, on the loop) when something tries:
    the awaiting task was cancelled, and the thread may be told so (a worker
    thread waiting for a request body stops waiting: see
    :meth:`kolben.asgi.LazyBody.abandon`).
    """

    on_cancel: t.Callable[[], None] | None = None

    def cancel(self, msg: t.Any = None) -> bool:
        hook = self.on_cancel
        if hook is not None and not self.done():
            self.on_cancel = None
            hook()
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
