"""Routing and response behaviours as in Flask 3.1, found by running the same
apps on Flask and on kolben (both doors)."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.routing import BaseConverter, ValidationError
from werkzeug.wrappers import Response as WerkzeugResponse

import kolben


def test_a_converter_of_the_apps_own_runs_once(client_for: t.Callable[..., t.Any]) -> None:
    """A converter that refuses a value (a lookup that found nothing) is asked
    once, as werkzeug asks it, and the answer is werkzeug's 404 or 405."""
    calls: list[str] = []

    class Even(BaseConverter):
        regex = r"\d+"

        def to_python(self, value: str) -> int:
            calls.append(value)
            if int(value) % 2:
                raise ValidationError()
            return int(value)

    app = kolben.Kolben(__name__)
    app.url_map.converters["even"] = Even
    app.add_url_rule("/n/<even:n>", "n", lambda n: f"n={n}")
    app.add_url_rule("/n/<even:n>", "posted", lambda n: f"posted {n}", methods=["POST"])
    client = client_for(app)
    for path, method, status, text in [
        ("/n/3", "GET", 404, None),
        ("/n/4", "GET", 200, "n=4"),
        ("/n/6", "POST", 200, "posted 6"),
        ("/n/8", "PUT", 405, None),
    ]:
        calls.clear()
        response = client.open(path, method=method)
        assert response.status_code == status, path
        if text is not None:
            assert response.text == text
        assert calls == ([] if status == 405 else [path.rpartition("/")[2]])


def test_an_empty_method_is_not_allowed_after_other_requests(
    client_for: t.Callable[..., t.Any],
) -> None:
    """werkzeug matches an empty method as the adapter's own: the request's
    (empty, so a 405), not that of the request a cached adapter was made for."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/", "index", lambda: "index")
    app.add_url_rule("/p/<int:x>", "p", lambda x: "p")
    client = client_for(app)
    assert client.get("/").status_code == 200
    assert client.get("/p/1").status_code == 200
    assert client.open("/", method="").status_code == 405
    assert client.open("/p/1", method="").status_code == 405
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("path", ["/abort", "/missing", "/slash"])
def test_an_error_response_to_head_has_no_body_in_after_request(
    client_for: t.Callable[..., t.Any], path: str
) -> None:
    """As in Flask, which runs an HTTP exception as a WSGI app: for a HEAD
    request its response has no body (the page's Content-Length stays)."""
    app = kolben.Kolben(__name__)
    seen: list[tuple[str, bytes, str | None]] = []

    @app.after_request
    def look(response: kolben.Response) -> kolben.Response:
        seen.append((kolben.request.method, response.get_data(), response.content_length))
        return response

    app.add_url_rule("/abort", "abort", lambda: kolben.abort(403))
    app.add_url_rule("/slash/", "slash", lambda: "slash")
    client = client_for(app)
    got = client.get(path)
    head = client.head(path)
    assert head.status_code == got.status_code
    (_, get_body, get_length), (_, head_body, head_length) = seen
    assert get_body and get_length == len(get_body)
    assert head_body == b"" and head_length == get_length
    assert head.data == b""


def test_a_percent_sign_in_a_path_reaches_the_view(client_for: t.Callable[..., t.Any]) -> None:
    app = kolben.Kolben(__name__)
    app.add_url_rule("/x/<p>", "x", lambda p: f"x {p}")
    app.add_url_rule("/x/<p>/<q>", "xq", lambda p, q: f"xq {p} {q}")
    client = client_for(app)
    assert client.get("/x/a%252Fb").text == "x a%2Fb"
    assert client.get("/x/100%2541").text == "x 100%41"
    assert client.get("/x/a%2Fb").text == "xq a b"  # decoded before matching, as a server does


def test_an_after_request_function_returning_none_is_flasks_type_error(
    client_for: t.Callable[..., t.Any],
) -> None:
    app = kolben.Kolben(__name__)
    app.after_request(lambda response: None)
    app.add_url_rule("/", "index", lambda: "index")
    with pytest.raises(TypeError, match="'NoneType' object is not callable"):
        client_for(app).get("/")


def test_an_after_request_function_may_return_a_wsgi_app(
    client_for: t.Callable[..., t.Any],
) -> None:
    """Flask calls what the pipeline ends with as a WSGI application."""
    app = kolben.Kolben(__name__)
    app.after_request(lambda response: WerkzeugResponse("other", headers={"X-Other": "1"}))
    app.add_url_rule("/", "index", lambda: "index")
    response = client_for(app).get("/")
    assert response.text == "other"
    assert response.headers["X-Other"] == "1"


def test_urls_are_built_for_the_origin_the_request_was_matched_with(
    client_for: t.Callable[..., t.Any],
) -> None:
    """As Flask binds a request's URL adapter when its context is made, a
    ``before_request`` function that rewrites ``request.environ`` or a view that
    changes ``SERVER_NAME`` does not change the URLs ``url_for`` builds."""
    app = kolben.Kolben(__name__)

    @app.before_request
    def rewrite() -> None:
        if kolben.request.args.get("rewrite"):
            kolben.request.environ.update(
                HTTP_HOST="other.test", SCRIPT_NAME="/moved", **{"wsgi.url_scheme": "https"}
            )

    def view(x: int | None = None) -> str:
        app.config["SERVER_NAME"] = "changed.test"
        try:
            return kolben.url_for("static_rule", _external=True) + " " + kolben.url_for("rule", x=1)
        finally:
            app.config["SERVER_NAME"] = None

    app.add_url_rule("/s", "static_rule", view)
    app.add_url_rule("/r/<int:x>", "rule", view)
    client = client_for(app)
    for path in ["/s", "/s?rewrite=1", "/r/1", "/r/1?rewrite=1", "/s?rewrite=1"]:
        assert client.get(path).text == "http://localhost/s /r/1", path
