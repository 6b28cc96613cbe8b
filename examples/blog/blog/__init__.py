"""The kolben tutorial blog.

``create_app()`` builds the application: ``kolben --app blog run`` (or
``uvicorn --factory blog:create_app``) serves it, ``kolben --app blog init-db``
creates its tables.
"""

from __future__ import annotations

import os
import typing as t

from werkzeug.exceptions import HTTPException, InternalServerError

from kolben import Kolben, render_template

from . import auth, blog, csrf, db

#: HTTP errors shown with the blog's own page (the others keep kolben's default).
_ERROR_PAGES = (400, 403, 404, 405, 413, 503)


def create_app(test_config: t.Mapping[str, t.Any] | None = None) -> Kolben:
    """Create and configure the blog.

    Configuration comes from, in order: the defaults below, ``config.py`` in the
    instance folder, ``KOLBEN_*`` environment variables (``KOLBEN_SECRET_KEY``,
    ``KOLBEN_DATABASE``, ...) and ``DATABASE_URL``. Tests pass ``test_config``
    instead, which replaces the last three.
    """
    app = Kolben(__name__, instance_relative_config=True)
    app.config.from_mapping(
        # "dev" is fine on your machine; set a real key in instance/config.py.
        SECRET_KEY="dev",
        # SQLite file, used unless DATABASE_URL names a PostgreSQL server.
        DATABASE=os.path.join(app.instance_path, "blog.sqlite"),
        DATABASE_URL=None,
        # No form of this blog needs more than a megabyte.
        MAX_CONTENT_LENGTH=1024 * 1024,
        # werkzeug.security's method name; tests choose a cheaper one.
        PASSWORD_HASH_METHOD="scrypt",
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env()
        if os.environ.get("DATABASE_URL"):
            app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
        os.makedirs(app.instance_path, exist_ok=True)
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
    return render_template("errors/error.html", error=error), error.code or 500


def _server_error(error: InternalServerError) -> tuple[str, int]:
    """A database that went away while a request was running is a 503, not a 500."""
    original = getattr(error, "original_exception", None)
    if original is not None and db.is_unavailable_error(original):
        return _error_page(db.unavailable(original))
    return render_template("errors/error.html", error=error), 500
