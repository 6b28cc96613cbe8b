"""JSON helpers that use the current app's JSON provider (``app.json``).

Outside an application context they fall back to a default provider with the same
settings, so they work in scripts too.
"""

from __future__ import annotations

import json as _json
import typing as t

from .. import globals as _globals
from .provider import DefaultJSONProvider, JSONProvider, _default

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app

if t.TYPE_CHECKING:
    from ..wrappers import Response



def dumps(obj: t.Any, **kwargs: t.Any) -> str:
    """Serialize ``obj`` to a JSON string with the current app's provider.

    Outside an app context this is :func:`json.dumps` with kolben's ``default``
    for dates, decimals, UUIDs, dataclasses and markup (keys unsorted).
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.dumps(obj, **kwargs)
    kwargs.setdefault("default", _default)
    return _json.dumps(obj, **kwargs)


def dump(obj: t.Any, fp: t.IO[str], **kwargs: t.Any) -> None:
    """Serialize ``obj`` as JSON into the text file ``fp`` (see :func:`dumps`)."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        ctx.app.json.dump(obj, fp, **kwargs)
        return
    kwargs.setdefault("default", _default)
    _json.dump(obj, fp, **kwargs)


def loads(s: str | bytes, **kwargs: t.Any) -> t.Any:
    """Deserialize JSON with the current app's provider, else :func:`json.loads`."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.loads(s, **kwargs)
    return _json.loads(s, **kwargs)


def load(fp: t.IO[t.AnyStr], **kwargs: t.Any) -> t.Any:
    """Deserialize JSON read from ``fp``, as :func:`loads` does."""
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.load(fp, **kwargs)
    return _json.load(fp, **kwargs)


def jsonify(*args: t.Any, **kwargs: t.Any) -> Response:
    """Return a JSON response for the given data, with the ``application/json`` type.

    Takes one positional argument (any JSON-serializable value), several (sent as a
    list), or keyword arguments (sent as an object), not both. Dicts and lists
    returned from a view are passed through this automatically. Needs an app context.
    """
    ctx = _cv_app.get(None)
    if ctx is None:
        # Flask's text (its current_app raises it here), then what to do.
        raise RuntimeError(
            _globals.NO_APP_TEXT + "\n\n('jsonify' builds a response with the app's JSON"
            " provider: call it in a view or inside 'with app.app_context():'.)"
        )
    return ctx.app.json.response(*args, **kwargs)


__all__ = ["DefaultJSONProvider", "JSONProvider", "dump", "dumps", "jsonify", "load", "loads"]
