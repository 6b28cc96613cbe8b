"""KOLBEN_FLASK_COMPAT=1 in every Python process: the start-up hook
(``kolben_flask_compat.pth`` + ``_kolben_flask_compat``), ``python -m flask``,
Flask's own ``flask`` command, and the error when the real Flask came first.

Each check runs a new Python process (bounded by a timeout)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kolben
import kolben.compat

SRC = Path(kolben.__file__).resolve().parent.parent
PTH = SRC / kolben.compat.HOOK_PTH
TIMEOUT = 60
REAL_FLASK = shutil.which("flask", path=os.path.dirname(sys.executable))


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOLBEN_", "FLASK_"))}
    # The kolben under test (a checkout may not be the installed one).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _python(code: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(**env),
        cwd=cwd,
    )


def _site_with_hook(tmp_path: Path) -> Path:
    """A folder holding only the hook's .pth, processed as a site folder is."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    shutil.copy(PTH, site_dir / PTH.name)
    return site_dir


PROBE = """
    import site, sys
    site.addsitedir({site!r})  # processes the .pth as Python start-up does
    print("hook" if "_kolben_flask_compat" in sys.modules else "no-hook")
    print("kolben" in sys.modules)
    try:
        import flask
    except ImportError:
        print("no flask")
    else:
        print(type(flask.Flask).__name__, flask.Flask.__module__)
    print("kolben" in sys.modules)
"""


def test_the_pth_file_is_one_cheap_line():
    lines = PTH.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("import os; ")
    assert "KOLBEN_FLASK_COMPAT" in lines[0]


def test_hook_serves_flask_from_kolben_on_first_import(tmp_path):
    result = _python(PROBE.format(site=str(_site_with_hook(tmp_path))), KOLBEN_FLASK_COMPAT="1")
    assert result.returncode == 0, result.stderr
    # kolben is imported only when flask is.
    assert result.stdout.split("\n")[:4] == ["hook", "False", "AppClass kolben.app", "True"]


@pytest.mark.parametrize("value", [None, "", "0", "false", "no"])
def test_hook_does_nothing_without_the_variable(tmp_path, value):
    extra = {} if value is None else {"KOLBEN_FLASK_COMPAT": value}
    result = _python(PROBE.format(site=str(_site_with_hook(tmp_path))), **extra)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "no-hook"
    assert lines[1] == "False"
    assert "kolben.app" not in lines[2]  # the real Flask, or none
    assert lines[3] == "False"


def test_hook_answers_flask_metadata(tmp_path):
    site_dir = _site_with_hook(tmp_path)
    result = _python(
        f"""
        import site, sys
        site.addsitedir({str(site_dir)!r})
        import importlib.metadata
        print(importlib.metadata.version("Flask"))
        print("kolben" in sys.modules)
        """,
        KOLBEN_FLASK_COMPAT="1",
    )
    assert result.stdout == f"{kolben.compat.FLASK_VERSION}\nTrue\n", result.stderr


def test_uninstall_removes_the_hook_too(tmp_path):
    result = _python(
        f"""
        import site, sys
        site.addsitedir({str(_site_with_hook(tmp_path))!r})
        import kolben.compat
        kolben.compat.uninstall()
        print(kolben.compat.installed(), [f for f in sys.meta_path if "kolben" in repr(f)])
        """,
        KOLBEN_FLASK_COMPAT="1",
    )
    assert result.stdout.strip() == "False []", result.stderr


# --- the real Flask imported first -------------------------------------------------------------


def test_real_flask_first_error_names_the_start_up_variable(monkeypatch):
    monkeypatch.delenv("KOLBEN_FLASK_COMPAT", raising=False)
    message = kolben.compat._how_to_install_first()
    assert "Start the process with KOLBEN_FLASK_COMPAT=1 in its environment" in message
    assert "kolben_flask_compat.pth" in message


def test_real_flask_first_error_when_the_hook_is_missing(monkeypatch):
    monkeypatch.setenv("KOLBEN_FLASK_COMPAT", "1")
    monkeypatch.delitem(sys.modules, "_kolben_flask_compat", raising=False)
    monkeypatch.setattr(kolben.compat, "hook_installed", lambda: False)
    message = kolben.compat._how_to_install_first()
    assert "start-up hook (kolben_flask_compat.pth) is not installed" in message
    assert "pip install -e ." in message


def test_real_flask_first_error_in_a_process(tmp_path):
    pytest.importorskip("flask")
    if kolben.compat.is_stand_in(sys.modules.get("flask")):
        pytest.skip("flask is kolben's here")
    result = _python(
        """
        import os
        import flask  # the real one
        os.environ["KOLBEN_FLASK_COMPAT"] = "1"  # too late: set after start-up
        import kolben
        """
    )
    assert result.returncode == 1
    assert "the real Flask is already imported" in result.stderr
    if kolben.compat.hook_installed():
        assert "it was set after this process started" in result.stderr
    else:
        assert "start-up hook (kolben_flask_compat.pth) is not installed" in result.stderr


# --- in this environment (needs kolben installed with pip: the hook in site-packages) ----------


@pytest.fixture
def installed_hook() -> None:
    if kolben.compat.hook_installed():
        return
    message = (
        "kolben's start-up hook is not in this Python's site-packages: install kolben"
        " with pip ('pip install -e .') to test it"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


APP = """
from flask import Flask, g

app = Flask(__name__)


@app.route("/")
def index():
    return "hi"


@app.cli.command("init-db")
def init_db():
    print("init-db:", type(app).__module__, repr(g))
"""


def test_installed_hook_at_start_up(installed_hook):
    result = _python(
        """
        import sys
        assert "kolben" not in sys.modules
        import flask
        print(flask.Flask.__module__)
        """,
        KOLBEN_FLASK_COMPAT="1",
    )
    assert result.stdout.strip() == "kolben.app", result.stderr


def test_installed_hook_under_pytest(installed_hook, tmp_path):
    (tmp_path / "test_probe.py").write_text(
        "import flask\n\n\ndef test_probe():\n    assert flask.Flask.__module__ == 'kolben.app'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_probe.py"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(KOLBEN_FLASK_COMPAT="1"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def _run_flask_command(command: list[str], cwd: Path, **env: str) -> None:
    for args, expected in [
        (["--app", "app", "init-db"], "init-db: kolben.app <flask.g of 'app'>"),
        (["routes"], "index     GET      /"),
    ]:
        result = subprocess.run(
            [*command, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=_env(**env),
            cwd=cwd,
        )
        assert result.returncode == 0, result.stderr
        assert expected in result.stdout


def test_installed_hook_runs_flasks_own_command_as_written(installed_hook, tmp_path):
    if REAL_FLASK is None:
        pytest.skip("Flask (and its flask command) is not installed here")
    (tmp_path / "app.py").write_text(APP)
    _run_flask_command([REAL_FLASK], tmp_path, KOLBEN_FLASK_COMPAT="1")


def test_python_dash_m_flask_runs_kolbens_command_line(tmp_path):
    """``python -m flask ...``, as Flask's docs write it, under the layer."""
    (tmp_path / "app.py").write_text(APP)
    _run_flask_command([sys.executable, "-m", "flask"], tmp_path, KOLBEN_FLASK_COMPAT="1")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--help"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(KOLBEN_FLASK_COMPAT="1"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: python -m flask" in result.stdout
    assert "A general utility script for Flask applications." in result.stdout


def test_flask_command_written_by_kolben_runs_as_written(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "kolben", "install-flask-command", "--dir", str(bin_dir)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_env(),
    )
    assert result.returncode == 0, result.stderr
    # It turns the layer on itself: no variable needed, even next to the real Flask.
    _run_flask_command([str(bin_dir / "flask")], tmp_path)
