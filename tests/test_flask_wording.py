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


def test_files_key_error_in_debug_mode_uses_flasks_words(
    client_for: t.Callable[..., t.Any],
) -> None:
    app = kolben.Kolben(__name__)
    app.debug = True

    @app.route("/fail", methods=["POST"])
    def fail() -> str:
        return kolben.request.files["foo"].filename  # type: ignore[return-value]

    with client_for(app) as client, pytest.raises(KeyError) as info:
        client.post("/fail", data={"foo": "index.txt"})
    text = str(info.value)
    assert "no file contents were transmitted" in text
    assert "This was submitted: 'index.txt'" in text


def test_session_transaction_without_a_session_uses_flasks_words(
    client_for: t.Callable[..., t.Any],
) -> None:
    app = kolben.Kolben(__name__)  # no secret key: a null session
    with pytest.raises(RuntimeError) as info, client_for(app).session_transaction():
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


# Flask 3.1.3's messages, word for word: kolben's begin with them (a test written
# for Flask that matches the whole sentence passes), and may add a hint after.
FLASK_NO_APP = (
    "Working outside of application context.\n\nThis typically means that you"
    " attempted to use functionality that needed\nthe current application. To solve"
    " this, set up an application context\nwith app.app_context(). See the"
    " documentation for more information."
)
FLASK_NO_REQUEST = (
    "Working outside of request context.\n\nThis typically means that you attempted"
    " to use functionality that needed\nan active HTTP request. Consult the"
    " documentation on testing for\ninformation about how to avoid this problem."
)


def test_working_outside_of_a_context_starts_with_flasks_words() -> None:
    with pytest.raises(RuntimeError) as info:
        kolben.current_app.name  # noqa: B018
    assert str(info.value).startswith(FLASK_NO_APP)
    with pytest.raises(RuntimeError) as info:
        kolben.request.args  # noqa: B018
    assert str(info.value).startswith(FLASK_NO_REQUEST)


def test_from_envvar_unset_starts_with_flasks_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KOLBEN_TEST_NO_SUCH_SETTINGS", raising=False)
    app = kolben.Kolben(__name__)
    with pytest.raises(RuntimeError) as info:
        app.config.from_envvar("KOLBEN_TEST_NO_SUCH_SETTINGS")
    assert str(info.value).startswith(
        "The environment variable 'KOLBEN_TEST_NO_SUCH_SETTINGS' is not set and as such"
        " configuration could not be loaded. Set this variable and make it point to a"
        " configuration file"
    )


def test_session_without_a_secret_key_starts_with_flasks_words(client_for: t.Any) -> None:
    app = kolben.Kolben(__name__)

    @app.route("/")
    def index() -> str:
        kolben.session["a"] = 1
        return "never"

    app.testing = True
    with pytest.raises(RuntimeError) as info:
        client_for(app).get("/")
    assert str(info.value).startswith(
        "The session is unavailable because no secret key was set.  Set the secret_key"
        " on the application to something unique and secret."
    )


def test_session_transaction_without_cookies_starts_with_flasks_words(
    client_for: t.Callable[..., t.Any],
) -> None:
    app = kolben.Kolben(__name__)
    app.secret_key = "k"
    client = client_for(app, use_cookies=False)
    with pytest.raises(TypeError) as info, client.session_transaction():
        pass
    assert str(info.value).startswith(
        "Cookies are disabled. Create a client with 'use_cookies=True'."
    )


def test_jsonify_outside_an_app_context_starts_with_flasks_words() -> None:
    """Flask's jsonify reaches current_app, whose error an extension's test looks for."""
    with pytest.raises(RuntimeError) as info:
        jsonify(a=1)
    assert str(info.value).startswith(FLASK_NO_APP)


def test_stream_with_context_outside_a_request_uses_flasks_words() -> None:
    with pytest.raises(RuntimeError) as info:
        kolben.stream_with_context(iter(()))
    assert str(info.value) == (
        "'stream_with_context' can only be used when a request context is active,"
        " such as in a view function."
    )


def test_builder_base_url_with_subdomain_uses_flasks_words() -> None:
    """Tests written for Flask match ``Cannot pass "subdomain" or "url_scheme"
    with "base_url".``; the error is an AssertionError as there."""
    app = kolben.Kolben(__name__)
    for extra in ({"subdomain": "api"}, {"url_scheme": "https"}):
        with pytest.raises(AssertionError) as info:
            app.test_request_context("/", base_url="http://example.com", **extra)
        assert str(info.value).startswith(
            'Cannot pass "subdomain" or "url_scheme" with "base_url".'
        )


def test_popping_the_wrong_context_uses_flasks_words() -> None:
    app = kolben.Kolben(__name__)
    outer, inner = app.test_request_context("/a"), app.test_request_context("/b")
    outer.push()
    inner.push()
    try:
        with pytest.raises(AssertionError) as info:
            outer.pop()
        assert str(info.value).startswith(f"Popped wrong request context. ({inner!r} instead of")
    finally:
        while kolben.globals._cv_request.get(None) is not None:
            kolben.globals._cv_request.get().pop()
        while kolben.globals._cv_app.get(None) is not None:
            kolben.globals._cv_app.get().pop()
    first, second = app.app_context(), app.app_context()
    first.push()
    second.push()
    try:
        with pytest.raises(AssertionError) as info:
            first.pop()
        assert str(info.value).startswith(f"Popped wrong app context. ({second!r} instead of")
    finally:
        while kolben.globals._cv_app.get(None) is not None:
            kolben.globals._cv_app.get().pop()


def test_send_static_file_without_a_static_folder_uses_flasks_words() -> None:
    app = kolben.Kolben(__name__, static_folder=None)
    bp = kolben.Blueprint("bp", __name__)
    with app.test_request_context():
        for scaffold in (app, bp):
            with pytest.raises(RuntimeError) as info:
                scaffold.send_static_file("x.txt")
            assert str(info.value) == "'static_folder' must be set to serve static_files."
