"""A measuring device, not a serving path: the least kolben's ASGI door could cost.

``install()`` replaces, in this process only, the ASGI door's HTTP handler with one
function that does only what the door must do for an ``async def`` view: make the
request (from the scope, its environ made only if read, as the door does for a
request without a body; else the WSGI environ and werkzeug's request), the
application and request contexts, match the route, await the view, build the
response and send it. Every check the real door makes (hooks, signals, error
handling, sessions, teardown, streaming, middleware) is left out, so it is only
correct for the benchmark apps (``asgi_run.py``'s ``hello``, ``json``, ``params``).

``instructions.py --frameworks kolben,kolben-floor,starlette`` counts it beside the
real door and Starlette, and ``serve.py --groups asgi --floor`` serves it beside
them under uvicorn: the gap between ``kolben-floor`` and Starlette is what the
required objects cost, which no change to the door's checks can remove; the gap
between ``kolben`` and ``kolben-floor`` is what the checks and the pipeline's
structure cost.
"""

from __future__ import annotations

import io
import typing as t

from kolben import asgi
from kolben.asgi_environ import scan_headers, scope_request, scope_requests_allowed
from kolben.ctx import AppContext, RequestContext
from kolben.globals import _cv_app, _cv_request
from kolben.wrappers import make_request


def _request(app: t.Any, scope: dict[str, t.Any], first: dict[str, t.Any]) -> t.Any:
    """The request as the door makes it: from the scope for a GET without framing
    headers (a request class kolben allows it for), else from a WSGI environ."""
    if scope["method"] == "GET" and scope_requests_allowed(app.request_class):
        known = scan_headers(scope)
        if "CONTENT_LENGTH" not in known and "HTTP_TRANSFER_ENCODING" not in known:
            return scope_request(app.request_class, scope, known)
    environ = asgi.build_environ(scope, asgi._NO_BODY)
    environ["wsgi.input"] = io.BytesIO(first.get("body", b""))
    return make_request(app.request_class, environ)


async def floor_http(app: t.Any, scope: dict[str, t.Any], receive: t.Any, send: t.Any) -> None:
    request = _request(app, scope, {} if scope["method"] == "GET" else await receive())
    request.json_module = app.json
    ctx = RequestContext(app, None, request)
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
        environ = request.__dict__.get("environ")
        if environ is not None:
            environ["werkzeug.request"] = None


def install() -> None:
    """Serve HTTP through :func:`floor_http` in this process (benchmarks only)."""
    asgi._serve_http = floor_http  # type: ignore[assignment]
