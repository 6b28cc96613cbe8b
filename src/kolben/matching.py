"""Matching a request to a rule of the app's URL map.

The ASGI and WSGI doors reach this through the request context's push
(:meth:`kolben.ctx.RequestContext.match_request`): the matching adapter comes
from the app's :class:`~kolben.routing.AdapterCache` (bound once per origin),
a rule without arguments is remembered per path and method, and other paths go
through the compiled router (:mod:`kolben.router`), which werkzeug backs for what
it does not cover. An app whose class overrides ``create_url_adapter`` is matched
as Flask matches it (``adapter.match()`` on the adapter it returns).

The functions take the app; ``Kolben`` keeps them as its private methods
(``app._match_request``) so that the context calls them without another layer.
"""

from __future__ import annotations

import typing as t

from werkzeug.exceptions import HTTPException

from . import router
from .blueprints import prefix_owner
from .routing import rebind
from .wrappers import routing_path

if t.TYPE_CHECKING:
    from werkzeug.routing import MapAdapter

    from .app import Kolben
    from .wrappers import Request


def matching_adapter(app: Kolben, request: Request) -> MapAdapter | None:
    """The adapter to match ``request`` with, from the cache when possible."""
    url_map = app.url_map
    # What create_url_adapter binds with besides the request: an app may change
    # it after its first request, as under Flask, which binds per request.
    settings = (
        app.config["SERVER_NAME"],
        url_map.host_matching,
        url_map.default_subdomain,
        app.subdomain_matching,
    )
    key = app._adapters.key(request, settings)
    # PERF: bind once per origin, not per request (saves ~8 µs a request), unless
    # a subclass customises create_url_adapter or TRUSTED_HOSTS must be checked.
    if key is None or not app._cache_adapters:
        return app.create_url_adapter(request)
    adapter = app._adapters.get(key)
    if adapter is None:
        adapter = app.create_url_adapter(request)
        if adapter is None:
            return None
        app._adapters.put(key, adapter)
    else:
        check_trusted_host(app, request)
    return adapter


def check_trusted_host(app: Kolben, request: Request) -> None:
    """Raise SecurityError (a 400) when ``TRUSTED_HOSTS`` excludes the host."""
    if (trusted_hosts := app.config["TRUSTED_HOSTS"]) is not None:
        request.trusted_hosts = trusted_hosts
        request.host  # noqa: B018 - raises SecurityError for an untrusted host


def match_request(app: Kolben, request: Request) -> None:
    """Match ``request``, storing the rule and arguments or the routing error.

    The path matched is the environ's ``PATH_INFO`` (:func:`routing_path`), as
    Flask matches; an adapter from an overridden ``create_url_adapter`` is
    asked as Flask asks it (``adapter.match()``, with what it was bound to).
    """
    try:
        if not app._cache_adapters:
            adapter = app.create_url_adapter(request)
            if adapter is None:
                return
            rule, view_args = adapter.match(return_rule=True)
            request.url_rule = rule
            request.view_args = view_args  # type: ignore[assignment]
            return
        adapter = matching_adapter(app, request)
        if adapter is None:
            return
        # PERF: a rule without arguments matches a path the same way every
        # time, so the adapter cache remembers its match per (adapter, path,
        # method): ~3 µs of werkzeug's matcher saved on every request to a
        # static route. Rules with converters are matched each time (a
        # converter may look things up); adding a rule to the map forgets
        # every remembered match.
        if app.url_map._remap:
            app._adapters.forget_matches()
        path = routing_path(request)
        remembered = app._adapters.matched(adapter, path, request.method)
        if remembered is not None:
            request.url_rule = remembered
            request.view_args = {}
            return
        # PERF: kolben.router matches with compiled expressions, as werkzeug's
        # walk would (werkzeug itself answers what it doesn't cover).
        rule, view_args = router.match(adapter, path, request.method, request.query_string)
    except HTTPException as e:
        request.routing_exception = e
        if app.owned_prefixes and e.code in (404, 405):
            request.prefix_owner = prefix_owner(app.owned_prefixes, request)
    else:
        request.url_rule = rule
        request.view_args = view_args
        if not rule.arguments:
            app._adapters.remember(adapter, path, request.method, rule)


def request_url_adapter(app: Kolben, request: Request) -> MapAdapter | None:
    """A per-request adapter for building URLs (bound lazily by the context).

    PERF: a copy of the cached matching adapter, bound to this request's path
    and method, instead of a new ``bind_to_environ``.
    """
    adapter = matching_adapter(app, request)
    if adapter is None or not app._cache_adapters or "HTTP_UPGRADE" in request._known_environ:
        return adapter
    return rebind(adapter, request)
