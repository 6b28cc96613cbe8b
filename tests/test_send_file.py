"""send_file and send_from_directory: the app's defaults on top of werkzeug's, and
path traversal through a real route (Flask 3.1 behaviour)."""

from __future__ import annotations

import io
import os
import typing as t
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.wsgi import FileWrapper

import kolben
from kolben import send_file, send_from_directory
from kolben.testing import KolbenClient

SECRET = b"TOP SECRET"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An app folder: public/ with files to serve, secret.txt next to it."""
    public = tmp_path / "public"
    (public / "sub").mkdir(parents=True)
    (public / "hello.txt").write_bytes(b"hello world\n")
    (public / "sub" / "inner.txt").write_bytes(b"inner\n")
    (public / "page.html").write_bytes(b"<p>hi</p>")
    (public / "data.bin").write_bytes(bytes(range(256)))
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (public / "...").write_bytes(b"three dots")
    return tmp_path


@pytest.fixture
def app(root: Path) -> kolben.Kolben:
    app = kolben.Kolben("send_file_app", root_path=str(root))
    app.config.update(TESTING=True)

    @app.route("/files/<path:name>")
    def files(name: str) -> kolben.Response:
        return send_from_directory("public", name)

    @app.route("/abs/<path:name>")
    def files_abs(name: str) -> kolben.Response:
        return send_from_directory(root / "public", name, as_attachment=True)

    @app.route("/hello")
    def hello() -> kolben.Response:
        return send_file("public/hello.txt")

    return app


class BufferedClient(KolbenClient):
    """Reads each response fully and closes it, so no test leaves a file open
    (a 304, 416 or HEAD response holds the file until it is closed)."""

    def open(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
        kwargs["buffered"] = True
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app: kolben.Kolben, client_for: t.Callable[..., KolbenClient]) -> KolbenClient:
    """A buffered client, through the WSGI door or through the ASGI door."""
    app.test_client_class = BufferedClient
    return client_for(app)


# -- send_file -----------------------------------------------------------------------


def test_send_file_path(client: KolbenClient, root: Path) -> None:
    rv = client.get("/hello")
    assert rv.status_code == 200
    assert rv.data == b"hello world\n"
    assert rv.mimetype == "text/plain"
    assert rv.headers["Content-Disposition"] == "inline; filename=hello.txt"
    assert rv.headers["Content-Length"] == "12"
    assert rv.headers["Accept-Ranges"] == "bytes"
    assert rv.headers["ETag"]
    assert rv.last_modified is not None
    # SEND_FILE_MAX_AGE_DEFAULT is None by default: the client must revalidate.
    assert rv.headers["Cache-Control"] == "no-cache"
    rv.close()


def test_relative_path_is_relative_to_root_path(
    app: kolben.Kolben, client: KolbenClient, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root / "public" / "sub")
    rv = client.get("/hello")
    assert rv.data == b"hello world\n"
    rv.close()


def test_send_file_options(app: kolben.Kolben, root: Path) -> None:
    modified = datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with app.test_request_context():
        rv = send_file(
            root / "public" / "hello.txt",
            mimetype="application/x-custom",
            as_attachment=True,
            download_name="greeting ünï.txt",
            etag="my-etag",
            last_modified=modified,
            max_age=120,
        )
        assert isinstance(rv, kolben.Response)
        assert rv.mimetype == "application/x-custom"
        assert rv.headers["Content-Disposition"] == (
            'attachment; filename="greeting uni.txt";'
            " filename*=UTF-8''greeting%20%C3%BCn%C3%AF.txt"
        )
        assert rv.get_etag() == ("my-etag", False)
        assert rv.last_modified == modified
        assert rv.cache_control.max_age == 120
        assert rv.cache_control.public is True
        rv.close()
        rv = send_file(root / "public" / "hello.txt", etag=False)
        assert "ETag" not in rv.headers
        rv.close()


def test_send_file_object(app: kolben.Kolben) -> None:
    with app.test_request_context():
        rv = send_file(io.BytesIO(b"in memory"), mimetype="text/plain", download_name="m.txt")
        rv.direct_passthrough = False
        assert rv.get_data() == b"in memory"
        assert rv.headers["Content-Disposition"] == "inline; filename=m.txt"
        rv.close()
        rv = send_file(io.BytesIO(b"x"), download_name="report.csv", as_attachment=True)
        assert rv.mimetype == "text/csv"
        assert rv.headers["Content-Disposition"] == "attachment; filename=report.csv"
        rv.close()


def test_file_object_needs_a_type(app: kolben.Kolben) -> None:
    with app.test_request_context(), pytest.raises(TypeError, match="download_name"):
        send_file(io.BytesIO(b"x"))


def test_conditional_requests(client: KolbenClient) -> None:
    first = client.get("/hello")
    etag = first.headers["ETag"]
    first.close()
    rv = client.get("/hello", headers={"If-None-Match": etag})
    assert rv.status_code == 304
    assert rv.data == b""
    rv = client.get("/hello", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert rv.status_code == 304
    rv = client.get("/hello", headers={"Range": "bytes=0-4"})
    assert rv.status_code == 206
    assert rv.data == b"hello"
    assert rv.headers["Content-Range"] == "bytes 0-4/12"
    rv.close()
    rv = client.get("/hello", headers={"Range": "bytes=100-200"})
    assert rv.status_code == 416


@pytest.mark.parametrize(
    "headers",
    [{}, {"Range": "bytes=0-4"}, {"If-Modified-Since": "Sun, 01 Jan 2090 00:00:00 GMT"}],
    ids=["200", "206", "304"],
)
def test_date_header_is_left_to_an_asgi_server(
    app: kolben.Kolben, client: KolbenClient, door: str, headers: dict[str, str]
) -> None:
    # werkzeug adds Date for a WSGI server to keep or replace; an ASGI server
    # (uvicorn, granian) adds its own to every response, so a second one from the
    # app was sent twice (Quart sends none). A Date the app set is kept.
    @app.route("/dated")
    def dated() -> kolben.Response:
        rv = send_file("public/hello.txt")
        rv.headers["Date"] = "Mon, 02 Jan 2006 15:04:05 GMT"
        return rv

    rv = client.get("/hello", headers=headers)
    assert len(rv.headers.getlist("Date")) == (1 if door == "wsgi" else 0)
    rv = client.get("/dated", headers=headers)
    assert rv.headers.getlist("Date") == ["Mon, 02 Jan 2006 15:04:05 GMT"]
    rv.close()


def test_not_conditional(app: kolben.Kolben, root: Path) -> None:
    environ = {"HTTP_RANGE": "bytes=0-4"}
    with app.test_request_context(environ_overrides=environ):
        rv = send_file(root / "public" / "hello.txt", conditional=False)
        assert rv.status_code == 200
        rv.close()


def test_max_age_from_config(app: kolben.Kolben, client: KolbenClient) -> None:
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    rv = client.get("/hello")
    assert rv.cache_control.max_age == 3600
    assert rv.cache_control.public is True
    rv.close()
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = timedelta(minutes=5)
    rv = client.get("/hello")
    assert rv.cache_control.max_age == 300
    rv.close()


def test_get_send_file_max_age_override(
    root: Path, client_for: t.Callable[..., KolbenClient]
) -> None:
    class App(kolben.Kolben):
        def get_send_file_max_age(self, filename: str | None) -> int | None:
            return 10 if filename and filename.endswith(".txt") else 99

    app = App("override", root_path=str(root))

    @app.route("/f/<name>")
    def f(name: str) -> kolben.Response:
        return send_from_directory("public", name)

    client = client_for(app)
    rv = client.get("/f/hello.txt")
    assert rv.cache_control.max_age == 10
    rv.close()
    rv = client.get("/f/page.html")
    assert rv.cache_control.max_age == 99
    rv.close()


def test_use_x_sendfile(app: kolben.Kolben, client: KolbenClient, root: Path) -> None:
    app.config["USE_X_SENDFILE"] = True
    rv = client.get("/hello")
    assert rv.headers["X-Sendfile"] == str(root / "public" / "hello.txt")
    assert rv.data == b""
    assert rv.headers["Content-Length"] == "12"


def test_response_class_is_the_apps(root: Path) -> None:
    class MyResponse(kolben.Response):
        pass

    class App(kolben.Kolben):
        response_class = MyResponse

    app = App("custom", root_path=str(root))
    with app.test_request_context():
        rv = send_file("public/hello.txt")
        assert type(rv) is MyResponse
        rv.close()


def test_missing_file(app: kolben.Kolben) -> None:
    with app.test_request_context(), pytest.raises(FileNotFoundError):
        send_file("public/nope.txt")


def test_needs_a_request_context(app: kolben.Kolben) -> None:
    with pytest.raises(RuntimeError):
        send_file("public/hello.txt")
    with app.app_context(), pytest.raises(RuntimeError, match="outside of request context"):
        send_file("public/hello.txt")


def test_streams_through_wsgi_file_wrapper(app: kolben.Kolben, root: Path) -> None:
    wrapped: list[t.Any] = []

    def file_wrapper(f: t.Any, size: int = 8192) -> t.Any:
        wrapped.append(f)
        return FileWrapper(f, size)

    with app.test_request_context(environ_overrides={"wsgi.file_wrapper": file_wrapper}):
        rv = send_file("public/hello.txt")
        assert wrapped
        rv.close()


# -- send_from_directory -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/files/hello.txt", b"hello world\n"),
        ("/files/sub/inner.txt", b"inner\n"),
        ("/files/sub/../hello.txt", b"hello world\n"),
        ("/files/./hello.txt", b"hello world\n"),
        ("/files/...", b"three dots"),
        ("/files/hello%2Etxt", b"hello world\n"),
        ("/files/sub%2Finner.txt", b"inner\n"),
    ],
)
def test_serves_files_inside(client: KolbenClient, url: str, body: bytes) -> None:
    rv = client.get(url)
    assert rv.status_code == 200
    assert rv.data == body
    rv.close()


TRAVERSALS = [
    "/files/../secret.txt",
    "/files/..",
    "/files/../",
    "/files/%2e%2e/secret.txt",
    "/files/%2E%2E/secret.txt",
    "/files/%2e%2e%2fsecret.txt",
    "/files/%2E%2E%2Fsecret.txt",
    "/files/.%2e/secret.txt",
    "/files/sub/../../secret.txt",
    "/files/sub/%2e%2e/%2e%2e/secret.txt",
    "/files/sub/..%2f..%2fsecret.txt",
    "/files/..%5csecret.txt",
    "/files/..%5Csecret.txt",
    "/files/sub%5c..%5c..%5csecret.txt",
    "/files/..\\secret.txt",
    "/files/%252e%252e/secret.txt",
    "/files/%c0%ae%c0%ae/secret.txt",
    "/files/%e0%80%ae%e0%80%ae/secret.txt",
    "/files/%uff0e%uff0e/secret.txt",
    "/files/\uff0e\uff0e/secret.txt",
    "/files/C:/secret.txt",
    "/files/C:%5csecret.txt",
    "/files/c:secret.txt",
    "/files/%00",
    "/files/hello.txt%00.png",
    "/files/..%00/secret.txt",
    "/files/sub",
    "/files/.",
    "/files/nope.txt",
    "/abs/../secret.txt",
    "/abs/%2e%2e/secret.txt",
    "/abs/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_traversal_is_not_found(client: KolbenClient, url: str) -> None:
    rv = client.get(url)
    assert rv.status_code == 404
    assert SECRET not in rv.data


@pytest.mark.parametrize(
    "url",
    ["/files//secret.txt", "/files//etc/passwd", "/files/%2Fetc%2Fpasswd", "/files///secret.txt"],
)
def test_absolute_paths_are_not_served(client: KolbenClient, url: str) -> None:
    rv = client.get(url, follow_redirects=True)
    assert rv.status_code == 404
    assert SECRET not in rv.data
    assert b"root:" not in rv.data


@pytest.mark.parametrize(
    "name",
    [
        "../secret.txt",
        "..",
        "/etc/passwd",
        str(Path("/") / "etc" / "passwd"),
        "//etc/passwd",
        "sub/../../secret.txt",
        "..\\secret.txt",
        "hello.txt\x00",
        "\x00",
        "",
        "sub/",
        "C:\\secret.txt",
    ],
)
def test_traversal_names_raise_not_found(app: kolben.Kolben, name: str) -> None:
    with app.test_request_context(), pytest.raises(NotFound):
        send_from_directory("public", name)


def test_absolute_name_outside_directory(app: kolben.Kolben, root: Path) -> None:
    with app.test_request_context(), pytest.raises(NotFound):
        send_from_directory("public", str(root / "secret.txt"))


def test_directory_relative_to_root_path(
    app: kolben.Kolben, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root / "public" / "sub")
    with app.test_request_context():
        rv = send_from_directory("public", "hello.txt")
        assert rv.status_code == 200
        rv.close()
        rv = send_from_directory(os.fspath(root / "public"), Path("sub") / "inner.txt")
        assert rv.status_code == 200
        rv.close()


def test_send_from_directory_options(client: KolbenClient) -> None:
    rv = client.get("/abs/page.html")
    assert rv.status_code == 200
    assert rv.mimetype == "text/html"
    assert rv.headers["Content-Disposition"] == "attachment; filename=page.html"
    rv.close()


def test_binary_and_range(client: KolbenClient) -> None:
    rv = client.get("/files/data.bin")
    assert rv.data == bytes(range(256))
    assert rv.mimetype == "application/octet-stream"
    rv.close()
    rv = client.get("/files/data.bin", headers={"Range": "bytes=-2"})
    assert rv.status_code == 206
    assert rv.data == bytes([254, 255])
    rv.close()


def test_head_request(client: KolbenClient) -> None:
    rv = client.head("/files/hello.txt")
    assert rv.status_code == 200
    assert rv.data == b""
    assert rv.headers["Content-Length"] == "12"
