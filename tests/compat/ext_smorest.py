"""flask-smorest on kolben (the API framework: marshmallow schemas, webargs
parsing, apispec documentation): ``Api(app)`` with a ``flask_smorest.Blueprint``
of ``MethodView`` resources (one ``async``), request parsing from the JSON body
and the query string (``@blp.arguments``), marshalling (``@blp.response``),
pagination with its ``X-Pagination`` header, ETags (304, 412, 428), its JSON
error responses (422 with the field errors, ``abort(404, message=...)``), the
OpenAPI document served at ``/openapi.json`` and printed by the ``flask openapi
print`` command through the test CLI runner.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import asyncio
import io
import json
import typing as t

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import marshmallow as ma
import pytest
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort
from flask_smorest.fields import Upload


class PetSchema(ma.Schema):
    id = ma.fields.Int(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))
    kind = ma.fields.String(load_default="cat", validate=ma.validate.OneOf(["cat", "dog"]))


class PetQuerySchema(ma.Schema):
    kind = ma.fields.String()


class PhotoSchema(ma.Schema):
    photo = Upload(required=True)


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(
        TESTING=True,
        API_TITLE="Pets",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.2",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="/static/swagger-ui/",
    )
    api = Api(app)
    blp = Blueprint("pets", __name__, url_prefix="/pets", description="Pets")
    pets: dict[int, dict[str, t.Any]] = {}

    @blp.route("/")
    class Pets(MethodView):
        @blp.arguments(PetQuerySchema, location="query")
        @blp.response(200, PetSchema(many=True))
        @blp.paginate()
        def get(self, args: dict[str, t.Any], pagination_parameters: t.Any) -> list[t.Any]:
            found = [p for p in pets.values() if args.get("kind") in (None, p["kind"])]
            pagination_parameters.item_count = len(found)
            first = pagination_parameters.first_item
            return found[first : first + pagination_parameters.page_size]

        @blp.arguments(PetSchema)
        @blp.response(201, PetSchema)
        async def post(self, data: dict[str, t.Any]) -> dict[str, t.Any]:
            await asyncio.sleep(0)
            pet = {"id": len(pets) + 1, **data}
            pets[pet["id"]] = pet
            return pet

    @blp.route("/<int:pet_id>")
    class PetById(MethodView):
        @blp.etag
        @blp.response(200, PetSchema)
        def get(self, pet_id: int) -> dict[str, t.Any]:
            return find(pet_id)

        @blp.etag
        @blp.arguments(PetSchema)
        @blp.response(200, PetSchema)
        def put(self, data: dict[str, t.Any], pet_id: int) -> dict[str, t.Any]:
            pet = find(pet_id)
            blp.check_etag(pet, PetSchema)
            pet.update(data)
            return pet

        @blp.response(204)
        def delete(self, pet_id: int) -> None:
            pets.pop(find(pet_id)["id"])

    @blp.route("/<int:pet_id>/photo", methods=["POST"])
    @blp.arguments(PhotoSchema, location="files")
    @blp.response(201)
    def photo(files: dict[str, t.Any], pet_id: int) -> dict[str, t.Any]:
        upload = files["photo"]
        return {"pet": find(pet_id)["name"], "file": upload.filename, "size": len(upload.read())}

    def find(pet_id: int) -> dict[str, t.Any]:
        if pet_id not in pets:
            abort(404, message=f"no pet {pet_id}")
        return pets[pet_id]

    api.register_blueprint(blp)
    return app


def add(client: t.Any, name: str, kind: str | None = None) -> dict[str, t.Any]:
    body = {"name": name} if kind is None else {"name": name, "kind": kind}
    response = client.post("/pets/", json=body)
    assert response.status_code == 201, response.text
    return t.cast(dict[str, t.Any], response.json)


def test_parsing_and_marshalling(client: t.Any) -> None:
    assert add(client, "Tom") == {"id": 1, "name": "Tom", "kind": "cat"}
    assert add(client, "Rex", "dog") == {"id": 2, "name": "Rex", "kind": "dog"}
    assert client.get("/pets/").json == [
        {"id": 1, "name": "Tom", "kind": "cat"},
        {"id": 2, "name": "Rex", "kind": "dog"},
    ]
    assert client.get("/pets/?kind=dog").json == [{"id": 2, "name": "Rex", "kind": "dog"}]
    assert client.get("/pets/1").json == {"id": 1, "name": "Tom", "kind": "cat"}
    assert client.delete("/pets/1").status_code == 204
    assert client.get("/pets/1").status_code == 404


def test_validation_error_response(client: t.Any) -> None:
    response = client.post("/pets/", json={"kind": "fish", "id": 7})
    assert response.status_code == 422
    assert response.json == {
        "code": 422,
        "status": "Unprocessable Entity",
        "errors": {
            "json": {
                "name": ["Missing data for required field."],
                "kind": ["Must be one of: cat, dog."],
                "id": ["Unknown field."],
            }
        },
    }
    bad_query = client.get("/pets/?page=0")
    assert bad_query.status_code == 422
    assert bad_query.json["errors"]["query"]["page"] == ["Must be greater than or equal to 1."]
    not_json = client.post("/pets/", data="name=Tom")
    assert not_json.status_code == 422


def test_abort_with_a_message(client: t.Any) -> None:
    response = client.get("/pets/42")
    assert response.status_code == 404
    assert response.json == {"code": 404, "status": "Not Found", "message": "no pet 42"}
    assert client.get("/nowhere").json == {"code": 404, "status": "Not Found"}


def test_pagination(client: t.Any) -> None:
    for i in range(5):
        add(client, f"pet{i}")
    response = client.get("/pets/?page=2&page_size=2")
    assert [p["name"] for p in response.json] == ["pet2", "pet3"]
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 5,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 2,
        "previous_page": 1,
        "next_page": 3,
    }


def test_etags(client: t.Any) -> None:
    add(client, "Tom")
    first = client.get("/pets/1")
    etag = first.headers["ETag"]
    assert client.get("/pets/1", headers={"If-None-Match": etag}).status_code == 304
    body = {"name": "Tom", "kind": "dog"}
    assert client.put("/pets/1", json=body).status_code == 428
    assert client.put("/pets/1", json=body, headers={"If-Match": '"nope"'}).status_code == 412
    updated = client.put("/pets/1", json=body, headers={"If-Match": etag})
    assert updated.json == {"id": 1, "name": "Tom", "kind": "dog"}
    assert updated.headers["ETag"] != etag


def test_openapi_document(client: t.Any) -> None:
    spec = client.get("/openapi.json").json
    assert spec["info"] == {"title": "Pets", "version": "v1"}
    assert set(spec["paths"]) == {"/pets/", "/pets/{pet_id}", "/pets/{pet_id}/photo"}
    assert set(spec["paths"]["/pets/"]) == {"get", "post"}
    assert "Pet" in spec["components"]["schemas"]
    post = spec["paths"]["/pets/"]["post"]
    assert set(post["responses"]) >= {"201", "422"}


def test_file_upload(client: t.Any) -> None:
    add(client, "Tom")
    data = {"photo": (io.BytesIO(b"\x89PNG tom"), "tom.png")}
    response = client.post("/pets/1/photo", data=data)
    assert response.status_code == 201
    assert response.json == {"pet": "Tom", "file": "tom.png", "size": 8}
    missing = client.post("/pets/1/photo", data={})
    assert missing.status_code == 422
    assert missing.json["errors"] == {"files": {"photo": ["Missing data for required field."]}}


def test_swagger_ui_page(client: t.Any) -> None:
    """Rendered from flask-smorest's own blueprint templates."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "<title>Pets</title>" in page.text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in page.text
    assert 'url: "/openapi.json"' in page.text


def test_openapi_print_command(app: flask.Flask) -> None:
    result = app.test_cli_runner().invoke(args=["openapi", "print"])
    assert result.exit_code == 0, result.output
    spec = json.loads(result.output)
    assert spec["info"]["title"] == "Pets"
    assert "/pets/{pet_id}" in spec["paths"]
