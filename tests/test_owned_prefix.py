"""Blueprints that own their URL prefix (``owns_prefix=True``): a request under the
prefix that matches no route (404) or not with its method (405) goes through that
blueprint's hooks and error handlers. Every test runs under both doors."""

from __future__ import annotations

import typing as t

import pytest
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

import kolben
from kolben import Blueprint, render_template_string, request, url_for
from kolben.testing import KolbenClient


def make_api(**kwargs: t.Any) -> Blueprint:
    api = Blueprint("api", __name__, url_prefix="/api", **kwargs)

    @api.route("/items", methods=["GET"])
    def items() -> dict[str, t.Any]:
        return {"items": []}

    @api.route("/slash/")
    def slash() -> str:
        return "slash"

    @api.errorhandler(404)
    def api_not_found(e: NotFound) -> tuple[dict[str, t.Any], int]:
        return {"error": "not found", "blueprint": request.blueprint}, 404

    @api.errorhandler(405)
    def api_bad_method(e: MethodNotAllowed) -> tuple[dict[str, t.Any], int, dict[str, str]]:
        allowed = sorted(e.valid_methods or ())
        headers = {"Allow": ", ".join(allowed)}
        return {"error": "method not allowed", "allowed": allowed}, 405, headers

    return api


@pytest.fixture
def site(app: kolben.Kolben) -> kolben.Kolben:
    @app.route("/")
    def index() -> str:
        return "home"

    @app.errorhandler(404)
    def page_not_found(e: NotFound) -> tuple[str, int]:
        return "<h1>Page not found</h1>", 404

    @app.errorhandler(405)
    def page_bad_method(e: MethodNotAllowed) -> tuple[str, int]:
        return "<h1>Method not allowed</h1>", 405

    return app


def client_for(app: kolben.Kolben, door: str) -> KolbenClient:
    return app.asgi_test_client() if door == "asgi" else app.test_client()


def test_404_under_the_prefix_is_json_and_html_elsewhere(site: kolben.Kolben, door: str) -> None:
    site.register_blueprint(make_api(owns_prefix=True))
    client = client_for(site, door)
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.json == {"error": "not found", "blueprint": "api"}
    assert client.get("/api").json == {"error": "not found", "blueprint": "api"}
    assert client.get("/api/items/deeper/still").status_code == 404
    response = client.get("/elsewhere")
    assert response.status_code == 404
    assert response.text == "<h1>Page not found</h1>"
    # A path that only starts with the same letters is not under the prefix.
    assert client.get("/apix").text == "<h1>Page not found</h1>"
    assert client.get("/api/items").json == {"items": []}


def test_405_under_the_prefix_goes_to_the_blueprint(site: kolben.Kolben, door: str) -> None:
    site.register_blueprint(make_api(owns_prefix=True))
    client = client_for(site, door)
    response = client.post("/api/items")
    assert response.status_code == 405
    assert response.json == {
        "error": "method not allowed",
        "allowed": ["GET", "HEAD", "OPTIONS"],
    }
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert client.post("/").text == "<h1>Method not allowed</h1>"


def test_default_stays_flasks_behaviour(site: kolben.Kolben, door: str) -> None:
    site.register_blueprint(make_api())
    client = client_for(site, door)
    assert client.get("/api/nope").text == "<h1>Page not found</h1>"
    assert client.post("/api/items").text == "<h1>Method not allowed</h1>"
    assert site.owned_prefixes == []


def test_the_register_blueprint_option(site: kolben.Kolben, door: str) -> None:
    api = make_api()
    site.register_blueprint(api, owns_prefix=True)
    site.register_blueprint(api, name="legacy", url_prefix="/old-api")
    client = client_for(site, door)
    assert client.get("/api/nope").json == {"error": "not found", "blueprint": "api"}
    # The second registration does not own its prefix.
    assert client.get("/old-api/nope").text == "<h1>Page not found</h1>"
    site2 = kolben.Kolben("second")
    site2.register_blueprint(make_api(owns_prefix=True), owns_prefix=False)
    assert site2.owned_prefixes == []


def test_the_blueprints_hooks_run_for_unmatched_requests(site: kolben.Kolben, door: str) -> None:
    api = make_api(owns_prefix=True)
    calls: list[str] = []

    @api.before_request
    def api_before() -> None:
        calls.append(f"before {request.blueprint} {request.endpoint}")

    @api.after_request
    def api_after(response: kolben.Response) -> kolben.Response:
        response.headers["X-API"] = "yes"
        return response

    @api.teardown_request
    def api_teardown(exc: BaseException | None) -> None:
        calls.append("teardown")

    @api.url_value_preprocessor
    def api_values(endpoint: str | None, values: dict[str, t.Any] | None) -> None:
        assert values is not None  # never called without values
        calls.append("values")

    site.register_blueprint(api)
    client = client_for(site, door)
    response = client.get("/api/nope")
    assert response.headers["X-API"] == "yes"
    assert calls == ["before api None", "teardown"]
    calls.clear()
    response = client.get("/nope")
    assert "X-API" not in response.headers
    assert calls == []


def test_a_before_request_hook_may_answer_instead(site: kolben.Kolben, door: str) -> None:
    api = make_api(owns_prefix=True)

    @api.before_request
    def require_token() -> tuple[dict[str, str], int] | None:
        if request.headers.get("Authorization") != "Bearer ok":
            return {"error": "unauthorized"}, 401
        return None

    site.register_blueprint(api)
    client = client_for(site, door)
    # Unknown API URLs don't reveal which routes exist to an anonymous client.
    assert client.get("/api/nope").status_code == 401
    assert client.get("/api/nope", headers={"Authorization": "Bearer ok"}).status_code == 404


def test_nested_blueprints_the_innermost_owner_wins(site: kolben.Kolben, door: str) -> None:
    api = make_api(owns_prefix=True)
    v2 = Blueprint("v2", __name__, url_prefix="/v2", owns_prefix=True)
    v3 = Blueprint("v3", __name__, url_prefix="/v3")

    @v2.route("/thing")
    def thing() -> str:
        return "thing"

    @v2.errorhandler(404)
    def v2_not_found(e: NotFound) -> tuple[dict[str, t.Any], int]:
        return {"error": "v2 not found", "blueprints": request.blueprints}, 404

    @v3.route("/thing")
    def thing3() -> str:
        return "thing3"

    api.register_blueprint(v2)
    api.register_blueprint(v3)
    site.register_blueprint(api)
    client = client_for(site, door)
    assert client.get("/api/v2/nope").json == {
        "error": "v2 not found",
        "blueprints": ["api.v2", "api"],
    }
    # v2 has no 405 handler: its parent's handles it.
    assert client.post("/api/v2/thing").json["error"] == "method not allowed"
    # v3 does not own its prefix; the parent owns the whole /api space.
    assert client.get("/api/v3/nope").json == {"error": "not found", "blueprint": "api"}
    assert [entry[0] for entry in site.owned_prefixes] == ["/api/v2", "/api"]


def test_an_owner_without_handlers_falls_back_to_the_app(site: kolben.Kolben, door: str) -> None:
    bare = Blueprint("bare", __name__, url_prefix="/bare", owns_prefix=True)
    site.register_blueprint(bare)
    assert client_for(site, door).get("/bare/x").text == "<h1>Page not found</h1>"


def test_generic_http_exception_handler_and_templates(app: kolben.Kolben, door: str) -> None:
    # (A handler for the code, even the app's, comes before one for a class, as in
    # Flask; this app has none.)
    docs = Blueprint("docs", __name__, url_prefix="/docs/", owns_prefix=True)

    @docs.route("/")
    def home() -> str:
        return "docs home"

    @docs.context_processor
    def section() -> dict[str, str]:
        return {"section": "Docs"}

    @docs.errorhandler(HTTPException)
    def docs_error(e: HTTPException) -> tuple[str, int]:
        page = render_template_string(
            "{{ section }}: {{ code }}, try <a href='{{ home }}'>home</a>",
            code=e.code,
            home=url_for(".home"),
        )
        return page, t.cast(int, e.code)

    app.register_blueprint(docs)
    client = client_for(app, door)
    response = client.get("/docs/missing/page")
    assert response.status_code == 404
    assert response.text == "Docs: 404, try <a href='/docs/'>home</a>"
    assert client.delete("/docs/").text.startswith("Docs: 405")


def test_redirects_are_not_errors(site: kolben.Kolben, door: str) -> None:
    site.register_blueprint(make_api(owns_prefix=True))
    response = client_for(site, door).get("/api/slash")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/api/slash/")


def test_async_handlers_under_both_doors(app: kolben.Kolben, door: str) -> None:
    api = Blueprint("api", __name__, url_prefix="/api", owns_prefix=True)

    @api.get("/ping")
    async def ping() -> str:
        return "pong"

    @api.errorhandler(404)
    async def not_found(e: NotFound) -> tuple[dict[str, str], int]:
        return {"error": "no such endpoint"}, 404

    app.register_blueprint(api)
    client = client_for(app, door)
    assert client.get("/api/ping").text == "pong"
    assert client.get("/api/pong").json == {"error": "no such endpoint"}


def test_subdomain_owner(door: str) -> None:
    app = kolben.Kolben("sub", subdomain_matching=True)
    app.config["SERVER_NAME"] = "example.test"
    api = make_api(owns_prefix=True, subdomain="api")
    app.register_blueprint(api)
    client = client_for(app, door)
    owned = client.get("/api/nope", base_url="http://api.example.test")
    assert owned.json == {"error": "not found", "blueprint": "api"}
    other = client.get("/api/nope", base_url="http://www.example.test")
    assert other.status_code == 404 and other.mimetype == "text/html"


def test_owning_needs_a_prefix_and_one_owner_per_prefix(app: kolben.Kolben) -> None:
    with pytest.raises(ValueError, match="without a URL prefix"):
        app.register_blueprint(Blueprint("a", __name__, owns_prefix=True))
    with pytest.raises(ValueError, match="without a URL prefix"):
        app.register_blueprint(Blueprint("b", __name__, url_prefix="/", owns_prefix=True))
    app.register_blueprint(Blueprint("c", __name__, url_prefix="/c", owns_prefix=True))
    with pytest.raises(ValueError, match="already owned by the blueprint 'c'"):
        app.register_blueprint(Blueprint("d", __name__, url_prefix="/c/", owns_prefix=True))
    with pytest.raises(ValueError, match="variable subdomain"):
        app.register_blueprint(
            Blueprint("e", __name__, url_prefix="/e", subdomain="<user>", owns_prefix=True)
        )
