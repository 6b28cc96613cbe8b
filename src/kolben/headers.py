"""Response headers: werkzeug's :class:`~werkzeug.datastructures.Headers`, with
setting one header made direct.

``response.headers[name] = value`` (and ``headers.set(name, value)``) is what
``after_request`` hooks and extensions (CORS, security headers) do on every
response. werkzeug's ``set`` validates the value with a regular expression, builds
a keyword dict, then walks the list with an iterator and ``enumerate``: about
0.7 µs to add one header to a fresh response. For the usual call, a ``str`` name
and a ``str`` value with no line break, this class does the same change to the
header list in about half of that; any other call (bytes or int values, keyword
options, slices, indexes, a value with a newline, which werkzeug refuses) is
werkzeug's own.

The responses kolben makes itself (:meth:`kolben.wrappers.Response.from_body`:
strings, JSON, the automatic responses) carry this class; a response built by
werkzeug's constructor carries werkzeug's. Both behave the same: this class
compares equal to werkzeug's with the same headers (either way round) and shows
the same ``repr``.
"""

from __future__ import annotations

import re
import typing as t

from werkzeug.datastructures import Headers as _WerkzeugHeaders

#: A character RFC 9110 does not allow in a header name (a token).
INVALID_NAME_CHARACTER = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
#: A character RFC 9110 does not allow in a header value: a control character
#: other than the tab, or DEL. Servers refuse to send them (uvicorn drops the
#: connection, gunicorn answers 500).
INVALID_VALUE_CHARACTER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _lowered(item: tuple[str, str]) -> tuple[str, str]:
    return item[0].lower(), item[1]


class Headers(_WerkzeugHeaders):
    """werkzeug's ``Headers`` with a direct path for setting a ``str`` header.

    Named as werkzeug's class: its ``repr`` (``Headers([...])``) reads the same.
    """

    def __setitem__(self, key: t.Any, value: t.Any) -> None:
        if type(key) is str and type(value) is str and "\n" not in value and "\r" not in value:
            # werkzeug's set(): the first header of that name (in any case) is
            # replaced in place, the others removed; else it is appended.
            items = self._list
            lowered = key.lower()
            # PERF: the names looked at unpacked, without an index (the usual
            # case is a new name, appended: on a fresh response's two headers
            # counting the index costs more than the scan).
            for name, _ in items:
                if name.lower() == lowered:
                    break
            else:
                items.append((key, value))
                return
            # The name is there: replaced where it first is, removed after it.
            index = [name.lower() for name, _ in items].index(lowered)
            items[index] = (key, value)
            items[index + 1 :] = [rest for rest in items[index + 1 :] if rest[0].lower() != lowered]
        elif isinstance(key, str):
            # What werkzeug's __setitem__ does for a name: werkzeug's set().
            _WerkzeugHeaders.set(self, key, value)
        else:  # an index or a slice
            _WerkzeugHeaders.__setitem__(self, key, value)

    def set(self, key: str, value: t.Any, /, **kwargs: t.Any) -> None:
        """Remove every header named ``key`` (in any case) and add ``key: value``
        in the place of the first; see werkzeug's
        :meth:`~werkzeug.datastructures.Headers.set`."""
        if kwargs or type(key) is not str:
            _WerkzeugHeaders.set(self, key, value, **kwargs)
        else:
            self[key] = value

    def __eq__(self, other: object) -> bool:
        # werkzeug's equality (the same headers, names in any case, order aside):
        # against the same class, as werkzeug's, and between this class and
        # werkzeug's own, either way round.
        cls = other.__class__
        if cls is not self.__class__ and (
            self.__class__ is not Headers or cls is not _WerkzeugHeaders
        ):
            return NotImplemented
        items: list[tuple[str, str]] = other._list  # type: ignore[attr-defined]
        return set(map(_lowered, self._list)) == set(map(_lowered, items))

    __hash__ = None


#: The header classes whose list of ``(name, value)`` pairs (``_list``) kolben's
#: one-pass paths read directly: this one and werkzeug's. Anything else an app
#: assigns to ``response.headers`` (a dict, say) goes through werkzeug's methods.
LISTED_HEADER_CLASSES = frozenset({Headers, _WerkzeugHeaders})
