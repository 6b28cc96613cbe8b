"""A custom management script built on KolbenGroup."""

import click

from kolben import Kolben, current_app
from kolben.cli import FlaskGroup, KolbenGroup


def create_app():
    app = Kolben("managed")

    @app.route("/managed")
    def managed():
        return "managed"

    return app


@click.group(cls=KolbenGroup, create_app=create_app)
def cli():
    """Management script for the managed app."""


@cli.command()
def hello():
    """A command of the script itself, run in the app context."""
    click.echo(f"script command in {current_app.name} ({FlaskGroup is KolbenGroup})")


if __name__ == "__main__":
    cli()
