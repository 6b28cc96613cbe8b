"""Class-based views: :class:`View` and :class:`MethodView`.

Register one with ``app.add_url_rule(rule, view_func=MyView.as_view("name"))``.
"""

from __future__ import annotations

import typing as t

from . import globals as _globals
from . import typing as ft

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app
_cv_request = _globals._cv_request

#: The HTTP methods a :class:`MethodView` may implement as lowercase methods.
http_method_funcs = frozenset(
    ["get", "post", "head", "options", "delete", "put", "trace", "patch"]
)


class View:
    """Subclass and implement :meth:`dispatch_request`, then register
    ``as_view(name)`` as a view function::

        class Hello(View):
            methods = ["GET"]

            def dispatch_request(self, name):
                return f"Hello, {name}!"

        app.add_url_rule("/hello/<name>", view_func=Hello.as_view("hello"))

    Class attributes: :attr:`methods`, :attr:`provide_automatic_options`,
    :attr:`decorators` and :attr:`init_every_request`.
    """

    #: The methods the view accepts; used by ``add_url_rule`` when not given there.
    methods: t.ClassVar[t.Collection[str] | None] = None
    #: Whether OPTIONS is answered automatically (None: the app's default).
    provide_automatic_options: t.ClassVar[bool | None] = None
    #: Decorators applied, in order, to the function ``as_view`` returns.
    decorators: t.ClassVar[list[t.Callable[..., t.Any]]] = []
    #: Create a new instance for every request (True), or share one instance
    #: across requests (False, faster; then don't keep request state on ``self``).
    init_every_request: t.ClassVar[bool] = True

    def dispatch_request(self) -> ft.ResponseReturnValue:
        """Handle the request; URL arguments arrive as keyword arguments."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement dispatch_request()."
        )

    @classmethod
    def as_view(
        cls, name: str, *class_args: t.Any, **class_kwargs: t.Any
    ) -> ft.RouteCallable:
        """Return a view function for this class, named ``name`` (the endpoint).

        ``class_args`` and ``class_kwargs`` are passed to the constructor.
        """
        if cls.init_every_request:

            def view(**kwargs: t.Any) -> ft.ResponseReturnValue:
                self = view.view_class(*class_args, **class_kwargs)  # type: ignore[attr-defined]
                return _app().ensure_sync(self.dispatch_request)(**kwargs)  # type: ignore[no-any-return]

            def view_handler() -> t.Callable[..., t.Any]:
                return _handler_of(view.view_class(*class_args, **class_kwargs))  # type: ignore[attr-defined]

        else:
            instance = cls(*class_args, **class_kwargs)

            def view(**kwargs: t.Any) -> ft.ResponseReturnValue:
                return _app().ensure_sync(instance.dispatch_request)(**kwargs)  # type: ignore[no-any-return]

            def view_handler() -> t.Callable[..., t.Any]:
                return _handler_of(instance)

        if cls.decorators:
            view.__name__ = name
            view.__module__ = cls.__module__
            for decorator in cls.decorators:
                view = decorator(view)
        elif not (cls.init_every_request and cls.__init__ is not object.__init__):
            # The pipeline calls the method that handles the request itself (see
            # Kolben._dispatch_request), so an async one runs where async code
            # runs. A decorated view is called as it is: functools.wraps copies
            # this attribute to a wrapper, so the pipeline checks that it belongs
            # to the function it is about to call (view_handler.view). So is a
            # view whose class has a constructor of its own (sync user code): the
            # view function, which makes the instance, runs as a step where sync
            # code runs, as in Flask.
            view_handler.view = view  # type: ignore[attr-defined]
            view.view_handler = view_handler  # type: ignore[attr-defined]

        # Visible on the function so add_url_rule and introspection can use them.
        view.view_class = cls  # type: ignore[attr-defined]
        view.__name__ = name
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        view.methods = cls.methods  # type: ignore[attr-defined]
        view.provide_automatic_options = cls.provide_automatic_options  # type: ignore[attr-defined]
        return view


def _app() -> t.Any:
    return _cv_app.get().app


def _handler_of(instance: View) -> t.Callable[..., t.Any]:
    """The function that handles the current request for a view instance: its
    ``dispatch_request``, or a :class:`MethodView`'s method for the request."""
    own = getattr(instance, "__dict__", ())
    if type(instance).dispatch_request is _METHOD_VIEW_DISPATCH and "dispatch_request" not in own:
        return t.cast(MethodView, instance)._method_handler()
    # Its own dispatch_request (also one set on the instance, or MethodView's
    # replaced, as a test's mock does): called as Flask calls it.
    return instance.dispatch_request


class MethodView(View):
    """Dispatches to the method named after the HTTP method (``get``, ``post``...).

    ``methods`` is filled in from the methods the class (and its bases) define.
    A HEAD request is handled by ``get`` when there is no ``head``::

        class CounterAPI(MethodView):
            def get(self):
                return str(session.get("counter", 0))

            def post(self):
                session["counter"] = session.get("counter", 0) + 1
                return redirect(url_for("counter"))

        app.add_url_rule("/counter", view_func=CounterAPI.as_view("counter"))
    """

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        if "methods" in cls.__dict__:
            return
        methods: set[str] = set()
        for base in cls.__bases__:
            methods.update(getattr(base, "methods", None) or ())
        methods.update(key.upper() for key in http_method_funcs if hasattr(cls, key))
        if methods:
            cls.methods = methods

    def dispatch_request(self, **kwargs: t.Any) -> ft.ResponseReturnValue:
        """Call the method for the request's HTTP method with the URL arguments."""
        return _app().ensure_sync(self._method_handler())(**kwargs)  # type: ignore[no-any-return]

    def _method_handler(self) -> t.Callable[..., t.Any]:
        """The method for the request's HTTP method (``get`` for HEAD without
        ``head``)."""
        method = _cv_request.get().request.method
        handler = getattr(self, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:
            raise AssertionError(
                f"Unimplemented method {method!r}: {type(self).__name__} has no"
                f" {method.lower()}() method; implement it or remove {method!r} from"
                " methods."
            )
        return t.cast(t.Callable[..., t.Any], handler)


#: MethodView's own dispatch_request, as defined (see _handler_of).
_METHOD_VIEW_DISPATCH = MethodView.dispatch_request
