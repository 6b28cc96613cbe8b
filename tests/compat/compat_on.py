"""Imported first by every scenario module: turn on kolben's Flask compat layer.

The runner (``test_extensions.py``) also sets ``KOLBEN_FLASK_COMPAT=1``, which
installs it when ``kolben`` is imported; installing again is harmless, and this
import makes a scenario runnable on its own. With ``KOLBEN_COMPAT_REFERENCE=1``
nothing is installed and ``import flask`` gives the real Flask.
"""

from __future__ import annotations

import os

import kolben.compat

REFERENCE = os.environ.get("KOLBEN_COMPAT_REFERENCE", "") not in {"", "0"}

if REFERENCE:
    assert not kolben.compat.installed(), "unset KOLBEN_FLASK_COMPAT for a reference run"
else:
    kolben.compat.install()
