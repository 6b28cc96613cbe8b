"""Debug-mode routing redirects (``kolben.debughelpers.FormDataRoutingRedirect``):
a form posted to a URL that redirects is an error that explains itself in debug
mode, and only then."""

from __future__ import annotations

import pytest
import werkzeug.routing
import werkzeug.serving


@pytest.fixture
def redirect_app(app, monkeypatch):
    # werkzeug's routing redirects are 308, which keeps the body; make them 301
    monkeypatch.setattr(werkzeug.routing.RequestRedirect, "code", 301)

    @app.route("/foo/", methods=["GET", "POST"])
    def foo():
        return "foo"

    app.add_url_rule("/old", endpoint="old", redirect_to="/foo/", methods=["GET", "POST"])
    return app


def test_form_post_to_a_redirecting_url_in_debug_mode(redirect_app, client):
    from kolben.debughelpers import FormDataRoutingRedirect

    redirect_app.debug = True
    with pytest.raises(FormDataRoutingRedirect) as info:
        client.post("/foo?x=1", data={"a": "b"})
    message = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "'http://localhost/foo?x=1'" in message
    assert "canonical URL 'http://localhost/foo/?x=1'" in message
    assert "trailing slash" in message
    assert "307 or 308" in message
    assert message.endswith("This exception is only raised in debug mode.")


def test_form_post_to_a_redirect_rule_in_debug_mode(redirect_app, client):
    from kolben.debughelpers import FormDataRoutingRedirect

    redirect_app.debug = True
    with pytest.raises(FormDataRoutingRedirect) as info:
        client.post("/old", data={"a": "b"})
    message = str(info.value)
    assert "canonical URL 'http://localhost/foo/'" in message
    assert "trailing slash" not in message
    assert "debug mode" in message


def test_routing_redirects_without_the_debug_error(redirect_app, client):
    redirect_app.debug = True
    rv = client.get("/foo")
    assert rv.status_code == 301
    assert rv.headers["Location"] == "http://localhost/foo/"
    assert client.head("/old").status_code == 301
    redirect_app.debug = False
    rv = client.post("/foo", data={"a": "b"})
    assert rv.status_code == 301
    assert rv.headers["Location"] == "http://localhost/foo/"


def test_permanent_redirect_keeping_the_body_is_not_an_error(app, client):
    @app.route("/foo/", methods=["POST"])
    def foo():
        return "foo"

    app.debug = True
    rv = client.post("/foo", data={"a": "b"})
    assert rv.status_code == 308
    assert rv.headers["Location"] == "http://localhost/foo/"
