"""get_template_attribute: macros and variables exported by a template."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest
from markupsafe import Markup

import kolben
from kolben import get_template_attribute


@pytest.fixture
def tapp(tmp_path: Path) -> kolben.Kolben:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "_macros.html").write_text(
        "{% macro hello(name) %}Hello {{ name }}!{% endmacro %}"
        "{% set answer = 42 %}"
        "{% macro uses_globals() %}{{ config.NAME }}{% endmacro %}",
        encoding="utf-8",
    )
    app = kolben.Kolben("tattr", root_path=str(tmp_path))
    app.config["NAME"] = "from config"
    return app


def test_macro_and_variable(tapp: kolben.Kolben) -> None:
    with tapp.app_context():
        hello = get_template_attribute("_macros.html", "hello")
        rv = hello("<World>")
        assert rv == "Hello &lt;World&gt;!"
        assert isinstance(rv, Markup)
        assert get_template_attribute("_macros.html", "answer") == 42


def test_uses_the_app_environment(tapp: kolben.Kolben) -> None:
    tapp.jinja_env.globals["config"] = tapp.config
    with tapp.app_context():
        assert get_template_attribute("_macros.html", "uses_globals")() == "from config"


def test_missing_attribute_and_template(tapp: kolben.Kolben) -> None:
    with tapp.app_context():
        with pytest.raises(AttributeError):
            get_template_attribute("_macros.html", "nope")
        with pytest.raises(jinja2.TemplateNotFound):
            get_template_attribute("missing.html", "hello")


def test_needs_an_app_context(tapp: kolben.Kolben) -> None:
    with pytest.raises(RuntimeError, match="outside of application context"):
        get_template_attribute("_macros.html", "hello")
