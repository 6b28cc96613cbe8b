"""Behaviours where kolben follows Flask 3.1.3 (and a few where it goes further):
debug helpers, the template-loading report, the test clients' kept contexts,
form limits, ``g``'s repr and the command line's names and errors."""

from __future__ import annotations

import io
import logging
import os
import ssl
import sys
import types

import click
import jinja2
import pytest

import kolben
import kolben.cli
import kolben.compat
from kolben import Blueprint, render_template, request, session
from kolben.cli import CertParamType, NoAppException, find_app_by_string, find_best_app
from kolben.debughelpers import DebugFilesKeyError
from kolben.testing import NestedClientError

HERE = os.path.dirname(__file__)


# --- DebugFilesKeyError ----------------------------------------------------------------------


def _file_view(app: kolben.Kolben) -> None:
    @app.route("/upload", methods=["POST"])
    def upload() -> str:
        return request.files["doc"].filename or ""


def test_files_key_sent_as_form_field_explains_enctype_in_debug(app, client):
    app.debug = True
    _file_view(app)
    with pytest.raises(DebugFilesKeyError) as info:
        client.post("/upload", data={"doc": "report.pdf"})
    error = info.value
    assert isinstance(error, KeyError)
    assert isinstance(error, AssertionError)
    message = str(error)
    assert "'doc'" in message
    assert "'application/x-www-form-urlencoded'" in message
    assert 'enctype="multipart/form-data"' in message
    assert "'report.pdf'" in message


def test_files_key_error_is_plain_outside_debug_or_when_not_in_form(app, client):
    _file_view(app)
    # Not in debug mode: the usual 400 (werkzeug's BadRequestKeyError).
    assert client.post("/upload", data={"doc": "report.pdf"}).status_code == 400
    # In debug mode, a key that is not a form field either is a plain KeyError.
    app.debug = True
    with pytest.raises(KeyError) as info:
        client.post("/upload", data={"other": "x"})
    assert not isinstance(info.value, DebugFilesKeyError)


def test_files_lookup_works_for_multipart_in_debug(app, client):
    app.debug = True
    _file_view(app)
    response = client.post("/upload", data={"doc": (io.BytesIO(b"%PDF"), "report.pdf")})
    assert response.data == b"report.pdf"


def test_debug_files_class_keeps_its_name_and_behaviour(app):
    app.debug = True
    with app.test_request_context(method="POST", data={"doc": "x"}):
        files = request.files
        assert type(files).__name__ == "ImmutableMultiDict"
        assert files.get("doc") is None
        assert "doc" not in files


# --- the template-loading report ---------------------------------------------------------------


def _explained(caplog: pytest.LogCaptureFixture, app: kolben.Kolben) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == app.logger.name)


def test_template_not_found_in_blueprint_points_to_the_docs(app, client, caplog):
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    bp = Blueprint("shop", __name__, template_folder="templates/blueprint")

    @bp.route("/missing")
    def missing() -> str:
        return render_template("missing.html")

    app.register_blueprint(bp)
    with (
        caplog.at_level(logging.INFO, logger=app.logger.name),
        pytest.raises(jinja2.TemplateNotFound),
    ):
        client.get("/missing")
    message = _explained(caplog, app)
    assert "belongs to the blueprint 'shop'" in message
    assert "Maybe you did not place a template in the right folder?" in message
    assert "See 'Templates and static files' in the blueprints guide" in message
    assert "docs/blueprints.md" in message


def test_multiple_matches_from_a_blueprint_view_give_the_hint(app, client, caplog):
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    bp = Blueprint("shop", __name__, template_folder="templates/blueprint")

    @bp.route("/shadowed")
    def shadowed() -> str:
        return render_template("shadowed.html")

    app.register_blueprint(bp)
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        assert client.get("/shadowed").data.strip() == b"from the app"
    message = _explained(caplog, app)
    assert "Warning: multiple loaders returned a match" in message
    assert "blueprints guide" in message


def test_no_blueprint_hint_outside_a_blueprint(app, caplog):
    app.config["EXPLAIN_TEMPLATE_LOADING"] = True
    with (
        caplog.at_level(logging.INFO, logger=app.logger.name),
        app.test_request_context(),
        pytest.raises(jinja2.TemplateNotFound),
    ):
        render_template("missing.html")
    message = _explained(caplog, app)
    assert "Error: the template could not be found." in message
    assert "blueprints guide" not in message


# --- with client: and follow_redirects ---------------------------------------------------------


def _redirecting(app: kolben.Kolben) -> None:
    @app.route("/first")
    def first() -> object:
        session["step"] = "first"
        return kolben.redirect("/second?x=2")

    @app.route("/second")
    def second() -> str:
        session["step"] = "second"
        kolben.g.view = "second"
        return "done"


def test_follow_redirects_keeps_the_last_requests_context(app, client):
    _redirecting(app)
    with client:
        response = client.get("/first", follow_redirects=True)
        assert response.data == b"done"
        assert request.path == "/second"
        assert request.args["x"] == "2"
        assert session["step"] == "second"
        assert kolben.g.view == "second"
    assert not kolben.has_request_context()
    assert not kolben.has_app_context()


def test_builder_passed_to_open_is_not_changed(app, client):
    from kolben.testing import EnvironBuilder

    @app.route("/")
    def index() -> str:
        return "x"

    builder = EnvironBuilder(app, "/")
    before = dict(builder.environ_base or {})
    with client:
        client.open(builder)
    assert dict(builder.environ_base or {}) == before


def test_an_error_inside_with_client_keeps_no_context(app, client):
    calls: list[str] = []

    @app.route("/boom")
    def boom() -> str:
        raise ZeroDivisionError

    @app.route("/ok")
    def ok() -> str:
        return "ok"

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        calls.append(request.path)

    with client:
        with pytest.raises(ZeroDivisionError):
            client.get("/boom")
        client.get("/ok")
        assert request.path == "/ok"
    # Teardown runs when the app ends a request, and again when 'with client:'
    # pops a context it kept (as in Flask); the failed request's context is not
    # kept, so its teardown does not run a second time.
    assert calls == ["/boom", "/ok", "/ok"]


# --- two clients' with blocks ------------------------------------------------------------------


def _paths(app: kolben.Kolben) -> None:
    @app.route("/<name>")
    def page(name: str) -> str:
        return name


def test_nesting_the_same_client_is_refused(app, client):
    with client, pytest.raises(RuntimeError, match="Cannot nest client invocations"):
        client.__enter__()


def test_nested_blocks_of_two_clients_work(app, client_for):
    _paths(app)
    outer, inner = client_for(app), client_for(app)
    with outer:
        outer.get("/a")
        with inner:
            inner.get("/b")
            assert request.path == "/b"
        assert request.path == "/a"
    assert not kolben.has_request_context()


def test_overlapping_blocks_of_two_clients_raise_a_clear_error(app, client_for):
    _paths(app)
    first, second = client_for(app), client_for(app)
    first.__enter__()
    first.get("/a")
    second.__enter__()
    second.get("/b")
    with pytest.raises(NestedClientError, match="Cannot nest client invocations") as info:
        first.__exit__(None, None, None)
    assert isinstance(info.value, RuntimeError)
    # Nothing was popped: the blocks can still end in the right order.
    assert request.path == "/b"
    second.__exit__(None, None, None)
    assert request.path == "/a"
    first.__exit__(None, None, None)
    assert not kolben.has_request_context()


def test_request_from_outer_client_inside_inner_block_raises(app, client_for):
    _paths(app)
    outer, inner = client_for(app), client_for(app)
    with outer:
        outer.get("/a")
        with inner:
            inner.get("/b")
            with pytest.raises(NestedClientError, match="Another client's 'with' block"):
                outer.get("/c")
            assert request.path == "/b"
        assert request.path == "/a"
    assert not kolben.has_request_context()


# --- full URL with form data -------------------------------------------------------------------


def test_full_url_with_form_data_is_readable_after_the_request(app, client):
    @app.route("/action", methods=["POST"])
    def action() -> str:
        return "x"  # reads neither the form nor the args

    with client:
        response = client.post("http://domain.com/action?vodka=42", data={"gin": 43})
        assert response.status_code == 200
        assert request.form["gin"] == "43"
        assert request.args["vodka"] == "42"
        assert request.host == "domain.com"


def test_body_is_readable_after_the_request(app, client):
    @app.route("/raw", methods=["POST"])
    def raw() -> str:
        return "x"

    with client:
        client.post("/raw", data=b"payload", content_type="application/octet-stream")
        assert request.get_data() == b"payload"


# --- MAX_FORM_PARTS applies to multipart forms only, as in Flask -------------------------------


def _form_size_view(app: kolben.Kolben) -> None:
    @app.route("/form", methods=["POST"])
    def form() -> str:
        return str(len(request.form))


def _urlencoded(fields: int) -> bytes:
    return "&".join(f"f{i}={i}" for i in range(fields)).encode()


def _post(client: kolben.testing.KolbenClient, body: bytes) -> object:
    return client.post("/form", data=body, content_type="application/x-www-form-urlencoded")


def test_max_form_parts_does_not_limit_urlencoded_forms(app, client):
    """werkzeug (so Flask) applies MAX_FORM_PARTS to multipart forms only: a
    urlencoded form is bounded by MAX_CONTENT_LENGTH."""
    _form_size_view(app)
    assert app.config["MAX_FORM_PARTS"] == 1000
    assert _post(client, _urlencoded(1001)).data == b"1001"
    app.config["MAX_FORM_PARTS"] = 2
    assert _post(client, b"a=1&b=2&c=%20&d=+").data == b"4"
    app.config["MAX_CONTENT_LENGTH"] = 100
    assert _post(client, _urlencoded(100)).status_code == 413


def test_multipart_limit_is_unchanged(app, client):
    app.config["MAX_FORM_PARTS"] = 3
    _form_size_view(app)
    data = {f"f{i}": str(i) for i in range(4)}
    data["file"] = (io.BytesIO(b"x"), "x.txt")  # type: ignore[assignment]
    assert client.post("/form", data=data).status_code == 413


# --- g's repr ----------------------------------------------------------------------------------


@pytest.fixture
def compat_on(monkeypatch):
    """The Flask compat layer, installed for the test. The real Flask's modules,
    if another test imported them (plugin commands do), are set aside meanwhile:
    these tests import no extension."""
    was_on = kolben.compat.installed()
    real = {
        name: module
        for name, module in sys.modules.items()
        if (name == "flask" or name.startswith("flask.")) and not kolben.compat.is_stand_in(module)
    }
    for name in real:
        del sys.modules[name]
    # No plugin commands: loading them would import extensions (and the real Flask).
    monkeypatch.setattr(kolben.cli, "entry_points", lambda group: [])
    kolben.compat.install()
    try:
        yield
    finally:
        if not was_on:
            kolben.compat.uninstall()
        sys.modules.update(real)


def test_g_repr_names_kolben(app):
    with app.app_context():
        assert repr(kolben.g) == "<kolben.g of 'test_app'>"


def test_g_repr_names_flask_under_compat(app, compat_on):
    with app.app_context():
        assert repr(kolben.g) == "<flask.g of 'test_app'>"


# --- the command line --------------------------------------------------------------------------


def test_app_cli_is_named_after_the_app():
    assert kolben.Kolben("myapp").cli.name == "myapp"


def test_factory_needing_arguments_is_told_apart_from_a_failing_one():
    needs = types.ModuleType("needs")
    exec("def create_app(config):\n    return None\n", needs.__dict__)
    with pytest.raises(NoAppException, match="could not call it without arguments"):
        find_best_app(needs)

    fails = types.ModuleType("fails")
    exec("def create_app():\n    return len(5)\n", fails.__dict__)
    # Flask's functions let the factory's own TypeError through (Flask's
    # test_find_best_app); the command line explains it (tests/test_cli.py).
    with pytest.raises(TypeError, match="has no len"):
        find_best_app(fails)
    with pytest.raises(TypeError, match="has no len"):
        find_app_by_string(fails, "create_app()")


def _convert_cert(value: str) -> object:
    ctx = click.Context(click.Command("run"))
    return CertParamType().convert(value, None, ctx)


def test_cert_adhoc_without_cryptography_says_what_is_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography", None)  # import fails
    with pytest.raises(click.BadParameter) as info:
        _convert_cert("adhoc")
    message = info.value.format_message()
    assert "Using ad-hoc certificates requires the cryptography library" in message
    assert "pip install cryptography" in message


def test_cert_adhoc_with_a_module_that_has_no_spec(monkeypatch):
    # A module object without __spec__ (made at run time) made the check fail
    # with "cryptography.__spec__ is None"; importing it is what counts.
    fake = types.ModuleType("cryptography")
    fake.__spec__ = None
    monkeypatch.setitem(sys.modules, "cryptography", fake)
    assert _convert_cert("adhoc") == "adhoc"


def test_cert_accepts_a_bare_module_name_holding_an_ssl_context(monkeypatch):
    # Flask's test_run_cert_import: any name werkzeug's import_string resolves.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    monkeypatch.setitem(sys.modules, "kc_ssl_context", context)
    assert _convert_cert("kc_ssl_context") is context
    monkeypatch.setitem(sys.modules, "kc_not_here", None)
    with pytest.raises(click.BadParameter):
        _convert_cert("kc_not_here")
    with pytest.raises(click.BadParameter):
        _convert_cert("kolben")  # a module, not an SSLContext


def test_cert_accepts_an_ssl_context_by_import_name(tmp_path, monkeypatch):
    (tmp_path / "kc_certs_mod.py").write_text(
        "import ssl\nssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\nnot_ctx = 1\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "kc_certs_mod", raising=False)
    # The current folder is not on sys.path (as under the 'kolben' script).
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        value = _convert_cert("kc_certs_mod:ssl_context")
        assert isinstance(value, ssl.SSLContext)
        assert isinstance(_convert_cert("kc_certs_mod.ssl_context"), ssl.SSLContext)
        with pytest.raises(click.BadParameter) as info:
            _convert_cert("kc_certs_mod:not_ctx")
        message = info.value.format_message()
        assert "File 'kc_certs_mod:not_ctx' does not exist" in message
        assert "it is a int, not an ssl.SSLContext" in message
        with pytest.raises(click.BadParameter) as info:
            _convert_cert("kc_certs_mod:missing")
        assert "has no attribute 'missing'" in info.value.format_message()
        with pytest.raises(click.BadParameter) as info:
            _convert_cert("kc_no_such_certs_mod:ctx")
        assert info.value.message == "File 'kc_no_such_certs_mod:ctx' does not exist."
    finally:
        sys.modules.pop("kc_certs_mod", None)


def test_script_factory_object_failing_inside_is_not_called_a_wrong_call():
    from kolben.cli import ScriptInfo

    class Factory:
        def __call__(self) -> kolben.Kolben:
            return len(5)  # type: ignore[arg-type, return-value]

    with pytest.raises(NoAppException) as info:
        ScriptInfo(create_app=Factory()).load_app()
    assert "raised TypeError: object of type 'int' has no len()" in info.value.message
    assert isinstance(info.value.__cause__, TypeError)

    def needs(config: str) -> kolben.Kolben:
        return kolben.Kolben(config)

    with pytest.raises(NoAppException) as info:
        ScriptInfo(create_app=needs).load_app()
    message = info.value.message
    assert "could not be called without arguments" in message
    assert "module" not in message  # no 'module:create_app(args)' advice for it


def test_real_flask_app_in_module_is_named_in_the_error():
    fake_flask = type("Flask", (), {"__module__": "flask.app"})
    module = types.ModuleType("uses_flask")
    module.app = fake_flask()  # type: ignore[attr-defined]
    with pytest.raises(NoAppException) as info:
        find_best_app(module)
    assert "'app' is an app of the real Flask" in info.value.message
    assert "KOLBEN_FLASK_COMPAT=1" in info.value.message


def test_version_and_errors_use_kolben_names(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from kolben.cli import cli

    result = CliRunner().invoke(cli, ["--version"])
    assert "\nKolben " in result.output
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["nope"], prog_name="kolben")
    assert "Could not locate a kolben application. Use the 'kolben --app' option," in (
        result.output
    )
    assert "'KOLBEN_APP' environment variable" in result.output


def test_version_and_errors_use_flask_names_under_compat(monkeypatch, tmp_path, compat_on):
    from click.testing import CliRunner

    from kolben.cli import cli

    result = CliRunner().invoke(cli, ["--version"], prog_name="flask")
    lines = result.output.splitlines()
    assert lines[0].startswith("Python ")
    assert lines[1].startswith(f"Flask {kolben.compat.FLASK_VERSION} (kolben ")
    assert lines[2].startswith("Werkzeug ")

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["nope"], prog_name="flask")
    assert result.exit_code == 2
    assert (
        "Could not locate a Flask application. Use the 'flask --app' option,"
        " 'FLASK_APP' environment variable" in result.output
    )

    (tmp_path / "two.py").write_text("from flask import Flask\na = Flask('a')\nb = Flask('b')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = CliRunner().invoke(cli, ["--app", "two", "routes"], prog_name="flask")
    assert "Detected multiple Flask applications in module 'two'" in result.output
    sys.modules.pop("two", None)


def test_server_banner_under_compat(capsys, compat_on):
    from kolben.cli import show_server_banner

    show_server_banner(False, "hello:app")
    assert " * Serving Flask app 'hello:app'" in capsys.readouterr().out


def test_debug_flag_sets_flask_debug_under_compat(monkeypatch, compat_on):
    from click.testing import CliRunner

    from kolben.cli import cli

    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("KOLBEN_DEBUG", raising=False)
    CliRunner().invoke(cli, ["--debug", "--version"], prog_name="flask")
    # --version is eager and exits first; call the option's callback directly.
    from kolben.cli import _debug_option

    ctx = click.Context(cli)
    ctx.set_parameter_source("debug", click.core.ParameterSource.COMMANDLINE)
    _debug_option.callback(ctx, _debug_option, True)  # type: ignore[misc]
    assert os.environ["FLASK_DEBUG"] == "1"
    # Only Flask's variable: a suite that puts FLASK_DEBUG back after the run
    # (monkeypatch) finds no debug flag left behind for its next app.
    assert "KOLBEN_DEBUG" not in os.environ
    assert kolben.helpers.get_debug_flag()
    monkeypatch.delenv("FLASK_DEBUG")
    assert not kolben.helpers.get_debug_flag()
    # Set in the environment already, KOLBEN_DEBUG (read first) follows the flag.
    monkeypatch.setenv("KOLBEN_DEBUG", "1")
    _debug_option.callback(ctx, _debug_option, False)  # type: ignore[misc]
    assert (os.environ["FLASK_DEBUG"], os.environ["KOLBEN_DEBUG"]) == ("0", "0")


@pytest.mark.parametrize(
    ("argv0", "prog"),
    [("/venv/bin/flask", "flask"), ("/venv/bin/kolben", "kolben"), ("flask.exe", "flask")],
)
def test_main_names_the_program_as_started(monkeypatch, capsys, argv0, prog):
    from kolben.cli import main

    # Started as flask, main() gives the process's command line Flask's help
    # words: put kolben's back after the test.
    for obj in (kolben.cli.cli, kolben.cli.version_option, kolben.cli._env_file_option):
        monkeypatch.setattr(obj, "help", obj.help)
    monkeypatch.setattr(kolben.cli._app_option, "help", kolben.cli._app_option.help)
    monkeypatch.setattr(sys, "argv", [argv0, "--no-such-option"])
    with pytest.raises(SystemExit):
        main()
    assert f"Usage: {prog} [OPTIONS]" in capsys.readouterr().err


def test_install_flask_command_writes_it_only_where_it_cannot_clash(tmp_path):
    from click.testing import CliRunner

    from kolben.cli import FLASK_COMMAND_MARK, cli

    runner = CliRunner()
    result = runner.invoke(cli, ["install-flask-command", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    script = tmp_path / "flask"
    text = script.read_text()
    assert text.startswith(f"#!{sys.executable}\n{FLASK_COMMAND_MARK}\n")
    assert "from kolben.cli import flask_main" in text
    assert os.access(script, os.X_OK)
    # Again: left as it is.
    result = runner.invoke(cli, ["install-flask-command", "--dir", str(tmp_path)])
    assert result.exit_code == 0
    assert "already there" in result.output
    # Someone else's flask command (Flask's own): refused, untouched.
    other = tmp_path / "other"
    other.mkdir()
    (other / "flask").write_text("#!/usr/bin/python\nfrom flask.cli import main\n")
    result = runner.invoke(cli, ["install-flask-command", "--dir", str(other)])
    assert result.exit_code == 1
    assert "was not written by kolben" in result.output
    assert (other / "flask").read_text() == "#!/usr/bin/python\nfrom flask.cli import main\n"
    # Not listed in the help of every kolben user.
    assert "install-flask-command" not in runner.invoke(cli, ["--help"]).output


# --- host matching and the static route (Flask's checks) ----------------------------------------


def test_host_matching_without_a_static_folder_is_accepted():
    app = kolben.Kolben("hosts", host_matching=True, static_folder=None)
    assert app.url_map.host_matching
    assert "static" not in app.view_functions


def test_static_host_misuse_raises_assertion_error_as_flask():
    with pytest.raises(AssertionError, match="static_host"):
        kolben.Kolben("hosts", host_matching=True)
    with pytest.raises(AssertionError, match="static_host"):
        kolben.Kolben("hosts", static_host="static.example.com")


# --- request_ctx._session, as Flask sets it at push ---------------------------------------------


def test_private_session_reads_as_in_flask(app):
    from kolben.globals import request_ctx

    app.secret_key = "k"
    with app.test_request_context():
        sess = request_ctx._session
        assert (type(sess).__name__, sess.accessed, sess.modified) == (
            "SecureCookieSession",
            False,
            False,
        )
        kolben.session["a"] = 1
        assert (request_ctx._session.accessed, request_ctx._session.modified) == (True, True)


def test_flask_command_help_speaks_flask():
    import subprocess
    import sys

    code = "import sys; sys.argv = ['flask', '--help']; from kolben.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "A general utility script for Flask applications." in proc.stdout
    assert "'FLASK_APP'" in proc.stdout
    assert "Show the Flask version." in proc.stdout
    assert "kolben" not in proc.stdout.lower()
