"""Templates on the app: context processors, the Jinja environment's
``auto_reload``, the template decorators, the default template context, explained
template loading, ``get_template_attribute``."""

from __future__ import annotations

import logging

import pytest
from jinja2 import TemplateNotFound

import kolben
from helpers import kolben_only, write
from kolben import g


def test_context_processor_is_registered(app):
    def extra():
        return {"x": 1}

    assert app.context_processor(extra) is extra
    assert app.template_context_processors[None][-1] is extra


def test_jinja_auto_reload_option_wins_over_config(app):
    app.config["TEMPLATES_AUTO_RELOAD"] = False
    app.jinja_options = {**app.jinja_options, "auto_reload": True}
    assert app.jinja_env.auto_reload is True


def test_jinja_auto_reload_follows_config_and_debug(app):
    app.debug = True
    assert app.jinja_env.auto_reload is True


@kolben_only
def test_template_decorators_without_parentheses(app):
    # Flask 3.1 needs parentheses (``@app.template_filter()``); Flask 3.2 and
    # kolben accept the bare decorator too.
    @app.template_filter
    def shout(s):
        return s.upper()

    @app.template_test
    def short(s):
        return len(s) < 4

    @app.template_global
    def greeting():
        return "hi"

    assert shout("x") == "X"
    assert app.jinja_env.filters["shout"] is shout
    assert app.jinja_env.tests["short"] is short
    assert app.jinja_env.globals["greeting"] is greeting
    with app.app_context():
        rendered = app.jinja_env.from_string(
            "{{ greeting() | shout }} {{ 'abc' is short }} {{ 'abcd' is short }}"
        ).render()
    assert rendered == "HI True False"


@kolben_only
def test_blueprint_app_template_decorators_without_parentheses(app):
    # As on the app (above): the bare decorator registers the function.
    bp = kolben.Blueprint("bare", __name__)

    @bp.app_template_filter
    def shout(s):
        return s.upper()

    @bp.app_template_test
    def short(s):
        return len(s) < 4

    @bp.app_template_global
    def greeting():
        return "hi"

    assert shout("x") == "X"
    app.register_blueprint(bp)
    assert app.jinja_env.filters["shout"] is shout
    assert app.jinja_env.tests["short"] is short
    assert app.jinja_env.globals["greeting"] is greeting


def test_default_template_context_outside_contexts(app):
    default = app.template_context_processors[None][0]
    assert default() == {}
    with app.app_context():
        g.x = 1
        assert default()["g"].x == 1
        assert "request" not in default()


def test_explained_template_loading_outside_a_request(tmp_path, caplog):
    app = kolben.Kolben("explained", root_path=str(tmp_path))
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    with (
        caplog.at_level(logging.INFO, logger=app.logger.name),
        app.app_context(),
        pytest.raises(TemplateNotFound),
    ):
        kolben.render_template("missing.html")
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "Locating template 'missing.html':" in messages
    assert "Error: the template could not be found." in messages
    assert "belongs to the blueprint" not in messages


def test_get_template_attribute(tmp_path):
    from kolben.helpers import get_template_attribute

    write(
        tmp_path / "templates" / "macros.html",
        "{% macro hello(name) %}Hello {{ name }}!{% endmacro %}{% set answer = 42 %}",
    )
    app = kolben.Kolben("macros", root_path=str(tmp_path))
    with app.app_context():
        assert get_template_attribute("macros.html", "hello")("<World>") == "Hello &lt;World&gt;!"
        assert get_template_attribute("macros.html", "answer") == 42
