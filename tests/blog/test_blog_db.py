"""The data-access module: init-db on both databases, and a database that is down."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from blog_testing import make_app, postgres_schema

from blog import db

KOLBEN = str(Path(sys.executable).with_name("kolben"))


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_init_db_command(app, runner):
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "Initialized the database" in result.output
    with app.app_context():  # running it again keeps the data
        assert [p.title for p in db.list_posts()] == ["First post"]


def test_init_db_reset(app, runner):
    result = runner.invoke(args=["init-db", "--reset"])
    assert result.exit_code == 0, result.output
    assert "Reset the database" in result.output
    with app.app_context():
        assert db.list_posts() == []
        assert db.get_user_by_name("alice") is None


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``kolben --app blog ...`` as a person types it, configured by environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KOLBEN_", "FLASK_"))}
    full_env.pop("DATABASE_URL", None)
    full_env.update(env)
    return subprocess.run(
        [KOLBEN, "--app", "blog", *args],
        cwd=tmp_path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_kolben_app_blog_init_db_on_sqlite(tmp_path):
    path = tmp_path / "fresh.sqlite"
    result = run_cli(tmp_path, {"KOLBEN_DATABASE": str(path)}, "init-db")
    assert result.returncode == 0, result.stderr
    assert f"Initialized the database: {path}" in result.stdout
    app = make_app(DATABASE=str(path), DATABASE_URL=None)
    with app.app_context():
        assert db.list_posts() == []


@pytest.mark.postgres
def test_kolben_app_blog_init_db_on_postgres(tmp_path):
    with postgres_schema() as url:
        result = run_cli(tmp_path, {"DATABASE_URL": url}, "init-db")
        assert result.returncode == 0, result.stderr
        assert "Initialized the database: postgresql://" in result.stdout
        app = make_app(DATABASE_URL=url)
        with app.app_context():
            user = db.create_user("pg", "hash")
            db.create_post(user, "On PostgreSQL", "")
        with app.app_context():
            assert [p.title for p in db.list_posts()] == ["On PostgreSQL"]


def test_init_db_command_with_the_database_down(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/test"
    result = run_cli(tmp_path, {"DATABASE_URL": url}, "init-db")
    assert result.returncode == 1
    assert "The database is not available" in result.stderr
    assert "Traceback" not in result.stderr


def test_unsupported_database_url_fails_at_start():
    with pytest.raises(RuntimeError, match="DATABASE_URL='mysql://x' is not supported"):
        make_app(DATABASE_URL="mysql://x")


def assert_503(response, text: str) -> None:
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "503 Service Unavailable" in page
    assert text in page
    assert "Traceback" not in page
    assert 'class="brand"' in page  # the blog's own error page


@pytest.fixture
def down_app(door):
    """The blog pointed at a PostgreSQL port where no server listens."""
    app = make_app(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed_port()}/test",
        PROPAGATE_EXCEPTIONS=False,
    )
    return app


@pytest.mark.parametrize("path", ["/", "/1/card", "/auth/login"])
def test_stopped_postgres_is_a_503_page(down_app, door, path):
    client = down_app.asgi_test_client() if door == "asgi" else down_app.test_client()
    with client.session_transaction() as session:
        session["user_id"] = 1  # so that even the login page needs the database
    response = client.get(path)
    assert_503(response, "The database is not available: it is busy or cannot be reached")
    page = response.get_data(as_text=True)
    assert "Please try again in a moment." in page
    # The driver's message names the server: for the log, not for visitors.
    assert "Connection refused" not in page and "127.0.0.1" not in page


def test_unreachable_sqlite_file_is_a_503_page(client, tmp_path, door, caplog):
    path = tmp_path / "no" / "such" / "folder.sqlite"
    app = make_app(DATABASE=str(path), DATABASE_URL=None)
    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    response = client.get("/")
    assert_503(response, "it is busy or cannot be reached right now")
    assert "unable to open database file" not in response.get_data(as_text=True)
    # ... but the operator is told why.
    assert "The database is not available: unable to open database file" in caplog.text


def test_database_details_are_shown_in_debug_mode(tmp_path):
    app = make_app(DATABASE=str(tmp_path / "no" / "such" / "folder.sqlite"), DATABASE_URL=None)
    app.debug = True
    assert_503(app.test_client().get("/"), "unable to open database file")


def test_missing_tables_say_to_run_init_db(database, door):
    app = make_app(**database)  # no init_db
    client = app.asgi_test_client() if door == "asgi" else app.test_client()
    response = client.get("/")
    assert_503(response, "its tables have not been created")
    assert "Run &#39;kolben --app blog init-db&#39; once." in response.get_data(as_text=True)


def test_create_app_reads_the_environment(monkeypatch, tmp_path):
    import blog

    monkeypatch.setenv("KOLBEN_DATABASE", str(tmp_path / "env.sqlite"))
    monkeypatch.setenv("KOLBEN_SECRET_KEY", "from the environment")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    # The tutorial's "BROKER_URL=redis://... uvicorn --workers 2 ...": without it
    # each worker has its own in-memory broker and pages miss the others' posts.
    monkeypatch.setenv("BROKER_URL", "redis://127.0.0.1:6379/0")
    app = blog.create_app()
    assert app.config["DATABASE"] == str(tmp_path / "env.sqlite")
    assert app.config["SECRET_KEY"] == "from the environment"
    assert db.backend(app) == "postgresql"
    assert app.config["BROKER_URL"] == "redis://127.0.0.1:6379/0"
    assert os.path.isdir(app.instance_path)


def test_create_app_warns_about_the_dev_secret_key(monkeypatch, tmp_path, caplog):
    import blog

    monkeypatch.setenv("KOLBEN_DATABASE", str(tmp_path / "env.sqlite"))
    monkeypatch.setenv("KOLBEN_SECRET_KEY", "dev")
    blog.create_app()
    assert "SECRET_KEY is 'dev'" in caplog.text
