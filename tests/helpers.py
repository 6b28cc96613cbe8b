"""Helpers shared by several test files (importable as ``helpers``: pytest puts
tests/ on ``sys.path``, as for ``serving``).

The suite can also be run against Flask 3.1 (the spec), with ``kolben`` standing
for ``flask``; :data:`RUNNING_ON_FLASK` tells which one is under test, and the
markers below skip what only kolben does.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest

import kolben

#: True when the suite runs against Flask instead of kolben.
RUNNING_ON_FLASK = kolben.Kolben.__module__.split(".")[0] == "flask"

#: A test of kolben's own behaviour (not in Flask), or of the wording of one of
#: its messages: skipped when running against Flask.
kolben_only = pytest.mark.skipif(
    RUNNING_ON_FLASK, reason="kolben-specific behaviour (not in Flask)"
)

#: A test with an ``async def`` view or hook: Flask runs those only with its
#: ``async`` extra (asgiref).
needs_async = pytest.mark.skipif(
    RUNNING_ON_FLASK and find_spec("asgiref") is None,
    reason="Flask needs the 'async' extra (asgiref) for async views",
)


def write(path: Path, text: str = "") -> Path:
    """Write ``text`` to ``path`` (UTF-8), making its folders; return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
