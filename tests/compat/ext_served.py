"""A Flask app with extensions (Flask-Login, Flask-SQLAlchemy, flask-cors,
Flask-Limiter), written against ``flask`` and served by kolben for real: uvicorn
(ASGI) and gunicorn (WSGI) in subprocesses on a free 127.0.0.1 port, with
``KOLBEN_FLASK_COMPAT=1``. The app module's only kolben line is ``import kolben``
before ``flask``, as docs/extensions.md says.

Runs in its own interpreter under the compat layer (see test_extensions.py).
Every wait is bounded; servers are stopped by their PID.
"""

from __future__ import annotations

import contextlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import compat_on
import httpx
import pytest

from serving import HOST, ServerProcess, answers, free_port, server_env

pytestmark = pytest.mark.skipif(compat_on.REFERENCE, reason="serves kolben, not the real Flask")

STARTUP_LIMIT = 20.0
MODULE = "compat_served_app"

APP_SOURCE = textwrap.dedent(
    """
    import importlib.metadata
    import os

    import kolben  # KOLBEN_FLASK_COMPAT=1: from here on, `import flask` gives kolben

    from flask import Flask, request
    from flask_cors import CORS
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address
    from flask_login import LoginManager, UserMixin, current_user, login_required, login_user
    from flask_sqlalchemy import SQLAlchemy

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="served under the compat layer",
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.environ["COMPAT_SERVED_DB"],
        RATELIMIT_STORAGE_URI="memory://",
    )
    db = SQLAlchemy(app)
    login_manager = LoginManager(app)
    CORS(app, resources={"/notes": {"origins": ["https://app.example"]}})
    limiter = Limiter(get_remote_address, app=app)


    class Note(db.Model):
        id = db.Column(db.Integer, primary_key=True)
        owner = db.Column(db.String(40), nullable=False)
        text = db.Column(db.String(200), nullable=False)


    class User(UserMixin):
        def __init__(self, name):
            self.id = name


    @login_manager.user_loader
    def load_user(name):
        return User(name)


    with app.app_context():
        db.create_all()


    @app.get("/about")
    def about():
        return {
            "flask_is_kolben": Flask is kolben.Kolben,
            "flask_version": importlib.metadata.version("flask"),
            "door": "asgi" if "asgi.scope" in request.environ else "wsgi",
        }


    @app.post("/login/<name>")
    def login(name):
        login_user(User(name))
        return {"user": name}


    @app.route("/notes", methods=["GET", "POST"])
    @login_required
    def notes():
        if request.method == "POST":
            db.session.add(Note(owner=current_user.id, text=request.get_json()["text"]))
            db.session.commit()
        mine = db.session.scalars(db.select(Note).filter_by(owner=current_user.id))
        return {"user": current_user.id, "notes": [n.text for n in mine]}


    @app.get("/limited")
    @limiter.limit("2 per minute")
    def limited():
        return "ok"
    """
)

SERVERS = {
    "uvicorn": lambda port: [
        *(sys.executable, "-m", "uvicorn", f"{MODULE}:app", "--host", HOST),
        *("--port", str(port), "--log-level", "warning", "--no-access-log"),
    ],
    "gunicorn": lambda port: [
        *(sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"{HOST}:{port}"),
        *("--graceful-timeout", "5", f"{MODULE}:app"),
    ],
}


@contextlib.contextmanager
def serving(kind: str, base: Path) -> Iterator[httpx.Client]:
    """Start ``kind`` on the app module in ``base``; yield an HTTP client for it."""
    (base / f"{MODULE}.py").write_text(APP_SOURCE)
    port = free_port()
    server = ServerProcess(
        SERVERS[kind](port),
        name=kind,
        cwd=base,
        env=server_env(
            pythonpath=[base], KOLBEN_FLASK_COMPAT="1", COMPAT_SERVED_DB=str(base / "app.db")
        ),
        log_path=base / "server.log",
        ready=lambda: answers(port, "/about"),
        startup_limit=STARTUP_LIMIT,
    )
    with server, httpx.Client(base_url=f"http://{HOST}:{port}", timeout=10.0) as client:
        yield client


@pytest.mark.parametrize("kind", list(SERVERS))
def test_served_flask_app_with_extensions(kind: str, tmp_path: Path) -> None:
    with serving(kind, tmp_path) as client:
        about = client.get("/about").json()
        assert about == {
            "flask_is_kolben": True,
            "flask_version": "3.1.3",
            "door": "asgi" if kind == "uvicorn" else "wsgi",
        }
        # Flask-Login: anonymous first, then logged in through the session cookie.
        assert client.get("/notes").status_code == 401
        assert client.post("/login/ada").json() == {"user": "ada"}
        origin = {"Origin": "https://app.example"}
        created = client.post("/notes", json={"text": "hello"}, headers=origin)
        assert created.json() == {"user": "ada", "notes": ["hello"]}
        # flask-cors on the same response.
        assert created.headers["Access-Control-Allow-Origin"] == "https://app.example"
        # Flask-SQLAlchemy: the row is there for the next request.
        assert client.get("/notes").json()["notes"] == ["hello"]
        # Flask-Limiter.
        assert [client.get("/limited").status_code for _ in range(3)] == [200, 200, 429]
