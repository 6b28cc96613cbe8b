"""The deploy/ layout for real: deploy/smoke.sh starts nginx, a gunicorn sync pool
and a uvicorn async pool sharing the Redis broker on 127.0.0.1 high ports, checks
a page and an event through nginx, and stops everything by PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SMOKE = ROOT / "deploy" / "smoke.sh"
# Includes installing nginx with apt-get on a machine that lacks it.
LIMIT = 420


def _nginx_available() -> bool:
    return shutil.which("nginx") is not None or os.access("/usr/sbin/nginx", os.X_OK)


@pytest.mark.deploy
@pytest.mark.redis
def test_smoke_script() -> None:
    if not _nginx_available() and os.geteuid() != 0 and os.environ.get("CI") != "true":
        pytest.skip("nginx is not installed and installing it needs root")
    env = {**os.environ, "PYTHON": sys.executable}
    for key in ("KOLBEN_APP", "FLASK_APP", "KOLBEN_BROKER_URL", "KOLBEN_SECRET_KEY"):
        env.pop(key, None)
    result = subprocess.run(
        ["bash", str(SMOKE)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=LIMIT,
        stdin=subprocess.DEVNULL,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    assert "smoke: page through nginx: ok" in lines, output
    assert any(line.startswith("smoke: routing:") and line.endswith("ok") for line in lines)
    assert any("reached the SSE client through nginx" in line for line in lines), output
    assert lines[-1] == "smoke: ok", output


def test_layout_files_are_consistent() -> None:
    """The site file keeps the markers smoke.sh rewrites, and the service
    examples start the module and settings the layout ships."""
    site = (ROOT / "deploy" / "nginx" / "kolben.conf").read_text()
    for marker in ("# smoke: sync pool", "# smoke: async pool", "# smoke: nginx"):
        assert marker in site
    assert "location /streams/" in site and "proxy_buffering off;" in site
    for unit in ("kolben-sync.service", "kolben-async.service"):
        text = (ROOT / "deploy" / "systemd" / unit).read_text()
        assert "app:app" in text and "EnvironmentFile=/etc/kolben/env" in text
    assert (ROOT / "deploy" / "app.py").is_file()
    assert (ROOT / "deploy" / "gunicorn.conf.py").is_file()
