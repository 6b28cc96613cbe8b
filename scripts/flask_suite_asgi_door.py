"""pytest plugin for ``scripts/flask_suite --door asgi``: every test client an
app makes (``app.test_client()``) goes through kolben's ASGI door instead of
WSGI, so Flask's own tests check that door too. An app with its own
``test_client_class`` (Flask-Login's ``FlaskLoginClient``) gets it on the ASGI
door: :meth:`kolben.Kolben.asgi_test_client` mixes it into the ASGI client."""

from __future__ import annotations

import typing as t

import kolben


def _asgi_test_client(self: kolben.Kolben, use_cookies: bool = True, **kwargs: t.Any) -> t.Any:
    return self.asgi_test_client(use_cookies=use_cookies, **kwargs)


kolben.Kolben.test_client = _asgi_test_client  # type: ignore[method-assign]
