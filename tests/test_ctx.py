"""Application and request contexts: push/pop, the context-local proxies,
``g``, and the helpers that carry a context around (Flask 3.1 semantics)."""

from __future__ import annotations

import asyncio
import contextvars
import io
import threading

import pytest

import kolben
from kolben import (
    after_this_request,
    copy_current_request_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    session,
)
from kolben.ctx import AppContext, RequestContext
from kolben.globals import _cv_app, _cv_request, app_ctx, request_ctx

APP_CTX_MSG = "Working outside of application context."
REQ_CTX_MSG = "Working outside of request context."


# --- app context push / pop ---------------------------------------------------


def test_app_context_push_pop(app):
    ctx = app.app_context()
    assert isinstance(ctx, AppContext)
    assert not has_app_context()
    ctx.push()
    try:
        assert has_app_context()
        assert current_app._get_current_object() is app
        assert ctx.app is app
    finally:
        ctx.pop()
    assert not has_app_context()


def test_app_context_as_context_manager(app):
    with app.app_context() as ctx:
        assert isinstance(ctx, AppContext)
        assert current_app.name == app.name
        assert _cv_app.get() is ctx
    assert not has_app_context()
    assert _cv_app.get(None) is None


def test_app_context_nested_same_app(app):
    with app.app_context() as outer:
        outer.g.who = "outer"
        with app.app_context() as inner:
            assert inner is not outer
            assert _cv_app.get() is inner
            assert "who" not in g
            g.who = "inner"
        assert _cv_app.get() is outer
        assert g.who == "outer"
    assert not has_app_context()


def test_app_context_nested_manual_push_pop_in_order(app):
    first = app.app_context()
    second = app.app_context()
    first.push()
    second.push()
    assert _cv_app.get() is second
    second.pop()
    assert _cv_app.get() is first
    first.pop()
    assert _cv_app.get(None) is None


def test_app_context_of_other_app_nested(app):
    other = kolben.Kolben("other_app")
    with app.app_context():
        with other.app_context():
            assert current_app.name == "other_app"
        assert current_app.name == app.name


def test_popping_wrong_app_context_raises(app):
    first = app.app_context()
    second = app.app_context()
    first.push()
    second.push()
    try:
        with pytest.raises(AssertionError):
            first.pop()
    finally:
        # clean up whatever is still pushed, innermost first
        while (ctx := _cv_app.get(None)) is not None:
            ctx.pop()


def test_popping_wrong_request_context_raises(app):
    first = app.test_request_context("/a")
    second = app.test_request_context("/b")
    first.push()
    second.push()
    try:
        with pytest.raises(AssertionError):
            first.pop()
    finally:
        while (ctx := _cv_request.get(None)) is not None:
            ctx.pop()
        while (actx := _cv_app.get(None)) is not None:
            actx.pop()


def test_same_app_context_pushed_twice_tears_down_once(app):
    seen = []
    app.teardown_appcontext(seen.append)
    ctx = app.app_context()
    ctx.push()
    ctx.push()
    ctx.pop()
    assert seen == []
    assert _cv_app.get() is ctx
    ctx.pop()
    assert seen == [None]
    assert _cv_app.get(None) is None


def test_same_request_context_pushed_twice_tears_down_once(app):
    seen = []
    app.teardown_request(seen.append)
    ctx = app.test_request_context("/twice")
    ctx.push()
    ctx.push()
    ctx.pop()
    assert seen == []
    assert request.path == "/twice"
    ctx.pop()
    assert seen == [None]
    assert not has_request_context()
    assert not has_app_context()


def test_url_for_in_app_context_with_server_name(app):
    app.add_url_rule("/page", "page", lambda: "")
    app.config["SERVER_NAME"] = "example.com"
    with app.app_context():
        assert kolben.url_for("page") == "http://example.com/page"
        assert kolben.url_for("page", _external=False) == "/page"


# --- errors outside a context ----------------------------------------------------


def test_current_app_outside_context_raises():
    with pytest.raises(RuntimeError, match=APP_CTX_MSG):
        current_app.name  # noqa: B018


def test_g_outside_context_raises():
    with pytest.raises(RuntimeError, match=APP_CTX_MSG):
        g.foo = 1
    with pytest.raises(RuntimeError, match=APP_CTX_MSG):
        g.get("foo")


def test_request_outside_context_raises():
    with pytest.raises(RuntimeError, match=REQ_CTX_MSG):
        request.path  # noqa: B018


def test_request_outside_request_but_inside_app_context_raises(app_ctx):
    with pytest.raises(RuntimeError, match=REQ_CTX_MSG):
        request.args  # noqa: B018


def test_has_contexts(app):
    assert not has_app_context()
    assert not has_request_context()
    with app.app_context():
        assert has_app_context()
        assert not has_request_context()
    with app.test_request_context():
        assert has_app_context()
        assert has_request_context()
    assert not has_app_context()
    assert not has_request_context()


def test_has_contexts_also_exported_from_ctx_module(app):
    assert kolben.ctx.has_app_context is has_app_context
    assert kolben.ctx.has_request_context is has_request_context
    with app.test_request_context():
        assert kolben.ctx.has_request_context()


# --- g -----------------------------------------------------------------------


def test_g_attribute_set_get(app_ctx):
    g.user = "ada"
    assert g.user == "ada"
    with pytest.raises(AttributeError):
        g.missing  # noqa: B018


def test_g_get_with_default(app_ctx):
    assert g.get("x") is None
    assert g.get("x", 42) == 42
    g.x = 1
    assert g.get("x", 42) == 1


def test_g_pop(app_ctx):
    g.x = 1
    assert g.pop("x") == 1
    assert "x" not in g
    assert g.pop("x", "dflt") == "dflt"
    with pytest.raises(KeyError):
        g.pop("x")


def test_g_setdefault(app_ctx):
    assert g.setdefault("x", 5) == 5
    assert g.x == 5
    assert g.setdefault("x", 6) == 5
    assert g.x == 5
    assert g.setdefault("y") is None
    assert "y" in g


def test_g_contains_and_iter(app_ctx):
    assert "a" not in g
    g.a = 1
    g.b = 2
    assert "a" in g
    assert sorted(iter(g)) == ["a", "b"]


def test_g_delattr(app_ctx):
    g.x = 1
    del g.x
    assert "x" not in g
    with pytest.raises(AttributeError):
        del g.x


def test_g_names_with_underscores_are_g_attributes(app_ctx):
    """Only the proxy's own slots and dunders are the proxy's: ``g._db``,
    ``g.__private`` style names and a name equal to werkzeug's private
    attribute without its mangling are ``g``'s, as in Flask."""
    g._db = "conn"
    g._LocalProxy_thing = 1
    g.get_current_object = "mine"
    assert g._db == "conn"
    assert g._LocalProxy_thing == 1
    assert g.get_current_object == "mine"
    assert sorted(g) == ["_LocalProxy_thing", "_db", "get_current_object"]
    assert g._get_current_object() is _cv_app.get().g
    assert g.__class__ is type(_cv_app.get().g)
    with pytest.raises(AttributeError):
        g._missing  # noqa: B018
    assert getattr(g, "_missing", "dflt") == "dflt"


def test_g_missing_attribute_error_is_the_globals_objects(app):
    """A name missing from ``g`` raises the error of the app's
    ``app_ctx_globals_class``, properties and ``__getattr__`` included."""

    class Globals(kolben.ctx._AppCtxGlobals):
        @property
        def computed(self):
            return "from property"

        def __getattr__(self, name):
            if name == "dynamic":
                return "from __getattr__"
            raise AttributeError(f"no {name} in these globals")

    app.app_ctx_globals_class = Globals
    with app.app_context():
        assert g.computed == "from property"
        assert g.dynamic == "from __getattr__"
        assert hasattr(g, "missing") is False
        with pytest.raises(AttributeError, match="no missing in these globals"):
            g.missing  # noqa: B018
        with pytest.raises(AttributeError, match="no __missing__ in these globals"):
            g.__missing__  # noqa: B018


def test_g_reads_outside_context_raise_the_context_error():
    for read in (lambda: g.user, lambda: g._db, lambda: getattr(g, "x", None)):
        with pytest.raises(RuntimeError, match=APP_CTX_MSG):
            read()


def test_g_repr_mentions_app_name(app_ctx, app):
    assert app.name in repr(g)


def test_g_object_repr_outside_context(app):
    with app.app_context() as ctx:
        g_obj = ctx.g
    assert app.name not in repr(g_obj)


def test_g_is_fresh_per_app_context(app):
    with app.app_context():
        g.x = 1
    with app.app_context():
        assert "x" not in g
        assert g.get("x") is None


def test_g_shared_between_before_request_and_view(app, client):
    @app.before_request
    def load():
        if request.path == "/":
            g.user = "ada"

    @app.route("/")
    def index():
        return g.user

    @app.route("/check")
    def check():
        return "has user" if "user" in g else "no user"

    assert client.get("/").data == b"ada"
    # the next request gets a fresh g
    assert client.get("/check").data == b"no user"


def test_g_in_test_request_context_is_app_context_g(app):
    with app.test_request_context() as ctx:
        g.x = 1
        assert _cv_app.get().g is g._get_current_object()
        assert ctx.request.path == "/"
    with app.app_context():
        assert "x" not in g


def test_request_context_reuses_active_app_context_and_its_g(app):
    with app.app_context() as actx:
        g.outer = True
        with app.test_request_context():
            assert _cv_app.get() is actx
            assert g.outer is True
            g.inner = True
        assert _cv_app.get() is actx
        assert g.inner is True


def test_request_context_pushes_app_context_when_none(app):
    assert _cv_app.get(None) is None
    with app.test_request_context():
        actx = _cv_app.get()
        assert actx.app is app
    assert _cv_app.get(None) is None


def test_request_context_pushes_new_app_context_for_other_app(app):
    other = kolben.Kolben("other_app")
    with other.app_context() as other_ctx:
        with app.test_request_context():
            actx = _cv_app.get()
            assert actx is not other_ctx
            assert actx.app is app
            assert current_app.name == app.name
        assert _cv_app.get() is other_ctx
    assert _cv_app.get(None) is None


# --- the raw context proxies ----------------------------------------------------


def test_ctx_proxies_falsy_without_context():
    assert not app_ctx
    assert not request_ctx
    assert bool(app_ctx) is False
    assert bool(request_ctx) is False


def test_proxies_forward_attributes_items_and_operators(app):
    """The context proxies forward what werkzeug's LocalProxy forwards: reads,
    writes and deletes of attributes and items, ``in``, ``len``, iteration,
    and their own ``_get_current_object``; a missing name raises the proxied
    object's own error."""
    app.secret_key = "k"
    with app.test_request_context("/p?a=1"):
        req = request._get_current_object()
        assert request.path == "/p" and request.args["a"] == "1"
        assert request.__class__ is type(req) and isinstance(request, kolben.Request)
        request.custom = 5
        assert req.custom == 5 and request.custom == 5
        del request.custom
        assert not hasattr(req, "custom")
        with pytest.raises(AttributeError, match="custom"):
            request.custom  # noqa: B018
        assert getattr(request, "_nope", "dflt") == "dflt"
        assert current_app.config is app.config
        assert current_app._get_current_object() is app

        session["x"] = 1
        session["y"] = 2
        assert session["x"] == 1 and "x" in session and len(session) == 2
        assert sorted(session) == ["x", "y"]
        del session["y"]
        assert list(session) == ["x"] and session.get("y") is None
        with pytest.raises(KeyError):
            session["y"]
        assert session.modified
        assert request_ctx.request is req and app_ctx.app is app


def test_proxies_with_an_empty_attribute_name(app):
    with app.test_request_context():
        for proxy in (request, session, g, kolben.current_app):
            assert hasattr(proxy, "") is False
            assert getattr(proxy, "", "dflt") == "dflt"


def test_proxies_outside_context_raise_or_are_falsy():
    for read in (
        lambda: request.path,
        lambda: request._private,
        lambda: session["x"],
        lambda: "x" in session,
        lambda: len(session),
        lambda: current_app.config,
    ):
        with pytest.raises(RuntimeError, match="Working outside of"):
            read()
    with pytest.raises(TypeError, match="'LocalProxy' object is not iterable"):
        list(session)
    with pytest.raises(RuntimeError, match=REQ_CTX_MSG):
        request.x = 1
    with pytest.raises(RuntimeError, match=REQ_CTX_MSG):
        session["x"] = 1
    assert not request and not session and not current_app
    assert repr(request) == "<LocalProxy unbound>"


def test_app_ctx_proxy_in_app_context(app):
    with app.app_context() as ctx:
        assert app_ctx
        assert not request_ctx
        assert app_ctx.app is app
        assert app_ctx._get_current_object() is ctx
        assert app_ctx.g is g._get_current_object()


def test_request_ctx_proxy_in_request_context(app):
    with app.test_request_context("/hello?x=1") as ctx:
        assert isinstance(ctx, RequestContext)
        assert request_ctx
        assert request_ctx._get_current_object() is ctx
        assert request_ctx.request is ctx.request
        assert request_ctx.request is request._get_current_object()
        assert request.args["x"] == "1"
        assert request.path == "/hello"
        assert app_ctx.app is app


def test_test_request_context_environ_arguments(app):
    with app.test_request_context("/p", method="POST", data={"a": "b"}, headers={"X-Thing": "yes"}):
        assert request.method == "POST"
        assert request.form["a"] == "b"
        assert request.headers["X-Thing"] == "yes"


def test_request_context_push_pop_manually(app):
    ctx = app.test_request_context("/x")
    ctx.push()
    try:
        assert request.path == "/x"
        assert has_app_context()
    finally:
        ctx.pop()
    assert not has_request_context()
    assert not has_app_context()


def test_request_context_copy(app):
    with app.test_request_context("/copy?q=1") as ctx:
        copied = ctx.copy()
        assert copied is not ctx
        assert copied.request is ctx.request
    with copied:
        assert request.path == "/copy"
        assert request.args["q"] == "1"
    assert not has_request_context()


# --- copy_current_request_context ----------------------------------------------


def test_copy_current_request_context_runs_later(app):
    with app.test_request_context("/later?v=7"):

        @copy_current_request_context
        def job():
            return request.args["v"], current_app.name

    assert not has_request_context()
    assert job() == ("7", app.name)
    assert not has_request_context()


def test_copy_current_request_context_in_thread(app):
    results = []
    with app.test_request_context("/t?v=thread"):

        @copy_current_request_context
        def work():
            results.append((request.args["v"], current_app.name, has_request_context()))

        t = threading.Thread(target=work)
        t.start()
        t.join()
    assert results == [("thread", app.name, True)]


def test_copy_current_request_context_in_view_thread(app, client):
    results = []

    @app.route("/bg")
    def bg():
        @copy_current_request_context
        def work():
            results.append(request.headers.get("X-Token"))

        t = threading.Thread(target=work)
        t.start()
        t.join()
        return "ok"

    assert client.get("/bg", headers={"X-Token": "abc"}).data == b"ok"
    assert results == ["abc"]


def test_copy_current_request_context_passes_arguments(app):
    with app.test_request_context("/"):

        @copy_current_request_context
        def add(a, b=0):
            return a + b + len(request.path)

    assert add(1, b=2) == 4


def test_copy_current_request_context_outside_raises():
    def f():
        return None

    with pytest.raises(RuntimeError):
        copy_current_request_context(f)


# --- after_this_request --------------------------------------------------------------


def test_after_this_request_adds_header(app, client):
    @app.route("/")
    def index():
        @after_this_request
        def add_header(response):
            response.headers["X-Foo"] = "a parameter"
            return response

        return "body"

    rv = client.get("/")
    assert rv.headers["X-Foo"] == "a parameter"
    assert rv.data == b"body"


def test_after_this_request_only_applies_to_its_request(app, client):
    @app.route("/")
    def index():
        if request.args.get("mark"):

            @after_this_request
            def mark(response):
                response.headers["X-Mark"] = "1"
                return response

        return "ok"

    assert client.get("/?mark=1").headers.get("X-Mark") == "1"
    assert "X-Mark" not in client.get("/").headers


def test_after_this_request_outside_request_raises(app_ctx):
    def f(response):
        return response

    with pytest.raises(RuntimeError):
        after_this_request(f)


def test_after_this_request_outside_any_context_raises():
    with pytest.raises(RuntimeError):
        after_this_request(lambda r: r)


def test_after_this_request_from_ctx_module(app, client):
    @app.route("/")
    def index():
        kolben.ctx.after_this_request(lambda r: (r.headers.__setitem__("X-Ctx", "y"), r)[1])
        return ""

    assert client.get("/").headers["X-Ctx"] == "y"


# --- teardown_appcontext -------------------------------------------------------------


def test_teardown_appcontext_none_on_clean_exit(app):
    seen = []

    @app.teardown_appcontext
    def td(exc):
        seen.append(exc)

    with app.app_context():
        pass
    assert seen == [None]


def test_teardown_appcontext_receives_exception_from_with_block(app):
    seen = []

    @app.teardown_appcontext
    def td(exc):
        seen.append(exc)

    err = ValueError("boom")
    with pytest.raises(ValueError), app.app_context():
        raise err
    assert seen == [err]
    assert not has_app_context()


def test_teardown_appcontext_manual_push_pop(app):
    seen = []
    app.teardown_appcontext(seen.append)
    ctx = app.app_context()
    ctx.push()
    ctx.pop()
    assert seen == [None]


def test_teardown_appcontext_after_request(app, client):
    seen = []
    app.teardown_appcontext(seen.append)

    @app.route("/")
    def index():
        return "ok"

    client.get("/")
    assert seen == [None]


def test_teardown_appcontext_on_request_error(app, client):
    app.config["TESTING"] = False
    seen = []
    app.teardown_appcontext(seen.append)

    @app.route("/")
    def index():
        raise ZeroDivisionError("nope")

    rv = client.get("/", errors_stream=io.StringIO())
    assert rv.status_code == 500
    assert len(seen) == 1
    assert isinstance(seen[0], ZeroDivisionError)


def test_teardown_appcontext_runs_in_reverse_order(app):
    order = []
    app.teardown_appcontext(lambda exc: order.append(1))
    app.teardown_appcontext(lambda exc: order.append(2))
    with app.app_context():
        pass
    assert order == [2, 1]


# --- contextvars semantics ------------------------------------------------------------


def test_context_not_visible_in_other_thread(app):
    seen = {}

    def check():
        seen["app"] = has_app_context()
        seen["req"] = has_request_context()

    with app.test_request_context():
        t = threading.Thread(target=check)
        t.start()
        t.join()
    assert seen == {"app": False, "req": False}


def test_context_pushed_in_thread_not_visible_here(app):
    pushed = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with app.app_context():
            g.who = "worker"
            pushed.set()
            release.wait(5)
            seen["worker_g"] = g.who

    t = threading.Thread(target=worker)
    t.start()
    pushed.wait(5)
    try:
        assert not has_app_context()
    finally:
        release.set()
        t.join()
    assert seen == {"worker_g": "worker"}


def test_threads_have_their_own_g(app):
    barrier = threading.Barrier(2, timeout=5)
    seen = {}

    def worker(n):
        with app.app_context():
            g.n = n
            barrier.wait()
            seen[n] = g.n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {0: 0, 1: 1}


def test_context_in_copied_contextvars_context(app):
    with app.app_context():
        g.x = "copied"
        snapshot = contextvars.copy_context()
    assert not has_app_context()
    assert snapshot.run(lambda: g.x) == "copied"


def test_asyncio_tasks_are_isolated(app):
    async def main():
        pushed = asyncio.Event()
        release = asyncio.Event()

        async def pusher():
            with app.app_context():
                g.who = "pusher"
                pushed.set()
                await release.wait()
                return g.who

        async def observer():
            await pushed.wait()
            try:
                return has_app_context()
            finally:
                release.set()

        return await asyncio.gather(asyncio.create_task(pusher()), asyncio.create_task(observer()))

    assert asyncio.run(main()) == ["pusher", False]
    assert not has_app_context()


def test_asyncio_task_inherits_context_at_creation(app):
    async def main():
        async def child():
            return current_app.name, g.get("x")

        with app.app_context():
            g.x = 1
            task = asyncio.create_task(child())
        # the task copied the context when it was created
        return await task, has_app_context()

    assert asyncio.run(main()) == ((app.name, 1), False)


def test_asyncio_request_context_per_task(app):
    async def handle(path):
        with app.test_request_context(path):
            await asyncio.sleep(0)
            return request.path

    async def main():
        return await asyncio.gather(*(handle(f"/{i}") for i in range(5)))

    assert asyncio.run(main()) == [f"/{i}" for i in range(5)]


def test_proxies_doc_is_the_proxied_objects(app):
    """``request.__doc__`` (what ``help()`` and ``inspect.getdoc`` read) is the
    proxied object's docstring, and werkzeug's LocalProxy docstring outside a
    context, as with Flask's proxies (werkzeug's lookup)."""
    import inspect

    from werkzeug.local import LocalProxy

    app.secret_key = "k"
    proxies = (request, session, g, current_app, app_ctx, request_ctx)
    for proxy in proxies:
        assert proxy.__doc__ == LocalProxy.__doc__
    with app.test_request_context():
        for proxy in proxies:
            obj = proxy._get_current_object()
            assert proxy.__doc__ == type(obj).__doc__
            assert inspect.getdoc(proxy) == inspect.getdoc(obj)
