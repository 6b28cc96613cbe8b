"""What Flask's own test suites (Flask's and its extensions') look for: the words
of kolben's messages and reprs, and ``app.secret_key`` read as Flask reads it.

Phrases Flask's own test suite looks for in kolben's messages and reprs.

kolben's messages say more than Flask's, but code and tests written for Flask
look for Flask's words, so each message keeps them (checked against Flask 3.1's
``tests/``, run through the compat layer).
"""

from __future__ import annotations

import typing as t

import pytest
from tests.helpers import kolben_only

import kolben
from kolben import g, jsonify


def test_jsonify_with_args_and_kwargs_names_both() -> None:
    app = kolben.Kolben(__name__)
    with app.app_context(), pytest.raises(TypeError) as info:
        jsonify("fake args", kwargs="fake")
    assert "args or kwargs" in str(info.value)


def test_unbound_g_repr_is_a_local_proxys() -> None:
    assert repr(g) == "<LocalProxy unbound>"
    app = kolben.Kolben(__name__)
    with app.app_context():
        assert repr(g) == repr(kolben.globals._cv_app.get().g)


def test_files_key_error_in_debug_mode_uses_flasks_words() -> None:
    app = kolben.Kolben(__name__)
    app.debug = True

    @app.route("/fail", methods=["POST"])
    def fail() -> str:
        return kolben.request.files["foo"].filename  # type: ignore[return-value]

    with app.test_client() as client, pytest.raises(KeyError) as info:
        client.post("/fail", data={"foo": "index.txt"})
    text = str(info.value)
    assert "no file contents were transmitted" in text
    assert "This was submitted: 'index.txt'" in text


def test_session_transaction_without_a_session_uses_flasks_words() -> None:
    app = kolben.Kolben(__name__)  # no secret key: a null session
    with pytest.raises(RuntimeError) as info, app.test_client().session_transaction():
        pass
    assert "Session backend did not open a session" in str(info.value)


def assert_session_keeps_a_value(client: t.Any) -> None:
    """A value put in the session by one request is read back by the next."""
    app = client.application

    @app.route("/set")
    def set_value() -> str:
        kolben.session["x"] = 1
        return "ok"

    @app.route("/get")
    def get_value() -> str:
        return str(kolben.session.get("x"))

    assert client.get("/set").status_code == 200
    assert client.get("/get").text == "1"


def test_a_secret_key_set_as_a_class_attribute_signs_sessions_and_tokens(
    client_for: t.Any,
) -> None:
    """Flask reads ``app.secret_key``; a subclass may set it on the class (as
    Flask-WTF's tests do), leaving ``config["SECRET_KEY"]`` empty."""

    class App(kolben.Kolben):
        secret_key = "a class-level key"

    app = App(__name__)
    assert app.config["SECRET_KEY"] is None
    assert_session_keeps_a_value(client_for(app))


@kolben_only
def test_tokens_and_server_sessions_use_a_class_level_secret_key(client_for: t.Any) -> None:
    class App(kolben.Kolben):
        secret_key = "a class-level key"

    app = App(__name__)
    with app.app_context():
        token = app.tokens.dumps({"a": 1}, salt="test")
        assert app.tokens.loads(token, salt="test") == {"a": 1}
    app.config["SESSION_BACKEND"] = "memory"
    assert_session_keeps_a_value(client_for(app))
