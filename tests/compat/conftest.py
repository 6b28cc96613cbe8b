"""Fixtures for the Flask-extension scenarios (``ext_*.py``, ``layer.py``).

Those modules ``import flask`` under kolben's compat layer, so they run in fresh
interpreters started by ``test_extensions.py`` (the rest of the suite imports the
real Flask, and the compat layer refuses to install next to it). This conftest is
also loaded by the main run, so it must not import ``flask`` itself.

Run one scenario by hand with::

    .venv/bin/python -m pytest tests/compat/ext_login.py

and against the real Flask (the WSGI half only; to check that a test asserts
Flask's behaviour) with ``KOLBEN_COMPAT_REFERENCE=1`` in the environment.
"""

from __future__ import annotations

import os
import typing as t

import pytest

#: Set: the scenarios run on the real Flask instead of kolben.
REFERENCE = os.environ.get("KOLBEN_COMPAT_REFERENCE", "") not in {"", "0"}

# realapp/ is a Flask project with its own tests (test_*.py, which the main run
# would collect): they import flask, so they run only in the interpreters
# test_extensions.py starts, with KOLBEN_FLASK_COMPAT=1 or for the reference run.
_COMPAT = os.environ.get("KOLBEN_FLASK_COMPAT", "").lower() not in {"", "0", "false", "no"}
collect_ignore = [] if _COMPAT or REFERENCE else ["realapp"]


@pytest.fixture
def client(app: t.Any, door: str) -> t.Any:
    """The test client of the scenario's app, through the WSGI or the ASGI door."""
    if door == "asgi":
        if not hasattr(app, "asgi_test_client"):
            pytest.skip("the real Flask has no ASGI door")
        return app.asgi_test_client()
    return app.test_client()
