"""kolben's fast paths give what werkzeug gives, in the cases a differential
run against werkzeug found them apart."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.datastructures import Headers as WerkzeugHeaders
from werkzeug.routing import RequestRedirect

import kolben
from kolben.globals import _cv_request
from kolben.headers import Headers
from kolben.wrappers import Response


def _environ(**extra: t.Any) -> dict[str, t.Any]:
    environ = {
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SCRIPT_NAME": "/app",
    }
    environ.update(extra)
    return environ


def _call(app: kolben.Kolben, environ: dict[str, t.Any]) -> tuple[str, dict[str, str], bytes]:
    got: dict[str, t.Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: t.Any = None) -> None:
        got.update(status=status, headers=dict(headers))

    body = b"".join(app(environ, start_response))
    return got["status"], got["headers"], body


def test_a_missing_path_info_is_routed_as_slash_an_empty_one_as_empty() -> None:
    """werkzeug binds a missing PATH_INFO as "/"; only an empty one is the
    mount point itself (redirected to its slash)."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    status, _, body = _call(app, _environ())
    assert (status, body) == ("200 OK", b"index")
    status, headers, _ = _call(app, _environ(PATH_INFO=""))
    assert status == "308 PERMANENT REDIRECT"
    assert headers["Location"] == "http://localhost/app/"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("default_mimetype", "text/plain"),
        ("default_status", 201),
        ("automatically_set_content_length", False),
    ],
)
def test_response_defaults_changed_after_first_use_are_used(name: str, value: t.Any) -> None:
    cls = type("Custom", (Response,), {})
    cls.from_body("x")  # checked and made fast with the defaults it had
    setattr(cls, name, value)
    fast, slow = cls.from_body("x"), cls("x")
    assert (fast.status, fast.headers.to_wsgi_list()) == (slow.status, slow.headers.to_wsgi_list())


def test_a_base_class_default_changed_later_reaches_string_responses(
    client_for: t.Callable[..., t.Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = kolben.Kolben(__name__)
    app.add_url_rule("/", "index", lambda: "text")
    client = client_for(app)
    assert client.get("/").mimetype == "text/html"
    monkeypatch.setattr(Response, "default_mimetype", "text/plain")
    assert client.get("/").mimetype == "text/plain"


def test_get_wsgi_headers_returns_new_headers() -> None:
    """As werkzeug documents: changing what it returns leaves the response alone."""
    response = Response(b"body")
    sent = response.get_wsgi_headers({"REQUEST_METHOD": "GET"})
    assert sent is not response.headers
    sent["X-Sent-Only"] = "1"
    assert "X-Sent-Only" not in response.headers


def test_the_request_url_adapter_is_bound_as_bind_to_environ_binds() -> None:
    """Its query string decoded as UTF-8 (a redirect keeps "é"), its path the
    environ's PATH_INFO."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/a/", "a", lambda: "a")

    @app.route("/probe")
    def probe() -> str:
        adapter = _cv_request.get().url_adapter
        assert adapter is not None
        with pytest.raises(RequestRedirect) as info:
            adapter.match("/a")
        return f"{info.value.new_url} {adapter.path_info}"

    # A server passes the query string's bytes as latin-1 text (PEP 3333).
    raw_query = "q=\u00c3\u00a9"  # the UTF-8 bytes of "é"
    response = app.test_client().get("/probe", environ_overrides={"QUERY_STRING": raw_query})
    assert response.text == "http://localhost/a/?q=\u00e9 /probe"  # as Flask gives


def test_headers_subclasses_compare_equal_as_werkzeugs() -> None:
    class Mine(Headers):
        pass

    class Theirs(WerkzeugHeaders):
        pass

    assert Mine([("A", "1")]) == Mine([("a", "1")])
    assert Theirs([("A", "1")]) == Theirs([("a", "1")])
    assert Headers([("A", "1")]) == WerkzeugHeaders([("a", "1")])
    assert WerkzeugHeaders([("A", "1")]) == Headers([("a", "1")])
    assert Mine([("A", "1")]) != Headers([("A", "1")])
    assert Theirs([("A", "1")]) != WerkzeugHeaders([("A", "1")])


def test_automatic_options_at_an_empty_path_allows_what_werkzeug_finds() -> None:
    """The automatic OPTIONS answer asks the request's adapter, bound to the
    empty PATH_INFO (the mount point itself), as Flask's is: no rule there."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/", "index", lambda: "index", strict_slashes=False)
    status, headers, _ = _call(app, _environ(REQUEST_METHOD="OPTIONS", PATH_INFO=""))
    assert status == "200 OK"
    assert "Allow" not in headers
    status, headers, _ = _call(app, _environ(REQUEST_METHOD="OPTIONS", PATH_INFO="/"))
    assert set(headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
