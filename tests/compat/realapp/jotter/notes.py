"""The notes: a paginated list, a form to write one, deleting."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from .extensions import db
from .forms import NoteForm
from .models import Note

bp = Blueprint("notes", __name__)


@bp.route("/")
@login_required
def index() -> str:
    page = request.args.get("page", 1, type=int)
    query = db.select(Note).filter_by(author_id=current_user.id).order_by(Note.id.desc())
    notes = db.paginate(query, page=page, per_page=current_app.config["NOTES_PER_PAGE"])
    return render_template("notes/index.html", notes=notes)


@bp.route("/new", methods=("GET", "POST"))
@login_required
def create() -> str | Response:
    form = NoteForm()
    if form.validate_on_submit():
        db.session.add(Note(author=current_user, title=form.title.data, body=form.body.data))
        db.session.commit()
        flash("Note saved.", "success")
        return redirect(url_for("index"))
    for name, errors in form.errors.items():
        for error in errors:
            flash(f"{form[name].label.text}: {error}", "error")
    return render_template("notes/new.html", form=form)


@bp.post("/<int:note_id>/delete")
@login_required
def delete(note_id: int) -> Response:
    note = db.get_or_404(Note, note_id)
    if note.author_id != current_user.id:
        abort(403)
    db.session.delete(note)
    db.session.commit()
    flash("Note deleted.", "info")
    return redirect(url_for("index"))
