"""Flask-WTF on kolben: a ``FlaskForm`` with CSRF, validation errors, a file
field, JSON bodies, and ``CSRFProtect`` for the whole app (header token,
exemptions, the ``CSRFError`` handler).

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import io
import re
import typing as t

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

PAGE = """<form method="post" enctype="multipart/form-data">
{{ form.hidden_tag() }}{{ form.title() }}{{ form.pages() }}{{ form.cover() }}
</form>
<meta name="csrf" content="{{ csrf_token() }}">
"""


class BookForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=20)])
    pages = IntegerField("Pages", validators=[NumberRange(min=1)])
    cover = FileField("Cover", validators=[FileRequired(), FileAllowed(["png", "jpg"])])


class NoteForm(FlaskForm):
    text = StringField("Text", validators=[DataRequired()])


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="flask-wtf on kolben")
    csrf = CSRFProtect(app)

    @app.route("/books", methods=["GET", "POST"])
    def books() -> t.Any:
        form = BookForm()
        if form.validate_on_submit():
            data = form.cover.data.read()
            return {
                "title": form.title.data,
                "pages": form.pages.data,
                "cover": [form.cover.data.filename, len(data)],
            }
        if form.is_submitted():
            return {"errors": form.errors}, 400
        return flask.render_template_string(PAGE, form=form)

    @app.post("/notes")
    def notes() -> t.Any:
        form = NoteForm()
        if form.validate():
            return {"text": form.text.data}
        return {"errors": form.errors}, 400

    @app.post("/api/ping")
    def ping() -> str:
        return "pong"

    @app.post("/hook")
    @csrf.exempt
    def hook() -> str:
        return "exempt"

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError) -> tuple[dict[str, str], int]:
        return {"csrf": e.description}, 400

    return app


def csrf_token_from(client: t.Any) -> str:
    page = client.get("/books")
    assert page.status_code == 200
    match = re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    assert match, page.text
    meta = re.search(r'<meta name="csrf" content="([^"]+)">', page.text)
    assert meta and meta.group(1) == match.group(1)  # one token per request
    return match.group(1)


def book(token: str | None, **fields: t.Any) -> dict[str, t.Any]:
    data: dict[str, t.Any] = {"title": "Kolben", "pages": "120"}
    data["cover"] = (io.BytesIO(b"\x89PNG fake"), "cover.png")
    if token is not None:
        data["csrf_token"] = token
    data.update(fields)
    return data


def test_valid_form_with_a_file(client: t.Any) -> None:
    token = csrf_token_from(client)
    response = client.post("/books", data=book(token))
    assert response.status_code == 200, response.text
    assert response.json == {"title": "Kolben", "pages": 120, "cover": ["cover.png", 9]}


def test_validation_errors(client: t.Any) -> None:
    token = csrf_token_from(client)
    bad = book(token, title="", pages="0", cover=(io.BytesIO(b"MZ"), "virus.exe"))
    response = client.post("/books", data=bad)
    assert response.status_code == 400
    errors = response.json["errors"]
    assert errors["title"] == ["This field is required."]
    assert errors["pages"] == ["Number must be at least 1."]
    assert errors["cover"] == ["File does not have an approved extension: png, jpg"]


def test_missing_file(client: t.Any) -> None:
    token = csrf_token_from(client)
    data = book(token)
    del data["cover"]
    response = client.post("/books", data=data)
    assert response.status_code == 400
    assert response.json["errors"] == {"cover": ["This field is required."]}


def test_missing_and_wrong_csrf_token(client: t.Any) -> None:
    csrf_token_from(client)  # the session has a token, the form does not send it
    response = client.post("/books", data=book(None))
    assert response.status_code == 400
    assert response.json == {"csrf": "The CSRF token is missing."}
    response = client.post("/books", data=book("not-a-token"))
    assert response.json == {"csrf": "The CSRF token is invalid."}


def test_token_from_another_session_is_refused(app: flask.Flask, client: t.Any) -> None:
    token = csrf_token_from(app.test_client())
    csrf_token_from(client)
    response = client.post("/books", data=book(token))
    assert response.status_code == 400
    assert response.json == {"csrf": "The CSRF tokens do not match."}


def test_header_token_and_json_body(client: t.Any) -> None:
    token = csrf_token_from(client)
    assert client.post("/api/ping").status_code == 400
    response = client.post("/api/ping", headers={"X-CSRFToken": token})
    assert response.text == "pong"
    response = client.post("/notes", json={"text": "hi"}, headers={"X-CSRFToken": token})
    assert response.json == {"text": "hi"}
    response = client.post("/notes", json={"text": ""}, headers={"X-CSRFToken": token})
    assert response.status_code == 400
    assert response.json == {"errors": {"text": ["This field is required."]}}


def test_exempt_view(client: t.Any) -> None:
    assert client.post("/hook").text == "exempt"


def test_csrf_disabled_in_config(app: flask.Flask, client: t.Any) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/notes", data={"text": "no token"}).json == {"text": "no token"}


def test_generate_csrf_in_a_request_context(app: flask.Flask) -> None:
    with app.test_request_context():
        token = generate_csrf()
        assert generate_csrf() == token
        assert "csrf_token" in flask.session
