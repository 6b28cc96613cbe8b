"""The WSGI front door: environ in, ``start_response`` and a body iterable out.

Everything between is the core pipeline of :class:`~kolben.app.Kolben`; this module
only translates I/O and owns the context's lifetime for one WSGI call.
"""

from __future__ import annotations

import sys
import typing as t

from .globals import _cv_app, _cv_request

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .app import Kolben
    from .ctx import RequestContext

#: The environ key the test client uses to keep a request's contexts after it.
PRESERVE_CONTEXT_KEY = "werkzeug.debug.preserve_context"


def serve(app: Kolben, environ: WSGIEnvironment, start_response: StartResponse) -> t.Any:
    """Handle one WSGI call with ``app``.

    The request context is pushed, the request dispatched (errors turned into a
    response), the status and headers passed to ``start_response``, and the context
    popped, which runs the teardown functions. The body iterable is returned to the
    server; wrap a generator in ``stream_with_context`` to keep the context while it
    runs.
    """
    ctx = app.request_context(environ)
    error: BaseException | None = None
    try:
        try:
            ctx.push()
            response = app.full_dispatch_request()
        except Exception as e:
            error = e
            response = app.handle_exception(e)
        except:
            error = sys.exc_info()[1]
            raise
        return response(environ, start_response)
    finally:
        end_request(app, ctx, environ, error)


def end_request(
    app: Kolben, ctx: RequestContext, environ: WSGIEnvironment, error: BaseException | None
) -> None:
    """Pop the request's contexts (running the teardown functions), first handing
    them to the test client when it asked to keep them (``with client:``)."""
    if PRESERVE_CONTEXT_KEY in environ:
        environ[PRESERVE_CONTEXT_KEY](_cv_app.get())
        environ[PRESERVE_CONTEXT_KEY](_cv_request.get())
    if error is not None and app.should_ignore_error(error):
        error = None
    ctx.pop(error)
