"""Guards for the private (or undocumented) parts of libraries that kolben uses.

Each test checks the library itself, not kolben: that the private still exists
and has the shape and meaning kolben relies on. When one fails after a library
upgrade, the kolben module named in its docstring must be looked at again (and
the version bound in ``pyproject.toml`` moved only once it is). The list, with
what breaks when each private changes, is in ``docs/architecture.md`` ("Library
privates").
"""

from __future__ import annotations

import asyncio
import codecs
import copy
import functools
import inspect
import json
import socket
import sys
import threading
import types
import zlib
from contextvars import ContextVar
from urllib.parse import parse_qsl

import blinker
import itsdangerous
import pytest
from itsdangerous.encoding import (
    base64_decode,
    base64_encode,
    bytes_to_int,
    int_to_bytes,
    want_bytes,
)
from itsdangerous.signer import HMACAlgorithm
from itsdangerous.url_safe import URLSafeSerializerMixin
from jinja2 import FileSystemLoader, PackageLoader
from jinja2.exceptions import TemplateNotFound, TemplatesNotFound
from werkzeug.datastructures import EnvironHeaders, Headers
from werkzeug.local import LocalProxy
from werkzeug.routing import Map, Rule
from werkzeug.routing.matcher import State, StateMachineMatcher
from werkzeug.routing.rules import RulePart
from werkzeug.test import Client, create_environ
from werkzeug.utils import cached_property, send_file, send_from_directory
from werkzeug.wrappers import Request, Response

# --- werkzeug: Headers._list -------------------------------------------------------------


def test_headers_list_is_the_storage_of_headers():
    """``Headers._list``: kolben._werkzeug_fast (``from_body`` makes Headers with
    ``object.__new__`` and assigns it,
    ``add_vary_cookie`` scans and appends to it) and kolben.wrappers
    (``Response.get_wsgi_headers`` scans it) use it as the one list of ``(key, value)`` pairs
    every other method reads."""
    headers = Headers()
    assert vars(headers) == {"_list": []}  # no other state to keep in step
    # from_body makes Headers without __init__ when that holds (checked at import).
    from kolben._werkzeug_fast import _HEADERS_ARE_A_LIST

    assert _HEADERS_ARE_A_LIST
    headers.add("X-A", "1")
    headers.set("Content-Type", "text/plain")
    assert headers._list == [("X-A", "1"), ("Content-Type", "text/plain")]
    assert all(type(item) is tuple for item in headers._list)

    headers = Headers()
    headers._list = [("Content-Type", "text/html"), ("Content-Length", "3")]
    assert headers.get("content-length") == "3"
    assert headers["Content-Type"] == "text/html"
    assert list(headers.items()) == [("Content-Type", "text/html"), ("Content-Length", "3")]
    assert headers.to_wsgi_list() == [("Content-Type", "text/html"), ("Content-Length", "3")]
    assert len(headers) == 2

    headers._list.append(("Vary", "Cookie"))
    assert headers.get("vary") == "Cookie"
    assert headers.getlist("Vary") == ["Cookie"]
    assert "vary" in headers


def test_a_plain_response_has_plain_headers():
    """kolben._werkzeug_fast (``add_vary_cookie``) takes the ``Headers._list`` path only
    when ``type(response.headers) is Headers``: werkzeug's responses must keep
    using that class, or the fast path is never taken."""
    assert type(Response("x").headers) is Headers
    assert type(Response("x", headers={"A": "b"}).headers) is Headers


# --- werkzeug: Response._status, _status_code, _on_close, _clean_status -----------------


def test_response_state_is_what_from_body_builds():
    """``Response._status``, ``_status_code``, ``_on_close``: kolben._werkzeug_fast
    (``from_body``, which is ``Response.from_body``) builds a response without
    ``__init__`` by setting exactly these attributes (and ``headers``, ``direct_passthrough``,
    ``response``); it is verified once per class against the constructor, and a
    difference makes it fall back to the constructor."""
    rv = Response("x\u00e9")
    assert sorted(vars(rv)) == [
        "_on_close",
        "_status",
        "_status_code",
        "direct_passthrough",
        "headers",
        "response",
    ]
    assert (rv._status, rv._status_code, rv._on_close) == ("200 OK", 200, [])
    assert rv.response == ["x\u00e9".encode()]


def test_status_properties_read_the_private_attributes():
    """``Response.status`` / ``status_code`` read ``_status`` / ``_status_code``,
    and the setter stores what ``_clean_status`` returns: kolben._werkzeug_fast
    (``from_body`` sets the privates; a subclass overriding ``_clean_status`` is
    kept off that path by ``_check_fast_response_init``)."""
    rv = Response.__new__(Response)
    rv._status, rv._status_code = "201 CREATED", 201
    assert rv.status == "201 CREATED"
    assert rv.status_code == 201

    class Shouting(Response):
        def _clean_status(self, value):
            status, code = super()._clean_status(value)
            return status.upper(), code

    rv = Shouting("x", status=404)
    assert rv._status == "404 NOT FOUND"
    rv.status = "418 i'm a teapot"
    assert (rv.status, rv._status_code) == ("418 I'M A TEAPOT", 418)


def test_on_close_holds_the_callbacks_close_runs():
    """``Response._on_close``: kolben.wrappers (``Response.get_app_iter``) hands
    a one-chunk body to the server as it is only when ``_on_close`` is empty, so
    ``call_on_close`` must append there and ``close()`` must run what is there."""
    rv = Response("x")
    called = []

    def first():
        called.append("first")

    assert rv.call_on_close(first) is first
    assert rv._on_close == [first]
    rv._on_close.append(lambda: called.append("second"))
    rv.close()
    assert called == ["first", "second"]


# --- werkzeug: Request construction and form loading ------------------------------------


def test_request_constructor_state():
    """kolben._werkzeug_fast (``make_request`` / ``_build_request``) sets these
    attributes instead of calling ``Request.__init__`` (verified per class
    against the constructor, with a fallback): the constructor must set exactly
    them, with an ``EnvironHeaders`` view, and register the request in
    ``environ["werkzeug.request"]`` (which kolben.ctx clears on pop)."""
    environ = create_environ("/a/b?x=1", "http://localhost:8000/root/")
    req = Request(environ)
    assert sorted(vars(req)) == [
        "environ",
        "headers",
        "method",
        "path",
        "query_string",
        "remote_addr",
        "root_path",
        "scheme",
        "server",
        "shallow",
    ]
    assert type(req.headers) is EnvironHeaders
    assert req.headers.environ is environ
    assert environ["werkzeug.request"] is req
    assert (req.method, req.scheme, req.server) == ("GET", "http", ("localhost", 8000))
    assert (req.root_path, req.path, req.query_string) == ("/root", "/a/b", b"x=1")
    assert req.shallow is False


def _post(body, content_type="application/x-www-form-urlencoded"):
    return create_environ("/", method="POST", data=body, content_type=content_type)


def test_form_files_and_stream_are_cached_in_the_instance_dict():
    """``Request._load_form_data`` stores ``stream``, ``form`` and ``files`` in the
    instance ``__dict__`` (werkzeug's ``cached_property`` reads them from there)
    and returns at once when ``"form"`` is already there: kolben._werkzeug_fast's
    ``load_urlencoded_form`` (urlencoded fast path) writes the three the same
    way, and ``Request.iter_body`` looks for ``"stream"`` in ``__dict__``."""
    for name in ("form", "files", "stream"):
        assert type(Request.__dict__[name]) is cached_property
    req = Request(_post(b"a=1&b=2"))
    assert not {"form", "files", "stream"} & set(vars(req))
    assert req.form["a"] == "1"
    assert {"form", "files", "stream"} <= set(vars(req))

    req = Request(_post(b"a=1"))
    marker = object()
    req.__dict__["form"] = marker
    req._load_form_data()  # already loaded: nothing read, nothing replaced
    assert req.form is marker
    assert "files" not in vars(req)


def test_load_form_data_is_what_form_files_and_values_call():
    """``Request._load_form_data`` is the one hook ``form``, ``files``, ``values``
    and ``get_data(parse_form_data=True)`` go through: kolben.wrappers overrides
    it (urlencoded fast path, ``MAX_FORM_PARTS`` for urlencoded forms, the
    debug-mode files check); werkzeug renaming it would silently bypass all of
    that."""
    calls = []

    class Tracing(Request):
        def _load_form_data(self):
            calls.append("load")
            super()._load_form_data()

    for read in (
        lambda r: r.form,
        lambda r: r.files,
        lambda r: r.values,
        lambda r: r.get_data(parse_form_data=True),
    ):
        calls.clear()
        read(Tracing(_post(b"a=1")))
        assert calls == ["load"]


def test_get_stream_for_parsing():
    """``Request._get_stream_for_parsing()``: kolben._werkzeug_fast's urlencoded fast
    path reads the body through it, as werkzeug's parser does: the input
    stream, or the body already read by ``get_data()`` again."""
    req = Request(_post(b"a=1&b=2"))
    assert req._get_stream_for_parsing() is req.stream
    req = Request(_post(b"a=1&b=2"))
    assert req.get_data() == b"a=1&b=2"
    assert req._get_stream_for_parsing().read() == b"a=1&b=2"
    assert req.form.to_dict() == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    "body",
    [b"a=%FF&b=%C3%A9+x&c", b"x=%e9%zz&y=%&&z=1+2", b"%FF%FE=%C3", b"a=b=c&&=d"],
)
def test_url_quote_error_handler(body):
    """The ``"werkzeug.url_quote"`` codec error handler (registered when werkzeug
    is imported): kolben._werkzeug_fast's urlencoded fast path parses with
    ``parse_qsl(..., errors="werkzeug.url_quote")`` and must give werkzeug's own
    parser's result, bad UTF-8 included."""
    assert callable(codecs.lookup_error("werkzeug.url_quote"))
    expected = list(Request(_post(body)).form.items(multi=True))
    ours = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote")
    assert ours == expected


def test_files_multidict_takes_a_subclass_and_attributes():
    """kolben.debughelpers (``attach_enctype_error_multidict``, debug mode) turns
    ``request.files`` into an instance of a subclass in place (``__class__``
    assignment) and stores the request on it: werkzeug's ``files`` must stay an
    instance with a ``__dict__`` (no ``__slots__``), whose class may be
    swapped for a subclass that adds none."""
    files = Request(_post(b"a=1")).files

    class Explaining(type(files)):
        def __getitem__(self, key):
            return super().__getitem__(key)

    files.__class__ = Explaining
    files._kolben_request = "the request"
    assert isinstance(files, Explaining)
    assert vars(files) == {"_kolben_request": "the request"}
    with pytest.raises(KeyError):
        files["a"]


# --- werkzeug: routing internals (Map, StateMachineMatcher, Rule, MapAdapter) -----------


def test_map_remap_flag():
    """``Map._remap``: True after a rule is added, False once ``update()`` ran
    (``MapAdapter.match`` and ``build`` call it). kolben.matching (``match_request``
    forgets the matches it remembered) and kolben.router (recompiles) read it to
    learn that rules were added."""
    url_map = Map([Rule("/a", endpoint="a")])
    assert url_map._remap is True
    url_map.update()
    assert url_map._remap is False
    url_map.add(Rule("/b", endpoint="b"))
    assert url_map._remap is True
    url_map.bind("example.test").match("/a")
    assert url_map._remap is False


def test_map_rules_by_endpoint():
    """``Map._rules_by_endpoint``: a dict of endpoint -> rules in the order
    ``get_default_redirect`` looks at them. kolben.router counts its endpoints to
    notice added rules and reads an endpoint's rules to know which may redirect
    (``redirect_defaults``)."""
    first = Rule("/a/", endpoint="a", defaults={"page": 1})
    second = Rule("/a/<int:page>", endpoint="a")
    other = Rule("/b", endpoint="b")
    url_map = Map([first, second, other])
    url_map.update()
    assert type(url_map._rules_by_endpoint) is dict
    assert url_map._rules_by_endpoint == {"a": [first, second], "b": [other]}
    url_map.add(Rule("/c", endpoint="c"))
    assert len(url_map._rules_by_endpoint) == 3
    assert first.provides_defaults_for(second)
    with pytest.raises(Exception) as info:  # RequestRedirect, from the order above
        url_map.bind("example.test").match("/a/1")
    assert info.value.new_url == "http://example.test/a/"


def test_map_matcher_is_the_rule_tree_match_walks():
    """``Map._matcher`` (a ``StateMachineMatcher``), its ``_root`` ``State`` and
    the ``State`` fields: kolben.router compiles that tree into regular
    expressions and must see exactly what ``MapAdapter.match`` walks."""
    url_map = Map([Rule("/a/<int:n>", endpoint="a"), Rule("/b", endpoint="b")])
    url_map.update()
    matcher = url_map._matcher
    assert type(matcher) is StateMachineMatcher
    root = matcher._root
    assert isinstance(root, State)
    assert {f for f in State.__dataclass_fields__} == {"dynamic", "rules", "static"}
    assert isinstance(root.static, dict) and isinstance(root.dynamic, list)
    assert isinstance(root.rules, list)

    walked = []
    original = matcher.match

    def spy(*args):
        walked.append(args)
        return original(*args)

    matcher.match = spy
    rule, args = url_map.bind("example.test").match("/a/3", "GET", return_rule=True)
    assert (rule.endpoint, args) == ("a", {"n": 3})
    # (domain part: the subdomain, "" here, without host matching)
    assert walked == [("", "/a/3", "GET", False)]


def test_rule_parts_in_the_tree():
    """``RulePart`` (content, final, static, suffixed, weight) and its regex
    conventions (groups named ``__werkzeug_<n>`` in order, ``\\Z`` at the end,
    ``(?<!/)(/?)\\Z`` for a path converter before a trailing slash), and the
    tree's layout (the domain, then one state per path part): kolben.router
    reads them to build its expressions."""
    url_map = Map(
        [
            Rule("/a/<int:n>/x<name>y", endpoint="a"),
            Rule("/f/<path:rest>/", endpoint="f"),
        ]
    )
    url_map.update()
    root = url_map._matcher._root
    a = root.static[""].static[""].static["a"]
    part, state = a.dynamic[0]
    assert isinstance(part, RulePart)
    assert (part.content, part.final, part.static, part.suffixed) == (
        r"(?P<__werkzeug_0>\d+)\Z",
        False,
        False,
        False,
    )
    assert part.weight is not None
    part, state = state.dynamic[0]
    assert part.content == r"x(?P<__werkzeug_0>[^/]{1,})y\Z"
    assert [r.endpoint for r in state.rules] == ["a"]
    f = root.static[""].static[""].static["f"]
    part, state = f.dynamic[0]
    assert part.final and part.suffixed
    assert part.content == r"(?P<__werkzeug_0>[^/].*?)(?<!/)(/?)\Z"


def test_update_sorts_dynamic_transitions_by_weight():
    """``StateMachineMatcher.update()`` (called by ``Map.update()``) sorts each
    state's dynamic transitions by ``RulePart.weight``: kolben.router calls
    ``update()`` before compiling and orders its alternatives as they are."""
    url_map = Map(
        [
            Rule("/<path:p>", endpoint="path"),
            Rule("/<name>", endpoint="name"),
            Rule("/<int:n>", endpoint="int"),
        ]
    )
    url_map.update()
    dynamic = url_map._matcher._root.static[""].static[""].dynamic
    weights = [part.weight for part, _ in dynamic]
    assert weights == sorted(weights)
    assert [s.rules[0].endpoint for _, s in dynamic] == ["int", "name", "path"]


def test_rule_converters():
    """``Rule._converters``: the rule's variables -> converter instances, in the
    order of the variables; werkzeug converts matched values with their
    ``to_python``. kolben.router zips them with its groups and calls
    ``to_python`` itself."""
    rule = Rule("/u/<int:uid>/<name>/<float:f>", endpoint="u")
    Map([rule])
    assert list(rule._converters) == ["uid", "name", "f"]
    assert rule._converters["uid"].to_python("42") == 42
    assert rule._converters["f"].to_python("1.5") == 1.5
    assert rule.arguments == {"uid", "name", "f"}


def test_map_adapter_attributes_and_copies():
    """``MapAdapter`` attributes ``map``, ``server_name``, ``subdomain``,
    ``default_method``, ``websocket``, ``path_info``, ``query_args``: kolben.router
    reads them as ``match`` does, and kolben.routing (``rebind``) makes a request's
    adapter as a ``copy.copy`` of a cached one with its own path, method and
    query, which ``match()`` and ``build`` must then use."""
    url_map = Map([Rule("/a/<int:n>", endpoint="a", methods=["POST"])])
    adapter = url_map.bind("example.test", subdomain="", url_scheme="http")
    assert adapter.map is url_map
    assert (adapter.server_name, adapter.subdomain) == ("example.test", "")
    assert (adapter.default_method, adapter.websocket) == ("GET", False)
    bound = copy.copy(adapter)
    bound.path_info = "/a/7"
    bound.default_method = "POST"
    bound.query_args = "q=1"
    assert bound.match() == ("a", {"n": 7})
    assert adapter.path_info == "/"
    assert bound.build("a", {"n": 8}, method="POST") == "/a/8"
    assert "websocket" in vars(adapter)  # set from the scheme, not a property


def test_bind_to_environ_reads_only_the_origin():
    """kolben.routing (``AdapterCache.key``) reuses one adapter for every request
    with the same ``HTTP_HOST``, ``SERVER_NAME``, ``SERVER_PORT``,
    ``wsgi.url_scheme`` and ``SCRIPT_NAME``: the rest of the environ (path,
    method, query, other headers) must not change what ``bind_to_environ``
    binds, besides ``path_info``, ``default_method`` and ``query_args``."""
    url_map = Map([Rule("/", endpoint="i")])

    def bound(**overrides):
        environ = create_environ("/", "http://h.test/app/")
        environ.update(overrides)
        adapter = url_map.bind_to_environ(environ)
        state = dict(vars(adapter))
        for name in ("path_info", "default_method", "query_args"):
            state.pop(name)
        return state

    base = bound()
    assert bound(
        PATH_INFO="/other",
        REQUEST_METHOD="POST",
        QUERY_STRING="a=1",
        HTTP_COOKIE="c=1",
        REMOTE_ADDR="10.0.0.1",
        CONTENT_TYPE="text/plain",
        HTTP_X_FORWARDED_HOST="evil.test",
    ) == base
    assert bound(HTTP_HOST="other.test") != base
    assert bound(SCRIPT_NAME="/x") != base
    assert bound(**{"wsgi.url_scheme": "https"}) != base


# --- werkzeug: the test client's cookie jar ---------------------------------------------


def test_client_cookie_jar():
    """``Client._cookies``, ``_add_cookies_to_wsgi`` and
    ``_update_cookies_from_response`` (marked ``:meta private:``): kolben.testing
    (``session_transaction``, ``CookiesDisabledError``) and
    kolben.websocket_testing (the handshake carries the client's cookies, a
    refusal's Set-Cookie is stored) use them as werkzeug's own ``open`` does."""
    assert Client(Response, use_cookies=False)._cookies is None
    client = Client(Response)
    assert client._cookies == {}
    client._update_cookies_from_response("a.test", "/", ["s=1; Path=/", "t=2; Path=/sub"])
    assert client.get_cookie("s", domain="a.test").value == "1"

    environ = create_environ("/", "http://a.test/")
    client._add_cookies_to_wsgi(environ)
    assert environ["HTTP_COOKIE"] == "s=1"
    environ = create_environ("/sub/x", "http://a.test/")
    client._add_cookies_to_wsgi(environ)
    assert sorted(environ["HTTP_COOKIE"].split("; ")) == ["s=1", "t=2"]
    environ = create_environ("/", "http://other.test/")
    client._add_cookies_to_wsgi(environ)
    assert "HTTP_COOKIE" not in environ

    client._update_cookies_from_response("a.test", "/", ["s=; Path=/; Max-Age=0"])
    assert client.get_cookie("s", domain="a.test") is None
    disabled = Client(Response, use_cookies=False)
    environ = create_environ("/")
    disabled._add_cookies_to_wsgi(environ)  # a no-op, not an error
    disabled._update_cookies_from_response("localhost", "/", ["s=1"])
    assert "HTTP_COOKIE" not in environ


# --- werkzeug: send_file(_root_path=...) ------------------------------------------------


def test_send_file_root_path(tmp_path):
    """``send_file(..., _root_path=...)`` and ``send_from_directory(...,
    _root_path=...)`` ("for internal use only", Flask's): kolben.helpers passes
    the app's ``root_path`` so relative paths are relative to it."""
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.txt").write_text("from root path")
    environ = create_environ("/")
    rv = send_file("files/a.txt", environ, _root_path=str(tmp_path))
    rv.direct_passthrough = False
    assert rv.get_data() == b"from root path"
    rv.close()
    rv = send_from_directory("files", "a.txt", environ, _root_path=str(tmp_path))
    rv.direct_passthrough = False
    assert rv.get_data() == b"from root path"
    rv.close()


# --- werkzeug: LocalProxy ---------------------------------------------------------------


def test_local_proxy_subclass_with_its_own_attribute_access():
    """kolben.globals (``_GlobalsProxy``, the ``g`` proxy) subclasses
    ``LocalProxy`` with ``__slots__ = ()`` and its own ``__getattr__`` /
    ``__setattr__``: werkzeug's ``__init__`` must store its state with
    ``object.__setattr__`` (not through the subclass's ``__setattr__``). kolben
    (helpers, cli, logging tests) also calls ``_get_current_object()``."""
    var: ContextVar[types.SimpleNamespace] = ContextVar("guard")
    writes = []

    class Direct(LocalProxy):
        __slots__ = ()

        def __getattr__(self, name):
            return getattr(var.get().g, name)

        def __setattr__(self, name, value):
            writes.append(name)
            setattr(var.get().g, name, value)

    proxy = Direct(var, "g", unbound_message="unbound")
    assert writes == []  # constructing it wrote nothing through __setattr__
    ns = types.SimpleNamespace(g=types.SimpleNamespace())
    token = var.set(ns)
    try:
        proxy.user = "ann"
        assert writes == ["user"]
        assert ns.g.user == "ann"
        assert proxy.user == "ann"
        assert proxy._get_current_object() is ns.g
    finally:
        var.reset(token)
    with pytest.raises(RuntimeError, match="unbound"):
        proxy._get_current_object()


# --- werkzeug.serving: undocumented helpers ---------------------------------------------


def test_serving_address_helpers():
    """``werkzeug.serving.select_address_family`` and ``get_sockaddr``
    (undocumented): kolben.cli (``_check_address``) binds a socket with them to
    say clearly that a port is in use before starting the server."""
    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family("127.0.0.1", 5000)
    assert family == socket.AF_INET
    assert get_sockaddr("127.0.0.1", 5000, family) == ("127.0.0.1", 5000)
    assert select_address_family("::1", 5000) == socket.AF_INET6


# --- itsdangerous -----------------------------------------------------------------------


def test_timestamp_signer_format():
    """``TimestampSigner.sign``: ``value . base64(int_to_bytes(ts)) .
    signature(value . ts)``, with the undocumented ``want_bytes``,
    ``int_to_bytes`` and ``bytes_to_int`` of ``itsdangerous.encoding``:
    kolben._itsdangerous_fast (``SessionSigner.sign_now``) builds the same signed
    value without parsing the timestamp back, and ``SessionSerializer.dumps`` reads it
    back with ``bytes_to_int`` for other signers."""
    signer = itsdangerous.TimestampSigner("secret", salt="cookie-session")
    signer.get_timestamp = lambda: 1_700_000_000
    signed = signer.sign(b"payload")
    sep = want_bytes(signer.sep)
    stamp = base64_encode(int_to_bytes(1_700_000_000))
    assert signed == b"payload" + sep + stamp + sep + signer.get_signature(b"payload" + sep + stamp)
    assert bytes_to_int(base64_decode(signed.rsplit(b".", 2)[1])) == 1_700_000_000
    assert want_bytes("é") == "é".encode()
    assert bytes_to_int(int_to_bytes(2**40 + 5)) == 2**40 + 5


def test_signer_derives_its_key_through_derive_key():
    """``Signer.get_signature`` uses ``self.derive_key()`` and
    ``self.algorithm.get_signature(key, value)``; ``unsign`` derives the key of
    each secret key it tries; ``HMACAlgorithm.digest_method`` holds the digest.
    kolben._itsdangerous_fast (``SessionSigner``) and kolben.server_sessions
    (``_IdSigner``) remember derived keys by overriding ``derive_key``, and
    ``SessionSigner`` swaps ``self.algorithm`` for one using ``hmac.digest``."""
    derived = []

    class Counting(itsdangerous.TimestampSigner):
        def derive_key(self, secret_key=None):
            derived.append(secret_key)
            return super().derive_key(secret_key)

    signer = Counting(["old", "new"], salt="s", key_derivation="hmac", digest_method="sha1")
    assert isinstance(signer.algorithm, HMACAlgorithm)
    assert signer.algorithm.digest_method == "sha1"
    value = signer.sign(b"v")
    assert derived == [None]
    derived.clear()
    assert signer.unsign(value) == b"v"
    assert derived == [b"new"]

    class Fixed(HMACAlgorithm):
        def get_signature(self, key, value):
            return b"fixed"

    signer.algorithm = Fixed("sha1")
    assert signer.get_signature(b"v") == base64_encode(b"fixed")


def test_serializer_signs_through_make_signer():
    """``Serializer.dumps`` and ``loads`` get their signers from
    ``make_signer(salt)`` (``loads`` through ``iter_unsigners``):
    kolben._itsdangerous_fast (``SessionSerializer.make_signer``) keeps one signer
    per salt there."""
    made = []

    class Counting(itsdangerous.URLSafeTimedSerializer):
        def make_signer(self, salt=None):
            made.append(salt)
            return super().make_signer(salt)

    serializer = Counting("secret", salt="s")
    token = serializer.dumps({"a": 1})
    assert made == [None]  # None: the serializer's own salt
    made.clear()
    assert serializer.loads(token) == {"a": 1}
    assert made == [serializer.salt]
    made.clear()
    serializer.loads(serializer.dumps(1, salt="other"), salt="other")
    assert made == ["other", "other"]


def test_url_safe_payload_layers():
    """``URLSafeTimedSerializer``'s MRO puts ``URLSafeSerializerMixin`` (base64,
    zlib behind a leading ``.``) before the plain ``Serializer`` payload (the
    serializer's JSON): kolben._itsdangerous_fast calls ``super(URLSafeSerializerMixin,
    self).dump_payload`` / ``load_payload`` for the bare JSON, and writes and
    reads the ``.``-marked zlib layer itself (with a smaller window, which
    itsdangerous must still read)."""
    mro = itsdangerous.URLSafeTimedSerializer.__mro__
    assert mro.index(URLSafeSerializerMixin) < mro.index(itsdangerous.Serializer)
    serializer = itsdangerous.URLSafeTimedSerializer("secret", salt="s")
    inner = super(URLSafeSerializerMixin, serializer)
    assert inner.dump_payload({"b": [1, 2]}) == serializer.serializer.dumps({"b": [1, 2]}).encode()
    assert inner.load_payload(b'{"b": [1, 2]}') == {"b": [1, 2]}

    big = {"k": "x" * 500}
    payload = serializer.dump_payload(big)
    assert payload.startswith(b".")
    text = serializer.serializer.dumps(big).encode()
    assert zlib.decompress(base64_decode(payload[1:])) == text
    assert serializer.dump_payload({"k": 1}) == base64_encode(b'{"k":1}')  # short: as is

    compressor = zlib.compressobj(6, zlib.DEFLATED, 12, 4)  # kolben._itsdangerous_fast's
    small_window = b"." + base64_encode(compressor.compress(text) + compressor.flush())
    assert serializer.load_payload(small_window) == big
    signer = serializer.make_signer(serializer.salt)
    assert serializer.loads(signer.sign(small_window).decode()) == big


# --- jinja2 ---------------------------------------------------------------------------


def test_templates_not_found_is_a_template_not_found():
    """``TemplatesNotFound`` is a ``TemplateNotFound`` with ``templates``:
    kolben.templating (``Environment.select_template``) adds a note naming the
    folders searched to the one Jinja raises, keeping its message."""
    error = TemplatesNotFound(["a.html", "b.html"])
    assert isinstance(error, TemplateNotFound)
    assert error.templates == ["a.html", "b.html"]
    assert str(error) == "none of the templates given were found: a.html, b.html"


def test_loader_attributes(tmp_path, monkeypatch):
    """``FileSystemLoader.searchpath``, ``PackageLoader.package_name`` and
    ``package_path`` (undocumented attributes): kolben.templating
    (``_loader_places``) names the folders searched in a ``TemplateNotFound``."""
    loader = FileSystemLoader([tmp_path, "other"])
    assert list(loader.searchpath) == [str(tmp_path), "other"]
    package = tmp_path / "guard_pkg_templates"
    (package / "templates").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    loader = PackageLoader("guard_pkg_templates")
    assert (loader.package_name, loader.package_path) == ("guard_pkg_templates", "templates")
    sys.modules.pop("guard_pkg_templates", None)


# --- blinker --------------------------------------------------------------------------


def test_signal_send_with_an_async_wrapper():
    """``Signal.send(..., _async_wrapper=...)``: kolben.templating sends
    ``before_render_template`` / ``template_rendered`` with
    ``_async_wrapper=app.ensure_sync``, so a coroutine receiver is run, not
    refused."""
    signal = blinker.Namespace().signal("guard")
    seen = []

    async def receiver(sender, **kwargs):
        seen.append((sender, kwargs))
        return "async result"

    signal.connect(receiver)
    wrapped = []

    def wrapper(func):
        wrapped.append(func)
        return lambda *args, **kwargs: asyncio.run(func(*args, **kwargs))

    assert signal.send("app", _async_wrapper=wrapper, x=1) == [(receiver, "async result")]
    assert wrapped == [receiver]
    assert seen == [("app", {"x": 1})]
    with pytest.raises(RuntimeError):
        signal.send("app")


def test_signal_receivers_and_muting():
    """``Signal.receivers`` (empty when nobody is connected), ``is_muted`` and
    ``receivers_for(sender)``: kolben checks ``signal.receivers`` before every
    send (kolben.signals, app, ctx, templating, helpers), and
    ``kolben.signals.signal_steps`` sends as ``send`` does (nothing when muted,
    else each of ``receivers_for(sender)``)."""
    signal = blinker.Namespace().signal("guard")
    assert not signal.receivers

    def receiver(sender, **kwargs):
        return sender

    signal.connect(receiver)
    assert signal.receivers
    assert list(signal.receivers_for("anyone")) == [receiver]
    assert signal.is_muted is False
    with signal.muted():
        assert signal.is_muted is True
        assert signal.send("x") == []
    assert signal.send("x") == [(receiver, "x")]
    signal.disconnect(receiver)
    assert not signal.receivers


# --- the standard library -------------------------------------------------------------


def test_asyncio_loop_thread_id():
    """``BaseEventLoop._thread_id``: the running thread's ident while the loop
    runs, None otherwise. kolben.concurrency (``running_loop``) trusts a
    remembered loop only while it runs in this thread (a loop without the
    attribute, such as uvloop's, is trusted while it runs)."""
    loop = asyncio.new_event_loop()
    try:
        assert loop._thread_id is None

        async def ident():
            return asyncio.get_running_loop()._thread_id

        assert loop.run_until_complete(ident()) == threading.get_ident()
        assert loop._thread_id is None

        seen = []
        thread = threading.Thread(
            target=lambda: seen.append((loop.run_until_complete(ident()), threading.get_ident()))
        )
        thread.start()
        thread.join()
        assert seen[0][0] == seen[0][1] != threading.get_ident()
    finally:
        loop.close()


def test_plain_functions_are_told_by_their_code_flags():
    """``inspect.iscoroutinefunction`` of a plain function is its
    ``CO_COROUTINE`` code flag, unless ``inspect.markcoroutinefunction`` (3.12+)
    put ``_is_coroutine_marker`` in its ``__dict__``: kolben.concurrency
    (``is_async_callable``) and kolben.pipeline read the flag directly after
    checking the ``__dict__`` for that marker."""

    def sync():
        return 1

    async def coro():
        return 1

    async def agen():
        yield 1

    def gen():
        yield 1

    sync._is_coroutine = object()  # asyncio's old marker: not inspect's
    for func in (sync, coro, agen, gen, functools.wraps(coro)(lambda: None)):
        assert "_is_coroutine_marker" not in func.__dict__
        assert inspect.iscoroutinefunction(func) == bool(
            func.__code__.co_flags & inspect.CO_COROUTINE
        )
    mark = getattr(inspect, "markcoroutinefunction", None)
    if mark is None:
        return  # Python 3.11: nothing marks a function
    marked = mark(lambda: None)
    assert "_is_coroutine_marker" in marked.__dict__
    assert inspect.iscoroutinefunction(marked)
    assert "_is_coroutine_marker" in functools.wraps(marked)(lambda: None).__dict__


@pytest.mark.skipif(
    getattr(json.encoder, "c_make_encoder", None) is None, reason="no C JSON encoder"
)
@pytest.mark.parametrize("ensure_ascii", [True, False])
@pytest.mark.parametrize("sort_keys", [True, False])
def test_c_make_encoder(ensure_ascii, sort_keys):
    """``json.encoder.c_make_encoder`` (CPython's C encoder, undocumented) with its
    nine positional arguments, called as ``encode(obj, 0)``: kolben.json.provider
    (``compact_encoder``) builds it once and must give what ``json.dumps(obj,
    separators=(",", ":"), ...)`` gives (it falls back on a ``TypeError``)."""

    def default(o):
        if isinstance(o, set):
            return sorted(o)
        raise TypeError(type(o).__name__)

    encode = json.encoder.c_make_encoder(
        None,
        default,
        (json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring),
        None,
        ":",
        ",",
        sort_keys,
        False,
        True,
    )
    samples = [
        {"b": [1, 2.5, None, True], "a": {"z": "é\u2028\"\\", "y": float("nan")}},
        [1e300, -0.0, 10**30, "", {}, [], {3, 1}],
        "plain",
        {"k": {"n": [{"deep": float("inf")}]}},
    ]
    for obj in samples:
        expected = json.dumps(
            obj,
            default=default,
            ensure_ascii=ensure_ascii,
            sort_keys=sort_keys,
            separators=(",", ":"),
        )
        assert "".join(encode(obj, 0)) == expected
    with pytest.raises(TypeError):
        "".join(encode({"x": object()}, 0))


# --- redis (optional) -----------------------------------------------------------------


def test_redis_pool_settings_carry_over_to_asyncio():
    """``ConnectionPool.connection_class`` and ``connection_kwargs`` of a redis
    client (undocumented), and the same connection classes by name in
    ``redis.asyncio.connection`` accepting those keyword arguments:
    kolben.server_sessions (``_async_client_like``) builds the async twin of a
    given sync client from them (and, when it can't, serves sessions in worker
    threads under ASGI); ``_describe`` names the server from them."""
    redis = pytest.importorskip("redis")
    import redis.asyncio.connection as aconnection

    replaced = {"retry", "parser_class", "redis_connect_func", "event_dispatcher"}
    clients = [
        redis.Redis.from_url("redis://127.0.0.1:6379/3", socket_timeout=2.0),
        redis.Redis(unix_socket_path="/tmp/guard.sock", db=1),
    ]
    for client in clients:
        pool = client.connection_pool
        cls = pool.connection_class
        assert cls.__module__ == "redis.connection"
        assert isinstance(pool.connection_kwargs, dict)
        async_cls = getattr(aconnection, cls.__name__)
        accepted = set()
        for klass in async_cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is not None:
                accepted.update(inspect.signature(init).parameters)
        assert set(pool.connection_kwargs) - replaced <= accepted, cls.__name__
    kwargs = clients[0].connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("127.0.0.1", 6379, 3)
    assert clients[1].connection_pool.connection_kwargs["path"] == "/tmp/guard.sock"
    assert {"Connection", "SSLConnection", "UnixDomainSocketConnection"} <= set(
        vars(aconnection)
    )
    # Not connected: nothing to close but the pools.
    for client in clients:
        client.close()
