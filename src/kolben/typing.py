"""Type aliases for annotating views, hooks and handlers."""

from __future__ import annotations

import collections.abc as cabc
import typing as t

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from werkzeug.datastructures import Headers
    from werkzeug.sansio.response import Response

#: What a view may return as the body.
ResponseValue = t.Union[
    "Response",
    str,
    bytes,
    bytearray,
    list[t.Any],
    t.Mapping[str, t.Any],
    t.Iterator[str],
    t.Iterator[bytes],
    cabc.AsyncIterable[str],
    cabc.AsyncIterable[bytes],
]

#: A header value, and what may be passed as headers.
HeaderValue = t.Union[str, list[str], tuple[str, ...]]
HeadersValue = t.Union[
    "Headers",
    t.Mapping[str, HeaderValue],
    t.Sequence[tuple[str, HeaderValue]],
]

#: What a view may return.
ResponseReturnValue = t.Union[
    ResponseValue,
    tuple[ResponseValue, HeadersValue],
    tuple[ResponseValue, int],
    tuple[ResponseValue, int, HeadersValue],
    "WSGIApplication",
]

ResponseClass = t.TypeVar("ResponseClass", bound="Response")

AppOrBlueprintKey = t.Optional[str]
AfterRequestCallable = t.Union[
    t.Callable[[ResponseClass], ResponseClass],
    t.Callable[[ResponseClass], t.Awaitable[ResponseClass]],
]
BeforeRequestCallable = t.Union[
    t.Callable[[], ResponseReturnValue | None],
    t.Callable[[], t.Awaitable[ResponseReturnValue | None]],
]
TeardownCallable = t.Union[
    t.Callable[[BaseException | None], None],
    t.Callable[[BaseException | None], t.Awaitable[None]],
]
TemplateContextProcessorCallable = t.Union[
    t.Callable[[], dict[str, t.Any]],
    t.Callable[[], t.Awaitable[dict[str, t.Any]]],
]
#: Flask 2.3 removed ``before_first_request``; the type stays, as in Flask.
BeforeFirstRequestCallable = t.Union[t.Callable[[], None], t.Callable[[], t.Awaitable[None]]]
ShellContextProcessorCallable = t.Callable[[], dict[str, t.Any]]
TemplateFilterCallable = t.Callable[..., t.Any]
TemplateGlobalCallable = t.Callable[..., t.Any]
TemplateTestCallable = t.Callable[..., bool]
URLDefaultCallable = t.Callable[[str, dict[str, t.Any]], None]
URLValuePreprocessorCallable = t.Callable[[str | None, dict[str, t.Any] | None], None]
ErrorHandlerCallable = t.Union[
    t.Callable[[t.Any], ResponseReturnValue],
    t.Callable[[t.Any], t.Awaitable[ResponseReturnValue]],
]
RouteCallable = t.Union[
    t.Callable[..., ResponseReturnValue],
    t.Callable[..., t.Awaitable[ResponseReturnValue]],
]


# -- ASGI (https://asgi.readthedocs.io/en/latest/specs/main.html) -----------------------

#: The connection scope an ASGI server passes (``scope["type"]`` is ``"http"``,
#: ``"websocket"`` or ``"lifespan"``).
ASGIScope = t.MutableMapping[str, t.Any]
#: One event received from or sent to the server.
ASGIMessage = t.MutableMapping[str, t.Any]
#: The server's ``receive`` callable.
ASGIReceive = t.Callable[[], t.Awaitable[ASGIMessage]]
#: The server's ``send`` callable.
ASGISend = t.Callable[[ASGIMessage], t.Awaitable[None]]
#: An ASGI 3 application: ``await app(scope, receive, send)``.
ASGIApplication = t.Callable[[ASGIScope, ASGIReceive, ASGISend], t.Awaitable[None]]
