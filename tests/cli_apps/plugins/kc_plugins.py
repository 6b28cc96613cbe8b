"""Plugin commands, registered through the entry point groups in
kc_plugins-1.0.dist-info/entry_points.txt."""

import click

from kolben.cli import with_appcontext


@click.command("plugin-hello")
def plugin_hello():
    """A command from the kolben.commands entry point group."""
    click.echo("hello from a kolben plugin")


@click.command("flask-plugin")
@with_appcontext
def flask_plugin():
    """A command from the flask.commands entry point group."""
    from kolben import current_app

    click.echo(f"flask plugin sees {current_app.name}")
