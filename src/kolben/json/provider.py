"""JSON providers: how an app turns data into JSON and back (``app.json``).

Subclass :class:`DefaultJSONProvider` (or :class:`JSONProvider` for another JSON
library) and set it as ``Kolben.json_provider_class`` to change the behaviour.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import json.encoder as _json_encoder
import typing as t
import uuid
import weakref
from datetime import date

from werkzeug.http import http_date

from ..caching import Cache

if t.TYPE_CHECKING:
    from ..app import Kolben
    from ..wrappers import Response


class JSONProvider:
    """The interface of ``app.json``; :meth:`dumps` and :meth:`loads` are needed.

    ``app`` is held weakly. Implement :meth:`dumps` and :meth:`loads`; the rest is
    built on them.
    """

    def __init__(self, app: Kolben | None) -> None:
        self._app_ref: t.Callable[[], Kolben | None] = (
            weakref.ref(app) if app is not None else (lambda: None)
        )

    @property
    def _app(self) -> Kolben:
        app = self._app_ref()
        if app is None:
            raise RuntimeError("This JSON provider is not attached to an application.")
        return app

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Serialize ``obj`` to a JSON string."""
        raise NotImplementedError

    def dump(self, obj: t.Any, fp: t.IO[str], **kwargs: t.Any) -> None:
        """Serialize ``obj`` to JSON and write it to ``fp``."""
        fp.write(self.dumps(obj, **kwargs))

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        """Deserialize ``s`` from JSON."""
        raise NotImplementedError

    def load(self, fp: t.IO[t.AnyStr], **kwargs: t.Any) -> t.Any:
        """Deserialize JSON read from ``fp``."""
        return self.loads(fp.read(), **kwargs)

    def _prepare_response_obj(self, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]) -> t.Any:
        if args and kwargs:
            raise TypeError("app.json.response() takes either args or kwargs, not both")
        if not args and not kwargs:
            return None
        if len(args) == 1:
            return args[0]
        return args or kwargs

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        """Return a response with the given data serialized as JSON.

        One positional argument is sent as is, several as a list, keyword arguments
        as an object.
        """
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(self.dumps(obj), mimetype="application/json")


def _default(o: t.Any) -> t.Any:
    if isinstance(o, date):
        return http_date(o)
    if isinstance(o, (decimal.Decimal, uuid.UUID)):
        return str(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return dataclasses.asdict(o)
    if hasattr(o, "__html__"):
        return str(o.__html__())
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def compact_encoder(
    default: t.Callable[[t.Any], t.Any], ensure_ascii: bool, sort_keys: bool
) -> t.Callable[[t.Any], str]:
    """A function giving what ``json.dumps(obj, default=default,
    ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=(",", ":"))`` gives.

    PERF: ``JSONEncoder.encode`` builds CPython's C encoder on every call (~1 µs);
    this one is built once. It skips the circular-reference bookkeeping (a shared
    record would be wrong across threads): a value that contains itself recurses
    until RecursionError, and is then encoded again by ``json.dumps``, which
    raises what it raises (``ValueError: Circular reference detected``).
    Elsewhere than CPython, a plain ``JSONEncoder`` is used.
    """
    make = getattr(_json_encoder, "c_make_encoder", None)
    if make is not None:
        try:
            encode = make(
                None,  # no circular-reference record
                default,
                (
                    _json_encoder.encode_basestring_ascii
                    if ensure_ascii
                    else _json_encoder.encode_basestring
                ),
                None,  # no indent
                ":",
                ",",
                bool(sort_keys),
                False,  # skipkeys
                True,  # allow_nan
            )
        except TypeError:  # a C encoder that takes other arguments
            pass
        else:

            def encode_compact(obj: t.Any) -> str:
                try:
                    return "".join(encode(obj, 0))
                except RecursionError:
                    return json.dumps(
                        obj,
                        default=default,
                        ensure_ascii=ensure_ascii,
                        sort_keys=sort_keys,
                        separators=(",", ":"),
                    )

            return encode_compact
    encoder = json.JSONEncoder(
        default=default, ensure_ascii=ensure_ascii, sort_keys=sort_keys, separators=(",", ":")
    )
    return encoder.encode


class DefaultJSONProvider(JSONProvider):
    """JSON with the standard library's :mod:`json`, plus a few more types.

    Besides what :mod:`json` handles, it serializes ``datetime`` and ``date``
    (as HTTP dates), ``decimal.Decimal`` and ``uuid.UUID`` (as strings),
    dataclasses (as dicts) and objects with ``__html__`` (the markup string).
    Change the attributes on ``app.json`` to adjust it.
    """

    #: Called for objects :mod:`json` can't serialize; return something it can.
    default: t.Callable[[t.Any], t.Any] = staticmethod(_default)
    #: Escape non-ASCII characters in the output.
    ensure_ascii = True
    #: Sort the keys of objects in the output.
    sort_keys = True
    #: In responses: True for compact output, False for indented, None for
    #: indented only in debug mode.
    compact: bool | None = None
    #: The mimetype of responses.
    mimetype = "application/json"

    def __init__(self, app: Kolben | None) -> None:
        #: Whether ``dumps`` was replaced on this object (``app.json.dumps =
        #: ...``): responses then use it. PERF: kept rather than looked for in
        #: the instance's ``__dict__``, whose reading makes CPython 3.11 turn
        #: the object's inline attribute values into a dict.
        self._own_dumps = False
        super().__init__(app)
        # Per settings (kolben.caching: bounded, in case the settings keep changing).
        self._encoders: Cache[tuple[t.Any, ...], json.JSONEncoder] = Cache(
            8, "kolben.json: response encoders"
        )
        self._compact: Cache[tuple[t.Any, ...], t.Callable[[t.Any], str]] = Cache(
            8, "kolben.json: compact encoders"
        )

    _own_dumps = False  # for a subclass whose __init__ doesn't call this one's
    #: The settings ``_compact_encode`` last served and its encoder for them.
    _last_compact: tuple[t.Any, t.Any, t.Any, t.Callable[[t.Any], str]] | None = None

    def __setattr__(self, name: str, value: t.Any) -> None:
        object.__setattr__(self, name, value)
        if name == "dumps":
            object.__setattr__(self, "_own_dumps", True)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name == "dumps":
            object.__setattr__(self, "_own_dumps", False)

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Serialize ``obj`` to JSON with this provider's settings.

        Keyword arguments are passed to :func:`json.dumps` and override them.
        """
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return json.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        """Deserialize ``s`` with :func:`json.loads`."""
        return json.loads(s, **kwargs)

    def _response_encoder(self, indent: bool) -> json.JSONEncoder:
        # PERF: json.dumps() with non-default options builds a JSONEncoder on every
        # call; responses reuse one per combination of settings (~1.5 µs saved).
        key = (self.default, self.ensure_ascii, self.sort_keys, indent)
        encoder = self._encoders.get(key)
        if encoder is None:
            encoder = json.JSONEncoder(
                default=self.default,
                ensure_ascii=self.ensure_ascii,
                sort_keys=self.sort_keys,
                indent=2 if indent else None,
                separators=None if indent else (",", ":"),
            )
            self._encoders.put(key, encoder)
        return encoder

    def _compact_encode(self) -> t.Callable[[t.Any], str]:
        """:func:`compact_encoder` for this provider's settings, built once."""
        default, ensure_ascii, sort_keys = self.default, self.ensure_ascii, self.sort_keys
        # PERF: the settings of the last call, compared by identity, before the
        # cache (whose key is a new tuple, hashed).
        last = self._last_compact
        if (
            last is not None
            and last[0] is default
            and last[1] is ensure_ascii
            and last[2] is sort_keys
        ):
            return last[3]
        key = (default, ensure_ascii, sort_keys)
        encode = self._compact.get(key)
        if encode is None:
            encode = self._compact.put(key, compact_encoder(*key))
        object.__setattr__(self, "_last_compact", (default, ensure_ascii, sort_keys, encode))
        return encode

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        """Return a JSON response, compact unless ``compact`` says otherwise.

        With ``compact`` None (the default) the output is indented in debug mode.
        The body ends with a newline.
        """
        obj = self._prepare_response_obj(args, kwargs)
        app = self._app
        compact = self.compact
        indent = compact is False or (compact is None and app.debug)
        # PERF: the provider's own dumps (not replaced on the class, or on this
        # object as an app may do: app.json.dumps = ...) encodes directly.
        if type(self).dumps is _DEFAULT_DUMPS and not self._own_dumps:
            if indent:
                body = self._response_encoder(indent).encode(obj)
            else:
                body = self._compact_encode()(obj)
        elif indent:
            body = self.dumps(obj, indent=2)
        else:
            body = self.dumps(obj, separators=(",", ":"))
        # PERF: from_body skips the general constructor (same result).
        from_body = getattr(app.response_class, "from_body", None)
        if from_body is not None:
            return from_body(f"{body}\n", mimetype=self.mimetype)  # type: ignore[no-any-return]
        return app.response_class(f"{body}\n", mimetype=self.mimetype)


#: DefaultJSONProvider's own dumps, as defined (see DefaultJSONProvider.response).
_DEFAULT_DUMPS = DefaultJSONProvider.dumps
