"""Run each Flask-extension scenario in a fresh interpreter under the compat layer.

The scenarios (``layer.py``: the compat layer itself; ``ext_*.py``: one real
extension each) import ``flask``, which must resolve to kolben; this process
already imported the real Flask for other tests, so each scenario gets its own
``python -m pytest`` with ``KOLBEN_FLASK_COMPAT=1``. Its output is shown when it
fails. Service markers (redis, postgres) work inside as everywhere else, and
``CI=true`` is passed on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCENARIOS = ["layer.py", *sorted(p.name for p in HERE.glob("ext_*.py"))]
#: A scenario is a few dozen tests; this bounds a hung one.
TIME_LIMIT = 300


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str) -> None:
    env = {**os.environ, "KOLBEN_FLASK_COMPAT": "1"}
    env.pop("KOLBEN_COMPAT_REFERENCE", None)
    command = [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        *("-o", "console_output_style=classic", str(HERE / scenario)),
    ]
    proc = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIME_LIMIT
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{scenario} failed under the compat layer ({' '.join(command)}):\n"
            f"{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
