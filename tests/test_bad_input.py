"""Bad input never crashes the process and never leaks a traceback: 404, 405, 400,
415, 413 and 500 responses, through the test client and through the raw WSGI
callable, with the context stack empty afterwards and the next request served.

Flask 3.1's documented behaviour is the spec."""

from __future__ import annotations

import io

import pytest
from werkzeug.exceptions import BadRequest, UnsupportedMediaType
from werkzeug.test import EnvironBuilder

from kolben import request
from kolben.globals import _cv_app, _cv_request


@pytest.fixture
def app(app):
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False, MAX_CONTENT_LENGTH=50)

    @app.route("/ok")
    def ok():
        return "ok"

    @app.route("/items/<int:item_id>", methods=["GET", "POST"])
    def item(item_id):
        return f"item {item_id}"

    @app.post("/json")
    def json_view():
        return {"got": request.get_json()}

    @app.post("/json-silent")
    def json_silent():
        return {"got": request.get_json(silent=True)}

    @app.post("/form")
    def form():
        return dict(request.form)

    @app.post("/data")
    def data():
        return str(len(request.get_data()))

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail")

    @app.route("/none")
    def none():
        return None

    @app.route("/bad-header")
    def bad_header():
        return "x", {"X-Injected": "a\r\nSet-Cookie: evil=1"}

    return app


def contexts_empty() -> bool:
    return _cv_request.get(None) is None and _cv_app.get(None) is None


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SCENARIO_ARGS = ("method", "path", "kwargs", "status")
SCENARIOS = [
    pytest.param("GET", "/does-not-exist", {}, 404, id="unknown-url"),
    pytest.param("DELETE", "/items/1", {}, 405, id="wrong-method"),
    pytest.param("GET", "/items/abc", {}, 404, id="converter-mismatch"),
    pytest.param("POST", "/json", {"data": b'{"a": ', "content_type": JSON}, 400, id="bad-json"),
    pytest.param("POST", "/json", {"data": b"\xff\xfe", "content_type": JSON}, 400, id="non-utf8"),
    pytest.param("POST", "/json", {"data": b"", "content_type": JSON}, 400, id="empty-json"),
    pytest.param("POST", "/json", {"data": b"{}", "content_type": "text/plain"}, 415, id="type"),
    pytest.param("POST", "/json", {"data": b"{}"}, 415, id="no-content-type"),
    pytest.param(
        "POST", "/form", {"data": b"a=" + b"x" * 200, "content_type": FORM}, 413, id="big-form"
    ),
    pytest.param("POST", "/data", {"data": b"x" * 200}, 413, id="big-data"),
    pytest.param("GET", "/boom", {}, 500, id="view-raises"),
    pytest.param("GET", "/none", {}, 500, id="view-returns-none"),
    pytest.param("GET", "/bad-header", {}, 500, id="header-injection"),
]


@pytest.mark.parametrize(SCENARIO_ARGS, SCENARIOS)
def test_bad_input_through_client(app, client, method, path, kwargs, status):
    rv = client.open(path, method=method, **kwargs)
    assert rv.status_code == status
    assert b"Traceback" not in rv.data
    assert b"secret internal detail" not in rv.data
    assert contexts_empty()
    assert client.get("/ok").data == b"ok"
    assert contexts_empty()


def call_wsgi(app, environ):
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = headers

    iterable = app(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return captured["status"], captured["headers"], body


def build_environ(**kwargs):
    builder = EnvironBuilder(**kwargs)
    try:
        return builder.get_environ()
    finally:
        builder.close()


@pytest.mark.parametrize(SCENARIO_ARGS, SCENARIOS)
def test_bad_input_through_wsgi_callable(app, method, path, kwargs, status):
    environ = build_environ(path=path, method=method, **kwargs)
    status_line, _, body = call_wsgi(app, environ)
    assert int(status_line.split()[0]) == status
    assert b"Traceback" not in body
    assert b"secret internal detail" not in body
    assert contexts_empty()
    # the same app keeps serving
    status_line, _, body = call_wsgi(app, build_environ(path="/ok"))
    assert status_line.startswith("200")
    assert body == b"ok"
    assert contexts_empty()


def test_many_bad_requests_in_a_row(app, client):
    for _ in range(20):
        assert client.get("/boom").status_code == 500
        assert client.post("/json", data=b"{", content_type="application/json").status_code == 400
        assert contexts_empty()
    assert client.get("/ok").status_code == 200


# --- not found / method not allowed --------------------------------------------------------


def test_unknown_url_404(client):
    rv = client.get("/nothing/here")
    assert rv.status_code == 404
    assert rv.mimetype == "text/html"
    assert b"Not Found" in rv.data


def test_wrong_method_405_with_allow(client):
    rv = client.put("/items/1")
    assert rv.status_code == 405
    allow = {m.strip() for m in rv.headers["Allow"].split(",")}
    assert allow == {"GET", "HEAD", "POST", "OPTIONS"}


def test_wrong_method_405_through_wsgi(app):
    status, headers, _ = call_wsgi(app, build_environ(path="/ok", method="POST"))
    assert status.startswith("405")
    allow = dict(headers)["Allow"]
    assert {m.strip() for m in allow.split(",")} == {"GET", "HEAD", "OPTIONS"}


def test_converter_mismatch_404(client):
    assert client.get("/items/1.5").status_code == 404
    assert client.get("/items/").status_code == 404
    assert client.get("/items/12").data == b"item 12"


def test_undecodable_path_404(client):
    assert client.get("/%ff%fe").status_code == 404


def test_undecodable_query_does_not_crash(app, client):
    @app.route("/q")
    def q():
        return type(request.args["q"]).__name__

    rv = client.get("/q?q=%ff")
    assert rv.status_code == 200
    assert rv.data == b"str"


# --- JSON ----------------------------------------------------------------------------------


def test_valid_json(client):
    rv = client.post("/json", json={"a": [1, 2]})
    assert rv.status_code == 200
    assert rv.json == {"got": {"a": [1, 2]}}


def test_json_with_charset_and_vendor_type(client):
    rv = client.post("/json", data=b'{"a": 1}', content_type="application/json; charset=utf-8")
    assert rv.json == {"got": {"a": 1}}
    rv = client.post("/json", data=b'{"b": 2}', content_type="application/vnd.api+json")
    assert rv.json == {"got": {"b": 2}}


def test_malformed_json_400(client):
    rv = client.post("/json", data=b"{not json", content_type="application/json")
    assert rv.status_code == 400
    assert b"Traceback" not in rv.data


def test_wrong_content_type_415(client):
    rv = client.post("/json", data=b'{"a": 1}', content_type="text/plain")
    assert rv.status_code == 415


def test_request_json_property_wrong_content_type_415(app, client):
    @app.post("/json-prop")
    def json_prop():
        return {"got": request.json}

    assert client.post("/json-prop", data=b"{}", content_type="text/plain").status_code == 415
    assert client.post("/json-prop", json=[1]).json == {"got": [1]}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": b"{not json", "content_type": "application/json"},
        {"data": b'{"a": 1}', "content_type": "text/plain"},
        {"data": b""},
    ],
    ids=["malformed", "wrong-type", "no-body"],
)
def test_get_json_silent_returns_none(client, kwargs):
    rv = client.post("/json-silent", **kwargs)
    assert rv.status_code == 200
    assert rv.json == {"got": None}


def test_get_json_force_ignores_content_type(app, client):
    @app.post("/force")
    def force():
        return {"got": request.get_json(force=True)}

    rv = client.post("/force", data=b'{"x": 1}', content_type="text/plain")
    assert rv.json == {"got": {"x": 1}}


def test_malformed_json_in_request_context(app):
    with app.test_request_context("/", method="POST", data=b"[1,", content_type="application/json"):
        with pytest.raises(BadRequest) as info:
            request.get_json()
        assert info.value.code == 400
        assert request.get_json(silent=True) is None
    with app.test_request_context("/", method="POST", data=b"[1]"):
        with pytest.raises(UnsupportedMediaType):
            request.get_json()
        assert request.get_json(silent=True) is None


# --- size limits ---------------------------------------------------------------------------


def test_max_content_length_exceeded_413(client):
    rv = client.post("/data", data=b"x" * 51)
    assert rv.status_code == 413
    assert client.post("/data", data=b"x" * 50).data == b"50"


def test_max_content_length_form_413(client):
    rv = client.post("/form", data={"field": "y" * 100})
    assert rv.status_code == 413


def test_max_content_length_json_413(client):
    rv = client.post("/json", json={"field": "y" * 100})
    assert rv.status_code == 413


def test_request_max_content_length_reflects_config(app, client):
    @app.route("/limit")
    def limit():
        return repr(request.max_content_length)

    assert client.get("/limit").data == b"50"
    app.config["MAX_CONTENT_LENGTH"] = None
    assert client.get("/limit").data == b"None"


def test_request_max_content_length_per_request_override(app, client):
    @app.post("/upload")
    def upload():
        request.max_content_length = 1000
        return str(len(request.get_data()))

    rv = client.post("/upload", data=b"z" * 500)
    assert rv.status_code == 200
    assert rv.data == b"500"


def test_max_content_length_none_means_unlimited(app, client):
    app.config["MAX_CONTENT_LENGTH"] = None
    assert client.post("/data", data=b"x" * 10_000).data == b"10000"


def test_max_form_memory_size_413(app, client):
    app.config.update(MAX_CONTENT_LENGTH=None, MAX_FORM_MEMORY_SIZE=1000)
    small = client.post("/form", data={"a": "x"}, content_type="multipart/form-data")
    assert small.status_code == 200
    assert small.json == {"a": "x"}
    big = client.post("/form", data={"a": "x" * 5000}, content_type="multipart/form-data")
    assert big.status_code == 413


def test_max_form_parts_413(app, client):
    app.config.update(MAX_CONTENT_LENGTH=None, MAX_FORM_PARTS=3)
    data = {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
    rv = client.post("/form", data=data, content_type="multipart/form-data")
    assert rv.status_code == 413
    rv = client.post("/form", data={"a": "1"}, content_type="multipart/form-data")
    assert rv.json == {"a": "1"}


def test_request_max_form_limits_reflect_config(app, client):
    app.config.update(MAX_FORM_MEMORY_SIZE=123, MAX_FORM_PARTS=7)

    @app.route("/limits")
    def limits():
        return [request.max_form_memory_size, request.max_form_parts]

    assert client.get("/limits").json == [123, 7]


def test_garbage_multipart_does_not_crash(client):
    rv = client.post(
        "/form", data=b"--x\r\ngarbage", content_type="multipart/form-data; boundary=x"
    )
    assert rv.status_code == 200
    assert rv.json == {}


def test_multipart_without_boundary_does_not_crash(client):
    rv = client.post("/form", data=b"whatever", content_type="multipart/form-data")
    assert rv.status_code == 200
    assert rv.json == {}


def test_content_length_larger_than_body_400(app):
    environ = build_environ(path="/data", method="POST", data=b"hello")
    environ["CONTENT_LENGTH"] = "40"
    status, _, body = call_wsgi(app, environ)
    assert status.startswith("400")
    assert b"Traceback" not in body
    assert contexts_empty()


def body_of_unknown_length(path: str, data: bytes, content_type: str) -> dict:
    """The environ of a chunked upload as a server that ends the input stream
    (gunicorn, werkzeug's own) passes it: no ``CONTENT_LENGTH``,
    ``wsgi.input_terminated`` set."""
    environ = build_environ(path=path, method="POST", data=data, content_type=content_type)
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True
    return environ


@pytest.mark.parametrize(
    ("path", "data", "content_type"),
    [
        pytest.param("/data", b"x" * 51, "text/plain", id="data-one-byte-over"),
        pytest.param("/data", b"x" * 5000, "text/plain", id="data"),
        pytest.param("/json", b'{"a": "' + b"x" * 100 + b'"}', JSON, id="json"),
        pytest.param("/form", b"a=" + b"x" * 100, FORM, id="urlencoded-form"),
    ],
)
def test_body_of_unknown_length_past_limit_is_413_not_cut_short(app, path, data, content_type):
    # werkzeug's stream stops at MAX_CONTENT_LENGTH without looking further, so
    # Flask hands the view the first 50 bytes as if they were the whole body.
    environ = body_of_unknown_length(path, data, content_type)
    status, _, body = call_wsgi(app, environ)
    assert status.startswith("413"), body
    assert contexts_empty()


def test_stream_read_to_the_end_past_limit_is_413(app):
    @app.post("/stream")
    def stream():
        return str(len(request.stream.read()))

    status, _, _ = call_wsgi(app, body_of_unknown_length("/stream", b"x" * 80, "text/plain"))
    assert status.startswith("413")


@pytest.mark.parametrize("size", [0, 1, 49, 50])
def test_body_of_unknown_length_within_limit_is_read_whole(app, size):
    environ = body_of_unknown_length("/data", b"x" * size, "text/plain")
    status, _, body = call_wsgi(app, environ)
    assert status.startswith("200")
    assert body == str(size).encode()


def test_body_of_unknown_length_client_gone_keeps_what_was_read(app):
    class Vanishing(io.BytesIO):
        """A client that sent the limit's worth and then disconnected."""

        def read(self, size: int | None = -1) -> bytes:
            if self.tell() >= 50:
                raise OSError("connection reset")
            return super().read(size)

    environ = body_of_unknown_length("/data", b"", "text/plain")
    environ["wsgi.input"] = Vanishing(b"x" * 50)
    status, _, body = call_wsgi(app, environ)
    assert status.startswith("200")
    assert body == b"50"


@pytest.mark.parametrize("value", ["abc", "-5"])
def test_invalid_content_length_does_not_crash(app, value):
    environ = build_environ(path="/data", method="POST", data=b"hello")
    environ["CONTENT_LENGTH"] = value
    status, _, _ = call_wsgi(app, environ)
    assert status.startswith(("200", "400"))
    assert contexts_empty()


# --- 500s, hooks and hosts -----------------------------------------------------------------


def test_view_raising_500_no_traceback(client):
    rv = client.get("/boom")
    assert rv.status_code == 500
    assert b"Traceback" not in rv.data
    assert b"RuntimeError" not in rv.data
    assert b"secret internal detail" not in rv.data
    assert b"Internal Server Error" in rv.data


def test_before_request_raising_500(app, client):
    @app.before_request
    def broken():
        if request.path == "/ok":
            raise RuntimeError("secret internal detail")

    rv = client.get("/ok")
    assert rv.status_code == 500
    assert b"secret internal detail" not in rv.data
    assert contexts_empty()


def test_after_request_raising_500(app, client):
    @app.after_request
    def broken(response):
        raise RuntimeError("secret internal detail")

    rv = client.get("/ok")
    assert rv.status_code == 500
    assert b"secret internal detail" not in rv.data
    assert contexts_empty()


def test_untrusted_host_400(app, client):
    app.config["TRUSTED_HOSTS"] = ["good.test"]
    assert client.get("/ok", base_url="http://good.test/").status_code == 200
    rv = client.get("/ok", base_url="http://evil.test/")
    assert rv.status_code == 400
    assert contexts_empty()


def test_debug_mode_500_is_raised_not_rendered(app, client):
    # in debug mode the error propagates to the server (or debugger) instead of
    # being rendered by the app
    app.debug = True
    app.config["PROPAGATE_EXCEPTIONS"] = None
    with pytest.raises(RuntimeError):
        client.get("/boom")
    assert contexts_empty()


@pytest.mark.parametrize("path", ["/json", "/json-silent"])
def test_json_nested_too_deeply_is_bad_json(app, client, path):
    # A RecursionError in Flask (500, logged as a server error) from a few KB.
    app.config["MAX_CONTENT_LENGTH"] = None
    deep = b"[" * 50_000 + b"]" * 50_000
    rv = client.post(path, data=deep, content_type=JSON)
    if path == "/json":
        assert rv.status_code == 400
    else:
        assert rv.status_code == 200
        assert rv.json == {"got": None}
    assert client.post("/json", json={"a": [[1]]}).json == {"got": {"a": [[1]]}}


def test_malformed_json_detail_only_in_debug(app, client):
    rv = client.post("/json", data=b"{oops", content_type="application/json")
    assert rv.status_code == 400
    assert b"decode" not in rv.data.lower()
    app.debug = True
    rv = client.post("/json", data=b"{oops", content_type="application/json")
    assert rv.status_code == 400
    assert b"decode" in rv.data.lower()


def test_form_limits_per_request_override(app, client):
    app.config.update(MAX_CONTENT_LENGTH=None, MAX_FORM_MEMORY_SIZE=10, MAX_FORM_PARTS=1)

    @app.post("/roomy")
    def roomy():
        request.max_form_memory_size = 100_000
        request.max_form_parts = 100
        return [request.max_form_memory_size, request.max_form_parts, len(request.form)]

    data = {"a": "x" * 5000, "b": "y", "c": "z"}
    assert client.post("/form", data=data, content_type="multipart/form-data").status_code == 413
    rv = client.post("/roomy", data=data, content_type="multipart/form-data")
    assert rv.status_code == 200
    assert rv.json == [100_000, 100, 3]


def test_trusted_hosts_checked_on_every_request(app, client):
    app.config["TRUSTED_HOSTS"] = ["good.test"]
    for _ in range(3):
        assert client.get("/ok", base_url="http://good.test/").status_code == 200
        assert client.get("/ok", base_url="http://evil.test/").status_code == 400
    assert contexts_empty()


def test_trusted_hosts_set_after_requests(app, client):
    assert client.get("/ok", base_url="http://late.test/").status_code == 200
    app.config["TRUSTED_HOSTS"] = ["good.test"]
    assert client.get("/ok", base_url="http://late.test/").status_code == 400
    assert client.get("/ok", base_url="http://good.test/").status_code == 200
