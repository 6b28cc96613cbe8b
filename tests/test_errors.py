"""Error handlers and exception configuration: errorhandler, register_error_handler,
MRO lookup, HTTPException handlers, InternalServerError.original_exception,
PROPAGATE_EXCEPTIONS, TRAP_HTTP_EXCEPTIONS, TRAP_BAD_REQUEST_ERRORS, logging.

Flask 3.1's documented behaviour is the spec."""

from __future__ import annotations

import logging
import sys

import pytest
from werkzeug.exceptions import (
    BadRequest,
    BadRequestKeyError,
    Forbidden,
    HTTPException,
    InternalServerError,
    NotFound,
)

import kolben
from kolben import abort, request


class MyError(Exception):
    pass


class MySubError(MyError):
    pass


def _add_raising_routes(app):
    """``/my`` raises MyError, ``/sub`` MySubError."""

    @app.route("/my")
    def my():
        raise MyError()

    @app.route("/sub")
    def sub():
        raise MySubError()


@pytest.fixture
def app(app):
    """An app that does not re-raise errors unless a test asks for it."""
    app.testing = False

    @app.route("/boom")
    def boom():
        raise ValueError("secret internal detail")

    @app.route("/ok")
    def ok():
        return "ok"

    return app


# --- the error being handled, as in Flask's except block ---------------------------------


def test_handlers_run_while_the_error_is_being_handled(app, client):
    """Flask calls error handlers inside its ``except`` block: there
    ``sys.exc_info()`` is the error and a bare ``raise`` re-raises it."""
    seen = {}

    @app.errorhandler(MyError)
    def handled(e):
        seen["handler"] = sys.exc_info()[1] is e
        return "handled", 418

    @app.errorhandler(404)
    def not_found(e):
        seen["404"] = sys.exc_info()[1] is e
        return "nf", 404

    @app.errorhandler(MySubError)
    def re_raise(e):
        raise

    @app.errorhandler(500)
    def server_error(e):
        seen["500"] = sys.exc_info()[1] is e.original_exception
        return f"500 of {type(e.original_exception).__name__}", 500

    _add_raising_routes(app)

    assert client.get("/my").status_code == 418
    assert client.get("/nope").status_code == 404
    rv = client.get("/sub")  # re-raised: no other handler, so a 500
    assert (rv.status_code, rv.data) == (500, b"500 of MySubError")
    assert seen == {"handler": True, "404": True, "500": True}


def test_overridden_error_methods_run_while_the_error_is_being_handled(app, client):
    seen = {}
    handle_user_exception = app.handle_user_exception
    handle_http_exception = app.handle_http_exception
    handle_exception = app.handle_exception

    def own_user(e):
        seen.setdefault("user", []).append(sys.exc_info()[1] is e)
        return handle_user_exception(e)

    def own_http(e):
        seen["http"] = sys.exc_info()[1] is e
        return handle_http_exception(e)

    def own_exception(e):
        seen["exception"] = sys.exc_info()[1] is e
        return handle_exception(e)

    app.handle_user_exception = own_user
    app.handle_http_exception = own_http
    app.handle_exception = own_exception

    assert client.get("/nope").status_code == 404
    assert client.get("/boom").status_code == 500
    assert seen == {"user": [True, True], "http": True, "exception": True}


def test_handler_logging_exception_logs_the_traceback(app, client, caplog):
    # What Flask-RESTX's handle_error does, and `app.logger.exception` in any handler.
    @app.errorhandler(ValueError)
    def logged(e):
        app.logger.exception("handled")
        return "logged", 400

    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        assert client.get("/boom").status_code == 400
    (record,) = [r for r in caplog.records if r.getMessage() == "handled"]
    assert record.exc_info is not None
    assert record.exc_info[1].args == ("secret internal detail",)
    assert "in boom" in caplog.text  # the view's frame is in the logged traceback


def test_got_request_exception_receivers_see_the_error(app, client):
    # Error reporters (Rollbar's Flask integration...) read sys.exc_info() there.
    from kolben.signals import got_request_exception

    seen = []

    def receiver(sender, exception, **kwargs):
        seen.append(sys.exc_info()[1] is exception)

    got_request_exception.connect(receiver, app)
    try:
        assert client.get("/boom").status_code == 500
    finally:
        got_request_exception.disconnect(receiver, app)
    assert seen == [True]


def test_error_being_handled_keeps_its_traceback_and_context(app, client):
    caught = {}

    @app.errorhandler(ValueError)
    def handler(e):
        caught["tb"] = e.__traceback__
        caught["context"] = e.__context__
        raise KeyError("from the handler")

    @app.errorhandler(500)
    def server_error(e):
        caught["new"] = e.original_exception
        return "500", 500

    assert client.get("/boom").status_code == 500
    new = caught["new"]
    assert isinstance(new, KeyError)
    assert isinstance(new.__context__, ValueError)  # raised while it was handled
    assert caught["context"] is None
    frames = []
    tb = caught["tb"]
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "__call__" not in frames  # no frame of kolben's own re-raise
    assert frames[-1] == "boom"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_after_request_of_the_500_response_runs_while_the_error_is_handled(
    app, client_for, caplog, kind
):
    # Flask finalizes the 500 response inside its except block: an after_request
    # function sees the error in sys.exc_info(), and what it raises has the
    # error as its __context__ (logged with "During handling of the above
    # exception"). Under ASGI both were lost.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    seen = []

    def after(response):
        seen.append(sys.exc_info()[1])
        raise KeyError("after_request failed")

    async def async_after(response):
        return after(response)

    app.after_request(after if kind == "sync" else async_after)

    @app.route("/fails")
    def fails():
        raise ValueError("the view failed")

    assert client_for(app).get("/fails").status_code == 500
    assert [type(e) for e in seen] == [ValueError]
    logged = [r for r in caplog.records if "finalizing failed" in r.getMessage()]
    assert len(logged) == 1
    error = logged[0].exc_info[1]
    assert isinstance(error, KeyError)
    assert error.__context__ is seen[0]


def test_async_handlers_and_own_ensure_sync_with_the_error_being_handled(client_for):
    import kolben

    calls = []

    class App(kolben.Kolben):
        def ensure_sync(self, func):
            calls.append(getattr(func, "__name__", type(func).__name__))
            return super().ensure_sync(func)

    app = App(__name__)

    @app.errorhandler(MyError)
    def sync_handler(e):
        return f"sync {sys.exc_info()[1] is e}", 418

    @app.errorhandler(MySubError)
    async def async_handler(e):
        return "async", 419

    _add_raising_routes(app)

    client = client_for(app)
    assert (client.get("/my").status_code, client.get("/my").data) == (418, b"sync True")
    assert client.get("/sub").status_code == 419
    # The app's ensure_sync saw each handler itself, once per request.
    assert calls.count("sync_handler") == 2
    assert calls.count("async_handler") == 1
    assert "Handling" not in calls


# --- registering handlers ------------------------------------------------------------------


def test_errorhandler_404(app, client):
    @app.errorhandler(404)
    def not_found(e):
        assert isinstance(e, NotFound)
        return f"custom 404 for {request.path}", 404

    rv = client.get("/missing")
    assert rv.status_code == 404
    assert rv.data == b"custom 404 for /missing"


def test_errorhandler_returns_decorated_function(app):
    def handler(e):
        return "", 404

    assert app.errorhandler(404)(handler) is handler


def test_errorhandler_status_defaults_to_200(app, client):
    @app.errorhandler(404)
    def not_found(e):
        return "handled"

    rv = client.get("/missing")
    assert rv.status_code == 200
    assert rv.data == b"handled"


def test_errorhandler_for_http_exception_class(app, client):
    @app.errorhandler(NotFound)
    def not_found(e):
        return "by class", 404

    assert client.get("/missing").data == b"by class"


def test_errorhandler_for_abort(app, client):
    @app.errorhandler(403)
    def forbidden(e):
        return f"forbidden: {e.description}", 403

    @app.route("/secret")
    def secret():
        abort(403, "members only")

    rv = client.get("/secret")
    assert rv.status_code == 403
    assert rv.data == b"forbidden: members only"


def test_errorhandler_exception_class(app, client):
    @app.errorhandler(MyError)
    def handle(e):
        return f"handled {e}", 400

    @app.route("/raise")
    def raise_():
        raise MyError("mine")

    rv = client.get("/raise")
    assert rv.status_code == 400
    assert rv.data == b"handled mine"


def test_errorhandler_exception_class_in_testing(app, client):
    app.testing = True

    @app.errorhandler(MyError)
    def handle(e):
        return "handled", 400

    @app.route("/raise")
    def raise_():
        raise MyError()

    assert client.get("/raise").status_code == 400


def test_register_error_handler(app, client):
    def handle(e):
        return "registered", 409

    app.register_error_handler(MyError, handle)
    app.register_error_handler(404, lambda e: ("nf", 404))

    @app.route("/raise")
    def raise_():
        raise MyError()

    assert client.get("/raise").data == b"registered"
    assert client.get("/raise").status_code == 409
    assert client.get("/missing").data == b"nf"


def test_subclass_handled_by_parent_handler(app, client):
    @app.errorhandler(MyError)
    def handle(e):
        return type(e).__name__, 400

    @app.route("/raise")
    def raise_():
        raise MySubError()

    assert client.get("/raise").data == b"MySubError"


def test_most_specific_handler_wins_by_mro(app, client):
    @app.errorhandler(LookupError)
    def lookup(e):
        return "lookup", 400

    @app.errorhandler(KeyError)
    def key(e):
        return "key", 400

    @app.route("/key")
    def key_view():
        raise KeyError("k")

    @app.route("/index")
    def index_view():
        raise IndexError("i")

    assert client.get("/key").data == b"key"
    assert client.get("/index").data == b"lookup"


def test_most_specific_handler_wins_regardless_of_registration_order(app, client):
    @app.errorhandler(KeyError)
    def key(e):
        return "key", 400

    @app.errorhandler(LookupError)
    def lookup(e):
        return "lookup", 400

    @app.errorhandler(Exception)
    def anything(e):
        return "exception", 500

    @app.route("/key")
    def key_view():
        raise KeyError("k")

    assert client.get("/key").data == b"key"
    assert client.get("/boom").data == b"exception"


def test_code_handler_preferred_over_base_class_handler(app, client):
    @app.errorhandler(HTTPException)
    def any_http(e):
        return "generic", e.code

    @app.errorhandler(404)
    def not_found(e):
        return "specific", 404

    assert client.get("/missing").data == b"specific"
    assert client.post("/ok").data == b"generic"


def test_http_exception_handler_catches_all_http_errors(app, client):
    @app.errorhandler(HTTPException)
    def handle(e):
        return f"{e.code} {e.name}", e.code

    @app.route("/forbidden")
    def forbidden():
        abort(403)

    @app.route("/teapot")
    def teapot():
        abort(418)

    assert client.get("/missing").data == b"404 Not Found"
    rv = client.post("/ok")
    assert rv.status_code == 405
    assert rv.data == b"405 Method Not Allowed"
    assert client.get("/forbidden").data == b"403 Forbidden"
    assert client.get("/teapot").status_code == 418


def test_http_exception_handler_can_return_the_exception(app, client):
    @app.errorhandler(HTTPException)
    def handle(e):
        return e

    rv = client.get("/missing")
    assert rv.status_code == 404


def test_http_exception_handler_does_not_catch_routing_redirect(app, client):
    calls = []

    @app.errorhandler(HTTPException)
    def handle(e):
        calls.append(e)
        return "handled", 500

    @app.route("/folder/")
    def folder():
        return "folder"

    rv = client.get("/folder")
    assert rv.status_code == 308
    assert rv.headers["Location"].endswith("/folder/")
    assert calls == []


def test_code_handler_preferred_over_exception_handler(app, client):
    # an HTTPException is handled as an HTTP error, by code, before falling back
    # to the generic Exception handler only if no code handler exists
    @app.errorhandler(Exception)
    def anything(e):
        return f"exception {type(e).__name__}", 500

    @app.errorhandler(404)
    def nf(e):
        return "nf", 404

    assert client.get("/missing").data == b"nf"


def test_exception_handler_catches_http_errors_without_code_handler(app, client):
    @app.errorhandler(Exception)
    def anything(e):
        return f"exception {type(e).__name__}", 500

    assert client.get("/missing").data == b"exception NotFound"


def test_handler_returning_tuple_with_headers(app, client):
    @app.errorhandler(MyError)
    def handle(e):
        return {"error": str(e)}, 422, {"X-Error": "my"}

    @app.route("/raise")
    def raise_():
        raise MyError("bad thing")

    rv = client.get("/raise")
    assert rv.status_code == 422
    assert rv.headers["X-Error"] == "my"
    assert rv.json == {"error": "bad thing"}


def test_handler_receives_request_context(app, client):
    @app.errorhandler(404)
    def nf(e):
        return f"{request.method} {request.path} {request.args.get('q')}", 404

    assert client.get("/nope?q=1").data == b"GET /nope 1"


# --- registration errors -------------------------------------------------------------------


def test_register_handler_for_instance_raises(app):
    with pytest.raises(TypeError, match="instance"):
        app.register_error_handler(MyError(), lambda e: "")


def test_register_handler_for_non_exception_class_raises(app):
    with pytest.raises(ValueError, match="not a subclass of Exception"):
        app.register_error_handler(str, lambda e: "")


def test_errorhandler_decorator_for_non_exception_class_raises(app):
    with pytest.raises(ValueError, match="not a subclass of Exception"):
        app.errorhandler(object)(lambda e: "")


def test_register_handler_for_unknown_code_raises(app):
    with pytest.raises(ValueError, match="999"):
        app.register_error_handler(999, lambda e: "")


# --- 500 and InternalServerError -----------------------------------------------------------


def test_unhandled_error_is_500_without_traceback(app, client):
    rv = client.get("/boom")
    assert rv.status_code == 500
    assert b"Traceback" not in rv.data
    assert b"secret internal detail" not in rv.data
    assert b"ValueError" not in rv.data
    assert b"Internal Server Error" in rv.data


def test_unhandled_error_is_logged_with_traceback(app, client, caplog):
    with caplog.at_level(logging.ERROR):
        rv = client.get("/boom?x=1")
    assert rv.status_code == 500
    records = [r for r in caplog.records if r.name == app.logger.name]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "Exception on /boom [GET]"
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError
    assert "secret internal detail" in str(record.exc_info[1])


def test_logged_error_names_method(app, client, caplog):
    @app.post("/boom-post")
    def boom_post():
        raise RuntimeError("x")

    with caplog.at_level(logging.ERROR):
        client.post("/boom-post")
    messages = [r.getMessage() for r in caplog.records if r.name == app.logger.name]
    assert messages == ["Exception on /boom-post [POST]"]


def test_handled_error_is_not_logged(app, client, caplog):
    @app.errorhandler(ValueError)
    def handle(e):
        return "handled", 400

    with caplog.at_level(logging.ERROR):
        assert client.get("/boom").status_code == 400
    assert [r for r in caplog.records if r.name == app.logger.name] == []


def test_internal_server_error_handler_gets_original_exception(app, client):
    seen = {}

    @app.errorhandler(InternalServerError)
    def handle_500(e):
        seen["type"] = type(e)
        seen["original"] = e.original_exception
        return "custom 500", 500

    rv = client.get("/boom")
    assert rv.status_code == 500
    assert rv.data == b"custom 500"
    assert seen["type"] is InternalServerError
    assert isinstance(seen["original"], ValueError)
    assert str(seen["original"]) == "secret internal detail"


def test_errorhandler_500_is_internal_server_error_handler(app, client):
    @app.errorhandler(500)
    def handle_500(e):
        return f"500 original={type(e.original_exception).__name__}", 500

    assert client.get("/boom").data == b"500 original=ValueError"


def test_abort_500_has_no_original_exception(app, client):
    seen = {}

    @app.errorhandler(500)
    def handle_500(e):
        seen["original"] = e.original_exception
        return "x", 500

    @app.route("/abort500")
    def abort500():
        abort(500)

    assert client.get("/abort500").status_code == 500
    assert seen == {"original": None}


def test_error_handler_raising_becomes_500(app, client):
    @app.errorhandler(MyError)
    def broken_handler(e):
        raise RuntimeError("handler broke")

    @app.route("/raise")
    def raise_():
        raise MyError()

    rv = client.get("/raise")
    assert rv.status_code == 500
    assert b"handler broke" not in rv.data


def test_error_handler_raising_goes_to_500_handler(app, client):
    @app.errorhandler(MyError)
    def broken_handler(e):
        raise RuntimeError("handler broke")

    @app.errorhandler(500)
    def handle_500(e):
        return f"500 from {type(e.original_exception).__name__}", 500

    @app.route("/raise")
    def raise_():
        raise MyError()

    assert client.get("/raise").data == b"500 from RuntimeError"


def test_404_handler_raising_becomes_500(app, client):
    @app.errorhandler(404)
    def broken(e):
        raise ValueError("oops")

    assert client.get("/missing").status_code == 500


def test_server_keeps_serving_after_error(app, client):
    assert client.get("/boom").status_code == 500
    assert client.get("/ok").data == b"ok"


# --- PROPAGATE_EXCEPTIONS and TESTING ------------------------------------------------------


def test_testing_propagates_exceptions(app, client):
    app.testing = True
    with pytest.raises(ValueError, match="secret internal detail"):
        client.get("/boom")


def test_propagate_exceptions_true(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(ValueError):
        client.get("/boom")


def test_propagate_exceptions_false_overrides_testing(app, client):
    app.testing = True
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert client.get("/boom").status_code == 500


def test_debug_propagates_exceptions(app, client):
    app.debug = True
    with pytest.raises(ValueError):
        client.get("/boom")


def test_testing_propagation_skips_500_handler(app, client):
    app.testing = True
    calls = []

    @app.errorhandler(500)
    def handle_500(e):
        calls.append(e)
        return "500", 500

    with pytest.raises(ValueError):
        client.get("/boom")
    assert calls == []


def test_testing_does_not_propagate_http_exceptions(app, client):
    app.testing = True

    @app.route("/forbidden")
    def forbidden():
        abort(403)

    assert client.get("/forbidden").status_code == 403
    assert client.get("/missing").status_code == 404


# --- TRAP_HTTP_EXCEPTIONS and TRAP_BAD_REQUEST_ERRORS --------------------------------------


def test_trap_http_exceptions_raises_in_testing(app, client):
    app.testing = True
    app.config["TRAP_HTTP_EXCEPTIONS"] = True

    @app.route("/forbidden")
    def forbidden():
        abort(403)

    with pytest.raises(Forbidden):
        client.get("/forbidden")
    with pytest.raises(NotFound):
        client.get("/missing")


def test_trap_http_exceptions_without_propagation_is_500(app, client):
    app.config["TRAP_HTTP_EXCEPTIONS"] = True
    assert client.get("/missing").status_code == 500


def test_trap_http_exceptions_still_uses_code_handler(app, client):
    app.testing = True
    app.config["TRAP_HTTP_EXCEPTIONS"] = True

    @app.errorhandler(404)
    def nf(e):
        return "handled anyway", 404

    assert client.get("/missing").data == b"handled anyway"


@pytest.fixture
def form_app(app):
    @app.post("/form")
    def form():
        return request.form["missing"]

    @app.route("/args")
    def args():
        return request.args["missing"]

    return app


def test_missing_form_key_is_400(form_app, client):
    rv = client.post("/form", data={"other": "x"})
    assert rv.status_code == 400
    assert client.get("/args").status_code == 400


def test_missing_form_key_in_debug_is_trapped(form_app, client):
    form_app.debug = True
    with pytest.raises(BadRequestKeyError):
        client.post("/form", data={"other": "x"})
    with pytest.raises(KeyError):
        client.get("/args")


def test_trap_bad_request_errors_false_in_debug(form_app, client):
    form_app.debug = True
    form_app.config["TRAP_BAD_REQUEST_ERRORS"] = False
    assert client.post("/form", data={"other": "x"}).status_code == 400


def test_trap_bad_request_errors_true(form_app, client):
    form_app.testing = True
    form_app.config["TRAP_BAD_REQUEST_ERRORS"] = True

    @form_app.route("/bad")
    def bad():
        abort(400)

    with pytest.raises(BadRequestKeyError):
        client.post("/form", data={"other": "x"})
    with pytest.raises(BadRequest):
        client.get("/bad")


def test_bad_request_not_trapped_by_default(app, client):
    app.testing = True

    @app.route("/bad")
    def bad():
        abort(400)

    assert client.get("/bad").status_code == 400


def test_abort_with_response_skips_http_exception_handler(app, client):
    from kolben import make_response

    calls = []

    @app.errorhandler(HTTPException)
    def handle(e):
        calls.append(e)
        return "handled", 500

    @app.route("/custom")
    def custom():
        abort(make_response("custom", 409))

    rv = client.get("/custom")
    assert rv.status_code == 409
    assert rv.data == b"custom"
    assert calls == []


def test_handle_exception_called_directly(app, caplog):
    with app.test_request_context("/direct", method="PUT"):
        with caplog.at_level(logging.ERROR):
            rv = app.handle_exception(ValueError("direct"))
        assert rv.status_code == 500
    messages = [r.getMessage() for r in caplog.records if r.name == app.logger.name]
    assert messages == ["Exception on /direct [PUT]"]


def test_handle_exception_called_directly_propagates_in_testing(app):
    app.testing = True
    error = ValueError("direct")
    with app.test_request_context(), pytest.raises(ValueError) as info:
        app.handle_exception(error)
    assert info.value is error


def test_missing_key_shown_in_debug_400(form_app, client):
    form_app.debug = True
    form_app.config["TRAP_BAD_REQUEST_ERRORS"] = False
    rv = client.post("/form", data={"other": "x"})
    assert rv.status_code == 400
    assert b"missing" in rv.data


def test_missing_key_hidden_outside_debug(form_app, client):
    rv = client.post("/form", data={"other": "x"})
    assert rv.status_code == 400
    assert b"missing" not in rv.data


@pytest.mark.parametrize("view_kind", ["sync", "async"])
def test_an_apps_own_log_exception_is_called_as_flask_calls_it_never_on_the_loop(
    client_for, view_kind
):
    # Flask calls log_exception inside handle_exception's except block. An app's
    # own (a subclass's) is user code: under ASGI it ran on the event loop after
    # an async view raised; it runs where sync user code runs now.
    import asyncio
    import sys

    calls = []

    class App(kolben.Kolben):
        def log_exception(self, exc_info):
            try:
                asyncio.get_running_loop()
                on_loop = True
            except RuntimeError:
                on_loop = False
            calls.append((exc_info[0], sys.exc_info()[1] is exc_info[1], on_loop))

    app = App(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = False

    if view_kind == "sync":

        @app.route("/")
        def index():
            raise KeyError("boom")

    else:

        @app.route("/")
        async def index():
            raise KeyError("boom")

    assert client_for(app).get("/").status_code == 500
    assert calls == [(KeyError, True, False)]


# -- a StopIteration raised by user code ----------------------------------------------
#
# The ASGI door runs the pipeline as generators, out of which Python turns a
# StopIteration into RuntimeError("generator raised StopIteration") (PEP 479).
# Flask calls user code directly: handlers, handle_exception, the signal and
# teardown see the StopIteration itself (``next()`` on an empty iterator is a
# common bug in a hook), and so must kolben's, through both doors.


def _stop_iteration_app(app):
    seen = []

    @app.errorhandler(StopIteration)
    def handle_stop(e):
        return "handled", 299

    @app.errorhandler(500)
    def handle_500(e):
        return f"500 of {type(e.original_exception).__name__}", 500

    @app.teardown_request
    def teardown(exc):
        seen.append(("teardown", type(exc).__name__))

    @app.url_value_preprocessor
    def preprocess(endpoint, values):
        pass

    @app.before_request
    def before():
        if request.path == "/before":
            next(iter([]))

    @app.after_request
    def after(response):
        if request.path == "/after":
            next(iter([]))
        return response

    @app.route("/before")
    def before_view():
        return "view"

    @app.route("/after")
    def after_view():
        return "view"

    def received(sender, exception, **extra):
        seen.append(("signal", type(exception).__name__))

    kolben.got_request_exception.connect(received, app)
    seen.append(received)  # (kept alive: the signal holds it weakly)
    return seen


def test_stop_iteration_in_a_hook_reaches_its_error_handler(app, client):
    seen = _stop_iteration_app(app)
    response = client.get("/before")
    assert (response.status_code, response.data) == (299, b"handled")
    assert seen[1:] == [("teardown", "NoneType")]


def test_stop_iteration_unhandled_is_the_original_exception(app, client):
    seen = _stop_iteration_app(app)
    response = client.get("/after")
    assert (response.status_code, response.data) == (500, b"500 of StopIteration")
    assert seen[1:] == [("signal", "StopIteration"), ("teardown", "StopIteration")]


def test_stop_iteration_propagates_as_itself_in_testing(app, client):
    app.testing = True
    seen = _stop_iteration_app(app)
    with pytest.raises(StopIteration):
        client.get("/after")
    assert seen[1:] == [("signal", "StopIteration"), ("teardown", "StopIteration")]


def test_a_views_own_runtime_error_from_stop_iteration_is_kept(app, client):
    """Only a StopIteration a step raised is given back: a view's generator that
    raised one gives the view a RuntimeError, which handlers see as Flask's do."""

    @app.errorhandler(RuntimeError)
    def handle_runtime(e):
        return f"runtime: {e}", 298

    @app.route("/own")
    def own():
        def gen():
            raise StopIteration
            yield  # pragma: no cover

        return list(gen())

    response = client.get("/own")
    assert response.status_code == 298
    assert response.data == b"runtime: generator raised StopIteration"


def test_stop_iteration_as_a_streamed_body_ends_is_an_error_not_its_end(app, client):
    """A StopIteration raised as a streamed body ends (a teardown function, run
    as a stream_with_context body pops the request) is an error the test sees:
    PEP 479's RuntimeError, as it leaves the body's generator under the WSGI
    door. The ASGI door's client raised it as itself from the body's iterator,
    where it ended the test's iteration: the body looked whole, the error unseen."""

    @app.teardown_request
    def teardown(exc):
        if request.path == "/stream":
            next(iter([]))

    @app.route("/stream")
    def stream():
        @kolben.stream_with_context
        def generate():
            yield "a"
            yield "b"

        return generate()

    response = client.get("/stream")
    with pytest.raises(RuntimeError, match="StopIteration") as raised:
        response.get_data()
    assert isinstance(raised.value.__cause__, StopIteration)


def test_stop_iteration_from_teardown_appcontext_propagates_as_itself(app, client):
    """As Flask's ``ctx.pop()`` lets it out: the request's (both doors) and an
    app context's own (``with app.app_context():``). The WSGI door and
    ``ctx.pop()`` raised PEP 479's RuntimeError (the ASGI door's client the
    StopIteration)."""

    @app.teardown_appcontext
    def teardown(exc):
        next(iter([]))

    @app.route("/")
    def index():
        return "view"

    with pytest.raises(StopIteration):
        client.get("/")
    with pytest.raises(StopIteration), app.app_context():
        pass
