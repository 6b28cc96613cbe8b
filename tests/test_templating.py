"""Templates: the Jinja environment, loaders, render/stream helpers, context, signals.

Template files live in ``tests/templates`` (the ``app`` fixture's template folder);
``tests/templates/blueprint`` doubles as a blueprint's template folder.
"""

from __future__ import annotations

import datetime
import logging
import os
import typing as t
import uuid

import jinja2
import pytest
from markupsafe import Markup

import kolben
from kolben import (
    Blueprint,
    g,
    render_template,
    render_template_string,
    request,
    session,
    stream_template,
    stream_template_string,
)
from kolben.helpers import flash
from kolben.json.provider import DefaultJSONProvider
from kolben.templating import DispatchingJinjaLoader, Environment

HERE = os.path.dirname(__file__)
TEMPLATES = os.path.join(HERE, "templates")


def _bp(name: str = "bp", **kwargs: t.Any) -> Blueprint:
    """A blueprint whose template folder is ``tests/templates/blueprint``."""
    return Blueprint(name, __name__, template_folder="templates/blueprint", **kwargs)


# -- the environment ---------------------------------------------------------------


def test_jinja_env_is_kolben_environment(app):
    env = app.jinja_env
    assert isinstance(env, Environment)
    assert env.app is app
    assert isinstance(env.loader, DispatchingJinjaLoader)
    assert app.jinja_env is env  # created once


def test_custom_environment_class_and_options(tmp_path):
    class MyEnvironment(Environment):
        pass

    class MyApp(kolben.Kolben):
        jinja_environment = MyEnvironment
        jinja_options = {"trim_blocks": True}

    app = MyApp(__name__, root_path=HERE)
    assert isinstance(app.jinja_env, MyEnvironment)
    assert app.jinja_env.trim_blocks is True
    with app.app_context():
        assert render_template_string("{% if true %}\nx{% endif %}") == "x"


def test_explicit_loader_option_is_used(app):
    loader = jinja2.DictLoader({"dict.html": "from a dict"})
    env = Environment(app, loader=loader)
    assert env.loader is loader
    assert env.get_template("dict.html").render() == "from a dict"


def test_list_templates_covers_app_and_blueprints(app):
    names = app.jinja_env.list_templates()
    assert "simple_template.html" in names
    assert "blueprint/bp_only.html" in names
    assert "bp_only.html" not in names
    app.register_blueprint(_bp())
    names = app.jinja_env.list_templates()
    assert "bp_only.html" in names
    assert names == sorted(set(names))


# -- the standard context ----------------------------------------------------------


def test_standard_context(app, client):
    @app.route("/")
    def index():
        g.foo = "bar"
        session["user"] = "ann"
        flash("hi")
        return render_template("standard_context.html")

    rv = client.get("/")
    assert rv.data.decode().strip() == "test key|/|ann|bar|/|[&#39;hi&#39;]"


def test_standard_context_in_template_string(app, client):
    @app.route("/page")
    def page():
        g.foo = 42
        return render_template_string(
            "{{ g.foo }}|{{ request.args.q }}|{{ config.TESTING }}|{{ url_for('page') }}"
        )

    assert client.get("/page?q=x").data == b"42|x|True|/page"


def test_app_context_only_has_g_and_config(app):
    with app.app_context():
        g.name = "cli"
        assert render_template_string("{{ g.name }} {{ config.TESTING }}") == "cli True"


def test_default_context_processor_values(app):
    seen = []

    def record(sender, template, context, **extra):
        seen.append(dict(context))

    with kolben.template_rendered.connected_to(record, app):
        with app.app_context():
            render_template_string("x")
            app_g = g._get_current_object()
        with app.test_request_context("/"):
            render_template_string("x")
            req = request._get_current_object()
            req_g = g._get_current_object()

    app_only, with_request = seen
    assert app_only["g"] is app_g
    assert "request" not in app_only
    assert "session" not in app_only
    assert with_request["g"] is req_g
    assert with_request["request"] is req
    # Like Flask 3.1.3, the session stays out of the context (it is a global).
    assert "session" not in with_request


def test_rendering_does_not_touch_the_session(app, client):
    @app.route("/plain")
    def plain():
        return render_template_string("{{ request.path }}")

    @app.route("/uses-session")
    def uses_session():
        return render_template_string("{{ session.get('user') }}")

    assert "Vary" not in client.get("/plain").headers
    rv = client.get("/uses-session")
    assert rv.data == b"None"
    assert rv.headers["Vary"] == "Cookie"


# -- autoescaping ------------------------------------------------------------------


ESCAPED_LINES = [
    "&lt;p&gt;Hello World!",
    "<p>Hello World!",
    "<p>Hello World!",
    "<p>Hello World!",
    "&lt;p&gt;Hello World!",
    "<p>Hello World!",
]


def test_autoescape_in_html_templates(app):
    with app.app_context():
        rv = render_template(
            "escaping_template.html", text="<p>Hello World!", html=Markup("<p>Hello World!")
        )
    assert rv.splitlines() == ESCAPED_LINES


def test_no_autoescape_in_txt_templates(app):
    with app.app_context():
        rv = render_template(
            "non_escaping_template.txt", text="<p>Hello World!", html=Markup("<p>Hello World!")
        )
        assert rv.splitlines() == ["<p>Hello World!", "<p>Hello World!"]
        assert render_template("mail.txt", foo="<test>") == "<test> Mail"


def test_autoescape_in_template_strings(app):
    with app.app_context():
        assert render_template_string("{{ v }}", v="<b>&") == "&lt;b&gt;&amp;"
        assert render_template_string("{{ v }}", v=Markup("<b>")) == "<b>"
        assert render_template_string("{{ v|safe }}", v="<b>") == "<b>"
        source = "{% autoescape false %}{{ v }}{% endautoescape %}"
        assert render_template_string(source, v="<b>") == "<b>"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (None, True),
        ("a.html", True),
        ("a.htm", True),
        ("a.xml", True),
        ("a.xhtml", True),
        ("a.svg", True),
        ("a.txt", False),
        ("a.js", False),
        ("a.html.txt", False),
    ],
)
def test_select_jinja_autoescape(app, filename, expected):
    assert app.select_jinja_autoescape(filename) is expected


# -- context processors ------------------------------------------------------------


def test_context_processor(app):
    @app.context_processor
    def inject():
        return {"injected_value": 42, "value": "from processor"}

    with app.test_request_context():
        rv = render_template("context_template.html", value=23)
    assert rv.strip() == "<p>23|42"  # the explicit value wins over the processor's


def test_context_processors_run_on_each_render(app):
    calls = []

    @app.context_processor
    def count():
        calls.append(1)
        return {"n": len(calls)}

    with app.app_context():
        assert render_template_string("{{ n }}") == "1"
        assert render_template_string("{{ n }}") == "2"


def test_blueprint_context_processors(app, client):
    bp = _bp()

    @bp.context_processor
    def bp_only():
        return {"bp_value": "bp"}

    @bp.app_context_processor
    def everywhere():
        return {"app_value": "all"}

    @bp.route("/in")
    def inside():
        return render_template_string("{{ bp_value }}|{{ app_value }}")

    @app.route("/out")
    def outside():
        return render_template_string("{{ bp_value }}|{{ app_value }}")

    app.register_blueprint(bp, url_prefix="/bp")
    assert client.get("/bp/in").data == b"bp|all"
    assert client.get("/out").data == b"|all"


def test_blueprint_views_see_the_real_g_and_request_over_app_processors(app, client):
    """As Flask: a blueprint's context processors start with the default one, which
    runs after the app's, so in its views ``g`` and ``request`` are the real objects
    even when an app processor returns those names (in the app's views it wins)."""
    bp = Blueprint("bp", __name__)
    assert bp.template_context_processors[None] == [
        kolben.templating._default_template_ctx_processor
    ]

    @app.context_processor
    def shadow():
        return {"g": "app-g", "request": "app-request"}

    source = "{{ g is string }}|{{ request if request is string else request.path }}"

    @bp.route("/in")
    def inside():
        return render_template_string(source)

    @app.route("/out")
    def outside():
        return render_template_string(source)

    app.register_blueprint(bp, url_prefix="/bp")
    assert client.get("/bp/in").data == b"False|/bp/in"
    assert client.get("/out").data == b"True|app-request"


# -- filters, tests and globals -----------------------------------------------------


def test_template_filter_decorator(app):
    @app.template_filter()
    def my_reverse(s):
        return s[::-1]

    @app.template_filter("strrev")
    def other(s):
        return s[::-1]

    assert app.jinja_env.filters["my_reverse"] is my_reverse
    assert app.jinja_env.filters["strrev"] is other
    with app.app_context():
        assert render_template_string("{{ 'abc'|my_reverse }}{{ 'xy'|strrev }}") == "cbayx"


def test_add_template_filter(app):
    def my_reverse(s):
        return s[::-1]

    app.add_template_filter(my_reverse)
    app.add_template_filter(my_reverse, "rev")
    assert app.jinja_env.filters["my_reverse"] is my_reverse
    with app.app_context():
        assert render_template_string("{{ 'ab'|my_reverse }}{{ 'cd'|rev }}") == "badc"


def test_template_test_decorator_and_add(app):
    @app.template_test()
    def boolean(value):
        return isinstance(value, bool)

    @app.template_test("even")
    def is_even(n):
        return n % 2 == 0

    def positive(n):
        return n > 0

    app.add_template_test(positive)
    app.add_template_test(positive, "pos")
    assert app.jinja_env.tests["boolean"] is boolean
    source = (
        "{{ value is boolean }} {{ 4 is even }} {{ 3 is even }} {{ -1 is positive }} {{ 1 is pos }}"
    )
    with app.app_context():
        assert render_template_string(source, value=False) == "True True False False True"


def test_template_global_decorator_and_add(app):
    @app.template_global()
    def double(n):
        return 2 * n

    @app.template_global("triple")
    def times_three(n):
        return 3 * n

    def answer():
        return 42

    app.add_template_global(answer)
    app.add_template_global(answer, "the_answer")
    assert app.jinja_env.globals["double"] is double
    with app.app_context():
        rv = render_template_string("{{ double(2) }} {{ triple(2) }} {{ answer() }}")
        assert rv == "4 6 42"
        assert render_template_string("{{ the_answer() }}") == "42"


def test_blueprint_app_template_filter_test_global(app):
    bp = _bp()

    @bp.app_template_filter()
    def shout(s):
        return s.upper()

    @bp.app_template_test("short")
    def is_short(s):
        return len(s) < 3

    @bp.app_template_global()
    def greet(name):
        return f"hi {name}"

    app.register_blueprint(bp)
    assert app.jinja_env.filters["shout"] is shout
    with app.app_context():
        assert render_template_string("{{ 'a'|shout }} {{ 'ab' is short }} {{ greet('x') }}") == (
            "A True hi x"
        )


# -- tojson ------------------------------------------------------------------------


def test_tojson_filter_uses_app_json_and_escapes(app):
    with app.app_context():
        rv = render_template_string("{{ data|tojson }}", data={"b": 1, "a": "<&'>"})
    # Keys sorted (the default provider's sort_keys); <, >, & and ' escaped.
    assert rv == '{"a": "\\u003c\\u0026\\u0027\\u003e", "b": 1}'


def test_tojson_is_safe_in_script_and_attribute(app):
    with app.app_context():
        rv = render_template_string(
            "<script>var x = {{ x|tojson }};</script><a data-x='{{ x|tojson }}'>",
            x="</script>'",
        )
    assert rv == (
        '<script>var x = "\\u003c/script\\u003e\\u0027";</script>'
        "<a data-x='\"\\u003c/script\\u003e\\u0027\"'>"
    )


def test_tojson_uses_the_app_json_provider(app):
    value = {"t": datetime.datetime(2024, 1, 2, 3, 4, 5), "u": uuid.UUID(int=1)}
    with app.app_context():
        rv = render_template_string("{{ d|tojson }}", d=value)
    assert rv == (
        '{"t": "Tue, 02 Jan 2024 03:04:05 GMT", "u": "00000000-0000-0000-0000-000000000001"}'
    )


def test_tojson_uses_a_custom_json_provider():
    class Provider(DefaultJSONProvider):
        def dumps(self, obj, **kwargs):
            return "custom:" + super().dumps(obj, **kwargs)

    class App(kolben.Kolben):
        json_provider_class = Provider

    app = App(__name__, root_path=HERE)
    with app.app_context():
        assert render_template_string("{{ 1|tojson }}") == "custom:1"


# -- finding templates --------------------------------------------------------------


def test_template_inheritance(app):
    with app.app_context():
        rv = render_template("child.html", message="<hi>")
    assert rv.splitlines() == [
        "<!doctype html>",
        "<title>Child</title>",
        "<main>&lt;hi&gt;</main>",
    ]


def test_render_first_existing_of_a_list(app):
    with app.app_context():
        rv = render_template(["missing.html", "simple_template.html", "child.html"], whiskey=42)
    assert rv.strip() == "<h1>42</h1>"


def test_render_template_object(app):
    with app.app_context():
        template = app.jinja_env.get_template("simple_template.html")
        assert render_template(template, whiskey=1).strip() == "<h1>1</h1>"


def test_template_not_found_names_the_folder(app):
    with app.app_context(), pytest.raises(jinja2.TemplateNotFound) as exc_info:
        render_template("missing.html")
    assert exc_info.value.name == "missing.html"
    assert str(exc_info.value) == "missing.html"  # Jinja's message, as in Flask
    assert _notes(exc_info.value) == [f"Searched: {TEMPLATES}"]


def _notes(error: BaseException) -> list[str]:
    return list(getattr(error, "__notes__", []))


def test_template_not_found_message_is_flasks(app, client):
    """An app that shows ``str(error)`` to its users shows the template name, as on
    Flask, not the server's folders (pgAdmin 4 returns it in its JSON errors)."""

    @app.route("/page")
    def page():
        try:
            return render_template("missing.html")
        except jinja2.TemplateNotFound as error:
            return {"message": str(error), "error_message": error.message}, 500

    @app.route("/pages")
    def pages():
        try:
            return render_template(["a.html", "b.html"])
        except jinja2.TemplateNotFound as error:
            return {"message": str(error)}, 500

    assert client.get("/page").get_json() == {
        "message": "missing.html",
        "error_message": "missing.html",
    }
    assert client.get("/pages").get_json() == {
        "message": "none of the templates given were found: a.html, b.html"
    }


def test_template_not_found_names_blueprint_folders(app):
    app.register_blueprint(_bp())
    with app.app_context(), pytest.raises(jinja2.TemplateNotFound) as exc_info:
        render_template("missing.html")
    blueprint_folder = os.path.join(TEMPLATES, "blueprint")
    assert _notes(exc_info.value) == [f"Searched: {TEMPLATES}, {blueprint_folder} (blueprint 'bp')"]


def test_template_not_found_marks_missing_folder(tmp_path):
    app = kolben.Kolben(__name__, root_path=str(tmp_path))
    with app.app_context(), pytest.raises(jinja2.TemplateNotFound) as exc_info:
        render_template("index.html")
    folder = os.path.join(str(tmp_path), "templates")
    assert _notes(exc_info.value) == [f"Searched: {folder} (missing)"]


def test_template_not_found_without_any_folder():
    app = kolben.Kolben(__name__, root_path=HERE, template_folder=None)
    assert app.jinja_loader is None
    with app.app_context(), pytest.raises(jinja2.TemplateNotFound) as exc_info:
        render_template("simple_template.html")
    assert "No template folder is configured" in _notes(exc_info.value)[0]


def test_templates_not_found_for_a_list_names_the_folders(app):
    with app.app_context(), pytest.raises(jinja2.TemplatesNotFound) as exc_info:
        render_template(["a.html", "b.html"])
    assert isinstance(exc_info.value, jinja2.TemplateNotFound)
    assert exc_info.value.templates == ["a.html", "b.html"]
    assert str(exc_info.value) == "none of the templates given were found: a.html, b.html"
    assert _notes(exc_info.value) == [f"Searched: {TEMPLATES}"]


def test_missing_include_names_the_include(app):
    with app.app_context(), pytest.raises(jinja2.TemplateNotFound) as exc_info:
        render_template_string("{% include 'nope.html' %}")
    assert exc_info.value.name == "nope.html"
    assert _notes(exc_info.value) == [f"Searched: {TEMPLATES}"]


def test_app_templates_win_over_blueprint_templates(app, client):
    bp = _bp()

    @bp.route("/shadowed")
    def shadowed():
        return render_template("shadowed.html")

    @bp.route("/only")
    def only():
        return render_template("bp_only.html", bp_value=1)

    app.register_blueprint(bp)
    assert client.get("/shadowed").data.strip() == b"from the app"
    assert client.get("/only").data.strip() == b"blueprint only: 1"


def test_blueprints_searched_in_registration_order(app):
    first = Blueprint("first", __name__, template_folder="templates/blueprint")
    second = Blueprint("second", __name__, template_folder="templates")
    app.register_blueprint(first)
    app.register_blueprint(second)
    with app.app_context():
        # The app itself has no "bp_only.html" at its top level; "first" has.
        assert render_template("bp_only.html", bp_value=2).strip() == "blueprint only: 2"


def test_blueprint_template_extends_app_layout(app):
    app.register_blueprint(_bp())
    with app.app_context():
        rv = render_template("bp_child.html", where="bp")
    assert rv.splitlines() == ["<!doctype html>", "<title>Default</title>", "<main>from bp</main>"]


def test_template_not_found_describes_other_loaders(app, tmp_path, monkeypatch):
    package = tmp_path / "tplpkg"
    (package / "templates").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "templates" / "pkg.html").write_text("from a package")
    monkeypatch.syspath_prepend(str(tmp_path))
    packaged = Blueprint("packaged", __name__)
    packaged.jinja_loader = jinja2.PackageLoader("tplpkg")
    in_memory = Blueprint("memory", __name__)
    in_memory.jinja_loader = jinja2.DictLoader({"mem.html": "from memory"})
    app.register_blueprint(packaged)
    app.register_blueprint(in_memory)
    with app.app_context():
        assert render_template("pkg.html") == "from a package"
        assert render_template("mem.html") == "from memory"
        with pytest.raises(jinja2.TemplateNotFound) as exc_info:
            render_template("missing.html")
    assert _notes(exc_info.value) == [
        f"Searched: {TEMPLATES},"
        " package 'tplpkg' folder 'templates' (blueprint 'packaged'),"
        " a jinja2.loaders.DictLoader (blueprint 'memory')"
    ]


def test_empty_template_list(app):
    with app.app_context(), pytest.raises(jinja2.TemplatesNotFound) as exc_info:
        render_template([])
    assert str(exc_info.value) == "Tried to select from an empty list of templates."


def test_template_syntax_error_names_template_and_line(app):
    with app.app_context(), pytest.raises(jinja2.TemplateSyntaxError) as exc_info:
        render_template("syntax_error.html")
    exc = exc_info.value
    assert exc.name == "syntax_error.html"
    assert exc.lineno == 3
    assert exc.filename == os.path.join(TEMPLATES, "syntax_error.html")
    # Jinja rewrites the traceback so that it shows the template line.
    assert any(
        str(entry.path) == exc.filename and entry.lineno + 1 == 3 for entry in exc_info.traceback
    )


# -- EXPLAIN_TEMPLATE_LOADING --------------------------------------------------------


def _explain_messages(caplog: pytest.LogCaptureFixture, app: kolben.Kolben) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == app.logger.name and r.levelno == logging.INFO
    ]


def test_explain_template_loading_found(app, caplog):
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    app.register_blueprint(_bp())
    with caplog.at_level(logging.INFO, logger=app.logger.name), app.app_context():
        assert render_template("simple_template.html", whiskey=1).strip() == "<h1>1</h1>"
    (message,) = _explain_messages(caplog, app)
    lines = message.splitlines()
    assert lines[0] == "Locating template 'simple_template.html':"
    assert "    1: trying loader of application 'test_app'" in lines
    assert "       class: jinja2.loaders.FileSystemLoader" in lines
    assert f"         - {TEMPLATES}" in lines
    assert f"       -> found ({os.path.join(TEMPLATES, 'simple_template.html')!r})" in lines
    assert any(line.startswith("    2: trying loader of blueprint 'bp'") for line in lines)
    assert "       -> no match" in lines
    assert "Error" not in message
    assert "Warning" not in message


def test_explain_template_loading_not_found_in_blueprint(app, client, caplog):
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    bp = _bp()

    @bp.route("/missing")
    def missing():
        return render_template("missing.html")

    app.register_blueprint(bp)
    with (
        caplog.at_level(logging.INFO, logger=app.logger.name),
        pytest.raises(jinja2.TemplateNotFound) as exc_info,
    ):
        client.get("/missing")
    assert _notes(exc_info.value)[0].startswith("Searched:")
    (message,) = _explain_messages(caplog, app)
    assert "Error: the template could not be found." in message
    assert "belongs to the blueprint 'bp'" in message
    assert message.count("-> no match") == 2


def test_explain_template_loading_multiple_matches(app, caplog):
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    app.register_blueprint(_bp())
    with caplog.at_level(logging.INFO, logger=app.logger.name), app.app_context():
        # The app's template wins even though every loader is tried.
        assert render_template("shadowed.html").strip() == "from the app"
    (message,) = _explain_messages(caplog, app)
    assert message.count("-> found") == 2
    assert "Warning: multiple loaders returned a match for the template" in message


def test_explain_template_loading_without_loaders(caplog):
    app = kolben.Kolben(__name__, root_path=HERE, template_folder=None)
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    with (
        caplog.at_level(logging.INFO, logger=app.logger.name),
        app.app_context(),
        pytest.raises(jinja2.TemplateNotFound),
    ):
        render_template("x.html")
    (message,) = _explain_messages(caplog, app)
    assert "no loader to search" in message


def test_explain_describes_loader_settings(app, caplog):
    class CustomLoader(jinja2.BaseLoader):
        def __init__(self) -> None:
            self.name = "custom"
            self.paths = ["/a", "/b"]
            self.limits = [1, 2]  # not all strings: left out
            self.helper = object()  # not a simple value: left out
            self._private = "hidden"

        def get_source(self, environment, template):
            if template == "custom.html":
                return "custom", None, None
            raise jinja2.TemplateNotFound(template)

    bp = Blueprint("custom", __name__)
    bp.jinja_loader = CustomLoader()
    app.register_blueprint(bp)
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    with caplog.at_level(logging.INFO, logger=app.logger.name), app.app_context():
        assert render_template("custom.html") == "custom"
    (message,) = _explain_messages(caplog, app)
    details = message.split("trying loader of blueprint 'custom'")[1].splitlines()[1:]
    assert details == [
        f"       class: {CustomLoader.__module__}.{CustomLoader.__qualname__}",
        "       name: 'custom'",
        "       paths:",
        "         - /a",
        "         - /b",
        "       -> found ('<string>')",
    ]


def test_no_explanation_by_default(app, caplog):
    with caplog.at_level(logging.INFO, logger=app.logger.name), app.app_context():
        render_template("simple_template.html")
    assert _explain_messages(caplog, app) == []


# -- auto reload -------------------------------------------------------------------


def test_templates_auto_reload_default_follows_debug(app):
    assert app.config["TEMPLATES_AUTO_RELOAD"] is None
    assert app.jinja_env.auto_reload is False
    app.debug = True
    assert app.jinja_env.auto_reload is True
    app.debug = False
    assert app.jinja_env.auto_reload is False


def test_templates_auto_reload_debug_before_env_created(app):
    app.debug = True
    assert app.jinja_env.auto_reload is True


@pytest.mark.parametrize("value", [True, False])
def test_templates_auto_reload_config_wins_over_debug(app, value):
    app.config["TEMPLATES_AUTO_RELOAD"] = value
    app.debug = not value
    assert app.jinja_env.auto_reload is value


@pytest.mark.parametrize(("auto_reload", "expected"), [(True, "new"), (False, "old")])
def test_templates_auto_reload_picks_up_changes(tmp_path, auto_reload, expected):
    folder = tmp_path / "templates"
    folder.mkdir()
    page = folder / "page.html"
    page.write_text("old")
    app = kolben.Kolben(__name__, root_path=str(tmp_path))
    app.config["TEMPLATES_AUTO_RELOAD"] = auto_reload
    with app.app_context():
        assert render_template("page.html") == "old"
        page.write_text("new")
        mtime = os.path.getmtime(page) + 10
        os.utime(page, (mtime, mtime))
        assert render_template("page.html") == expected


# -- streaming ---------------------------------------------------------------------


def test_stream_template_with_request_access(app, client):
    @app.route("/stream")
    def stream():
        g.suffix = "!"
        return stream_template("stream.html", items=["a", "<b>"])

    rv = client.get("/stream?who=ann")
    assert rv.status_code == 200
    assert rv.is_streamed
    lines = [line for line in rv.data.decode().splitlines() if line.strip()]
    assert lines == ["<ul>", "<li>a ann</li>", "<li>&lt;b&gt; ann</li>", "</ul>"]


def test_stream_template_string_uses_request_and_g(app, client):
    @app.route("/s")
    def s():
        g.who = "g"
        return stream_template_string(
            "{% for i in range(3) %}{{ i }}{{ request.args.x }}{{ g.who }}{% endfor %}"
        )

    assert client.get("/s?x=-").data == b"0-g1-g2-g"


def test_stream_template_is_lazy_iterator(app):
    rendered = []

    @app.template_global()
    def mark(value):
        rendered.append(value)
        return value

    with app.test_request_context():
        rv = stream_template_string("{{ mark(1) }}{{ mark(2) }}")
        assert not isinstance(rv, str)
        assert rendered == []
        assert next(rv) == "1"
        assert rendered == [1]
        assert "".join(rv) == "2"


def test_stream_template_in_app_context_only(app):
    with app.app_context():
        g.x = "y"
        assert "".join(stream_template_string("{{ g.x }}{{ v }}", v="<")) == "y&lt;"
        assert "".join(stream_template("simple_template.html", whiskey=3)).strip() == "<h1>3</h1>"


# -- signals -----------------------------------------------------------------------


def test_template_rendered_signal(app, client):
    @app.route("/")
    def index():
        return render_template("simple_template.html", whiskey=42)

    recorded = []

    def record(sender, template, context, **extra):
        recorded.append((sender, template, context))

    with kolben.template_rendered.connected_to(record, app):
        client.get("/")

    ((sender, template, context),) = recorded
    assert sender is app
    assert template.name == "simple_template.html"
    assert context["whiskey"] == 42
    assert "request" in context


def test_before_render_template_can_change_context(app, client):
    @app.route("/")
    def index():
        return render_template("simple_template.html", whiskey=42)

    recorded = []

    def record(sender, template, context, **extra):
        context["whiskey"] = 43
        recorded.append((sender, template.name, dict(context)))

    with kolben.before_render_template.connected_to(record, app):
        rv = client.get("/")

    assert rv.data.strip() == b"<h1>43</h1>"
    ((sender, name, context),) = recorded
    assert sender is app
    assert name == "simple_template.html"
    assert context["whiskey"] == 43


def test_signals_for_template_strings(app):
    events = []

    def before(sender, template, context, **extra):
        events.append(("before", context["v"]))

    def after(sender, template, context, **extra):
        events.append(("after", context["v"]))

    with (
        kolben.before_render_template.connected_to(before, app),
        kolben.template_rendered.connected_to(after, app),
        app.app_context(),
    ):
        assert render_template_string("{{ v }}", v=1) == "1"
    assert events == [("before", 1), ("after", 1)]


def test_signals_when_streaming(app):
    events = []

    def before(sender, template, context, **extra):
        events.append("before")

    def after(sender, template, context, **extra):
        events.append("after")

    with (
        kolben.before_render_template.connected_to(before, app),
        kolben.template_rendered.connected_to(after, app),
        app.test_request_context(),
    ):
        rv = stream_template_string("{{ 1 }}{{ 2 }}")
        assert events == ["before"]
        assert "".join(rv) == "12"
    assert events == ["before", "after"]


# -- outside a context -------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: render_template("simple_template.html"),
        lambda: render_template_string("x"),
        lambda: stream_template("simple_template.html"),
        lambda: stream_template_string("x"),
    ],
    ids=["render_template", "render_template_string", "stream_template", "stream_string"],
)
def test_rendering_outside_app_context_raises(call):
    with pytest.raises(RuntimeError, match="Working outside of application context"):
        call()
