"""Flask-Principal on kolben: the identity loaded on each request (from the
session, or from a custom loader reading a header), needs added by an
``identity_loaded`` receiver, permissions required by decorator (403) and by
context manager (``PermissionDenied`` handled by an error handler), ``can()`` in
a template, and logging out with ``AnonymousIdentity``.

Runs in its own interpreter under the compat layer (see test_extensions.py),
through both front doors.
"""

from __future__ import annotations

import asyncio
import typing as t

import compat_on  # noqa: F401 (turns the compat layer on)
import flask
import pytest
from flask_principal import (
    AnonymousIdentity,
    Identity,
    Permission,
    PermissionDenied,
    Principal,
    RoleNeed,
    UserNeed,
    identity_changed,
    identity_loaded,
)

ROLES = {"ada": {"admin", "editor"}, "grace": {"editor"}, "bob": set()}
TOKENS = {"t-grace": "grace"}

admin_permission = Permission(RoleNeed("admin"))
editor_permission = Permission(RoleNeed("editor"))


@pytest.fixture
def app() -> flask.Flask:
    app = flask.Flask(__name__)
    app.config.update(TESTING=True, SECRET_KEY="flask-principal on kolben")
    principal = Principal(app)
    app.extensions["loaded"] = []

    @principal.identity_loader
    def from_token() -> Identity | None:
        name = TOKENS.get(flask.request.headers.get("X-Token", ""))
        return None if name is None else Identity(name, "token")

    @identity_loaded.connect_via(app)
    def add_needs(sender: flask.Flask, identity: Identity) -> None:
        app.extensions["loaded"].append(identity.id)
        if identity.id is None:
            return
        identity.provides.add(UserNeed(identity.id))
        for role in ROLES.get(identity.id, ()):
            identity.provides.add(RoleNeed(role))

    @app.post("/login/<name>")
    def login(name: str) -> dict[str, t.Any]:
        identity_changed.send(flask.current_app._get_current_object(), identity=Identity(name))
        return {"identity": flask.g.identity.id}

    @app.post("/logout")
    def logout() -> str:
        for key in ("identity.id", "identity.auth_type"):
            flask.session.pop(key, None)
        identity_changed.send(flask.current_app._get_current_object(), identity=AnonymousIdentity())
        return "bye"

    @app.get("/whoami")
    def whoami() -> dict[str, t.Any]:
        identity = flask.g.identity
        return {"id": identity.id, "auth_type": identity.auth_type}

    @app.get("/admin")
    @admin_permission.require(http_exception=403)
    def admin() -> str:
        return "admin area"

    @app.get("/edit")
    async def edit() -> str:
        await asyncio.sleep(0)
        with editor_permission.require():
            return f"editing as {flask.g.identity.id}"

    @app.get("/own/<name>")
    def own(name: str) -> str:
        with Permission(UserNeed(name)).require(http_exception=403):
            return f"{name}'s page"

    @app.get("/menu")
    def menu() -> str:
        return flask.render_template_string(
            "{% if admin.can() %}[admin]{% endif %}{% if editor.can() %}[edit]{% endif %}",
            admin=admin_permission,
            editor=editor_permission,
        )

    @app.errorhandler(PermissionDenied)
    def denied(e: PermissionDenied) -> tuple[dict[str, str], int]:
        return {"denied": str(e.args[0])}, 403

    return app


def test_anonymous_by_default(app: flask.Flask, client: t.Any) -> None:
    assert client.get("/whoami").json == {"id": None, "auth_type": None}
    assert client.get("/admin").status_code == 403
    denied = client.get("/edit")
    assert denied.status_code == 403
    assert "RoleNeed" in denied.json["denied"] or "editor" in denied.json["denied"]
    assert client.get("/menu").text == ""


def test_identity_from_the_session_on_each_request(app: flask.Flask, client: t.Any) -> None:
    assert client.post("/login/ada").json == {"identity": "ada"}
    with client.session_transaction() as session:
        assert session["identity.id"] == "ada"
    app.extensions["loaded"].clear()
    assert client.get("/whoami").json == {"id": "ada", "auth_type": None}
    assert client.get("/admin").text == "admin area"
    assert client.get("/edit").text == "editing as ada"
    assert client.get("/menu").text == "[admin][edit]"
    # Loaded once per request, before the view.
    assert app.extensions["loaded"] == ["ada", "ada", "ada", "ada"]


def test_roles_decide(client: t.Any) -> None:
    client.post("/login/grace")
    assert client.get("/admin").status_code == 403
    assert client.get("/edit").text == "editing as grace"
    assert client.get("/menu").text == "[edit]"
    assert client.get("/own/grace").text == "grace's page"
    assert client.get("/own/ada").status_code == 403


def test_logout(client: t.Any) -> None:
    client.post("/login/ada")
    assert client.post("/logout").text == "bye"
    assert client.get("/whoami").json == {"id": None, "auth_type": None}
    assert client.get("/admin").status_code == 403


def test_custom_identity_loader(client: t.Any) -> None:
    assert client.get("/edit", headers={"X-Token": "wrong"}).status_code == 403
    headers = {"X-Token": "t-grace"}
    assert client.get("/whoami", headers=headers).json == {"id": "grace", "auth_type": "token"}
    assert client.get("/edit", headers=headers).text == "editing as grace"
    # The session saver kept it: the next request has it without the header.
    assert client.get("/whoami").json == {"id": "grace", "auth_type": "token"}


def test_permission_outside_a_request(app: flask.Flask) -> None:
    identity = Identity("x")
    identity.provides.add(RoleNeed("admin"))
    assert admin_permission.allows(identity)
    assert not editor_permission.allows(identity)
    assert (admin_permission | editor_permission).allows(identity)
    with app.test_request_context():
        app.preprocess_request()
        assert flask.g.identity.id is None
        assert not admin_permission.can()
