"""The main fixture app of tests/test_cli.py: routes, commands, blueprint commands,
a shell context processor."""

import threading

import click

from kolben import Blueprint, Kolben, current_app, g, has_app_context, request

app = Kolben("hello")


@app.route("/")
def index():
    return "Hello from kolben"


@app.route("/boom")
def boom():
    raise RuntimeError("the boom view failed")


@app.route("/server")
def server():
    multithread = request.environ["wsgi.multithread"]
    return f"debug={current_app.debug} multithread={multithread} scheme={request.scheme}"


@app.route("/items/<int:item_id>", methods=["GET", "POST"])
def item(item_id):
    return str(item_id)


@app.shell_context_processor
def shell_names():
    return {"answer": 42, "thread_name": threading.current_thread().name}


@app.cli.command()
@click.option("--name", default="world")
def greet(name):
    """Greet someone from inside the app context."""
    g.greeted = name
    click.echo(f"Hello {name} from {current_app.name} (context: {has_app_context()})")


@app.cli.command(with_appcontext=False)
def outside():
    """Runs without an app context pushed by with_appcontext."""
    click.echo(f"debug={app.debug}")


@app.cli.group()
def tools():
    """A nested AppGroup."""


@tools.command()
def which():
    click.echo(f"tools which: {current_app.name}")


users = Blueprint("users", __name__)


@users.cli.command("create")
@click.argument("username")
def create_user(username):
    click.echo(f"created {username} in {current_app.name}")


flat = Blueprint("flat", __name__, cli_group=None)


@flat.cli.command("flat-cmd")
def flat_cmd():
    click.echo("flat command")


admin_bp = Blueprint("admin_bp", __name__, cli_group="admin")


@admin_bp.cli.command("stats")
def admin_stats():
    click.echo(f"admin stats for {current_app.name}")


app.register_blueprint(users)
app.register_blueprint(flat)
app.register_blueprint(admin_bp)
