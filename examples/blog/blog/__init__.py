"""The kolben tutorial blog.

``create_app()`` builds the application: ``kolben --app blog run`` (or
``uvicorn --factory blog:create_app``) serves it, ``kolben --app blog init-db``
creates its tables.
"""

from __future__ import annotations

import os
import typing as t

from werkzeug.exceptions import HTTPException, InternalServerError

from kolben import Kolben, current_app, render_template

from . import auth, blog, csrf, db

#: HTTP errors shown with the blog's own page (the others keep kolben's default).
_ERROR_PAGES = (400, 403, 404, 405, 413, 503)


def create_app(test_config: t.Mapping[str, t.Any] | None = None) -> Kolben:
    """Create and configure the blog.

    Configuration comes from, in order: the defaults below, ``config.py`` in the
    instance folder, ``KOLBEN_*`` environment variables (``KOLBEN_SECRET_KEY``,
    ``KOLBEN_DATABASE``, ...), ``DATABASE_URL`` and ``BROKER_URL``. Tests pass
    ``test_config`` instead, which replaces the last four.
    """
    app = Kolben(__name__, instance_relative_config=True)
    app.config.from_mapping(
        # "dev" is fine on your machine; set a real key in instance/config.py.
        SECRET_KEY="dev",
        # SQLite file, used unless DATABASE_URL names a PostgreSQL server.
        DATABASE=os.path.join(app.instance_path, "blog.sqlite"),
        DATABASE_URL=None,
        # Defence in depth next to the CSRF tokens: browsers do not send the
        # session cookie with another site's POSTs (or its scripts' requests).
        SESSION_COOKIE_SAMESITE="Lax",
        # No form of this blog needs more than a megabyte.
        MAX_CONTENT_LENGTH=1024 * 1024,
        # werkzeug.security's method name; tests choose a cheaper one.
        PASSWORD_HASH_METHOD="scrypt",
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
        # Read as is, like DATABASE_URL: the names the docs and hosts use.
        for name in ("DATABASE_URL", "BROKER_URL"):
            if os.environ.get(name):
                app.config[name] = os.environ[name]
        os.makedirs(app.instance_path, exist_ok=True)
        if app.config["SECRET_KEY"] == "dev" and not app.debug:
            app.logger.warning(
                "SECRET_KEY is 'dev': anyone can forge a log-in cookie. Set"
                " KOLBEN_SECRET_KEY or SECRET_KEY in %s before the blog is reachable"
                " from other machines.",
                os.path.join(app.instance_path, "config.py"),
            )
    else:
        app.config.from_mapping(test_config)

    db.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(blog.bp)
    # After the blueprints: g.user is loaded first, so a refused form's error page
    # still shows who is logged in.
    csrf.init_app(app)
    # The index is the blog's front page: url_for("index") and url_for("blog.index")
    # are both "/".
    app.add_url_rule("/", endpoint="index")

    for code in _ERROR_PAGES:
        app.register_error_handler(code, _error_page)
    app.register_error_handler(InternalServerError, _server_error)
    return app


def _error_page(error: HTTPException) -> tuple[str, int]:
    """The blog's page for an HTTP error: what happened and what to do."""
    if isinstance(error, db.DatabaseUnavailable):
        # The operator learns why from the log; visitors see the driver's message
        # (host, port, user, file path) only in debug mode.
        current_app.logger.error("The database is not available: %s", error.reason)
        if not error.public and not current_app.debug:
            error = db.DatabaseUnavailable("it is busy or cannot be reached right now")
    return render_template("errors/error.html", error=error), error.code or 500


def _server_error(error: InternalServerError) -> tuple[str, int]:
    """A database that went away while a request was running is a 503, not a 500."""
    original = getattr(error, "original_exception", None)
    if original is not None and db.is_unavailable_error(original):
        return _error_page(db.unavailable(original))
    return render_template("errors/error.html", error=error), 500
