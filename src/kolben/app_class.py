"""The application's class: what happens when a method is assigned on it.

Tracing and error-reporting libraries patch Flask's class, often after apps exist
(``Flask.full_dispatch_request = traced``, ``mock.patch.object(Flask, ...)``), and
Flask, which looks each method up on every request, calls the patch. kolben decides
once per app which pipeline methods are overridden (``Kolben._overridden``: the
pipeline skips the lookups when none is), so :class:`AppClass`, the metaclass of
:class:`~kolben.Kolben`, has every live app of the patched class (or a subclass of
it) decide again when one of those methods is assigned on the class or deleted
from it. No request pays for this: only assigning on the class does.

Some libraries (sentry-sdk's Flask integration) replace ``Flask.__call__`` with a
WSGI-only function ``(self, environ, start_response)``. kolben's ``__call__`` is
also the ASGI entry, so such a function is kept as the WSGI call and wrapped
(:func:`keep_asgi_entry`): an ASGI server's call still reaches the ASGI door, which
then serves the request through the patched WSGI call (in a worker thread), so the
library sees every request, as it would under Flask.
"""

from __future__ import annotations

import functools
import inspect
import typing as t
import weakref
from types import FunctionType

__all__ = ["WSGI_CALL", "AppClass", "keep_asgi_entry", "register_app", "wsgi_only_call"]

#: The attribute of a wrapped ``__call__`` holding the WSGI-only function it wraps.
WSGI_CALL = "__kolben_wsgi_call__"

#: Every app made, held weakly.
_apps: weakref.WeakSet[t.Any] = weakref.WeakSet()

#: Names whose assignment on the class makes apps decide again (the methods
#: ``Kolben`` defines; set by :mod:`kolben.app`), and kolben's own ``__call__``.
_watched: set[str] = set()
_entry: list[t.Callable[..., t.Any]] = []


def register_app(app: t.Any) -> None:
    """Remember ``app`` (weakly), to have it decide again when its class is patched."""
    _apps.add(app)


def watch(names: t.Iterable[str], entry: t.Callable[..., t.Any]) -> None:
    """Called once by :mod:`kolben.app`: the names to watch and kolben's own
    ``__call__`` (the entry both doors' servers call)."""
    _watched.update(names)
    _entry[:] = [entry]


def _takes_wsgi_args_only(func: t.Any) -> bool:
    """Whether ``func(self, ...)`` refuses the three arguments of an ASGI call."""
    if not isinstance(func, FunctionType) or hasattr(func, WSGI_CALL):
        return False
    try:
        inspect.signature(func, follow_wrapped=False).bind(None, None, None, None)
    except TypeError:
        return True
    except ValueError:  # no signature to read
        return False
    return False


def keep_asgi_entry(call: t.Any) -> t.Any:
    """``call`` as the app class's ``__call__``: itself, or, for a WSGI-only
    function, a wrapper that passes WSGI calls to it and ASGI calls (one scope,
    or scope, receive and send, by position or by name as daphne passes them)
    to kolben's own entry."""
    if not _takes_wsgi_args_only(call):
        return call
    wsgi_call: t.Callable[..., t.Any] = call

    @functools.wraps(wsgi_call)
    def __call__(self: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        if len(args) == 2 or "start_response" in kwargs:
            return wsgi_call(self, *args, **kwargs)
        return _entry[0](self, *args, **kwargs)

    setattr(__call__, WSGI_CALL, wsgi_call)
    return __call__


def wsgi_only_call(app: t.Any) -> t.Callable[..., t.Any] | None:
    """``app(environ, start_response)`` through the WSGI-only ``__call__`` that
    replaced its class's (see :func:`keep_asgi_entry`), or None when there is none."""
    call = type(app).__call__
    if hasattr(call, WSGI_CALL):
        return functools.partial(call, app)
    return None


class AppClass(type):
    """The metaclass of :class:`~kolben.Kolben` (see the module)."""

    def __init__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, t.Any]) -> None:
        super().__init__(name, bases, namespace)
        call = namespace.get("__call__")
        if call is not None:
            type.__setattr__(cls, "__call__", keep_asgi_entry(call))

    def __setattr__(cls, name: str, value: t.Any) -> None:
        if name == "__call__":
            value = keep_asgi_entry(value)
        super().__setattr__(name, value)
        if name in _watched:
            _redecide(cls)

    def __delattr__(cls, name: str) -> None:
        super().__delattr__(name)
        if name in _watched:
            _redecide(cls)


def _redecide(cls: type) -> None:
    for app in list(_apps):
        if isinstance(app, cls):
            t.cast(t.Any, app)._reset_decisions()
