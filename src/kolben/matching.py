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

import copy
import typing as t

from werkzeug.exceptions import HTTPException

from . import router
from .blueprints import prefix_owner
from .globals import _cv_request
from .routing import rebind
from .wrappers import routing_target

if t.TYPE_CHECKING:
    from werkzeug.routing import MapAdapter

    from .app import Kolben
    from .wrappers import Request


def _settings(app: Kolben) -> tuple[t.Any, ...]:
    """What create_url_adapter binds with besides the request: an app may change
    it after its first request, as under Flask, which binds per request."""
    url_map = app.url_map
    return (
        app.config["SERVER_NAME"],
        url_map.host_matching,
        url_map.default_subdomain,
        app.subdomain_matching,
    )


def matching_adapter(app: Kolben, request: Request) -> MapAdapter | None:
    """The adapter to match ``request`` with, from the cache when possible."""
    return _adapter_for(app, request, app._adapters.key(request, _settings(app)))


def _adapter_for(app: Kolben, request: Request, key: tuple[t.Any, ...] | None) -> MapAdapter | None:
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
    elif adapter.subdomain == _INVALID_SUBDOMAIN:
        # The host is not SERVER_NAME (nor a subdomain of it): bound again, so
        # that werkzeug warns "Current server name ... doesn't match" for this
        # request too, as under Flask, which binds every request. Only requests
        # from such hosts pay for it.
        adapter = app.create_url_adapter(request)
    else:
        check_trusted_host(app, request)
    return adapter


#: The subdomain werkzeug's ``bind_to_environ`` binds to when the request's host
#: is not ``SERVER_NAME`` or one of its subdomains.
_INVALID_SUBDOMAIN = "<invalid>"


def check_trusted_host(app: Kolben, request: Request) -> None:
    """Raise SecurityError (a 400) when ``TRUSTED_HOSTS``, or else the request
    class's own ``trusted_hosts`` (werkzeug's attribute), excludes the host, as
    Flask's ``create_url_adapter`` does."""
    if (trusted_hosts := app.config["TRUSTED_HOSTS"]) is not None:
        request.trusted_hosts = trusted_hosts
    if request.trusted_hosts is not None:
        request.host  # noqa: B018 - raises SecurityError for an untrusted host


def match_request(app: Kolben, request: Request) -> None:
    """Match ``request``, storing the rule and arguments or the routing error.

    The path matched is the environ's ``PATH_INFO`` (:func:`routing_target`), as
    Flask matches; an adapter from an overridden ``create_url_adapter`` is
    asked as Flask asks it (``adapter.match()``, with what it was bound to).
    """
    key = None
    try:
        if not app._cache_adapters:
            adapter = app.create_url_adapter(request)
            # The request's context builds URLs with the adapter it was matched
            # with, as in Flask: an overridden create_url_adapter is called once.
            ctx = _cv_request.get(None)
            if ctx is not None and ctx.request is request:
                ctx.url_adapter = adapter
            if adapter is None:
                return
            rule, view_args = adapter.match(return_rule=True)
            request.url_rule = rule
            request.view_args = view_args  # type: ignore[assignment]
            return
        cache = app._adapters
        key = cache.key(request, _settings(app))
        # URLs are built for the origin and settings the request was matched
        # with, as Flask binds the request's adapter once, before the hooks run.
        request._kolben_adapter_key = key
        path, method = routing_target(request)
        if key is not None:
            # PERF: a rule without arguments matches a path the same way every
            # time, so the adapter cache remembers its match per (origin, path,
            # method): ~3 µs of werkzeug's matcher saved on every request to a
            # static route, and the adapter isn't looked up. Rules with
            # converters are matched each time (a converter may look things
            # up); adding a rule to the map forgets every remembered match.
            if app.url_map._remap:
                cache.forget_matches()
            remembered = cache.matched(key, path, method)
            if remembered is not None:
                check_trusted_host(app, request)
                request.url_rule = remembered
                request.view_args = {}
                return
        adapter = _adapter_for(app, request, key)
        if adapter is None:
            return
        if not method:
            # werkzeug matches an empty method as the adapter's own, which for
            # a request's own adapter is that empty method (a 405, as in Flask),
            # not the method of the request a cached adapter was made for.
            adapter = copy.copy(adapter)
            adapter.default_method = method
        # PERF: kolben.router matches with compiled expressions, as werkzeug's
        # walk would (werkzeug itself answers what it doesn't cover).
        rule, view_args = router.match(adapter, path, method, request.query_string)
    except HTTPException as e:
        request.routing_exception = e
        if app.owned_prefixes and e.code in (404, 405):
            request.prefix_owner = prefix_owner(app.owned_prefixes, request)
    else:
        request.url_rule = rule
        request.view_args = view_args
        if not rule.arguments and key is not None:
            app._adapters.remember(key, path, method, rule)


def request_url_adapter(app: Kolben, request: Request) -> MapAdapter | None:
    """A per-request adapter for building URLs (bound lazily by the context).

    PERF: a copy of the cached matching adapter, bound to this request's path
    and method, instead of a new ``bind_to_environ``. The adapter is the one for
    the origin and settings the request was matched with (as in Flask, which
    binds it when the context is made): a ``before_request`` function that
    changes ``request.environ`` or ``SERVER_NAME`` does not change the URLs built.
    """
    key = request._kolben_adapter_key
    adapter = app._adapters.get(key) if key is not None and app._cache_adapters else None
    if adapter is None:
        adapter = matching_adapter(app, request)
    if adapter is None or not app._cache_adapters or "HTTP_UPGRADE" in request._known_environ:
        return adapter
    return rebind(adapter, request)
