"""kolben.concurrency.running_loop: asyncio.get_running_loop() without a system call
per call, and never a stale loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from kolben import concurrency
from kolben.concurrency import running_loop


async def _twice():
    first = running_loop()
    assert running_loop() is first
    assert first is asyncio.get_running_loop()
    return first


def test_is_the_running_loop_and_follows_a_new_one():
    one = asyncio.run(_twice())
    two = asyncio.run(_twice())
    assert one is not two  # the remembered loop stopped: the new one is found


def test_raises_outside_a_loop_as_asyncio_does():
    asyncio.run(_twice())  # leaves a remembered, stopped loop behind
    with pytest.raises(RuntimeError, match="no running event loop"):
        running_loop()


def test_each_thread_gets_its_own_loop():
    loops: dict[str, asyncio.AbstractEventLoop] = {}
    barrier = threading.Barrier(2)

    async def work(name):
        loops[name] = running_loop()
        await asyncio.get_running_loop().run_in_executor(None, barrier.wait, 5)
        assert running_loop() is loops[name]
        return asyncio.get_running_loop()

    results = {}

    def thread(name):
        results[name] = asyncio.run(work(name))

    threads = [threading.Thread(target=thread, args=(n,)) for n in ("a", "b")]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert loops["a"] is results["a"]
    assert loops["b"] is results["b"]
    assert loops["a"] is not loops["b"]


def test_a_loop_run_by_another_thread_is_not_taken_for_this_threads():
    # The same asyncio loop object, run first here and then in another thread
    # while this thread runs a different loop: the memory must not be used.
    shared = asyncio.new_event_loop()
    try:
        shared.run_until_complete(_twice())
        started = threading.Event()
        stop = threading.Event()

        async def hold():
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.01)

        other = threading.Thread(target=shared.run_until_complete, args=(hold(),))
        other.start()
        try:
            assert started.wait(5)
            mine = asyncio.run(_twice())
            assert mine is not shared
        finally:
            stop.set()
            other.join(5)
    finally:
        shared.close()


def test_uvloop_loops_are_remembered_too():
    uvloop = pytest.importorskip("uvloop")
    one = uvloop.run(_twice())
    two = uvloop.run(_twice())
    assert one is not two


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="fork")
def test_a_forked_child_forgets_the_loop():
    async def fork_inside():
        running_loop()
        pid = os.fork()
        if pid == 0:  # the child: the parent's loop is not running here
            os._exit(0 if concurrency._running.loop is None else 1)
        return pid

    pid = asyncio.run(fork_inside())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
