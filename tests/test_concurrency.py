"""Async callables (``kolben.concurrency``): telling ``async def`` functions,
partials, methods and callable objects apart, ``ensure_sync`` running them, and the
per-thread event loop of the WSGI door (reused, closed when its thread ends)."""

from __future__ import annotations

import asyncio
import functools
import gc
import threading

import pytest

from helpers import kolben_only


async def add(a, b):
    await asyncio.sleep(0)
    return a + b


class AsyncCallable:
    async def __call__(self, x):
        return x * 2


class Service:
    async def fetch(self, x):
        return f"fetched {x}"

    def sync(self, x):
        return x


@kolben_only
def test_is_async_callable():
    from kolben.concurrency import is_async_callable

    assert is_async_callable(add)
    assert is_async_callable(functools.partial(add, 1))
    assert is_async_callable(functools.partial(functools.partial(add, 1), 2))
    assert is_async_callable(AsyncCallable())
    assert is_async_callable(Service().fetch)
    assert not is_async_callable(AsyncCallable)  # calling the class makes an instance
    assert not is_async_callable(Service().sync)
    assert not is_async_callable(functools.partial(Service().sync, 1))
    assert not is_async_callable(lambda: None)
    assert not is_async_callable(len)
    assert not is_async_callable(Service)


@kolben_only
def test_ensure_sync_runs_async_callables(app):
    assert app.ensure_sync(functools.partial(add, 40))(2) == 42
    assert app.ensure_sync(AsyncCallable())(21) == 42
    assert app.ensure_sync(Service().fetch)("it") == "fetched it"
    sync = Service().sync
    assert app.ensure_sync(sync) is sync


@kolben_only
def test_async_view_as_partial_and_callable_object(app, client):
    app.add_url_rule("/partial/<b>", "partial", functools.partial(add, "a-"))
    app.add_url_rule("/object/<x>", "object", AsyncCallable())
    assert client.get("/partial/b").data == b"a-b"
    assert client.get("/object/xy").data == b"xyxy"


@kolben_only
def test_async_function_called_inside_a_running_loop_raises(app):
    async def view():
        return "never"

    async def main():
        return app.ensure_sync(view)()

    with pytest.raises(RuntimeError, match="inside an event loop"):
        asyncio.run(main())


@kolben_only
def test_each_thread_reuses_its_own_event_loop(app):
    # Under WSGI; under ASGI async views run on the server's loop (test_asgi.py).
    client = app.test_client()
    loops = []

    @app.route("/")
    async def index():
        loops.append(asyncio.get_running_loop())
        return "ok"

    assert client.get("/").data == b"ok"
    assert client.get("/").data == b"ok"
    assert loops[0] is loops[1]

    def in_thread():
        assert client.get("/").data == b"ok"
        assert client.get("/").data == b"ok"

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert len(loops) == 4
    assert loops[2] is loops[3]
    assert loops[2] is not loops[0]
    gc.collect()
    assert loops[2].is_closed()  # closed when its thread ended
    assert not loops[0].is_closed()
    assert not loops[0].is_running()


@kolben_only
def test_thread_loop_closes_its_loop_once(tmp_path):
    from kolben.concurrency import _ThreadLoop

    holder = _ThreadLoop()
    loop = holder.loop
    assert not loop.is_closed()
    del holder
    gc.collect()
    assert loop.is_closed()
    holder = _ThreadLoop()
    loop = holder.loop
    loop.close()
    del holder  # an already closed loop is left alone
    gc.collect()
    assert loop.is_closed()
