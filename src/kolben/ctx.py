"""Application and request contexts, and the helpers that act on them.

The application context holds what belongs to one unit of work for an app (``g``,
the URL adapter for building URLs); the request context holds one HTTP request.
Pushing a request context pushes an application context for the same app when none
is active. Both live in :mod:`contextvars`, see :mod:`kolben.globals`.
"""

from __future__ import annotations

import contextvars
import gc
import sys
import typing as t
from functools import partial, update_wrapper
from types import TracebackType

from werkzeug.exceptions import HTTPException

from . import globals as _globals
from .pipeline import DualStep, Steps, acall_in_reverse, call_in_reverse, direct, run_steps
from .sessions import SecureCookieSessionInterface, opens_at_push
from .signals import (
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    request_tearing_down,
    signal_steps,
)
from .wrappers import make_request

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app
_cv_request = _globals._cv_request

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.routing import MapAdapter

    from .app import Kolben
    from .hook_plans import Plan
    from .sessions import SessionMixin
    from .wrappers import Request

F = t.TypeVar("F", bound=t.Callable[..., t.Any])

# A marker meaning "no exception was passed to pop(); look at sys.exc_info()".
_sentinel = object()


class _AppCtxGlobals:
    """The ``g`` object: a plain namespace for storing data during an app context.

    It is a good place to keep a database connection or the current user for the
    length of a request or a CLI command. Besides attribute access it supports
    ``in``, iteration over names, :meth:`get`, :meth:`pop` and :meth:`setdefault`.
    """

    def __getattr__(self, name: str) -> t.Any:
        try:
            return self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    # Setting an attribute is object's own (the same store in ``__dict__``):
    # PERF: no Python call per ``g.name = value``.

    def __delattr__(self, name: str) -> None:
        try:
            del self.__dict__[name]
        except KeyError:
            raise AttributeError(name) from None

    def get(self, name: str, default: t.Any | None = None) -> t.Any:
        """Return the attribute ``name``, or ``default`` if it is not set."""
        return self.__dict__.get(name, default)

    def pop(self, name: str, default: t.Any = _sentinel) -> t.Any:
        """Remove and return the attribute ``name``.

        Raises :exc:`KeyError` if it is not set and no ``default`` is given.
        """
        if default is _sentinel:
            return self.__dict__.pop(name)
        return self.__dict__.pop(name, default)

    def setdefault(self, name: str, default: t.Any = None) -> t.Any:
        """Return the attribute ``name``, setting it to ``default`` first if unset."""
        return self.__dict__.setdefault(name, default)

    def __contains__(self, item: str) -> bool:
        return item in self.__dict__

    def __iter__(self) -> t.Iterator[str]:
        return iter(self.__dict__)

    def __repr__(self) -> str:
        ctx = _cv_app.get(None)
        if ctx is not None:
            # Named as the package the app imports it from: flask under the
            # Flask compat layer (kolben.compat), as Flask's own repr reads.
            compat = sys.modules.get("kolben.compat")
            package = "flask" if compat is not None and compat.installed() else "kolben"
            return f"<{package}.g of '{ctx.app.name}'>"
        return object.__repr__(self)


def after_this_request(f: F) -> F:
    """Run ``f`` on the response of the current request, after it is made.

    ``f`` takes the response object and returns it (or a new one). It runs before
    the ``after_request`` functions. Use it in a view or a ``before_request``
    function to change a response you don't create yourself::

        @app.route("/")
        def index():
            @after_this_request
            def add_header(response):
                response.headers["X-Foo"] = "Parachute"
                return response
            return "Hello"
    """
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'after_this_request' can only be used when a request context is"
            " active, such as in a view function."
        )
    ctx._after_request_functions.append(f)
    return f


def copy_current_request_context(f: F) -> F:
    """Decorate ``f`` so that it runs with a copy of the current request context.

    Useful for work started from a view that runs later or elsewhere, for example in
    a thread or a greenlet: inside ``f``, ``request`` and ``g`` are those of the
    request that was active when the function was decorated.
    """
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'copy_current_request_context' can only be used when a request context"
            " is active, such as in a view function."
        )
    ctx = ctx.copy()

    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        with ctx:
            return ctx.app.ensure_sync(f)(*args, **kwargs)

    return update_wrapper(wrapper, f)  # type: ignore[return-value]


def has_request_context() -> bool:
    """Return whether a request context is active (``request`` can be used)."""
    return _cv_request.get(None) is not None


def has_app_context() -> bool:
    """Return whether an application context is active (``current_app`` can be used)."""
    return _cv_app.get(None) is not None


class AppContext:
    """The application context: ``current_app`` and ``g`` for one unit of work.

    Created by :meth:`Kolben.app_context` and pushed implicitly for each request
    and CLI command. Use it as a context manager, or call :meth:`push` and
    :meth:`pop` in pairs.
    """

    def __init__(self, app: Kolben) -> None:
        self.app = app
        self.g: _AppCtxGlobals = app.app_ctx_globals_class()
        self._url_adapter: MapAdapter | object | None = _sentinel
        self._cv_tokens: list[t.Any] = []
        #: The task resources acquired in this context (kolben.resources); None
        #: until the first one is acquired.
        self._task_state: t.Any = None

    @property
    def url_adapter(self) -> MapAdapter | None:
        """The adapter used to build URLs without a request; needs ``SERVER_NAME``.

        PERF: built on first use, so a context that never builds a URL never pays.
        """
        if self._url_adapter is _sentinel:
            self._url_adapter = self.app.create_url_adapter(None)
        return self._url_adapter  # type: ignore[return-value]

    @url_adapter.setter
    def url_adapter(self, value: MapAdapter | None) -> None:
        self._url_adapter = value

    def push(self) -> None:
        """Make this the active application context."""
        if appcontext_pushed.receivers:
            run_steps(self.app, self._push())
        else:  # PERF: no user code to run
            self._cv_tokens.append(_cv_app.set(self))

    def _push(self) -> Steps[None]:
        self._cv_tokens.append(_cv_app.set(self))
        if appcontext_pushed.receivers:
            yield from signal_steps(appcontext_pushed, self.app, {})

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Pop this context, running ``teardown_appcontext`` functions on the last pop.

        ``exc`` is the exception that ended the work; by default the one being
        handled, if any.
        """
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        if self._pop_runs_user_code():
            run_steps(self.app, self._pop(exc))
        else:  # PERF: no user code to run
            self._pop_plain()

    def _pop_runs_user_code(self) -> bool:
        """Whether popping runs user code: a task to finish, teardown functions or
        signal receivers. PERF: when not, the request context pops this one
        without driving :meth:`_pop`."""
        app = self.app
        if (  # noqa: SIM103 - PERF: no bool() calls
            self._task_state is not None
            or app.teardown_appcontext_funcs
            or appcontext_tearing_down.receivers
            or appcontext_popped.receivers
            or "do_teardown_appcontext" in app._overridden
        ):
            return True
        return False

    def _pop(self, exc: BaseException | None) -> Steps[None]:
        app = self.app
        try:
            if len(self._cv_tokens) == 1:
                try:
                    yield from self._end_task(exc)
                finally:
                    try:
                        if "do_teardown_appcontext" in app._overridden:
                            yield direct(app, app.do_teardown_appcontext), (exc,)
                        elif app.teardown_appcontext_funcs or appcontext_tearing_down.receivers:
                            yield from app._do_teardown_appcontext(exc)
                    finally:
                        # A teardown function used a task resource: finish (and
                        # release) it too rather than leak it.
                        yield from self._end_task(exc)
        finally:
            active = self._unset()
        if active is not self:
            self._wrong_context(active)
        if appcontext_popped.receivers:
            yield from signal_steps(appcontext_popped, app, {})

    def _end_task(self, exc: BaseException | None) -> Steps[None]:
        """End this context's task (commit or roll back its task resources, run
        the after-commit callbacks, release them), if it used any."""
        if self._task_state is not None:
            from .resources import end_task_steps

            yield from end_task_steps(self, exc)

    def _pop_plain(self) -> None:
        """:meth:`_pop` for a pop that runs no user code (see
        :meth:`_pop_runs_user_code`): reset the context variable, check the
        order."""
        active = self._unset()
        if active is not self:
            self._wrong_context(active)

    def _unset(self) -> AppContext | None:
        """Reset the context variable to what it was before the last push;
        return the context that was active. With none active, LookupError, and
        nothing is reset (as in Flask)."""
        active = _cv_app.get()
        _cv_app.reset(self._cv_tokens.pop())
        return active

    def _wrong_context(self, active: AppContext | None) -> t.NoReturn:
        raise AssertionError(
            f"Popped wrong app context. ({active!r} instead of {self!r})"
            " Push and pop contexts in pairs, innermost first."
        )

    def __enter__(self) -> AppContext:
        self.push()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pop(exc_value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.app.name!r}>"


def _body_left_out(method: str, status: int) -> bool:
    """Whether a response's body is left out of what is sent, as werkzeug's
    ``Response.get_app_iter`` leaves it out: for a ``HEAD`` request, and a 1xx,
    204 or 304 status."""
    return method == "HEAD" or 100 <= status < 200 or status in (204, 304)


def _reaches(body: t.Any, target: t.Any, depth: int = 3, budget: int = 1000) -> bool:
    """Whether ``target`` is ``body`` or is held by it: found among the objects
    ``body`` refers to, ``depth`` levels deep (a generator wrapping another
    refers to it directly; an iterator object through its attributes), looking
    at no more than ``budget`` objects."""
    if body is target:
        return True
    level = [body]
    seen = {id(body)}
    for _ in range(depth):
        following = []
        for obj in gc.get_referents(*level):
            if obj is target:
                return True
            if id(obj) not in seen and not isinstance(obj, (str, bytes, int, float, type)):
                seen.add(id(obj))
                following.append(obj)
        if not following or len(seen) > budget:
            return False
        level = following
    return False


class RequestContext:
    """The request context: ``request`` (and, with sessions, ``session``).

    Created for each request by the front door, or by
    :meth:`Kolben.test_request_context` and :meth:`Kolben.request_context`. When it
    is pushed and no application context for the same app is active, it pushes one
    and pops it again with itself.
    """

    #: Whether pushing opens the session of an interface of the app's own (see
    #: :func:`kolben.sessions.opens_at_push`), as Flask does.
    _opens_session_at_push = True

    def __init__(
        self,
        app: Kolben,
        environ: WSGIEnvironment,
        request: Request | None = None,
        session: SessionMixin | None = None,
    ) -> None:
        self.app = app
        if request is None:
            request = make_request(app.request_class, environ)
            request.json_module = app.json
        self.request: Request = request
        self._url_adapter: MapAdapter | object | None = _sentinel
        #: The session once opened (None until then; see the ``_session`` property),
        #: or the one given (used as is, as in Flask).
        self._opened_session: SessionMixin | None = session
        #: Flashed messages popped from the session, cached for the request.
        self.flashes: list[tuple[str, str]] | None = None
        self._after_request_functions: list[t.Callable[[t.Any], t.Any]] = []
        self._cv_tokens: list[tuple[t.Any, AppContext | None]] = []
        self._blueprint_chain: list[str] | None = None
        #: Weak references to the bodies made with ``stream_with_context`` in
        #: this request, which keep its contexts pushed until they end, and to
        #: the broker subscriptions ``stream_channel`` made (None: none); those
        #: its response does not send are closed when it ends. PERF: an
        #: instance attribute, which CPython 3.11 reads faster than a class
        #: default.
        self._streams: list[t.Any] | None = None
        #: A session read ahead by the ASGI driver (or the error reading it).
        self._preopened: SessionMixin | Exception | None = None

    @property
    def blueprint_chain(self) -> list[str]:
        """``request.blueprints`` (innermost first), read once per request for the
        pipeline's hook lookups. PERF: the property walks the endpoint each time."""
        chain = self._blueprint_chain
        if chain is None:
            chain = self._blueprint_chain = self.request.blueprints
        return chain

    @property
    def session(self) -> SessionMixin:
        """The session of this request, opened on first access.

        PERF: a request that never touches ``session`` never parses or verifies the
        session cookie. Without a secret key this is a null session whose changes
        raise an error that says how to set one.
        """
        sess = self._opened_session
        if sess is None:
            sess = self._open_session()
        # Any use of the session, even `in` or len(), makes the response vary by
        # the cookie (Flask 3.1.3).
        try:  # noqa: SIM105 - PERF: try/except is cheaper than contextlib.suppress
            sess.accessed = True
        except AttributeError:  # a plain mapping assigned through the setter
            pass
        return sess

    @session.setter
    def session(self, value: SessionMixin) -> None:
        self._opened_session = value

    @property
    def _session(self) -> SessionMixin:
        """The session without marking it used, as Flask's ``_session`` (which
        Flask opens at push; extensions read it): opened here on first use.
        kolben's own code asks ``_opened_session`` whether it was opened."""
        sess = self._opened_session
        if sess is None:
            sess = self._open_session()
        return sess

    @_session.setter
    def _session(self, value: SessionMixin | None) -> None:
        self._opened_session = value

    async def _preopen_session_if_needed(self) -> None:
        """Under ASGI, before ``async def`` user code first runs: read a session
        whose interface has async I/O (a Redis store) and whose cookie came with
        the request, so using it on the loop never blocks. It is kept aside
        (an error too) until ``session`` is first used, so a request that never
        uses it is neither saved nor refreshed, nor failed by the store."""
        if self._preopened is not None:
            return
        interface = self.app.session_interface
        if type(interface) is SecureCookieSessionInterface:
            return
        app, request = self.app, self.request
        try:
            if getattr(interface, "has_async_io", False):
                if not interface.open_session_needs_io(app, request):
                    return
                sess = await interface.open_session_async(app, request)
            else:
                # A sync store of kolben's own: the session is opened in a worker
                # thread, before async code could open it on the loop (one of
                # the app's own was opened at push, see opens_at_push).
                from .concurrency import running_loop

                sess = await app.worker_threads.run(
                    running_loop(),
                    partial(contextvars.copy_context().run, interface.open_session, app, request),
                )
            self._preopened = sess if sess is not None else interface.make_null_session(app)
        except Exception as e:
            self._preopened = e

    async def _aopen_session(self) -> SessionMixin:
        """:meth:`_open_session` for the ASGI driver (see kolben.pipeline.DualStep)."""
        await self._preopen_session_if_needed()
        return self._open_session()

    def _open_session(self) -> SessionMixin:
        """Open the session through the app's interface, without marking it used."""
        preopened = self._preopened
        if preopened is not None:
            self._preopened = None
            if isinstance(preopened, Exception):
                raise preopened
            self._opened_session = preopened
            return preopened
        interface = self.app.session_interface
        sess = interface.open_session(self.app, self.request)
        if sess is None:
            sess = interface.make_null_session(self.app)
        self._opened_session = sess
        return sess

    @property
    def url_adapter(self) -> MapAdapter | None:
        """The URL adapter bound to this request, for building URLs.

        PERF: built on first use (``url_for``). Matching uses an adapter the app
        caches per host, so a request that builds no URL never binds one.
        """
        if self._url_adapter is _sentinel:
            try:
                self._url_adapter = self.app._request_url_adapter(self.request)
            except HTTPException:
                self._url_adapter = None
        return self._url_adapter  # type: ignore[return-value]

    @url_adapter.setter
    def url_adapter(self, value: MapAdapter | None) -> None:
        self._url_adapter = value

    def copy(self) -> RequestContext:
        """Return a new context for the same request object (and the same session
        object), e.g. for a thread."""
        rv = self.__class__(self.app, self.request.environ, self.request)
        sess = self._opened_session
        if sess is None and self._cv_tokens:
            # Flask opens the session when the context is pushed and hands the
            # copy that object: opened now (not marked as used), so what the
            # copy writes is what this request saves.
            sess = self._session
        rv._opened_session = sess
        return rv

    def match_request(self) -> None:
        """Match the request URL against the app's routes.

        Sets ``request.url_rule`` and ``request.view_args``, or
        ``request.routing_exception`` (a 404, 405 or redirect to raise later).
        """
        self.app._match_request(self.request)

    def push(self) -> None:
        """Make this the active request context (and its app context if needed)."""
        if not self._push_now():
            run_steps(self.app, self._push())

    def _app_ctx_to_push(self) -> AppContext | None:
        """A new application context when none for this app is active."""
        app_ctx = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not self.app:
            return self.app.app_context()
        return None

    def _push(self) -> Steps[None]:
        app_ctx = self._app_ctx_to_push()
        if app_ctx is not None:
            yield from app_ctx._push()
        self._cv_tokens.append((_cv_request.set(self), app_ctx))
        if (
            self._opens_session_at_push
            and self._opened_session is None
            and opens_at_push(self.app.session_interface)
        ):
            # As Flask: the session of an interface of the app's own is opened
            # here, before the URL is matched (its converters may use it); one
            # with an async path is awaited on the loop under ASGI.
            if getattr(self.app.session_interface, "has_async_io", False):
                yield DualStep(self._open_session, self._aopen_session), ()
            else:
                yield direct(self.app, self._open_session), ()
        request = self.request
        if request.url_rule is None and request.routing_exception is None:
            if self.app._custom_converters or type(self).match_request not in FRAMEWORK_MATCHERS:
                # A converter of the app's own is user code.
                yield direct(self.app, self.match_request), ()
            else:
                self.match_request()

    def _push_now(self) -> bool:
        """:meth:`_push` without a generator, when pushing runs no user code
        (signal receivers, converters or a session interface of the app's own);
        False (nothing done) otherwise. PERF: the common case, in one call."""
        app = self.app
        if (
            appcontext_pushed.receivers
            or app._custom_converters
            or type(self).match_request not in FRAMEWORK_MATCHERS
            or (
                type(app.session_interface) is not SecureCookieSessionInterface
                and self._opened_session is None
                and opens_at_push(app.session_interface)
            )
        ):
            return False
        app_ctx: AppContext | None = _cv_app.get(None)
        if app_ctx is None or app_ctx.app is not app:
            overridden = app._overridden
            if overridden and "app_context" in overridden:
                app_ctx = app.app_context()
            else:
                app_ctx = AppContext(app)
            app_ctx._cv_tokens.append(_cv_app.set(app_ctx))
        else:
            app_ctx = None
        self._cv_tokens.append((_cv_request.set(self), app_ctx))
        request = self.request
        if request.url_rule is None and request.routing_exception is None:
            if type(self).match_request is _match_request:
                app._match_request(request)  # PERF: one call fewer
            else:
                self.match_request()  # kolben's own (a websocket's)
        return True

    def pop(self, exc: BaseException | None = _sentinel) -> None:  # type: ignore[assignment]
        """Pop this context; on the last pop, run ``teardown_request`` functions.

        Also pops the application context that :meth:`push` pushed, if any.
        """
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        if not self._pop_now():
            run_steps(self.app, self._pop(exc))

    def _pop(self, exc: BaseException | None, torn_down: bool = False) -> Steps[None]:
        """Pop this context, running the user code that goes with it as steps;
        ``torn_down``: the ``teardown_request`` functions ran already (see
        :meth:`_teardown_only_plan`)."""
        app = self.app
        last = len(self._cv_tokens) == 1
        try:
            if last and not torn_down:
                if "do_teardown_request" in app._overridden:
                    yield direct(app, app.do_teardown_request), (exc,)
                elif app.teardown_request_funcs or request_tearing_down.receivers:
                    yield from app._do_teardown_request(exc)
            # PERF: only a request that parsed files has anything to close.
            if last and "files" in self.request.__dict__:
                self.request.close()
        finally:
            active, app_ctx = self._unset(last)
            if app_ctx is not None:
                if app_ctx._pop_runs_user_code():
                    yield from app_ctx._pop(exc)
                else:  # PERF: no generator for a pop that runs no user code
                    app_ctx._pop_plain()
        if active is not self:
            self._wrong_context(active)

    def _teardown_only_plan(self) -> Plan | None:
        """The steps of the ``teardown_request`` functions, when they may be run
        before the rest of the pop (``do_teardown_request`` not overridden, no
        receivers): the
        caller yields them, then calls ``_pop_now(torn_down=True)`` (or drives
        ``_pop(exc, torn_down=True)`` when that returns False). None: drive
        :meth:`_pop`. PERF: no generator of the context's own for a request with
        teardown functions."""
        app = self.app
        registry = app.teardown_request_funcs
        if (
            len(self._cv_tokens) != 1
            or not registry
            or request_tearing_down.receivers
            or "do_teardown_request" in app._overridden
        ):
            return None
        # PERF: the plan every blueprint chain shares, read without a call.
        return getattr(registry, "any_chain_plan", None) or app._hook_plan(
            registry, self, False, call_in_reverse, acall_in_reverse
        )

    def _pop_now(self, torn_down: bool = False) -> bool:
        """:meth:`_pop` without a generator, when popping runs no user code
        (teardown functions, signal receivers, task resources); False (nothing
        done) otherwise. PERF: the common case, in one call. ``torn_down``: the
        ``teardown_request`` functions ran already."""
        app = self.app
        tokens = self._cv_tokens
        last = len(tokens) == 1
        if not tokens:  # not pushed: Flask's errors (LookupError, or IndexError)
            _cv_request.get()
            tokens.pop()
        app_ctx = tokens[-1][1]
        overridden = app._overridden
        if (
            (
                last
                and not torn_down
                and (
                    app.teardown_request_funcs
                    or request_tearing_down.receivers
                    or (overridden and "do_teardown_request" in overridden)
                )
            )
            or (
                app_ctx is not None
                and (
                    app_ctx._task_state is not None
                    or app.teardown_appcontext_funcs
                    or appcontext_tearing_down.receivers
                    or appcontext_popped.receivers
                    or (overridden and "do_teardown_appcontext" in overridden)
                )
            )
        ):
            return False
        request = self.request
        if last and "files" in request.__dict__:
            request.close()
        active = _cv_request.get()  # LookupError when none is active, as in Flask
        _cv_request.reset(tokens.pop()[0])
        if last:
            # Break the request <-> environ reference cycle (a request made
            # from an ASGI scope has none until its environ is made).
            request._known_environ["werkzeug.request"] = None
        if app_ctx is not None:
            active_app = _cv_app.get()
            _cv_app.reset(app_ctx._cv_tokens.pop())
            if active_app is not app_ctx:
                app_ctx._wrong_context(active_app)
        if active is not self:
            self._wrong_context(active)
        return True

    def _unsent_streams(self, response: t.Any) -> list[t.Any]:
        """The ``stream_with_context`` bodies the request's response won't send,
        for :func:`close_streams`: with no response (an error escaped), a
        buffered one (a ``before``/``after_request`` function or an error
        handler replaced the streamed response), one whose body doesn't hold
        them (another streamed response replaced it), or one whose body is not
        sent at all (a ``HEAD`` request, a 1xx, 204 or 304 status: werkzeug's
        ``get_app_iter`` leaves it out, and it would be closed only when the
        server, or the test, closes the response, in another context under
        the ASGI door). A body that holds them (the stream itself, or an
        iterator wrapping it) sends them: the server closes it."""
        streams = self._streams
        self._streams = None
        if not streams:
            return []
        body = None if response is None else getattr(response, "response", None)
        sent_whole = (
            body is None
            or getattr(response, "is_sequence", True)
            or _body_left_out(self.request.method, getattr(response, "status_code", 200))
        )
        unsent = []
        for ref in streams:
            stream = ref()
            if stream is not None and (sent_whole or not _reaches(body, stream)):
                unsent.append(stream)
        return unsent

    def _unset(self, last: bool) -> tuple[RequestContext | None, AppContext | None]:
        """Reset the context variable to before the last push; return the context
        that was active and the application context that push pushed."""
        active = _cv_request.get()  # LookupError when none is active, as in Flask
        token, app_ctx = self._cv_tokens.pop()
        _cv_request.reset(token)
        if last:
            # Break the request <-> environ reference cycle.
            self.request._known_environ["werkzeug.request"] = None
        return active, app_ctx

    def _wrong_context(self, active: RequestContext | None) -> t.NoReturn:
        raise AssertionError(
            f"Popped wrong request context. ({active!r} instead of {self!r})"
            " Push and pop contexts in pairs, innermost first."
        )

    def __enter__(self) -> RequestContext:
        self.push()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.pop(exc_value)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.request.url!r}"
            f" [{self.request.method}] of {self.app.name}>"
        )


#: The ``match_request`` methods that are kolben's own (no user code unless the
#: app has converters of its own); another one is a subclass's, run as a step.
FRAMEWORK_MATCHERS: set[t.Callable[..., t.Any]] = {RequestContext.match_request}
_match_request = RequestContext.match_request


def close_streams(streams: list[t.Any]) -> None:
    """Close the unsent ``stream_with_context`` bodies of a request (see
    :meth:`RequestContext._unsent_streams`): each pops the contexts it pushed
    (running teardown functions and signal receivers: user code, so the
    pipeline runs this as a step), so nothing of the request stays pushed."""
    for stream in streams:
        stream.close()
