"""How long static files may be cached: the app's setting, and a blueprint's own."""

from __future__ import annotations

import os
from datetime import timedelta

import kolben
from kolben.testing import KolbenClient

FIXTURES = os.path.join(os.path.dirname(__file__), "bp_fixtures")


def _max_age(response: kolben.Response) -> int | None:
    return response.cache_control.max_age


def test_app_static_uses_send_file_max_age_default(
    app: kolben.Kolben, client: KolbenClient
) -> None:
    app.static_folder = os.path.join(FIXTURES, "static")
    with client.get("/static/style.css") as rv:
        assert rv.status_code == 200
        assert _max_age(rv) is None
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(hours=1)
    with client.get("/static/style.css") as rv:
        assert _max_age(rv) == 3600


def test_blueprint_static_asks_the_blueprint(app: kolben.Kolben, client: KolbenClient) -> None:
    class ShortLived(kolben.Blueprint):
        def get_send_file_max_age(self, filename: str | None) -> int | None:
            return 7 if filename and filename.endswith(".css") else 3

    bp = ShortLived(
        "assets", __name__, static_folder=os.path.join(FIXTURES, "static"), url_prefix="/a"
    )
    app.register_blueprint(bp)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 100
    with client.get("/a/static/style.css") as rv:
        assert rv.status_code == 200
        assert _max_age(rv) == 7
    with client.get("/a/static/sub/app.js") as rv:
        assert rv.status_code == 200
        assert _max_age(rv) == 3


def test_blueprint_default_follows_the_config(app: kolben.Kolben, client: KolbenClient) -> None:
    bp = kolben.Blueprint(
        "assets", __name__, static_folder=os.path.join(FIXTURES, "static"), url_prefix="/a"
    )
    app.register_blueprint(bp)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 42
    with client.get("/a/static/style.css") as rv:
        assert _max_age(rv) == 42
