"""The app's ``flask`` commands: ``flask init-db`` and ``flask users ...``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from .extensions import db
from .models import Note, User


@click.command("init-db")
@click.option("--demo", is_flag=True, help="Add a demo user with two notes.")
@with_appcontext  # the `flask` command pushes one anyway; the test runner does not
def init_db_command(demo: bool) -> None:
    """Clear the existing data and create new tables."""
    db.drop_all()
    db.create_all()
    if demo:
        user = User(username="demo", email="demo@jotter.example")
        user.set_password("demo-password")
        user.notes = [Note(title="First note", body="Hello"), Note(title="Second note")]
        db.session.add(user)
        db.session.commit()
    click.echo("Initialized the database.")


users = AppGroup("users", help="Manage users.")


@users.command("create")
@click.argument("username")
@click.argument("email")
@click.password_option()
def create_user(username: str, email: str, password: str) -> None:
    """Add a user."""
    if db.session.scalar(db.select(User).filter_by(username=username)) is not None:
        raise click.ClickException(f"User {username} is already registered.")
    user = User(username=username, email=email)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    click.echo(f"Created user {username}.")


@users.command("list")
def list_users() -> None:
    """List the users and how many notes each has."""
    for user in db.session.scalars(db.select(User).order_by(User.username)):
        click.echo(f"{user.username} <{user.email}>: {len(user.notes)} notes")


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(users)
