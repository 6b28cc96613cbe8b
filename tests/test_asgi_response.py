"""kolben.asgi.asgi_response: the ASGI door's conversion of a response object is
what the general WSGI conversion (``get_wsgi_response``) gives, in ASGI's types,
for every kind of response (its one-pass fast path included)."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.wrappers import Response as WerkzeugResponse

from kolben import Kolben, Response
from kolben.asgi import asgi_response


def _environ(method: str = "GET") -> dict[str, t.Any]:
    return {
        "REQUEST_METHOD": method,
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "localhost",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
    }


Converted = tuple[bytes, int, list[tuple[bytes, bytes]]]


def _general(response: t.Any, environ: dict[str, t.Any]) -> Converted:
    app_iter, status, headers = response.get_wsgi_response(environ)
    body = b"".join(app_iter)
    return (
        body,
        int(status.split(" ", 1)[0]),
        [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers],
    )


def _fast(response: t.Any, environ: dict[str, t.Any]) -> Converted:
    app_iter, status, headers = asgi_response(response, environ)
    return b"".join(app_iter), status, headers


class Custom(Response):
    def get_wsgi_headers(self, environ: t.Any) -> t.Any:
        headers = super().get_wsgi_headers(environ).copy()
        headers["X-Custom"] = "1"
        return headers


def _cases() -> list[tuple[str, t.Callable[[], t.Any], str]]:
    def with_headers() -> Response:
        rv = Response("hi", headers={"X-A": "1", "Set-Cookie": "a=b"})
        rv.headers.add("X-A", "2")
        return rv

    def without_length() -> Response:
        rv = Response("hi")
        del rv.headers["Content-Length"]
        return rv

    def no_content() -> Response:
        return Response("", status=204)

    def not_modified() -> Response:
        return Response("x", status=304)

    def informational() -> Response:
        return Response("", status=103)

    def redirect() -> Response:
        return Response("", status=302, headers={"Location": "/elsewhere"})

    def content_location() -> Response:
        return Response("x", headers={"Content-Location": "/there"})

    def closing() -> Response:
        rv = Response("x")
        rv.call_on_close(lambda: None)
        return rv

    def passthrough() -> Response:
        rv = Response(b"x")
        rv.direct_passthrough = True
        return rv

    def two_chunks() -> Response:
        return Response([b"a", b"b"])

    def generated() -> Response:
        return Response(iter([b"a", "b"]))

    def error() -> Response:
        return Response("boom", status=500, mimetype="text/plain")

    def json() -> Response:
        return Response('{"a": 1}', mimetype="application/json")

    def latin1() -> Response:
        return Response("x", headers={"X-Name": "caf\xe9"})

    return [
        ("plain", lambda: Response("hello"), "GET"),
        ("plain, HEAD", lambda: Response("hello"), "HEAD"),
        ("headers", with_headers, "GET"),
        ("no length", without_length, "GET"),
        ("204", no_content, "GET"),
        ("304", not_modified, "GET"),
        ("103", informational, "GET"),
        ("redirect", redirect, "GET"),
        ("content-location", content_location, "GET"),
        ("on close", closing, "GET"),
        ("direct passthrough", passthrough, "GET"),
        ("two chunks", two_chunks, "GET"),
        ("generator", generated, "GET"),
        ("500", error, "POST"),
        ("json", json, "GET"),
        ("latin-1 header", latin1, "GET"),
        ("werkzeug's class", lambda: WerkzeugResponse("w"), "GET"),
        ("subclass with its own headers", lambda: Custom("c"), "GET"),
    ]


@pytest.mark.parametrize(
    ("make", "method"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()]
)
def test_asgi_response_is_the_wsgi_response(make: t.Callable[[], t.Any], method: str) -> None:
    app = Kolben(__name__)
    with app.test_request_context(method=method):
        assert _fast(make(), _environ(method)) == _general(make(), _environ(method))


def test_the_door_sends_what_the_conversion_gives() -> None:
    app = Kolben(__name__)

    @app.route("/")
    async def index() -> Response:
        return Response("hello", headers={"X-A": "1"})

    @app.route("/redirect")
    def moved() -> Response:
        return Response("", status=302, headers={"Location": "/"})

    client = app.asgi_test_client()
    rv = client.get("/")
    assert rv.status_code == 200
    assert rv.data == b"hello"
    assert rv.headers["X-A"] == "1"
    assert rv.headers["Content-Length"] == "5"
    rv = client.get("/redirect")
    assert rv.status_code == 302
    assert rv.headers["Location"] == "/"


def _from_wsgi_call(response: t.Any, environ: dict[str, t.Any]) -> t.Any:
    started: list[t.Any] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: t.Any = None
    ) -> t.Any:
        started.append((status, headers))
        return lambda data: None

    app_iter = response(environ, start_response)
    body = b"".join(app_iter)
    if hasattr(app_iter, "close"):
        app_iter.close()
    ((status, headers),) = started
    return body, status, headers


def _werkzeugs_wsgi_call(response: t.Any, environ: dict[str, t.Any]) -> t.Any:
    # werkzeug's own __call__: get_wsgi_response (with kolben's overrides of
    # get_wsgi_headers and get_app_iter, which are werkzeug's in effect).
    app_iter, status, headers = response.get_wsgi_response(environ)
    return b"".join(app_iter), status, headers


@pytest.mark.parametrize(
    ("make", "method"), [c[1:] for c in _cases()], ids=[c[0] for c in _cases()]
)
def test_a_response_called_as_wsgi_app_is_its_wsgi_response(
    make: t.Callable[[], t.Any], method: str
) -> None:
    """Response.__call__'s one-pass path gives what get_wsgi_response gives:
    status line, header list (a list of its own) and body."""
    app = Kolben(__name__)
    with app.test_request_context(method=method):
        response = make()
        called = _from_wsgi_call(response, _environ(method))
        assert called == _werkzeugs_wsgi_call(make(), _environ(method))
        # The server may change the list it was given: not the response's own.
        assert called[2] is not response.headers._list


def test_a_subclass_status_or_wsgi_methods_are_honoured_when_called_as_wsgi_app() -> None:
    class Teapot(Response):
        @property  # type: ignore[override]
        def status(self) -> str:
            return "418 I'M A TEAPOT"

        @status.setter
        def status(self, value: t.Any) -> None:
            Response.status.fset(self, value)  # type: ignore[attr-defined]

    class Extra(Response):
        def get_wsgi_response(self, environ: t.Any) -> t.Any:
            app_iter, status, headers = super().get_wsgi_response(environ)
            return app_iter, status, [*headers, ("X-Extra", "1")]

    app = Kolben(__name__)
    with app.test_request_context():
        assert _from_wsgi_call(Teapot("t"), _environ())[1] == "418 I'M A TEAPOT"
        assert ("X-Extra", "1") in _from_wsgi_call(Extra("e"), _environ())[2]
