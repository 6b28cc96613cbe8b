"""Jotter's ``flask`` commands: through the test CLI runner, and as a user runs
them, ``flask --app jotter ...`` in a subprocess (with the environment of this
run: ``KOLBEN_FLASK_COMPAT=1`` on kolben)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from jotter.extensions import db
from jotter.models import User

from conftest import run_flask


def test_init_db(app: Flask, runner) -> None:
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert result.output == "Initialized the database.\n"
    with app.app_context():
        assert db.session.scalars(db.select(User)).all() == []


def test_init_db_with_demo_data(runner) -> None:
    assert runner.invoke(args=["init-db", "--demo"]).exit_code == 0
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0, result.output
    assert result.output == "demo <demo@jotter.example>: 2 notes\n"


def test_create_user(app: Flask, runner) -> None:
    result = runner.invoke(
        args=["users", "create", "ada", "ada@example.com"], input="analytical\nanalytical\n"
    )
    assert result.exit_code == 0, result.output
    assert "Created user ada." in result.output
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username="ada"))
        assert user is not None and user.check_password("analytical")
    again = runner.invoke(args=["users", "create", "ada", "x@y.z", "--password", "pw"])
    assert again.exit_code == 1
    assert "Error: User ada is already registered." in again.output


def test_commands_are_listed(runner) -> None:
    result = runner.invoke(args=["--help"])
    assert result.exit_code == 0, result.output
    assert "init-db" in result.output
    assert "users" in result.output


def test_flask_command_in_a_subprocess(tmp_path: Path) -> None:
    version = run_flask("--version", folder=tmp_path)
    assert version.returncode == 0, version.stderr
    if os.environ.get("KOLBEN_FLASK_COMPAT"):
        assert "Flask compat layer" in version.stdout
    init = run_flask("init-db", "--demo", folder=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    assert init.stdout == "Initialized the database.\n"
    listed = run_flask("users", "list", folder=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert listed.stdout == "demo <demo@jotter.example>: 2 notes\n"
    missing = run_flask("no-such-command", folder=tmp_path)
    assert missing.returncode == 2
    assert "No such command 'no-such-command'" in missing.stderr
