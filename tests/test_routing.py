"""Routing: decorators, add_url_rule, converters, automatic HEAD/OPTIONS,
strict slashes, subdomain and host matching, overridable classes.

Flask 3.1's documented behaviour is the spec."""

from __future__ import annotations

import typing as t
import uuid
from urllib.parse import urlsplit

import pytest
from werkzeug.routing import BaseConverter, Rule
from werkzeug.test import EnvironBuilder

import kolben
from kolben import request


def allow_set(response) -> set[str]:
    return {m.strip() for m in response.headers["Allow"].split(",")}


# --- route decorator and method shortcuts -------------------------------------------------


def test_route_default_is_get(app, client):
    @app.route("/")
    def index():
        return "hello"

    assert client.get("/").data == b"hello"
    assert client.post("/").status_code == 405


def test_route_with_methods(app, client):
    @app.route("/form", methods=["GET", "POST"])
    def form():
        return request.method

    assert client.get("/form").data == b"GET"
    assert client.post("/form").data == b"POST"
    assert client.put("/form").status_code == 405


def test_route_methods_are_case_insensitive(app, client):
    @app.route("/x", methods=["post"])
    def x():
        return "ok"

    assert client.post("/x").data == b"ok"
    assert "POST" in allow_set(client.get("/x"))


def test_route_methods_as_string_raises_type_error(app):
    with pytest.raises(TypeError):
        app.add_url_rule("/x", "x", lambda: "x", methods="POST")


def test_route_endpoint_defaults_to_function_name(app):
    @app.route("/")
    def my_view():
        return ""

    assert app.view_functions["my_view"] is my_view
    assert {r.endpoint for r in app.url_map.iter_rules()} >= {"my_view"}


def test_route_custom_endpoint(app, client):
    @app.route("/c", endpoint="custom")
    def func():
        return request.endpoint

    assert app.view_functions["custom"] is func
    assert "func" not in app.view_functions
    assert client.get("/c").data == b"custom"


def test_route_decorator_returns_function_unchanged(app):
    def view():
        return "v"

    assert app.route("/v")(view) is view


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_method_shortcuts(app, client, method):
    decorator = getattr(app, method)

    @decorator("/thing")
    def thing():
        return request.method

    rv = client.open("/thing", method=method.upper())
    assert rv.status_code == 200
    assert rv.data == method.upper().encode()
    other = "POST" if method != "post" else "PUT"
    assert client.open("/thing", method=other).status_code == 405


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_method_shortcuts_reject_methods_argument(app, method):
    with pytest.raises(TypeError, match="route"):
        getattr(app, method)("/x", methods=["GET"])


def test_several_routes_on_one_view(app, client):
    @app.get("/a")
    @app.post("/b")
    def ab():
        return request.path

    assert client.get("/a").data == b"/a"
    assert client.post("/b").data == b"/b"
    assert client.post("/a").status_code == 405


# --- add_url_rule --------------------------------------------------------------------------


def test_add_url_rule_with_endpoint_and_view_func(app, client):
    def view():
        return "added"

    app.add_url_rule("/added", "added_ep", view)
    assert app.view_functions["added_ep"] is view
    assert client.get("/added").data == b"added"


def test_add_url_rule_endpoint_from_view_func_name(app, client):
    def some_view():
        return request.endpoint

    app.add_url_rule("/sv", view_func=some_view)
    assert client.get("/sv").data == b"some_view"


def test_add_url_rule_with_methods(app, client):
    app.add_url_rule("/m", "m", lambda: request.method, methods=["PUT", "DELETE"])
    assert client.put("/m").data == b"PUT"
    assert client.delete("/m").data == b"DELETE"
    assert client.get("/m").status_code == 405


def test_add_url_rule_without_endpoint_or_view_func_fails(app):
    # Flask raises AssertionError; the exact type is not documented
    with pytest.raises((AssertionError, TypeError), match="endpoint"):
        app.add_url_rule("/nothing")


def test_add_url_rule_uses_view_func_methods_attribute(app, client):
    def view():
        return request.method

    view.methods = ["POST"]
    app.add_url_rule("/vm", view_func=view)
    assert client.post("/vm").data == b"POST"
    assert client.get("/vm").status_code == 405


def test_add_url_rule_required_methods_attribute(app, client):
    def view():
        return request.method

    view.required_methods = ["PATCH"]
    app.add_url_rule("/rm", view_func=view, methods=["GET"])
    assert client.get("/rm").data == b"GET"
    assert client.patch("/rm").data == b"PATCH"


def test_add_url_rule_with_defaults(app, client):
    def page(n):
        return f"page {n}"

    app.add_url_rule("/page/", "page", page, defaults={"n": 1})
    app.add_url_rule("/page/<int:n>", "page", page)
    assert client.get("/page/").data == b"page 1"
    assert client.get("/page/3").data == b"page 3"
    # the URL that spells out the default value redirects to the canonical one
    rv = client.get("/page/1")
    assert rv.status_code == 308
    assert urlsplit(rv.headers["Location"]).path == "/page/"


def test_add_url_rule_strict_slashes_false(app, client):
    app.add_url_rule("/loose/", "loose", lambda: "loose", strict_slashes=False)
    assert client.get("/loose/").data == b"loose"
    rv = client.get("/loose")
    assert rv.status_code == 200
    assert rv.data == b"loose"


def test_add_url_rule_provide_automatic_options_false(app, client):
    app.add_url_rule("/no-opts", "no_opts", lambda: "x", provide_automatic_options=False)
    assert client.get("/no-opts").status_code == 200
    rv = client.options("/no-opts")
    assert rv.status_code == 405
    assert "OPTIONS" not in allow_set(rv)


def test_view_func_provide_automatic_options_attribute(app, client):
    def view():
        return "x"

    view.provide_automatic_options = False
    app.add_url_rule("/vo", view_func=view)
    assert client.options("/vo").status_code == 405


def test_add_url_rule_provide_automatic_options_true_with_explicit_options(app, client):
    # when OPTIONS is listed, the view answers it itself
    @app.route("/own", methods=["GET", "OPTIONS"])
    def own():
        return f"own {request.method}"

    rv = client.options("/own")
    assert rv.status_code == 200
    assert rv.data == b"own OPTIONS"


def test_endpoint_decorator_with_add_url_rule_without_view_func(app, client):
    app.add_url_rule("/ep", endpoint="later")

    @app.endpoint("later")
    def handler():
        return "late binding"

    assert app.view_functions["later"] is handler
    assert client.get("/ep").data == b"late binding"


def test_endpoint_decorator_returns_function(app):
    def f():
        return ""

    assert app.endpoint("x")(f) is f


def test_duplicate_endpoint_with_different_function_raises(app):
    @app.route("/one", endpoint="same")
    def one():
        return "1"

    def two():
        return "2"

    with pytest.raises(AssertionError, match="same"):
        app.add_url_rule("/two", "same", two)


def test_same_function_may_be_registered_twice_under_one_endpoint(app, client):
    def view():
        return request.path

    app.add_url_rule("/one", "same", view)
    app.add_url_rule("/two", "same", view)
    assert client.get("/one").data == b"/one"
    assert client.get("/two").data == b"/two"


def test_setup_method_after_first_request_raises(app, client):
    @app.route("/")
    def index():
        return ""

    client.get("/")
    with pytest.raises(AssertionError):
        app.add_url_rule("/late", "late", lambda: "")


# --- url_map and converters ----------------------------------------------------------------


def test_url_map_lists_rules(app):
    @app.route("/users/<int:user_id>", methods=["GET", "POST"])
    def user(user_id):
        return ""

    rules = {r.rule: r for r in app.url_map.iter_rules()}
    rule = rules["/users/<int:user_id>"]
    assert rule.endpoint == "user"
    assert {"GET", "POST", "HEAD", "OPTIONS"} <= rule.methods
    assert rule.arguments == {"user_id"}


def test_default_converter_is_string_without_slash(app, client):
    @app.route("/s/<name>")
    def s(name):
        return f"{type(name).__name__}:{name}"

    assert client.get("/s/abc").data == b"str:abc"
    assert client.get("/s/a%20b").data == b"str:a b"
    assert client.get("/s/a/b").status_code == 404


def test_string_converter_minlength_maxlength(app, client):
    @app.route("/s/<string(minlength=2, maxlength=3):v>")
    def s(v):
        return v

    assert client.get("/s/a").status_code == 404
    assert client.get("/s/ab").data == b"ab"
    assert client.get("/s/abc").data == b"abc"
    assert client.get("/s/abcd").status_code == 404


def test_string_converter_length(app, client):
    @app.route("/code/<string(length=2):code>")
    def code(code):
        return code

    assert client.get("/code/de").data == b"de"
    assert client.get("/code/d").status_code == 404
    assert client.get("/code/deu").status_code == 404


def test_int_converter(app, client):
    @app.route("/i/<int:n>")
    def i(n):
        return repr(n)

    assert client.get("/i/42").data == b"42"
    assert client.get("/i/abc").status_code == 404
    assert client.get("/i/1.5").status_code == 404
    assert client.get("/i/-1").status_code == 404


def test_int_converter_min_max(app, client):
    @app.route("/i/<int(min=1, max=10):n>")
    def i(n):
        return repr(n)

    assert client.get("/i/0").status_code == 404
    assert client.get("/i/1").data == b"1"
    assert client.get("/i/10").data == b"10"
    assert client.get("/i/11").status_code == 404


def test_int_converter_signed(app, client):
    @app.route("/i/<int(signed=True):n>")
    def i(n):
        return repr(n)

    assert client.get("/i/-5").data == b"-5"
    assert client.get("/i/5").data == b"5"


def test_int_converter_fixed_digits(app, client):
    @app.route("/y/<int(fixed_digits=4):year>")
    def y(year):
        return repr(year)

    assert client.get("/y/0042").data == b"42"
    assert client.get("/y/42").status_code == 404
    with app.test_request_context():
        assert kolben.url_for("y", year=7) == "/y/0007"


def test_float_converter(app, client):
    @app.route("/f/<float:x>")
    def f(x):
        return f"{type(x).__name__}:{x}"

    assert client.get("/f/1.5").data == b"float:1.5"
    assert client.get("/f/1").status_code == 404
    assert client.get("/f/-1.5").status_code == 404


def test_float_converter_signed(app, client):
    @app.route("/f/<float(signed=True):x>")
    def f(x):
        return repr(x)

    assert client.get("/f/-1.5").data == b"-1.5"


def test_path_converter(app, client):
    @app.route("/files/<path:p>")
    def files(p):
        return p

    assert client.get("/files/a/b/c.txt").data == b"a/b/c.txt"
    assert client.get("/files/x").data == b"x"
    with app.test_request_context():
        assert kolben.url_for("files", p="a/b") == "/files/a/b"


def test_uuid_converter(app, client):
    @app.route("/u/<uuid:uid>")
    def u(uid):
        assert isinstance(uid, uuid.UUID)
        return str(uid)

    value = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert client.get(f"/u/{value}").data == str(value).encode()
    assert client.get("/u/not-a-uuid").status_code == 404
    with app.test_request_context():
        assert kolben.url_for("u", uid=value) == f"/u/{value}"


def test_any_converter(app, client):
    @app.route("/pick/<any(about, help, 'contact us'):page>")
    def pick(page):
        return page

    assert client.get("/pick/about").data == b"about"
    assert client.get("/pick/help").data == b"help"
    assert client.get("/pick/other").status_code == 404


class ListConverter(BaseConverter):
    """The custom converter from Flask's docs (comma separated list)."""

    def to_python(self, value):
        return value.split(",")

    def to_url(self, values):
        return ",".join(super(ListConverter, self).to_url(v) for v in values)


def test_custom_converter(app, client):
    app.url_map.converters["list"] = ListConverter

    @app.route("/tags/<list:tags>")
    def tags(tags):
        assert isinstance(tags, list)
        return "|".join(tags)

    assert client.get("/tags/a,b,c").data == b"a|b|c"
    with app.test_request_context():
        assert kolben.url_for("tags", tags=["x", "y z"]) == "/tags/x,y%20z"


def test_custom_converter_with_regex_rejects(app, client):
    class EvenConverter(BaseConverter):
        regex = r"\d*[02468]"

        def to_python(self, value):
            return int(value)

        def to_url(self, value):
            return str(value)

    app.url_map.converters["even"] = EvenConverter

    @app.route("/even/<even:n>")
    def even(n):
        return repr(n)

    assert client.get("/even/24").data == b"24"
    assert client.get("/even/23").status_code == 404


# --- strict slashes ------------------------------------------------------------------------


def test_strict_slash_redirect(app, client):
    @app.route("/folder/")
    def folder():
        return "folder"

    rv = client.get("/folder")
    assert rv.status_code == 308
    location = urlsplit(rv.headers["Location"])
    assert location.path == "/folder/"
    assert client.get("/folder/").data == b"folder"


def test_strict_slash_redirect_keeps_query_string(app, client):
    @app.route("/folder/")
    def folder():
        return request.query_string

    rv = client.get("/folder?a=1&b=2")
    assert rv.status_code == 308
    assert rv.headers["Location"].endswith("/folder/?a=1&b=2")


def test_strict_slash_redirect_followed(app, client):
    @app.route("/folder/")
    def folder():
        return request.args.get("a", "")

    rv = client.get("/folder?a=x", follow_redirects=True)
    assert rv.status_code == 200
    assert rv.data == b"x"


def test_strict_slash_redirect_keeps_method_post(app, client):
    @app.post("/folder/")
    def folder():
        return request.get_data()

    rv = client.post("/folder", data=b"payload")
    assert rv.status_code == 308
    assert client.post("/folder", data=b"payload", follow_redirects=True).data == b"payload"


def test_no_trailing_slash_rule_rejects_slash(app, client):
    @app.route("/file")
    def file():
        return "file"

    assert client.get("/file").status_code == 200
    assert client.get("/file/").status_code == 404


# --- automatic HEAD and OPTIONS; 405 -------------------------------------------------------


def test_automatic_head(app, client):
    @app.route("/")
    def index():
        return "some body", {"X-Custom": "yes"}

    get = client.get("/")
    head = client.head("/")
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"] == "9"
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers["X-Custom"] == "yes"


def test_head_sees_head_method_in_view(app, client):
    @app.route("/")
    def index():
        return request.method

    assert client.head("/").headers["Content-Length"] == "4"


def test_automatic_options(app, client):
    @app.route("/", methods=["GET", "POST"])
    def index():
        return "should not run"

    rv = client.options("/")
    assert rv.status_code == 200
    assert rv.data == b""
    assert allow_set(rv) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_automatic_options_merges_rules_on_same_path(app, client):
    @app.get("/r")
    def r_get():
        return ""

    @app.delete("/r")
    def r_delete():
        return ""

    assert allow_set(client.options("/r")) == {"GET", "HEAD", "DELETE", "OPTIONS"}


def test_provide_automatic_options_config_false(app, client):
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

    @app.route("/")
    def index():
        return "x"

    rv = client.options("/")
    assert rv.status_code == 405
    assert "OPTIONS" not in allow_set(rv)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "index")
    assert "OPTIONS" not in rule.methods


def test_method_not_allowed_has_allow_header(app, client):
    @app.route("/p", methods=["POST", "PUT"])
    def p():
        return "p"

    rv = client.get("/p")
    assert rv.status_code == 405
    assert allow_set(rv) == {"POST", "PUT", "OPTIONS"}


def test_method_not_allowed_vs_not_found(app, client):
    @app.post("/only-post")
    def only_post():
        return ""

    assert client.delete("/only-post").status_code == 405
    assert client.delete("/missing").status_code == 404


# --- request routing attributes ------------------------------------------------------------


def test_request_routing_attributes(app, client):
    seen = {}

    @app.route("/users/<int:user_id>/<name>", methods=["GET", "POST"])
    def user(user_id, name):
        seen["endpoint"] = request.endpoint
        seen["view_args"] = dict(request.view_args)
        seen["rule"] = request.url_rule
        seen["blueprint"] = request.blueprint
        seen["blueprints"] = list(request.blueprints)
        return ""

    assert client.post("/users/7/ann").status_code == 200
    assert seen["endpoint"] == "user"
    assert seen["view_args"] == {"user_id": 7, "name": "ann"}
    assert isinstance(seen["rule"], Rule)
    assert seen["rule"].rule == "/users/<int:user_id>/<name>"
    assert seen["rule"].endpoint == "user"
    assert "POST" in seen["rule"].methods
    assert seen["blueprint"] is None
    assert seen["blueprints"] == []


def test_routing_attributes_none_when_not_matched(app, client):
    seen = {}

    @app.errorhandler(404)
    def not_found(e):
        seen["endpoint"] = request.endpoint
        seen["view_args"] = request.view_args
        seen["rule"] = request.url_rule
        return "nf", 404

    assert client.get("/nope").status_code == 404
    assert seen == {"endpoint": None, "view_args": None, "rule": None}


def test_test_request_context_matches_route(app):
    @app.route("/items/<int:item_id>")
    def item(item_id):
        return ""

    with app.test_request_context("/items/3"):
        assert request.endpoint == "item"
        assert request.view_args == {"item_id": 3}
        assert request.url_rule.rule == "/items/<int:item_id>"


def test_view_args_passed_as_keyword_arguments(app, client):
    @app.route("/kw/<a>/<int:b>")
    def kw(**kwargs):
        return repr(sorted(kwargs.items()))

    assert client.get("/kw/x/2").data == b"[('a', 'x'), ('b', 2)]"


# --- subdomain and host matching -----------------------------------------------------------


@pytest.fixture
def sub_app():
    app = kolben.Kolben("sub_app", subdomain_matching=True, static_folder=None)
    app.config.update(TESTING=True, SERVER_NAME="example.com")

    @app.route("/")
    def root():
        return "root"

    @app.route("/", subdomain="api")
    def api():
        return "api"

    @app.route("/who", subdomain="<user>")
    def who(user):
        return f"user {user}"

    return app


def test_subdomain_matching(sub_app, client_for):
    client = client_for(sub_app)
    assert client.get("/", base_url="http://example.com/").data == b"root"
    assert client.get("/", base_url="http://api.example.com/").data == b"api"
    assert client.get("/who", base_url="http://bob.example.com/").data == b"user bob"
    assert client.get("/", base_url="http://other.example.com/").status_code == 404


def test_subdomain_matching_via_test_client_subdomain(sub_app, client_for):
    client = client_for(sub_app)
    assert client.get("/", subdomain="api").data == b"api"
    assert client.get("/").data == b"root"


def test_subdomain_url_for(sub_app):
    with sub_app.test_request_context():
        assert kolben.url_for("api") == "http://api.example.com/"
        assert kolben.url_for("who", user="ann") == "http://ann.example.com/who"
        assert kolben.url_for("root") == "/"


def test_subdomain_in_request_view_args(sub_app):
    with sub_app.test_request_context("/who", subdomain="zed"):
        assert request.endpoint == "who"
        assert request.view_args == {"user": "zed"}


@pytest.fixture
def host_app():
    app = kolben.Kolben("host_app", host_matching=True, static_folder=None)
    app.config["TESTING"] = True

    @app.route("/", host="a.test")
    def a():
        return "host a"

    @app.route("/", host="b.test")
    def b():
        return "host b"

    @app.route("/whoami", host="<name>.users.test")
    def whoami(name):
        return name

    return app


def test_host_matching(host_app, client_for):
    client = client_for(host_app)
    assert client.get("/", base_url="http://a.test/").data == b"host a"
    assert client.get("/", base_url="http://b.test/").data == b"host b"
    assert client.get("/whoami", base_url="http://jo.users.test/").data == b"jo"
    assert client.get("/", base_url="http://c.test/").status_code == 404


def test_host_matching_url_for(host_app):
    with host_app.test_request_context(base_url="http://a.test/"):
        assert kolben.url_for("a") == "/"
        assert kolben.url_for("b") == "http://b.test/"
        assert kolben.url_for("whoami", name="kim") == "http://kim.users.test/whoami"


# --- overridable classes -------------------------------------------------------------------


class MyRequest(kolben.Request):
    def shout(self):
        return self.path.upper()


class MyResponse(kolben.Response):
    default_mimetype = "text/plain"


class MyRule(Rule):
    pass


class MyApp(kolben.Kolben):
    request_class = MyRequest
    response_class = MyResponse
    url_rule_class = MyRule


@pytest.fixture
def my_app():
    app = MyApp("my_app", static_folder=None)
    app.config["TESTING"] = True
    return app


def test_request_class_override(my_app, client_for):
    @my_app.route("/hello")
    def hello():
        assert isinstance(request._get_current_object(), MyRequest)
        return request.shout()

    assert client_for(my_app).get("/hello").data == b"/HELLO"
    with my_app.test_request_context("/x"):
        assert isinstance(request._get_current_object(), MyRequest)


def test_response_class_override(my_app, client_for):
    @my_app.route("/")
    def index():
        return "plain"

    rv = client_for(my_app).get("/")
    assert isinstance(rv, MyResponse)
    assert rv.mimetype == "text/plain"
    with my_app.test_request_context():
        assert isinstance(kolben.make_response("x"), MyResponse)


def test_url_rule_class_override(my_app, client_for):
    @my_app.route("/r/<int:n>")
    def r(n):
        assert isinstance(request.url_rule, MyRule)
        return str(n)

    assert all(isinstance(rule, MyRule) for rule in my_app.url_map.iter_rules())
    assert client_for(my_app).get("/r/5").data == b"5"


def test_request_and_response_class_on_instance(app, client_for):
    app.request_class = MyRequest
    app.response_class = MyResponse

    @app.route("/i")
    def i():
        return request.shout()

    rv = client_for(app).get("/i")
    assert rv.data == b"/I"
    assert rv.mimetype == "text/plain"


# --- URL adapters: customisation and per-host correctness ----------------------------------


def test_create_url_adapter_override_is_used(app, client_for):
    calls = []

    class AdapterApp(kolben.Kolben):
        def create_url_adapter(self, request):
            calls.append(request.path if request is not None else None)
            return super().create_url_adapter(request)

    app = AdapterApp("adapter_app", static_folder=None)

    @app.route("/a/<int:n>")
    def a(n):
        return kolben.url_for("a", n=n + 1)

    client = client_for(app)
    assert client.get("/a/1").data == b"/a/2"
    assert client.get("/a/5").data == b"/a/6"
    assert client.get("/missing").status_code == 404
    assert "/a/1" in calls
    assert "/a/5" in calls


def test_routing_correct_for_many_hosts(app, client):
    @app.route("/here")
    def here():
        return kolben.url_for("here", _external=True)

    # more distinct hosts than any reasonable adapter cache holds
    for i in range(300):
        host = f"h{i}.test"
        rv = client.get("/here", base_url=f"http://{host}/")
        assert rv.data == f"http://{host}/here".encode()
    # and the first hosts still resolve to themselves afterwards
    assert client.get("/here", base_url="http://h0.test/").data == b"http://h0.test/here"


def test_routing_per_script_root_and_scheme(app, client):
    @app.route("/here")
    def here():
        return kolben.url_for("here", _external=True)

    assert client.get("/here", base_url="https://s.test/a/").data == b"https://s.test/a/here"
    assert client.get("/here", base_url="http://s.test/b/").data == b"http://s.test/b/here"
    assert client.get("/here", base_url="https://s.test/a/").data == b"https://s.test/a/here"


def test_upgrade_requests_are_routed(app, client):
    @app.route("/up")
    def up():
        return request.headers["Upgrade"]

    # a non-websocket upgrade is routed like any request
    rv = client.get("/up", headers={"Upgrade": "h2c", "Connection": "Upgrade"})
    assert rv.status_code == 200
    assert rv.data == b"h2c"
    # a websocket upgrade to a plain HTTP rule is a bad request (werkzeug routing)
    rv = client.get("/up", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
    assert rv.status_code == 400
    assert client.get("/nope", headers={"Upgrade": "websocket"}).status_code == 404
    assert client.get("/up", headers={"Upgrade": "h2c"}).data == b"h2c"


def test_empty_path_of_a_mounted_app_redirects_to_its_root(app, client):
    # An app mounted at /app asked for "/app": PATH_INFO is empty. werkzeug (so
    # Flask) matches the empty path, and the rule for "/" answers with a
    # redirect to "/app/", so the page's relative links resolve under /app/.
    @app.route("/")
    def index():
        return f"index {request.script_root}"

    rv = client.get("", base_url="http://localhost/app")
    assert rv.status_code == 308
    assert rv.headers["Location"] == "http://localhost/app/"
    rv = client.get("/", base_url="http://localhost/app")
    assert (rv.status_code, rv.data) == (200, b"index /app")
    # Not remembered as the match of "/" (static matches are cached per path).
    assert client.get("", base_url="http://localhost/app").status_code == 308
    assert client.get("/").data == b"index "


def test_empty_path_info_through_the_wsgi_callable(app):
    @app.route("/")
    def index():
        return "index"

    environ = EnvironBuilder(path="/").get_environ()
    environ["PATH_INFO"] = ""
    statuses = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    assert statuses == ["308 PERMANENT REDIRECT"]
    assert b"Redirecting" in body


def test_an_overlong_host_is_not_kept_in_the_adapter_cache(
    client_for: t.Callable[..., t.Any],
) -> None:
    """The URL adapter cache is keyed by the Host header: one of a client's
    megabyte-long hosts is bound for its request only, not kept."""
    app = kolben.Kolben(__name__)
    app.add_url_rule("/", "index", lambda: kolben.url_for("index", _external=True))
    client = client_for(app)
    assert client.get("/").status_code == 200
    kept = len(app._adapters._adapters)
    long_host = "h" + ".a" * 400
    response = client.get("/", headers={"Host": long_host})
    assert response.status_code == 200
    assert response.data == f"http://{long_host}/".encode()
    assert len(app._adapters._adapters) == kept
