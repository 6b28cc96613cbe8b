"""Tagged JSON: a compact, lossless JSON format for the types sessions store.

JSON has no tuple, bytes, datetime, UUID or ``Markup``. The
:class:`TaggedJSONSerializer` turns such a value into a one-key object whose key is a
*tag* (a string starting with a space) and whose value is JSON, and turns it back
when loading::

    {" t": [1, 2]}                              tuple (1, 2)
    {" b": "aGk="}                              bytes b"hi" (base64)
    {" m": "<b>x</b>"}                          Markup("<b>x</b>")
    {" u": "6f9c...e2"}                         UUID (hex)
    {" d": "Wed, 21 Oct 2015 07:28:00 GMT"}     datetime (HTTP date, UTC)
    {" di": {" t__": 1}}                        a dict {" t": 1} whose only key looks
                                                like a tag

The wire format is the one Flask 3.1 uses for its session cookies, so a cookie
written by a Flask app can be read by a kolben app with the same secret key, and
the other way round.

Add a tag for your own type by subclassing :class:`JSONTag` and registering it::

    from kolben.json.tag import JSONTag

    class TagOrderedDict(JSONTag):
        __slots__ = ()
        key = " od"

        def check(self, value):
            return isinstance(value, OrderedDict)

        def to_json(self, value):
            return [[k, self.serializer.tag(v)] for k, v in value.items()]

        def to_python(self, value):
            return OrderedDict(value)

    app.session_interface.serializer.register(TagOrderedDict, index=0)
"""

from __future__ import annotations

import typing as t
from base64 import b64decode, b64encode
from datetime import datetime
from uuid import UUID

from markupsafe import Markup
from werkzeug.http import http_date, parse_date

from .. import globals as _globals
from . import dumps as _json_dumps
from . import loads as _json_loads
from .provider import DefaultJSONProvider

# PERF: assigned, not imported (see kolben.globals: a method call on an imported
# name makes a bound method per call on CPython 3.11).
_cv_app = _globals._cv_app


class JSONTag:
    """The base class of a tag for :class:`TaggedJSONSerializer`.

    A subclass sets :attr:`key` and implements :meth:`check`, :meth:`to_json` and
    :meth:`to_python`. A tag with an empty :attr:`key` is a *pass-through* tag: it
    converts a container's items but adds no marker (``dict`` and ``list`` use one).
    """

    __slots__ = ("serializer",)

    #: The tag that marks a value of this type, such as ``" t"``. Empty for a
    #: pass-through tag. Tags start with a space so they are unlikely to clash with
    #: real dict keys.
    key: str = ""

    def __init__(self, serializer: TaggedJSONSerializer) -> None:
        #: The serializer this tag belongs to, for tagging nested values.
        self.serializer = serializer

    def check(self, value: t.Any) -> bool:
        """Return True if this tag handles ``value``."""
        raise NotImplementedError

    def to_json(self, value: t.Any) -> t.Any:
        """Convert the Python ``value`` to a JSON-compatible value (without the tag)."""
        raise NotImplementedError

    def to_python(self, value: t.Any) -> t.Any:
        """Convert the JSON ``value`` (already untagged) back to the Python type."""
        raise NotImplementedError

    def tag(self, value: t.Any) -> t.Any:
        """Convert ``value`` and wrap it in a one-key object ``{key: json}``."""
        return {self.key: self.to_json(value)}


class TagDict(JSONTag):
    """A dict with a single key that is itself a registered tag, such as ``" t"``.

    Stored as ``{" di": {"<key>__": value}}`` so loading does not mistake the dict
    for a tagged value. Other dicts pass through (:class:`PassDict`).
    """

    __slots__ = ()
    key = " di"

    def check(self, value: t.Any) -> bool:
        return (
            isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in self.serializer.tags
        )

    def to_json(self, value: t.Any) -> t.Any:
        key = next(iter(value))
        return {f"{key}__": self.serializer.tag(value[key])}

    def to_python(self, value: t.Any) -> t.Any:
        key = next(iter(value))
        return {key[:-2]: value[key]}


class PassDict(JSONTag):
    """Any other dict: its values are tagged, its keys are left as they are."""

    __slots__ = ()

    def check(self, value: t.Any) -> bool:
        return isinstance(value, dict)

    def to_json(self, value: t.Any) -> t.Any:
        # JSON object keys are strings; keys are not tagged.
        tag = self.serializer.tag
        return {k: tag(v) for k, v in value.items()}

    tag = to_json


class TagTuple(JSONTag):
    """A tuple, as ``{" t": [items]}``."""

    __slots__ = ()
    key = " t"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, tuple)

    def to_json(self, value: t.Any) -> t.Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    def to_python(self, value: t.Any) -> t.Any:
        return tuple(value)


class PassList(JSONTag):
    """A list: its items are tagged, the list itself is not."""

    __slots__ = ()

    def check(self, value: t.Any) -> bool:
        return isinstance(value, list)

    def to_json(self, value: t.Any) -> t.Any:
        tag = self.serializer.tag
        return [tag(item) for item in value]

    tag = to_json


class TagBytes(JSONTag):
    """Bytes, as ``{" b": "<base64>"}``."""

    __slots__ = ()
    key = " b"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, bytes)

    def to_json(self, value: t.Any) -> t.Any:
        return b64encode(value).decode("ascii")

    def to_python(self, value: t.Any) -> t.Any:
        return b64decode(value, validate=True)


class TagMarkup(JSONTag):
    """An object with an ``__html__`` method (like :class:`~markupsafe.Markup`), as
    ``{" m": "<html>"}``; it loads as ``Markup``."""

    __slots__ = ()
    key = " m"

    def check(self, value: t.Any) -> bool:
        return callable(getattr(value, "__html__", None))

    def to_json(self, value: t.Any) -> t.Any:
        return str(value.__html__())

    def to_python(self, value: t.Any) -> t.Any:
        return Markup(value)


class TagUUID(JSONTag):
    """A :class:`~uuid.UUID`, as ``{" u": "<32 hex digits>"}``."""

    __slots__ = ()
    key = " u"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, UUID)

    def to_json(self, value: t.Any) -> t.Any:
        return value.hex

    def to_python(self, value: t.Any) -> t.Any:
        return UUID(value)


class TagDateTime(JSONTag):
    """A :class:`~datetime.datetime`, as ``{" d": "<HTTP date>"}``.

    The HTTP date format keeps whole seconds in UTC: a naive datetime is taken as
    UTC, and loading gives an aware UTC datetime without microseconds (as in Flask).
    """

    __slots__ = ()
    key = " d"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, datetime)

    def to_json(self, value: t.Any) -> t.Any:
        return http_date(value)

    def to_python(self, value: t.Any) -> t.Any:
        # As in Flask: a value werkzeug can't parse loads as None.
        return parse_date(value)


class TaggedJSONSerializer:
    """Serializes values to tagged JSON and back; see the module docs for the format.

    The session cookie interface uses one (``SecureCookieSessionInterface.serializer``).
    Its :meth:`dumps` and :meth:`loads` make it usable as an itsdangerous serializer.
    JSON text is produced by the current app's JSON provider (``app.json``), like
    Flask, so types the provider knows (``Decimal``, dataclasses, ``date``) are
    stored in the provider's way.
    """

    __slots__ = ("_builtin_only", "order", "tags")

    #: The tag classes every new serializer starts with, in the order they are tried.
    default_tags: t.ClassVar[list[type[JSONTag]]] = [
        TagDict,
        PassDict,
        TagTuple,
        PassList,
        TagBytes,
        TagMarkup,
        TagUUID,
        TagDateTime,
    ]

    def __init__(self) -> None:
        #: The tags with a key, by key, used when loading.
        self.tags: dict[str, JSONTag] = {}
        #: All tags, in the order they are tried when dumping.
        self.order: list[JSONTag] = []
        self._builtin_only = True
        for cls in self.default_tags:
            self.register(cls)

    def register(
        self, tag_class: type[JSONTag], force: bool = False, index: int | None = None
    ) -> None:
        """Add a tag type to this serializer.

        :param tag_class: the :class:`JSONTag` subclass; it is instantiated with
            this serializer.
        :param force: replace a tag already registered with the same key, instead of
            raising :exc:`KeyError`.
        :param index: where to insert the tag in the order tags are tried; the end
            by default. Put a tag for a subclass of a handled type (an
            ``OrderedDict``, say) before the tag for the base type, e.g. ``index=0``.
        """
        tag = tag_class(self)
        if tag_class not in _BUILTIN_TAGS:
            self._builtin_only = False
        key = tag.key
        if key:
            if not force and key in self.tags:
                raise KeyError(
                    f"Tag {key!r} is already registered by"
                    f" {type(self.tags[key]).__name__}; pass force=True to replace it."
                )
            self.tags[key] = tag
        if index is None:
            self.order.append(tag)
        else:
            self.order.insert(index, tag)

    def tag(self, value: t.Any) -> t.Any:
        """Convert ``value`` to its tagged JSON-compatible form (recursively)."""
        # PERF: no built-in tag handles a plain str, int, float, bool or None (exact
        # types: Markup is a str subclass), so don't try all eight; only while no
        # custom tag, which might, is registered.
        if type(value) in _PLAIN_TYPES and self._builtin_only:
            return value
        for tag in self.order:
            if tag.check(value):
                return tag.tag(value)
        return value

    def untag(self, value: dict[str, t.Any]) -> t.Any:
        """Convert one tagged object back to its Python value.

        Anything that is not a one-key object with a registered tag is returned
        unchanged. Nested values must already be untagged.
        """
        if len(value) != 1:
            return value
        key = next(iter(value))
        tag = self.tags.get(key)
        if tag is None:
            return value
        return tag.to_python(value[key])

    def _untag_scan(self, value: t.Any) -> t.Any:
        # Depth first: a tagged object's payload is restored before the tag itself.
        if isinstance(value, dict):
            return self.untag({k: self._untag_scan(v) for k, v in value.items()})
        if isinstance(value, list):
            return [self._untag_scan(item) for item in value]
        return value

    def _is_plain(self, value: t.Any) -> bool:
        """Whether tagging ``value`` would return an equal value: it is built only
        of dicts with plain string keys, lists, str, int, float, bool and None
        (exact types) and no custom tag is registered."""
        kind = type(value)
        if kind in _PLAIN_TYPES:
            return True
        if kind is dict:
            for key, item in value.items():
                # A key starting with a space might be a tag key (TagDict).
                if type(key) is not str or key[:1] == " ":
                    return False
                if type(item) not in _PLAIN_TYPES and not self._is_plain(item):
                    return False
            return True
        if kind is list:
            for item in value:
                if type(item) not in _PLAIN_TYPES and not self._is_plain(item):
                    return False
            return True
        return False

    def dumps(self, value: t.Any) -> str:
        """Tag ``value`` and serialize it to compact JSON text."""
        # PERF: most sessions hold only JSON-native values; checking that is
        # cheaper than tag(), which rebuilds every dict and list.
        plain = self._builtin_only and self._is_plain(value)
        tagged = value if plain else self.tag(value)
        ctx = _cv_app.get(None)
        if ctx is not None:
            provider = ctx.app.json
            if type(provider).dumps is DefaultJSONProvider.dumps:
                if plain:
                    # PERF: a value _is_plain walked in full can't contain itself,
                    # so the encoder without the circular check is safe here.
                    return provider._compact_encode()(tagged)  # type: ignore[attr-defined, no-any-return]
                # PERF: the default provider keeps a compact encoder with its
                # settings; json.dumps() would build one per call. Same output.
                encoder = provider._response_encoder(False)  # type: ignore[attr-defined]
                return t.cast(str, encoder.encode(tagged))
        return _json_dumps(tagged, separators=(",", ":"))

    def loads(self, value: str | bytes) -> t.Any:
        """Parse tagged JSON text and restore the tagged values."""
        parsed = _json_loads(value)
        # PERF: every tag key starts with a space, so tagged JSON holds a string
        # starting with one ('" '); without one there is nothing to restore.
        if isinstance(value, bytes):
            if b'" ' not in value:
                return parsed
        elif '" ' not in value:
            return parsed
        return self._untag_scan(parsed)


_BUILTIN_TAGS: frozenset[type[JSONTag]] = frozenset(TaggedJSONSerializer.default_tags)
_PLAIN_TYPES: frozenset[type] = frozenset({str, int, float, bool, type(None)})

__all__ = [
    "JSONTag",
    "PassDict",
    "PassList",
    "TagBytes",
    "TagDateTime",
    "TagDict",
    "TagMarkup",
    "TagTuple",
    "TagUUID",
    "TaggedJSONSerializer",
]
