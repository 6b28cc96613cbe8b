"""What the application and blueprints share: route decorators and hook registries.

The registries are plain dicts keyed by blueprint name (``None`` for the app), as in
Flask, because extensions read and append to them directly.
"""

from __future__ import annotations

import os
import typing as t
from collections import defaultdict
from datetime import timedelta
from functools import cached_property, update_wrapper

import click
from jinja2 import BaseLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException, default_exceptions

from .cli import AppGroup
from .helpers import get_root_path
from .hook_plans import HookRegistry, hooks_of
from .templating import _default_template_ctx_processor

if t.TYPE_CHECKING:
    from .wrappers import Response

F = t.TypeVar("F", bound=t.Callable[..., t.Any])
ErrorHandler = t.Callable[[t.Any], t.Any]
# blueprint name (None for the app) -> status code (None for any) -> class -> handler
ErrorHandlerSpec = dict[
    "str | None", dict["int | None", dict[type[BaseException], ErrorHandler]]
]

_sentinel = object()


def setupmethod(f: F) -> F:
    """Mark a method that sets up the app, so it can't run after serving started."""
    name = f.__name__

    def wrapper_func(self: Scaffold, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self._check_setup_finished(name)
        return f(self, *args, **kwargs)

    return update_wrapper(wrapper_func, f)  # type: ignore[return-value]


def _endpoint_from_view_func(view_func: t.Callable[..., t.Any] | None) -> str:
    if view_func is None:
        # Flask's error (an AssertionError) and words, then how to fix it.
        raise AssertionError(
            "expected view func if endpoint is not provided. add_url_rule() needs an"
            " 'endpoint' when no 'view_func' is given; pass endpoint='name' and register"
            " the function later with @app.endpoint('name')."
        )
    return view_func.__name__


class Scaffold:
    """The common base of :class:`~kolben.Kolben` and blueprints.

    :param import_name: the name of the module or package of the app/blueprint,
        usually ``__name__``; used to find ``root_path``.
    :param static_folder: folder of static files, relative to ``root_path``.
    :param static_url_path: URL prefix of the static files.
    :param template_folder: folder of templates, relative to ``root_path``.
    :param root_path: the folder resources are relative to (found automatically).
    """

    name: str
    _static_folder: str | None = None
    _static_url_path: str | None = None

    def __init__(
        self,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        root_path: str | None = None,
    ) -> None:
        #: The import name given to the constructor.
        self.import_name = import_name
        self.static_folder = static_folder
        self.static_url_path = static_url_path
        #: The templates folder, relative to ``root_path``.
        self.template_folder = template_folder
        if root_path is None:
            root_path = get_root_path(self.import_name)
        #: The absolute folder that resources are relative to.
        self.root_path = root_path
        #: The click group for this object's CLI commands (``@app.cli.command()``).
        self.cli: click.Group = AppGroup()
        #: Endpoint name -> view function.
        self.view_functions: dict[str, t.Callable[..., t.Any]] = {}
        #: Error handlers, see :meth:`errorhandler`.
        self.error_handler_spec: ErrorHandlerSpec = defaultdict(lambda: defaultdict(dict))
        #: Functions run before each request, by blueprint name (None: the app).
        self.before_request_funcs: dict[str | None, list[t.Callable[[], t.Any]]] = (
            HookRegistry()
        )
        #: Functions run on each response, by blueprint name (None: the app).
        self.after_request_funcs: dict[str | None, list[t.Callable[[t.Any], t.Any]]] = (
            HookRegistry()
        )
        #: Functions run when each request ends, by blueprint name (None: the app).
        self.teardown_request_funcs: dict[
            str | None, list[t.Callable[[BaseException | None], t.Any]]
        ] = HookRegistry()
        #: Template context processors, by blueprint name (None: the app). Each
        #: app and blueprint starts with the default one (``g`` and ``request``), as
        #: in Flask: a blueprint's copy runs after the app's processors, so in its
        #: views ``g`` and ``request`` are the real objects even when an app
        #: processor returns those names.
        self.template_context_processors: dict[
            str | None, list[t.Callable[[], dict[str, t.Any]]]
        ] = defaultdict(list, {None: [_default_template_ctx_processor]})
        #: URL value preprocessors, by blueprint name (None: the app).
        self.url_value_preprocessors: dict[
            str | None, list[t.Callable[[str | None, dict[str, t.Any] | None], None]]
        ] = defaultdict(list)
        #: URL default functions, by blueprint name (None: the app).
        self.url_default_functions: dict[
            str | None, list[t.Callable[[str, dict[str, t.Any]], None]]
        ] = defaultdict(list)
        #: Functions run before each websocket view, by blueprint name (None: the app).
        self.before_websocket_funcs: dict[str | None, list[t.Callable[[], t.Any]]] = (
            defaultdict(list)
        )
        #: Functions run after each websocket view, by blueprint name (None: the app).
        self.after_websocket_funcs: dict[str | None, list[t.Callable[[], t.Any]]] = (
            defaultdict(list)
        )
        #: Functions run when each websocket ends, by blueprint name (None: the app).
        self.teardown_websocket_funcs: dict[
            str | None, list[t.Callable[[BaseException | None], t.Any]]
        ] = defaultdict(list)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def _check_setup_finished(self, f_name: str) -> None:
        raise NotImplementedError

    # -- static files and resources -------------------------------------------

    @property
    def static_folder(self) -> str | None:
        """The absolute path of the static folder, or None."""
        if self._static_folder is not None:
            return os.path.join(self.root_path, self._static_folder)
        return None

    @static_folder.setter
    def static_folder(self, value: str | os.PathLike[str] | None) -> None:
        if value is not None:
            value = os.fspath(value).rstrip(r"\/")
        self._static_folder = value

    @property
    def has_static_folder(self) -> bool:
        """Whether a static folder is set."""
        return self.static_folder is not None

    @property
    def static_url_path(self) -> str | None:
        """The URL prefix the static route is served under (``/static`` by default)."""
        if self._static_url_path is not None:
            return self._static_url_path
        if self.static_folder is not None:
            basename = os.path.basename(self.static_folder)
            return f"/{basename}".rstrip("/")
        return None

    @static_url_path.setter
    def static_url_path(self, value: str | None) -> None:
        if value is not None:
            value = value.rstrip("/")
        self._static_url_path = value

    @cached_property
    def jinja_loader(self) -> BaseLoader | None:
        """A loader for this object's ``template_folder``, or None without one."""
        if self.template_folder is not None:
            return FileSystemLoader(os.path.join(self.root_path, self.template_folder))
        return None

    def send_static_file(self, filename: str) -> Response:
        """The view of the static route: a file from :attr:`static_folder`, cached
        for ``app.get_send_file_max_age(filename)`` seconds.

        With ``STATIC_CACHE_BUST`` on, a request whose ``v`` argument is the
        file's current version (as :func:`~kolben.url_for` adds it) is cached for
        a year: ``Cache-Control: public, max-age=31536000, immutable``.
        """
        if not self.has_static_folder:
            raise RuntimeError("'static_folder' must be set to serve static_files.")
        from .globals import current_app, request
        from .helpers import send_from_directory

        folder = t.cast(str, self.static_folder)
        # The proxies: outside a context, Flask's RuntimeError.
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        # PERF: no hashing or lookup unless cache busting is on and v is asked for.
        if app.config["STATIC_CACHE_BUST"]:
            version = request.args.get("v")
            if version:
                from .static import IMMUTABLE_MAX_AGE, file_version

                if version == file_version(app, folder, filename):
                    rv = send_from_directory(folder, filename, max_age=IMMUTABLE_MAX_AGE)
                    rv.cache_control.immutable = True
                    return rv
        max_age = self.get_send_file_max_age(filename)
        return send_from_directory(folder, filename, max_age=max_age)

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """How long browsers may cache a file the static route or ``send_file``
        sends: ``SEND_FILE_MAX_AGE_DEFAULT`` in seconds (None: no max age, the
        browser revalidates with a conditional request). Override to vary it by
        file; a blueprint's static route asks the blueprint."""
        from .globals import current_app

        # current_app, as in Flask: outside an app context, its RuntimeError.
        value = current_app.config["SEND_FILE_MAX_AGE_DEFAULT"]
        if value is None:
            return None
        if isinstance(value, timedelta):
            return int(value.total_seconds())
        return int(value)

    def open_resource(
        self, resource: str, mode: str = "rb", encoding: str | None = None
    ) -> t.IO[t.Any]:
        """Open a file relative to :attr:`root_path` for reading.

        Only read modes are allowed (``"r"``, ``"rt"``, ``"rb"``).
        """
        if mode not in {"r", "rt", "rb"}:
            raise ValueError(
                f"Resources can only be opened for reading, not with mode {mode!r}."
                " Use open_instance_resource() for files the app writes."
            )
        path = os.path.join(self.root_path, resource)
        if mode == "rb":
            return open(path, mode)
        return open(path, mode, encoding=encoding)

    # -- routing ----------------------------------------------------------------

    def _method_route(
        self, method: str, rule: str, options: dict[str, t.Any]
    ) -> t.Callable[[F], F]:
        if "methods" in options:
            raise TypeError(
                f"The 'methods' argument can't be used with the '{method.lower()}'"
                " shortcut; use @route(rule, methods=[...]) instead."
            )
        return self.route(rule, methods=[method], **options)

    @setupmethod
    def get(self, rule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["GET"]``."""
        return self._method_route("GET", rule, options)

    @setupmethod
    def post(self, rule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["POST"]``."""
        return self._method_route("POST", rule, options)

    @setupmethod
    def put(self, rule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["PUT"]``."""
        return self._method_route("PUT", rule, options)

    @setupmethod
    def delete(self, rule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["DELETE"]``."""
        return self._method_route("DELETE", rule, options)

    @setupmethod
    def patch(self, rule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Shortcut for :meth:`route` with ``methods=["PATCH"]``."""
        return self._method_route("PATCH", rule, options)

    @setupmethod
    def route(self, rule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Register the decorated function as the view for URL ``rule``.

        The endpoint defaults to the function's name. Options are those of
        :meth:`add_url_rule` and werkzeug's :class:`~werkzeug.routing.Rule`
        (``methods``, ``defaults``, ``strict_slashes``, ``subdomain``, ...)::

            @app.route("/user/<int:user_id>", methods=["GET", "POST"])
            def user(user_id): ...
        """

        def decorator(f: F) -> F:
            endpoint = options.pop("endpoint", None)
            self.add_url_rule(rule, endpoint, f, **options)
            return f

        return decorator

    @setupmethod
    def websocket(self, rule: str, **options: t.Any) -> t.Callable[[F], F]:
        """Register the decorated ``async def`` function as the WebSocket view for
        URL ``rule`` (served by the ASGI door; see :mod:`kolben.websocket`)::

            @app.websocket("/echo/<room>")
            async def echo(room):
                await websocket.accept()
                async for message in websocket:
                    await websocket.send(message)

        Options are those of :meth:`route` except ``methods`` (a WebSocket
        handshake is a GET). The rule may share its path with an HTTP route.
        """
        if "methods" in options:
            raise TypeError(
                "A websocket route takes no 'methods': the WebSocket handshake is"
                " always a GET. Remove the argument."
            )

        def decorator(f: F) -> F:
            from .concurrency import is_async_callable

            if not is_async_callable(f):
                name = getattr(f, "__name__", repr(f))
                raise TypeError(
                    f"The websocket view {name!r} must be an 'async def' function: it"
                    " runs on the ASGI server's event loop and awaits"
                    " websocket.receive() and websocket.send()."
                )
            endpoint = options.pop("endpoint", None)
            self.add_url_rule(
                rule,
                endpoint,
                f,
                provide_automatic_options=False,
                methods=["GET"],
                websocket=True,
                **options,
            )
            return f

        return decorator

    @setupmethod
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: t.Callable[..., t.Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: t.Any,
    ) -> None:
        """Register a URL rule; see :meth:`Kolben.add_url_rule`."""
        raise NotImplementedError

    @setupmethod
    def endpoint(self, endpoint: str) -> t.Callable[[F], F]:
        """Register the decorated function as the view of an existing endpoint.

        For example::

            app.add_url_rule("/ex", endpoint="example")

            @app.endpoint("example")
            def example(): ...
        """

        def decorator(f: F) -> F:
            self.view_functions[endpoint] = f
            return f

        return decorator

    # -- request hooks ------------------------------------------------------------

    @setupmethod
    def before_request(self, f: F) -> F:
        """Run ``f()`` before each request. If it returns a value other than None,
        that value is the response and the view is not called."""
        hooks_of(self.before_request_funcs, None).append(f)
        return f

    @setupmethod
    def after_request(self, f: F) -> F:
        """Run ``f(response)`` after each request; it returns the response to send.

        Functions registered later run first. Not called when an unhandled exception
        ended the request; use :meth:`teardown_request` for clean-up."""
        hooks_of(self.after_request_funcs, None).append(f)
        return f

    @setupmethod
    def teardown_request(self, f: F) -> F:
        """Run ``f(exc)`` when the request context is popped, even after an error.

        ``exc`` is the unhandled exception, or None. Return values are ignored, and
        the function should not raise."""
        hooks_of(self.teardown_request_funcs, None).append(f)
        return f

    @setupmethod
    def before_websocket(self, f: F) -> F:
        """Run ``f()`` before each websocket view, after the route matched and
        before the handshake is accepted. If it returns a value other than None,
        the handshake is refused with that value as the HTTP response (on servers
        without the ASGI ``websocket.http.response`` extension, a plain 403).

        An ``async def`` function runs on the event loop; a plain function runs in
        a worker thread (so it may block), in the websocket's context.
        """
        self.before_websocket_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def after_websocket(self, f: F) -> F:
        """Run ``f()`` after each websocket view, before the connection is
        closed or the handshake refused: when the view ended (it returned, or
        the client disconnected), when a ``before_websocket`` function or the
        view refused the handshake, and after an error (once its error handler,
        or the 500 one, ran). Not when the route did not match, nor when the
        server cancelled the connection. Functions registered later run first.

        A function taking an argument (Quart's ``def after(response)``) is
        given the response refusing the handshake, or None once it was
        accepted; a response it returns replaces the refusal. Other return
        values are ignored. Sync functions run in a worker thread, as for
        :meth:`before_websocket`."""
        self.after_websocket_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def teardown_websocket(self, f: F) -> F:
        """Run ``f(exc)`` when each websocket ends, in every case (Quart's
        ``teardown_websocket``): after the ``after_websocket`` functions and
        the close (or the refusal), before the ``teardown_request`` and
        ``teardown_appcontext`` functions. ``exc`` is the unhandled exception,
        or None. Functions registered later run first, a blueprint's before
        the app's; return values are ignored. Sync functions run in a worker
        thread, as for :meth:`before_websocket`."""
        self.teardown_websocket_funcs.setdefault(None, []).append(f)
        return f

    @setupmethod
    def context_processor(self, f: F) -> F:
        """Register a template context processor (a function returning a dict)."""
        self.template_context_processors[None].append(f)
        return f

    @setupmethod
    def url_value_preprocessor(self, f: F) -> F:
        """Run ``f(endpoint, values)`` after matching, before ``before_request``.

        It may pop values from the matched ``view_args`` dict, for example to store
        a language code in ``g`` instead of passing it to every view."""
        self.url_value_preprocessors[None].append(f)
        return f

    @setupmethod
    def url_defaults(self, f: F) -> F:
        """Run ``f(endpoint, values)`` when building a URL, to fill in values."""
        self.url_default_functions[None].append(f)
        return f

    # -- error handlers -----------------------------------------------------------

    @setupmethod
    def errorhandler(self, code_or_exception: type[BaseException] | int) -> t.Callable[[F], F]:
        """Register a function to handle errors by status code or exception class::

            @app.errorhandler(404)
            def page_not_found(error):
                return "This page does not exist", 404

        The handler for the most specific exception class wins (by MRO).
        """

        def decorator(f: F) -> F:
            self.register_error_handler(code_or_exception, f)
            return f

        return decorator

    @setupmethod
    def register_error_handler(
        self, code_or_exception: type[BaseException] | int, f: ErrorHandler
    ) -> None:
        """Register an error handler without the decorator; see :meth:`errorhandler`."""
        exc_class, code = self._get_exc_class_and_code(code_or_exception)
        self.error_handler_spec[None][code][exc_class] = f

    @staticmethod
    def _get_exc_class_and_code(
        exc_class_or_code: type[BaseException] | int,
    ) -> tuple[type[BaseException], int | None]:
        """Return the exception class and status code for an error handler key."""
        exc_class: type[BaseException]
        if isinstance(exc_class_or_code, int):
            try:
                exc_class = default_exceptions[exc_class_or_code]
            except KeyError:
                raise ValueError(
                    f"'{exc_class_or_code}' is not a recognized HTTP error code. Use a"
                    " subclass of HTTPException with that code instead."
                ) from None
        else:
            exc_class = exc_class_or_code
        if isinstance(exc_class, Exception):
            raise TypeError(
                f"{exc_class!r} is an instance, not a class. Handlers can only be"
                " registered for Exception classes or HTTP error codes."
            )
        if not isinstance(exc_class, type):
            # What Flask's issubclass() test raises for a non-class ("404", a
            # BaseException instance...), with the fix in the message.
            raise TypeError(
                f"issubclass() arg 1 must be a class, not {exc_class!r}. Handlers can"
                " only be registered for Exception classes or HTTP error codes (int)."
            )
        if not issubclass(exc_class, Exception):
            raise ValueError(
                f"'{exc_class.__name__}' is not a subclass of Exception. Handlers can"
                " only be registered for Exception classes or HTTP error codes."
            )
        if issubclass(exc_class, HTTPException):
            return exc_class, exc_class.code
        return exc_class, None
