"""Setup-time behaviours as in Flask 3.1: the shell's ``g``, the Jinja
environment class, the debug setter, the read-only defaults, root paths."""

from __future__ import annotations

import typing as t
from pathlib import Path

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


def test_session_key_prefix_is_not_preset() -> None:
    # Flask-Session reads SESSION_KEY_PREFIX with its own default ("session:"):
    # a value in the default config would move its records to other keys.
    app = kolben.Kolben(__name__)
    assert "SESSION_KEY_PREFIX" not in app.config
    # kolben's Redis sessions still default to their own prefix.
    from kolben.server_sessions import create_session_store

    app.config.update(SESSION_BACKEND="redis", SESSION_REDIS_URL="redis://127.0.0.1:1/0")
    store = create_session_store(app)
    assert store.key_prefix == "kolben:session:"  # type: ignore[attr-defined]


def test_broker_url_is_not_preset() -> None:
    # Celery reads BROKER_URL (its old name for broker_url) from the config a Flask
    # app hands it (celery.conf.update(app.config)): a None there replaced the
    # broker given to Celery(broker=...), sending tasks to amqp://localhost.
    app = kolben.Kolben(__name__)
    assert "BROKER_URL" not in app.config
    from kolben.broker.memory import MemoryBroker

    assert isinstance(app.broker, MemoryBroker)  # kolben's default, as before


@pytest.mark.parametrize("name", ["time", "sys"])
def test_a_module_without_a_file_has_no_root_path(name: str) -> None:
    with pytest.raises(RuntimeError, match="No root path can be found"):
        get_root_path(name)
    with pytest.raises(RuntimeError, match="root path needs to be explicitly provided"):
        kolben.Kolben(name)
    assert kolben.Kolben(name, root_path="/srv/app").root_path == "/srv/app"


def test_a_loader_subclass_gets_the_template_name_in_iter_loaders(
    tmp_path: Path, client_for: t.Callable[..., t.Any]
) -> None:
    # The "blueprint templates first" recipe overrides Flask's
    # _iter_loaders(self, template); kolben called it with no name (a 500).
    from kolben.templating import DispatchingJinjaLoader

    class BlueprintFirstLoader(DispatchingJinjaLoader):
        def _iter_loaders(self, template):  # type: ignore[override]
            blueprint = kolben.request.blueprint if kolben.has_request_context() else None
            if blueprint in self.app.blueprints:
                bp = self.app.blueprints[blueprint]
                if bp.jinja_loader is not None:
                    yield bp, bp.jinja_loader
            yield from super()._iter_loaders(template)

    class App(kolben.Kolben):
        def create_global_jinja_loader(self) -> t.Any:
            return BlueprintFirstLoader(self)

    for folder, text in [("templates", "app page"), ("bp_templates", "blueprint page")]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "page.html").write_text(text)
    app = App("x", root_path=str(tmp_path))
    bp = kolben.Blueprint("bp", "x", root_path=str(tmp_path), template_folder="bp_templates")
    bp.add_url_rule("/bp", "page", lambda: kolben.render_template("page.html"))
    app.add_url_rule("/", "page", lambda: kolben.render_template("page.html"))
    app.register_blueprint(bp)
    client = client_for(app)
    # (Jinja then caches the template by its name, in Flask as here.)
    assert client.get("/bp").data == b"blueprint page"
    assert client.get("/").status_code == 200
    with app.app_context():
        assert app.jinja_env.list_templates() == ["page.html"]


def test_a_create_url_adapter_replaced_on_the_app_is_called_per_request(
    client_for: t.Callable[..., t.Any],
) -> None:
    # Flask calls the instance's method for each request; kolben kept the
    # adapter the first request made.
    app = kolben.Kolben(__name__)
    calls: list[str] = []
    original = app.create_url_adapter

    def create_url_adapter(request: t.Any) -> t.Any:
        calls.append("called")
        return original(request)

    @app.route("/")
    def index() -> str:
        return "ok"

    client = client_for(app)
    client.get("/")
    app.create_url_adapter = create_url_adapter  # type: ignore[method-assign]
    client.get("/")
    client.get("/")
    assert len(calls) == 2


def test_app_url_for_takes_the_endpoint_by_keyword() -> None:
    app = kolben.Kolben(__name__)

    @app.route("/p/<int:n>")
    def page(n: int) -> str:
        return "ok"

    with app.test_request_context():
        assert app.url_for(endpoint="page", n=2) == "/p/2"
