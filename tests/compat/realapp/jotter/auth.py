"""Registering, logging in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_mail import Message
from werkzeug.wrappers import Response

from .extensions import db, mail
from .forms import LoginForm, RegisterForm
from .models import User

bp = Blueprint("auth", __name__, url_prefix="/auth")


def flash_errors(form: LoginForm | RegisterForm) -> None:
    for name, errors in form.errors.items():
        label = form[name].label.text if name in form else name
        for error in errors:
            flash(f"{label}: {error}", "error")


@bp.route("/register", methods=("GET", "POST"))
def register() -> str | Response:
    form = RegisterForm()
    if form.validate_on_submit():
        taken = db.session.scalar(db.select(User).filter_by(username=form.username.data))
        if taken is not None:
            flash(f"User {form.username.data} is already registered.", "error")
        else:
            user = User(username=form.username.data, email=form.email.data)
            user.set_password(form.password.data)
            db.session.add(user)
            db.session.commit()
            mail.send(
                Message(
                    "Welcome to Jotter",
                    recipients=[user.email],
                    body=render_template("auth/welcome.txt", user=user),
                )
            )
            flash("Account created. Please log in.", "success")
            return redirect(url_for("auth.login"))
    flash_errors(form)
    return render_template("auth/register.html", form=form)


@bp.route("/login", methods=("GET", "POST"))
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(db.select(User).filter_by(username=form.username.data))
        if user is None or not user.check_password(form.password.data):
            flash("Wrong username or password.", "error")
        else:
            login_user(user, remember=form.remember.data)
            flash(f"Welcome back, {user.username}!", "success")
            target = request.args.get("next")
            if not target or urlsplit(target).netloc or not target.startswith("/"):
                target = url_for("index")
            return redirect(target)
    flash_errors(form)
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout() -> Response:
    logout_user()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))
