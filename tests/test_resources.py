"""Per-task resources (kolben.resources): lazy acquire once per app context,
commit + after_commit callbacks or rollback, release; against sqlite3 and the real
PostgreSQL server (psycopg 3), sync and async, under both front doors."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import typing as t
import uuid
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

import kolben
from kolben import after_commit
from kolben.concurrency import _server_loop
from kolben.resources import TaskResource, rollback_task

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class Journal:
    """Records what happened to the resources, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def __call__(self, event: str) -> None:
        self.events.append(event)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def quiet_app(app: kolben.Kolben) -> kolben.Kolben:
    """Unhandled errors become logged 500s instead of propagating to the test."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- sqlite3 --------------------------------------------------------------------------


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "app.sqlite"
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE users (email TEXT NOT NULL)")
        conn.commit()
    finally:
        conn.close()  # (a connection's with block commits, it doesn't close)
    return path


def rows(db_path: Path) -> list[str]:
    """The committed rows, seen through a separate connection."""
    conn = sqlite3.connect(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT email FROM users ORDER BY rowid")]
    finally:
        conn.close()


@pytest.fixture
def sqlite_app(quiet_app: kolben.Kolben, db_path: Path, journal: Journal) -> kolben.Kolben:
    app = quiet_app

    def acquire() -> sqlite3.Connection:
        journal("acquire")
        # The ASGI door may pop the context in another worker thread than the view's.
        return sqlite3.connect(db_path, check_same_thread=False)

    def commit(conn: sqlite3.Connection) -> None:
        journal("commit")
        conn.commit()

    def rollback(conn: sqlite3.Connection) -> None:
        journal("rollback")
        conn.rollback()

    def release(conn: sqlite3.Connection) -> None:
        journal("release")
        conn.close()

    db = app.task_resource("db", acquire=acquire, release=release, commit=commit, rollback=rollback)

    @app.post("/users/<email>")
    def create(email: str) -> t.Any:
        db.get().execute("INSERT INTO users (email) VALUES (?)", [email])
        assert db.get() is db.get()

        @after_commit
        def send_mail() -> None:
            # The mail goes out only once the row is visible to everyone.
            journal(f"mail {email} seen={email in rows(db_path)}")

        if kolben.request.args.get("fail"):
            raise RuntimeError("the view failed after writing")
        return "created", 201

    @app.get("/nothing")
    def nothing() -> str:
        return "no resource used"

    return app


def test_committed_request_keeps_the_row_and_mails_after_commit(
    sqlite_app: kolben.Kolben, client: t.Any, db_path: Path, journal: Journal
) -> None:
    rv = client.post("/users/a@example.com")
    assert rv.status_code == 201
    assert rows(db_path) == ["a@example.com"]
    assert journal.events == ["acquire", "commit", "mail a@example.com seen=True", "release"]


def test_failed_request_leaves_no_row_and_sends_no_mail(
    sqlite_app: kolben.Kolben,
    client: t.Any,
    db_path: Path,
    journal: Journal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rv = client.post("/users/b@example.com?fail=1")
    assert rv.status_code == 500
    assert b"the view failed" not in rv.data
    assert rows(db_path) == []
    assert journal.events == ["acquire", "rollback", "release"]
    assert any("Exception on /users/b@example.com" in m for m in errors(caplog))


def test_request_without_get_pays_nothing(
    sqlite_app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    states: list[t.Any] = []
    sqlite_app.teardown_appcontext(lambda exc: states.append(_task_state()))
    assert client.get("/nothing").data == b"no resource used"
    assert journal.events == []
    assert states == [None]


def _task_state() -> t.Any:
    from kolben.globals import _cv_app

    return _cv_app.get()._task_state


def test_one_resource_per_context(sqlite_app: kolben.Kolben, journal: Journal) -> None:
    db = sqlite_app.task_resources["db"]
    with sqlite_app.app_context():
        first = db.get()
        assert db.get() is first
    with sqlite_app.app_context():
        assert db.get() is not first
    assert journal.events == ["acquire", "commit", "release"] * 2


def test_app_context_commits_on_success_and_rolls_back_on_error(
    sqlite_app: kolben.Kolben, db_path: Path, journal: Journal
) -> None:
    db = sqlite_app.task_resources["db"]
    mails: list[str] = []
    with sqlite_app.app_context():
        db.get().execute("INSERT INTO users VALUES ('kept')")
        after_commit(lambda: mails.append("kept"))
    with pytest.raises(ValueError, match="script failed"), sqlite_app.app_context():
        db.get().execute("INSERT INTO users VALUES ('dropped')")
        after_commit(lambda: mails.append("dropped"))
        raise ValueError("script failed")
    assert rows(db_path) == ["kept"]
    assert mails == ["kept"]
    assert journal.events == [
        *("acquire", "commit", "release"),
        *("acquire", "rollback", "release"),
    ]


def test_cli_command_commits(sqlite_app: kolben.Kolben, db_path: Path) -> None:
    db = sqlite_app.task_resources["db"]

    @sqlite_app.cli.command("add-user")
    @click.argument("email")
    def add_user(email: str) -> None:
        db.get().execute("INSERT INTO users VALUES (?)", [email])

    result = sqlite_app.test_cli_runner().invoke(args=["add-user", "cli@example.com"])
    assert result.exit_code == 0, result.output
    assert rows(db_path) == ["cli@example.com"]


def test_after_commit_without_resources_runs_at_the_end(app: kolben.Kolben, client: t.Any) -> None:
    done: list[str] = []

    @app.get("/")
    def index() -> str:
        after_commit(lambda: done.append("first"))
        after_commit(lambda: (done.append("second"), after_commit(lambda: done.append("third"))))
        assert done == []
        return "ok"

    assert client.get("/").data == b"ok"
    assert done == ["first", "second", "third"]


def test_after_commit_callback_error_is_logged_and_the_next_still_run(
    quiet_app: kolben.Kolben, client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    done: list[str] = []

    def broken() -> None:
        raise OSError("mail server down")

    @quiet_app.get("/")
    def index() -> str:
        after_commit(broken)
        after_commit(lambda: done.append("next"))
        return "saved"

    rv = client.get("/")
    assert (rv.status_code, rv.data) == (200, b"saved")
    assert done == ["next"]
    assert any("after_commit callback" in m and "broken" in m for m in errors(caplog))


# -- failures at the end of a task -------------------------------------------------------


def _recording_resource(
    app: kolben.Kolben,
    name: str,
    journal: Journal,
    *,
    fail: t.Collection[str] = (),
) -> TaskResource:
    def step(what: str) -> t.Callable[..., t.Any]:
        def fn(*args: t.Any) -> t.Any:
            journal(f"{what} {name}")
            if what in fail:
                raise RuntimeError(f"{what} {name} broke")
            return name

        return fn

    return app.task_resource(
        name,
        acquire=step("acquire"),
        release=step("release"),
        commit=step("commit"),
        rollback=step("rollback"),
    )


def test_failing_commit_rolls_back_the_rest_and_gives_500(
    quiet_app: kolben.Kolben, client: t.Any, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    first = _recording_resource(quiet_app, "first", journal)
    second = _recording_resource(quiet_app, "second", journal, fail={"commit"})
    third = _recording_resource(quiet_app, "third", journal)
    mails: list[str] = []

    @quiet_app.get("/")
    def index() -> str:
        first.get(), second.get(), third.get()
        after_commit(lambda: mails.append("sent"))
        return "looks fine"

    rv = client.get("/")
    assert rv.status_code == 500
    assert b"looks fine" not in rv.data and b"broke" not in rv.data
    assert mails == []
    assert journal.events == [
        *("acquire first", "acquire second", "acquire third"),
        *("commit first", "commit second", "rollback second", "rollback third"),
        *("release third", "release second", "release first"),
    ]
    assert any("Exception on /" in m for m in errors(caplog))
    assert "commit second broke" in caplog.text


def test_a_failing_commit_reaches_the_teardown_functions(
    quiet_app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    # As an error in an after_request function does in Flask: the response is
    # handle_exception's 500 and the teardown functions get the error.
    res = _recording_resource(quiet_app, "db", journal, fail={"commit"})
    torn_down: list[t.Any] = []
    quiet_app.teardown_request(lambda exc: torn_down.append(("request", type(exc))))
    quiet_app.teardown_appcontext(lambda exc: torn_down.append(("app", type(exc))))

    @quiet_app.get("/")
    def index() -> str:
        res.get()
        return "looks fine"

    assert client.get("/").status_code == 500
    assert torn_down == [("request", RuntimeError), ("app", RuntimeError)]


@pytest.mark.parametrize("view_kind", ["def", "async def"])
def test_a_session_that_could_not_be_saved_commits_nothing(
    quiet_app: kolben.Kolben, client: t.Any, journal: Journal, view_kind: str
) -> None:
    # The client gets a 503 (retry): the request's work must not be committed,
    # nor its after_commit callbacks run, or a retry does it all twice.
    from kolben import session
    from kolben.server_sessions import (
        MemorySessionStore,
        ServerSideSessionInterface,
        SessionUnavailable,
    )

    class FailingStore(MemorySessionStore):
        def save(self, sid: str, data: bytes, ttl: int) -> None:
            raise SessionUnavailable("the store went away")

    quiet_app.session_interface = ServerSideSessionInterface(FailingStore())
    res = _recording_resource(quiet_app, "db", journal)
    mails: list[str] = []

    def work() -> str:
        res.get()
        after_commit(lambda: mails.append("sent"))
        session["user"] = "ada"
        return "saved?"

    if view_kind == "def":
        quiet_app.post("/")(work)
    else:

        async def awork() -> str:
            return work()

        quiet_app.post("/")(awork)

    rv = client.post("/")
    assert rv.status_code == 503
    assert mails == []
    assert journal.events == ["acquire db", "rollback db", "release db"]


def test_failing_commit_propagates_in_testing(
    app: kolben.Kolben, journal: Journal, client: t.Any
) -> None:
    res = _recording_resource(app, "db", journal, fail={"commit"})
    app.get("/")(lambda: res.get())
    with pytest.raises(RuntimeError, match="commit db broke"):
        client.get("/")
    assert journal.events == ["acquire db", "commit db", "rollback db", "release db"]


def test_failing_release_is_logged_and_others_still_released(
    quiet_app: kolben.Kolben, client: t.Any, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    a = _recording_resource(quiet_app, "a", journal)
    b = _recording_resource(quiet_app, "b", journal, fail={"release"})
    c = _recording_resource(quiet_app, "c", journal)
    torn_down: list[BaseException | None] = []
    quiet_app.teardown_appcontext(torn_down.append)

    @quiet_app.get("/")
    def index() -> str:
        a.get(), b.get(), c.get()
        return "ok"

    rv = client.get("/")
    assert (rv.status_code, rv.data) == (200, b"ok")
    assert journal.events[-3:] == ["release c", "release b", "release a"]
    assert torn_down == [None]
    assert any("Releasing task resource 'b' failed" in m for m in errors(caplog))


def test_failing_rollback_is_logged_and_everything_released(
    quiet_app: kolben.Kolben, journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    a = _recording_resource(quiet_app, "a", journal, fail={"rollback"})
    b = _recording_resource(quiet_app, "b", journal)
    with pytest.raises(KeyError), quiet_app.app_context():
        a.get(), b.get()
        raise KeyError("boom")
    assert journal.events == [
        *("acquire a", "acquire b", "rollback a", "rollback b", "release b", "release a")
    ]
    assert any("Rolling back task resource 'a' failed" in m for m in errors(caplog))


def test_failing_commit_outside_a_request_raises_after_cleanup(
    app: kolben.Kolben, journal: Journal
) -> None:
    res = _recording_resource(app, "db", journal, fail={"commit"})
    done: list[str] = []
    with pytest.raises(RuntimeError, match="commit db broke"), app.app_context():
        res.get()
        after_commit(lambda: done.append("no"))
    assert done == []
    assert journal.events == ["acquire db", "commit db", "rollback db", "release db"]


def test_rollback_task_for_an_error_response(
    app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    res = _recording_resource(app, "db", journal)
    mails: list[str] = []

    @app.get("/")
    def index() -> t.Any:
        res.get()
        after_commit(lambda: mails.append("no"))
        rollback_task()
        kolben.abort(409)

    assert client.get("/").status_code == 409
    assert mails == []
    assert journal.events == ["acquire db", "rollback db", "release db"]


def test_registering_a_name_twice_is_a_clear_error(app: kolben.Kolben) -> None:
    app.task_resource("db", acquire=object, release=lambda r: None)
    with pytest.raises(ValueError, match=r"'db' is already registered.*another name"):
        app.task_resource("db", acquire=object, release=lambda r: None)
    with pytest.raises(TypeError, match="acquire must be a function"):
        app.task_resource("other", acquire="nope", release=lambda r: None)  # type: ignore[arg-type]


def test_get_and_after_commit_need_an_app_context(app: kolben.Kolben) -> None:
    res = app.task_resource("db", acquire=object, release=lambda r: None)
    with pytest.raises(RuntimeError, match="needs an active application context"):
        res.get()
    with pytest.raises(RuntimeError, match=r"after_commit.*application context"):
        after_commit(lambda: None)
    other = kolben.Kolben("other")
    with other.app_context(), pytest.raises(RuntimeError, match="belongs to app"):
        res.get()


# -- async ------------------------------------------------------------------------------


def _async_resource(app: kolben.Kolben, journal: Journal) -> TaskResource:
    async def acquire() -> dict[str, t.Any]:
        await asyncio.sleep(0)
        journal("acquire")
        return {"rows": []}

    async def commit(res: dict[str, t.Any]) -> None:
        await asyncio.sleep(0)
        journal(f"commit {res['rows']}")

    async def rollback(res: dict[str, t.Any]) -> None:
        await asyncio.sleep(0)
        journal("rollback")

    async def release(res: dict[str, t.Any]) -> None:
        await asyncio.sleep(0)
        journal("release")

    return app.task_resource(
        "adb", acquire=acquire, commit=commit, rollback=rollback, release=release
    )


def test_async_functions_with_a_sync_view(
    quiet_app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    adb = _async_resource(quiet_app, journal)

    @quiet_app.get("/<int:n>")
    def index(n: int) -> str:
        adb.get()["rows"].append(n)
        after_commit(lambda: journal("mail"))
        if n == 0:
            raise RuntimeError("zero")
        return "ok"

    assert client.get("/1").status_code == 200
    assert client.get("/0").status_code == 500
    assert journal.events == [
        *("acquire", "commit [1]", "mail", "release"),
        *("acquire", "rollback", "release"),
    ]


def test_async_view_uses_aget(quiet_app: kolben.Kolben, client: t.Any, journal: Journal) -> None:
    adb = _async_resource(quiet_app, journal)

    @quiet_app.get("/<int:n>")
    async def index(n: int) -> str:
        res = await adb.aget()
        assert await adb.aget() is res
        res["rows"].append(n)

        async def mail() -> None:
            await asyncio.sleep(0)
            journal("mail")

        after_commit(mail)
        return "ok"

    assert client.get("/7").data == b"ok"
    assert journal.events == ["acquire", "commit [7]", "mail", "release"]



def _on_a_running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_aget_runs_a_sync_acquire_where_sync_code_runs(
    quiet_app: kolben.Kolben, client: t.Any, door: str, journal: Journal
) -> None:
    """A sync acquire reached through ``await aget()`` is sync user code: under
    the ASGI door it runs in a worker thread, never on the server's loop; under
    WSGI in the request's own thread, as the view's sync code does."""
    seen: dict[str, t.Any] = {}

    def acquire() -> dict[str, t.Any]:
        seen["acquire"] = (threading.get_ident(), _on_a_running_loop())
        seen["g"] = kolben.g.get("marker")  # the request's context is there
        journal("acquire")
        return {"rows": []}

    def release(res: dict[str, t.Any]) -> None:
        journal("release")

    sdb = quiet_app.task_resource("sdb", acquire=acquire, release=release)

    @quiet_app.get("/")
    async def index() -> str:
        kolben.g.marker = "here"
        seen["view"] = threading.get_ident()
        res = await sdb.aget()
        assert await sdb.aget() is res
        return "ok"

    assert client.get("/").data == b"ok"
    assert journal.events == ["acquire", "release"]
    assert seen["g"] == "here"
    thread, on_loop = seen["acquire"]
    if door == "asgi":
        assert thread != seen["view"]
        assert not on_loop
    else:
        assert thread == seen["view"]


def test_aget_on_a_loop_a_def_view_runs_acquires_in_the_views_thread(
    quiet_app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    """A ``def`` view running a coroutine with ``asyncio.run()`` (either door):
    that loop is the view's own, in the request's thread, so a sync acquire
    reached through ``aget()`` runs there, in place, as before ``aget()`` moved
    sync acquires off the ASGI server's loop: a thread-bound resource (an
    SQLite connection) is usable by the view and released where it was made."""
    acquired_in: list[int] = []

    def acquire() -> sqlite3.Connection:
        acquired_in.append(threading.get_ident())
        return sqlite3.connect(":memory:")

    def release(conn: sqlite3.Connection) -> None:
        conn.execute("select 1")
        conn.close()
        journal("release")

    sdb = quiet_app.task_resource("sdb", acquire=acquire, release=release)

    @quiet_app.get("/")
    def index() -> str:
        async def fetch() -> sqlite3.Connection:
            return await sdb.aget()

        conn = asyncio.run(fetch())
        assert acquired_in == [threading.get_ident()]
        return str(conn.execute("select 7").fetchone()[0])

    response = client.get("/")
    assert (response.status_code, response.data) == (200, b"7")
    assert journal.events == ["release"]


def test_aget_cancelled_during_a_sync_acquire_keeps_the_resource_for_release(
    app: kolben.Kolben, journal: Journal
) -> None:
    """A task cancelled while its sync acquire runs in a worker thread: the call
    can't be interrupted, so what it acquired is kept and released with the
    task, never leaked."""
    started = threading.Event()
    go_on = threading.Event()

    def acquire() -> str:
        started.set()
        go_on.wait(5)
        journal("acquire")
        return "conn"

    sdb = app.task_resource("sdb", acquire=acquire, release=lambda res: journal(f"release {res}"))

    async def main() -> None:
        # The loop serves requests, as the ASGI door's (a loop of the app's own
        # code, asyncio.run() in a command, runs a sync acquire in place).
        _server_loop.set(asyncio.get_running_loop())
        with app.app_context():
            task = asyncio.create_task(sdb.aget())
            await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
            task.cancel()
            go_on.set()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert journal.events == ["acquire"]

    asyncio.run(main())
    assert journal.events == ["acquire", "release conn"]


# -- PostgreSQL (psycopg 3) -----------------------------------------------------------


@pytest.fixture
def pg_table() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    table = f"kolben_test_resources_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (email TEXT NOT NULL)")
    try:
        yield table
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def pg_rows(table: str) -> list[str]:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        return [r[0] for r in conn.execute(f"SELECT email FROM {table} ORDER BY email")]


@pytest.mark.postgres
def test_postgres_commit_rollback_and_mail_after_commit(
    quiet_app: kolben.Kolben, client: t.Any, pg_table: str
) -> None:
    import psycopg

    outbox: list[tuple[str, list[str]]] = []
    db = quiet_app.task_resource(
        "pg",
        acquire=lambda: psycopg.connect(PG_URL),
        commit=lambda conn: conn.commit(),
        rollback=lambda conn: conn.rollback(),
        release=lambda conn: conn.close(),
    )

    @quiet_app.post("/signup/<email>")
    def signup(email: str) -> t.Any:
        db.get().execute(f"INSERT INTO {pg_table} (email) VALUES (%s)", [email])
        # What a real mail sender would see: the committed table, from elsewhere.
        after_commit(lambda: outbox.append((email, pg_rows(pg_table))))
        if "fail" in kolben.request.args:
            raise RuntimeError("after the insert")
        return "welcome", 201

    assert client.post("/signup/kept@example.com").status_code == 201
    assert client.post("/signup/lost@example.com?fail").status_code == 500
    assert pg_rows(pg_table) == ["kept@example.com"]
    assert outbox == [("kept@example.com", ["kept@example.com"])]


@pytest.mark.postgres
def test_postgres_async_connection(quiet_app: kolben.Kolben, client: t.Any, pg_table: str) -> None:
    import psycopg

    async def acquire() -> psycopg.AsyncConnection[t.Any]:
        return await psycopg.AsyncConnection.connect(PG_URL)

    async def commit(conn: psycopg.AsyncConnection[t.Any]) -> None:
        await conn.commit()

    async def rollback(conn: psycopg.AsyncConnection[t.Any]) -> None:
        await conn.rollback()

    async def release(conn: psycopg.AsyncConnection[t.Any]) -> None:
        await conn.close()

    db = quiet_app.task_resource(
        "apg", acquire=acquire, commit=commit, rollback=rollback, release=release
    )
    sent: list[list[str]] = []

    @quiet_app.post("/a/<email>")
    async def signup(email: str) -> t.Any:
        conn = await db.aget()
        await conn.execute(f"INSERT INTO {pg_table} (email) VALUES (%s)", [email])
        after_commit(lambda: sent.append(pg_rows(pg_table)))
        if "fail" in kolben.request.args:
            raise RuntimeError("after the insert")
        return "welcome", 201

    assert client.post("/a/one@example.com").status_code == 201
    assert client.post("/a/two@example.com?fail").status_code == 500
    assert pg_rows(pg_table) == ["one@example.com"]
    assert sent == [["one@example.com"]]


def test_after_commit_in_an_async_view(app: kolben.Kolben, client: t.Any) -> None:
    """No task resource: under ASGI the view is served on the loop, where the
    callbacks (sync and async) still run, in order, before the response."""
    done: list[str] = []

    @app.get("/")
    async def index() -> str:
        async def notify() -> None:
            await asyncio.sleep(0)
            done.append("async")

        after_commit(notify)
        after_commit(lambda: done.append("sync"))
        return "ok"

    assert client.get("/").data == b"ok"
    assert done == ["async", "sync"]


def test_streamed_response_keeps_the_resource_until_the_body_is_done(
    app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    res = _recording_resource(app, "db", journal)

    @app.get("/")
    def index() -> t.Any:
        res.get()

        @kolben.stream_with_context
        def body() -> t.Iterator[str]:
            journal("body starts")
            yield f"{res.get()} "
            journal("body ends")
            yield "done"

        return body()

    assert client.get("/").data == b"db done"
    # Committed before the response was sent; the body used it again, so what
    # it wrote is committed when the body is done, then it is released (the
    # body's writes were lost, and a pooled connection went back dirty).
    assert journal.events == [
        *("acquire db", "commit db", "body starts", "body ends", "commit db", "release db"),
    ]


@pytest.mark.parametrize("view_used_it", [False, True])
def test_resource_first_used_in_teardown_request_is_ended(
    sqlite_app: kolben.Kolben, client: t.Any, db_path: Path, journal: Journal, view_used_it: bool
) -> None:
    """A ``teardown_request`` function runs before the application context's
    pop: a task resource it uses, first or again after the request's commit, is
    committed (again) and released by that pop (docs/recipes.md)."""
    db = sqlite_app.task_resources["db"]

    @sqlite_app.teardown_request
    def audit(exc: BaseException | None) -> None:
        journal("teardown")
        db.get().execute("INSERT INTO users (email) VALUES ('audit')")

    path = "/users/v@example.com" if view_used_it else "/nothing"
    rv = client.post(path) if view_used_it else client.get(path)
    assert rv.status_code == (201 if view_used_it else 200)
    if view_used_it:
        assert journal.events == [
            "acquire", "commit", "mail v@example.com seen=True", "teardown", "commit", "release"
        ]
        assert rows(db_path) == ["v@example.com", "audit"]
    else:
        assert journal.events == ["teardown", "acquire", "commit", "release"]
        assert rows(db_path) == ["audit"]
    assert not kolben.has_app_context()


def test_a_write_in_an_after_commit_callback_is_committed(
    app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    # An outbox row written by a callback was neither committed nor rolled back.
    res = _recording_resource(app, "db", journal)

    @app.post("/")
    def index() -> str:
        res.get()

        @after_commit
        def outbox() -> None:
            journal("outbox")
            res.get()

        return "ok"

    assert client.post("/").status_code == 200
    assert journal.events == [
        *("acquire db", "commit db", "outbox", "commit db", "release db"),
    ]


def test_a_resource_first_used_in_teardown_appcontext_is_released(
    app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    # It was never released (a pool checkout left out per request).
    res = _recording_resource(app, "db", journal)

    @app.teardown_appcontext
    def audit(exc: BaseException | None) -> None:
        journal("teardown_appcontext")
        res.get()

    @app.get("/")
    def index() -> str:
        return "ok"

    assert client.get("/").status_code == 200
    assert journal.events == [
        *("teardown_appcontext", "acquire db", "commit db", "release db"),
    ]


def test_a_resource_used_by_a_callback_of_a_script_is_released(
    app: kolben.Kolben, journal: Journal
) -> None:
    res = _recording_resource(app, "db", journal)
    with app.app_context():

        @after_commit
        def notify() -> None:
            journal("callback")
            res.get()

    assert journal.events == ["callback", "acquire db", "commit db", "release db"]


def test_async_streamed_body_commits_an_async_resource_it_uses(
    app: kolben.Kolben, client: t.Any, journal: Journal
) -> None:
    """An async generator in ``stream_with_context`` that uses an async task
    resource: its end commits and releases it, awaiting the async functions
    (they could not run at the body's end before: the response was cut)."""

    def step(what: str) -> t.Callable[..., t.Any]:
        async def fn(*args: t.Any) -> t.Any:
            await asyncio.sleep(0)
            journal(what)
            return "conn"

        return fn

    res = app.task_resource(
        "db",
        acquire=step("acquire"),
        release=step("release"),
        commit=step("commit"),
        rollback=step("rollback"),
    )

    @app.get("/")
    async def index() -> t.Any:
        @kolben.stream_with_context
        async def body() -> t.AsyncIterator[str]:
            conn = await res.aget()
            journal("body")
            yield f"{conn} "
            yield "done"

        return body()

    assert client.get("/").data == b"conn done"
    assert journal.events == ["acquire", "body", "commit", "release"]
