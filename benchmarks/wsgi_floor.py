"""A measuring device, not a serving path: the least kolben's WSGI door could cost
with the objects it builds today.

``install()`` replaces, in this process only, the WSGI door with one function that
does only what a request of the benchmark apps needs: kolben's request, the
application and request contexts, matching (the same adapter cache and compiled
router), the app's ``before_request`` / ``after_request`` / ``teardown_request``
functions called in a loop, the view, ``make_response`` and the response's own
WSGI call. Every check the real pipeline makes (overridden methods, signal
receivers, blueprint hooks, URL value preprocessors, error handling, sessions,
task resources, the test client's kept contexts, ``ensure_sync``) is left out,
so it is only correct for apps with plain sync functions and no errors.

``instructions.py --wsgi --frameworks kolben-wsgi,kolben-wsgi-floor,flask`` counts
it beside the real door: the gap between ``kolben-wsgi-floor`` and ``kolben-wsgi``
is what the pipeline's structure and checks cost (the frames of its stages, the
per-step test for a plain function, the tests for receivers and overrides); the
floor itself is what the objects cost. A per-app compiled request plan (the
checks decided once per app and the common path in one function) could reach
towards the first; only lighter objects go below the second.
"""

from __future__ import annotations

import typing as t

from kolben import app as app_module
from kolben.ctx import AppContext, RequestContext
from kolben.globals import _cv_app, _cv_request


def floor_wsgi(app: t.Any, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
    ctx = RequestContext(app, environ)
    app_ctx = AppContext(app)
    app_token = _cv_app.set(app_ctx)
    request_token = _cv_request.set(ctx)
    request = ctx.request
    try:
        app._match_request(request)
        rv = None
        for before in app.before_request_funcs.get(None, ()):
            rv = before()
            if rv is not None:
                break
        else:
            view = app.view_functions[request.url_rule.endpoint]
            rv = view(**request.view_args)
        response = app.make_response(rv)
        for after in reversed(app.after_request_funcs.get(None, ())):
            response = after(response)
        return response(environ, start_response)
    finally:
        for teardown in reversed(app.teardown_request_funcs.get(None, ())):
            teardown(None)
        _cv_request.reset(request_token)
        _cv_app.reset(app_token)
        environ["werkzeug.request"] = None


def install() -> None:
    """Serve WSGI calls through :func:`floor_wsgi` in this process (benchmarks only)."""
    app_module.serve_wsgi = floor_wsgi  # type: ignore[assignment]
