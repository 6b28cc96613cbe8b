"""The context globals: ``current_app``, ``g``, ``request``, ``websocket`` and the
context proxies.

Each is a :class:`werkzeug.local.LocalProxy` over a :class:`contextvars.ContextVar`,
so the current context is right under threads, greenlets and asyncio tasks alike.
"""

from __future__ import annotations

import typing as t
from contextvars import ContextVar

from werkzeug.local import LocalProxy

if t.TYPE_CHECKING:
    from .app import Kolben
    from .ctx import AppContext, RequestContext, _AppCtxGlobals
    from .sessions import SessionMixin
    from .websocket import Websocket
    from .wrappers import Request

#: Flask's words for a use of the app outside an application context.
NO_APP_TEXT = """\
Working outside of application context.

This typically means that you attempted to use functionality that needed
the current application. To solve this, set up an application context
with app.app_context(). See the documentation for more information."""

_no_app_msg = NO_APP_TEXT + """

(Something such as `current_app`, `g` or `url_for` was used while no application
context was active. In a view, a CLI command or the test client one is pushed for
you; elsewhere, use `with app.app_context():`.)"""

_no_req_msg = """\
Working outside of request context.

This typically means that you attempted to use functionality that needed
an active HTTP request. Consult the documentation on testing for
information about how to avoid this problem.

(Something such as `request` or `after_this_request` was used outside of a view.
Use the test client, or push a context with `with app.test_request_context():`
while testing.)"""

_no_websocket_msg = """\
Working outside of a websocket.

This means that you used `websocket` outside of a view registered with
`@app.websocket(rule)` (or the hooks that run around one). HTTP views use
`request` instead. See the "WebSockets" page of the documentation."""

# PERF: modules that call the context variables' methods per request bind them by
# assignment (``_cv_app = _globals._cv_app``), not by ``from .globals import``:
# CPython 3.11 compiles ``name.method()`` on an imported name as an attribute load
# (as for a module's function), which makes a bound method on every call.
_cv_app: ContextVar[AppContext] = ContextVar("kolben.app_ctx")
_cv_request: ContextVar[RequestContext] = ContextVar("kolben.request_ctx")
#: The connection a websocket view serves; set only in a websocket's context.
_cv_websocket: ContextVar[Websocket] = ContextVar("kolben.websocket")

#: The attributes of werkzeug's LocalProxy itself that are not dunders (its
#: slots: ``_get_current_object`` and the wrapped context variable).
_PROXY_OWN_NAMES = frozenset(name for name in vars(LocalProxy) if not name.startswith("__"))
#: Reads a proxy's ``_get_current_object`` slot.
_current_object_of = LocalProxy.__dict__["_get_current_object"].__get__


_NOT_OWN = object()


def _own_attribute(proxy: LocalProxy, name: str) -> t.Any:  # type: ignore[type-arg]
    """The attribute ``name`` (one of :data:`_OWN_NAMES`) of the proxy itself
    (its slots, dunders, which werkzeug's descriptors answer), or ``_NOT_OWN``
    when the proxy has none, for a name of the proxied object."""
    if name == "_get_current_object":  # werkzeug's own lookups read it
        return _current_object_of(proxy)
    try:
        return object.__getattribute__(proxy, name)
    except AttributeError:
        return _NOT_OWN


class _ContextProxy(LocalProxy):  # type: ignore[type-arg]
    """werkzeug's :class:`~werkzeug.local.LocalProxy`, reading the proxied
    object's attributes (``request.form``, ``current_app.config``) directly.

    PERF: a LocalProxy forwards attribute reads from ``__getattr__``, which
    CPython 3.11 calls only after its own lookup on the proxy failed, making
    (and dropping) an AttributeError naming the proxy: about 3.5k instructions a
    read. Here the proxy's own names (its slots, dunders) are looked up on it
    first and every other name is read from the proxied object; a name missing
    there raises the object's own error (werkzeug's ``__getattr__`` reads it
    again).
    """

    __slots__ = ()

    # werkzeug's lookup, in place of this class's docstring: ``request.__doc__``
    # (``help(request)``, ``inspect.getdoc``) is the proxied object's docstring,
    # and werkzeug's LocalProxy docstring outside a context, as under Flask.
    __doc__ = LocalProxy.__dict__["__doc__"]

    def __getattribute__(self, name: str) -> t.Any:
        if name in _OWN_NAMES:
            value = _own_attribute(self, name)
            if value is not _NOT_OWN:
                return value
        return getattr(_current_object_of(self)(), name)

    # PERF: the operations proxies see most, forwarded directly (werkzeug's
    # forward each through a descriptor and a bound method made per use).

    def __setattr__(self, name: str, value: t.Any) -> None:
        setattr(_current_object_of(self)(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(_current_object_of(self)(), name)

    def __getitem__(self, key: t.Any) -> t.Any:
        return _current_object_of(self)()[key]

    def __setitem__(self, key: t.Any, value: t.Any) -> None:
        _current_object_of(self)()[key] = value

    def __delitem__(self, key: t.Any) -> None:
        del _current_object_of(self)()[key]

    def __contains__(self, item: t.Any) -> bool:
        return item in _current_object_of(self)()

    def __len__(self) -> int:
        return len(_current_object_of(self)())

    def __iter__(self) -> t.Iterator[t.Any]:
        try:
            obj = _current_object_of(self)()
        except RuntimeError:
            # What iterating werkzeug's unbound proxy raises.
            raise TypeError(f"'{type(self).__name__}' object is not iterable") from None
        return iter(obj)


# Named as werkzeug's class, which messages and reprs show ("<LocalProxy
# unbound>", "'LocalProxy' object is not iterable"), as under Flask.
_ContextProxy.__name__ = _ContextProxy.__qualname__ = "LocalProxy"


app_ctx: AppContext = _ContextProxy(  # type: ignore[assignment]
    _cv_app, unbound_message=_no_app_msg
)
current_app: Kolben = _ContextProxy(  # type: ignore[assignment]
    _cv_app, "app", unbound_message=_no_app_msg
)


class _GlobalsProxy(_ContextProxy):
    """The ``g`` proxy: werkzeug's :class:`~werkzeug.local.LocalProxy` with
    attribute access (``g.user``, ``g.user = ...``) made direct.

    PERF: ``g`` is read and written in hooks and views of most apps; the generic
    proxy's lookup costs about four times a direct context-variable read.
    """

    __slots__ = ()

    # As _ContextProxy's: ``g.__doc__`` is the current ``g``'s, as under Flask.
    __doc__ = LocalProxy.__dict__["__doc__"]

    def __getattribute__(self, name: str) -> t.Any:
        # As _ContextProxy's, reading the current ``g`` without werkzeug's lookup.
        if name in _OWN_NAMES:
            value = _own_attribute(self, name)
            if value is not _NOT_OWN:
                return value
        try:
            ctx = _cv_app.get()
        except LookupError:
            raise RuntimeError(_no_app_msg) from None
        return getattr(ctx.g, name)

    def __getattr__(self, name: str) -> t.Any:
        # Called only after __getattribute__ raised AttributeError (the name is
        # missing from ``g``): read again, so the error raised is ``g``'s own.
        return getattr(_current_object_of(self)(), name)

    def __setattr__(self, name: str, value: t.Any) -> None:
        try:
            ctx = _cv_app.get()
        except LookupError:
            raise RuntimeError(_no_app_msg) from None
        setattr(ctx.g, name, value)

    def __delattr__(self, name: str) -> None:
        try:
            ctx = _cv_app.get()
        except LookupError:
            raise RuntimeError(_no_app_msg) from None
        delattr(ctx.g, name)

    def __repr__(self) -> str:
        # What werkzeug's LocalProxy shows, under its name (as Flask's g shows).
        ctx = _cv_app.get(None)
        return "<LocalProxy unbound>" if ctx is None else repr(ctx.g)


# Named as werkzeug's class too: ``type(g).__name__`` is "LocalProxy", as in Flask.
_GlobalsProxy.__name__ = _GlobalsProxy.__qualname__ = "LocalProxy"

#: The names a proxy may answer itself (see :func:`_own_attribute`): its slots and
#: the dunders its classes define. Any other name, dunders the classes lack
#: included, is read from the proxied object.
#: PERF: one set lookup instead of testing the name's first characters.
_OWN_NAMES = frozenset(
    {"_get_current_object", *_PROXY_OWN_NAMES}.union(
        name for cls in _GlobalsProxy.__mro__ for name in vars(cls) if name[:2] == "__"
    )
)


g: _AppCtxGlobals = _GlobalsProxy(  # type: ignore[assignment]
    _cv_app, "g", unbound_message=_no_app_msg
)

request_ctx: RequestContext = _ContextProxy(  # type: ignore[assignment]
    _cv_request, unbound_message=_no_req_msg
)
request: Request = _ContextProxy(  # type: ignore[assignment]
    _cv_request, "request", unbound_message=_no_req_msg
)
session: SessionMixin = _ContextProxy(  # type: ignore[assignment]
    _cv_request, "session", unbound_message=_no_req_msg
)

websocket: Websocket = _ContextProxy(  # type: ignore[assignment]
    _cv_websocket, unbound_message=_no_websocket_msg
)

__all__ = ["app_ctx", "current_app", "g", "request", "request_ctx", "session", "websocket"]
