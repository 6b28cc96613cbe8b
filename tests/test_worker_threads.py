"""kolben.threads.WorkerThreads: the pool the ASGI door runs sync code in."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import typing as t

import pytest

import kolben
from kolben.threads import WorkerThreads, default_max_threads

WAIT = 10


@pytest.fixture
def pool():
    workers = WorkerThreads(4, name="test-pool")
    yield workers
    workers.stop()


def test_runs_in_a_worker_thread_and_returns_the_result(pool):
    async def main():
        loop = asyncio.get_running_loop()
        return await pool.run(loop, lambda: (threading.current_thread().name, 42))

    name, value = asyncio.run(main())
    assert name.startswith("test-pool-")
    assert value == 42


def test_exceptions_reach_the_awaiting_task(pool):
    def fail():
        raise ValueError("boom")

    async def main():
        with pytest.raises(ValueError, match="boom"):
            await pool.run(asyncio.get_running_loop(), fail)

    asyncio.run(main())


def test_stop_iteration_becomes_a_runtime_error(pool):
    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(RuntimeError, match="StopIteration") as info:
            await pool.run(loop, lambda: next(iter(())))
        assert isinstance(info.value.__cause__, StopIteration)

    asyncio.run(main())


def test_idle_threads_are_reused(pool):
    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(20):
            await pool.run(loop, lambda: None)

    asyncio.run(main())
    assert pool.threads == 1


def test_threads_are_started_as_work_needs_them_up_to_the_limit():
    pool = WorkerThreads(2, name="small")
    release = threading.Event()
    running = []

    def job(i):
        running.append(i)
        assert release.wait(WAIT)
        return i

    async def main():
        loop = asyncio.get_running_loop()
        futures = [pool.run(loop, lambda i=i: job(i)) for i in range(5)]
        deadline = time.monotonic() + WAIT
        while len(running) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert len(running) == 2  # the other three wait in the queue
        assert pool.threads == 2
        release.set()
        return await asyncio.gather(*futures)

    try:
        assert asyncio.run(main()) == [0, 1, 2, 3, 4]
        # The queued jobs were taken by threads that finished theirs: the two
        # threads count idle once, not once per job they took (it counted 5).
        deadline = time.monotonic() + WAIT
        while pool.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (pool.threads, pool._idle, pool._queued) == (2, 2, 0)
    finally:
        pool.stop()


def test_calls_that_wait_for_each_other_each_get_a_thread(pool):
    # Four calls that only finish together need four threads at once; a pool that
    # miscounted its idle threads would leave one queued and deadlock.
    barrier = threading.Barrier(4, timeout=WAIT)

    async def main():
        loop = asyncio.get_running_loop()
        for _ in range(3):  # again and again, with the threads now idle
            assert sorted(
                await asyncio.gather(*(pool.run(loop, barrier.wait) for _ in range(4)))
            ) == [0, 1, 2, 3]

    asyncio.run(main())
    assert pool.threads == 4


def test_a_cancelled_caller_leaves_the_pool_working(pool):
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        assert release.wait(WAIT)
        return "late"

    async def main():
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(pool.run(loop, slow))
        assert await loop.run_in_executor(None, started.wait, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        return await pool.run(loop, lambda: "next")

    assert asyncio.run(main()) == "next"


def test_a_result_for_a_closed_loop_is_dropped_quietly(pool):
    errors = []
    previous = threading.excepthook
    threading.excepthook = errors.append
    release, done = threading.Event(), threading.Event()

    def slow():
        assert release.wait(WAIT)
        return 1

    try:
        loop = asyncio.new_event_loop()
        pool.run(loop, slow)
        loop.close()
        release.set()

        async def after():
            return await pool.run(asyncio.get_running_loop(), done.set)

        asyncio.run(after())  # the same thread serves the next loop
        assert done.is_set()
    finally:
        threading.excepthook = previous
    assert errors == []


def test_stop_ends_the_threads():
    pool = WorkerThreads(3, name="stopping")

    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(pool.run(loop, lambda: time.sleep(0.05)) for _ in range(3)))

    asyncio.run(main())
    names = {t.name for t in threading.enumerate() if t.name.startswith("stopping-")}
    assert names
    pool.stop()
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and any(
        t.name.startswith("stopping-") for t in threading.enumerate()
    ):
        time.sleep(0.01)
    assert not any(t.name.startswith("stopping-") for t in threading.enumerate())
    assert pool.threads == 0


def test_stop_lets_the_queued_calls_finish():
    pool = WorkerThreads(2, name="draining")
    release = threading.Event()

    def job(i):
        assert release.wait(WAIT)
        return i

    async def main():
        loop = asyncio.get_running_loop()
        futures = [pool.run(loop, lambda i=i: job(i)) for i in range(5)]
        await asyncio.sleep(0.05)  # two running, three queued
        pool.stop()
        release.set()
        return await asyncio.wait_for(asyncio.gather(*futures), WAIT)

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "4", True])
def test_a_bad_size_is_refused_with_the_setting_named(bad):
    with pytest.raises(ValueError, match="ASGI_WORKER_THREADS"):
        WorkerThreads(bad)


def test_default_size_is_thread_pool_executors():
    expected = min(32, (os.cpu_count() or 1) + 4)
    assert WorkerThreads().max_threads == default_max_threads() == expected


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="fork")
def test_a_forked_child_starts_its_own_threads(pool):
    async def use():
        return await pool.run(asyncio.get_running_loop(), lambda: "parent")

    assert asyncio.run(use()) == "parent"
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread is gone, a new one must start
        try:
            result = asyncio.run(asyncio.wait_for(use(), 5))
            os._exit(0 if result == "parent" else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


# -- through the ASGI door -------------------------------------------------------------


def test_sync_views_run_in_the_apps_pool():
    app = kolben.Kolben("pooled")
    app.config["ASGI_WORKER_THREADS"] = 1

    @app.route("/")
    def index():
        return threading.current_thread().name

    client = app.asgi_test_client()
    assert client.get("/").text == "kolben-pooled-1"
    assert client.get("/").text == "kolben-pooled-1"
    assert app.worker_threads.max_threads == 1
    assert app.worker_threads.threads == 1


def test_requests_queue_for_a_pool_of_one():
    app = kolben.Kolben("queued")
    app.config["ASGI_WORKER_THREADS"] = 1

    @app.route("/<int:n>")
    def index(n):
        time.sleep(0.02)
        return str(n)

    async def main():
        async def one(n):
            sent = []

            async def receive():
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message):
                sent.append(message)

            scope = {
                "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                "method": "GET", "scheme": "http", "path": f"/{n}",
                "raw_path": f"/{n}".encode(), "root_path": "", "query_string": b"",
                "headers": [(b"host", b"test")], "server": ("test", 80),
                "client": ("127.0.0.1", 1),
            }  # fmt: skip
            await app(scope, receive, send)
            return sent[-1]["body"]

        return await asyncio.gather(*(one(n) for n in range(4)))

    assert asyncio.run(main()) == [b"0", b"1", b"2", b"3"]
    assert app.worker_threads.threads == 1


# -- lanes: one thread for a request's sync code ---------------------------------------


def test_a_lanes_calls_run_in_one_thread_until_released(pool):
    async def main():
        loop = asyncio.get_running_loop()
        lane = pool.lane()
        names = [await lane.run(loop, threading.get_ident) for _ in range(5)]
        # Meanwhile other calls get other threads: the lane's thread stays its own.
        others = await asyncio.gather(*(pool.run(loop, threading.get_ident) for _ in range(3)))
        names.append(await lane.run(loop, threading.get_ident))
        lane.release()
        return names, others

    names, others = asyncio.run(main())
    assert len(set(names)) == 1
    assert names[0] not in others


def test_a_released_lanes_thread_serves_the_pool_again():
    pool = WorkerThreads(1, name="one")
    try:

        async def main():
            loop = asyncio.get_running_loop()
            lane = pool.lane()
            first = await lane.run(loop, threading.get_ident)
            lane.release()
            await asyncio.sleep(0.05)  # the thread takes the release
            return first, await asyncio.wait_for(pool.run(loop, threading.get_ident), WAIT)

        first, later = asyncio.run(main())
        assert first == later
        assert pool.threads == 1
    finally:
        pool.stop()


def test_threads_waiting_for_their_lane_dont_count_against_the_limit():
    """max_threads bounds the threads running calls; a request waiting in async
    code keeps its thread beside them, up to HELD_THREADS_FACTOR times as many
    threads in all, then the lane waiting longest gives its thread back."""
    from kolben.threads import HELD_THREADS_FACTOR

    pool = WorkerThreads(1, name="one")
    try:

        async def main():
            loop = asyncio.get_running_loop()
            lanes = [pool.lane() for _ in range(HELD_THREADS_FACTOR + 1)]
            idents = [await lane.run(loop, threading.get_ident) for lane in lanes]
            threads = pool.threads
            # The oldest lane gave its thread to the last one: it takes a thread
            # again for its next call.
            again = await asyncio.wait_for(lanes[0].run(loop, threading.get_ident), WAIT)
            for lane in lanes:
                lane.release()
            return idents, threads, again

        idents, threads, again = asyncio.run(main())
        assert threads == HELD_THREADS_FACTOR
        assert len(set(idents[1:])) == HELD_THREADS_FACTOR
        assert idents[-1] == idents[0]
        assert again in idents
    finally:
        pool.stop()


def test_async_code_of_a_request_uses_its_thread_when_free(pool):
    """pool.run() from a request's async code (its lane current) runs in the
    request's thread when that waits: what the request keeps per thread is there."""
    from kolben.threads import current_lane

    async def main():
        loop = asyncio.get_running_loop()
        lane = pool.lane()
        own = await lane.run(loop, threading.get_ident)
        current_lane.set(lane)
        seen = await pool.run(loop, threading.get_ident)
        # Two at once: the second can't wait for the first, it takes another thread.
        both = await asyncio.gather(
            pool.run(loop, lambda: (time.sleep(0.05), threading.get_ident())[1]),
            pool.run(loop, lambda: (time.sleep(0.05), threading.get_ident())[1]),
        )
        lane.release()
        return own, seen, both

    own, seen, both = asyncio.run(main())
    assert seen == own
    assert both[0] == own and both[1] != own


def test_a_call_never_waits_for_a_lane_that_waits_for_it():
    """A pool of one thread, held by a request's lane while its async code awaits
    another call (which can't run in the lane's thread, busy or not): the lane
    gives its thread back rather than both waiting for ever."""
    from kolben.threads import current_lane

    pool = WorkerThreads(1, name="one")
    try:

        async def main():
            loop = asyncio.get_running_loop()
            lane = pool.lane()
            await lane.run(loop, threading.get_ident)
            current_lane.set(lane)
            first = pool.run(loop, lambda: time.sleep(0.05) or "first")  # in the lane
            second = pool.run(loop, lambda: "second")  # queued: all taken
            done = await asyncio.wait_for(asyncio.gather(first, second), WAIT)
            after = await lane.run(loop, lambda: "after")  # takes a thread again
            lane.release()
            return done, after

        assert asyncio.run(main()) == (["first", "second"], "after")
    finally:
        pool.stop()


def test_a_lane_waiting_for_its_next_call_gives_its_thread_to_a_waiting_call():
    from kolben.threads import current_lane

    pool = WorkerThreads(1, name="one")
    try:

        async def main():
            loop = asyncio.get_running_loop()
            lane = pool.lane()
            await lane.run(loop, threading.get_ident)  # the only thread, held
            current_lane.set(None)
            # A call from code that is not the request's: it can't have the
            # lane's thread as its own, so the lane gives it back.
            value = await asyncio.wait_for(pool.run(loop, lambda: "ran"), WAIT)
            lane.release()
            return value

        assert asyncio.run(main()) == "ran"
    finally:
        pool.stop()



def test_a_first_call_queued_behind_a_lanes_call_is_not_left_to_wait_for_the_lane():
    """A request's first sync code queued while the only thread ran another
    request's call is taken once that call ends, though the thread then waits for
    its request's async code (which may wait for this request)."""
    pool = WorkerThreads(1, name="one")
    try:

        async def main():
            loop = asyncio.get_running_loop()
            holder, newcomer = pool.lane(), pool.lane()
            first = holder.run(loop, lambda: time.sleep(0.05))
            second = newcomer.run(loop, threading.get_ident)  # queued: no thread free
            await first  # holder's thread now waits for holder's next call
            await asyncio.wait_for(second, WAIT)
            holder.release()
            newcomer.release()

        asyncio.run(main())
    finally:
        pool.stop()


def test_no_thread_stays_owed_once_the_queue_is_drained():
    """Calls queued while every thread ran one were taken by threads that ended
    theirs: no lane gives its thread back for them later."""
    pool = WorkerThreads(1, name="one")
    try:

        async def main():
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(pool.run(loop, lambda: time.sleep(0.001)) for _ in range(5)))
            lane = pool.lane()
            idents = [await lane.run(loop, threading.get_ident)]
            await asyncio.sleep(0.02)
            idents.append(await lane.run(loop, threading.get_ident))
            lane.release()
            return idents

        first, second = asyncio.run(main())
        assert first == second
        assert pool._owed == 0
    finally:
        pool.stop()


@pytest.mark.parametrize("queued_first", [False, True], ids=["call-made-meanwhile", "call-queued"])
def test_a_thread_waiting_for_a_client_doesnt_count_against_the_limit(queued_first):
    """A call that waits for its client (kolben.asgi: a slow request body) runs
    nothing meanwhile: another call gets a thread, whether it was queued before
    the wait began or made during it."""
    pool = WorkerThreads(1, name="one")
    entered, go_on = threading.Event(), threading.Event()
    queued = threading.Event()

    def waits_for_its_client():
        if queued_first:
            assert queued.wait(WAIT)
        with pool.waiting_for_client():
            entered.set()
            assert go_on.wait(WAIT)
        return "uploaded"

    try:

        async def main():
            loop = asyncio.get_running_loop()
            upload = pool.run(loop, waits_for_its_client)
            if not queued_first:
                assert await loop.run_in_executor(None, entered.wait, WAIT)
            other = pool.run(loop, lambda: "other")
            queued.set()
            done = await asyncio.wait_for(other, WAIT)
            busy_while_waiting = pool.busy
            go_on.set()
            return done, await asyncio.wait_for(upload, WAIT), busy_while_waiting

        assert asyncio.run(main()) == ("other", "uploaded", 1)
        assert pool.threads == 2
        assert pool._client_waits == 0
    finally:
        go_on.set()
        pool.stop()


def test_waiting_for_a_client_outside_the_pools_threads_changes_nothing(pool):
    with pool.waiting_for_client():
        assert pool._client_waits == 0


def test_a_pool_nobody_holds_is_collected_and_its_threads_end():
    """The threads hold their pool only while they run a job: a pool (an app's)
    that nothing else holds is collected, and its threads end, idle or in a lane
    given back."""
    import gc
    import weakref

    def threads_named(prefix):
        return [t for t in threading.enumerate() if t.name.startswith(prefix)]

    pool = WorkerThreads(2, name="doomed-pool")

    async def main(pool):
        loop = asyncio.get_running_loop()
        lane = pool.lane()
        await lane.run(loop, threading.get_ident)
        lane.release()
        return await asyncio.gather(*(pool.run(loop, lambda: time.sleep(0.01)) for _ in range(2)))

    asyncio.run(main(pool))
    assert len(threads_named("doomed-pool")) == 2
    gone = weakref.ref(pool)
    del pool
    gc.collect()
    assert gone() is None
    deadline = time.monotonic() + WAIT
    while threads_named("doomed-pool") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threads_named("doomed-pool") == []


def test_an_apps_worker_threads_end_with_the_app():
    import gc
    import weakref

    app = kolben.Kolben("short_lived_app")

    @app.route("/")
    def index():
        return threading.current_thread().name

    client = app.asgi_test_client()
    assert client.get("/").text.startswith("kolben-short_lived_app")
    del client
    gone = weakref.ref(app)
    del app, index
    gc.collect()
    assert gone() is None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and any(
        t.name.startswith("kolben-short_lived_app") for t in threading.enumerate()
    ):
        time.sleep(0.01)
    assert not any(t.name.startswith("kolben-short_lived_app") for t in threading.enumerate())


def test_a_request_leaves_no_reference_cycle_through_its_lane():
    # The request's context holds its lane (current_lane) and the lane held the
    # context (its owner) after the request: a cycle, which kept the lane, the
    # pool and the app alive until the next garbage collection (one per request
    # with sync code, and an app dropped by a test kept its threads meanwhile).
    import gc
    import weakref

    from kolben.threads import current_lane

    app = kolben.Kolben(__name__)
    lanes: list[weakref.ref[t.Any]] = []

    @app.route("/")
    def index():
        lanes.append(weakref.ref(current_lane.get()))
        return "ok"

    client = app.asgi_test_client()
    gc.disable()
    try:
        assert client.get("/").text == "ok"
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and lanes[0]() is not None:
            time.sleep(0.01)  # the lane's thread gives it back as its call ends
        assert lanes[0]() is None  # freed without a collection
    finally:
        gc.enable()
