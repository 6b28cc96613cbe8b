"""The open-redirect guarantee, checked on the ``Location`` a response carries.

``redirect_back`` (and a view doing ``redirect(t)`` after ``is_safe_url(t)``)
must never send a browser to another host. What counts is the ``Location``
header actually sent: werkzeug rewrites it into a URI (``iri_to_uri``) on the
way out, and that rewrite once turned ``http://HOST\\@evil.com/`` (on HOST for a
browser) into ``http://HOST%5C@evil.com/`` (user info, then evil.com), and
raised ValueError (a 500) for ``http://HOST\\@x:1.evil.com``.

Every ``Location`` here is resolved with ada (``ada-url``), a WHATWG-conformant
URL parser, against the request's URL, the way a browser resolves it; a sample
also goes through Debian's chromium, headless, against real servers.
"""

from __future__ import annotations

import itertools
import os
import sys
import textwrap
import typing as t
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from ada_url import URL
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kolben
from kolben import is_safe_url, redirect, redirect_back
from serving import HOST, ServerProcess, answers, free_port, server_env

APP_HOST = "localhost"
BASE = f"http://{APP_HOST}/login"


def lands_on(location: str, base: str = BASE) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` a browser goes to for ``location`` sent in a
    response to ``base`` (WHATWG URL parsing, by ada); None if it fails to parse."""
    try:
        url = URL(location, base=base)
    except ValueError:
        return None
    return url.protocol, url.host


def stays_on_app(location: str) -> bool:
    landing = lands_on(location)
    return landing is not None and landing[0] in ("http:", "https:") and landing[1] == APP_HOST


@pytest.fixture
def redirect_app(app: kolben.Kolben) -> kolben.Kolben:
    @app.route("/login", methods=["GET", "POST"])
    def login() -> t.Any:
        return redirect_back("/home")

    @app.get("/go")
    def go() -> t.Any:
        target = kolben.request.args.get("to", "")
        if is_safe_url(target):
            return redirect(target)
        return redirect("/refused")

    return app


def check(client: t.Any, target: str) -> list[str]:
    """Send ``target`` through ``?next=`` (redirect_back) and ``?to=`` (a view using
    is_safe_url then redirect); what went wrong, as messages (empty if nothing)."""
    problems = []
    for path, param in (("/login", "next"), ("/go", "to")):
        rv = client.get(path, query_string={param: target})
        location = rv.headers.get("Location", "")
        if rv.status_code != 302:
            problems.append(f"{path} {target!r}: status {rv.status_code}")
        elif not stays_on_app(location):
            problems.append(f"{path} {target!r}: Location {location!r} -> {lands_on(location)}")
    return problems


# -- the backslash-userinfo family ---------------------------------------------------------

SCHEMES = ["http:", "https:", "HTTP:", "hTtPs:"]
SLASHES = ["//", "\\\\", "/\\", "\\/"]
#: What stands between the app's host and the ``@``: a backslash a browser reads as
#: the end of the authority, and werkzeug's rewrite turns into user info.
MIDDLES = ["\\", "\\\\", "\\/", "\\x", ":\\", ":80\\", "\\:pw", "\\%40", "%5C"]
#: After the ``@``: the other host, with and without a port, path, query or
#: fragment; ``x:1.evil.com`` is a "port" that is no number (a ValueError in the
#: rewrite, once a 500).
TAILS = [
    "evil.com",
    "evil.com/",
    "evil.com:80/x",
    "x:1.evil.com",
    "x:1.evil.com/",
    "evil.com?q=1",
    "evil.com#f",
    "evil.com\\x",
    "EVIL.com.",
]

FAMILY = [
    f"{scheme}{slashes}{APP_HOST}{middle}@{tail}"
    for scheme, slashes, middle, tail in itertools.product(SCHEMES, SLASHES, MIDDLES, TAILS)
]

MORE = [
    "http://localhost\\@evil.com/",
    "http:\\\\localhost\\@evil.com",
    "http://localhost\\@x:1.evil.com",
    "http://localhost\\\\@evil.com",
    "http://localhost\\@@evil.com",
    "http://localhost\\@evil.com@localhost/",
    "http://localhost/\\@evil.com",  # on the app: the "@" is in the path
    "http://localhost\\@[::1]/",
    "http://localhost\\@127.0.0.1:1/",
    "http://localhost\\@xn--n3h.net/",
    "http://localhost\\@\u2603.net/",
    "http://localhost\\@evil\u3002com/",
    "http://localhost\\@evil%2Ecom/",
    "http://localhost:\\@evil.com/",
    "http://localhost:99999\\@evil.com/",
    "http://localhost\\:@evil.com/",
    "http://localhost\\@:80/",
    "http://localhost\\@/",
    "http://[\\@evil.com/",
    "http://localhost]\\@evil.com/",
    "//localhost\\@evil.com/",
    "\\\\localhost\\@evil.com/",
]


def test_the_family_is_large() -> None:
    assert len(set(FAMILY)) >= 153


@pytest.mark.parametrize("targets", [FAMILY, MORE], ids=["family", "more"])
def test_backslash_userinfo_family(
    redirect_app: kolben.Kolben, client: t.Any, targets: list[str]
) -> None:
    """Not one payload leaves the app's host or gets a 500, under either door."""
    problems = [p for target in targets for p in check(client, target)]
    assert not problems, "\n".join(problems[:40])


def test_backslash_userinfo_from_the_referer(redirect_app: kolben.Kolben, client: t.Any) -> None:
    """The Referer goes through the same check as ``?next=``."""
    problems = []
    for target in [*FAMILY[::7], *MORE]:
        if not target.isascii():
            continue
        rv = client.get("/login", headers={"Referer": target})
        location = rv.headers.get("Location", "")
        if rv.status_code != 302 or not stays_on_app(location):
            problems.append(f"{target!r}: {rv.status_code} {location!r}")
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/account", "/account"),
        ("http://localhost/a?b=1#c", "http://localhost/a?b=1#c"),
        ("https://LOCALHOST/x", "https://localhost/x"),
        ("/caf\u00e9?q=\u00e9", "/caf%C3%A9?q=%C3%A9"),
        ("/a\\b", "/a%5Cb"),
        ("http://localhost\\@evil.com/", "/home"),
        ("http://localhost\\@x:1.evil.com", "/home"),
        ("http://localhost:1x/", "/home"),
    ],
)
def test_the_location_sent(
    redirect_app: kolben.Kolben, client: t.Any, target: str, location: str
) -> None:
    """A safe target is sent in its URI form (what was checked); others fall back."""
    rv = client.get("/login", query_string={"next": target})
    assert (rv.status_code, rv.headers["Location"]) == (302, location)


def test_is_safe_url_judges_what_is_sent(app: kolben.Kolben) -> None:
    with app.test_request_context("/", base_url=f"http://{APP_HOST}"):
        assert not is_safe_url("http://localhost\\@evil.com/")
        assert not is_safe_url("http://localhost\\@x:1.evil.com")
        assert is_safe_url("http://localhost/a\\b")


# -- the property --------------------------------------------------------------------------

PIECES = [
    *("/", "\\", "//", "\\\\", ":", "@", "?", "#", ".", "..", "[", "]", "a", ":80", ":1x"),
    *("http:", "https:", "HTTP:", "ws:", "ftp:", "file:", "javascript:", "data:", "blob:"),
    *("evil.com", "localhost", "LOCALHOST", "localhost.", "x:1.evil.com", "[::1]", "127.0.0.1"),
    *("\uff4cocalhost", "\u2603", "\u0130", "\u00df", "xn--", "xn--n3h", "\u3002", "\uff0e"),
    *("%2F", "%5C", "%5c", "%40", "%3A", "%09", "%0A", "%00", "%20", "%25", "%2e", "%E2%98"),
    *("\t", "\n", "\r", " ", "\x00", "\x01", "\x7f", "\x85", "\u00a0", "\u2028", "\ufeff"),
    *("\uff0f", "\uff3c", "\uff1a", "\uff20"),
]

_no_surrogates = st.characters(exclude_categories=["Cs"])
targets = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map("".join),
    st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["", "http:", "https:", "HTTP:"]),
            st.sampled_from(["", "//", "\\\\", "/\\", "\\/", "/", "\\"]),
            st.sampled_from(["localhost", "LOCALHOST", "", "localhost:80", "evil.com"]),
            st.lists(st.sampled_from(PIECES), max_size=4).map("".join),
            st.sampled_from(["@", "\\@", "%40", ""]),
            st.sampled_from(["evil.com", "x:1.evil.com", "localhost", "", "[::1]"]),
            st.text(_no_surrogates, max_size=6),
        ),
    ),
    st.text(_no_surrogates, max_size=24),
    st.text(alphabet="/\\:@.%25Cc \tlocahst", max_size=20),
)


@settings(
    max_examples=700,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(target=targets)
@example(target="http://localhost\\@evil.com/")
@example(target="http:\\\\localhost\\@evil.com")
@example(target="http://localhost\\@x:1.evil.com")
def test_every_location_sent_stays_on_the_app(
    redirect_app: kolben.Kolben, client: t.Any, target: str
) -> None:
    """Whatever the target, the response is a redirect whose Location a WHATWG
    parser resolves to the app's host."""
    assert not check(client, target)


# -- a real browser ------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

SERVED_APP = """
import kolben
from kolben import redirect_back

app = kolben.Kolben(__name__)


@app.get("/ping")
def ping():
    return "pong"


@app.get("/login")
def login():
    return redirect_back("/home")


@app.get("/home")
@app.get("/landed")
@app.get("/<path:rest>")
def landed(rest=""):
    return "landed"
"""

#: The browser payloads, with ``{app}`` the app's ``127.0.0.1:port`` and
#: ``{other}`` the same server under another host name (``localhost:port``), so
#: an escape is seen without leaving the machine.
BROWSER_PAYLOADS = [
    "http://{app}\\@{other}/landed",
    "http:\\\\{app}\\@{other}/landed",
    "http:/\\{app}\\@{other}/landed",
    "HTTP://{app}\\\\@{other}/landed",
    "http://{app}\\x@{other}/landed",
    "http://{app}%5C@{other}/landed",
    "http://{app}\\@{other}?landed",
    "http://{app}\\@x:1.{other}/landed",
    "//{other}/landed",
    "/\\{other}/landed",
    "/\t/{other}/landed",
    "http://{app}/landed",  # a safe one: followed, on the app
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[t.Any]:
    if not CHROMIUM.exists():
        message = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: it is required)", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        browser = running.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        try:
            yield browser
        finally:
            browser.close()


def served(kind: str, folder: Path, port: int) -> ServerProcess:
    py = sys.executable
    if kind == "asgi":
        command = [
            *(py, "-m", "uvicorn", "redirect_app:app", "--app-dir", str(folder)),
            *("--host", HOST, "--port", str(port), "--log-level", "warning"),
        ]
    else:
        command = [
            *(py, "-m", "gunicorn", "-w", "1", "-b", f"{HOST}:{port}"),
            *("--chdir", str(folder), "redirect_app:app"),
        ]
    return ServerProcess(
        command,
        name=kind,
        cwd=folder,
        env=server_env(pythonpath=[folder]),
        log_path=folder / f"{kind}.log",
        ready=lambda: answers(port, "/ping"),
    )


@pytest.mark.browser
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_chromium_stays_on_the_app(chromium: t.Any, tmp_path: Path, kind: str) -> None:
    """Chromium, sent to ``/login?next=<payload>``, ends on the app's host."""
    (tmp_path / "redirect_app.py").write_text(textwrap.dedent(SERVED_APP))
    port = free_port()
    app_host, other = f"{HOST}:{port}", f"localhost:{port}"
    with served(kind, tmp_path, port):
        page = chromium.new_page()
        try:
            ended = []
            for payload in BROWSER_PAYLOADS:
                target = payload.format(app=app_host, other=other)
                page.goto(f"http://{app_host}/login?next={quote(target, safe='')}")
                ended.append((target, URL(page.url).host, page.content()))
        finally:
            page.close()
    escaped = [(target, host) for target, host, _ in ended if host != app_host]
    assert not escaped
    assert all("landed" in body for _, _, body in ended)
