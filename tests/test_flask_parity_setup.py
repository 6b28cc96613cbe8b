"""Setup-time behaviours as in Flask 3.1: the shell's ``g``, the Jinja
environment class, the debug setter, the read-only defaults, root paths."""

from __future__ import annotations

import pytest

import kolben
from kolben.helpers import get_root_path
from kolben.templating import Environment


def test_the_shell_context_g_is_the_proxy() -> None:
    """``kolben shell``'s ``g`` is the ``g`` of whatever context is active, as
    Flask's (not the one of the context active when the shell started)."""
    app = kolben.Kolben(__name__)
    assert app.make_shell_context()["g"] is kolben.g
    with app.app_context():
        g = app.make_shell_context()["g"]
        with app.app_context():
            g.user = "inner"
            assert kolben.g.user == "inner"
        assert "user" not in kolben.g


def test_jinja_environment_is_the_environment_class() -> None:
    assert kolben.Kolben.jinja_environment is Environment

    class MyEnvironment(kolben.Kolben.jinja_environment):  # type: ignore[misc,name-defined]
        pass

    class App(kolben.Kolben):
        jinja_environment = MyEnvironment

    assert type(App(__name__).jinja_env) is MyEnvironment


@pytest.mark.parametrize("debug", [True, False])
def test_setting_debug_makes_the_jinja_environment_as_flask_does(debug: bool) -> None:
    """Flask's debug setter sets the Jinja environment's auto-reload (creating
    it) while ``TEMPLATES_AUTO_RELOAD`` is None; what is set up for it later is
    not read."""
    app = kolben.Kolben(__name__)
    app.debug = debug
    app.config["TEMPLATES_AUTO_RELOAD"] = not debug
    app.jinja_options = {"trim_blocks": True}
    assert app.jinja_env.auto_reload is debug
    assert app.jinja_env.trim_blocks is False


def test_an_explicit_templates_auto_reload_is_left_alone_by_debug() -> None:
    app = kolben.Kolben(__name__)
    app.config["TEMPLATES_AUTO_RELOAD"] = False
    app.debug = True
    app.jinja_options = {"trim_blocks": True}
    assert app.jinja_env.auto_reload is False
    assert app.jinja_env.trim_blocks is True


def test_default_config_is_read_only() -> None:
    with pytest.raises(TypeError):
        kolben.Kolben.default_config["X"] = 1  # type: ignore[index]
    assert "X" not in kolben.Kolben(__name__).config

    class App(kolben.Kolben):
        default_config = {**kolben.Kolben.default_config, "X": 1}

    assert App(__name__).config["X"] == 1


@pytest.mark.parametrize("name", ["time", "sys"])
def test_a_module_without_a_file_has_no_root_path(name: str) -> None:
    with pytest.raises(RuntimeError, match="No root path can be found"):
        get_root_path(name)
    with pytest.raises(RuntimeError, match="root path needs to be explicitly provided"):
        kolben.Kolben(name)
    assert kolben.Kolben(name, root_path="/srv/app").root_path == "/srv/app"
