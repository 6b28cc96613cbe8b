"""The WSGI front door: environ in, ``start_response`` and a body iterable out.

Everything between is the core pipeline of :class:`~kolben.app.Kolben`
(``Kolben._handle_request``), run here through its synchronous twin
(``Kolben._handle_request_direct``, see :mod:`kolben.sync_twin`): user code runs
inline, an ``async def`` function on the thread's own event loop.
This module only translates I/O.
"""

from __future__ import annotations

import collections.abc as cabc
import typing as t

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .app import Kolben
    from .wrappers import Response

#: The environ key the test client uses to keep a request's contexts after it.
PRESERVE_CONTEXT_KEY = "werkzeug.debug.preserve_context"

#: The environ key of a websocket handshake that the ASGI door sends through the
#: WSGI middleware wrapping ``app.wsgi_app``: the list the environ is put in.
WEBSOCKET_PROBE_KEY = "kolben.websocket_probe"


def serve(
    app: Kolben, environ: WSGIEnvironment, start_response: StartResponse
) -> cabc.Iterable[bytes]:
    """Handle one WSGI call with ``app``.

    The request context is pushed, the request dispatched (errors turned into a
    response), the status and headers passed to ``start_response``, and the context
    popped, which runs the teardown functions. The body iterable is returned to the
    server; wrap a generator in ``stream_with_context`` to keep the context while it
    runs.
    """

    probe = environ.get(WEBSOCKET_PROBE_KEY)
    if probe is not None:
        # A websocket handshake passed through WSGI middleware on app.wsgi_app
        # (kolben.websocket.serve_websocket): the environ as the middleware made it.
        # The app that took it is recorded: a dispatcher may have handed the
        # handshake to another app (a mount). A response is started, as WSGI asks,
        # for middleware that reads the status once the app returned.
        probe.append((app, environ))
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
        return []

    def respond(response: Response) -> cabc.Iterable[bytes]:
        return response(environ, start_response)

    return app._handle_request_direct(environ, respond)
