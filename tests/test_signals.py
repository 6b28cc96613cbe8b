"""Core signals: who sends them, with which keyword arguments, in which order."""

from __future__ import annotations

import io
from contextlib import ExitStack, contextmanager

import pytest

import kolben
import kolben.signals
from kolben import (
    abort,
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    g,
    got_request_exception,
    has_app_context,
    has_request_context,
    request,
    request_finished,
    request_started,
    request_tearing_down,
)

ALL_SIGNALS = {
    "appcontext_pushed": appcontext_pushed,
    "request_started": request_started,
    "got_request_exception": got_request_exception,
    "request_finished": request_finished,
    "request_tearing_down": request_tearing_down,
    "appcontext_tearing_down": appcontext_tearing_down,
    "appcontext_popped": appcontext_popped,
}


@contextmanager
def recording(app, *names):
    """Record (signal name, sender, kwargs) for the given signals sent by app."""
    events = []
    with ExitStack() as stack:
        for name in names or ALL_SIGNALS:

            def receiver(sender, _name=name, **kwargs):
                events.append((_name, sender, kwargs))

            stack.enter_context(ALL_SIGNALS[name].connected_to(receiver, app))
        yield events


def _names(events):
    return [e[0] for e in events]


# --- module exports -------------------------------------------------------------------


def test_signals_exported_from_signals_module():
    for name, sig in ALL_SIGNALS.items():
        assert getattr(kolben.signals, name) is sig
        assert getattr(kolben, name) is sig


# --- a successful request ------------------------------------------------------------


def test_request_signal_order(app, client):
    app.add_url_rule("/", "index", lambda: "ok")
    with recording(app) as events:
        client.get("/")
    assert _names(events) == [
        "appcontext_pushed",
        "request_started",
        "request_finished",
        "request_tearing_down",
        "appcontext_tearing_down",
        "appcontext_popped",
    ]
    assert all(sender is app for _, sender, _ in events)


def test_signal_order_relative_to_hooks(app, client):
    calls = []
    app.before_request(lambda: calls.append("before"))

    @app.after_request
    def after(response):
        calls.append("after")
        return response

    app.teardown_request(lambda exc: calls.append("teardown_request"))
    app.teardown_appcontext(lambda exc: calls.append("teardown_appcontext"))

    @app.route("/")
    def index():
        calls.append("view")
        return "ok"

    def rec(name):
        return lambda sender, **kw: calls.append(name)

    receivers = {name: rec(name) for name in ALL_SIGNALS}
    with ExitStack() as stack:
        for name, sig in ALL_SIGNALS.items():
            stack.enter_context(sig.connected_to(receivers[name], app))
        client.get("/")
    assert calls == [
        "appcontext_pushed",
        "request_started",
        "before",
        "view",
        "after",
        "request_finished",
        "teardown_request",
        "request_tearing_down",
        "teardown_appcontext",
        "appcontext_tearing_down",
        "appcontext_popped",
    ]


def test_request_started_no_kwargs_and_request_available(app, client):
    seen = []

    def receiver(sender, **kwargs):
        seen.append((sender, kwargs, request.path, has_request_context()))

    app.add_url_rule("/start", "start", lambda: "ok")
    with request_started.connected_to(receiver, app):
        client.get("/start")
    assert seen == [(app, {}, "/start", True)]


def test_request_finished_gets_response(app, client):
    responses = []

    def receiver(sender, response, **kwargs):
        responses.append((sender, response.status_code, response.get_data(), kwargs))

    @app.route("/")
    def index():
        return "finished body", 201

    with request_finished.connected_to(receiver, app):
        client.get("/")
    assert responses == [(app, 201, b"finished body", {})]


def test_request_finished_sees_after_request_changes(app, client):
    headers = []

    @app.after_request
    def after(response):
        response.headers["X-After"] = "1"
        return response

    app.add_url_rule("/", "index", lambda: "ok")

    def receiver(sender, response, **kwargs):
        headers.append(response.headers.get("X-After"))

    with request_finished.connected_to(receiver, app):
        client.get("/")
    assert headers == ["1"]


def test_tearing_down_exc_none_on_success(app, client):
    app.add_url_rule("/", "index", lambda: "ok")
    with recording(app, "request_tearing_down", "appcontext_tearing_down") as events:
        client.get("/")
    assert events == [
        ("request_tearing_down", app, {"exc": None}),
        ("appcontext_tearing_down", app, {"exc": None}),
    ]


def test_appcontext_pushed_and_popped_no_kwargs(app, client):
    app.add_url_rule("/", "index", lambda: "ok")
    with recording(app, "appcontext_pushed", "appcontext_popped") as events:
        client.get("/")
    assert events == [("appcontext_pushed", app, {}), ("appcontext_popped", app, {})]


def test_request_tearing_down_request_still_available(app, client):
    seen = []

    def receiver(sender, exc=None, **kwargs):
        seen.append((request.path, g.get("marker")))

    @app.route("/td")
    def td():
        g.marker = "set in view"
        return "ok"

    with request_tearing_down.connected_to(receiver, app):
        client.get("/td")
    assert seen == [("/td", "set in view")]


def test_appcontext_signals_context_state(app):
    seen = []

    def pushed(sender, **kwargs):
        seen.append(("pushed", has_app_context()))

    def tearing(sender, **kwargs):
        seen.append(("tearing_down", has_app_context(), g.get("value")))

    def popped(sender, **kwargs):
        seen.append(("popped", has_app_context()))

    with (
        appcontext_pushed.connected_to(pushed, app),
        appcontext_tearing_down.connected_to(tearing, app),
        appcontext_popped.connected_to(popped, app),
        app.app_context(),
    ):
        g.value = 7
    assert seen == [("pushed", True), ("tearing_down", True, 7), ("popped", False)]


# --- unhandled errors ------------------------------------------------------------------


def test_got_request_exception_unhandled(app, client):
    app.testing = False
    err = ValueError("unhandled")

    @app.route("/")
    def index():
        raise err

    with recording(app) as events:
        rv = client.get("/", errors_stream=io.StringIO())
    assert rv.status_code == 500
    assert _names(events) == [
        "appcontext_pushed",
        "request_started",
        "got_request_exception",
        "request_finished",
        "request_tearing_down",
        "appcontext_tearing_down",
        "appcontext_popped",
    ]
    by_name = {name: kwargs for name, _, kwargs in events}
    assert by_name["got_request_exception"] == {"exception": err}
    assert by_name["request_finished"]["response"].status_code == 500
    assert by_name["request_tearing_down"] == {"exc": err}
    assert by_name["appcontext_tearing_down"] == {"exc": err}


def test_got_request_exception_when_propagating(app, client):
    err = KeyError("propagated")

    @app.route("/")
    def index():
        raise err

    with recording(app) as events, pytest.raises(KeyError):
        client.get("/")
    assert _names(events) == [
        "appcontext_pushed",
        "request_started",
        "got_request_exception",
        "request_tearing_down",
        "appcontext_tearing_down",
        "appcontext_popped",
    ]
    assert events[2][2] == {"exception": err}
    assert events[3][2] == {"exc": err}


def test_got_request_exception_request_available(app, client):
    app.testing = False
    seen = []

    def receiver(sender, exception, **kwargs):
        seen.append((request.path, type(exception).__name__))

    @app.route("/fail")
    def fail():
        raise LookupError

    with got_request_exception.connected_to(receiver, app):
        client.get("/fail", errors_stream=io.StringIO())
    assert seen == [("/fail", "LookupError")]


def test_got_request_exception_not_sent_for_http_errors(app, client):
    @app.route("/")
    def index():
        abort(403)

    with recording(app, "got_request_exception") as events:
        assert client.get("/").status_code == 403
        assert client.get("/missing").status_code == 404
    assert events == []


def test_got_request_exception_not_sent_for_handled_errors(app, client):
    @app.errorhandler(ValueError)
    def handle(e):
        return "handled", 400

    @app.route("/")
    def index():
        raise ValueError

    with recording(app, "got_request_exception", "request_tearing_down") as events:
        assert client.get("/").status_code == 400
    assert events == [("request_tearing_down", app, {"exc": None})]


def test_appcontext_tearing_down_with_block_exception(app):
    err = RuntimeError("in with block")
    with (
        recording(app, "appcontext_tearing_down", "appcontext_popped") as events,
        pytest.raises(RuntimeError),
        app.app_context(),
    ):
        raise err
    assert events == [
        ("appcontext_tearing_down", app, {"exc": err}),
        ("appcontext_popped", app, {}),
    ]


# --- sender filtering and connection styles ----------------------------------------------


def test_signals_only_for_connected_sender(app, client_for):
    other = kolben.Kolben("other_app")
    other.add_url_rule("/", "index", lambda: "other")
    with recording(app) as events:
        assert client_for(other).get("/").data == b"other"
        with other.app_context():
            pass
    assert events == []


def test_connect_any_sender(app):
    other = kolben.Kolben("other_app")
    senders = []

    def receiver(sender, **kwargs):
        senders.append(sender)

    with appcontext_pushed.connected_to(receiver):
        with app.app_context():
            pass
        with other.app_context():
            pass
    assert senders == [app, other]


def test_connect_and_disconnect(app, client):
    seen = []

    def receiver(sender, **kwargs):
        seen.append(sender)

    app.add_url_rule("/", "index", lambda: "ok")
    request_started.connect(receiver, app)
    try:
        client.get("/")
    finally:
        request_started.disconnect(receiver, app)
    client.get("/")
    assert seen == [app]


def test_appcontext_pushed_sets_g(app, client):
    @app.route("/")
    def index():
        return g.user

    @contextmanager
    def user_set(app, user):
        def handler(sender, **kwargs):
            g.user = user

        with appcontext_pushed.connected_to(handler, app):
            yield

    with user_set(app, "ada"):
        assert client.get("/").data == b"ada"


def test_signals_in_test_request_context(app):
    with recording(app) as events, app.test_request_context("/"):
        pass
    # no request is dispatched, but the app context is pushed and torn down
    assert _names(events) == [
        "appcontext_pushed",
        "request_tearing_down",
        "appcontext_tearing_down",
        "appcontext_popped",
    ]


def test_nested_app_context_signals(app):
    with (
        recording(app, "appcontext_pushed", "appcontext_popped") as events,
        app.app_context(),
        app.app_context(),
    ):
        pass
    assert _names(events) == [
        "appcontext_pushed",
        "appcontext_pushed",
        "appcontext_popped",
        "appcontext_popped",
    ]
