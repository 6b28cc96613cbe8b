"""Run each Flask-extension scenario in a fresh interpreter under the compat layer,
and all of them once on the real Flask.

The scenarios (``layer.py``: the compat layer itself; ``ext_*.py``: one real
extension each; ``realapp/``: a Flask app with its own tests, written as for
Flask) import ``flask``, which must resolve to kolben; this process
already imported the real Flask for other tests, so each scenario gets its own
``python -m pytest`` with ``KOLBEN_FLASK_COMPAT=1``. Its output is shown when it
fails. Service markers (redis, postgres) work inside as everywhere else, and
``CI=true`` is passed on.

The same scenarios also run on the real Flask (``KOLBEN_COMPAT_REFERENCE=1``,
the WSGI half), which shows that they assert Flask's behaviour, not kolben's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SCENARIOS = ["layer.py", *sorted(p.name for p in HERE.glob("ext_*.py")), "realapp"]
#: A scenario is a few dozen tests; this bounds a hung one.
TIME_LIMIT = 300


def run_pytest(paths: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m pytest`` on scenario files in a fresh interpreter; of the two
    switches, only those given in ``env`` are set."""
    environ = {**os.environ, **env}
    for name in ("KOLBEN_FLASK_COMPAT", "KOLBEN_COMPAT_REFERENCE"):
        if name not in env:
            environ.pop(name, None)
    command = [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        *("-o", "console_output_style=classic", *(str(HERE / p) for p in paths)),
    ]
    return subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=TIME_LIMIT
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario(scenario: str) -> None:
    proc = run_pytest([scenario], KOLBEN_FLASK_COMPAT="1")
    if proc.returncode != 0:
        pytest.fail(
            f"{scenario} failed under the compat layer ({' '.join(proc.args)}):\n"
            f"{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
    # The ASGI halves skip only on the real Flask: a skip here would mean that
    # the scenario did not get kolben.
    assert "the real Flask has no ASGI door" not in proc.stdout, proc.stdout


def test_scenarios_pass_on_the_real_flask() -> None:
    extensions = [name for name in SCENARIOS if name != "layer.py"]
    proc = run_pytest(extensions, KOLBEN_COMPAT_REFERENCE="1")
    if proc.returncode != 0:
        pytest.fail(
            "a scenario fails on the real Flask, so it asserts something Flask does"
            f" not do ({' '.join(proc.args)}):\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )
