"""The application object's setup: what an app is made of before it serves.

:class:`AppSetup` is the base of :class:`kolben.Kolben`: construction, identity,
logging and configuration, and the registration of routes, blueprints, templates
and the built-in recipes (broker, tokens, task resources, worker threads). It runs
no request: the request pipeline (contexts, hooks, views, errors, sessions) is
:mod:`kolben.app`, and matching is :mod:`kolben.matching`. Flask splits its
``sansio.App`` from ``Flask`` the same way.
"""

from __future__ import annotations

import os
import sys
import typing as t
import weakref
from datetime import timedelta
from functools import cached_property

from werkzeug.datastructures import ImmutableDict
from werkzeug.exceptions import (
    Aborter,
)

from . import globals as _globals
from . import typing as ft
from .app_class import AppClass, register_app
from .config import Config, ConfigAttribute
from .ctx import _AppCtxGlobals
from .defaults import DEFAULT_CONFIG
from .helpers import find_instance_path, get_debug_flag
from .json.provider import DefaultJSONProvider, JSONProvider
from .logging import create_logger
from .routing import AdapterCache, Map, Rule
from .scaffold import Scaffold, _endpoint_from_view_func, setupmethod
from .server_sessions import SessionInterfaceSelector
from .sessions import (
    SecureCookieSessionInterface,
)
from .templating import Environment as _Environment
from .wrappers import Request, Response

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app
_cv_request = _globals._cv_request

if t.TYPE_CHECKING:
    import logging

    from .app import Kolben
    from .blueprints import Blueprint
    from .broker import Broker
    from .resources import TaskResource
    from .signing import Tokens
    from .templating import DispatchingJinjaLoader, Environment
    from .testing import KolbenClient, KolbenCliRunner
    from .threads import WorkerThreads

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
T_template_filter = t.TypeVar("T_template_filter", bound=t.Callable[..., t.Any])
T_template_test = t.TypeVar("T_template_test", bound=t.Callable[..., bool])
T_template_global = t.TypeVar("T_template_global", bound=t.Callable[..., t.Any])


def bare_or_named(
    add: t.Callable[..., None], name: F | str | None
) -> F | t.Callable[[F], F]:
    """The body of a registering decorator used bare (``@app.template_filter``:
    ``name`` is the function) or called (``@app.template_filter("name")``):
    ``add(f, name=name)`` registers the function either way."""
    if callable(name):
        add(name)
        return name

    def decorator(f: F) -> F:
        add(f, name=name)
        return f

    return decorator


def _make_timedelta(value: timedelta | int | None) -> timedelta | None:
    if value is None or isinstance(value, timedelta):
        return value
    return timedelta(seconds=value)


class AppSetup(Scaffold, metaclass=AppClass):
    """The setup half of :class:`kolben.Kolben` (see the module docstring):
    construct and configure the app and register what it serves. Use
    :class:`kolben.Kolben`; this class is not meant to be used on its own."""

    @property
    def _app(self) -> Kolben:
        """This object as the :class:`~kolben.Kolben` it is (for the type checker)."""
        return t.cast("Kolben", self)

    #: The class of request objects.
    request_class: type[Request] = Request
    #: The class of response objects.
    response_class: type[Response] = Response
    #: The class of ``app.aborter``, used by :func:`~kolben.abort`.
    aborter_class = Aborter
    #: The class of ``g``.
    app_ctx_globals_class = _AppCtxGlobals
    #: The class of ``app.config``.
    config_class = Config
    #: The class of ``app.json``.
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    #: The class of ``app.url_map``.
    url_map_class = Map
    #: The class of the rules :meth:`add_url_rule` creates.
    url_rule_class = Rule
    #: How sessions are stored: signed cookies by default, or on the server as
    #: ``SESSION_BACKEND`` says (``"redis"``, ``"memory"``; see
    #: :mod:`kolben.server_sessions`). Set a :class:`~kolben.sessions.SessionInterface`
    #: on the app (or a subclass) to store them elsewhere; that always wins.
    session_interface = SessionInterfaceSelector(SecureCookieSessionInterface())
    #: The test client class used by :meth:`test_client` (default: KolbenClient).
    test_client_class: type[KolbenClient] | None = None
    #: The CLI runner class used by :meth:`test_cli_runner`.
    test_cli_runner_class: type[KolbenCliRunner] | None = None

    #: ``config["TESTING"]``: exceptions propagate to the test client.
    testing = ConfigAttribute[bool]("TESTING")
    #: ``config["SECRET_KEY"]``: the key that signs sessions and tokens.
    secret_key = ConfigAttribute["str | bytes | None"]("SECRET_KEY")
    #: ``config["PERMANENT_SESSION_LIFETIME"]`` as a timedelta.
    permanent_session_lifetime = ConfigAttribute[timedelta](
        "PERMANENT_SESSION_LIFETIME", get_converter=_make_timedelta  # type: ignore[arg-type]
    )

    #: The configuration defaults: every key Flask 3.1 has, with the same value,
    #: and kolben's own (see :data:`kolben.defaults.DEFAULT_CONFIG`).
    #: Read-only, as Flask's (change ``app.config``, or this on a subclass).
    default_config: t.Mapping[str, t.Any] = ImmutableDict(DEFAULT_CONFIG)

    def _reset_decisions(self) -> None:
        """Have the request pipeline's per-app decisions made on first use
        (:class:`kolben.app.Kolben` has them); the constructor calls it first."""

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        root_path: str | None = None,
    ) -> None:
        self._reset_decisions()
        register_app(self)
        super().__init__(
            import_name=import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        # The app's command group is named after it, as in Flask.
        self.cli.name = self.name
        if instance_path is None:
            instance_path = self.auto_find_instance_path()
        elif not os.path.isabs(instance_path):
            raise ValueError(
                f"The instance path must be absolute, but {instance_path!r} is"
                " relative. Pass an absolute path, e.g. os.path.abspath(...)."
            )
        #: The folder for files the app writes at run time (databases, uploads,
        #: deployment config); not under version control.
        self.instance_path = instance_path
        #: The configuration, a :class:`~kolben.Config` dict.
        self.config = self.make_config(instance_relative_config)
        #: Raises HTTP exceptions for :func:`~kolben.abort`.
        self.aborter = self.make_aborter()
        #: The JSON provider: ``app.json.dumps``, ``loads``, ``response``.
        self.json: JSONProvider = self.json_provider_class(self._app)
        #: Functions called when ``url_for`` raises a BuildError:
        #: ``f(error, endpoint, values)`` returns a URL or None, or raises.
        self.url_build_error_handlers: list[
            t.Callable[[Exception, str, dict[str, t.Any]], str]
        ] = []
        #: Functions called when an application context is popped.
        self.teardown_appcontext_funcs: list[t.Callable[[BaseException | None], t.Any]] = []
        #: Functions run at ASGI lifespan startup and shutdown.
        self.before_serving_funcs: list[t.Callable[[], t.Any]] = []
        self.after_serving_funcs: list[t.Callable[[], t.Any]] = []
        #: Generator functions run across the server's life (see :meth:`while_serving`).
        self.while_serving_funcs: list[t.Callable[[], t.Any]] = []
        #: Functions returning dicts of names for ``kolben shell``.
        self.shell_context_processors: list[t.Callable[[], dict[str, t.Any]]] = []
        #: Registered blueprints by name.
        self.blueprints: dict[str, Blueprint] = {}
        #: ``(url prefix, subdomain, blueprint name)`` of the blueprints registered
        #: with ``owns_prefix=True``, longest prefix first.
        self.owned_prefixes: list[tuple[str, str | None, str]] = []
        #: Extensions keep their state here, keyed by a lowercase name.
        self.extensions: dict[str, t.Any] = {}
        #: Per-task resources by name (see :meth:`task_resource`).
        self.task_resources: dict[str, TaskResource] = {}
        #: The URL map (werkzeug :class:`~werkzeug.routing.Map`). Add converters
        #: with ``app.url_map.converters["name"] = MyConverter``.
        self.url_map = self.url_map_class(host_matching=host_matching)
        #: Whether subdomains are matched against ``SERVER_NAME``.
        self.subdomain_matching = subdomain_matching
        self._got_first_request = False
        self._adapters = AdapterCache()
        #: Whether a view is marked with kolben.stream_request_body (ASGI door).
        self._has_streamed_bodies = False

        if self.has_static_folder:
            if bool(static_host) != host_matching:
                # AssertionError, as Flask raises (code written for Flask catches it).
                raise AssertionError(
                    "Invalid static_host/host_matching combination: static_host is"
                    " required with host_matching=True and not allowed without it."
                    " Pass both, or neither (or static_folder=None for no static route)."
                )
            # The view holds the app weakly: an app with no other reference is
            # freed at once, without waiting for the garbage collector (as Flask's).
            app_ref = weakref.ref(self)

            def static(**kwargs: t.Any) -> t.Any:
                return app_ref().send_static_file(**kwargs)  # type: ignore[union-attr]

            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                endpoint="static",
                host=static_host,
                view_func=static,
            )

    # -- identity, logging, config ----------------------------------------------

    @cached_property
    def name(self) -> str:  # type: ignore[override]
        """The app's name: the import name, or the script's name for ``__main__``."""
        if self.import_name == "__main__":
            fn = getattr(sys.modules["__main__"], "__file__", None)
            if fn is None:
                return "__main__"
            return os.path.splitext(os.path.basename(str(fn)))[0]
        return self.import_name

    @cached_property
    def logger(self) -> logging.Logger:
        """The app's :class:`logging.Logger`, named after :attr:`name`.

        In debug mode its level is DEBUG unless set. Unless a handler is configured,
        records go to the WSGI error stream (``sys.stderr`` outside a request).
        """
        return create_logger(self._app)

    @property
    def debug(self) -> bool:
        """Whether debug mode is on (``config["DEBUG"]``).

        Unhandled errors then propagate (to the debugger) and JSON responses are
        indented. Don't enable it in production.
        """
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value
        if self.config["TEMPLATES_AUTO_RELOAD"] is None:
            # As Flask: this creates the Jinja environment if it isn't yet (what
            # is set up for it afterwards, jinja_options, is then not read).
            self.jinja_env.auto_reload = value

    def make_config(self, instance_relative: bool = False) -> Config:
        """Create ``app.config`` with the defaults; DEBUG from ``KOLBEN_DEBUG``."""
        root_path = self.instance_path if instance_relative else self.root_path
        defaults = dict(self.default_config)
        defaults["DEBUG"] = get_debug_flag()
        return self.config_class(root_path, defaults)

    def make_aborter(self) -> Aborter:
        """Create ``app.aborter``; override to register more HTTP exceptions."""
        return self.aborter_class()

    def auto_find_instance_path(self) -> str:
        """Find the instance folder: ``instance`` beside the app's package or module,
        or ``<prefix>/var/<name>-instance`` when the app is installed."""
        return find_instance_path(self.import_name, self.name)

    def open_instance_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = "utf-8"
    ) -> t.IO[t.Any]:
        """Open a file in the instance folder; unlike :meth:`open_resource` it may be
        opened for writing."""
        path = os.path.join(self.instance_path, resource)
        if "b" in mode:
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_first_request:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the"
                " application. It has already handled its first request, any"
                " changes will not be applied consistently.\nMake sure all imports,"
                " decorators, functions, etc. needed to set up the application are"
                " done before running it (at import time or in the app factory)."
            )

    @setupmethod
    def teardown_appcontext(self, f: F) -> F:
        """Run ``f(exc)`` when an application context is popped.

        That is after every request, CLI command and ``with app.app_context()``
        block; ``exc`` is the exception that ended it, or None.
        """
        self.teardown_appcontext_funcs.append(f)
        return f

    @setupmethod
    def shell_context_processor(self, f: F) -> F:
        """Register a function returning names for the ``kolben shell`` namespace."""
        self.shell_context_processors.append(f)
        return f

    # -- recipes built in: broker, tokens, per-task resources -------------------------

    @cached_property
    def broker(self) -> Broker:
        """The app's publish/subscribe broker for Server-Sent Events and fan-out,
        chosen by ``BROKER_URL`` on first use (unset: in-process
        :class:`~kolben.broker.MemoryBroker`; ``redis://...``:
        :class:`~kolben.broker.RedisBroker`)."""
        from .broker import create_broker

        return create_broker(self._app)

    @cached_property
    def worker_threads(self) -> WorkerThreads:
        """The pool of threads in which the ASGI door runs sync code (sync views,
        hooks and bodies), sized by ``ASGI_WORKER_THREADS`` on first use (None:
        ``min(32, CPUs + 4)``). ``await app.worker_threads.run(loop, func)`` runs
        ``func()`` there."""
        from .threads import WorkerThreads

        return WorkerThreads(self.config["ASGI_WORKER_THREADS"], name=f"kolben-{self.name}")

    @cached_property
    def tokens(self) -> Tokens:
        """Signed, timestamped, URL-safe tokens keyed by ``SECRET_KEY`` (see
        :class:`kolben.signing.Tokens`)."""
        from .signing import Tokens

        return Tokens(self._app)

    def task_resource(
        self,
        name: str,
        *,
        acquire: t.Callable[[], t.Any],
        release: t.Callable[[t.Any], t.Any],
        commit: t.Callable[[t.Any], t.Any] | None = None,
        rollback: t.Callable[[t.Any], t.Any] | None = None,
    ) -> TaskResource:
        """Register a resource acquired lazily once per application context and
        committed (or rolled back) and released when the context ends; see
        :mod:`kolben.resources`."""
        from .resources import TaskResource

        return TaskResource.register(
            self._app, name, acquire=acquire, release=release, commit=commit, rollback=rollback
        )

    def make_shell_context(self) -> dict[str, t.Any]:
        """The namespace of ``kolben shell``: ``app``, ``g`` and the processors' names."""
        rv: dict[str, t.Any] = {"app": self, "g": _globals.g}
        for processor in self.shell_context_processors:
            rv.update(processor())
        return rv

    # -- blueprints ------------------------------------------------------------------

    @setupmethod
    def register_blueprint(self, blueprint: Blueprint, **options: t.Any) -> None:
        """Register a blueprint: its routes, hooks, handlers, templates and static
        files become part of the app.

        Options override the blueprint's own: ``url_prefix``, ``subdomain``,
        ``url_defaults``, ``name`` (to register one blueprint more than once),
        ``cli_group`` and ``owns_prefix``.
        """
        blueprint.register(self._app, options)

    def iter_blueprints(self) -> t.ValuesView[Blueprint]:
        """The registered blueprints, in registration order."""
        return self.blueprints.values()

    # -- templates -------------------------------------------------------------------

    #: The Jinja environment class, :class:`kolben.templating.Environment` (set a
    #: subclass of it on a subclass of the app to use your own).
    jinja_environment: type[Environment] = _Environment
    #: Options passed to the Jinja environment (set before it is first used).
    jinja_options: dict[str, t.Any] = {}

    @cached_property
    def jinja_env(self) -> Environment:
        """The Jinja environment for templates, created on first use."""
        return self.create_jinja_environment()

    def create_jinja_environment(self) -> Environment:
        """Create :attr:`jinja_env`, with :attr:`jinja_options`, autoescaping by
        :meth:`select_jinja_autoescape`, auto-reload from ``TEMPLATES_AUTO_RELOAD``
        (default: debug mode), the standard globals (``url_for``,
        ``get_flashed_messages``, ``config``, ``request``, ``session``, ``g``) and
        the ``tojson`` filter using :attr:`json`."""
        from .globals import g, request, session
        from .helpers import get_flashed_messages
        from .templating import Environment

        options = dict(self.jinja_options)
        options.setdefault("autoescape", self.select_jinja_autoescape)
        if "auto_reload" not in options:
            auto_reload = self.config["TEMPLATES_AUTO_RELOAD"]
            options["auto_reload"] = self.debug if auto_reload is None else auto_reload
        env_class = self.jinja_environment or Environment
        rv = env_class(self._app, **options)
        rv.globals.update(
            url_for=self._app.url_for,
            get_flashed_messages=get_flashed_messages,
            config=self.config,
            request=request,
            session=session,
            g=g,
        )
        rv.policies["json.dumps_function"] = self.json.dumps
        return rv

    def create_global_jinja_loader(self) -> DispatchingJinjaLoader:
        """The loader of :attr:`jinja_env`: the app's templates, then each
        blueprint's."""
        from .templating import DispatchingJinjaLoader

        return DispatchingJinjaLoader(self._app)

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Whether autoescaping is on for a template: yes for strings and for
        ``.html``, ``.htm``, ``.xml``, ``.xhtml`` and ``.svg`` files."""
        if filename is None:
            return True
        return filename.endswith((".html", ".htm", ".xml", ".xhtml", ".svg"))

    def update_template_context(self, context: dict[str, t.Any]) -> None:
        """Add the context processors' values to a template context.

        The app's processors run first, then those of the request's blueprints;
        values passed to the render call win over processors' values.
        """
        names: list[str | None] = [None]
        req_ctx = _cv_request.get(None)
        if req_ctx is not None:
            names.extend(reversed(req_ctx.request.blueprints))
        original = context.copy()
        for name in names:
            for func in self.template_context_processors.get(name, ()):
                context.update(self._app.ensure_sync(func)())
        context.update(original)

    @t.overload
    def template_filter(self, name: T_template_filter) -> T_template_filter: ...
    @t.overload
    def template_filter(
        self, name: str | None = None
    ) -> t.Callable[[T_template_filter], T_template_filter]: ...
    @setupmethod
    def template_filter(
        self, name: T_template_filter | str | None = None
    ) -> T_template_filter | t.Callable[[T_template_filter], T_template_filter]:
        """Register a template filter: ``@app.template_filter()`` or
        ``@app.template_filter("name")``."""
        return bare_or_named(self.add_template_filter, name)

    @setupmethod
    def add_template_filter(self, f: t.Callable[..., t.Any], name: str | None = None) -> None:
        """Register ``f`` as a template filter named ``name`` (default: its name)."""
        self.jinja_env.filters[name or f.__name__] = f

    @t.overload
    def template_test(self, name: T_template_test) -> T_template_test: ...
    @t.overload
    def template_test(
        self, name: str | None = None
    ) -> t.Callable[[T_template_test], T_template_test]: ...
    @setupmethod
    def template_test(
        self, name: T_template_test | str | None = None
    ) -> T_template_test | t.Callable[[T_template_test], T_template_test]:
        """Register a template test: ``@app.template_test()``."""
        return bare_or_named(self.add_template_test, name)

    @setupmethod
    def add_template_test(self, f: t.Callable[..., bool], name: str | None = None) -> None:
        """Register ``f`` as a template test named ``name`` (default: its name)."""
        self.jinja_env.tests[name or f.__name__] = f

    @t.overload
    def template_global(self, name: T_template_global) -> T_template_global: ...
    @t.overload
    def template_global(
        self, name: str | None = None
    ) -> t.Callable[[T_template_global], T_template_global]: ...
    @setupmethod
    def template_global(
        self, name: T_template_global | str | None = None
    ) -> T_template_global | t.Callable[[T_template_global], T_template_global]:
        """Register a template global: ``@app.template_global()``."""
        return bare_or_named(self.add_template_global, name)

    @setupmethod
    def add_template_global(self, f: t.Callable[..., t.Any], name: str | None = None) -> None:
        """Register ``f`` as a template global named ``name`` (default: its name)."""
        self.jinja_env.globals[name or f.__name__] = f

    # -- routing -------------------------------------------------------------------

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: ft.RouteCallable | None = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Register a rule for routing requests and building URLs.

        ``@app.route`` calls this. ``endpoint`` defaults to the view's name;
        ``methods`` defaults to the view's ``methods`` attribute or ``["GET"]``
        (HEAD is added for GET, OPTIONS is answered automatically unless
        ``provide_automatic_options=False``). Other options go to werkzeug's
        :class:`~werkzeug.routing.Rule`.
        """
        if endpoint is None:
            endpoint = _endpoint_from_view_func(view_func)
        options["endpoint"] = endpoint
        methods = options.pop("methods", None)
        if methods is None:
            methods = getattr(view_func, "methods", None) or ("GET",)
        if isinstance(methods, str):
            raise TypeError(
                "Allowed methods must be a list of strings, for example:"
                ' @app.route(..., methods=["POST"])'
            )
        method_set = {item.upper() for item in methods}
        required_methods = set(getattr(view_func, "required_methods", ()))
        if provide_automatic_options is None:
            provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
        if provide_automatic_options is None:
            # As Flask: OPTIONS is added only when decided here; a view that
            # asks for automatic OPTIONS itself lists OPTIONS in its methods.
            if "OPTIONS" not in method_set and self.config["PROVIDE_AUTOMATIC_OPTIONS"]:
                provide_automatic_options = True
                required_methods.add("OPTIONS")
            else:
                provide_automatic_options = False
        method_set |= required_methods

        rule_obj = self.url_rule_class(rule, methods=method_set, **options)
        rule_obj.provide_automatic_options = provide_automatic_options  # type: ignore[attr-defined]
        self.url_map.add(rule_obj)
        if view_func is not None:
            old_func = self.view_functions.get(endpoint)
            if old_func is not None and old_func != view_func:
                raise AssertionError(
                    "View function mapping is overwriting an existing endpoint"
                    f" function: {endpoint}. Give one of the views another name or"
                    " pass endpoint='...' to route()."
                )
            self.view_functions[endpoint] = view_func
            if getattr(view_func, "stream_request_body", False):
                # PERF: only apps with such a view match before receiving a body.
                self._has_streamed_bodies = True

    @setupmethod
    def before_serving(self, f: F) -> F:
        """Run ``f()`` (sync or async) once when an ASGI server starts, before it
        serves requests (the lifespan startup), in an application context. If it
        raises, the server reports the startup as failed and does not serve."""
        self.before_serving_funcs.append(f)
        return f

    @setupmethod
    def after_serving(self, f: F) -> F:
        """Run ``f()`` (sync or async) once when an ASGI server shuts down."""
        self.after_serving_funcs.append(f)
        return f

    @setupmethod
    def while_serving(self, f: F) -> F:
        """Run the generator function ``f`` across an ASGI server's life, as
        Quart's ``while_serving``: its code before its one ``yield`` runs at the
        lifespan startup (after the ``before_serving`` functions), the rest at
        shutdown (before the ``after_serving`` functions; the last registered
        first), in an application context. ``async def`` ones run on the
        server's loop, plain generator functions in a worker thread. See
        :mod:`kolben.serving`."""
        self.while_serving_funcs.append(f)
        return f
