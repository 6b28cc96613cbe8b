"""``app.run``: the arguments it passes to werkzeug's ``run_simple`` (host and port
from ``SERVER_NAME``, debug, reloader and debugger, threading)."""

from __future__ import annotations

import os

import pytest
import werkzeug.routing
import werkzeug.serving


@pytest.fixture
def run_calls(monkeypatch):
    calls = []

    def fake_run_simple(hostname, port, application, **options):
        calls.append((hostname, port, application, options))

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_run_simple)
    monkeypatch.delenv("FLASK_RUN_FROM_CLI", raising=False)
    return calls


def test_run_defaults(app, run_calls):
    app.run()
    assert len(run_calls) == 1
    host, port, application, options = run_calls[0]
    assert (host, port) == ("127.0.0.1", 5000)
    assert application is app
    assert options == {"use_reloader": False, "use_debugger": False, "threaded": True}
    assert app.debug is False


def test_run_in_debug_mode(app, run_calls):
    app.run(host="0.0.0.0", port=8080, debug=True, threaded=False, use_reloader=False)
    host, port, _, options = run_calls[0]
    assert (host, port) == ("0.0.0.0", 8080)
    assert app.debug is True
    assert options == {"use_reloader": False, "use_debugger": True, "threaded": False}
    app.run(debug=False)
    assert app.debug is False
    assert run_calls[1][3] == {"use_reloader": False, "use_debugger": False, "threaded": True}


def test_run_with_debug_config(app, run_calls):
    app.debug = True
    app.run(port="5001")
    _, port, _, options = run_calls[0]
    assert port == 5001
    assert options["use_reloader"] is True
    assert options["use_debugger"] is True


def test_run_on_port_zero(app, run_calls):
    app.run(port=0)
    assert run_calls[0][1] == 0


def test_run_defaults_from_server_name(app, run_calls):
    app.config["SERVER_NAME"] = "example.test:8080"
    app.run()
    assert run_calls[0][:2] == ("example.test", 8080)


def test_run_accepts_load_dotenv(app, run_calls):
    app.run(load_dotenv=False)
    assert "load_dotenv" not in run_calls[0][3]


@pytest.mark.parametrize("variable", ["KOLBEN_RUN_FROM_CLI", "FLASK_RUN_FROM_CLI"])
def test_run_is_ignored_inside_a_cli_command(app, run_calls, monkeypatch, capsys, variable):
    """As Flask, app.run() called while a CLI command runs (FLASK_RUN_FROM_CLI,
    or kolben's own name of it) starts no second server."""
    monkeypatch.setenv(variable, "true")
    app.run()
    assert run_calls == []
    assert "Ignoring a call to 'app.run()'" in capsys.readouterr().out


def test_run_prints_the_server_banner(app, run_calls, capsys):
    """As Flask's ``app.run()``: which app is served and the debug mode, before
    the server starts."""
    app.run(debug=False)
    out = capsys.readouterr().out
    assert f" * Serving Kolben app '{app.name}'" in out
    assert " * Debug mode: off" in out


@pytest.mark.parametrize("port", [None, ""])
def test_run_with_a_false_port_takes_server_names_or_5000(app, run_calls, port):
    """As Flask: ``app.run(port=os.environ.get("PORT", ""))`` serves on 5000."""
    app.run(port=port)
    app.config["SERVER_NAME"] = "localhost:8123"
    app.run(port=port)
    app.run(port=0)
    assert [call[1] for call in run_calls] == [5000, 8123, 0]


def test_setup_is_open_again_after_run_returns(app, client, monkeypatch, run_calls):
    """As Flask: a development server started from an interactive shell may be
    stopped, the app changed and the server started again."""

    def serve_one_request(hostname, port, application, **options):
        application.test_client().get("/")

    monkeypatch.setattr(werkzeug.serving, "run_simple", serve_one_request)
    app.run()
    app.add_url_rule("/late", "late", lambda: "late")
    assert client.get("/late").text == "late"


def test_run_skips_dotenv_files_as_told(app, run_calls, monkeypatch, tmp_path):
    pytest.importorskip("dotenv")
    (tmp_path / ".env").write_text("KOLBEN_RUN_DOTENV_PROBE=1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if "DOTENV" not in k})
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")
    app.run()
    assert "KOLBEN_RUN_DOTENV_PROBE" not in os.environ
    monkeypatch.delenv("FLASK_SKIP_DOTENV")
    app.run(load_dotenv=False)
    assert "KOLBEN_RUN_DOTENV_PROBE" not in os.environ
    app.run()
    assert os.environ["KOLBEN_RUN_DOTENV_PROBE"] == "1"
