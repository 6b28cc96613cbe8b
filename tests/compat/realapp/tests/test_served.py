"""Jotter served for real on 127.0.0.1: set up with ``flask --app jotter init-db
--demo``, then run by gunicorn (WSGI) and uvicorn (ASGI), at the root and
mounted under /jotter, with a few browser-like requests: log in with the form's
CSRF token, see the flashed welcome, post a note, see it and its flash.

Servers run in subprocesses with this run's environment (``KOLBEN_FLASK_COMPAT=1``
on kolben), are waited for with a bound, and stopped by their PID (kolben's
tests/serving.py).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import httpx
import pytest

from conftest import PROJECT, deployed_env, run_flask
from serving import HOST, ServerProcess, answers, free_port

STARTUP_LIMIT = 20.0
ON_KOLBEN = bool(os.environ.get("KOLBEN_FLASK_COMPAT"))


def server_command(kind: str, port: int, mount: str) -> list[str]:
    if kind == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", "--factory", "jotter:create_app"),
            *("--host", HOST, "--port", str(port), "--root-path", mount),
            *("--log-level", "warning", "--no-access-log"),
        ]
    return [
        *(sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"{HOST}:{port}"),
        *("--graceful-timeout", "5", "jotter:create_app()"),
    ]


def token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page
    return match.group(1)


@pytest.mark.parametrize("mount", ["", "/jotter"], ids=["root", "mounted"])
@pytest.mark.parametrize("kind", ["gunicorn", "uvicorn"])
def test_served(kind: str, mount: str, tmp_path: Path) -> None:
    if kind == "uvicorn" and not ON_KOLBEN:
        pytest.skip("the real Flask has no ASGI door")
    init = run_flask("init-db", "--demo", folder=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    port = free_port()
    env = deployed_env(tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    # Mounted: gunicorn takes the mount point from SCRIPT_NAME and gets the whole
    # path (a proxy passing /jotter/... on); uvicorn takes it from --root-path and
    # gets the path without it (a proxy that strips /jotter). Either way the app
    # sees SCRIPT_NAME=/jotter and builds its URLs with it.
    sent_prefix = mount if kind == "gunicorn" else ""
    if kind == "gunicorn" and mount:
        env["SCRIPT_NAME"] = mount
    server = ServerProcess(
        server_command(kind, port, mount),
        name=kind,
        cwd=PROJECT,
        env=env,
        log_path=tmp_path / "server.log",
        ready=lambda: answers(port, f"{sent_prefix}/health"),
        startup_limit=STARTUP_LIMIT,
    )
    base = f"http://{HOST}:{port}{sent_prefix}"
    with server, httpx.Client(base_url=base, timeout=10.0) as client:
        # Anonymous: sent to the login page, with the way back.
        response = client.get("/new")
        assert response.status_code == 302
        next_param = "%2Fjotter%2Fnew" if mount else "%2Fnew"
        assert response.headers["Location"] == f"{mount}/auth/login?next={next_param}"
        # Log in with the form's CSRF token; the welcome is flashed.
        login = client.get("/auth/login")
        assert login.status_code == 200
        data = {"username": "demo", "password": "demo-password", "csrf_token": token(login.text)}
        assert client.post("/auth/login", data={**data, "csrf_token": ""}).status_code == 400
        response = client.post("/auth/login", data=data)
        assert response.status_code == 302, response.text
        assert response.headers["Location"] == f"{mount}/"
        page = client.get("/").text
        assert '<li class="success">Welcome back, demo!</li>' in page
        assert "<h2>Second note</h2>" in page
        assert f'<a href="{mount}/" aria-current="page">Notes</a>' in page
        # Post a note with the form's token; it is saved and the flash shown.
        form = client.get("/new").text
        response = client.post("/new", data={"title": "Served", "csrf_token": token(form)})
        assert response.status_code == 302
        page = client.get(response.headers["Location"].removeprefix(mount)).text
        assert '<li class="success">Note saved.</li>' in page
        assert "<h2>Served</h2>" in page
    # What the server wrote to the database, seen by the next `flask` command.
    listed = run_flask("users", "list", folder=tmp_path)
    assert listed.stdout == "demo <demo@jotter.example>: 3 notes\n", listed.stderr
