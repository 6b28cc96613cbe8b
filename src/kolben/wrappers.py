"""The request and response objects: werkzeug's, with what an app adds.

The request knows the route it matched (``url_rule``, ``view_args``, ``endpoint``,
``blueprint``) and reads its size limits from the current app's config; the
response defaults to HTML and takes its cookie size limit from the config too.
"""

from __future__ import annotations

import typing as t

from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.wrappers import Request as _WerkzeugRequest
from werkzeug.wrappers import Response as _WerkzeugResponse

from . import json
from .globals import _cv_app

if t.TYPE_CHECKING:
    from werkzeug.routing import Rule


def _config_value(key: str, default: t.Any) -> t.Any:
    ctx = _cv_app.get(None)
    if ctx is None:
        return default
    return ctx.app.config[key]


class Request(_WerkzeugRequest):
    """The request object used by default in kolben.

    It is werkzeug's :class:`~werkzeug.wrappers.Request` plus what routing
    records about the request, and size limits taken from the app's config
    (``MAX_CONTENT_LENGTH``, ``MAX_FORM_MEMORY_SIZE``, ``MAX_FORM_PARTS``), which
    may also be set on one request, e.g. in a ``before_request`` function.
    """

    json_module: t.Any = json

    #: The rule that matched the request, or None before matching or on failure.
    url_rule: Rule | None = None
    #: The keyword arguments from matching the rule, or None.
    view_args: dict[str, t.Any] | None = None
    #: The 404, 405 or redirect raised while matching, raised when dispatching.
    routing_exception: HTTPException | None = None

    _max_content_length: int | None = None
    _max_form_memory_size: int | None = None
    _max_form_parts: int | None = None

    @property
    def max_content_length(self) -> int | None:
        """The largest request body accepted, in bytes (``MAX_CONTENT_LENGTH``).

        A larger body raises a 413 when it is read. Setting it on the request
        overrides the config for this request only.
        """
        if self._max_content_length is not None:
            return self._max_content_length
        return _config_value("MAX_CONTENT_LENGTH", None)  # type: ignore[no-any-return]

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:
        """The largest non-file form field, in bytes (``MAX_FORM_MEMORY_SIZE``)."""
        if self._max_form_memory_size is not None:
            return self._max_form_memory_size
        return _config_value(  # type: ignore[no-any-return]
            "MAX_FORM_MEMORY_SIZE", _WerkzeugRequest.max_form_memory_size
        )

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value

    @property  # type: ignore[override]
    def max_form_parts(self) -> int | None:
        """The most fields a multipart form may have (``MAX_FORM_PARTS``)."""
        if self._max_form_parts is not None:
            return self._max_form_parts
        return _config_value(  # type: ignore[no-any-return]
            "MAX_FORM_PARTS", _WerkzeugRequest.max_form_parts
        )

    @max_form_parts.setter
    def max_form_parts(self, value: int | None) -> None:
        self._max_form_parts = value

    @property
    def endpoint(self) -> str | None:
        """The endpoint of the matched rule, or None if matching failed."""
        if self.url_rule is not None:
            return t.cast(str, self.url_rule.endpoint)
        return None

    @property
    def blueprint(self) -> str | None:
        """The dotted name of the blueprint the matched endpoint belongs to, or None."""
        endpoint = self.endpoint
        if endpoint is not None and "." in endpoint:
            return endpoint.rpartition(".")[0]
        return None

    @property
    def blueprints(self) -> list[str]:
        """The current blueprint and its parents, innermost first (empty if none)."""
        name = self.blueprint
        if name is None:
            return []
        return split_blueprint_path(name)

    def on_json_loading_failed(self, e: ValueError | None) -> t.Any:
        """Called when :meth:`get_json` fails: 415 without a JSON content type, 400
        for a malformed body. In debug mode the 400 says what was wrong."""
        try:
            return super().on_json_loading_failed(e)
        except BadRequest as ebr:
            if _config_value("DEBUG", False):
                raise
            raise BadRequest() from ebr


class Response(_WerkzeugResponse):
    """The response object used by default in kolben.

    werkzeug's :class:`~werkzeug.wrappers.Response` with ``text/html`` as the
    default mimetype, the app's JSON provider for :attr:`json`, and
    ``MAX_COOKIE_SIZE`` from the config.
    """

    default_mimetype: str | None = "text/html"
    json_module: t.Any = json
    autocorrect_location_header = False

    _max_cookie_size: int | None = None

    @property
    def max_cookie_size(self) -> int:
        """The cookie size above which werkzeug warns (``MAX_COOKIE_SIZE``)."""
        if self._max_cookie_size is not None:
            return self._max_cookie_size
        return _config_value(  # type: ignore[no-any-return]
            "MAX_COOKIE_SIZE", _WerkzeugResponse.max_cookie_size
        )

    @max_cookie_size.setter
    def max_cookie_size(self, value: int) -> None:
        self._max_cookie_size = value


def split_blueprint_path(name: str) -> list[str]:
    """``"a.b.c"`` -> ``["a.b.c", "a.b", "a"]``: a blueprint and its parents."""
    out = [name]
    while "." in name:
        name = name.rpartition(".")[0]
        out.append(name)
    return out
