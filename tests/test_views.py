"""Class-based views: View.as_view (methods, decorators, init_every_request,
constructor arguments, automatic OPTIONS) and MethodView (methods inferred from
the class and its bases, HEAD by get, async methods, missing methods).

Every test is checked against Flask 3.1 (the spec) except the few marked
"kolben-only", which check kolben's wording of an error message.
"""

from __future__ import annotations

import functools

import pytest

import kolben
from helpers import kolben_only, needs_async
from kolben import Blueprint, request, url_for
from kolben.views import MethodView, View, http_method_funcs


@pytest.fixture
def prod_app(app):
    """The app with TESTING off, so unhandled errors become 500 responses."""
    app.config["TESTING"] = False
    return app


def test_http_method_funcs():
    assert http_method_funcs == frozenset(
        {"get", "post", "head", "options", "delete", "put", "trace", "patch"}
    )


# --- View.as_view ----------------------------------------------------------------


def test_view_dispatch_request_with_url_arguments(app, client):
    class Hello(View):
        def dispatch_request(self, name):
            return f"Hello, {name}!"

    app.add_url_rule("/hello/<name>", view_func=Hello.as_view("hello"))
    assert client.get("/hello/Ada").data == b"Hello, Ada!"
    with app.test_request_context():
        assert url_for("hello", name="Bob") == "/hello/Bob"


def test_view_without_methods_accepts_get_only(app, client):
    class V(View):
        def dispatch_request(self):
            return request.method

    app.add_url_rule("/", view_func=V.as_view("v"))
    assert client.get("/").data == b"GET"
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405


def test_view_methods(app, client):
    class V(View):
        methods = ["GET", "POST"]

        def dispatch_request(self):
            return request.method

    app.add_url_rule("/", view_func=V.as_view("v"))
    assert client.get("/").data == b"GET"
    assert client.post("/").data == b"POST"
    rv = client.put("/")
    assert rv.status_code == 405
    assert set(rv.allow) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_methods_of_add_url_rule_win_over_view(app, client):
    class V(View):
        methods = ["GET", "POST"]

        def dispatch_request(self):
            return request.method

    app.add_url_rule("/", view_func=V.as_view("v"), methods=["PUT"])
    assert client.put("/").data == b"PUT"
    assert client.post("/").status_code == 405


def test_view_function_attributes():
    class Documented(View):
        """The view's docstring."""

        methods = ["POST"]

        def dispatch_request(self):
            return ""

    view = Documented.as_view("documented")
    assert view.view_class is Documented
    assert view.__name__ == "documented"
    assert view.__doc__ == "The view's docstring."
    assert view.__module__ == __name__
    assert view.methods == ["POST"]


def test_endpoint_is_the_view_name(app):
    class V(View):
        def dispatch_request(self):
            return ""

    app.add_url_rule("/", view_func=V.as_view("my_endpoint"))
    assert app.view_functions["my_endpoint"].view_class is V


def test_constructor_arguments_are_passed_through(app, client):
    class Greeting(View):
        def __init__(self, greeting, punctuation="."):
            self.greeting = greeting
            self.punctuation = punctuation

        def dispatch_request(self, name):
            return f"{self.greeting}, {name}{self.punctuation}"

    app.add_url_rule("/a/<name>", view_func=Greeting.as_view("a", "Hello"))
    app.add_url_rule("/b/<name>", view_func=Greeting.as_view("b", "Hi", punctuation="!"))
    assert client.get("/a/Ada").data == b"Hello, Ada."
    assert client.get("/b/Bob").data == b"Hi, Bob!"


def test_init_every_request_true_makes_a_new_instance_each_time(app, client):
    instances = []

    class Counter(View):
        def __init__(self, start):
            self.count = start
            instances.append(self)

        def dispatch_request(self):
            self.count += 1
            return str(self.count)

    assert Counter.init_every_request is True
    app.add_url_rule("/", view_func=Counter.as_view("counter", 10))
    assert instances == []
    assert client.get("/").data == b"11"
    assert client.get("/").data == b"11"
    assert len(instances) == 2
    assert instances[0] is not instances[1]


def test_init_every_request_false_shares_one_instance(app, client):
    instances = []

    class Counter(View):
        init_every_request = False

        def __init__(self, start):
            self.count = start
            instances.append(self)

        def dispatch_request(self):
            self.count += 1
            return str(self.count)

    view = Counter.as_view("counter", 10)
    assert len(instances) == 1
    app.add_url_rule("/", view_func=view)
    assert client.get("/").data == b"11"
    assert client.get("/").data == b"12"
    assert len(instances) == 1


def test_decorators_applied_in_order(app, client):
    calls = []

    def tag(label):
        def decorator(f):
            @functools.wraps(f)
            def wrapper(**kwargs):
                calls.append(f"{label} in")
                rv = f(**kwargs)
                calls.append(f"{label} out")
                return rv

            wrapper.tag = label
            return wrapper

        return decorator

    class V(View):
        decorators = [tag("first"), tag("second")]

        def dispatch_request(self):
            calls.append("view")
            return "ok"

    view = V.as_view("v")
    # The first decorator is the innermost, as with stacked @decorator syntax.
    assert view.tag == "second"
    app.add_url_rule("/", view_func=view)
    assert client.get("/").data == b"ok"
    assert calls == ["second in", "first in", "view", "first out", "second out"]


def test_decorator_can_end_the_request(app, client):
    def deny(f):
        def wrapper(**kwargs):
            if request.args.get("key") != "secret":
                return "denied", 403
            return f(**kwargs)

        return wrapper

    class Secret(View):
        decorators = [deny]

        def dispatch_request(self):
            return "the secret"

    app.add_url_rule("/", view_func=Secret.as_view("secret"))
    assert client.get("/").status_code == 403
    assert client.get("/?key=secret").data == b"the secret"


def test_decorators_without_wraps_keep_name_and_view_class(app):
    def bare(f):
        def wrapper(**kwargs):
            return f(**kwargs)

        return wrapper

    class V(View):
        decorators = [bare]

        def dispatch_request(self):
            return ""

    view = V.as_view("named")
    assert view.__name__ == "named"
    assert view.view_class is V
    app.add_url_rule("/", view_func=view)
    assert "named" in app.view_functions


def test_decorators_see_the_view_name(app):
    seen = []

    def record_name(f):
        seen.append(f.__name__)
        return f

    class V(View):
        decorators = [record_name]

        def dispatch_request(self):
            return ""

    V.as_view("the_name")
    assert seen == ["the_name"]


def test_provide_automatic_options_default(app, client):
    class V(View):
        def dispatch_request(self):
            return "view"

    app.add_url_rule("/", view_func=V.as_view("v"))
    rv = client.options("/")
    assert rv.status_code == 200
    assert rv.data == b""
    assert set(rv.allow) == {"GET", "HEAD", "OPTIONS"}


def test_provide_automatic_options_false(app, client):
    class V(View):
        provide_automatic_options = False

        def dispatch_request(self):
            return "view"

    app.add_url_rule("/", view_func=V.as_view("v"))
    assert client.options("/").status_code == 405


def test_provide_automatic_options_false_with_options_method(app, client):
    class V(View):
        methods = ["GET", "OPTIONS"]
        provide_automatic_options = False

        def dispatch_request(self):
            return f"view {request.method}"

    app.add_url_rule("/", view_func=V.as_view("v"))
    assert client.options("/").data == b"view OPTIONS"


def test_provide_automatic_options_of_add_url_rule_wins(app, client):
    class V(View):
        def dispatch_request(self):
            return "view"

    app.add_url_rule("/", view_func=V.as_view("v"), provide_automatic_options=False)
    assert client.options("/").status_code == 405
    assert client.get("/").data == b"view"


def test_view_dispatch_request_not_implemented(app, client):
    class Empty(View):
        pass

    app.add_url_rule("/", view_func=Empty.as_view("empty"))
    with pytest.raises(NotImplementedError):
        client.get("/")


def test_view_dispatch_request_not_implemented_is_500(prod_app, client_for):
    class Empty(View):
        pass

    prod_app.add_url_rule("/", view_func=Empty.as_view("empty"))
    assert client_for(prod_app).get("/").status_code == 500


def test_view_dispatch_request_direct_call():
    with pytest.raises(NotImplementedError):
        View().dispatch_request()


@kolben_only
def test_view_dispatch_request_not_implemented_message(app, client):
    class Empty(View):
        pass

    app.add_url_rule("/", view_func=Empty.as_view("empty"))
    with pytest.raises(NotImplementedError, match="Empty must implement dispatch_request"):
        client.get("/")


def test_view_returning_tuple_and_response(app, client):
    class Created(View):
        methods = ["POST"]

        def dispatch_request(self):
            return {"created": True}, 201, {"X-Id": "7"}

    app.add_url_rule("/", view_func=Created.as_view("created"))
    rv = client.post("/")
    assert rv.status_code == 201
    assert rv.json == {"created": True}
    assert rv.headers["X-Id"] == "7"


@needs_async
def test_view_async_dispatch_request(app, client):
    class AsyncView(View):
        async def dispatch_request(self, n):
            return f"async {n}"

    app.add_url_rule("/<int:n>", view_func=AsyncView.as_view("async_view"))
    assert client.get("/3").data == b"async 3"


# --- MethodView ------------------------------------------------------------------


class CounterAPI(MethodView):
    """GET reads, POST writes; used by several tests below."""

    def get(self):
        return "get"

    def post(self):
        return "post"


def test_method_view_dispatches_by_method(app, client):
    app.add_url_rule("/", view_func=CounterAPI.as_view("counter"))
    assert client.get("/").data == b"get"
    assert client.post("/").data == b"post"
    assert client.put("/").status_code == 405
    assert client.delete("/").status_code == 405


def test_method_view_methods_inferred():
    assert CounterAPI.methods == {"GET", "POST"}
    assert CounterAPI.as_view("c").methods == {"GET", "POST"}


def test_method_view_base_class_has_no_methods():
    assert MethodView.methods is None

    class Nothing(MethodView):
        pass

    assert Nothing.methods is None


def test_method_view_subclass_adds_method(app, client):
    class WithDelete(CounterAPI):
        def delete(self):
            return "delete"

    assert WithDelete.methods == {"GET", "POST", "DELETE"}
    assert CounterAPI.methods == {"GET", "POST"}
    app.add_url_rule("/", view_func=WithDelete.as_view("with_delete"))
    assert client.delete("/").data == b"delete"
    assert client.get("/").data == b"get"


def test_method_view_methods_from_mixin(app, client):
    class PutMixin:
        def put(self):
            return "put from mixin"

    class V(PutMixin, MethodView):
        def get(self):
            return "get"

    assert V.methods == {"GET", "PUT"}
    app.add_url_rule("/", view_func=V.as_view("v"))
    assert client.put("/").data == b"put from mixin"


def test_method_view_methods_from_base_methods_attribute():
    class Base(MethodView):
        methods = ["PATCH"]

        def patch(self):
            return "patch"

    class Child(Base):
        def get(self):
            return "get"

    assert set(Child.methods) == {"PATCH", "GET"}


def test_method_view_explicit_methods_win(app, client):
    class OnlyGet(CounterAPI):
        methods = ["GET"]

        def delete(self):
            return "delete"

    assert OnlyGet.methods == ["GET"]
    app.add_url_rule("/", view_func=OnlyGet.as_view("only_get"))
    assert client.get("/").data == b"get"
    assert client.post("/").status_code == 405
    assert client.delete("/").status_code == 405


def test_method_view_head_uses_get(app, client):
    class V(MethodView):
        def get(self):
            return "body of get", {"X-From": "get"}

    app.add_url_rule("/", view_func=V.as_view("v"))
    rv = client.head("/")
    assert rv.status_code == 200
    assert rv.data == b""
    assert rv.headers["X-From"] == "get"
    assert rv.content_length == len(b"body of get")


def test_method_view_head_method_wins_over_get(app, client):
    class V(MethodView):
        def get(self):
            return "get"

        def head(self):
            return "", 204, {"X-From": "head"}

    assert V.methods == {"GET", "HEAD"}
    app.add_url_rule("/", view_func=V.as_view("v"))
    rv = client.head("/")
    assert rv.status_code == 204
    assert rv.headers["X-From"] == "head"


def test_method_view_own_options_method(app, client):
    class V(MethodView):
        def get(self):
            return "get"

        def options(self):
            return "custom options"

    app.add_url_rule("/", view_func=V.as_view("v"))
    assert client.options("/").data == b"custom options"


def test_method_view_url_arguments(app, client):
    class ItemAPI(MethodView):
        def get(self, item_id):
            return f"item {item_id}"

        def put(self, item_id):
            return f"updated {item_id} with {request.get_json()['name']}"

    app.add_url_rule("/items/<int:item_id>", view_func=ItemAPI.as_view("item"))
    assert client.get("/items/3").data == b"item 3"
    assert client.put("/items/4", json={"name": "x"}).data == b"updated 4 with x"


def test_method_view_constructor_arguments(app, client):
    class ItemAPI(MethodView):
        init_every_request = False

        def __init__(self, model):
            self.model = model

        def get(self):
            return self.model

    app.add_url_rule("/users", view_func=ItemAPI.as_view("users", "User"))
    app.add_url_rule("/stories", view_func=ItemAPI.as_view("stories", "Story"))
    assert client.get("/users").data == b"User"
    assert client.get("/stories").data == b"Story"


@needs_async
def test_method_view_async_method(app, client):
    class AsyncAPI(MethodView):
        async def get(self, n):
            return f"async get {n}"

        def post(self, n):
            return f"sync post {n}"

    app.add_url_rule("/<int:n>", view_func=AsyncAPI.as_view("async_api"))
    assert client.get("/5").data == b"async get 5"
    assert client.head("/5").status_code == 200
    assert client.post("/6").data == b"sync post 6"


def test_method_view_missing_method_raises_when_testing(app, client):
    class Half(MethodView):
        methods = ["GET", "POST"]

        def get(self):
            return "get"

    app.add_url_rule("/", view_func=Half.as_view("half"))
    assert client.get("/").data == b"get"
    with pytest.raises(AssertionError, match="POST"):
        client.post("/")


def test_method_view_missing_method_is_500(prod_app, client_for):
    class Half(MethodView):
        methods = ["GET", "POST"]

        def get(self):
            return "get"

    prod_app.add_url_rule("/", view_func=Half.as_view("half"))
    client = client_for(prod_app)
    assert client.post("/").status_code == 500
    assert client.get("/").status_code == 200


def test_method_view_without_methods_is_error_on_get(app, client):
    class Nothing(MethodView):
        pass

    app.add_url_rule("/", view_func=Nothing.as_view("nothing"))
    with pytest.raises(AssertionError, match="GET"):
        client.get("/")


@kolben_only
def test_method_view_missing_method_message(app, client):
    class Half(MethodView):
        methods = ["GET", "POST"]

        def get(self):
            return "get"

    app.add_url_rule("/", view_func=Half.as_view("half"))
    with pytest.raises(
        AssertionError, match=r"Unimplemented method 'POST': Half has no post\(\) method"
    ):
        client.post("/")


def test_method_view_decorators(app, client):
    def add_header(f):
        @functools.wraps(f)
        def wrapper(**kwargs):
            rv = kolben.make_response(f(**kwargs))
            rv.headers["X-Decorated"] = "yes"
            return rv

        return wrapper

    class V(MethodView):
        decorators = [add_header]

        def get(self):
            return "get"

    app.add_url_rule("/", view_func=V.as_view("v"))
    rv = client.get("/")
    assert rv.data == b"get"
    assert rv.headers["X-Decorated"] == "yes"


def test_method_view_on_blueprint(app, client):
    bp = Blueprint("api", __name__, url_prefix="/api")

    class UserAPI(MethodView):
        def get(self, user_id):
            return f"{request.endpoint} {url_for('.user', user_id=user_id + 1)}"

    bp.add_url_rule("/users/<int:user_id>", view_func=UserAPI.as_view("user"))
    app.register_blueprint(bp)
    assert client.get("/api/users/1").data == b"api.user /api/users/2"
    assert app.view_functions["api.user"].view_class is UserAPI


def test_method_view_list_and_item_pattern(app, client):
    store = {}

    class ItemAPI(MethodView):
        init_every_request = False

        def get(self, id):
            return store[id]

        def delete(self, id):
            del store[id]
            return "", 204

    class GroupAPI(MethodView):
        init_every_request = False

        def get(self):
            return sorted(store)

        def post(self):
            item_id = len(store) + 1
            store[item_id] = request.get_json()
            return {"id": item_id}, 201

    app.add_url_rule("/items/", view_func=GroupAPI.as_view("item_group"))
    app.add_url_rule("/items/<int:id>", view_func=ItemAPI.as_view("item"))

    assert client.post("/items/", json={"name": "a"}).status_code == 201
    assert client.post("/items/", json={"name": "b"}).json == {"id": 2}
    assert client.get("/items/").json == [1, 2]
    assert client.get("/items/2").json == {"name": "b"}
    assert client.delete("/items/1").status_code == 204
    assert client.get("/items/").json == [2]
