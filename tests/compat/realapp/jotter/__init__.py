"""Jotter: a small notes app written the Flask way (application factory,
blueprints, extensions set up with ``init_app``, a ``flask init-db`` command).

Nothing in it knows about kolben: kolben's test suite runs it, its tests and its
commands with ``KOLBEN_FLASK_COMPAT=1`` (and, as a reference, on the real Flask).
"""

from __future__ import annotations

import os
import typing as t

from flask import Flask, render_template

from .extensions import bcrypt, csrf, db, login_manager, mail
from .wrappers import MountedRequest


def create_app(
    test_config: t.Mapping[str, t.Any] | None = None, instance_path: str | None = None
) -> Flask:
    """Create and configure an instance of the app.

    Its instance folder (config.py, the SQLite database) is ``instance_path``,
    else ``$JOTTER_INSTANCE_PATH``, else Flask's default (``instance/`` next to
    the package).
    """
    app = Flask(
        __name__,
        instance_path=instance_path or os.environ.get("JOTTER_INSTANCE_PATH") or None,
        instance_relative_config=True,
    )
    app.request_class = MountedRequest
    app.config.from_mapping(
        SECRET_KEY="dev",
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(app.instance_path, "jotter.sqlite"),
        MAIL_DEFAULT_SENDER=("Jotter", "hello@jotter.example"),
        NOTES_PER_PAGE=10,
    )
    if test_config is None:
        # The instance config, then FLASK_* environment variables (FLASK_SECRET_KEY=...).
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    mail.init_app(app)
    bcrypt.init_app(app)

    from . import auth, commands, notes

    app.register_blueprint(auth.bp)
    app.register_blueprint(notes.bp)
    app.add_url_rule("/", endpoint="index")
    commands.init_app(app)

    @app.errorhandler(404)
    def not_found(e: Exception) -> tuple[str, int]:
        return render_template("404.html"), 404

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
