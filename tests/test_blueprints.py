"""Blueprints: prefixes, subdomains, defaults, static files, templates, CLI groups,
registration rules, nesting, scoped and app-wide hooks, deferred setup functions.

Every test is checked against Flask 3.1 (the spec) except the few marked
"kolben-only", which check kolben's wording of an error message.
"""

from __future__ import annotations

import datetime
import os

import click
import pytest
from jinja2 import TemplateNotFound

import kolben
from helpers import kolben_only, write
from kolben import Blueprint, abort, g, render_template, render_template_string, request, url_for
from kolben.blueprints import BlueprintSetupState

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "bp_fixtures")


def make_app(**kwargs):
    """An app like the ``app`` fixture, with extra constructor arguments."""
    kwargs.setdefault("root_path", HERE)
    app = kolben.Kolben("test_app", **kwargs)
    app.config.update(TESTING=True, SECRET_KEY="test key")
    return app


# --- url_prefix ------------------------------------------------------------------


def test_url_prefix_from_constructor(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.route("/hello")
    def hello():
        return "hello"

    app.register_blueprint(bp)
    assert client.get("/bp/hello").data == b"hello"
    assert client.get("/hello").status_code == 404
    with app.test_request_context():
        assert url_for("bp.hello") == "/bp/hello"


def test_url_prefix_of_registration_wins(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/constructor")

    @bp.route("/hello")
    def hello():
        return "hello"

    app.register_blueprint(bp, url_prefix="/registered")
    assert client.get("/registered/hello").data == b"hello"
    assert client.get("/constructor/hello").status_code == 404


def test_empty_url_prefix_of_registration_removes_constructor_prefix(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/constructor")

    @bp.route("/hello")
    def hello():
        return "hello"

    app.register_blueprint(bp, url_prefix="")
    assert client.get("/hello").data == b"hello"


@pytest.mark.parametrize(
    ("prefix", "rule", "path"),
    [
        ("/bp", "/", "/bp/"),
        ("/bp/", "/x", "/bp/x"),
        ("/bp/", "x", "/bp/x"),
        ("/bp", "", "/bp"),
        (None, "/x", "/x"),
    ],
)
def test_url_prefix_joins_with_one_slash(app, client, prefix, rule, path):
    bp = Blueprint("bp", __name__, url_prefix=prefix)
    bp.add_url_rule(rule, "view", lambda: "joined")
    app.register_blueprint(bp)
    assert client.get(path).data == b"joined"
    with app.test_request_context():
        assert url_for("bp.view") == path


def test_blueprint_attributes(app):
    bp = Blueprint("bp", __name__, url_prefix="/p", subdomain="s", url_defaults={"a": 1})
    assert bp.name == "bp"
    assert bp.import_name == __name__
    assert bp.url_prefix == "/p"
    assert bp.subdomain == "s"
    assert bp.url_values_defaults == {"a": 1}
    assert bp.root_path == HERE
    assert not bp.has_static_folder
    assert bp.static_folder is None
    assert bp.static_url_path is None
    assert bp.jinja_loader is None


def test_register_blueprint_records_it_on_app(app):
    bp = Blueprint("bp", __name__)
    assert app.register_blueprint(bp) is None
    assert app.blueprints == {"bp": bp}


# --- subdomain -------------------------------------------------------------------


@pytest.fixture
def sub_app():
    app = make_app(subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.com"
    return app


def test_subdomain_from_constructor(sub_app, client_for):
    bp = Blueprint("api", __name__, subdomain="api")

    @bp.route("/")
    def index():
        return "api index"

    sub_app.register_blueprint(bp)
    client = client_for(sub_app)
    assert client.get("/", base_url="http://api.example.com").data == b"api index"
    assert client.get("/", base_url="http://example.com").status_code == 404
    assert client.get("/", base_url="http://other.example.com").status_code == 404
    with sub_app.app_context():
        assert url_for("api.index") == "http://api.example.com/"


def test_subdomain_of_registration_wins(sub_app, client_for):
    bp = Blueprint("api", __name__, subdomain="api")
    bp.add_url_rule("/", "index", lambda: "index")
    sub_app.register_blueprint(bp, subdomain="v2")
    client = client_for(sub_app)
    assert client.get("/", base_url="http://v2.example.com").data == b"index"
    assert client.get("/", base_url="http://api.example.com").status_code == 404


def test_subdomain_with_a_variable(sub_app, client_for):
    bp = Blueprint("users", __name__, subdomain="<user>")

    @bp.route("/")
    def index(user):
        return f"home of {user}"

    sub_app.register_blueprint(bp)
    client = client_for(sub_app)
    assert client.get("/", base_url="http://ada.example.com").data == b"home of ada"
    with sub_app.app_context():
        assert url_for("users.index", user="bob") == "http://bob.example.com/"


def test_subdomain_and_url_prefix_together(sub_app, client_for):
    bp = Blueprint("api", __name__, subdomain="api", url_prefix="/v1")
    bp.add_url_rule("/items", "items", lambda: "items")
    sub_app.register_blueprint(bp)
    client = client_for(sub_app)
    assert client.get("/v1/items", base_url="http://api.example.com").data == b"items"
    assert client.get("/v1/items", base_url="http://example.com").status_code == 404


# --- url_defaults ----------------------------------------------------------------


def test_url_defaults_from_constructor(app, client):
    bp = Blueprint("bp", __name__, url_defaults={"lang": "en"})

    @bp.route("/greet")
    def greet(lang):
        return f"lang={lang}"

    app.register_blueprint(bp)
    assert client.get("/greet").data == b"lang=en"


def test_url_defaults_of_registration_win_and_merge(app, client):
    bp = Blueprint("bp", __name__, url_defaults={"lang": "en", "tone": "warm"})

    @bp.route("/greet")
    def greet(lang, tone):
        return f"{lang} {tone}"

    app.register_blueprint(bp, url_defaults={"lang": "de"})
    assert client.get("/greet").data == b"de warm"


def test_url_defaults_of_a_route_win_over_the_blueprint(app, client):
    bp = Blueprint("bp", __name__, url_defaults={"lang": "en"})

    @bp.route("/greet", defaults={"lang": "fr"})
    def greet(lang):
        return lang

    @bp.route("/other")
    def other(lang):
        return lang

    app.register_blueprint(bp)
    assert client.get("/greet").data == b"fr"
    assert client.get("/other").data == b"en"


def test_url_defaults_per_registration(app, client):
    bp = Blueprint("bp", __name__)

    @bp.route("/greet")
    def greet(lang):
        return lang

    app.register_blueprint(bp, url_prefix="/en", url_defaults={"lang": "en"})
    app.register_blueprint(bp, name="german", url_prefix="/de", url_defaults={"lang": "de"})
    assert client.get("/en/greet").data == b"en"
    assert client.get("/de/greet").data == b"de"


# --- static files ----------------------------------------------------------------


def test_static_folder_is_served_under_the_prefix(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp", static_folder="bp_fixtures/static")
    app.register_blueprint(bp)
    assert bp.has_static_folder
    assert bp.static_folder == os.path.join(HERE, "bp_fixtures", "static")
    assert bp.static_url_path == "/static"

    rv = client.get("/bp/static/style.css")
    try:
        assert rv.status_code == 200
        assert rv.data == b"body { color: red; }\n"
        assert rv.mimetype == "text/css"
    finally:
        rv.close()

    rv = client.get("/bp/static/sub/app.js")
    try:
        assert rv.data == b'console.log("bp");\n'
    finally:
        rv.close()

    with app.test_request_context():
        assert url_for("bp.static", filename="style.css") == "/bp/static/style.css"
        assert url_for("bp.static", filename="sub/app.js") == "/bp/static/sub/app.js"


def test_static_url_path(app, client):
    bp = Blueprint(
        "bp",
        __name__,
        url_prefix="/bp",
        static_folder="bp_fixtures/static",
        static_url_path="/assets",
    )
    app.register_blueprint(bp)
    rv = client.get("/bp/assets/style.css")
    try:
        assert rv.data == b"body { color: red; }\n"
    finally:
        rv.close()
    assert client.get("/bp/static/style.css").status_code == 404
    with app.test_request_context():
        assert url_for("bp.static", filename="style.css") == "/bp/assets/style.css"


def test_static_missing_file_and_escape_are_404(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp", static_folder="bp_fixtures/static")
    app.register_blueprint(bp)
    assert client.get("/bp/static/missing.css").status_code == 404
    assert client.get("/bp/static/%2e%2e/data.txt").status_code == 404
    assert client.get("/bp/static/").status_code == 404


def test_static_max_age_from_config(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp", static_folder="bp_fixtures/static")
    app.register_blueprint(bp)

    rv = client.get("/bp/static/style.css")
    rv.close()
    assert rv.cache_control.max_age is None

    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 60
    rv = client.get("/bp/static/style.css")
    rv.close()
    assert rv.cache_control.max_age == 60

    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = datetime.timedelta(hours=1)
    rv = client.get("/bp/static/style.css")
    rv.close()
    assert rv.cache_control.max_age == 3600


def test_static_with_blueprint_registered_twice(app, client):
    bp = Blueprint("bp", __name__, static_folder="bp_fixtures/static")
    app.register_blueprint(bp, url_prefix="/one")
    app.register_blueprint(bp, url_prefix="/two", name="two")
    for path in ("/one/static/style.css", "/two/static/style.css"):
        rv = client.get(path)
        try:
            assert rv.data == b"body { color: red; }\n"
        finally:
            rv.close()
    with app.test_request_context():
        assert url_for("two.static", filename="style.css") == "/two/static/style.css"


def test_app_static_route_wins_over_blueprint_without_prefix(client_for):
    # Flask's docs: without a url_prefix the blueprint's static URL is /static,
    # and the app's own static route takes precedence.
    app = make_app(static_folder="bp_fixtures/custom_root/static")
    bp = Blueprint("bp", __name__, static_folder="bp_fixtures/static")
    app.register_blueprint(bp)
    client = client_for(app)
    rv = client.get("/static/root.txt")
    try:
        assert rv.data == b"custom root static\n"
    finally:
        rv.close()
    assert client.get("/static/style.css").status_code == 404


def test_send_static_file_without_static_folder(app):
    bp = Blueprint("bp", __name__)
    with app.test_request_context(), pytest.raises(RuntimeError):
        bp.send_static_file("style.css")


# --- templates -------------------------------------------------------------------


@pytest.fixture
def tpl_app():
    """An app whose own template folder is bp_fixtures/app_templates."""
    return make_app(template_folder="bp_fixtures/app_templates")


def test_template_folder_of_blueprint(tpl_app, client_for):
    bp = Blueprint("bp", __name__, template_folder="bp_fixtures/templates")
    assert bp.jinja_loader is not None

    @bp.route("/")
    def index():
        return render_template("bp_only.html", value=42)

    tpl_app.register_blueprint(bp)
    assert client_for(tpl_app).get("/").data == b"bp only: 42"


def test_template_of_app_wins_over_blueprint(tpl_app, client_for):
    bp = Blueprint("bp", __name__, template_folder="bp_fixtures/templates")

    @bp.route("/")
    def index():
        return render_template("shared.html")

    tpl_app.register_blueprint(bp)
    assert client_for(tpl_app).get("/").data == b"shared from app"


def test_template_of_first_registered_blueprint_wins(tpl_app, client_for):
    first = Blueprint("first", __name__, template_folder="bp_fixtures/templates")
    second = Blueprint("second", __name__, template_folder="bp_fixtures/other_templates")

    @second.route("/")
    def index():
        return render_template("twice.html")

    tpl_app.register_blueprint(first)
    tpl_app.register_blueprint(second)
    assert client_for(tpl_app).get("/").data == b"twice from first bp"


def test_template_of_blueprint_found_outside_its_views(tpl_app):
    bp = Blueprint("bp", __name__, template_folder="bp_fixtures/templates")
    tpl_app.register_blueprint(bp)
    with tpl_app.app_context():
        assert render_template("bp_only.html", value="x") == "bp only: x"


def test_templates_with_a_blueprint_without_template_folder(tmp_path, client_for):
    write(tmp_path / "templates" / "page.html", "page {{ request.blueprint }}")
    app = kolben.Kolben("with_bp", root_path=str(tmp_path))
    bp = kolben.Blueprint("bp", "with_bp", root_path=str(tmp_path / "bp"))

    @bp.route("/")
    def index():
        return kolben.render_template("page.html")

    app.register_blueprint(bp)
    assert bp.jinja_loader is None
    assert client_for(app).get("/").data == b"page bp"
    with app.app_context(), pytest.raises(TemplateNotFound):
        kolben.render_template("missing.html")


# --- root_path and open_resource ---------------------------------------------------


def test_root_path_default_is_the_module_folder():
    assert Blueprint("bp", __name__).root_path == HERE


def test_root_path_custom(app, client):
    root = os.path.join(FIXTURES, "custom_root")
    bp = Blueprint("bp", __name__, root_path=root, static_folder="static", url_prefix="/bp")
    assert bp.root_path == root
    assert bp.static_folder == os.path.join(root, "static")
    with bp.open_resource("data.txt") as f:
        assert f.read() == b"custom root data\n"
    app.register_blueprint(bp)
    rv = client.get("/bp/static/root.txt")
    try:
        assert rv.data == b"custom root static\n"
    finally:
        rv.close()


def test_open_resource_binary_by_default():
    bp = Blueprint("bp", __name__)
    with bp.open_resource("bp_fixtures/data.txt") as f:
        assert f.read() == "grüße\n".encode()


@pytest.mark.parametrize("mode", ["r", "rt"])
def test_open_resource_text(mode):
    bp = Blueprint("bp", __name__)
    with bp.open_resource("bp_fixtures/data.txt", mode) as f:
        assert f.read() == "grüße\n"


def test_open_resource_encoding():
    bp = Blueprint("bp", __name__)
    with bp.open_resource("bp_fixtures/data.txt", "r", encoding="latin-1") as f:
        assert f.read() == "grüße\n".encode().decode("latin-1")


@pytest.mark.parametrize("mode", ["w", "a", "r+", "wb"])
def test_open_resource_only_reads(mode):
    bp = Blueprint("bp", __name__)
    with pytest.raises(ValueError, match="only be opened for reading"):
        bp.open_resource("bp_fixtures/data.txt", mode)


def test_open_resource_missing_file():
    bp = Blueprint("bp", __name__)
    with pytest.raises(FileNotFoundError):
        bp.open_resource("bp_fixtures/nope.txt")


# --- CLI groups ------------------------------------------------------------------


def _bp_with_command(**kwargs):
    bp = Blueprint("bp", __name__, **kwargs)

    @bp.cli.command("hello")
    @click.option("--name", default="World")
    def hello(name):
        click.echo(f"Hello, {name} from {kolben.current_app.name}")

    return bp


def test_cli_commands_under_blueprint_name(app, runner):
    app.register_blueprint(_bp_with_command())
    result = runner.invoke(args=["bp", "hello", "--name", "Ada"])
    assert result.exit_code == 0, result.output
    assert result.output == "Hello, Ada from test_app\n"
    assert runner.invoke(args=["hello"]).exit_code != 0


def test_cli_commands_under_custom_group(app, runner):
    app.register_blueprint(_bp_with_command(cli_group="custom"))
    result = runner.invoke(args=["custom", "hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "Hello, World from test_app\n"
    assert runner.invoke(args=["bp", "hello"]).exit_code != 0


def test_cli_commands_directly_on_app(app, runner):
    app.register_blueprint(_bp_with_command(cli_group=None))
    result = runner.invoke(args=["hello"])
    assert result.exit_code == 0, result.output
    assert result.output == "Hello, World from test_app\n"
    assert runner.invoke(args=["bp", "hello"]).exit_code != 0


def test_cli_group_of_registration_wins(app, runner):
    app.register_blueprint(_bp_with_command(cli_group="custom"), cli_group="late")
    result = runner.invoke(args=["late", "hello"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["custom", "hello"]).exit_code != 0


def test_cli_group_none_at_registration(app, runner):
    app.register_blueprint(_bp_with_command(), cli_group=None)
    result = runner.invoke(args=["hello"])
    assert result.exit_code == 0, result.output


def test_cli_blueprint_registered_twice_with_name(app, runner):
    bp = _bp_with_command()
    app.register_blueprint(bp)
    app.register_blueprint(bp, name="alt", url_prefix="/alt")
    assert runner.invoke(args=["bp", "hello"]).output == "Hello, World from test_app\n"
    assert runner.invoke(args=["alt", "hello"]).output == "Hello, World from test_app\n"


def test_cli_blueprint_without_commands_adds_no_group(app, runner):
    app.register_blueprint(Blueprint("empty", __name__))
    assert runner.invoke(args=["empty"]).exit_code != 0


# --- registering twice, names ------------------------------------------------------


def test_registered_twice_with_name(app, client):
    bp = Blueprint("bp", __name__)
    calls = []

    @bp.before_request
    def before():
        calls.append(("before", request.blueprint))

    @bp.after_request
    def after(response):
        calls.append(("after", request.blueprint))
        return response

    @bp.route("/")
    def index():
        return f"{request.endpoint} {url_for('.other')}"

    @bp.route("/other")
    def other():
        return "other"

    app.register_blueprint(bp, url_prefix="/one")
    app.register_blueprint(bp, url_prefix="/two", name="two")
    assert app.blueprints == {"bp": bp, "two": bp}

    assert client.get("/one/").data == b"bp.index /one/other"
    assert client.get("/two/").data == b"two.index /two/other"
    assert calls == [("before", "bp"), ("after", "bp"), ("before", "two"), ("after", "two")]
    with app.test_request_context():
        assert url_for("bp.other") == "/one/other"
        assert url_for("two.other") == "/two/other"


def test_registered_twice_with_same_name_is_an_error(app):
    bp = Blueprint("bp", __name__)
    app.register_blueprint(bp)
    with pytest.raises(ValueError, match="already registered for this blueprint"):
        app.register_blueprint(bp)


def test_two_blueprints_with_same_name_is_an_error(app):
    app.register_blueprint(Blueprint("bp", __name__))
    with pytest.raises(ValueError, match="already registered for a different blueprint"):
        app.register_blueprint(Blueprint("bp", __name__))


def test_second_blueprint_can_take_another_name(app, client):
    first = Blueprint("bp", __name__)
    first.add_url_rule("/first", "view", lambda: "first")
    second = Blueprint("bp", __name__)
    second.add_url_rule("/second", "view", lambda: "second")
    app.register_blueprint(first)
    app.register_blueprint(second, name="bp2")
    assert client.get("/first").data == b"first"
    assert client.get("/second").data == b"second"
    with app.test_request_context():
        assert url_for("bp2.view") == "/second"


def test_registration_name_already_used_by_another_blueprint(app):
    app.register_blueprint(Blueprint("taken", __name__))
    with pytest.raises(ValueError, match="'taken' is already registered"):
        app.register_blueprint(Blueprint("bp", __name__), name="taken")


def test_nested_name_clash_names_the_dotted_name(app):
    parent = Blueprint("parent", __name__)
    parent.register_blueprint(Blueprint("child", __name__))
    parent.register_blueprint(Blueprint("child", __name__))
    with pytest.raises(ValueError, match=r"'parent\.child'"):
        app.register_blueprint(parent)


@kolben_only
def test_name_clash_message_says_how_to_fix(app):
    app.register_blueprint(Blueprint("bp", __name__))
    with pytest.raises(ValueError, match=r"name='\.\.\.'"):
        app.register_blueprint(Blueprint("bp", __name__))


@pytest.mark.parametrize("name", ["a.b", ".", "bp."])
def test_name_with_a_dot(name):
    with pytest.raises(ValueError, match="dot"):
        Blueprint(name, __name__)


def test_empty_name():
    with pytest.raises(ValueError):
        Blueprint("", __name__)


@kolben_only
def test_empty_name_message():
    with pytest.raises(ValueError, match="'name' may not be empty"):
        Blueprint("", __name__)


@pytest.mark.parametrize(
    "add",
    [
        lambda bp: bp.add_url_rule("/", endpoint="a.b", view_func=lambda: ""),
        lambda bp: bp.route("/", endpoint="a.b")(lambda: ""),
        lambda bp: bp.add_url_rule("/", endpoint="a.b"),
    ],
    ids=["add_url_rule", "route", "no view"],
)
def test_endpoint_with_a_dot(add):
    bp = Blueprint("bp", __name__)
    with pytest.raises(ValueError, match="may not contain a dot"):
        add(bp)


def test_view_function_name_with_a_dot():
    bp = Blueprint("bp", __name__)

    def view():
        return ""

    view.__name__ = "a.b"
    with pytest.raises(ValueError, match="may not contain a dot"):
        bp.add_url_rule("/", view_func=view)
    with pytest.raises(ValueError, match="may not contain a dot"):
        bp.route("/")(view)
    # Flask 3.1 refuses the dotted view name even with an explicit endpoint.
    with pytest.raises(ValueError, match="may not contain a dot"):
        bp.add_url_rule("/", endpoint="fine", view_func=view)


def test_register_blueprint_on_itself():
    bp = Blueprint("bp", __name__)
    with pytest.raises(ValueError, match="itself"):
        bp.register_blueprint(bp)


def _noop(*args):
    return args[0] if args else None


@pytest.mark.parametrize(
    "setup",
    [
        lambda bp: bp.route("/late")(_noop),
        lambda bp: bp.add_url_rule("/late", "late", _noop),
        lambda bp: bp.before_request(_noop),
        lambda bp: bp.after_request(_noop),
        lambda bp: bp.teardown_request(_noop),
        lambda bp: bp.errorhandler(404)(_noop),
        lambda bp: bp.context_processor(_noop),
        lambda bp: bp.url_defaults(_noop),
        lambda bp: bp.url_value_preprocessor(_noop),
        lambda bp: bp.record(_noop),
        lambda bp: bp.record_once(_noop),
        lambda bp: bp.register_blueprint(Blueprint("late", __name__)),
        lambda bp: bp.before_app_request(_noop),
        lambda bp: bp.app_errorhandler(500)(_noop),
        lambda bp: bp.app_template_filter()(_noop),
        lambda bp: bp.add_app_template_global(_noop),
    ],
)
def test_setup_method_after_registration(app, setup):
    bp = Blueprint("bp", __name__)
    app.register_blueprint(bp)
    with pytest.raises(AssertionError, match="already been registered"):
        setup(bp)


def test_setup_method_message_names_method_and_blueprint(app):
    bp = Blueprint("late_bp", __name__)
    app.register_blueprint(bp)
    with pytest.raises(AssertionError) as excinfo:
        bp.before_request(_noop)
    message = str(excinfo.value)
    assert "'before_request'" in message
    assert "'late_bp'" in message


# --- nesting ---------------------------------------------------------------------


def test_nested_endpoints_prefixes_and_request_blueprints(app, client):
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")
    seen = {}

    @child.route("/view")
    def view():
        seen.update(
            endpoint=request.endpoint,
            blueprint=request.blueprint,
            blueprints=request.blueprints,
        )
        return "child view"

    @parent.route("/")
    def index():
        seen.update(blueprint=request.blueprint, blueprints=request.blueprints)
        return "parent index"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert app.blueprints == {"parent": parent, "parent.child": child}

    assert client.get("/parent/child/view").data == b"child view"
    assert seen == {
        "endpoint": "parent.child.view",
        "blueprint": "parent.child",
        "blueprints": ["parent.child", "parent"],
    }
    assert client.get("/parent/").data == b"parent index"
    assert seen["blueprint"] == "parent"
    assert seen["blueprints"] == ["parent"]
    with app.test_request_context():
        assert url_for("parent.child.view") == "/parent/child/view"


def test_three_levels(app, client):
    a = Blueprint("a", __name__, url_prefix="/a")
    b = Blueprint("b", __name__, url_prefix="/b")
    c = Blueprint("c", __name__, url_prefix="/c")

    @c.route("/")
    def index():
        return ",".join(request.blueprints)

    b.register_blueprint(c)
    a.register_blueprint(b)
    app.register_blueprint(a)
    assert client.get("/a/b/c/").data == b"a.b.c,a.b,a"
    with app.test_request_context():
        assert url_for("a.b.c.index") == "/a/b/c/"


@pytest.mark.parametrize(
    ("parent_prefix", "child_prefix", "child_option", "app_option", "path"),
    [
        ("/p/", "/c/", None, None, "/p/c/view"),
        ("/p", None, None, None, "/p/view"),
        (None, "/c", None, None, "/c/view"),
        (None, None, None, None, "/view"),
        ("/p", "/c", "/opt", None, "/p/opt/view"),
        ("/p", "/c", None, "/top", "/top/c/view"),
    ],
)
def test_nested_url_prefixes(
    app, client, parent_prefix, child_prefix, child_option, app_option, path
):
    parent = Blueprint("parent", __name__, url_prefix=parent_prefix)
    child = Blueprint("child", __name__, url_prefix=child_prefix)
    child.add_url_rule("/view", "view", lambda: "ok")
    child_kwargs = {} if child_option is None else {"url_prefix": child_option}
    app_kwargs = {} if app_option is None else {"url_prefix": app_option}
    parent.register_blueprint(child, **child_kwargs)
    app.register_blueprint(parent, **app_kwargs)
    assert client.get(path).data == b"ok"
    with app.test_request_context():
        assert url_for("parent.child.view") == path


def test_nested_subdomains_are_joined(sub_app, client_for):
    parent = Blueprint("parent", __name__, subdomain="api")
    child = Blueprint("child", __name__, subdomain="v1")
    only_parent = Blueprint("only_parent", __name__)
    child.add_url_rule("/c", "view", lambda: "child")
    only_parent.add_url_rule("/p", "view", lambda: "inherits")
    parent.register_blueprint(child)
    parent.register_blueprint(only_parent)
    sub_app.register_blueprint(parent)
    client = client_for(sub_app)
    assert client.get("/c", base_url="http://v1.api.example.com").data == b"child"
    assert client.get("/c", base_url="http://api.example.com").status_code == 404
    assert client.get("/p", base_url="http://api.example.com").data == b"inherits"
    with sub_app.app_context():
        assert url_for("parent.child.view") == "http://v1.api.example.com/c"


def test_nested_child_subdomain_without_parent_subdomain(sub_app, client_for):
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)
    child.add_url_rule("/c", "view", lambda: "child")
    parent.register_blueprint(child, subdomain="kid")
    sub_app.register_blueprint(parent)
    client = client_for(sub_app)
    assert client.get("/c", base_url="http://kid.example.com").data == b"child"


def test_same_child_nested_in_two_parents(app, client):
    child = Blueprint("child", __name__)

    @child.route("/view")
    def view():
        return request.endpoint

    one = Blueprint("one", __name__, url_prefix="/one")
    two = Blueprint("two", __name__, url_prefix="/two")
    one.register_blueprint(child)
    two.register_blueprint(child)
    app.register_blueprint(one)
    app.register_blueprint(two)
    app.register_blueprint(child, url_prefix="/top")
    assert client.get("/one/view").data == b"one.child.view"
    assert client.get("/two/view").data == b"two.child.view"
    assert client.get("/top/view").data == b"child.view"


def test_nested_child_registered_twice_with_name(app, client):
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__)
    child.add_url_rule("/", "index", lambda: request.blueprint)
    parent.register_blueprint(child, url_prefix="/a")
    parent.register_blueprint(child, url_prefix="/b", name="b")
    app.register_blueprint(parent)
    assert client.get("/p/a/").data == b"parent.child"
    assert client.get("/p/b/").data == b"parent.b"


def test_url_for_relative_endpoint(app, client):
    parent = Blueprint("parent", __name__, url_prefix="/parent")
    child = Blueprint("child", __name__, url_prefix="/child")

    @parent.route("/")
    def index():
        return url_for(".other")

    @parent.route("/other")
    def other():
        return "other"

    @child.route("/")
    def child_index():
        return f"{url_for('.child_other')} {url_for('parent.other')}"

    @child.route("/other")
    def child_other():
        return "child other"

    @app.route("/")
    def app_index():
        return url_for(".app_index")

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert client.get("/parent/").data == b"/parent/other"
    assert client.get("/parent/child/").data == b"/parent/child/other /parent/other"
    assert client.get("/").data == b"/"


def test_url_for_relative_endpoint_unknown_in_blueprint(app, client):
    from werkzeug.routing import BuildError

    bp = Blueprint("bp", __name__)

    @bp.route("/")
    def index():
        try:
            url_for(".nowhere")
        except BuildError as e:
            return e.endpoint
        return "built"

    app.register_blueprint(bp)
    assert client.get("/").data == b"bp.nowhere"


# --- scoped hooks ----------------------------------------------------------------


def test_before_after_teardown_only_for_blueprint_requests(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    calls = []

    @bp.before_request
    def before():
        calls.append("before")

    @bp.after_request
    def after(response):
        calls.append("after")
        response.headers["X-BP"] = "yes"
        return response

    @bp.teardown_request
    def teardown(exc):
        calls.append(("teardown", exc))

    bp.add_url_rule("/", "index", lambda: "bp")
    app.add_url_rule("/", "index", lambda: "app")
    app.register_blueprint(bp)

    rv = client.get("/")
    assert rv.data == b"app"
    assert "X-BP" not in rv.headers
    assert calls == []

    rv = client.get("/bp/")
    assert rv.data == b"bp"
    assert rv.headers["X-BP"] == "yes"
    assert calls == ["before", "after", ("teardown", None)]


def test_blueprint_before_request_can_end_the_request(app, client):
    bp = Blueprint("bp", __name__)

    @bp.before_request
    def stop():
        return "stopped", 403

    @bp.route("/")
    def index():
        raise AssertionError("not reached")

    app.register_blueprint(bp)
    rv = client.get("/")
    assert rv.status_code == 403
    assert rv.data == b"stopped"


def test_blueprint_teardown_gets_the_exception(app, client):
    app.config["TESTING"] = False
    bp = Blueprint("bp", __name__)
    seen = []

    @bp.teardown_request
    def teardown(exc):
        seen.append(exc)

    @bp.route("/")
    def index():
        raise KeyError("boom")

    app.register_blueprint(bp)
    assert client.get("/").status_code == 500
    assert len(seen) == 1
    assert isinstance(seen[0], KeyError)


def test_hook_order_app_parent_child(app, client):
    calls = []
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)
    for label, scaffold in (("app", app), ("parent", parent), ("child", child)):

        def before(label=label):
            calls.append(f"before {label}")

        def after(response, label=label):
            calls.append(f"after {label}")
            return response

        def teardown(exc, label=label):
            calls.append(f"teardown {label}")

        def preprocess(endpoint, values, label=label):
            calls.append(f"preprocess {label}")

        scaffold.before_request(before)
        scaffold.after_request(after)
        scaffold.teardown_request(teardown)
        scaffold.url_value_preprocessor(preprocess)

    @child.route("/")
    def index():
        calls.append("view")
        return "ok"

    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert client.get("/").data == b"ok"
    assert calls == [
        "preprocess app",
        "preprocess parent",
        "preprocess child",
        "before app",
        "before parent",
        "before child",
        "view",
        "after child",
        "after parent",
        "after app",
        "teardown child",
        "teardown parent",
        "teardown app",
    ]


def test_hooks_of_one_scope_after_and_teardown_reversed(app, client):
    bp = Blueprint("bp", __name__)
    calls = []
    for n in (1, 2):
        bp.before_request(lambda n=n: calls.append(f"before {n}"))
        bp.after_request(lambda r, n=n: calls.append(f"after {n}") or r)
        bp.teardown_request(lambda e, n=n: calls.append(f"teardown {n}"))
    bp.add_url_rule("/", "index", lambda: "ok")
    app.register_blueprint(bp)
    client.get("/")
    assert calls == ["before 1", "before 2", "after 2", "after 1", "teardown 2", "teardown 1"]


def test_parent_hooks_run_for_nested_child_not_for_sibling(app, client):
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")
    sibling = Blueprint("sibling", __name__, url_prefix="/s")
    calls = []
    child.before_request(lambda: calls.append("child"))
    parent.before_request(lambda: calls.append("parent"))
    sibling.add_url_rule("/", "index", lambda: "sibling")
    child.add_url_rule("/", "index", lambda: "child")
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    app.register_blueprint(sibling)
    client.get("/s/")
    assert calls == []
    client.get("/p/c/")
    assert calls == ["parent", "child"]


def test_errorhandler_child_then_parent_then_app(app, client):
    parent = Blueprint("parent", __name__, url_prefix="/p")
    child = Blueprint("child", __name__, url_prefix="/c")
    bare_child = Blueprint("bare", __name__, url_prefix="/b")
    other = Blueprint("other", __name__, url_prefix="/o")

    def boom():
        raise ValueError("boom")

    for bp in (parent, child, bare_child, other):
        bp.add_url_rule("/", "boom", boom)
    app.add_url_rule("/", "boom", boom)

    app.errorhandler(ValueError)(lambda e: ("app handled", 500))
    parent.errorhandler(ValueError)(lambda e: ("parent handled", 500))
    child.errorhandler(ValueError)(lambda e: ("child handled", 500))

    parent.register_blueprint(child)
    parent.register_blueprint(bare_child)
    app.register_blueprint(parent)
    app.register_blueprint(other)

    assert client.get("/p/c/").data == b"child handled"
    assert client.get("/p/b/").data == b"parent handled"
    assert client.get("/p/").data == b"parent handled"
    assert client.get("/o/").data == b"app handled"
    assert client.get("/").data == b"app handled"


def test_blueprint_errorhandler_for_abort_and_http_code(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.errorhandler(404)
    def bp_not_found(e):
        return "bp 404", 404

    @app.errorhandler(404)
    def app_not_found(e):
        return "app 404", 404

    @bp.route("/missing")
    def missing():
        abort(404)

    app.register_blueprint(bp)
    assert client.get("/bp/missing").data == b"bp 404"
    # Routing failed: no blueprint is known, so the app's handler answers.
    assert client.get("/bp/unknown").data == b"app 404"


def test_blueprint_errorhandler_by_exception_hierarchy(app, client):
    bp = Blueprint("bp", __name__)

    @bp.errorhandler(LookupError)
    def lookup(e):
        return f"lookup: {type(e).__name__}", 400

    @bp.route("/")
    def index():
        raise KeyError("k")

    app.register_blueprint(bp)
    rv = client.get("/")
    assert rv.status_code == 400
    assert rv.data == b"lookup: KeyError"


def test_blueprint_register_error_handler(app, client):
    bp = Blueprint("bp", __name__)
    bp.register_error_handler(403, lambda e: ("bp forbids", 403))
    bp.add_url_rule("/", "index", lambda: abort(403))
    app.register_blueprint(bp)
    assert client.get("/").data == b"bp forbids"


def test_error_handlers_registered_twice_with_name(app, client):
    bp = Blueprint("bp", __name__)
    bp.errorhandler(ValueError)(lambda e: (f"handled in {request.blueprint}", 500))

    @bp.route("/")
    def index():
        raise ValueError

    app.register_blueprint(bp, url_prefix="/one")
    app.register_blueprint(bp, url_prefix="/two", name="two")
    assert client.get("/one/").data == b"handled in bp"
    assert client.get("/two/").data == b"handled in two"


def test_url_value_preprocessor_and_url_defaults(app, client):
    bp = Blueprint("frontend", __name__, url_prefix="/<lang_code>")

    @bp.url_defaults
    def add_language_code(endpoint, values):
        values.setdefault("lang_code", g.lang_code)

    @bp.url_value_preprocessor
    def pull_lang_code(endpoint, values):
        g.lang_code = values.pop("lang_code")

    @bp.route("/")
    def index():
        return f"{g.lang_code} {url_for('.about')} {url_for('app_page')}"

    @bp.route("/about")
    def about():
        return "about"

    @app.route("/page")
    def app_page():
        return "page"

    app.register_blueprint(bp)
    assert client.get("/de/").data == b"de /de/about /page"
    assert client.get("/fr/").data == b"fr /fr/about /page"


def test_blueprint_url_defaults_not_used_for_other_endpoints(app, client):
    bp = Blueprint("bp", __name__)
    seen = []

    @bp.url_defaults
    def defaults(endpoint, values):
        seen.append(endpoint)

    bp.add_url_rule("/bp", "index", lambda: "bp")
    app.add_url_rule("/", "index", lambda: "app")
    app.register_blueprint(bp)
    with app.test_request_context():
        url_for("index")
        assert seen == []
        url_for("bp.index")
        assert seen == ["bp.index"]


def test_url_defaults_order_app_parent_child(app):
    calls = []
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__)
    for label, scaffold in (("app", app), ("parent", parent), ("child", child)):
        scaffold.url_defaults(lambda endpoint, values, label=label: calls.append(label))
    child.add_url_rule("/", "index", lambda: "")
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    with app.test_request_context():
        assert url_for("parent.child.index") == "/"
    assert calls == ["app", "parent", "child"]


def test_context_processor_only_in_blueprint_requests(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.context_processor
    def inject():
        return {"who": "blueprint"}

    template = "{{ who | default('nobody') }}"
    bp.add_url_rule("/", "index", lambda: render_template_string(template))
    app.add_url_rule("/", "index", lambda: render_template_string(template))
    app.register_blueprint(bp)
    assert client.get("/bp/").data == b"blueprint"
    assert client.get("/").data == b"nobody"


def test_context_processor_nested_child_wins(app, client):
    parent = Blueprint("parent", __name__)
    child = Blueprint("child", __name__, url_prefix="/c")
    app.context_processor(lambda: {"a": "app", "b": "app", "c": "app"})
    parent.context_processor(lambda: {"b": "parent", "c": "parent"})
    child.context_processor(lambda: {"c": "child"})
    child.add_url_rule("/", "index", lambda: render_template_string("{{ a }} {{ b }} {{ c }}"))
    parent.add_url_rule("/", "index", lambda: render_template_string("{{ a }} {{ b }} {{ c }}"))
    parent.register_blueprint(child)
    app.register_blueprint(parent)
    assert client.get("/c/").data == b"app parent child"
    assert client.get("/").data == b"app parent parent"


# --- app-wide variants -----------------------------------------------------------


def test_app_request_hooks_apply_to_the_whole_app(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp")
    calls = []

    @bp.before_app_request
    def before():
        calls.append(("before", request.endpoint))

    @bp.after_app_request
    def after(response):
        calls.append(("after", request.endpoint))
        response.headers["X-App-Hook"] = "1"
        return response

    @bp.teardown_app_request
    def teardown(exc):
        calls.append(("teardown", request.endpoint))

    app.add_url_rule("/", "index", lambda: "app")
    bp.add_url_rule("/", "index", lambda: "bp")
    app.register_blueprint(bp)

    rv = client.get("/")
    assert rv.headers["X-App-Hook"] == "1"
    assert calls == [("before", "index"), ("after", "index"), ("teardown", "index")]
    calls.clear()
    client.get("/bp/")
    assert calls == [("before", "bp.index"), ("after", "bp.index"), ("teardown", "bp.index")]


def test_app_hooks_registered_once_when_blueprint_registered_twice(app, client):
    bp = Blueprint("bp", __name__)
    calls = []
    bp.before_app_request(lambda: calls.append("before"))
    app.add_url_rule("/", "index", lambda: "app")
    app.register_blueprint(bp)
    app.register_blueprint(bp, name="again")
    client.get("/")
    assert calls == ["before"]


def test_app_errorhandler(app, client):
    bp = Blueprint("bp", __name__)

    @bp.app_errorhandler(404)
    def not_found(e):
        return "handled by blueprint for the app", 404

    @bp.app_errorhandler(ZeroDivisionError)
    def zero(e):
        return "no zero", 400

    @app.route("/divide")
    def divide():
        return str(1 // 0)

    app.register_blueprint(bp)
    assert client.get("/nowhere").data == b"handled by blueprint for the app"
    rv = client.get("/divide")
    assert rv.status_code == 400
    assert rv.data == b"no zero"


def test_app_context_processor(app, client):
    bp = Blueprint("bp", __name__)

    @bp.app_context_processor
    def inject():
        return {"site": "kolben"}

    app.add_url_rule("/", "index", lambda: render_template_string("{{ site }}"))
    app.register_blueprint(bp)
    assert client.get("/").data == b"kolben"


def test_app_url_value_preprocessor_and_app_url_defaults(app, client):
    bp = Blueprint("bp", __name__)

    @bp.app_url_value_preprocessor
    def pull(endpoint, values):
        if values:
            g.lang = values.pop("lang", None)

    @bp.app_url_defaults
    def push(endpoint, values):
        if endpoint == "page":
            values.setdefault("lang", g.get("lang", "en"))

    @app.route("/<lang>/page")
    def page():
        return f"{g.lang} {url_for('page')}"

    app.register_blueprint(bp)
    assert client.get("/de/page").data == b"de /de/page"


def test_app_template_filter_test_global(app):
    bp = Blueprint("bp", __name__)

    @bp.app_template_filter()
    def reverse(s):
        return s[::-1]

    @bp.app_template_filter("shout")
    def upper(s):
        return s.upper()

    @bp.app_template_test()
    def even(n):
        return n % 2 == 0

    @bp.app_template_test("odd_one")
    def odd(n):
        return n % 2 == 1

    @bp.app_template_global()
    def answer():
        return 42

    @bp.app_template_global("greeting")
    def hello():
        return "hi"

    def bang(s):
        return s + "!"

    def positive(n):
        return n > 0

    def pi():
        return 3

    bp.add_app_template_filter(bang)
    bp.add_app_template_filter(bang, "exclaim")
    bp.add_app_template_test(positive)
    bp.add_app_template_test(positive, "plus")
    bp.add_app_template_global(pi)
    bp.add_app_template_global(pi, "tau_half")

    app.register_blueprint(bp)
    source = (
        "{{ 'abc'|reverse }} {{ 'abc'|shout }} {{ 4 is even }} {{ 3 is odd_one }}"
        " {{ answer() }} {{ greeting() }} {{ 'a'|bang }} {{ 'b'|exclaim }}"
        " {{ 1 is positive }} {{ -1 is plus }} {{ pi() }} {{ tau_half() }}"
    )
    with app.app_context():
        assert render_template_string(source) == "cba ABC True True 42 hi a! b! True False 3 3"
    assert app.jinja_env.filters["reverse"] is reverse
    assert app.jinja_env.tests["even"] is even
    assert app.jinja_env.globals["answer"] is answer


def test_app_template_filter_decorator_returns_function():
    bp = Blueprint("bp", __name__)

    def f(s):
        return s

    assert bp.app_template_filter()(f) is f
    assert bp.app_template_test()(f) is f
    assert bp.app_template_global()(f) is f
    assert bp.before_app_request(f) is f
    assert bp.after_app_request(f) is f
    assert bp.teardown_app_request(f) is f
    assert bp.app_context_processor(f) is f
    assert bp.app_errorhandler(404)(f) is f
    assert bp.app_url_value_preprocessor(f) is f
    assert bp.app_url_defaults(f) is f


# --- record, record_once, BlueprintSetupState --------------------------------------


def test_record_and_record_once(app):
    bp = Blueprint("bp", __name__, url_prefix="/bp", url_defaults={"x": 1})
    states = []
    once = []
    bp.record(states.append)
    bp.record_once(once.append)

    app.register_blueprint(bp)
    app.register_blueprint(bp, name="alt", url_prefix="/alt", url_defaults={"y": 2})

    assert len(states) == 2
    assert len(once) == 1
    first, second = states
    assert once[0] is not None
    assert once[0].first_registration is True
    assert isinstance(first, BlueprintSetupState)

    assert first.app is app
    assert first.blueprint is bp
    assert first.options == {}
    assert first.first_registration is True
    assert first.url_prefix == "/bp"
    assert first.subdomain is None
    assert first.name == "bp"
    assert first.name_prefix == ""
    assert first.url_defaults == {"x": 1}

    assert second.options == {"name": "alt", "url_prefix": "/alt", "url_defaults": {"y": 2}}
    assert second.first_registration is False
    assert second.url_prefix == "/alt"
    assert second.name == "alt"
    assert second.url_defaults == {"x": 1, "y": 2}


def test_record_once_per_app(app):
    bp = Blueprint("bp", __name__)
    apps = []
    bp.record_once(lambda state: apps.append(state.app))
    other = make_app()
    app.register_blueprint(bp)
    other.register_blueprint(bp)
    assert apps == [app, other]


def test_setup_state_of_nested_blueprint(sub_app):
    parent = Blueprint("parent", __name__, url_prefix="/p", subdomain="api")
    child = Blueprint("child", __name__, url_prefix="/c", subdomain="v1")
    states = []
    child.record(states.append)
    parent.register_blueprint(child)
    sub_app.register_blueprint(parent)
    (state,) = states
    assert state.app is sub_app
    assert state.blueprint is child
    assert state.name == "child"
    assert state.name_prefix == "parent"
    assert state.url_prefix == "/p/c"
    assert state.subdomain == "v1.api"
    assert state.options["name_prefix"] == "parent"
    assert state.first_registration is True


def test_setup_state_subdomain_from_options(app):
    bp = Blueprint("bp", __name__, subdomain="constructor")
    states = []
    bp.record(states.append)
    app.register_blueprint(bp, subdomain="option")
    assert states[0].subdomain == "option"


def test_setup_state_add_url_rule(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp", url_defaults={"n": 1})

    def view(n):
        return f"n={n}"

    bp.record(lambda state: state.add_url_rule("/recorded", view_func=view))
    bp.record(lambda state: state.add_url_rule("/named", "named", view, defaults={"n": 2}))
    bp.record(lambda state: state.add_url_rule("", "bare", view))
    app.register_blueprint(bp)
    assert client.get("/bp/recorded").data == b"n=1"
    assert client.get("/bp/named").data == b"n=2"
    assert client.get("/bp").data == b"n=1"
    with app.test_request_context():
        assert url_for("bp.view") == "/bp/recorded"
        assert url_for("bp.named") == "/bp/named"


def test_make_setup_state_can_be_overridden(app):
    class MyState(BlueprintSetupState):
        pass

    class MyBlueprint(Blueprint):
        def make_setup_state(self, app, options, first_registration=False):
            return MyState(self, app, options, first_registration)

    bp = MyBlueprint("bp", __name__)
    states = []
    bp.record(states.append)
    app.register_blueprint(bp)
    assert type(states[0]) is MyState


def test_deferred_functions_in_order(app):
    bp = Blueprint("bp", __name__)
    calls = []
    bp.record(lambda s: calls.append(1))
    bp.record(lambda s: calls.append(2))
    bp.record_once(lambda s: calls.append(3))
    assert len(bp.deferred_functions) == 3
    app.register_blueprint(bp)
    assert calls == [1, 2, 3]


# --- routes on blueprints --------------------------------------------------------


def test_method_shortcuts_on_blueprint(app, client):
    bp = Blueprint("bp", __name__)
    bp.get("/", endpoint="get")(lambda: "get")
    bp.post("/", endpoint="post")(lambda: "post")
    bp.put("/x", endpoint="put")(lambda: "put")
    bp.delete("/x", endpoint="delete")(lambda: "delete")
    bp.patch("/x", endpoint="patch")(lambda: "patch")
    app.register_blueprint(bp)
    assert client.get("/").data == b"get"
    assert client.post("/").data == b"post"
    assert client.put("/x").data == b"put"
    assert client.delete("/x").data == b"delete"
    assert client.patch("/x").data == b"patch"
    assert client.get("/x").status_code == 405


def test_endpoint_decorator_on_blueprint_names_an_app_endpoint(app, client):
    # Flask: bp.endpoint(name) sets the view of the app-level endpoint ``name``
    # (not prefixed with the blueprint's name), as Flask's own test suite checks.
    app.add_url_rule("/foo", endpoint="bar")
    bp = Blueprint("bp", __name__)

    @bp.endpoint("bar")
    def foobar():
        return request.endpoint

    app.register_blueprint(bp, url_prefix="/bp_prefix")
    assert client.get("/foo").data == b"bar"
    assert client.get("/bp_prefix/bar").status_code == 404


def test_route_options_pass_through(app, client):
    bp = Blueprint("bp", __name__, url_prefix="/bp")

    @bp.route("/item/<int:item_id>", methods=["POST"], endpoint="make")
    def create(item_id):
        return f"created {item_id}"

    app.register_blueprint(bp)
    assert client.post("/bp/item/3").data == b"created 3"
    assert client.get("/bp/item/3").status_code == 405
    with app.test_request_context():
        assert url_for("bp.make", item_id=4) == "/bp/item/4"


def test_method_shortcut_refuses_methods_argument():
    bp = Blueprint("bp", __name__)
    with pytest.raises(TypeError, match="route"):
        bp.get("/", methods=["POST"])


def test_rule_without_endpoint_or_view_fails_at_registration(app):
    bp = Blueprint("bp", __name__)
    bp.add_url_rule("/x")
    # Flask 3.1 fails with an AssertionError here; kolben with a TypeError.
    with pytest.raises((AssertionError, TypeError)):
        app.register_blueprint(bp)


@kolben_only
def test_rule_without_endpoint_or_view_message(app):
    bp = Blueprint("bp", __name__)
    bp.add_url_rule("/x")
    # Flask's exception class and words first, then kolben's hint.
    with pytest.raises(
        AssertionError, match=r"^expected view func if endpoint is not provided\..*'endpoint'"
    ):
        app.register_blueprint(bp)
    with pytest.raises(AssertionError, match=r"^expected view func if endpoint is not provided"):
        app.add_url_rule("/y")


@pytest.mark.parametrize(
    ("key", "error"),
    [(999, ValueError), (ValueError("x"), TypeError), (str, ValueError)],
    ids=["unknown code", "instance", "not an exception"],
)
def test_blueprint_errorhandler_bad_key(key, error):
    bp = Blueprint("bp", __name__)
    with pytest.raises(error):
        bp.errorhandler(key)(_noop)
    with pytest.raises(error):
        bp.register_error_handler(key, _noop)


def test_request_blueprint_outside_blueprints(app, client):
    seen = {}

    @app.route("/")
    def index():
        seen.update(blueprint=request.blueprint, blueprints=request.blueprints)
        return ""

    client.get("/")
    assert seen == {"blueprint": None, "blueprints": []}
