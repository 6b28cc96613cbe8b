"""app.logger: naming, level, the default handler writing to the WSGI error
stream, and unhandled exceptions being logged."""

from __future__ import annotations

import io
import itertools
import logging

import pytest

import kolben
import kolben.logging
from kolben.logging import default_handler, has_level_handler

_counter = itertools.count()


@pytest.fixture
def make_app():
    """Make apps whose loggers are fresh, isolated (no propagation to the root
    logger, which pytest equips with its own handlers) and cleaned up afterwards."""
    names = []

    def make(name=None, *, propagate=False, **kwargs):
        name = name or f"kolben_log_test_{next(_counter)}"
        names.append(name)
        logger = logging.getLogger(name)
        logger.propagate = propagate
        app = kolben.Kolben(name, **kwargs)
        return app

    yield make
    for name in names:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


# --- the logger --------------------------------------------------------------------


def test_logger_name_is_import_name(make_app):
    app = make_app()
    assert isinstance(app.logger, logging.Logger)
    assert app.logger.name == app.import_name
    assert app.logger is logging.getLogger(app.import_name)


def test_logger_is_cached(make_app):
    app = make_app()
    assert app.logger is app.logger


def test_logger_level_debug_when_app_debug(make_app):
    app = make_app()
    app.debug = True
    assert app.logger.level == logging.DEBUG


def test_logger_level_unset_when_not_debug(make_app):
    app = make_app()
    assert app.logger.level == logging.NOTSET


def test_logger_level_kept_when_already_set(make_app):
    app = make_app()
    logging.getLogger(app.import_name).setLevel(logging.WARNING)
    app.debug = True
    assert app.logger.level == logging.WARNING


# --- the default handler -----------------------------------------------------------------


def test_default_handler_exists():
    assert isinstance(default_handler, logging.StreamHandler)
    assert kolben.logging.default_handler is default_handler


def test_default_handler_added(make_app):
    app = make_app()
    assert default_handler in app.logger.handlers


def test_default_handler_can_be_removed(make_app):
    app = make_app()
    app.logger.removeHandler(default_handler)
    assert default_handler not in app.logger.handlers


def test_default_handler_not_added_when_logger_has_handler(make_app):
    name = f"kolben_log_test_{next(_counter)}"
    own = logging.StreamHandler(io.StringIO())
    logging.getLogger(name).addHandler(own)
    app = make_app(name)
    assert app.logger.handlers == [own]


def test_default_handler_not_added_when_parent_has_handler(make_app):
    parent_name = f"kolben_log_parent_{next(_counter)}"
    parent = logging.getLogger(parent_name)
    stream = io.StringIO()
    own = logging.StreamHandler(stream)
    parent.addHandler(own)
    parent.propagate = False
    try:
        app = make_app(f"{parent_name}.child", propagate=True)
        assert default_handler not in app.logger.handlers
        app.logger.error("via parent")
        assert "via parent" in stream.getvalue()
    finally:
        parent.removeHandler(own)
        parent.propagate = True


def test_default_handler_added_when_parent_handler_level_too_high(make_app):
    parent_name = f"kolben_log_parent_{next(_counter)}"
    parent = logging.getLogger(parent_name)
    own = logging.StreamHandler(io.StringIO())
    own.setLevel(logging.CRITICAL)
    parent.addHandler(own)
    parent.propagate = False
    try:
        app = make_app(f"{parent_name}.child", propagate=True)
        app.debug = True
        assert default_handler in app.logger.handlers
    finally:
        parent.removeHandler(own)
        parent.propagate = True


def test_default_handler_writes_to_wsgi_errors_during_request(make_app, client_for):
    app = make_app()

    @app.route("/")
    def index():
        app.logger.warning("inside the request")
        return "ok"

    stream = io.StringIO()
    rv = client_for(app).get("/", errors_stream=stream)
    assert rv.status_code == 200
    out = stream.getvalue()
    assert "inside the request" in out
    assert "WARNING" in out


def test_default_handler_wsgi_errors_via_environ_overrides(make_app, client_for):
    app = make_app()

    @app.route("/")
    def index():
        app.logger.error("override stream")
        return "ok"

    stream = io.StringIO()
    client_for(app).get("/", environ_overrides={"wsgi.errors": stream})
    assert "override stream" in stream.getvalue()


def test_default_handler_wsgi_errors_in_test_request_context(make_app):
    app = make_app()
    stream = io.StringIO()
    with app.test_request_context(errors_stream=stream):
        app.logger.warning("trc message")
    assert "trc message" in stream.getvalue()


def test_default_handler_format(make_app, client_for):
    app = make_app()

    @app.route("/")
    def index():
        app.logger.warning("formatted")
        return ""

    stream = io.StringIO()
    client_for(app).get("/", errors_stream=stream)
    assert f"WARNING in {__name__.rpartition('.')[2]}: formatted" in stream.getvalue()


def test_default_handler_writes_to_stderr_outside_request(make_app, capsys):
    app = make_app()
    app.logger.warning("outside any request")
    with app.app_context():
        app.logger.warning("in app context")
    captured = capsys.readouterr()
    assert "outside any request" in captured.err
    assert "in app context" in captured.err
    assert captured.out == ""


def test_debug_messages_emitted_in_debug_mode(make_app, capsys):
    app = make_app()
    app.debug = True
    app.logger.debug("debug detail")
    assert "debug detail" in capsys.readouterr().err


def test_debug_messages_not_emitted_by_default(make_app, capsys):
    app = make_app()
    app.logger.debug("hidden")
    app.logger.info("also hidden")
    assert capsys.readouterr().err == ""


# --- unhandled exceptions ----------------------------------------------------------------------


def test_unhandled_exception_logged_to_wsgi_errors(make_app, client_for):
    app = make_app()

    @app.route("/boom")
    def boom():
        raise ValueError("kaboom")

    stream = io.StringIO()
    rv = client_for(app).get("/boom", errors_stream=stream)
    assert rv.status_code == 500
    out = stream.getvalue()
    assert "ERROR" in out
    assert "Traceback (most recent call last)" in out
    assert "ValueError: kaboom" in out
    # the traceback never reaches the client
    assert b"kaboom" not in rv.data
    assert b"Traceback" not in rv.data


def test_http_exception_not_logged(make_app, client_for):
    app = make_app()
    stream = io.StringIO()
    assert client_for(app).get("/missing", errors_stream=stream).status_code == 404
    assert stream.getvalue() == ""


def test_handled_exception_not_logged(make_app, client_for):
    app = make_app()

    @app.errorhandler(KeyError)
    def handle(e):
        return "handled", 400

    @app.route("/")
    def index():
        raise KeyError("k")

    stream = io.StringIO()
    assert client_for(app).get("/", errors_stream=stream).status_code == 400
    assert stream.getvalue() == ""


def test_propagated_exception_not_logged(make_app, client_for):
    app = make_app()
    app.testing = True

    @app.route("/")
    def index():
        raise ValueError("propagated")

    stream = io.StringIO()
    with pytest.raises(ValueError, match="propagated"):
        client_for(app).get("/", errors_stream=stream)
    assert stream.getvalue() == ""


def test_logging_with_own_handler_gets_exception(make_app, client_for):
    name = f"kolben_log_test_{next(_counter)}"
    records = []

    class ListHandler(logging.Handler):
        def emit(self, record):
            records.append(record)

    logging.getLogger(name).addHandler(ListHandler())
    app = make_app(name)

    @app.route("/")
    def index():
        raise LookupError("recorded")

    client_for(app).get("/", errors_stream=io.StringIO())
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], LookupError)


# --- has_level_handler -------------------------------------------------------------------------


def test_has_level_handler():
    logger = logging.getLogger(f"kolben_log_hlh_{next(_counter)}")
    logger.propagate = False
    try:
        assert has_level_handler(logger) is False
        handler = logging.StreamHandler(io.StringIO())
        logger.addHandler(handler)
        assert has_level_handler(logger) is True
        logger.setLevel(logging.DEBUG)
        handler.setLevel(logging.ERROR)
        assert has_level_handler(logger) is False
        handler.setLevel(logging.DEBUG)
        assert has_level_handler(logger) is True
        logger.removeHandler(handler)
    finally:
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def test_has_level_handler_walks_parents():
    base = f"kolben_log_hlh_{next(_counter)}"
    parent = logging.getLogger(base)
    child = logging.getLogger(f"{base}.child")
    parent.propagate = False
    handler = logging.StreamHandler(io.StringIO())
    try:
        assert has_level_handler(child) is False
        parent.addHandler(handler)
        assert has_level_handler(child) is True
        child.propagate = False
        assert has_level_handler(child) is False
    finally:
        parent.removeHandler(handler)
        parent.propagate = True
        child.propagate = True


def test_stderr_used_after_request(make_app, capsys, client_for):
    app = make_app()

    @app.route("/")
    def index():
        return "ok"

    client_for(app).get("/", errors_stream=io.StringIO())
    app.logger.warning("after the request")
    assert "after the request" in capsys.readouterr().err
