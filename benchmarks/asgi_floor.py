"""A measuring device, not a serving path: the least kolben's ASGI door could cost.

``install()`` replaces, in this process only, the ASGI door's HTTP handler with one
function that does only what the door must do for an ``async def`` view: build
the WSGI environ (``request.environ`` is API), werkzeug's request object, the
application and request contexts, match the route, await the view, build
werkzeug's response and send it. Every check the real door makes (hooks,
signals, error handling, sessions, teardown, streaming, middleware) is left out,
so it is only correct for the benchmark apps. ``instructions.py --frameworks
kolben,kolben-floor,starlette`` counts it beside the real door and Starlette: the
gap between ``kolben-floor`` and Starlette is what the required objects cost, which
no change to the door's own code can remove.
"""

from __future__ import annotations

import io
import typing as t

from kolben import asgi
from kolben.ctx import AppContext, RequestContext
from kolben.globals import _cv_app, _cv_request
from kolben.wrappers import make_request


async def floor_http(app: t.Any, scope: dict[str, t.Any], receive: t.Any, send: t.Any) -> None:
    environ = asgi.build_environ(scope, asgi._NO_BODY)
    first = await receive()
    environ["wsgi.input"] = io.BytesIO(first.get("body", b""))
    request = make_request(app.request_class, environ)
    request.json_module = app.json
    ctx = RequestContext(app, environ, request)
    app_ctx = AppContext(app)
    app_token = _cv_app.set(app_ctx)
    request_token = _cv_request.set(ctx)
    try:
        app._match_request(request)
        view = app.view_functions[request.url_rule.endpoint]
        response = app.make_response(await view(**request.view_args))
        names = asgi._HEADER_NAMES
        await send(
            {
                "type": "http.response.start",
                "status": response.status_code,
                "headers": [
                    (names.get(name) or asgi._header_name(name), value.encode("latin-1"))
                    for name, value in response.headers.items()
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"".join(response.response)})
    finally:
        _cv_request.reset(request_token)
        _cv_app.reset(app_token)
        environ["werkzeug.request"] = None


def install() -> None:
    """Serve HTTP through :func:`floor_http` in this process (benchmarks only)."""
    asgi._serve_http = floor_http  # type: ignore[assignment]
