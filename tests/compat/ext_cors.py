"""flask-cors on kolben: CORS headers for matching resources, preflight
requests answered through ``make_default_options_response``, the
``cross_origin`` decorator, blueprints, and error responses (flask-cors wraps
``app.handle_exception`` / ``handle_user_exception`` on the instance).

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import typing as t

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_cors import CORS, cross_origin

GOOD = "https://app.example"
BAD = "https://evil.example"


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True)
    CORS(
        app,
        resources={r"/api/*": {"origins": [GOOD]}},
        supports_credentials=True,
        expose_headers=["X-Total"],
        max_age=600,
    )

    @app.route("/api/items", methods=["GET", "POST"])
    def items() -> tuple[dict[str, t.Any], int, dict[str, str]]:
        return {"items": [1, 2]}, 200, {"X-Total": "2"}

    @app.get("/api/boom")
    def boom() -> str:
        raise ZeroDivisionError

    @app.get("/private")
    def private() -> str:
        return "no cors here"

    @app.route("/open", methods=["GET", "PUT"])
    @cross_origin(origins="*", send_wildcard=True, methods=["GET", "PUT"])
    def open_view() -> str:
        return "open"

    bp = flask.Blueprint("partner", __name__)
    CORS(bp, origins=["https://partner.example"])

    @bp.get("/feed")
    def feed() -> str:
        return "feed"

    app.register_blueprint(bp, url_prefix="/partner")
    return app


def test_allowed_origin(client: t.Any) -> None:
    response = client.get("/api/items", headers={"Origin": GOOD})
    assert response.json == {"items": [1, 2]}
    assert response.headers["Access-Control-Allow-Origin"] == GOOD
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Expose-Headers"] == "X-Total"


def test_other_origin_and_other_paths_get_nothing(client: t.Any) -> None:
    response = client.get("/api/items", headers={"Origin": BAD})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    response = client.get("/private", headers={"Origin": GOOD})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight(client: t.Any) -> None:
    response = client.options(
        "/api/items",
        headers={
            "Origin": GOOD,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == GOOD
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert set(response.allow) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_cross_origin_decorator(client: t.Any) -> None:
    response = client.get("/open", headers={"Origin": BAD})
    assert response.text == "open"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options(
        "/open", headers={"Origin": BAD, "Access-Control-Request-Method": "PUT"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert set(preflight.allow) == {"GET", "HEAD", "OPTIONS", "PUT"}
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]


def test_blueprint(client: t.Any) -> None:
    response = client.get("/partner/feed", headers={"Origin": "https://partner.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    response = client.get("/partner/feed", headers={"Origin": GOOD})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_error_responses_get_cors_headers(app: flask.Flask, client: t.Any) -> None:
    missing = client.get("/api/nothing", headers={"Origin": GOOD})
    assert missing.status_code == 404
    assert missing.headers["Access-Control-Allow-Origin"] == GOOD
    app.testing = False
    app.logger.disabled = True
    failed = client.get("/api/boom", headers={"Origin": GOOD})
    assert failed.status_code == 500
    assert failed.headers["Access-Control-Allow-Origin"] == GOOD
