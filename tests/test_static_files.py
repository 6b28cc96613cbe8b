"""The static route and sending files: ``static_host`` with host matching, the
static route's answers and ``SEND_FILE_MAX_AGE_DEFAULT``, ``send_static_file``
without a static folder, ``send_file`` from a view."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest

import kolben
from helpers import write

# AssertionError, as Flask raises.
STATIC_HOST_ERROR = AssertionError


def test_static_host_needs_host_matching(tmp_path):
    with pytest.raises(STATIC_HOST_ERROR):
        kolben.Kolben("x", root_path=str(tmp_path), static_host="static.test")
    with pytest.raises(STATIC_HOST_ERROR):
        kolben.Kolben("x", root_path=str(tmp_path), host_matching=True)
    app = kolben.Kolben("x", root_path=str(tmp_path), host_matching=True, static_folder=None)
    assert app.url_map.host_matching
    assert not app.has_static_folder


def test_static_route_on_its_host(tmp_path, client_for):
    write(tmp_path / "static" / "a.txt", "static text")
    app = kolben.Kolben(
        "x", root_path=str(tmp_path), host_matching=True, static_host="static.test"
    )
    client = client_for(app)
    rv = client.get("/static/a.txt", base_url="http://static.test")
    assert rv.status_code == 200
    assert rv.data == b"static text"
    rv.close()
    assert client.get("/static/a.txt", base_url="http://other.test").status_code == 404


@pytest.fixture
def static_app(tmp_path):
    write(tmp_path / "static" / "a.txt", "hello static")
    write(tmp_path / "secret.txt", "secret")
    app = kolben.Kolben("static_app", root_path=str(tmp_path))
    app.testing = True
    return app


def get_static(client, path, **kwargs):
    rv = client.get(path, **kwargs)
    rv.get_data()  # read the file before closing it
    rv.close()
    return rv


def test_static_route_serves_files(static_app, client_for):
    client = client_for(static_app)
    rv = get_static(client, "/static/a.txt")
    assert rv.status_code == 200
    assert rv.data == b"hello static"
    assert rv.mimetype == "text/plain"
    assert rv.headers["Cache-Control"] == "no-cache"
    assert rv.headers["ETag"]
    again = get_static(client, "/static/a.txt", headers={"If-None-Match": rv.headers["ETag"]})
    assert again.status_code == 304
    assert get_static(client, "/static/missing.txt").status_code == 404
    assert get_static(client, "/static/../secret.txt").status_code == 404
    with static_app.test_request_context():
        assert kolben.url_for("static", filename="a.txt") == "/static/a.txt"


@pytest.mark.parametrize(
    ("value", "max_age"), [(60, 60), (timedelta(hours=1), 3600), (None, None)]
)
def test_static_files_max_age(static_app, value, max_age, client_for):
    static_app.config["SEND_FILE_MAX_AGE_DEFAULT"] = value
    with static_app.app_context():
        assert static_app.get_send_file_max_age("a.txt") == max_age
    rv = get_static(client_for(static_app), "/static/a.txt")
    if max_age is None:
        assert rv.headers["Cache-Control"] == "no-cache"
    else:
        assert rv.headers["Cache-Control"] == f"public, max-age={max_age}"


def test_send_static_file_without_static_folder(tmp_path):
    app = kolben.Kolben("x", root_path=str(tmp_path), static_folder=None)
    assert "static" not in app.view_functions
    with app.test_request_context(), pytest.raises(RuntimeError, match="static_folder"):
        app.send_static_file("a.txt")


def test_send_file_from_a_view(app, client):
    from kolben.helpers import send_file

    @app.route("/download")
    def download():
        return send_file(
            io.BytesIO(b"file body"), mimetype="text/plain", as_attachment=True,
            download_name="notes.txt",
        )

    rv = client.get("/download")
    assert rv.status_code == 200
    assert rv.data == b"file body"
    assert rv.mimetype == "text/plain"
    assert rv.headers["Content-Disposition"] == "attachment; filename=notes.txt"
    rv.close()
