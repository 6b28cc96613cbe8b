"""Path traversal through both front doors: the traversal payloads of
tests/test_send_file.py (which runs them under WSGI) against a
``send_from_directory`` route and the app's static route, under WSGI and ASGI.
Nothing outside the folder is served; every payload is a 404."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

import kolben
from kolben import send_from_directory
from test_send_file import SECRET, TRAVERSALS


@pytest.fixture
def app(tmp_path: Path) -> kolben.Kolben:
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "hello.txt").write_bytes(b"hello world\n")
    (public / "sub" / "inner.txt").write_bytes(b"inner\n")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    app = kolben.Kolben(
        "traversal_app", root_path=str(tmp_path), static_folder="public", static_url_path="/static"
    )
    app.config.update(TESTING=True)

    @app.route("/files/<path:name>")
    def files(name: str) -> kolben.Response:
        return send_from_directory("public", name)

    @app.route("/abs/<path:name>")
    def files_abs(name: str) -> kolben.Response:
        return send_from_directory(public, name)

    return app


def get(client: t.Any, url: str) -> tuple[int, bytes]:
    rv = client.get(url)
    try:
        return rv.status_code, rv.get_data()
    finally:
        rv.close()


def test_files_inside_are_served(client: t.Any) -> None:
    assert get(client, "/files/sub/inner.txt") == (200, b"inner\n")
    assert get(client, "/static/hello.txt") == (200, b"hello world\n")


@pytest.mark.parametrize("url", TRAVERSALS)
def test_traversal_is_not_found(client: t.Any, url: str) -> None:
    status, body = get(client, url)
    assert status == 404
    assert SECRET not in body


@pytest.mark.parametrize(
    "url", [u.replace("/files/", "/static/", 1) for u in TRAVERSALS if u.startswith("/files/")]
)
def test_static_route_traversal_is_not_found(client: t.Any, url: str) -> None:
    status, body = get(client, url)
    assert status == 404
    assert SECRET not in body
