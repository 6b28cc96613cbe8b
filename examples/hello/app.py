"""The demo application served by ``bash scripts/demo``: a few pages, a JSON API,
hooks and a friendly 404 page, written with kolben's Flask-style API."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from markupsafe import escape

from kolben import Kolben, Response, abort, g, jsonify, request, url_for

app = Kolben(__name__)

USERS = {1: {"id": 1, "name": "Ada"}, 2: {"id": 2, "name": "Grace"}}


@app.before_request
def start_timer() -> None:
    g.started = time.perf_counter()


@app.after_request
def add_response_time(response: Response) -> Response:
    if "started" in g:
        elapsed_ms = (time.perf_counter() - g.started) * 1000
        response.headers["X-Response-Time"] = f"{elapsed_ms:.3f}ms"
    return response


@app.route("/")
def index() -> str:
    links = [
        url_for("hello", name="World"),
        url_for("hello", name="kolben", greeting="Hi"),
        url_for("current_time"),
        url_for("user", user_id=1),
        "/no/such/page",
    ]
    items = "".join(f'<li><a href="{escape(link)}">{escape(link)}</a></li>' for link in links)
    return f"<h1>kolben demo</h1><ul>{items}</ul>"


@app.route("/hello/<name>")
def hello(name: str) -> str:
    greeting = request.args.get("greeting", "Hello")
    return f"<p>{escape(greeting)}, {escape(name)}!</p>"


@app.get("/api/time")
def current_time() -> dict[str, object]:
    now = datetime.now(timezone.utc)
    return {"utc": now.isoformat(), "timestamp": now.timestamp()}


@app.get("/api/users/<int:user_id>")
def user(user_id: int) -> Response:
    if user_id not in USERS:
        abort(404)
    return jsonify(USERS[user_id])


@app.errorhandler(404)
def page_not_found(error: Exception) -> tuple[str, int]:
    page = f"<h1>Not found</h1><p>There is nothing at {escape(request.path)}.</p>"
    return f'{page}<p><a href="{url_for("index")}">Back to the start page</a></p>', 404
