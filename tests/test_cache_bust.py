"""Static cache busting (STATIC_CACHE_BUST): url_for adds ?v=<content hash>, the
static route answers a matching v with an immutable year-long Cache-Control."""

from __future__ import annotations

import hashlib
import os
import typing as t
from pathlib import Path

import pytest

import kolben
from kolben import static as static_module
from kolben.caching import app_cache

CSS = b"body { color: teal }\n"
IMMUTABLE = {"public", "max-age=31536000", "immutable"}


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def get(client: t.Any, url: str, **kwargs: t.Any) -> t.Any:
    """GET ``url``, read the body and close the response (a file body stays open
    until closed)."""
    with client.get(url, **kwargs) as rv:
        rv.get_data()
    return rv


def directives(rv: t.Any) -> set[str]:
    return {d.strip() for d in rv.headers.get("Cache-Control", "").split(",") if d.strip()}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_bytes(CSS)
    (tmp_path / "static" / "img").mkdir()
    (tmp_path / "static" / "img" / "logo.svg").write_bytes(b"<svg/>")
    (tmp_path / "admin_static").mkdir()
    (tmp_path / "admin_static" / "admin.js").write_bytes(b"console.log('admin')")
    (tmp_path / "secret.txt").write_bytes(b"not static")
    return tmp_path


@pytest.fixture
def app(site: Path) -> kolben.Kolben:
    app = kolben.Kolben("cache_bust_app", root_path=str(site))
    app.config.update(TESTING=True, STATIC_CACHE_BUST=True, SEND_FILE_MAX_AGE_DEFAULT=60)

    @app.get("/url/<path:filename>")
    def url(filename: str) -> str:
        return kolben.url_for("static", filename=filename)

    return app


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files hashed, in order."""
    calls: list[str] = []
    real = static_module._hash_file

    def counting(path: str) -> str:
        calls.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(static_module, "_hash_file", counting)
    return calls


def test_url_for_adds_the_version(app: kolben.Kolben, client: t.Any, hashes: list[str]) -> None:
    expected = f"/static/app.css?v={version_of(CSS)}"
    for _ in range(3):
        assert get(client, "/url/app.css").text == expected
    logo = f"/static/img/logo.svg?v={version_of(b'<svg/>')}"
    assert get(client, "/url/img/logo.svg").text == logo
    assert hashes == ["app.css", "logo.svg"]  # once per file


def test_off_by_default(app: kolben.Kolben, client: t.Any, hashes: list[str]) -> None:
    app.config["STATIC_CACHE_BUST"] = False
    assert get(client, "/url/app.css").text == "/static/app.css"
    rv = get(client, f"/static/app.css?v={version_of(CSS)}")
    assert directives(rv) == {"public", "max-age=60"}
    assert hashes == []


def test_matching_version_is_immutable(app: kolben.Kolben, client: t.Any) -> None:
    url = get(client, "/url/app.css").text
    rv = get(client, url)
    assert rv.status_code == 200
    assert rv.data == CSS
    assert directives(rv) == IMMUTABLE
    # A conditional request for it is answered 304 with the same caching.
    again = get(client, url, headers={"If-None-Match": rv.headers["ETag"]})
    assert again.status_code == 304
    assert directives(again) == IMMUTABLE


@pytest.mark.parametrize("v", ["0123456789ab", "stale", version_of(CSS).upper(), ""])
def test_other_version_gets_the_default_max_age(app: kolben.Kolben, client: t.Any, v: str) -> None:
    rv = get(client, f"/static/app.css?v={v}")
    assert rv.status_code == 200
    assert rv.data == CSS
    assert directives(rv) == {"public", "max-age=60"}


def test_default_max_age_none(app: kolben.Kolben, client: t.Any) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = None
    assert directives(get(client, "/static/app.css?v=stale")) == {"no-cache"}
    assert directives(get(client, get(client, "/url/app.css").text)) == IMMUTABLE


def test_missing_file(app: kolben.Kolben, client: t.Any) -> None:
    assert get(client, "/url/missing.css").text == "/static/missing.css"
    assert get(client, "/static/missing.css?v=0123456789ab").status_code == 404
    assert get(client, f"/static/missing.css?v={version_of(b'')}").status_code == 404
    # A folder is not a file.
    assert get(client, "/url/img").text == "/static/img"
    assert get(client, "/static/img?v=x").status_code == 404


def test_names_leaving_the_folder_get_no_version(
    app: kolben.Kolben, client: t.Any, hashes: list[str]
) -> None:
    with app.test_request_context():
        assert "v=" not in kolben.url_for("static", filename="../secret.txt")
        assert "v=" not in kolben.url_for("static", filename="/etc/passwd")
        assert "v=" not in kolben.url_for("static", filename="a\x00b")
    assert hashes == []
    assert get(client, "/static/../secret.txt?v=x").status_code == 404


def test_given_v_is_kept(app: kolben.Kolben) -> None:
    with app.test_request_context():
        assert kolben.url_for("static", filename="app.css", v="mine") == "/static/app.css?v=mine"


def test_outside_a_request_and_in_templates(app: kolben.Kolben) -> None:
    app.config["SERVER_NAME"] = "example.org"
    v = version_of(CSS)
    with app.app_context():
        assert kolben.url_for("static", filename="app.css") == (
            f"http://example.org/static/app.css?v={v}"
        )
    with app.test_request_context():
        html = kolben.render_template_string(
            "<link href=\"{{ url_for('static', filename='app.css') }}\">"
        )
    assert html == f'<link href="/static/app.css?v={v}">'


def test_blueprint_static(app: kolben.Kolben, client: t.Any) -> None:
    admin = kolben.Blueprint("admin", __name__, static_folder="admin_static", url_prefix="/admin")
    admin.root_path = app.root_path
    parent = kolben.Blueprint("parent", __name__, url_prefix="/parent")
    child = kolben.Blueprint("child", __name__, static_folder="admin_static")
    child.root_path = app.root_path
    parent.register_blueprint(child, url_prefix="/child")
    app.register_blueprint(admin)
    app.register_blueprint(admin, name="admin2", url_prefix="/admin2")
    app.register_blueprint(parent)
    js = b"console.log('admin')"
    v = version_of(js)
    with app.test_request_context():
        urls = [
            kolben.url_for("admin.static", filename="admin.js"),
            kolben.url_for("admin2.static", filename="admin.js"),
            kolben.url_for("parent.child.static", filename="admin.js"),
        ]
        # The app's static files are not the blueprint's.
        assert "v=" not in kolben.url_for("admin.static", filename="app.css")
    assert urls == [
        f"/admin/admin_static/admin.js?v={v}",
        f"/admin2/admin_static/admin.js?v={v}",
        f"/parent/child/admin_static/admin.js?v={v}",
    ]
    for url in urls:
        rv = get(client, url)
        assert (rv.status_code, rv.data) == (200, js)
        assert directives(rv) == IMMUTABLE
    assert directives(get(client, "/admin/admin_static/admin.js?v=old")) == {
        "public",
        "max-age=60",
    }


def _rewrite(path: Path, data: bytes, mtime_ns: int) -> None:
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_changed_file_keeps_its_version_outside_debug(
    app: kolben.Kolben, client: t.Any, site: Path, hashes: list[str]
) -> None:
    old = get(client, "/url/app.css").text
    css = site / "static" / "app.css"
    _rewrite(css, b"body { color: red }\n", css.stat().st_mtime_ns + 10**9)
    assert get(client, "/url/app.css").text == old  # hashed once, until a restart
    assert hashes == ["app.css"]


def test_changed_file_is_hashed_again_in_debug(
    app: kolben.Kolben, client: t.Any, site: Path, hashes: list[str]
) -> None:
    app.debug = True
    old = get(client, "/url/app.css").text
    assert get(client, "/url/app.css").text == old
    assert hashes == ["app.css"]  # unchanged mtime: not hashed again
    css = site / "static" / "app.css"
    new_css = b"body { color: red }\n"
    _rewrite(css, new_css, css.stat().st_mtime_ns + 10**9)
    new = get(client, "/url/app.css").text
    assert new == f"/static/app.css?v={version_of(new_css)}"
    assert hashes == ["app.css", "app.css"]
    assert directives(get(client, new)) == IMMUTABLE
    assert directives(get(client, old)) == {"public", "max-age=60"}
    assert get(client, old).data == new_css  # a stale v still gets the file


def test_one_cache_entry_per_file(app: kolben.Kolben, client: t.Any, hashes: list[str]) -> None:
    """Spellings of one name share its entry: requests can't grow the cache."""
    v = version_of(CSS)
    for spelling in ("app.css", "./app.css", "img/../app.css", ".//app.css"):
        with app.test_request_context():
            assert kolben.url_for("static", filename=spelling).endswith(f"?v={v}")
    for n in range(20):
        get(client, f"/static/{'./' * n}app.css?v={v}")
    assert hashes == ["app.css"]
    assert len(app_cache(app, static_module._VERSIONS, 0)) == 1
