"""What may be set on the contexts: a context's ``url_adapter`` (used by
``url_for``, and by automatic OPTIONS when it is None) and the request context's
``session``."""

from __future__ import annotations

import kolben
from helpers import kolben_only
from kolben import request


def test_context_url_adapters_can_be_replaced(app):
    app.add_url_rule("/", "index", lambda: "")
    with app.app_context() as ctx:
        ctx.url_adapter = app.url_map.bind("other.test", url_scheme="https")
        assert kolben.url_for("index") == "https://other.test/"
    with app.test_request_context("/") as ctx:
        assert kolben.url_for("index") == "/"
        ctx.url_adapter = app.url_map.bind("x.test", script_name="/sub")
        assert kolben.url_for("index") == "/sub/"
        assert kolben.url_for("index", _external=True) == "http://x.test/sub/"


@kolben_only
def test_automatic_options_without_a_url_adapter(app, client):
    from kolben.globals import request_ctx

    @app.route("/", methods=["GET", "POST"])
    def index():
        return "index"

    @app.before_request
    def forget_adapter():
        if request.args.get("forget"):
            request_ctx.url_adapter = None

    assert set(client.options("/").allow) == {"GET", "HEAD", "OPTIONS", "POST"}
    rv = client.options("/?forget=1")
    assert rv.status_code == 200
    assert "Allow" not in rv.headers


@kolben_only
def test_request_context_session_can_be_replaced(app):
    # Flask 3.1.3's RequestContext.session is read-only; kolben lets it be set.
    with app.test_request_context() as ctx:
        ctx.session = {"user": "ann"}
        assert kolben.session["user"] == "ann"
        assert ctx.session == {"user": "ann"}
