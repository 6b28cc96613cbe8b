"""The posts: the index (newest first), and create, update, delete for their author."""

from __future__ import annotations

import time
import typing as t

from werkzeug.wrappers import Response

from kolben import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from . import db, live
from .auth import login_required

bp = Blueprint("blog", __name__)

TITLE_MAX = 200
BODY_MAX = 20_000
#: The largest id the databases hold (64-bit INTEGER / BIGINT): bigger ones are 404s.
ID_MAX = 2**63 - 1


@bp.context_processor
def limits() -> dict[str, int]:
    """The length limits, for the editor's hints and ``maxlength`` attributes."""
    return {"title_max": TITLE_MAX, "body_max": BODY_MAX}


@bp.get("/")
def index() -> str:
    """Every post, newest first; the page then follows changes live."""
    # Where the page's event stream starts: now (just after every event id of the
    # previous millisecond), so that a change published between this render and
    # the EventSource connecting is replayed. Event ids are "<ms>-<seq>" (see the
    # SSE guide); replaying a change the page already shows is harmless.
    since = f"{int(time.time() * 1000) - 1}-18446744073709551615"
    return render_template("blog/index.html", posts=db.list_posts(), events_since=since)


# The event stream the index page follows (see live.py).
bp.add_url_rule("/events", view_func=live.events)


@bp.get(f"/<int(max={ID_MAX}):id>/card")
def card(id: int) -> str:
    """One post rendered as on the index: the page fetches it when an event says
    the post was created or changed."""
    post = db.get_post(id)
    if post is None:
        abort(404, f"Post {id} does not exist.")
    return render_template("blog/_post.html", post=post)


def _form() -> tuple[str, str, str | None]:
    """The submitted title and body, and what is wrong with them (or None)."""
    title = request.form.get("title", "").strip()
    # Browsers submit a textarea's newlines as CRLF but count them as one
    # character for maxlength: count (and store) them the same way.
    body = request.form.get("body", "").replace("\r\n", "\n").strip()
    error = None
    if "\x00" in title or "\x00" in body:  # PostgreSQL text cannot hold NUL
        error = "Title and body cannot contain NUL characters."
    elif not title:
        error = "Title is required."
    elif len(title) > TITLE_MAX:
        error = f"Title is too long: {len(title)} characters, at most {TITLE_MAX}."
    elif len(body) > BODY_MAX:
        error = f"Body is too long: {len(body)} characters, at most {BODY_MAX}."
    return title, body, error


@bp.route("/create", methods=("GET", "POST"))
@login_required
def create() -> t.Any:
    """Show the editor for a new post; save it."""
    if request.method == "POST":
        title, body, error = _form()
        if error is None:
            post_id = db.create_post(g.user.id, title, body)
            live.announce("created", post_id)
            flash("Your post is published.", "success")
            return redirect(url_for("index"))
        flash(error, "error")
        return render_template("blog/create.html"), 400
    return render_template("blog/create.html")


def get_own_post(id: int) -> db.Post:
    """The post ``id`` if the logged-in user wrote it: 404 if there is no such
    post, 403 if somebody else wrote it."""
    post = db.get_post(id)
    if post is None:
        abort(404, f"Post {id} does not exist.")
    if post.author_id != g.user.id:
        abort(403, "You can only change your own posts.")
    return post


@bp.route(f"/<int(max={ID_MAX}):id>/update", methods=("GET", "POST"))
@login_required
def update(id: int) -> t.Any:
    """Show the editor for an existing post; save the changes."""
    post = get_own_post(id)
    if request.method == "POST":
        title, body, error = _form()
        if error is None:
            db.update_post(id, title, body)
            live.announce("updated", id)
            flash("Your changes are saved.", "success")
            return redirect(url_for("index"))
        flash(error, "error")
        return render_template("blog/update.html", post=post), 400
    return render_template("blog/update.html", post=post)


@bp.post(f"/<int(max={ID_MAX}):id>/delete")
@login_required
def delete(id: int) -> Response:
    """Delete a post."""
    get_own_post(id)
    db.delete_post(id)
    live.announce("deleted", id)
    flash("The post is deleted.", "success")
    return redirect(url_for("index"))
