"""The URL adapters of matching: ``TRUSTED_HOSTS`` checked on every request with
the cached adapter, an app whose ``create_url_adapter`` gives none, and the
bounded adapter cache (``kolben.routing.AdapterCache``)."""

from __future__ import annotations

import warnings

import pytest

import kolben
from helpers import kolben_only
from kolben import request


def test_trusted_hosts_are_checked_on_every_request(app, client):
    @app.route("/")
    def index():
        return kolben.url_for("index", _external=True)

    assert client.get("/", base_url="http://a.test").data == b"http://a.test/"
    app.config["TRUSTED_HOSTS"] = ["b.test"]
    assert client.get("/", base_url="http://a.test").status_code == 400
    assert client.get("/", base_url="http://b.test").data == b"http://b.test/"
    assert client.get("/", base_url="http://b.test").data == b"http://b.test/"
    app.config["TRUSTED_HOSTS"] = [".test"]
    assert client.get("/", base_url="http://a.test").data == b"http://a.test/"
    assert client.get("/", base_url="http://evil.example").status_code == 400


def test_server_name_mismatch_warns_on_every_request(client_for):
    # werkzeug warns when it binds a request whose host is not SERVER_NAME (nor a
    # subdomain of it, under subdomain_matching); Flask binds every request, so
    # every such request warns. The cached adapter warned for the first only.
    app = kolben.Kolben("mismatch", subdomain_matching=True)
    app.config["SERVER_NAME"] = "dom.test"

    @app.route("/")
    def index():
        return "index"

    @app.route("/t", subdomain="<tenant>")
    def tenant(tenant):
        return tenant + " " + kolben.url_for("tenant", tenant="a")

    client = client_for(app)
    message = (
        "Current server name 'other.test:8000' doesn't match configured server name 'dom.test'"
    )
    for _ in range(3):
        with pytest.warns(UserWarning) as record:
            assert client.get("/", headers={"Host": "Other.test:8000"}).status_code == 404
        assert [str(w.message) for w in record] == [message]
    # One warning a request, also when the request builds URLs.
    with pytest.warns(UserWarning) as record:
        rv = client.get("/t", headers={"Host": "other.test:8000"})
    assert rv.data == b"<invalid> http://a.dom.test/t"
    assert [str(w.message) for w in record] == [message]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert client.get("/", headers={"Host": "dom.test"}).data == b"index"
        assert client.get("/t", headers={"Host": "b.dom.test"}).data == b"b http://a.dom.test/t"


def test_app_without_url_adapter_for_requests(client_for):
    class NoAdapter(kolben.Kolben):
        def create_url_adapter(self, request):
            if request is not None:
                return None
            return super().create_url_adapter(request)

    app = NoAdapter("no_adapter")
    seen = []

    @app.before_request
    def answer():
        seen.append((request.url_rule, request.routing_exception, request.endpoint))
        return "answered before routing"

    rv = client_for(app).get("/anything")
    assert rv.status_code == 200
    assert rv.data == b"answered before routing"
    assert seen == [(None, None, None)]


def test_an_overridden_create_url_adapter_is_called_once_per_request(client_for):
    # Flask matches and builds URLs with the one adapter its request context
    # made; kolben asked the override again for url_for (twice the work of one
    # that looks the tenant up, say).
    calls = []

    class Tenants(kolben.Kolben):
        def create_url_adapter(self, request):
            calls.append(request is not None)
            adapter = super().create_url_adapter(request)
            if adapter is not None:
                adapter.url_scheme = "https"
            return adapter

    app = Tenants("tenants")

    @app.route("/")
    def index():
        return kolben.url_for("index", _external=True)

    rv = client_for(app).get("/")
    assert rv.data == b"https://localhost/"
    assert calls.count(True) == 1


@kolben_only
def test_adapter_cache_is_bounded(app):
    from kolben.routing import AdapterCache

    cache = AdapterCache(max_size=2)
    adapter = app.url_map.bind("a.test")
    with app.test_request_context(base_url="http://a.test") as ctx:
        key = cache.key(ctx.request, None)
    with app.test_request_context(headers={"Upgrade": "websocket"}) as ctx:
        assert cache.key(ctx.request, None) is None
    cache.put(key, adapter)
    cache.put(("b",), adapter)
    assert cache.get(key) is adapter
    cache.put(("c",), adapter)  # full: cleared before adding
    assert cache.get(key) is None
    assert cache.get(("c",)) is adapter
    cache.clear()
    assert cache.get(("c",)) is None
