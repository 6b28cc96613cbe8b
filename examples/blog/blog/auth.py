"""Registering, logging in and out; ``g.user``; the ``login_required`` decorator."""

from __future__ import annotations

import functools
import typing as t

from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from kolben import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    redirect_back,
    render_template,
    request,
    session,
    url_for,
)

from . import db

bp = Blueprint("auth", __name__, url_prefix="/auth")

USERNAME_MAX = 40
PASSWORD_MAX = 200  # hashing a huge password would be a cheap way to burn CPU

#: Endpoints that do not need ``g.user``: the event stream stays open for minutes
#: and must not hold a database connection for that long.
_NO_USER_ENDPOINTS = frozenset({"static", "blog.events"})

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


@bp.before_app_request
def load_logged_in_user() -> None:
    """Set ``g.user`` to the logged-in :class:`~blog.db.User`, or None."""
    if request.endpoint in _NO_USER_ENDPOINTS:
        g.user = None
        return
    user_id = session.get("user_id")
    g.user = db.get_user(user_id) if isinstance(user_id, int) else None


def login_required(view: F) -> F:
    """Send visitors who are not logged in to the login page (and back afterwards)."""

    @functools.wraps(view)
    def wrapped_view(**kwargs: t.Any) -> t.Any:
        if g.user is None:
            flash("Please log in first.", "error")
            # Back here after logging in only if this URL can be opened (a GET):
            # a refused POST to /7/delete must not end on "405 Method Not Allowed".
            rule = request.url_rule
            if rule is not None and "GET" in (rule.methods or ()):
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            return redirect(url_for("auth.login"))
        return view(**kwargs)

    return t.cast(F, wrapped_view)


def _credentials() -> tuple[str, str, str | None]:
    """The submitted username and password, and what is wrong with them (or None)."""
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    error = None
    if not username:
        error = "Username is required."
    elif len(username) > USERNAME_MAX:
        error = f"Username is too long (at most {USERNAME_MAX} characters)."
    elif "\x00" in username:
        error = "Username cannot contain NUL characters."
    elif not password:
        error = "Password is required."
    elif len(password) > PASSWORD_MAX:
        error = f"Password is too long (at most {PASSWORD_MAX} characters)."
    return username, password, error


@bp.route("/register", methods=("GET", "POST"))
def register() -> t.Any:
    """Show the registration form; create the user."""
    if request.method == "POST":
        username, password, error = _credentials()
        if error is None:
            try:
                db.create_user(username, _hash(password))
            except db.UsernameTaken:
                error = f"User {username} is already registered."
            else:
                flash("Registered. You can log in now.", "success")
                return redirect(url_for("auth.login"))
        flash(error, "error")
        return render_template("auth/register.html"), 400
    return render_template("auth/register.html")


def _hash(password: str) -> str:
    """Hash with the configured method (werkzeug's default, scrypt, unless
    ``PASSWORD_HASH_METHOD`` says otherwise)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


@functools.lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not a password", method=method)


@bp.route("/login", methods=("GET", "POST"))
def login() -> t.Any:
    """Show the login form; log the user in."""
    if request.method == "POST":
        username, password, error = _credentials()
        if error is None:
            user = db.get_user_by_name(username)
            # Check a hash either way, so a wrong name takes as long as a wrong password.
            good = check_password_hash(
                user.password if user else _dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]),
                password,
            )
            if user is None or not good:
                error = "Incorrect username or password."
            else:
                session.clear()  # a fresh session (and CSRF token) for the new user
                session["user_id"] = user.id
                flash(f"Welcome, {user.username}!", "success")
                # Back to ?next= (set by login_required) if it is on this site.
                return redirect_back(url_for("index"))
        flash(error, "error")
        return render_template("auth/login.html"), 400
    return render_template("auth/login.html")


@bp.post("/logout")
def logout() -> Response:
    """Log out (a POST with the CSRF token, so another site cannot log you out)."""
    session.clear()
    flash("You are logged out.", "success")
    return redirect(url_for("index"))
