"""The application logger and its default handler.

``app.logger`` is the standard :mod:`logging` logger named after the app's import
name. Unless logging is already configured for it, kolben adds a handler that
writes to the WSGI error stream during a request (so the server's error log gets
it) and to ``sys.stderr`` otherwise.
"""

from __future__ import annotations

import logging
import sys
import typing as t

from werkzeug.local import LocalProxy

from .globals import _cv_request

if t.TYPE_CHECKING:
    from .app import Kolben


def _errors_stream() -> t.TextIO:
    ctx = _cv_request.get(None)
    if ctx is not None:
        stream = ctx.request.environ.get("wsgi.errors")
        if stream is not None:
            return stream  # type: ignore[no-any-return]
    return sys.stderr


#: The stream log records go to: ``environ["wsgi.errors"]`` during a request,
#: ``sys.stderr`` otherwise.
wsgi_errors_stream: t.TextIO = LocalProxy(_errors_stream)  # type: ignore[assignment]


def has_level_handler(logger: logging.Logger) -> bool:
    """Return whether a handler in the logger's chain handles its effective level."""
    level = logger.getEffectiveLevel()
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= level for handler in current.handlers):
            return True
        if not current.propagate:
            break
        current = current.parent
    return False


#: The handler kolben adds to ``app.logger`` when nothing else handles its level.
default_handler = logging.StreamHandler(wsgi_errors_stream)
default_handler.setFormatter(
    logging.Formatter("[%(asctime)s] %(levelname)s in %(module)s: %(message)s")
)


def create_logger(app: Kolben) -> logging.Logger:
    """Return the logger for ``app``, with level DEBUG in debug mode and the default
    handler added if no handler handles its level."""
    logger = logging.getLogger(app.name)
    if app.debug and not logger.level:
        logger.setLevel(logging.DEBUG)
    if not has_level_handler(logger):
        logger.addHandler(default_handler)
    return logger
