"""Jotter mounted under /jotter (APPLICATION_ROOT, so the test client sends
SCRIPT_NAME=/jotter as a proxy would): ``request.path`` includes the mount point
(see MountedRequest), URLs and redirects are built with it, routing ignores it.
"""

from __future__ import annotations

import pytest
from flask import Flask, request

from conftest import PASSWORD, csrf_token


@pytest.fixture
def app(app: Flask) -> Flask:
    app.config["APPLICATION_ROOT"] = "/jotter"
    return app


def test_request_path_includes_the_mount_point(app: Flask, client) -> None:
    with client:
        client.get("/health")
        assert request.script_root == ""
        assert request.path == "/jotter/health"
        assert request.url == "http://localhost/jotter/health"
        assert request.environ["SCRIPT_NAME"] == "/jotter"
        assert request.environ["PATH_INFO"] == "/health"
        assert request.url_rule is not None and request.url_rule.rule == "/health"
    assert "Nothing at /jotter/nowhere." in client.get("/nowhere").text


def test_login_flow_under_the_mount_point(client) -> None:
    response = client.get("/new")
    assert response.headers["Location"] == "/jotter/auth/login?next=%2Fjotter%2Fnew"
    page = client.get("/auth/login?next=%2Fjotter%2Fnew").text
    assert '<a href="/jotter/auth/login" aria-current="page">Log in</a>' in page
    data = {"username": "test", "password": PASSWORD, "csrf_token": csrf_token(page)}
    response = client.post("/auth/login?next=%2Fjotter%2Fnew", data=data)
    assert response.headers["Location"] == "/jotter/new"
    assert client.get_cookie("session", path="/jotter") is not None
    form = client.get("/new").text
    assert '<a href="/jotter/new" aria-current="page">New note</a>' in form
    assert '<li class="success">Welcome back, test!</li>' in form
    data = {"title": "Mounted", "csrf_token": csrf_token(form)}
    response = client.post("/new", data=data, follow_redirects=True)
    assert '<li class="success">Note saved.</li>' in response.text
    assert "<h2>Mounted</h2>" in response.text
