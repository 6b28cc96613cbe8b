"""Driving the ASGI door from the test client.

:class:`KolbenASGIClient` has the interface of :class:`~kolben.testing.KolbenClient`
(methods, ``json=``, ``follow_redirects``, cookies, ``session_transaction``,
``with client:``) but sends every request through ``app.asgi_app`` instead of
``app.wsgi_app``: the request becomes an ASGI scope and ``receive``/``send``
messages, exactly as an ASGI server would deliver it.
"""

from __future__ import annotations

import asyncio
import threading
import typing as t
from urllib.parse import quote

from werkzeug.http import HTTP_STATUS_CODES

from .asgi import _HEADER_NAMES, ENVIRON_EXTRA_KEY
from .asgi_environ import SCOPE_ENTRIES
from .testing import KolbenClient

if t.TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from .app import Kolben

# Environ keys the ASGI door rebuilds from the scope; everything else is passed on.
_REBUILT = SCOPE_ENTRIES


def environ_to_scope(environ: WSGIEnvironment) -> dict[str, t.Any]:
    """The ASGI HTTP scope an ASGI server would build for this request."""
    path = environ.get("PATH_INFO", "").encode("latin-1")
    root_path = environ.get("SCRIPT_NAME", "").encode("latin-1")
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if not value:
                continue
            name = key.replace("_", "-").lower()
        else:
            continue
        headers.append((name.encode("latin-1"), str(value).encode("latin-1")))
    client = environ.get("REMOTE_ADDR")
    scope: dict[str, t.Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": environ.get("SERVER_PROTOCOL", "HTTP/1.1").partition("/")[2] or "1.1",
        "method": environ.get("REQUEST_METHOD", "GET"),
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": (root_path + path).decode("utf-8", "replace"),
        "raw_path": quote(root_path + path, safe="/%:@!$&'()*+,;=").encode("ascii"),
        "root_path": root_path.decode("utf-8", "replace"),
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "server": (environ.get("SERVER_NAME", "localhost"), int(environ.get("SERVER_PORT") or 80)),
        "client": (client, int(environ.get("REMOTE_PORT") or 0)) if client else None,
        ENVIRON_EXTRA_KEY: {k: v for k, v in environ.items() if k not in _REBUILT},
    }
    for key in [k for k in scope[ENVIRON_EXTRA_KEY] if k.startswith("HTTP_")]:
        del scope[ENVIRON_EXTRA_KEY][key]
    return scope


def header_names() -> dict[bytes, str]:
    """Each response header name the ASGI door sent (lowercase, as ASGI
    requires), mapped to the name as the app wrote it (``Set-Cookie``,
    ``X-RateLimit-Limit``), from the door's own record of the names it
    converted. Where an app wrote one name in several cases, a case other than
    all-lowercase is preferred, the first one seen."""
    names: dict[bytes, str] = {}
    for name, raw in list(_HEADER_NAMES.items()):
        known = names.get(raw)
        if known is None or (known == known.lower() and name != name.lower()):
            names[raw] = name
    return names


class ASGIBridge:
    """A WSGI callable that serves each request through ``app.asgi_app`` on a new
    event loop (the test's "server loop"), closed with its worker threads after
    the response."""

    def __init__(self, app: Kolben) -> None:
        self.app = app

    def __getattr__(self, name: str) -> t.Any:
        # The client holds the bridge as its application while a request runs:
        # a request the same client makes meanwhile (from a view) reads the
        # app's attributes (config, json) through it.
        return getattr(self.app, name)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        scope = environ_to_scope(environ)
        stream = environ["wsgi.input"]
        start = stream.tell() if stream.seekable() else None
        body = stream.read()
        if start is not None:
            stream.seek(start)  # a redirect that keeps the method sends it again
        messages: list[dict[str, t.Any]] = []
        sent_body = False
        responded = asyncio.Event()

        async def receive() -> dict[str, t.Any]:
            # The body, then (as uvicorn does) a disconnect once the response
            # is complete; until then nothing.
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            await responded.wait()
            return {"type": "http.disconnect"}

        async def send(message: t.MutableMapping[str, t.Any]) -> None:
            messages.append(dict(message))
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                responded.set()

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.app.asgi_app(scope, receive, send))
        else:
            # A request made from an ``async def`` view (its loop is busy until
            # this returns): served on a loop of its own in another thread.
            failure: list[BaseException] = []

            def serve() -> None:
                try:
                    asyncio.run(self.app.asgi_app(scope, receive, send))
                except BaseException as e:  # re-raised in the caller's thread
                    failure.append(e)

            thread = threading.Thread(target=serve, name="kolben-asgi-test-request")
            thread.start()
            thread.join()
            if failure:
                raise failure[0]
        start = messages[0]
        assert start["type"] == "http.response.start", messages
        status = int(start["status"])
        # Header names as the app wrote them, as the WSGI door's test client
        # shows them (tests written for Flask compare "Set-Cookie" exactly).
        names = header_names()
        start_response(
            f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}",
            [
                (names.get(k) or k.decode("latin-1"), v.decode("latin-1"))
                for k, v in start["headers"]
            ],
        )
        # The chunks the app sent (not the empty one that ends a stream, which
        # the WSGI door's iterable doesn't have).
        return [
            m["body"]
            for m in messages[1:]
            if m["type"] == "http.response.body" and m.get("body")
        ]


class KolbenASGIClient(KolbenClient):
    """The test client, sending requests through the ASGI door:
    ``app.asgi_test_client()``."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._bridge = ASGIBridge(self.application)

    def run_wsgi_app(
        self, environ: WSGIEnvironment, buffered: bool = False
    ) -> tuple[t.Iterable[bytes], str, t.Any]:
        # werkzeug's client handles cookies around self.application: swap in the
        # bridge for the call, keep the app everywhere else (json, config, builder).
        app = self.application
        self.application = self._bridge  # type: ignore[assignment]
        try:
            return super().run_wsgi_app(environ, buffered=buffered)
        finally:
            self.application = app
