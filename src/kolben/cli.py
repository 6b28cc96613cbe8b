"""The ``kolben`` command line.

This module holds what apps and tests need now: :class:`AppGroup` (the type of
``app.cli``), :func:`with_appcontext`, :class:`ScriptInfo` and the console entry
point. App discovery and the ``run``, ``shell`` and ``routes`` commands build on it.
"""

from __future__ import annotations

import os
import typing as t
from functools import update_wrapper

import click

if t.TYPE_CHECKING:
    from .app import Kolben

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


class NoAppException(click.UsageError):
    """Raised when no application could be found or loaded."""


class ScriptInfo:
    """What commands need to find the application: an import path or a factory.

    Commands get it as the click context's ``obj``; :meth:`load_app` returns the
    app, loading it once.
    """

    def __init__(
        self,
        app_import_path: str | None = None,
        create_app: t.Callable[..., Kolben] | None = None,
        set_debug_flag: bool = True,
        load_dotenv_defaults: bool = True,
    ) -> None:
        self.app_import_path = app_import_path
        self.create_app = create_app
        self.set_debug_flag = set_debug_flag
        self.load_dotenv_defaults = load_dotenv_defaults
        self.data: dict[t.Any, t.Any] = {}
        self._loaded_app: Kolben | None = None

    def load_app(self) -> Kolben:
        """Return the application, creating or importing it on first use."""
        if self._loaded_app is not None:
            return self._loaded_app
        if self.create_app is not None:
            app = self.create_app()
        elif self.app_import_path is not None:
            from werkzeug.utils import import_string

            module_name, _, attr = self.app_import_path.partition(":")
            module = import_string(module_name)
            app = getattr(module, attr or "app")
        else:
            raise NoAppException(
                "Could not locate a kolben application. Pass --app NAME, or set the"
                " KOLBEN_APP environment variable."
            )
        self._loaded_app = app
        return app


pass_script_info = click.make_pass_decorator(ScriptInfo, ensure=True)

#: The dotenv files loaded by :func:`load_dotenv`, in order; earlier files win.
DOTENV_FILES = (".env", ".kolbenenv", ".flaskenv")


def load_dotenv(path: str | os.PathLike[str] | None = None) -> bool:
    """Load environment variables from dotenv files, if python-dotenv is installed.

    With ``path``, that file is loaded (its values win over the defaults); then
    the first ``.env``, ``.kolbenenv`` and ``.flaskenv`` found searching up from
    the current folder. Variables already set in the environment are kept, and
    nothing is loaded when ``KOLBEN_SKIP_DOTENV`` (or ``FLASK_SKIP_DOTENV``) is 1.
    Returns whether a file was loaded.
    """
    try:
        import dotenv
    except ImportError:
        if path or any(os.path.isfile(name) for name in DOTENV_FILES):
            click.secho(
                " * Tip: there are .env files present. Install python-dotenv to use them.",
                fg="yellow",
                err=True,
            )
        return False
    skip = os.environ.get("KOLBEN_SKIP_DOTENV") or os.environ.get("FLASK_SKIP_DOTENV")
    loaded = False
    if path is not None and os.path.isfile(path):
        loaded = dotenv.load_dotenv(path, encoding="utf-8", override=False) or loaded
    if skip and skip.lower() not in ("0", "false", "no"):
        return loaded
    for name in DOTENV_FILES:
        found = dotenv.find_dotenv(name, usecwd=True)
        if found:
            loaded = dotenv.load_dotenv(found, encoding="utf-8", override=False) or loaded
    return loaded


def with_appcontext(f: F) -> F:
    """Run the decorated click command inside the app's application context.

    Commands registered with ``@app.cli.command()`` get this automatically.
    """

    @click.pass_context
    def decorator(ctx: click.Context, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        from .globals import _cv_app

        if _cv_app.get(None) is None:
            app = ctx.ensure_object(ScriptInfo).load_app()
            ctx.with_resource(app.app_context())
        return ctx.invoke(f, *args, **kwargs)

    return update_wrapper(decorator, f)  # type: ignore[return-value]


class AppGroup(click.Group):
    """A click group whose commands run inside the application context.

    ``app.cli`` is one. Pass ``with_appcontext=False`` to a command to opt out.
    """

    def command(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        wrap_for_ctx = kwargs.pop("with_appcontext", True)

        def decorator(f: t.Callable[..., t.Any]) -> click.Command:
            if wrap_for_ctx:
                f = with_appcontext(f)
            return click.Group.command(self, *args, **kwargs)(f)  # type: ignore[no-any-return]

        return decorator

    def group(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        kwargs.setdefault("cls", AppGroup)
        return click.Group.group(self, *args, **kwargs)


@click.group(
    help="The kolben command line. Commands to run, inspect and manage an app"
    " (run, shell, routes) are coming; an app's own commands attach to app.cli."
)
@click.version_option(package_name="kolben", prog_name="kolben")
def cli() -> None:
    """The ``kolben`` command group."""


def main() -> None:
    """Entry point of the ``kolben`` console script."""
    cli.main(prog_name="kolben")
