"""The helpers of ``kolben.logging``: ``has_level_handler`` and the
``wsgi_errors_stream`` the default handler writes to."""

from __future__ import annotations

import io
import logging
import sys

from helpers import kolben_only


def test_has_level_handler(monkeypatch):
    from kolben.logging import has_level_handler

    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    parent = logging.getLogger("kolben_tests_parent")
    child = logging.getLogger("kolben_tests_parent.child")
    monkeypatch.setattr(parent, "handlers", [])
    monkeypatch.setattr(child, "handlers", [])
    monkeypatch.setattr(child, "level", logging.WARNING)
    assert not has_level_handler(child)
    handler = logging.NullHandler(logging.ERROR)
    monkeypatch.setattr(parent, "handlers", [handler])
    assert not has_level_handler(child)
    handler.setLevel(logging.DEBUG)
    assert has_level_handler(child)
    monkeypatch.setattr(child, "propagate", False)
    assert not has_level_handler(child)


@kolben_only
def test_errors_stream_without_wsgi_errors(app):
    from kolben.logging import wsgi_errors_stream

    stream = io.StringIO()
    with app.test_request_context(environ_overrides={"wsgi.errors": stream}):
        assert wsgi_errors_stream._get_current_object() is stream
    with app.test_request_context() as ctx:
        del ctx.request.environ["wsgi.errors"]
        assert wsgi_errors_stream._get_current_object() is sys.stderr
    assert wsgi_errors_stream._get_current_object() is sys.stderr
