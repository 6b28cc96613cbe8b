"""JSON helpers that use the current app's JSON provider (``app.json``).

Outside an application context they fall back to a default provider with the same
settings, so they work in scripts too.
"""

from __future__ import annotations

import typing as t

from ..globals import _cv_app
from .provider import DefaultJSONProvider, JSONProvider

if t.TYPE_CHECKING:
    from ..wrappers import Response

_default_provider = DefaultJSONProvider(None)


def _provider() -> JSONProvider:
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json
    return _default_provider


def dumps(obj: t.Any, **kwargs: t.Any) -> str:
    """Serialize ``obj`` to a JSON string with the current app's provider."""
    return _provider().dumps(obj, **kwargs)


def dump(obj: t.Any, fp: t.IO[str], **kwargs: t.Any) -> None:
    """Serialize ``obj`` as JSON into the text file ``fp``."""
    _provider().dump(obj, fp, **kwargs)


def loads(s: str | bytes, **kwargs: t.Any) -> t.Any:
    """Deserialize a JSON string or bytes with the current app's provider."""
    return _provider().loads(s, **kwargs)


def load(fp: t.IO[t.AnyStr], **kwargs: t.Any) -> t.Any:
    """Deserialize JSON read from the file ``fp``."""
    return _provider().load(fp, **kwargs)


def jsonify(*args: t.Any, **kwargs: t.Any) -> Response:
    """Return a JSON response for the given data, with the ``application/json`` type.

    Takes one positional argument (any JSON-serializable value), several (sent as a
    list), or keyword arguments (sent as an object), not both. Dicts and lists
    returned from a view are passed through this automatically. Needs an app context.
    """
    ctx = _cv_app.get(None)
    if ctx is None:
        raise RuntimeError(
            "'jsonify' needs an application context to build a response; call it in a"
            " view or inside 'with app.app_context():'."
        )
    return ctx.app.json.response(*args, **kwargs)


__all__ = ["DefaultJSONProvider", "JSONProvider", "dump", "dumps", "jsonify", "load", "loads"]
