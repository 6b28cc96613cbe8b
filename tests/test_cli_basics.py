"""The command line basics: ScriptInfo loading the app, with_appcontext, AppGroup,
the test CLI runner's script info, and the ``kolben`` console entry point."""

from __future__ import annotations

import importlib
import os
import platform
import subprocess
import sys
from importlib.metadata import version

import click
import pytest
from click.testing import CliRunner

import kolben
from helpers import kolben_only
from kolben import current_app, has_app_context
from kolben.cli import AppGroup, NoAppException, ScriptInfo, pass_script_info, with_appcontext
from kolben.globals import _cv_app


@pytest.fixture
def app_module(tmp_path, monkeypatch):
    """Write an importable module holding two apps; return its (unique) name."""
    name = f"cli_app_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(
        "import kolben\n"
        f"app = kolben.Kolben('{name}')\n"
        "other = kolben.Kolben('other_app')\n"
        "torn_down = []\n"
        "app.teardown_appcontext(torn_down.append)\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


# --- ScriptInfo.load_app -------------------------------------------------------------------


def test_load_app_with_a_factory_calls_it_once(app):
    calls = []

    def create_app():
        calls.append(1)
        return app

    info = ScriptInfo(create_app=create_app)
    assert info.load_app() is app
    assert info.load_app() is app
    assert calls == [1]
    assert info.data == {}


def test_load_app_from_module_and_attribute(app_module):
    info = ScriptInfo(app_import_path=f"{app_module}:other")
    loaded = info.load_app()
    assert isinstance(loaded, kolben.Kolben)
    assert loaded.name == "other_app"
    assert loaded is sys.modules[app_module].other
    assert info.load_app() is loaded


def test_load_app_from_module_uses_its_app(app_module):
    loaded = ScriptInfo(app_import_path=app_module).load_app()
    assert loaded is sys.modules[app_module].app
    assert loaded.name == app_module


def test_load_app_without_app_or_factory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NoAppException) as info:
        ScriptInfo().load_app()
    assert isinstance(info.value, click.UsageError)
    assert "Could not locate a" in info.value.message
    assert "application" in info.value.message


@kolben_only
def test_no_app_message_says_how_to_fix_it():
    with pytest.raises(NoAppException, match="--app") as info:
        ScriptInfo().load_app()
    assert "KOLBEN_APP" in str(info.value)


# --- with_appcontext ----------------------------------------------------------------------


def test_with_appcontext_pushes_the_loaded_app_context(app_module):
    module = importlib.import_module(app_module)

    @click.command()
    @with_appcontext
    def show():
        click.echo(f"{current_app.name} {has_app_context()}")

    result = CliRunner().invoke(show, obj=ScriptInfo(app_import_path=app_module))
    assert result.exit_code == 0, result.output
    assert result.output == f"{app_module} True\n"
    assert module.torn_down == [None]
    assert not has_app_context()


def test_with_appcontext_keeps_an_already_pushed_context(app):
    def must_not_load():
        raise AssertionError("the app must not be loaded again")

    seen = []

    @click.command()
    @with_appcontext
    def show():
        seen.append(_cv_app.get())
        click.echo(current_app.name)

    with app.app_context() as outer:
        result = CliRunner().invoke(show, obj=ScriptInfo(create_app=must_not_load))
        assert _cv_app.get() is outer
    assert result.exit_code == 0, result.output
    assert result.output == "test_app\n"
    assert seen == [outer]


def test_with_appcontext_without_script_info_or_app(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)

    @click.command()
    @with_appcontext
    def show():
        click.echo("unreachable")

    result = CliRunner().invoke(show)
    assert result.exit_code == 2
    assert "unreachable" not in result.output
    assert "Could not locate a" in result.output


def test_pass_script_info_creates_one_when_missing():
    seen = []

    @click.command()
    @pass_script_info
    def show(info):
        seen.append(info)

    result = CliRunner().invoke(show)
    assert result.exit_code == 0, result.output
    assert isinstance(seen[0], ScriptInfo)
    assert seen[0].app_import_path is None
    assert seen[0].create_app is None


# --- AppGroup ------------------------------------------------------------------------------


def test_app_cli_commands_run_in_the_app_context(app, runner):
    @app.cli.command()
    def inside():
        click.echo(f"{current_app.name} {has_app_context()}")

    @app.cli.command(with_appcontext=False)
    def outside():
        click.echo(f"context: {has_app_context()}")

    assert isinstance(app.cli, AppGroup)
    result = runner.invoke(args=["inside"])
    assert result.exit_code == 0, result.output
    assert result.output == "test_app True\n"
    result = runner.invoke(args=["outside"])
    assert result.exit_code == 0, result.output
    assert result.output == "context: False\n"


def test_app_group_group_is_an_app_group(app, runner):
    @app.cli.group()
    def tools():
        """Tools."""

    assert isinstance(tools, AppGroup)

    @tools.command()
    def show():
        click.echo(f"{current_app.name} {has_app_context()}")

    @tools.group(cls=click.Group)
    def plain():
        """A plain click group."""

    assert type(plain) is click.Group
    result = runner.invoke(args=["tools", "show"])
    assert result.exit_code == 0, result.output
    assert result.output == "test_app True\n"


def test_app_group_command_with_name_and_options(app, runner):
    @app.cli.command("say-hi", help="Greets.")
    @click.option("--name", default="world")
    def say(name):
        click.echo(f"hi {name} from {current_app.name}")

    result = runner.invoke(args=["say-hi", "--name", "you"])
    assert result.exit_code == 0, result.output
    assert result.output == "hi you from test_app\n"
    result = runner.invoke(args=["say-hi", "--help"])
    assert "Greets." in result.output


def test_cli_runner_uses_a_given_script_info(app, runner):
    other = kolben.Kolben("another_app")

    @app.cli.command()
    def which():
        click.echo(current_app.name)

    result = runner.invoke(args=["which"], obj=ScriptInfo(create_app=lambda: other))
    assert result.exit_code == 0, result.output
    assert result.output == "another_app\n"
    result = runner.invoke(args=["which"])
    assert result.output == "test_app\n"


def test_cli_runner_invokes_a_given_command(app, runner):
    @click.command()
    @click.argument("word")
    @with_appcontext
    def standalone(word):
        click.echo(f"{word} {current_app.name}")

    result = runner.invoke(standalone, ["hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello test_app\n"


# --- the kolben console entry point -----------------------------------------------------------

#: ``kolben --version``: Python, kolben and werkzeug versions, as ``flask --version``.
VERSION_OUTPUT = (
    f"Python {platform.python_version()}\n"
    f"Kolben {version('kolben')}\n"
    f"Werkzeug {version('werkzeug')}\n"
)


@kolben_only
def test_cli_group_help_and_version():
    from kolben.cli import cli

    result = CliRunner().invoke(cli, ["--help"], prog_name="kolben")
    assert result.exit_code == 0, result.output
    # Without an app in the current folder the error goes to stderr (as in Flask).
    assert result.stdout.startswith("Usage: kolben [OPTIONS] COMMAND [ARGS]...")
    assert "The kolben command line." in result.output
    assert "--version" in result.output
    result = CliRunner().invoke(cli, ["--version"], prog_name="kolben")
    assert result.exit_code == 0, result.output
    assert result.output == VERSION_OUTPUT


@kolben_only
def test_main_runs_the_cli(monkeypatch, capsys):
    from kolben.cli import main

    monkeypatch.setattr(sys, "argv", ["whatever", "--version"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 0
    assert capsys.readouterr().out == VERSION_OUTPUT


@kolben_only
def test_main_with_no_arguments_shows_usage(monkeypatch, capsys):
    from kolben.cli import main

    monkeypatch.setattr(sys, "argv", ["kolben"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code in (0, 2)
    captured = capsys.readouterr()
    assert "Usage: kolben [OPTIONS] COMMAND [ARGS]..." in captured.out + captured.err


SCRIPT = os.path.join(os.path.dirname(sys.executable), "kolben")


@kolben_only
@pytest.mark.skipif(not os.path.exists(SCRIPT), reason="the kolben console script is not installed")
def test_installed_console_script():
    result = subprocess.run(
        [SCRIPT, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: kolben")
    result = subprocess.run(
        [SCRIPT, "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == VERSION_OUTPUT
