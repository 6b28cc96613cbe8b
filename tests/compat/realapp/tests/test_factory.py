from __future__ import annotations

import pytest
from flask import Flask
from jotter import create_app
from jotter.wrappers import MountedRequest


def test_config(tmp_path) -> None:
    assert not create_app(instance_path=str(tmp_path)).testing
    assert create_app({"TESTING": True}, instance_path=str(tmp_path)).testing


def test_instance_config_and_environment(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.py").write_text("NOTES_PER_PAGE = 5\nSECRET_KEY = 'from the file'\n")
    monkeypatch.setenv("FLASK_NOTES_PER_PAGE", "25")
    app = create_app(instance_path=str(tmp_path))
    assert app.config["SECRET_KEY"] == "from the file"
    assert app.config["NOTES_PER_PAGE"] == 25  # FLASK_* variables win, parsed as JSON


def test_health(client) -> None:
    assert client.get("/health").json == {"status": "ok"}


def test_request_class(app: Flask, client) -> None:
    assert app.request_class is MountedRequest
    with client:
        client.get("/health")
        from flask import request

        assert isinstance(request._get_current_object(), MountedRequest)
        assert request.path == "/health"


def test_index_is_the_notes_list(app: Flask, client) -> None:
    # "/" is the notes blueprint's view; "index" only names the URL.
    with app.test_request_context():
        from flask import url_for

        assert url_for("index") == url_for("notes.index") == "/"
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=%2F"
