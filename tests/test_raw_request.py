"""Raw requests ("disable parsing"): a Request subclass with
``want_form_data_parsed = False`` never parses the body, and ``request.stream``
gives the body as sent, under both front doors."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import sys
import typing as t
from pathlib import Path

import pytest

import kolben
from kolben import request
from serving import HOST, ServerProcess, answers, free_port, server_env


class RawRequest(kolben.Request):
    """Never parse form bodies: ``request.form`` and ``request.files`` stay empty."""

    want_form_data_parsed = False


class RawUploads(kolben.Request):
    """Parse forms except for the ``upload`` endpoint, which streams its body."""

    @property
    def want_form_data_parsed(self) -> bool:  # type: ignore[override]
        return self.endpoint != "upload" and super().want_form_data_parsed


MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="field"\r\n\r\n'
    b"value\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\n"
    b"file content\r\n"
    b"--XyZ--\r\n"
)


@pytest.fixture
def raw_app(app: kolben.Kolben) -> kolben.Kolben:
    app.request_class = RawRequest

    @app.post("/echo")
    def echo() -> t.Any:
        # Touching form and files first must not consume the stream.
        form, files = request.form.to_dict(), list(request.files)
        body = request.stream.read()
        return {"form": form, "files": files, "body": body.decode("latin-1")}

    @app.post("/digest")
    def digest() -> t.Any:
        h = hashlib.sha256()
        size = 0
        while chunk := request.stream.read(65536):
            h.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": h.hexdigest(), "form": len(request.form)}

    @app.post("/data")
    def data() -> t.Any:
        return {"data": request.get_data().decode("latin-1"), "form": request.form.to_dict()}

    return app


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"a=1&b=%20two", "application/x-www-form-urlencoded"),
        (MULTIPART, "multipart/form-data; boundary=XyZ"),
        (b'{"json": true}', "application/json"),
        (b"\x00\xff binary", "application/octet-stream"),
        (b"no content type", ""),
    ],
    ids=["urlencoded", "multipart", "json", "binary", "none"],
)
def test_body_is_never_parsed(
    raw_app: kolben.Kolben, client: t.Any, body: bytes, content_type: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    rv = client.post("/echo", data=body, headers=headers)
    assert rv.json == {"form": {}, "files": [], "body": body.decode("latin-1")}
    rv = client.post("/data", data=body, headers=headers)
    assert rv.json == {"data": body.decode("latin-1"), "form": {}}


def test_large_body_is_streamed(raw_app: kolben.Kolben, client: t.Any) -> None:
    # Past the ASGI door's spool threshold (1 MiB), in a body sent in pieces.
    body = bytes(range(256)) * (3 * 4096 + 7)
    rv = client.post(
        "/digest",
        input_stream=io.BytesIO(body),
        content_length=len(body),
        content_type="application/x-www-form-urlencoded",
    )
    assert rv.json == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest(), "form": 0}


def test_form_limits_do_not_apply_content_length_does(
    raw_app: kolben.Kolben, client: t.Any
) -> None:
    raw_app.config.update(MAX_FORM_MEMORY_SIZE=10, MAX_FORM_PARTS=1)
    body = b"a=" + b"x" * 5000 + b"&b=1&c=2"
    rv = client.post("/digest", data=body, content_type="application/x-www-form-urlencoded")
    assert rv.status_code == 200
    assert rv.json["size"] == len(body)
    rv = client.post("/digest", data=MULTIPART, content_type="multipart/form-data; boundary=XyZ")
    assert rv.json["size"] == len(MULTIPART)
    raw_app.config["MAX_CONTENT_LENGTH"] = 100
    rv = client.post("/digest", data=body, content_type="application/x-www-form-urlencoded")
    assert rv.status_code == 413


def test_parsing_disabled_for_one_endpoint(app: kolben.Kolben, client: t.Any) -> None:
    app.request_class = RawUploads

    @app.post("/upload")
    def upload() -> t.Any:
        return {"form": request.form.to_dict(), "body": request.stream.read().decode()}

    @app.post("/login")
    def login() -> t.Any:
        return {"form": request.form.to_dict(), "body": request.stream.read().decode()}

    body = "user=ann&password=secret"
    kind = "application/x-www-form-urlencoded"
    assert client.post("/upload", data=body, content_type=kind).json == {"form": {}, "body": body}
    assert client.post("/login", data=body, content_type=kind).json == {
        "form": {"user": "ann", "password": "secret"},
        "body": "",
    }
    rv = client.post("/upload", data=MULTIPART, content_type="multipart/form-data; boundary=XyZ")
    assert rv.json == {"form": {}, "body": MULTIPART.decode()}


def test_default_request_still_parses(app: kolben.Kolben, client: t.Any) -> None:
    @app.post("/")
    def index() -> t.Any:
        return {"form": request.form.to_dict(), "files": list(request.files)}

    rv = client.post("/", data=MULTIPART, content_type="multipart/form-data; boundary=XyZ")
    assert rv.json == {"form": {"field": "value"}, "files": ["file"]}


# -- real servers: a chunked upload (no Content-Length) read raw ----------------------

SERVED_APP = """
import hashlib

from kolben import Kolben, Request, request


class RawRequest(Request):
    want_form_data_parsed = False


app = Kolben(__name__)
app.request_class = RawRequest


@app.get("/ping")
def ping():
    return "pong"


@app.post("/digest")
def digest():
    h = hashlib.sha256()
    size = 0
    while chunk := request.stream.read(65536):
        h.update(chunk)
        size += len(chunk)
    return {"size": size, "sha256": h.hexdigest(), "form": len(request.form)}


@app.post("/limited")
def limited():
    request.max_content_length = 1000
    return {"size": len(request.get_data())}
"""


def _server_command(kind: str, port: int) -> list[str]:
    if kind == "uvicorn":
        return [
            *(sys.executable, "-m", "uvicorn", "raw_app:app", "--host", HOST),
            *("--port", str(port), "--log-level", "warning", "--no-access-log"),
        ]
    return [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"{HOST}:{port}", "raw_app:app"]


@contextlib.contextmanager
def served_raw_app(kind: str, tmp_path: Path) -> t.Iterator[int]:
    """``SERVED_APP`` under a real ``kind`` server on a free port (yielded)."""
    pytest.importorskip(kind)
    (tmp_path / "raw_app.py").write_text(SERVED_APP)
    port = free_port()
    with ServerProcess(
        _server_command(kind, port),
        name=kind,
        cwd=tmp_path,
        env=server_env(pythonpath=[tmp_path]),
        log_path=tmp_path / "server.log",
        ready=lambda: answers(port, "/ping", body=b"pong", timeout=2),
    ):
        yield port


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_chunked_upload_under_real_servers(kind: str, tmp_path: Path) -> None:
    with served_raw_app(kind, tmp_path) as port:
        pieces = [b"a=" + bytes([65 + i % 26]) * 70_000 + b"&" for i in range(20)]
        body = b"".join(pieces)
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        conn.request(
            "POST",
            "/digest",
            body=iter(pieces),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            encode_chunked=True,
        )
        rv = conn.getresponse()
        assert rv.status == 200
        assert json.loads(rv.read()) == {
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "form": 0,
        }
        conn.close()


@pytest.mark.parametrize("kind", ["uvicorn", "gunicorn"])
def test_chunked_upload_past_max_content_length_is_413_under_real_servers(
    kind: str, tmp_path: Path
) -> None:
    with served_raw_app(kind, tmp_path) as port:
        for pieces, status in (([b"x" * 400] * 2, 200), ([b"x" * 400] * 5, 413)):
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            conn.request("POST", "/limited", body=iter(pieces), encode_chunked=True)
            rv = conn.getresponse()
            body = rv.read()
            conn.close()
            assert rv.status == status, body
            if status == 200:
                assert json.loads(body) == {"size": 800}
