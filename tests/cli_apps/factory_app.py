"""App factories, called from --app with literal arguments."""

import click

from kolben import Kolben, current_app


def create_app(mode="default", *, debug_name=None):
    app = Kolben("factory_app")
    app.config["MODE"] = mode
    app.config["DEBUG_NAME"] = debug_name

    @app.cli.command("mode")
    def show_mode():
        click.echo(
            f"mode={current_app.config['MODE']} debug_name={current_app.config['DEBUG_NAME']}"
        )

    return app


def failing_factory():
    raise RuntimeError("database unreachable")


def type_error_inside():
    return len(5)


def returns_none():
    return None


not_a_function = "just a string"
