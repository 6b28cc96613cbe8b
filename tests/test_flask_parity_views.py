"""Class-based views, streamed bodies, JSON and teardown as in Flask 3.1 (both
doors), found by running the same apps on Flask and on kolben."""

from __future__ import annotations

import asyncio
import typing as t
from unittest import mock

import pytest

import kolben
from kolben.json.provider import DefaultJSONProvider
from kolben.views import MethodView, View


def test_an_apps_own_ensure_sync_sees_a_class_views_functions(
    client_for: t.Callable[..., t.Any],
) -> None:
    calls: list[str] = []

    class App(kolben.Kolben):
        def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
            calls.append(func.__name__)
            return super().ensure_sync(func)

    class Things(MethodView):
        def get(self) -> str:
            return "got"

    class Plain(View):
        def dispatch_request(self) -> str:
            return "plain"

    app = App(__name__)
    app.add_url_rule("/things", view_func=Things.as_view("things"))
    app.add_url_rule("/plain", view_func=Plain.as_view("plain"))
    client = client_for(app)
    assert client.get("/things").text == "got"
    assert calls == ["things", "dispatch_request", "get"]
    calls.clear()
    assert client.get("/plain").text == "plain"
    assert calls == ["plain", "dispatch_request"]


def test_a_replaced_dispatch_request_is_called(client_for: t.Callable[..., t.Any]) -> None:
    class Things(MethodView):
        def __init__(self, replace: bool = False) -> None:
            if replace:
                self.dispatch_request = lambda **kwargs: "instance"  # type: ignore[method-assign]

        def get(self) -> str:
            return "got"

    app = kolben.Kolben(__name__)
    app.add_url_rule("/own", view_func=Things.as_view("own", replace=True))
    app.add_url_rule("/plain", view_func=Things.as_view("plain"))
    client = client_for(app)
    assert client.get("/own").text == "instance"
    assert client.get("/plain").text == "got"
    with mock.patch.object(MethodView, "dispatch_request", lambda self, **kwargs: "patched"):
        assert client.get("/plain").text == "patched"


def test_a_class_views_own_constructor_runs_where_sync_code_runs(
    client_for: t.Callable[..., t.Any],
) -> None:
    """Under ASGI a constructor of the class's own is sync code: not on the
    event loop (where asyncio.run() would refuse to run)."""

    async def load() -> str:
        return "loaded"

    class Configured(MethodView):
        def __init__(self) -> None:
            self.value = asyncio.run(load())

        async def get(self) -> str:
            return self.value

    app = kolben.Kolben(__name__)
    app.add_url_rule("/c", view_func=Configured.as_view("c"))
    assert client_for(app).get("/c").text == "loaded"


def test_a_json_dumps_replaced_on_the_provider_makes_responses(
    client_for: t.Callable[..., t.Any],
) -> None:
    app = kolben.Kolben(__name__)
    app.json.dumps = lambda obj, **kwargs: '"custom"'  # type: ignore[method-assign]
    app.add_url_rule("/d", "d", lambda: {"a": 1})
    app.add_url_rule("/j", "j", lambda: kolben.jsonify(a=1))
    client = client_for(app)
    assert client.get("/d").data == b'"custom"\n'
    assert client.get("/j").data == b'"custom"\n'
    other = kolben.Kolben(__name__)
    other.add_url_rule("/d", "d", lambda: {"a": 1})
    with mock.patch.object(DefaultJSONProvider, "dumps", lambda self, obj, **kw: "PATCHED"):
        assert client_for(other).get("/d").data == b"PATCHED\n"


def test_provide_automatic_options_true_adds_no_method(
    client_for: t.Callable[..., t.Any],
) -> None:
    """As Flask's code: OPTIONS is added only when the app decides it."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/a", "a", lambda: "a", provide_automatic_options=True)
    app.add_url_rule("/b", "b", lambda: "b")
    client = client_for(app)
    response = client.options("/a")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD"}
    assert set(client.options("/b").headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


@pytest.mark.parametrize("replace", ["raise", "response", "head"])
def test_a_streamed_body_that_is_not_sent_leaves_no_context(
    client_for: t.Callable[..., t.Any], replace: str
) -> None:
    """A ``stream_with_context`` body replaced by an ``after_request`` function
    (or its error's 500), or not sent for a HEAD request, pops what it pushed:
    the request is torn down once with its own error, and the next request
    starts clean."""
    seen: list[str] = []
    app = kolben.Kolben(__name__)
    app.teardown_request(lambda error: seen.append(repr(error)))

    @app.after_request
    def replace_it(response: kolben.Response) -> kolben.Response:
        if kolben.request.path == "/s" and replace == "raise":
            raise KeyError("after")
        if kolben.request.path == "/s" and replace == "response":
            return kolben.Response("new")
        return response

    @app.get("/s")
    def streamed() -> t.Any:
        kolben.g.user = "alice"
        return kolben.stream_with_context(iter(["a"]))

    app.add_url_rule("/next", "next", lambda: repr(kolben.g.get("user")))
    client = client_for(app)
    first = client.open("/s", method="HEAD" if replace == "head" else "GET")
    first.close()
    assert client.get("/next").text == "None"
    assert seen == [repr(KeyError("after")) if replace == "raise" else "None", "None"]
    assert not kolben.has_app_context()


def test_a_sent_streamed_body_keeps_the_contexts_until_it_ends(
    client_for: t.Callable[..., t.Any],
) -> None:
    seen: list[str] = []
    app = kolben.Kolben(__name__)
    app.teardown_request(lambda error: seen.append(repr(error)))

    @app.get("/s")
    def streamed() -> t.Any:
        kolben.g.user = "alice"
        return kolben.stream_with_context(iter(["a", kolben.g.user]))

    response = client_for(app).get("/s")
    assert response.text == "aalice"
    assert seen == ["None"]


def test_do_teardown_request_outside_a_request_is_flasks_error() -> None:
    app = kolben.Kolben(__name__)
    with pytest.raises(RuntimeError, match="Working outside of request context"):
        app.do_teardown_request()
    app.teardown_request(lambda error: None)
    with app.app_context(), pytest.raises(RuntimeError, match="outside of request context"):
        app.do_teardown_request()


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("after", ["replace", "wrap", "wrap_in_place"])
def test_a_streamed_body_replaced_or_wrapped_by_another_stream(
    client_for: t.Callable[..., t.Any], door: str, is_async: bool, after: str
) -> None:
    """An ``after_request`` function that answers with another streamed body:
    one that drops the view's stream (the stream is closed when the request
    ends, teardown runs once), or one that wraps it (the stream is sent, with
    the request's contexts, and teardown runs once at its end)."""
    seen: list[str] = []
    app = kolben.Kolben(__name__)
    app.teardown_request(lambda error: seen.append(repr(error)))

    def upper(chunks: t.Iterable[t.Any]) -> t.Iterator[bytes]:
        for chunk in chunks:
            yield (chunk if isinstance(chunk, bytes) else chunk.encode()).upper()

    @app.after_request
    def answer(response: kolben.Response) -> kolben.Response:
        if kolben.request.path != "/s":
            return response
        if after == "replace":
            return kolben.Response(iter([b"replaced"]))
        if after == "wrap":
            return kolben.Response(upper(response.response))
        response.response = upper(response.response)
        return response

    def body() -> t.Iterator[str]:
        yield "a"
        yield kolben.g.user

    if is_async:

        @app.get("/s")
        async def streamed() -> t.Any:
            kolben.g.user = "alice"
            return kolben.Response(kolben.stream_with_context(body()))

    else:

        @app.get("/s")
        def streamed() -> t.Any:
            kolben.g.user = "alice"
            return kolben.Response(kolben.stream_with_context(body()))

    app.add_url_rule("/next", "next", lambda: repr(kolben.g.get("user")))
    client = client_for(app)
    response = client.get("/s")
    assert response.data == (b"replaced" if after == "replace" else b"AALICE")
    response.close()
    # An async view under WSGI pushes the contexts again when the body is
    # iterated, as Flask 3.1 does: its teardown runs then too.
    twice = door == "wsgi" and is_async and after != "replace"
    assert seen == ["None", "None"] if twice else ["None"]
    assert client.get("/next").text == "None"
    assert len(seen) == (3 if twice else 2)
    assert not kolben.has_app_context()
