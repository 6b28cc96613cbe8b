"""Testing tools: a test client that keeps contexts, and a CLI runner.

``KolbenClient`` and ``KolbenCliRunner`` are also exported as ``FlaskClient`` and
``FlaskCliRunner`` so tests written for Flask run unchanged.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from copy import copy
from functools import cache
from types import TracebackType
from urllib.parse import urlsplit

import werkzeug.test
from click.testing import CliRunner, Result
from werkzeug.test import Client
from werkzeug.wrappers import Request as BaseRequest

from .cli import ScriptInfo
from .ctx import AppContext, RequestContext
from .globals import _cv_app, _cv_request
from .websocket_testing import TIMEOUT, HeadersLike
from .websocket_testing import AsyncWebsocketTestConnection as AsyncWebsocketTestConnection
from .websocket_testing import WebsocketHandshake as WebsocketHandshake
from .websocket_testing import WebsocketResponseError as WebsocketResponseError
from .websocket_testing import WebsocketTestConnection as WebsocketTestConnection
from .websocket_testing import WebsocketTimeout as WebsocketTimeout
from .wsgi import PRESERVE_CONTEXT_KEY

if t.TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from werkzeug.test import TestResponse

    from .app import Kolben
    from .sessions import SessionMixin


class CookiesDisabledError(TypeError, RuntimeError):
    """:meth:`KolbenClient.session_transaction` on a client made with
    ``use_cookies=False``. A :exc:`TypeError` as in Flask, and a
    :exc:`RuntimeError`."""


class BuilderArgumentsError(AssertionError, ValueError):
    """``EnvironBuilder`` (and ``test_request_context``) given ``base_url`` with
    ``subdomain`` or ``url_scheme``. An :exc:`AssertionError` as in Flask, and a
    :exc:`ValueError`."""


class NestedClientError(RuntimeError):
    """A test client's ``with`` block can't be entered or its kept contexts
    popped: ``with client:`` inside the same client's block, or blocks of two
    clients that overlap instead of nesting. A :exc:`RuntimeError`, as Flask's
    "Cannot nest client invocations"."""


class EnvironBuilder(werkzeug.test.EnvironBuilder):
    """werkzeug's :class:`~werkzeug.test.EnvironBuilder` with defaults from the app.

    The base URL comes from ``SERVER_NAME`` (or ``localhost``),
    ``APPLICATION_ROOT`` and ``PREFERRED_URL_SCHEME``; JSON bodies use ``app.json``.

    :param app: the app the environ is for.
    :param path: the URL path; it may carry a query string, scheme and host.
    :param base_url: the base URL; can't be combined with ``subdomain`` or
        ``url_scheme``.
    :param subdomain: a subdomain to prefix to ``SERVER_NAME``.
    :param url_scheme: the scheme, instead of ``PREFERRED_URL_SCHEME``.
    """

    def __init__(
        self,
        app: Kolben,
        path: str = "/",
        base_url: str | None = None,
        subdomain: str | None = None,
        url_scheme: str | None = None,
        *args: t.Any,
        **kwargs: t.Any,
    ) -> None:
        if base_url is not None and (subdomain or url_scheme):
            raise BuilderArgumentsError(
                'Cannot pass "subdomain" or "url_scheme" with "base_url".'
                ' Pass "subdomain" and "url_scheme", or "base_url", not both.'
            )
        if base_url is None:
            http_host = app.config.get("SERVER_NAME") or "localhost"
            app_root = app.config["APPLICATION_ROOT"]
            if subdomain:
                http_host = f"{subdomain}.{http_host}"
            if url_scheme is None:
                url_scheme = app.config["PREFERRED_URL_SCHEME"]
            url = urlsplit(path)
            scheme = url.scheme or url_scheme
            base_url = f"{scheme}://{url.netloc or http_host}/{app_root.lstrip('/')}"
            path = url.path
            if url.query:
                path = f"{path}?{url.query}"
        self.app = app
        super().__init__(path, base_url, *args, **kwargs)

    def json_dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        """Serialize ``json=`` bodies with the app's JSON provider."""
        return self.app.json.dumps(obj, **kwargs)


class KolbenClient(Client):
    """A test client for a kolben app: ``client = app.test_client()``.

    werkzeug's :class:`~werkzeug.test.Client` plus: ``json=`` bodies encoded
    with the app's provider, the app's defaults for the base URL, and ``with
    client:`` which keeps the last request's contexts (``request``, ``g``)
    active until the block ends::

        with app.test_client() as client:
            client.get("/?name=x")
            assert request.args["name"] == "x"
    """

    application: Kolben

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.preserve_context = False
        # Contexts the app handed over at the end of a request (with client:),
        # then those pushed again, in push order, until the block ends.
        self._new_contexts: list[t.ContextManager[t.Any]] = []
        self._kept: list[t.ContextManager[t.Any]] = []
        self._context_stack = ExitStack()
        self.environ_base = {
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": f"Werkzeug/{_werkzeug_version()}",
        }

    def _copy_environ(self, other: WSGIEnvironment) -> WSGIEnvironment:
        out = {**self.environ_base, **other}
        if self.preserve_context:
            out[PRESERVE_CONTEXT_KEY] = self._new_contexts.append
        return out

    def _request_from_builder_args(
        self, args: tuple[t.Any, ...], kwargs: dict[str, t.Any]
    ) -> BaseRequest:
        kwargs["environ_base"] = self._copy_environ(kwargs.get("environ_base", {}))
        builder = EnvironBuilder(self.application, *args, **kwargs)
        try:
            return builder.get_request()
        finally:
            builder.close()

    def open(
        self,
        *args: t.Any,
        buffered: bool = False,
        follow_redirects: bool = False,
        **kwargs: t.Any,
    ) -> TestResponse:
        """Send a request to the app; arguments as for :meth:`werkzeug.test.Client.open`.

        Inside ``with client:`` the contexts of the request are kept afterwards;
        with ``follow_redirects=True``, those of the last request (the one that
        gave the response), as in Flask.
        """
        if args and isinstance(args[0], (werkzeug.test.EnvironBuilder, dict, BaseRequest)):
            if isinstance(args[0], werkzeug.test.EnvironBuilder):
                # A copy: the caller's builder keeps its own environ_base.
                builder = copy(args[0])
                builder.environ_base = self._copy_environ(dict(builder.environ_base or {}))
                request = builder.get_request()
            elif isinstance(args[0], dict):
                request = EnvironBuilder.from_environ(
                    args[0], app=self.application, environ_base=self._copy_environ({})
                ).get_request()
            else:
                request = copy(args[0])
                request.environ = self._copy_environ(request.environ)
        else:
            request = self._request_from_builder_args(args, kwargs)

        # Pop the contexts kept from the previous request before making a new one
        # (a redirect followed is a new request too).
        self._pop_kept_contexts()
        try:
            response = super().open(request, buffered=buffered, follow_redirects=follow_redirects)
        except BaseException:
            # The app raised (TESTING): its contexts were popped and are not kept;
            # pushing them again later would run their teardown functions twice.
            self._new_contexts.clear()
            raise
        response.json_module = self.application.json  # type: ignore[assignment]
        # Push again the contexts the request(s) kept, in the order they were kept
        # (app, then request; a followed redirect's after the first request's), so
        # the last request's are the active ones until the block ends.
        for cm in self._new_contexts:
            self._context_stack.enter_context(cm)
            self._kept.append(cm)
        self._new_contexts.clear()
        return response

    def _pop_kept_contexts(self) -> None:
        """Pop the contexts this client kept (``with client:``), after checking
        that they are the active ones.

        :raises NestedClientError: another client's ``with`` block (or a context
            pushed since) is open above them; popping from under it would leave
            the context stack in a state nothing can undo. Nothing is popped.
        """
        if not self._kept:
            return
        # (The ASGI client's kept contexts may be wrappers: see asgi_testing.)
        kept = [getattr(cm, "kolben_kept_context", cm) for cm in self._kept]
        top_request = next((c for c in reversed(kept) if isinstance(c, RequestContext)), None)
        top_app = next((c for c in reversed(kept) if isinstance(c, AppContext)), None)
        active_request = _cv_request.get(None)
        active_app = _cv_app.get(None)
        if active_request is not top_request or active_app is not top_app:
            active = active_request if active_request is not top_request else active_app
            raise NestedClientError(
                "Cannot nest client invocations: the contexts this test client kept"
                " for its 'with' block are not the active ones. Another client's"
                f" 'with' block, or a context pushed since ({active!r}), is still"
                " open above them: end it first. 'with' blocks of test clients must"
                " nest, the inner one ending first, and a client can't send a"
                " request while another client's block is open inside its own."
            )
        self._kept.clear()
        self._context_stack.close()

    def websocket(
        self,
        path: str = "/",
        *,
        headers: HeadersLike | None = None,
        query_string: str | bytes | t.Mapping[str, t.Any] | None = None,
        subprotocols: t.Iterable[str] | None = None,
        base_url: str | None = None,
        subdomain: str | None = None,
        url_scheme: str | None = None,
        timeout: float = TIMEOUT,
    ) -> WebsocketHandshake:
        """Open a WebSocket to the app, through its ASGI door (``app.asgi_app``),
        without a server. ``with`` the result for a blocking connection, ``async
        with`` it in an async test::

            with client.websocket("/echo", subprotocols=["chat"]) as ws:
                ws.send("hello")                 # str: a text frame, bytes: binary
                assert ws.receive() == "hello"
                ws.send_json({"n": 1})
                assert ws.receive_json() == {"n": 1}

            async with client.websocket("/echo") as ws:
                await ws.send("hello")
                assert await ws.receive() == "hello"

        The handshake carries this client's cookies (a session from earlier
        requests reaches the view) and ``headers``; ``query_string``, ``base_url``,
        ``subdomain`` and ``url_scheme`` (``http``/``ws`` or ``https``/``wss``) are
        as for requests. Entering waits for the app to accept: a refusal raises
        :exc:`~kolben.testing.WebsocketResponseError` with the HTTP response. The
        app closing the connection makes ``receive()`` raise
        :exc:`~kolben.WebsocketDisconnect` with its code; no message within
        ``timeout`` seconds raises :exc:`~kolben.testing.WebsocketTimeout`. Leaving
        the block closes the connection (1000) and waits for the app to end.
        See :mod:`kolben.websocket_testing`.
        """
        return WebsocketHandshake(
            self,
            path,
            headers=headers,
            query_string=query_string,
            subprotocols=subprotocols,
            base_url=base_url,
            subdomain=subdomain,
            url_scheme=url_scheme,
            timeout=timeout,
        )

    @contextmanager
    def session_transaction(self, *args: t.Any, **kwargs: t.Any) -> Iterator[SessionMixin]:
        """Open the session stored in this client's cookies, to read or change it
        between requests; changes are saved back when the block ends::

            with client.session_transaction() as session:
                session["user_id"] = 42
            client.get("/profile")  # the request sees user_id == 42

        The arguments are those of :meth:`Kolben.test_request_context` (for example
        a path or ``base_url``), for session backends that depend on the request;
        the cookies sent are those that apply to that URL.

        :raises CookiesDisabledError: (a :exc:`TypeError` and :exc:`RuntimeError`)
            when the client was made with ``use_cookies=False``.
        :raises RuntimeError: when the session backend gives no session, which
            for the default backend means no ``SECRET_KEY`` is set.
        """
        if self._cookies is None:
            raise CookiesDisabledError(
                "Cookies are disabled. Create a client with 'use_cookies=True'. (The"
                " client has no session without cookies; 'app.test_client()' uses"
                " cookies by default.)"
            )
        app = self.application
        interface = app.session_interface
        ctx = app.test_request_context(*args, **kwargs)
        self._add_cookies_to_wsgi(ctx.request.environ)
        with ctx:
            sess = interface.open_session(app, ctx.request)
        if sess is None:
            raise RuntimeError(
                "Session backend did not open a session, so there is nothing to"
                " change. With the default cookie sessions this means no secret key is"
                " set: set 'app.secret_key' (or 'SECRET_KEY' in the config)."
            )
        yield sess
        if interface.is_null_session(sess):
            return  # as Flask: a null session is given, and nothing is saved
        response = app.response_class()
        with ctx:
            interface.save_session(app, sess, response)
        self._update_cookies_from_response(
            ctx.request.host.partition(":")[0],
            ctx.request.path,
            response.headers.getlist("Set-Cookie"),
        )

    def __enter__(self) -> KolbenClient:
        if self.preserve_context:
            raise NestedClientError(
                "Cannot nest client invocations: this test client's 'with' block is"
                " already open. Use one 'with client:' block, or a second client."
            )
        self.preserve_context = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Checked first: if another client's block is still open above this one,
        # the error says so and this block stays open (end the other one, then
        # this one) instead of corrupting the context stack.
        self._pop_kept_contexts()
        self.preserve_context = False


@cache
def _werkzeug_version() -> str:
    from importlib.metadata import version

    return version("werkzeug")


class KolbenCliRunner(CliRunner):
    """Runs the app's click commands in isolation: ``app.test_cli_runner()``."""

    def __init__(self, app: Kolben, **kwargs: t.Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(  # type: ignore[override]
        self, cli: t.Any = None, args: t.Any = None, **kwargs: t.Any
    ) -> Result:
        """Invoke ``cli`` (default: ``app.cli``) with ``args``.

        The app is passed to commands through a :class:`~kolben.cli.ScriptInfo`,
        so ``@with_appcontext`` commands run in its application context.
        """
        if cli is None:
            cli = self.app.cli
        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(cli, args, **kwargs)


#: Flask's names for the same classes.
FlaskClient = KolbenClient
FlaskCliRunner = KolbenCliRunner
