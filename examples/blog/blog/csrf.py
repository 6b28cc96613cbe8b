"""CSRF protection: one random token per session, checked on every unsafe request.

Every form of the blog carries ``<input type="hidden" name="csrf_token"
value="{{ csrf_token() }}">``. A POST (or PUT, PATCH, DELETE) whose token is
missing or differs from the one kept in the signed session cookie is refused
with 400 before any view runs. Another site can make a browser send the blog's
cookie, but it cannot read the page to learn the token.

Scripts may send the token in an ``X-CSRF-Token`` header instead of a form field.
"""

from __future__ import annotations

import hmac
import secrets

from werkzeug.exceptions import BadRequest

from kolben import Kolben, request, session

#: The session key holding the token.
SESSION_KEY = "csrf_token"
#: The form field (or, for scripts, the ``X-CSRF-Token`` header) carrying it back.
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CSRFError(BadRequest):
    """A form arrived without the session's CSRF token (HTTP 400)."""

    description = (
        "This form could not be accepted: its security token is missing or does not"
        " match your session (it may have expired, or you logged in or out in another"
        " tab). Go back, reload the page and submit the form again."
    )


def csrf_token() -> str:
    """The current session's token, created on first use (templates call this)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str):
        token = session[SESSION_KEY] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse an unsafe request that does not carry the session's token."""
    if request.method in _SAFE_METHODS:
        return
    if request.routing_exception is not None:  # let the 404 / 405 through
        return
    sent = request.form.get(FIELD) or request.headers.get(HEADER, "")
    expected = session.get(SESSION_KEY)
    if not sent or not isinstance(expected, str):
        raise CSRFError()
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CSRFError()


def init_app(app: Kolben) -> None:
    """Check tokens before every request of ``app``; give templates ``csrf_token()``."""
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
