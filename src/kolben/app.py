"""The application object: setup state, registration, and the request pipeline.

The pipeline reads top to bottom, each stage a small method a subclass may
override, as in Flask::

    wsgi_app (front door) -> request_context().push()
      full_dispatch_request
        preprocess_request    (url_value_preprocessors, before_request)
        dispatch_request      (match result -> view function)
        handle_user_exception (error handlers)
        finalize_request -> make_response -> process_response (after_request)
      handle_exception        (unhandled errors -> 500)
    -> ctx.pop()              (teardown_request, teardown_appcontext)

"Pay only for what you use": a stage with nothing registered does no work, signals
are only sent when something is connected, the URL adapter is bound once per host.
"""

from __future__ import annotations

import collections.abc as cabc
import os
import sys
import typing as t
import weakref
from functools import cached_property, partial, update_wrapper
from types import FunctionType, TracebackType

import click
from werkzeug.datastructures import Headers
from werkzeug.exceptions import (
    BadRequest,
    BadRequestKeyError,
    HTTPException,
    InternalServerError,
)
from werkzeug.routing import (
    BuildError,
    MapAdapter,
    RequestRedirect,
    RoutingException,
    WebsocketMismatch,
)
from werkzeug.utils import redirect as _werkzeug_redirect
from werkzeug.wrappers import Response as BaseResponse

from . import app_class, matching
from . import globals as _globals
from . import typing as ft
from .app_setup import AppSetup
from .concurrency import is_async_callable, mark_as_asgi3_entry, run_sync
from .ctx import AppContext, RequestContext, _sentinel, close_streams
from .debughelpers import FormDataRoutingRedirect
from .helpers import get_debug_flag, get_load_dotenv
from .hook_plans import HookRegistry, Plan, make_plan
from .pipeline import (
    ASYNC,
    MIXED,
    SYNC,
    DualStep,
    HookKinds,
    Steps,
    acall_in_reverse,
    acall_until_value,
    apass_through_reversed,
    call_in_reverse,
    call_until_value,
    direct,
    handled_steps,
    handling,
    pass_through_reversed,
    raised_by_step,
)
from .routing import Rule, quote_anchor
from .sessions import (
    SecureCookieSessionInterface,
    SessionInterface,
    opens_at_push,
    replace_with_error_response,
)
from .signals import (
    appcontext_tearing_down,
    got_request_exception,
    request_finished,
    request_started,
    request_tearing_down,
    signal_steps,
)
from .sync_twin import sync_twin
from .wrappers import Request, Response, split_blueprint_path
from .wsgi import PRESERVE_CONTEXT_KEY
from .wsgi import serve as serve_wsgi

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app
_cv_request = _globals._cv_request

# PERF: kolben.asgi is imported on the first ASGI call (a WSGI-only process never
# loads it), then its entry point is kept here rather than imported per request.
_asgi_serve: t.Callable[..., t.Coroutine[t.Any, t.Any, None]] | None = None


def _load_asgi_serve() -> t.Callable[..., t.Coroutine[t.Any, t.Any, None]]:
    global _asgi_serve
    from .asgi import serve

    _asgi_serve = serve
    return serve


#: No URL arguments (shared, never changed).
_NO_ARGS: dict[str, t.Any] = {}

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .testing import KolbenClient, KolbenCliRunner

R = t.TypeVar("R")


#: The pipeline's stages (generator methods of Kolben) whose synchronous twins
#: (``<stage>_direct``, see kolben.sync_twin) call each other directly.
_STAGES = frozenset(
    {
        "_full_dispatch_request",
        "_commit_task_resources",
        "_preprocess_request",
        "_dispatch_request",
        "_finalize_request",
        "_process_response",
        "_save_session",
        "_do_teardown_request",
        "_do_teardown_appcontext",
        "_each_in_reverse",
        "_handle_http_exception",
        "_handle_user_exception",
        "_handle_exception",
    }
)


class _Undecided:
    """A per-app decision (``Kolben._overridden``...) not made yet: truth-tested
    or searched, it makes the decision, puts it on the app in its own place and
    answers from it.

    PERF: so the app keeps a plain instance attribute, which CPython 3.11 reads
    with a specialized load; a ``cached_property`` on the class makes every read
    a generic lookup (about ten a request). Made on first use, as the
    ``cached_property`` was, so a class patched before then is seen.
    """

    __slots__ = ("_app", "_decide", "_name")

    def __init__(self, app: Kolben, name: str, decide: t.Callable[[t.Any], t.Any]) -> None:
        # Held weakly: an app with no other reference is freed at once.
        self._app = weakref.ref(app)
        self._name = name
        self._decide = decide

    def _value(self) -> t.Any:
        app = self._app()
        if app is None:
            raise RuntimeError("the application was garbage collected")
        value = self._decide(app)
        if app.__dict__.get(self._name) is self:
            app.__dict__[self._name] = value
        return value

    def __bool__(self) -> bool:
        return bool(self._value())

    def __contains__(self, item: object) -> bool:
        return item in self._value()

    def __repr__(self) -> str:
        return f"<undecided {self._name}>"


class Kolben(AppSetup):
    """The application: holds the configuration, routes and hooks, and serves.

    Create one in your main module or package::

        from kolben import Kolben
        app = Kolben(__name__)

    :param import_name: the name of the app's module or package, usually
        ``__name__``; it locates ``root_path`` and the instance folder.
    :param static_url_path: URL prefix of the static route (default
        ``/<static_folder name>``).
    :param static_folder: folder of static files relative to ``root_path``
        (``"static"``); None disables the static route.
    :param static_host: the host of the static route, required with
        ``host_matching=True`` when a static folder is set.
    :param host_matching: match rules on their ``host`` too.
    :param subdomain_matching: match the subdomain against ``SERVER_NAME``.
    :param template_folder: folder of templates relative to ``root_path``.
    :param instance_path: absolute path of the instance folder (found
        automatically by default).
    :param instance_relative_config: load relative config file names from the
        instance folder instead of ``root_path``.
    :param root_path: the folder resources are relative to (found from
        ``import_name`` by default).

    ``Flask`` is an alias of this class.
    """

    # -- matching (kolben.matching; kept here as methods the context calls) -----------

    _matching_adapter = matching.matching_adapter
    _check_trusted_host = matching.check_trusted_host
    _match_request = matching.match_request
    _request_url_adapter = matching.request_url_adapter

    # -- contexts and testing ------------------------------------------------------

    def app_context(self) -> AppContext:
        """Return a new application context: ``with app.app_context(): ...``."""
        return AppContext(self)

    def request_context(self, environ: WSGIEnvironment) -> RequestContext:
        """Return a new request context for a WSGI environ."""
        return RequestContext(self, environ)

    def test_request_context(self, *args: t.Any, **kwargs: t.Any) -> RequestContext:
        """Return a request context for a made-up request, for tests and shells.

        Takes the arguments of werkzeug's
        :class:`~werkzeug.test.EnvironBuilder` (``path``, ``method``, ``data``,
        ``json``, ``headers``, ``base_url``, ``subdomain``, ``url_scheme``...),
        with defaults taken from ``SERVER_NAME``, ``APPLICATION_ROOT`` and
        ``PREFERRED_URL_SCHEME``.
        """
        from .testing import EnvironBuilder

        builder = EnvironBuilder(self, *args, **kwargs)
        try:
            return self.request_context(builder.get_environ())
        finally:
            builder.close()

    def test_client(self, use_cookies: bool = True, **kwargs: t.Any) -> KolbenClient:
        """Return a test client for this app (see :class:`kolben.testing.KolbenClient`).

        Set ``app.testing = True`` so errors propagate to the test.
        """
        from .testing import KolbenClient

        cls = self.test_client_class or KolbenClient
        return cls(self, self.response_class, use_cookies=use_cookies, **kwargs)

    def asgi_test_client(self, use_cookies: bool = True, **kwargs: t.Any) -> KolbenClient:
        """A test client like :meth:`test_client` whose requests go through the ASGI
        door (:meth:`asgi_app`), as an ASGI server would send them."""
        from .asgi_testing import KolbenASGIClient

        cls: type[KolbenClient] = KolbenASGIClient
        extra = self.test_client_class
        if extra is not None and not issubclass(extra, KolbenASGIClient):
            # An extension's client (Flask-Login's FlaskLoginClient) over the ASGI door.
            cls = type(f"ASGI{extra.__name__}", (KolbenASGIClient, extra), {})
        return cls(self, self.response_class, use_cookies=use_cookies, **kwargs)

    def test_cli_runner(self, **kwargs: t.Any) -> KolbenCliRunner:
        """Return a CLI runner for this app's commands (see
        :class:`kolben.testing.KolbenCliRunner`)."""
        from .testing import KolbenCliRunner

        cls = self.test_cli_runner_class or KolbenCliRunner
        return cls(self, **kwargs)

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Return a URL adapter for ``request``, or for building URLs without one.

        Without a request this needs ``SERVER_NAME`` (and uses
        ``APPLICATION_ROOT`` and ``PREFERRED_URL_SCHEME``); otherwise returns None.
        ``SERVER_NAME`` does not restrict which hosts are served unless subdomain
        or host matching is on.
        """
        if request is not None:
            self._check_trusted_host(request)
            subdomain = None
            server_name = self.config["SERVER_NAME"]
            if self.url_map.host_matching:
                server_name = None
            elif not self.subdomain_matching:
                subdomain = self.url_map.default_subdomain or ""
            return self.url_map.bind_to_environ(
                request.environ, server_name=server_name, subdomain=subdomain
            )
        if self.config["SERVER_NAME"] is not None:
            return self.url_map.bind(
                self.config["SERVER_NAME"],
                script_name=self.config["APPLICATION_ROOT"],
                url_scheme=self.config["PREFERRED_URL_SCHEME"],
            )
        return None

    def _decide_cache_adapters(self) -> bool:
        # An app whose create_url_adapter was replaced (on its class, or on the
        # app itself, as Flask calls the instance's) binds per request.
        return (
            "create_url_adapter" not in self.__dict__
            and type(self).create_url_adapter is _OWN_METHODS["create_url_adapter"]
        )

    def url_for(
        self,
        /,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: t.Any,
    ) -> str:
        """Build the URL of ``endpoint``; :func:`kolben.url_for` calls this.

        In a request, URLs are relative unless ``_external=True`` (or ``_scheme``
        is given); outside a request they are absolute and need ``SERVER_NAME``.
        A leading dot (``".index"``) names an endpoint of the current blueprint.
        Values that are not rule arguments become the query string. On failure
        the ``url_build_error_handlers`` are tried, then a
        :exc:`~werkzeug.routing.BuildError` is raised.
        """
        req_ctx = _cv_request.get(None)
        if req_ctx is not None:
            url_adapter = req_ctx.url_adapter
            if endpoint[:1] == ".":
                blueprint_name = req_ctx.request.blueprint
                endpoint = endpoint[1:] if blueprint_name is None else blueprint_name + endpoint
            if _external is None:
                _external = _scheme is not None
        else:
            app_ctx = _cv_app.get(None)
            url_adapter = (
                app_ctx.url_adapter
                if app_ctx is not None and app_ctx.app is self
                else self.create_url_adapter(None)
            )
            if url_adapter is None:
                raise RuntimeError(
                    "Unable to build URLs outside an active request without"
                    " 'SERVER_NAME' configured. Also configure 'APPLICATION_ROOT' and"
                    " 'PREFERRED_URL_SCHEME' as needed."
                )
            if _external is None:
                _external = True
        if _scheme is not None and not _external:
            raise ValueError("When specifying '_scheme', '_external' must be True.")
        if url_adapter is None:
            raise RuntimeError(
                "Unable to build URLs for this request: its host could not be"
                " matched (check TRUSTED_HOSTS and SERVER_NAME)."
            )

        self.inject_url_defaults(endpoint, values)
        if (
            "filename" in values
            and self.config["STATIC_CACHE_BUST"]
            and endpoint.rpartition(".")[2] == "static"
        ):
            from .static import add_static_version

            add_static_version(self, endpoint, values)
        try:
            rv = url_adapter.build(
                endpoint,
                values,
                method=_method,
                url_scheme=_scheme,
                force_external=_external,
            )
        except BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            rv = f"{rv}#{quote_anchor(_anchor)}"
        return rv

    def inject_url_defaults(self, endpoint: str, values: dict[str, t.Any]) -> None:
        """Call the ``url_defaults`` functions for ``endpoint`` on ``values``.

        An ``async def`` one (kolben's addition: Flask never awaits it) is run to
        completion with :meth:`ensure_sync`, as an ``async def`` context processor
        is: ``url_for`` is synchronous, so it can't be called on the event loop.
        """
        if not self.url_default_functions:
            return
        names: list[str | None] = [None]
        if "." in endpoint:
            names.extend(reversed(split_blueprint_path(endpoint.rpartition(".")[0])))
        for name in names:
            for func in self.url_default_functions.get(name, ()):
                if is_async_callable(func):
                    func = self.ensure_sync(func)
                func(endpoint, values)

    def handle_url_build_error(
        self, error: BuildError, endpoint: str, values: dict[str, t.Any]
    ) -> str:
        """Try the ``url_build_error_handlers``; re-raise ``error`` if none gives a URL."""
        for handler in self.url_build_error_handlers:
            try:
                rv = handler(error, endpoint, values)
            except BuildError as e:
                error = e  # a handler may raise a more helpful error
            else:
                if rv is not None:
                    return rv
        if error is sys.exc_info()[1]:
            raise
        raise error

    def redirect(self, location: str, code: int = 302) -> BaseResponse:
        """Return a redirect response; :func:`kolben.redirect` calls this."""
        return _werkzeug_redirect(location, code=code, Response=self.response_class)

    # -- the pipeline ----------------------------------------------------------------

    def __call__(self, *args: t.Any, **named: t.Any) -> t.Any:
        """The entry point for both kinds of server.

        ``app(environ, start_response)`` is WSGI and calls :meth:`wsgi_app`;
        ``await app(scope, receive, send)`` is ASGI 3 and calls :meth:`asgi_app`
        (``app(scope)`` returns an ASGI 2 instance). Either may be wrapped by
        middleware, so ``gunicorn module:app`` and ``uvicorn module:app`` both
        serve the same object. The arguments may also be passed by name, as
        daphne passes them (``app(scope=..., receive=..., send=...)``).
        """
        # PERF: arguments passed one by one (a call with *args makes a bound method).
        if not named:
            if len(args) == 2:
                return self.wsgi_app(args[0], args[1])
            if len(args) == 3:
                return self.asgi_app(args[0], args[1], args[2])
            if len(args) == 1 and isinstance(args[0], dict) and "type" in args[0]:
                return partial(self.asgi_app, args[0])
        else:
            for names, call in (
                (("scope", "receive", "send"), self.asgi_app),
                (("environ", "start_response"), self.wsgi_app),
                (("scope",), partial(partial, self.asgi_app)),
            ):
                if len(args) + len(named) == len(names) and set(named) == set(
                    names[len(args) :]
                ):
                    return call(*args, *(named[name] for name in names[len(args) :]))
        raise TypeError(
            "Call the app as WSGI, app(environ, start_response), or as ASGI,"
            f" await app(scope, receive, send); got {len(args) + len(named)} arguments."
        )

    # PERF: servers that tell ASGI 3 by a coroutine function (uvicorn's automatic
    # interface, asgiref, hypercorn on 3.12+) call the app as ASGI 3 directly, not
    # through an ASGI 2 wrapper (a coroutine and a partial more per request);
    # WSGI servers call it as they always do.
    __call__ = mark_as_asgi3_entry(__call__)

    def asgi_app(
        self, scope: ft.ASGIScope, receive: ft.ASGIReceive, send: ft.ASGISend
    ) -> t.Coroutine[t.Any, t.Any, None]:
        """The ASGI application (see :mod:`kolben.asgi`): ``await
        app.asgi_app(scope, receive, send)``.

        Wrap it to add ASGI middleware and keep ``app`` itself::

            app.asgi_app = SomeASGIMiddleware(app.asgi_app)

        PERF: a plain function returning the door's awaitable (no coroutine of
        its own per request).
        """
        serve = _asgi_serve or _load_asgi_serve()
        return serve(self, scope, receive, send)

    def wsgi_app(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> cabc.Iterable[bytes]:
        """The WSGI application (see :mod:`kolben.wsgi`).

        Wrap it to add middleware and keep ``app`` itself::

            app.wsgi_app = ProxyFix(app.wsgi_app)
        """
        return serve_wsgi(self, environ, start_response)

    # The pipeline is written once, as steps (see kolben.pipeline): each stage is
    # a generator method (``_full_dispatch_request``...) that yields the user code
    # it calls, and the public method of the same name (Flask's) runs it with
    # ``run_steps``. A stage a subclass overrides is called instead, as one step.

    # Decisions made once per app, on first use (see _Undecided): plain instance
    # attributes, read on every request.
    #: The names of the Kolben methods this app's class overrides, or that were
    #: replaced on the app itself (as extensions do with ``handle_exception``):
    #: the pipeline calls those (as one step each) instead of its own steps.
    #: Decided again when such a method is assigned on the app.
    _overridden: frozenset[str]
    #: Whether user code must be run through this app's own ``ensure_sync``.
    _custom_ensure_sync: bool
    #: Whether the URL map has converters other than werkzeug's own: matching
    #: then calls user code, so the ASGI door runs it off the event loop.
    _custom_converters: bool
    #: Whether URL adapters may be cached (``create_url_adapter`` is kolben's).
    _cache_adapters: bool

    def _reset_decisions(self) -> None:
        """Have the per-app decisions above made on their first use (called
        first thing by the constructor)."""
        self._forget_overrides()
        instance = self.__dict__
        instance["_custom_converters"] = _Undecided(
            self, "_custom_converters", Kolben._decide_custom_converters
        )
        instance["_cache_adapters"] = _Undecided(
            self, "_cache_adapters", Kolben._decide_cache_adapters
        )

    def _decide_overridden(self) -> frozenset[str]:
        cls = type(self)
        instance = self.__dict__
        return frozenset(
            name
            for name, attr in _OWN_METHODS.items()
            if name in instance or getattr(cls, name, attr) is not attr
        )

    def _decide_custom_ensure_sync(self) -> bool:
        overridden = self._overridden
        return "ensure_sync" in overridden or "async_to_sync" in overridden

    def __setattr__(self, name: str, value: t.Any) -> None:
        if name in _OWN_METHODS:
            self._forget_overrides()
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name in _OWN_METHODS:
            self._forget_overrides()

    def _forget_overrides(self) -> None:
        """A pipeline method was replaced on the app: decide anew what to call,
        and make the hook plans again (an own ``ensure_sync`` changes them)."""
        instance = self.__dict__
        instance["_overridden"] = _Undecided(self, "_overridden", Kolben._decide_overridden)
        instance["_custom_ensure_sync"] = _Undecided(
            self, "_custom_ensure_sync", Kolben._decide_custom_ensure_sync
        )
        instance["_cache_adapters"] = _Undecided(
            self, "_cache_adapters", Kolben._decide_cache_adapters
        )
        for name in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs"):
            registry = instance.get(name)
            if type(registry) is HookRegistry:
                registry.forget_plans()

    def _decide_custom_converters(self) -> bool:
        return any(
            not cls.__module__.startswith("werkzeug.")
            for cls in self.url_map.converters.values()
        )

    def _handle_request(
        self,
        environ: WSGIEnvironment | None,
        respond: t.Callable[[Response], R],
        request: Request | None = None,
    ) -> Steps[R]:
        """One request, from pushing its context to popping it: the steps both
        doors drive. ``respond(response)`` (the door's) runs in the request
        context once the response is final; its result is returned.

        The request is made from ``environ``, or is ``request`` (the ASGI door's,
        made from the scope, its environ made when read: ``environ`` is None)."""
        overridden = self._overridden
        if overridden and "request_context" in overridden:
            make_context = direct(self, self.request_context)
            ctx = yield make_context, (environ if request is None else request.environ,)
        else:
            ctx = RequestContext(self, environ, request)  # type: ignore[arg-type]
        error: BaseException | None = None
        response = None
        try:
            try:
                if not ctx._push_now():  # PERF: no generator when no user code runs
                    yield from ctx._push()
                if overridden and "full_dispatch_request" in overridden:
                    response = yield direct(self, self.full_dispatch_request), ()
                else:
                    response = yield from self._full_dispatch_request()
            except Exception as e:
                # (a StopIteration user code raised, not PEP 479's RuntimeError)
                e = raised_by_step(e)
                error = e
                if overridden and "handle_exception" in overridden:
                    response = yield handling(self, direct(self, self.handle_exception), e), (e,)
                else:
                    response = yield from self._handle_exception(e)
            except BaseException:
                error = sys.exc_info()[1]
                raise
            try:
                return respond(response)
            except BaseException:
                # Not sent (the door could not convert it: a header value it
                # refuses): its stream_with_context bodies are closed below.
                response = None
                raise
        finally:
            if ctx._streams is not None and (unsent := ctx._unsent_streams(response)):
                # A step: closing a body pops the contexts it pushed, which runs
                # user code (teardown functions, signal receivers).
                yield direct(self, close_streams), (unsent,)
            # Pop the contexts (running the teardown functions), first handing
            # them to the test client when it asked to keep them.
            keep = (environ if environ is not None else ctx.request._known_environ).get(
                PRESERVE_CONTEXT_KEY
            )
            if keep is not None:
                keep(_cv_app.get())
                keep(_cv_request.get())
            if error is not None and self.should_ignore_error(error):
                error = None
            if self.teardown_request_funcs and (plan := ctx._teardown_only_plan()) is not None:
                # PERF: the teardown functions' steps without the pop's generator.
                try:
                    for func, funcs in plan:
                        yield (func, (funcs, error)) if funcs is not None else (func, (error,))
                finally:
                    if not ctx._pop_now(torn_down=True):
                        yield from ctx._pop(error, torn_down=True)
            elif not ctx._pop_now():  # PERF: no generator when no user code runs
                yield from ctx._pop(error)

    _handle_request_direct = sync_twin(twins=_STAGES)(_handle_request)

    def full_dispatch_request(self) -> Response:
        """Run a request through hooks, view and error handlers; return the response."""
        return self._full_dispatch_request_direct()

    def _full_dispatch_request(self) -> Steps[Response]:
        if not self._got_first_request:
            self._got_first_request = True
        # PERF: most apps override nothing; an empty set short-circuits each test.
        overridden = self._overridden
        ctx = _cv_request.get()
        try:
            if request_started.receivers:
                yield from signal_steps(request_started, self, {})
            rv: t.Any = None
            if overridden and "preprocess_request" in overridden:
                rv = yield direct(self, self.preprocess_request), ()
            elif self.url_value_preprocessors:
                rv = yield from self._preprocess_request()
            # PERF: no generator (nor blueprint chain) for a stage with nothing to
            # do; else _preprocess_request's hook steps without its generator.
            elif registry := self.before_request_funcs:
                # PERF: the plan every blueprint chain shares, read without a call.
                plan = getattr(registry, "any_chain_plan", None) or self._hook_plan(
                    registry, ctx, True, call_until_value, acall_until_value
                )
                for func, funcs in plan:
                    rv = yield (func, (funcs,)) if funcs is not None else (func, ())
                    if rv is not None:
                        break
            if rv is None:
                if overridden and "dispatch_request" in overridden:
                    rv = yield direct(self, self.dispatch_request), ()
                else:
                    view, rv = self._view_step()
                    if view is not None:
                        rv = yield view, rv
        except Exception as e:
            # (a StopIteration user code raised, not PEP 479's RuntimeError)
            e = raised_by_step(e)
            if overridden and "handle_user_exception" in overridden:
                rv = yield handling(self, direct(self, self.handle_user_exception), e), (e,)
            else:
                rv = yield from self._handle_user_exception(e)
        if overridden and "finalize_request" in overridden:
            response = yield direct(self, self.finalize_request), (rv,)
        elif not (
            overridden
            or request_finished.receivers
            or self.after_request_funcs
            or ctx._after_request_functions
        ):
            # PERF: no user code runs after the view (see _process_response): no
            # generator for finalizing unless a session store may do I/O.
            if ctx._opened_session is None and "HTTP_COOKIE" not in ctx.request._known_environ:
                response = self.make_response(rv)
            elif type(self.session_interface) is SecureCookieSessionInterface:
                response = self.make_response(rv)
                self._save_cookie_session(ctx, response)
            else:
                response = yield from self._finalize_request(rv)
        elif not (overridden or request_finished.receivers):
            # PERF: _finalize_request's steps without its generator: nothing is
            # overridden and no receiver waits for request_finished.
            response = self.make_response(rv)
            response = yield from self._process_response(response)
        else:
            response = yield from self._finalize_request(rv)
        # PERF: nothing to commit unless a task resource was used in this context.
        app_ctx = _cv_app.get()
        if app_ctx._task_state is not None:
            response = yield from self._commit_task_resources(app_ctx, response)
        return response  # type: ignore[no-any-return]

    _full_dispatch_request_direct = sync_twin(twins=_STAGES)(_full_dispatch_request)

    def _commit_task_resources(self, app_ctx: AppContext, response: Response) -> Steps[Response]:
        """Commit the task resources this request used, before its response is
        sent. A failing commit (rolled back by :func:`kolben.resources.commit_task`)
        is raised, as an error in an ``after_request`` function is in Flask: the
        request's response becomes ``handle_exception``'s (a 500), and the
        teardown functions get the error."""
        from .resources import commit_task_steps

        yield from commit_task_steps(app_ctx)
        return response

    _commit_task_resources_direct = sync_twin(twins=_STAGES)(_commit_task_resources)

    def preprocess_request(self) -> ft.ResponseReturnValue | None:
        """Run the ``url_value_preprocessors`` and ``before_request`` functions.

        Those of the app run first, then those of each blueprint, outermost first.
        The first ``before_request`` function returning a value other than None ends
        the request with that value as the response.
        """
        return self._preprocess_request_direct()

    def _preprocess_request(self) -> Steps[ft.ResponseReturnValue | None]:
        if not self.url_value_preprocessors and not self.before_request_funcs:
            return None
        ctx = _cv_request.get()
        if self.url_value_preprocessors:
            req = ctx.request
            # An unmatched request owned by a blueprint has no values for the
            # blueprint's URL value preprocessors (the app's get None, as in Flask).
            names = (None, *reversed(ctx.blueprint_chain)) if req.url_rule is not None else (None,)
            for name in names:
                for url_func in self.url_value_preprocessors.get(name, ()):
                    yield direct(self, url_func), (req.endpoint, req.view_args)
        plan = self._hook_plan(
            self.before_request_funcs, ctx, True, call_until_value, acall_until_value
        )
        for func, funcs in plan:
            rv = yield (func, (funcs,)) if funcs is not None else (func, ())
            if rv is not None:
                return rv  # type: ignore[no-any-return]
        return None

    _preprocess_request_direct = sync_twin(twins=_STAGES)(_preprocess_request)

    def _hook_plan(
        self,
        registry: dict[t.Any, list[t.Any]],
        ctx: RequestContext,
        before: bool,
        sync_runner: t.Callable[..., t.Any],
        async_runner: t.Callable[..., t.Any],
    ) -> Plan:
        """The steps of a hook stage for ``ctx``'s blueprint chain (see
        :mod:`kolben.hook_plans`): the app's hooks then each blueprint's,
        outermost first (``before``), or the innermost blueprint's first and the
        app's last, each list last registered first (after and teardown)."""
        # PERF: the usual case, no blueprint hooks (no blueprint chain needed),
        # or a registry with this chain's plan made.
        try:
            plan: Plan | None = registry.any_chain_plan  # type: ignore[attr-defined]
        except AttributeError:  # a plain dict
            plan = None
        if plan is not None:
            return plan
        chain = ctx._blueprint_chain
        if chain is None:
            chain = ctx.blueprint_chain
        key = tuple(chain) if chain else None
        try:
            return registry.plans[key]  # type: ignore[attr-defined, no-any-return]
        except (AttributeError, KeyError):  # a plain dict, or no plan yet
            pass
        plan, keep = make_plan(
            registry,
            (None, *reversed(chain)) if before else (*chain, None),
            self._custom_ensure_sync,
            not before,
            sync_runner,
            async_runner,
        )
        if keep and isinstance(registry, HookRegistry):
            registry.plans[key] = plan
            if registry.chain_free():
                registry.any_chain_plan = plan
        return plan

    def dispatch_request(self) -> ft.ResponseReturnValue:
        """Call the view that matched the request and return its return value.

        Raises the routing error (404, 405, redirect) if matching failed; answers
        OPTIONS itself when the rule provides automatic options.
        """
        return self._dispatch_request_direct()

    def _dispatch_request(self) -> Steps[ft.ResponseReturnValue]:
        view, args = self._view_step()
        if view is None:
            return args  # type: ignore[no-any-return]
        return (yield view, args)  # type: ignore[no-any-return]

    _dispatch_request_direct = sync_twin(twins=_STAGES)(_dispatch_request)

    def _view_step(self) -> tuple[t.Callable[..., t.Any] | None, t.Any]:
        """The step that calls the view of the current request: the view and its
        URL arguments. Raises the routing error; for an automatic OPTIONS answer
        it is ``(None, response)``."""
        req = _cv_request.get().request
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule: Rule = req.url_rule  # type: ignore[assignment]
        if rule.websocket:  # an upgrade request here: the WSGI door can't serve it
            from .websocket import NeedsASGI

            raise NeedsASGI()
        if req.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return None, self.make_default_options_response()
        view = self.view_functions[rule.endpoint]
        # A View class's view function names the method that handles the request,
        # so an ``async def`` one is awaited where async code runs.
        handler = getattr(view, "view_handler", None)
        if (
            handler is not None
            and getattr(handler, "view", None) is view
            # An app's own ensure_sync sees the view function, as in Flask.
            and not self._custom_ensure_sync
        ):
            view = handler()
        return view, req.view_args or _NO_ARGS

    def raise_routing_exception(self, request: Request) -> t.NoReturn:
        """Raise the routing error recorded on ``request``.

        In debug mode, a redirect that would make the browser drop a form body
        (anything but 307/308 for a method other than GET, HEAD, OPTIONS) raises a
        :class:`~kolben.debughelpers.FormDataRoutingRedirect` that explains it.
        """
        exc = t.cast(HTTPException, request.routing_exception)
        if isinstance(exc, WebsocketMismatch):
            exc.description = (
                "This URL is not a WebSocket endpoint; request it over plain HTTP."
                if "HTTP_UPGRADE" in request.environ
                else "This URL is a WebSocket endpoint: connect to it with a WebSocket"
                " client (ws:// or wss://), not a plain HTTP request."
            )
        if (
            not self.debug
            or not isinstance(exc, RequestRedirect)
            or exc.code in {307, 308}
            or request.method in {"GET", "HEAD", "OPTIONS"}
        ):
            raise exc
        raise FormDataRoutingRedirect(request)

    def make_default_options_response(self) -> Response:
        """The response to an automatic OPTIONS request: an ``Allow`` header."""
        ctx = _cv_request.get()
        adapter = ctx.url_adapter
        rv = self.response_class()
        if adapter is not None:
            rv.allow.update(adapter.allowed_methods())
        return rv

    def finalize_request(
        self, rv: ft.ResponseReturnValue | HTTPException, from_error_handler: bool = False
    ) -> Response:
        """Turn ``rv`` into a response and run :meth:`process_response` on it.

        When called for an error response (``from_error_handler``), a failure here
        is logged and the unprocessed response is sent.
        """
        return self._finalize_request_direct(rv, from_error_handler)

    def _finalize_request(
        self, rv: ft.ResponseReturnValue | HTTPException, from_error_handler: bool = False
    ) -> Steps[Response]:
        overridden = self._overridden
        if "make_response" in overridden:
            response = yield direct(self, self.make_response), (rv,)
        else:
            response = self.make_response(rv)
        try:
            if "process_response" in overridden:
                response = yield direct(self, self.process_response), (response,)
            elif self._process_response_has_work(_cv_request.get()):
                response = yield from self._process_response(response)
            if request_finished.receivers:
                yield from signal_steps(request_finished, self, {"response": response})
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception(
                "Request finalizing failed with an error while handling an error"
            )
        return response  # type: ignore[no-any-return]

    _finalize_request_direct = sync_twin(twins=_STAGES)(_finalize_request)

    def make_response(self, rv: ft.ResponseReturnValue | HTTPException) -> Response:
        """Convert a view's return value into a :attr:`response_class` object.

        Accepted: ``str``, ``bytes`` and ``bytearray`` (the body), ``dict`` and
        ``list`` (JSON through ``app.json``), an iterator or generator (streamed),
        a response object, any WSGI callable, an HTTP exception, and a tuple
        ``(body, status)``, ``(body, headers)`` or ``(body, status, headers)``
        of those. Override it in a subclass to accept more types.
        """
        if type(rv) is str:
            # PERF: the most common return value, straight to the fast constructor.
            from_body = getattr(self.response_class, "from_body", None)
            if from_body is not None:
                return from_body(rv)  # type: ignore[no-any-return]
        status: t.Any = None
        headers: t.Any = None
        if isinstance(rv, tuple):
            parts: tuple[t.Any, ...] = rv
            len_rv = len(parts)
            if len_rv == 3:
                rv, status, headers = parts
            elif len_rv == 2:
                if isinstance(parts[1], (Headers, dict, tuple, list)):
                    rv, headers = parts
                else:
                    rv, status = parts
            else:
                raise TypeError(
                    "The view function did not return a valid response tuple. The"
                    " tuple must have the form (body, status, headers),"
                    " (body, status), or (body, headers)."
                )
        if rv is None:
            req_ctx = _cv_request.get(None)
            name = req_ctx.request.endpoint if req_ctx is not None else None
            raise TypeError(
                f"The view function for {name!r} did not return a valid response. The"
                " function either returned None or ended without a return statement."
            )

        response_class = self.response_class
        if not isinstance(rv, response_class):
            # PERF: from_body skips the general constructor for a plain body.
            from_body = getattr(response_class, "from_body", None)
            is_body = isinstance(rv, (str, bytes, bytearray))
            if is_body and headers is None and from_body is not None:
                rv = from_body(rv)  # status is applied below
            elif type(rv) is dict or type(rv) is list:
                # PERF: JSON bodies skip the iterator ABC checks below.
                rv = self.json.response(rv)
            elif isinstance(rv, (str, bytes, bytearray, cabc.Iterator)) or (
                # An async iterator (kolben's addition), unless it is also a
                # WSGI callable, which Flask runs as one.
                isinstance(rv, cabc.AsyncIterator) and not callable(rv)
            ):
                rv = response_class(rv, status=status, headers=headers)  # type: ignore[arg-type]
                status = headers = None
            elif isinstance(rv, (dict, list)):
                rv = self.json.response(rv)
            elif isinstance(rv, HTTPException):
                # PERF: ask the exception for its response instead of running it as
                # a WSGI app and re-parsing the output as Flask does.
                req_ctx = _cv_request.get(None)
                environ = req_ctx.request.environ if req_ctx is not None else None
                if hasattr(response_class, "from_http_exception"):
                    rv = response_class.from_http_exception(rv, environ)
                elif environ is not None:
                    rv = response_class.force_type(rv, environ)  # type: ignore[arg-type]
                else:
                    rv = response_class.force_type(rv.get_response(environ))
                if req_ctx is not None and req_ctx.request.method == "HEAD":
                    # As in Flask, which runs the exception as a WSGI app: a HEAD
                    # request's response has no body (its Content-Length stays).
                    rv.response = []
            elif getattr(type(rv), "keeps_its_class", False):
                # A response that works only as its own class (an EventStream):
                # not turned into the app's response_class as others are.
                pass
            elif isinstance(rv, BaseResponse) or callable(rv):
                req_ctx = _cv_request.get(None)
                try:
                    rv = response_class.force_type(
                        rv,  # type: ignore[arg-type]
                        req_ctx.request.environ if req_ctx is not None else None,
                    )
                except TypeError as e:
                    raise TypeError(
                        f"{e}\nThe view function did not return a valid response. The"
                        " return type must be a string, dict, list, tuple with headers"
                        " or status, Response instance, or WSGI callable, but it was a"
                        f" {type(rv).__name__}."
                    ).with_traceback(sys.exc_info()[2]) from None
            else:
                raise TypeError(
                    "The view function did not return a valid response. The return"
                    " type must be a string, dict, list, tuple with headers or status,"
                    " Response instance, or WSGI callable, but it was a"
                    f" {type(rv).__name__}."
                )

        rv = t.cast(Response, rv)
        if status is not None:
            if isinstance(status, (str, bytes, bytearray)):
                rv.status = status  # type: ignore[assignment]
            else:
                rv.status_code = status
        if headers:
            rv.headers.update(headers)
        return rv

    def process_response(self, response: Response) -> Response:
        """Run the ``after_this_request`` and ``after_request`` functions on the
        response (blueprints' first, innermost first; within one, last registered
        first), save the session, and return the response they produce."""
        return self._process_response_direct(response)

    def _process_response_has_work(self, ctx: RequestContext) -> bool:
        """Whether :meth:`_process_response` has anything to do for ``ctx``.
        PERF: when not, finalizing drives no generator for it."""
        return bool(
            ctx._after_request_functions
            or self.after_request_funcs
            or ctx._opened_session is not None
            or "HTTP_COOKIE" in ctx.request._known_environ
        )

    def _process_response(self, response: Response) -> Steps[Response]:
        ctx = _cv_request.get()
        for func in ctx._after_request_functions:
            response = yield func, (response,)
        if registry := self.after_request_funcs:
            # PERF: the plan every blueprint chain shares, read without a call.
            plan = getattr(registry, "any_chain_plan", None) or self._hook_plan(
                registry, ctx, False, pass_through_reversed, apass_through_reversed
            )
            for func, funcs in plan:
                response = yield (func, (funcs, response)) if funcs is not None else (
                    func,
                    (response,),
                )
        # PERF: a request that neither opened the session nor sent a cookie has
        # no session to save.
        if ctx._opened_session is not None or "HTTP_COOKIE" in ctx.request._known_environ:
            if type(self.session_interface) is SecureCookieSessionInterface:
                # PERF: the built-in cookie sessions do no I/O: saved without a
                # generator (the same steps as _save_session's inline case).
                self._save_cookie_session(ctx, response)
            else:
                yield from self._save_session(ctx, response)
        return response

    _process_response_direct = sync_twin(twins=_STAGES)(_process_response)

    def _save_cookie_session(self, ctx: RequestContext, response: Response) -> None:
        """:meth:`_save_session` for the built-in cookie interface, which does no
        I/O and runs no user code."""
        sess = ctx._opened_session
        interface = self.session_interface
        if sess is None:
            if not interface.has_session_cookie_to_refresh(self, ctx.request):
                return
            sess = ctx._open_session()
        if not interface.is_null_session(sess):
            interface.save_session(self, sess, response)

    def _save_session(self, ctx: RequestContext, response: Response) -> Steps[None]:
        """Save the session if the request opened it, through an interface other
        than the built-in cookie one (:meth:`_save_cookie_session`): its methods
        are steps (user code, or a store's I/O).

        PERF: an unopened session is only opened here when the request carries the
        session cookie and ``SESSION_REFRESH_EACH_REQUEST`` is on, so a permanent
        session's expiry is refreshed as in Flask; other requests skip sessions.
        """
        sess = ctx._opened_session
        interface = self.session_interface
        # A store with async I/O (Redis) is used through its async methods under
        # ASGI, on the loop (kolben.pipeline.DualStep); its sync ones elsewhere.
        has_async_io = getattr(interface, "has_async_io", False)
        if sess is None:
            if opens_at_push(interface):
                # The push failed to open it (the error is being handled): not
                # opened again to save it (Flask doesn't either).
                return
            check = getattr(interface, "has_session_cookie_to_refresh", None)
            if check is None:  # an interface not derived from SessionInterface
                check = partial(SessionInterface.has_session_cookie_to_refresh, interface)
            if not check(self, ctx.request):
                return
            if has_async_io:
                sess = yield DualStep(ctx._open_session, ctx._aopen_session), ()
            else:
                sess = yield direct(self, ctx._open_session), ()
        if interface.is_null_session(sess):
            return
        if has_async_io:
            try:
                yield DualStep(interface.save_session, interface.save_session_async), (
                    self,
                    sess,
                    response,
                )
            except HTTPException as e:
                # The async path leaves the store's 503 to the error handler,
                # which is user code: a step of its own.
                yield from replace_with_error_response(self, response, e)
        else:
            yield direct(self, interface.save_session), (self, sess, response)

    _save_session_direct = sync_twin(twins=_STAGES)(_save_session)

    def do_teardown_request(
        self,
        exc: BaseException | None = _sentinel,  # type: ignore[assignment]
    ) -> None:
        """Run the ``teardown_request`` functions (called when the request context
        is popped); ``exc`` is the unhandled exception or None (when not given,
        the exception being handled, as in Flask). Outside a request context
        it raises Flask's ``RuntimeError``."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        if _cv_request.get(None) is None:
            raise RuntimeError(_globals._no_req_msg)
        self._do_teardown_request_direct(exc)

    def _do_teardown_request(self, exc: BaseException | None = None) -> Steps[None]:
        if self.teardown_request_funcs:
            plan = self._hook_plan(
                self.teardown_request_funcs,
                _cv_request.get(),
                False,
                call_in_reverse,
                acall_in_reverse,
            )
            for func, funcs in plan:
                yield (func, (funcs, exc)) if funcs is not None else (func, (exc,))
        if request_tearing_down.receivers:
            yield from signal_steps(request_tearing_down, self, {"exc": exc})

    _do_teardown_request_direct = sync_twin(twins=_STAGES)(_do_teardown_request)

    def do_teardown_appcontext(
        self,
        exc: BaseException | None = _sentinel,  # type: ignore[assignment]
    ) -> None:
        """Run the ``teardown_appcontext`` functions, last registered first;
        ``exc`` as for :meth:`do_teardown_request`."""
        if exc is _sentinel:
            exc = sys.exc_info()[1]
        self._do_teardown_appcontext_direct(exc)

    def _do_teardown_appcontext(self, exc: BaseException | None = None) -> Steps[None]:
        if self.teardown_appcontext_funcs:
            yield from self._each_in_reverse(self.teardown_appcontext_funcs, exc)
        if appcontext_tearing_down.receivers:
            yield from signal_steps(appcontext_tearing_down, self, {"exc": exc})

    _do_teardown_appcontext_direct = sync_twin(twins=_STAGES)(_do_teardown_appcontext)

    def _each_in_reverse(
        self, funcs: list[t.Callable[[t.Any], t.Any]], value: t.Any
    ) -> Steps[None]:
        """Call teardown functions with ``value``, last registered first: one
        step for a list of one kind (see kolben.pipeline.HookKinds)."""
        kind = self._hook_kind(funcs)
        if kind == SYNC:
            yield call_in_reverse, (funcs, value)
        elif kind == ASYNC:
            yield acall_in_reverse, (funcs, value)
        else:
            for func in reversed(funcs):
                yield func, (value,)

    _each_in_reverse_direct = sync_twin(twins=_STAGES)(_each_in_reverse)

    @cached_property
    def _hook_kinds(self) -> HookKinds:
        return HookKinds()

    def _hook_kind(self, funcs: list[t.Callable[..., t.Any]]) -> int:
        """How a hook list is run: one step (SYNC, ASYNC) or a step per function
        (MIXED: mixed kinds, a single function, or an app whose own
        ensure_sync must see each function)."""
        if len(funcs) == 1 or self._custom_ensure_sync:
            return MIXED
        return self._hook_kinds.of(funcs)

    def should_ignore_error(self, error: BaseException | None) -> bool:
        """Return True to hide ``error`` from the teardown functions."""
        return False

    # -- errors -------------------------------------------------------------------------

    def _find_error_handler(
        self, e: BaseException, blueprints: list[str]
    ) -> ft.ErrorHandlerCallable | None:
        """The handler for ``e``: by code then class, blueprints before the app, the
        most specific class (by MRO) first."""
        exc_class, code = self._get_exc_class_and_code(type(e))
        names = (*blueprints, None)
        for c in (code, None) if code is not None else (None,):
            for name in names:
                by_code = self.error_handler_spec.get(name)
                handler_map = by_code.get(c) if by_code is not None else None
                if not handler_map:
                    continue
                for cls in exc_class.__mro__:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        return handler
        return None

    def _blueprints_of_current_request(self) -> list[str]:
        ctx = _cv_request.get(None)
        return ctx.request.blueprints if ctx is not None else []

    def handle_http_exception(self, e: HTTPException) -> HTTPException | ft.ResponseReturnValue:
        """Handle an HTTP exception with its registered handler, or return it as the
        response. Routing redirects and code-less exceptions are returned as is."""
        return self._handle_http_exception_direct(e)

    def _handle_http_exception(
        self, e: HTTPException, during: BaseException | None = None
    ) -> Steps[HTTPException | ft.ResponseReturnValue]:
        # ``during``: the error being handled while the handler runs, when it is
        # not ``e`` (a websocket's 500 handler runs while the view's error is).
        if e.code is None or isinstance(e, RoutingException):
            return e
        handler = self._find_error_handler(e, self._blueprints_of_current_request())
        if handler is None:
            return e
        in_hand = e if during is None else during
        return t.cast(ft.ResponseReturnValue, (yield handling(self, handler, in_hand), (e,)))

    _handle_http_exception_direct = sync_twin(twins=_STAGES)(_handle_http_exception)

    def trap_http_exception(self, e: Exception) -> bool:
        """Whether an HTTP exception should be raised instead of handled.

        True with ``TRAP_HTTP_EXCEPTIONS``; for bad requests with
        ``TRAP_BAD_REQUEST_ERRORS`` (by default only a missing-key error in
        debug mode, so you see which form key was missing).
        """
        if self.config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = self.config["TRAP_BAD_REQUEST_ERRORS"]
        if trap_bad_request is None and self.debug and isinstance(e, BadRequestKeyError):
            return True
        if trap_bad_request:
            return isinstance(e, BadRequest)
        return False

    def handle_user_exception(self, e: Exception) -> HTTPException | ft.ResponseReturnValue:
        """Handle an exception raised by a view or hook with its error handler.

        HTTP exceptions go to :meth:`handle_http_exception`; an exception with no
        handler is re-raised for :meth:`handle_exception`.
        """
        return self._handle_user_exception_direct(e)

    def _handle_user_exception(
        self, e: Exception
    ) -> Steps[HTTPException | ft.ResponseReturnValue]:
        if isinstance(e, BadRequestKeyError) and (
            self.debug or self.config["TRAP_BAD_REQUEST_ERRORS"]
        ):
            e.show_exception = True
        if isinstance(e, HTTPException) and not self.trap_http_exception(e):
            if "handle_http_exception" in self._overridden:
                handle = handling(self, direct(self, self.handle_http_exception), e)
                return t.cast(HTTPException, (yield handle, (e,)))
            return (yield from self._handle_http_exception(e))
        handler = self._find_error_handler(e, self._blueprints_of_current_request())
        if handler is None:
            raise e
        return t.cast(ft.ResponseReturnValue, (yield handling(self, handler, e), (e,)))

    _handle_user_exception_direct = sync_twin(twins=_STAGES)(_handle_user_exception)

    def handle_exception(self, e: Exception) -> Response:
        """Handle an exception no error handler took: a 500 response.

        Sends ``got_request_exception``. With ``PROPAGATE_EXCEPTIONS`` (on by
        default in testing and debug mode) the exception is re-raised. Otherwise it
        is logged with its traceback and the ``InternalServerError`` handler (if
        any) builds the response; ``e.original_exception`` is the error. The body
        never carries the traceback.
        """
        return self._handle_exception_direct(e)

    def _handle_exception(self, e: Exception) -> Steps[Response]:
        if got_request_exception.receivers:
            yield from signal_steps(got_request_exception, self, {"exception": e}, self, e)
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        if propagate is None:
            propagate = self.testing or self.debug
        if propagate:
            raise e
        exc_info = (type(e), e, t.cast(TracebackType, e.__traceback__))
        if "log_exception" in self._overridden:
            # An app's own log_exception is user code: a step (under ASGI, in a
            # worker thread, never on the event loop), run while e is handled.
            yield handling(self, direct(self, self.log_exception), e), (exc_info,)
        else:
            self.log_exception(exc_info)
        server_error: InternalServerError | ft.ResponseReturnValue
        server_error = InternalServerError(original_exception=e)
        handler = self._find_error_handler(server_error, self._blueprints_of_current_request())
        if handler is not None:
            server_error = yield handling(self, handler, e), (server_error,)
        # Run while the error is being handled, as Flask runs them in its except
        # block: an error they raise has it as its __context__.
        if "finalize_request" in self._overridden:
            # As Flask calls it: from_error_handler by keyword (an override may
            # take it as a keyword-only argument, or in **kwargs).
            finalize = handling(
                self, direct(self, partial(self.finalize_request, from_error_handler=True)), e
            )
            return t.cast(Response, (yield finalize, (server_error,)))
        finalizing = self._finalize_request(server_error, from_error_handler=True)
        return (yield from handled_steps(self, finalizing, e))

    _handle_exception_direct = sync_twin(twins=_STAGES)(_handle_exception)

    def log_exception(
        self,
        exc_info: tuple[type, BaseException, TracebackType] | tuple[None, None, None],
    ) -> None:
        """Log an unhandled exception with its traceback (at ERROR level)."""
        ctx = _cv_request.get(None)
        where = f" on {ctx.request.path} [{ctx.request.method}]" if ctx is not None else ""
        self.logger.error(f"Exception{where}", exc_info=exc_info)

    # -- sync and async -----------------------------------------------------------------

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        """Return ``func`` as a plain callable: async functions are wrapped with
        :meth:`async_to_sync`, others returned unchanged."""
        if is_async_callable(func):
            return self.async_to_sync(func)
        return func

    def async_to_sync(
        self, func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]]
    ) -> t.Callable[..., t.Any]:
        """Wrap an ``async def`` function to run it to completion when called.

        Under WSGI it runs on an event loop owned by the worker thread and reused
        across requests.
        """

        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            return run_sync(func(*args, **kwargs))

        return update_wrapper(wrapper, func)

    # -- serving ----------------------------------------------------------------------

    def run(
        self,
        host: str | None = None,
        port: int | None = None,
        debug: bool | None = None,
        load_dotenv: bool = True,
        **options: t.Any,
    ) -> None:
        """Serve the app with werkzeug's development server (not for production).

        ``host`` and ``port`` default to those of ``SERVER_NAME``, else
        ``127.0.0.1`` and ``5000`` (``port=0`` picks a free port). ``debug``
        enables the reloader and debugger. With ``load_dotenv``, ``.env`` and
        ``.kolbenenv`` / ``.flaskenv`` files are loaded first (needs
        python-dotenv). Other options go to :func:`werkzeug.serving.run_simple`.
        In production use a WSGI server such as gunicorn: ``gunicorn module:app``.
        """
        from werkzeug.serving import is_running_from_reloader, run_simple

        from .cli import load_dotenv as _load_dotenv
        from .cli import show_server_banner

        if (
            os.environ.get("KOLBEN_RUN_FROM_CLI") == "true"
            or os.environ.get("FLASK_RUN_FROM_CLI") == "true"
        ):
            # `kolben run` imported a module that calls app.run() unguarded.
            if not is_running_from_reloader():
                click.secho(
                    " * Ignoring a call to 'app.run()' that would block the current"
                    " 'kolben' CLI command.\n   Only call 'app.run()' in an"
                    " 'if __name__ == \"__main__\"' guard.",
                    fg="red",
                )
            return

        if get_load_dotenv(load_dotenv):
            _load_dotenv()
            if "KOLBEN_DEBUG" in os.environ or "FLASK_DEBUG" in os.environ:
                self.debug = get_debug_flag()
        if debug is not None:
            self.debug = bool(debug)
        server_name = self.config.get("SERVER_NAME")
        sn_host = sn_port = None
        if server_name:
            sn_host, _, sn_port = server_name.partition(":")
        if not host:
            host = sn_host or "127.0.0.1"
        # As Flask: a false port (None, "") but 0 means SERVER_NAME's, else 5000.
        if port or port == 0:
            port = int(port)
        elif sn_port:
            port = int(sn_port)
        else:
            port = 5000
        options.setdefault("use_reloader", self.debug)
        options.setdefault("use_debugger", self.debug)
        options.setdefault("threaded", True)
        show_server_banner(self.debug, self.name)
        try:
            run_simple(host, port, self, **options)
        finally:
            # As Flask: the server may be started again (from an interactive
            # shell, without the reloader), so setup is open again.
            self._got_first_request = False


#: The methods ``Kolben`` defines (with those of :class:`AppSetup`), by name: the
#: ones an app's class or the app itself may override (see ``Kolben._overridden``).
_OWN_METHODS: dict[str, FunctionType] = {
    name: attr
    for klass in (AppSetup, Kolben)
    for name, attr in vars(klass).items()
    if isinstance(attr, FunctionType)
}
app_class.watch(_OWN_METHODS, _OWN_METHODS["__call__"])
