"""is_safe_url and redirect_back: the payloads that lead browsers off-site, a
property-based test against a model of how a browser resolves a link, and
redirect_back through both front doors."""

from __future__ import annotations

import typing as t
import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import kolben
from kolben import is_safe_url, redirect_back

# -- a model of the browser ------------------------------------------------------------

BASE_SCHEME = "http"
BASE_HOST = "localhost"
SPECIAL = {"ftp", "file", "http", "https", "ws", "wss"}
C0_OR_SPACE = "".join(chr(i) for i in range(0x21))


def browser_target(href: str) -> tuple[str, str | None] | None:
    """Where a browser on ``http://localhost/dir/page?q=1`` goes for ``href``:
    ``(scheme, host)``, ``host`` None for a non-hierarchical URL (``javascript:``,
    ``data:``, ``file:``), or None when the URL fails to parse.

    A model of the WHATWG URL Standard's basic URL parser (the one browsers use
    for links and Location headers) reduced to the question "which host?":

    - leading and trailing C0 controls and spaces are trimmed, and every ASCII
      tab, LF and CR anywhere is removed, before parsing;
    - a scheme is ``ALPHA *(ALPHA / DIGIT / "+" / "-" / ".")`` then ``:``,
      compared lowercase;
    - a special scheme equal to the base's (``http:``) continues as a relative
      reference ("special relative or authority state"); another special scheme
      reads an authority after skipping any run of ``/`` and ``\\`` ("special
      authority slashes" / "ignore slashes" states), even none (``https:host``);
    - a relative reference starting with two characters out of ``/`` and ``\\``
      (in any mix) is a host ("relative slash state" -> "special authority
      ignore slashes state"); anything else keeps the base's host;
    - the authority ends at ``/``, ``\\``, ``?`` or ``#``; the host is after the
      last ``@`` and before the port; it is percent-decoded, then mapped roughly
      as UTS #46 does (NFKC, lowercase, ideographic full stops to ``.``). The
      mapping needs only to be right for hosts that could come out as
      ``localhost``; any other result counts as another host.
    """
    href = href.strip(C0_OR_SPACE)
    href = href.replace("\t", "").replace("\n", "").replace("\r", "")
    scheme = None
    for i, ch in enumerate(href):
        if ch == ":" and i > 0:
            scheme = href[:i].lower()
            break
        if not (ch.isascii() and (ch.isalpha() or (i > 0 and (ch.isdigit() or ch in "+-.")))):
            break
    if scheme is None:
        return _relative(href)
    rest = href[len(scheme) + 1 :]
    if scheme not in SPECIAL or scheme == "file":
        return scheme, None
    if scheme == BASE_SCHEME:
        return _relative(rest)
    return _authority(scheme, rest.lstrip("/\\"))


def _relative(ref: str) -> tuple[str, str | None] | None:
    if len(ref) >= 2 and ref[0] in "/\\" and ref[1] in "/\\":
        return _authority(BASE_SCHEME, ref.lstrip("/\\"))
    return BASE_SCHEME, BASE_HOST


def _authority(scheme: str, rest: str) -> tuple[str, str | None] | None:
    end = len(rest)
    for mark in "/\\?#":
        found = rest.find(mark)
        if found != -1:
            end = min(end, found)
    hostport = rest[:end].rpartition("@")[2]
    if hostport.startswith("["):
        host = hostport.partition("]")[0] + "]"
    else:
        host = hostport.partition(":")[0]
    host = unquote(host)
    host = unicodedata.normalize("NFKC", host).lower()
    for stop in "\u3002\uff0e\uff61":
        host = host.replace(stop, ".")
    if not host:
        return None  # a URL with an empty host fails to parse: no navigation
    return scheme, host


def stays_here(href: str) -> bool:
    """The browser model says ``href`` keeps the user on this host (or fails)."""
    where = browser_target(href)
    return where is None or (where[0] in ("http", "https") and where[1] == BASE_HOST)


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("/a", ("http", "localhost")),
        ("//evil.com/x", ("http", "evil.com")),
        ("/\\evil.com", ("http", "evil.com")),
        ("\\\\evil.com", ("http", "evil.com")),
        ("///evil.com", ("http", "evil.com")),
        ("http:/\\/evil.com", ("http", "evil.com")),
        ("http:evil.com", ("http", "localhost")),  # same scheme: a relative path
        ("https:evil.com", ("https", "evil.com")),
        (" \x01/\t/evil.com", ("http", "evil.com")),
        ("HTTP://user@EVIL.com:80/", ("http", "evil.com")),
        ("http://%65vil.com", ("http", "evil.com")),
        ("http://localhost\\@evil.com", ("http", "localhost")),
        ("javascript:alert(1)", ("javascript", None)),
        ("http://", None),
    ],
)
def test_the_browser_model(href: str, expected: t.Any) -> None:
    """Spot checks of the model against what the WHATWG parser gives (as in
    ``new URL(href, "http://localhost/dir/page?q=1")`` in a browser)."""
    assert browser_target(href) == expected


# -- is_safe_url ------------------------------------------------------------------------


@pytest.fixture
def here(app: kolben.Kolben) -> t.Iterator[None]:
    with app.test_request_context("/dir/page?q=1", base_url="http://localhost"):
        yield


SAFE = [
    "/",
    "/account",
    "/dir/page?q=2#top",
    "page2",
    "?tab=2",
    "#section",
    "http://localhost/account",
    "https://LOCALHOST/account",
    "/search?q=http://evil.com",
    "/search?next=%2F%2Fevil.com",  # a query argument, not where the path goes
    "/caf%C3%A9",
    "/café",
    "/a b",
    "/files/a%2Fb",
    "/a\\b?c=\\\\x",  # a backslash in a path is a slash: still this host
]

UNSAFE = [
    "",
    "http://evil.com",
    "https://evil.com/login",
    "//evil.com",
    "//localhost@evil.com",
    "http://localhost@evil.com/",
    "http://localhost:@evil.com/",
    "http://localhost.evil.com/",
    "http://localhost:8080/",
    "http://evil.com\\@localhost/",
    "/\\evil.com",
    "\\\\evil.com",
    "\\/evil.com",
    "///evil.com",
    "////evil.com",
    "http:/\\/evil.com",
    "http:\\\\evil.com",
    "http:///evil.com",
    "http:/evil.com",
    "http:evil.com",
    "https:evil.com",
    "https:/evil.com",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://evil.com/",
    " //evil.com",
    "\x00//evil.com",
    "\x1f//evil.com",
    "\t//evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "/\r\n/evil.com",
    "\u00a0//evil.com",
    "/account ",
    "\x85/account",
    "%2F%2Fevil.com",
    "%2f%2fevil.com",
    "/%2Fevil.com",
    "/%5Cevil.com",
    "%5C%5Cevil.com",
    "%252F%252Fevil.com",
    "%25252F%25252Fevil.com",
    "%09//evil.com",
    "/%09/evil.com",
    "%00//evil.com",
    "http%3A//evil.com",
    "javascript%3Aalert(1)",
    "%6Aavascript:alert(1)",
    "http://%6Cocalhost@evil.com",
]


@pytest.mark.parametrize("target", SAFE)
def test_safe_targets(here: None, target: str) -> None:
    assert is_safe_url(target)
    assert stays_here(target)


@pytest.mark.parametrize("target", UNSAFE)
def test_unsafe_targets(here: None, target: str) -> None:
    assert not is_safe_url(target)


def test_non_strings_are_not_safe(here: None) -> None:
    assert not is_safe_url(None)
    assert not is_safe_url(b"/account")  # type: ignore[arg-type]


def test_is_safe_url_needs_a_request() -> None:
    with pytest.raises(RuntimeError, match="needs a request context"):
        is_safe_url("/")


# -- the property ------------------------------------------------------------------------

_app = kolben.Kolben(__name__)

PIECES = [
    *("/", "\\", "//", "\\\\", ":", "@", "?", "#", ".", "..", "a", "x", ":80", "[::1]"),
    *("http:", "https:", "HTTP:", "hTtPs:", "ws:", "ftp:", "file:", "javascript:", "data:"),
    *("evil.com", "localhost", "LOCALHOST", "localhost.", "\uff4cocalhost", "\uff45vil"),
    *("%2F", "%2f", "%5C", "%5c", "%40", "%3A", "%09", "%0A", "%0d", "%00", "%20"),
    *("%25", "%252F", "%6C", "%2e", "%3F", "%23"),
    *("\t", "\n", "\r", " ", "\x00", "\x01", "\x1f", "\x7f", "\x85", "\u00a0", "\u2028"),
    # fullwidth / \ . : @ and the ideographic full stop
    *("\uff0f", "\uff3c", "\u3002", "\uff0e", "\uff1a", "\uff20"),
]

targets = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=10).map("".join),
    st.text(max_size=24),
    st.text(alphabet="/\\:@.%2FfC5c \t", max_size=16),
)


def decodings(href: str) -> list[str]:
    """``href`` and what percent-decoding makes of it, up to a fixed point."""
    rv = [href]
    for _ in range(6):
        nxt = unquote(rv[-1])
        if nxt == rv[-1]:
            break
        rv.append(nxt)
    return rv


@settings(
    max_examples=3000,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(targets)
@example("/\\evil.com")
@example("http:/\\/evil.com")
@example("%2F%2Fevil.com")
def test_no_accepted_target_leaves_the_host(target: str) -> None:
    """Whatever is accepted stays on this host in the browser model, however
    many times a proxy or a later redirect percent-decodes it first."""
    with _app.test_request_context("/dir/page?q=1"):
        accepted = is_safe_url(target)
    if accepted:
        for spelling in decodings(target):
            assert stays_here(spelling), (target, spelling, browser_target(spelling))


# -- redirect_back -------------------------------------------------------------------------


@pytest.fixture
def login_app(app: kolben.Kolben) -> kolben.Kolben:
    @app.route("/login", methods=["GET", "POST"])
    def login() -> t.Any:
        return redirect_back("/home")

    @app.get("/to")
    def to() -> t.Any:
        return redirect_back("/home", param="to", code=303)

    return app


@pytest.mark.parametrize(
    ("query", "referer", "location"),
    [
        ("?next=/account", None, "/account"),
        ("?next=/account?tab=2", "http://localhost/prev", "/account?tab=2"),
        ("", "http://localhost/prev?x=1", "http://localhost/prev?x=1"),
        ("", None, "/home"),
        ("?next=//evil.com", None, "/home"),
        ("?next=//evil.com", "http://localhost/prev", "http://localhost/prev"),
        ("?next=https://evil.com/", "https://evil.com/", "/home"),
        ("?next=%2F%5Cevil.com", None, "/home"),
        ("?next=javascript:alert(1)", None, "/home"),
        ("", "http://evil.com/", "/home"),
        # Never back to the current page (a login form would loop).
        ("?next=/login", None, "/home"),
        ("?next=/login?next=/x", None, "/home"),
        ("?next=%3Fnext%3D%2Fx", None, "/home"),
        ("", "http://localhost/login?next=/x", "/home"),
        ("?next=/login/", None, "/login/"),
    ],
)
def test_redirect_back(
    login_app: kolben.Kolben,
    client: t.Any,
    query: str,
    referer: str | None,
    location: str,
) -> None:
    headers = {"Referer": referer} if referer else {}
    for method in (client.get, client.post):
        rv = method(f"/login{query}", headers=headers)
        assert rv.status_code == 302
        assert rv.headers["Location"] == location


def test_redirect_back_param_and_code(login_app: kolben.Kolben, client: t.Any) -> None:
    rv = client.get("/to?to=/account&next=/other")
    assert (rv.status_code, rv.headers["Location"]) == (303, "/account")
    rv = client.get("/to?next=/other")
    assert (rv.status_code, rv.headers["Location"]) == (303, "/home")


def test_redirect_back_uses_the_request_host(login_app: kolben.Kolben, client: t.Any) -> None:
    rv = client.get("/login?next=http://example.org:8080/x", base_url="http://example.org:8080")
    assert rv.headers["Location"] == "http://example.org:8080/x"
    rv = client.get("/login?next=http://example.org/x", base_url="http://example.org:8080")
    assert rv.headers["Location"] == "/home"


def test_redirect_back_needs_a_request() -> None:
    with pytest.raises(RuntimeError, match="needs a request context"):
        redirect_back("/")
