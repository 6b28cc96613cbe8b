"""Route matching with compiled regular expressions instead of werkzeug's walk.

werkzeug 3.1 matches a request by walking its rule tree (``StateMachineMatcher``):
it splits ``"<domain>/<path>"`` into parts at the slashes and, from the root,
tries the static transition of the part, then each dynamic transition's regular
expression on that part alone, backtracking on failure; at the end of the path
the first rule of the state that allows the method wins. That walk costs a few
microseconds of Python per request.

:func:`match` does the same walk in C: the tree is turned, once per map, into a
regular expression whose alternatives nest and are ordered exactly like the
walk's transitions, so the first way the expression matches is the walk's first
result. The request is encoded as one string::

    <domain> "/" <path part> "\\x00" ("w" | "h") <METHOD>

(``subject.split("/")`` before the NUL is the walk's list of parts; a rule's
method and websocket test is a look at what follows the NUL). Each place where
the walk would return a rule ends with an empty marker group; ``lastindex``
names the place, hence the rule and the groups holding its arguments, which the
rule's own converters then turn into values (``to_python``), as werkzeug does.

The regex engine's cost grows with the number of groups of an expression, so a
tree that would need more than :data:`max_groups` is cut at its static
transitions: a small Python walk (a dict per part) leads to expressions for the
subtrees, each matched at its position in the same string.

Everything except the common outcome (a rule with no redirect) is handed to
werkzeug's own ``adapter.match``, so its exceptions and redirect URLs are its own:

- no match: a second, "loose" expression (every end state accepts) proves a
  ``NotFound`` when it fails too (and merge_slashes has nothing to merge);
  otherwise werkzeug decides (``MethodNotAllowed``, ``WebsocketMismatch``, the
  merge_slashes redirect);
- a place where the walk would raise its slash redirect (strict_slashes);
- a rule with ``redirect_to``, an alias, or a rule of an endpoint that another
  rule provides defaults for (``redirect_defaults``);
- a converter raising ``ValidationError`` (werkzeug then calls ``to_python``
  again and raises what it raises: werkzeug 3 does not try the next rule);
- a dynamic part the expression cannot reproduce exactly: a converter regex that
  could match a slash although the converter is part-isolating, anchors or
  lookarounds that would see past the part, named groups, back references,
  inline flags; a path converter in the domain. Only requests that reach that
  part of the tree go to werkzeug;
- a domain with a slash, a NUL in the path or domain, a slash or NUL in the
  method; a map with another matcher class; a werkzeug other than 3.1.x.

PERF: a match of the ``params`` benchmark (50 rules ``/r<i>/<int:id>/items/<name>``)
takes ~1.7 µs instead of ~5.9 µs, ``/api/users/<int:id>`` ~1.6 µs instead of ~4.1 µs,
a 404 ~1.4 µs instead of ~3.9 µs, a rule among 2,000 ~2.5 µs instead of ~5.9 µs
(``benchmarks/router.py``). A 405 or a redirect costs ~1-2 µs more than before
(the expressions fail, then werkzeug answers).

The expressions are compiled on first use (~5 ms for 50 rules) and again after
rules were added (the map's ``_remap`` flag, or a new endpoint when something
else already cleared it). Not seen, until :func:`clear` is called: rules changed
in place after they were added (werkzeug's ``Rule.refresh``), and a rule added
with ``url_map.add()`` to an endpoint that has rules already, after requests
were served, when werkzeug updated the map (``url_for``) before the next match
(werkzeug counts no rules cheaply: its ``Map._rules`` makes a list).
"""

from __future__ import annotations

import functools
import re
import typing as t
import weakref
from importlib import metadata

from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, MapAdapter, Rule
from werkzeug.routing.converters import (
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    UUIDConverter,
)
from werkzeug.routing.matcher import State, StateMachineMatcher
from werkzeug.routing.rules import RulePart

from .caching import WeakKeyCache

__all__ = ["clear", "match", "max_groups", "max_maps"]

#: How many maps keep their compiled expressions (the oldest is dropped when one
#: more is needed; a map's entry also goes when the map is garbage collected).
max_maps = 64

#: The most groups one expression gets before its tree is cut (matching costs
#: about 2 ns a group of the expression, used or not).
max_groups = 256


@functools.lru_cache(maxsize=1)
def _werkzeug_supported() -> bool:
    """Whether werkzeug is 3.1.x: the walk reproduced here is werkzeug 3.1's and
    another version is not trusted (asked on first compile: ~5 ms)."""
    try:
        return metadata.version("werkzeug").startswith("3.1.")
    except metadata.PackageNotFoundError:  # pragma: no cover - vendored werkzeug
        return False


def _dead() -> None:
    return None


#: How a value is converted: as it is, by ``int`` or ``float`` (a plain werkzeug
#: int or float converter, whose ``to_python`` is just that behind its regex),
#: or by the rule's converter.
_AS_IS, _INT, _FLOAT, _CALL = 0, 1, 2, 3


class _Hit:
    """What a marker group stands for: a rule and where its arguments are."""

    __slots__ = ("convert", "groups", "kinds", "names", "rule")

    def __init__(
        self,
        rule: t.Callable[[], Rule | None],
        groups: tuple[int, ...] = (),
        names: tuple[str, ...] = (),
        kinds: tuple[int, ...] | None = None,
        convert: t.Callable[[re.Match[str], Rule], dict[str, t.Any]] | None = None,
    ) -> None:
        # A weak reference: the rule references its map, which this module's
        # cache must not keep alive.
        self.rule = rule
        #: The expression's groups holding the arguments not already taken by
        #: the walk leading to the expression.
        self.groups = groups
        self.names = names
        #: None when every value is taken as it is.
        self.kinds = kinds
        #: For a rule whose arguments all come from this expression's groups:
        #: ``convert(match, rule)`` makes its arguments in one call (see
        #: :func:`_converter`); raises ValueError where a converter does.
        self.convert = convert


def _converter(
    names: tuple[str, ...], groups: tuple[int, ...], kinds: tuple[int, ...] | None
) -> t.Callable[[re.Match[str], Rule], dict[str, t.Any]]:
    """A function making the arguments ``{name: converted value}`` of a match,
    each value the group's text, ``int()`` or ``float()`` of it, or the rule's
    converter's ``to_python`` of it (by ``kinds``), in the order of ``names``.

    PERF: one dict display instead of a loop over the names (~50 steps of the
    interpreter fewer for one argument).
    """
    items = []
    for index, (name, group) in enumerate(zip(names, groups, strict=True)):
        kind = _AS_IS if kinds is None else kinds[index]
        value = f"group({group})"
        if kind == _INT:
            value = f"int({value})"
        elif kind == _FLOAT:
            value = f"float({value})"
        elif kind == _CALL:
            value = f"rule._converters[{name!r}].to_python({value})"
        items.append(f"{name!r}: {value}")
    source = (
        "def convert(found, rule):\n"
        "    group = found.group\n"
        f"    return {{{', '.join(items)}}}\n"
    )
    namespace: dict[str, t.Any] = {}
    exec(compile(source, "<kolben.router converter>", "exec"), {}, namespace)
    convert: t.Callable[[re.Match[str], Rule], dict[str, t.Any]] = namespace["convert"]
    return convert


#: A place left to werkzeug.
_FALLBACK = _Hit(_dead)


def _kind(converter: BaseConverter) -> int:
    cls = type(converter)
    if "to_python" in vars(converter):
        return _CALL
    if cls.to_python is BaseConverter.to_python:
        return _AS_IS
    if (
        cls in (IntegerConverter, FloatConverter)
        and not converter.fixed_digits  # type: ignore[attr-defined]
        and converter.min is None  # type: ignore[attr-defined]
        and converter.max is None  # type: ignore[attr-defined]
        and converter.num_convert is (int if cls is IntegerConverter else float)  # type: ignore[attr-defined]
    ):
        return _INT if cls is IntegerConverter else _FLOAT
    return _CALL


def _is_users(converter: BaseConverter) -> bool:
    """Whether ``converter`` is not one of werkzeug's own (as werkzeug made it)."""
    return not type(converter).__module__.startswith("werkzeug.") or "to_python" in vars(
        converter
    )


class _Leaf:
    """An expression matching from a position of the request string."""

    __slots__ = ("_loose", "hits", "loose_source", "pattern")

    def __init__(self, pattern: re.Pattern[str], hits: list[_Hit], loose_source: str) -> None:
        self.pattern = pattern
        #: by group number: what the marker group that matched last stands for
        self.hits = hits
        self.loose_source = loose_source
        self._loose: re.Pattern[str] | None = None

    def loose(self) -> re.Pattern[str]:
        """The loose expression (compiled when first needed: for a 404)."""
        if self._loose is None:
            self._loose = re.compile(self.loose_source)
        return self._loose


class _After:
    """After a part: the next part (at a slash) or the end of the path (at the NUL)."""

    __slots__ = ("end", "more")

    def __init__(self, more: _Node | None, end: _Leaf | None) -> None:
        self.more = more
        self.end = end


class _Edge:
    """A dynamic transition of a walked state: a part's expression and what
    follows it; or, without ``pattern``, an expression for the part and its
    end (a path converter), or a place left to werkzeug (neither)."""

    __slots__ = ("after", "groups", "leaf", "pattern")

    def __init__(
        self,
        pattern: re.Pattern[str] | None = None,
        groups: tuple[int, ...] = (),
        after: _After | None = None,
        leaf: _Leaf | None = None,
    ) -> None:
        self.pattern = pattern
        self.groups = groups
        self.after = after
        self.leaf = leaf


class _Walk:
    """A state walked in Python: its static transitions by part (with the
    static parts that necessarily follow, as a string), then its dynamic ones,
    then the rules matching an empty last part."""

    __slots__ = ("dynamic", "lenient", "static")

    def __init__(
        self,
        static: dict[str, tuple[str, _After]],
        dynamic: list[_Edge],
        lenient: _Leaf | None,
    ) -> None:
        self.static = static
        self.dynamic = dynamic
        self.lenient = lenient


_Node = _Leaf | _Walk
_Found = tuple[_Hit, tuple[str, ...], "re.Match[str] | None"]


class _Compiled:
    __slots__ = ("endpoints", "map_ref", "redirect_defaults", "root")

    def __init__(self, map_ref: weakref.ref[Map], endpoints: int, redirect_defaults: bool) -> None:
        self.map_ref = map_ref
        self.endpoints = endpoints
        self.redirect_defaults = redirect_defaults
        #: None: every match of this map goes to werkzeug. A leaf for most maps.
        self.root: _Node | None = None


#: id(map) -> its compiled expressions (which hold the map weakly), dropped when
#: the map is garbage collected; at most ``max_maps`` (the oldest goes first).
_compiled: WeakKeyCache[_Compiled] = WeakKeyCache(max_maps, "kolben.router: compiled URL maps")


def clear() -> None:
    """Forget every compiled expression (a map is compiled again on next use);
    :func:`kolben.caching.clear_all` does it too."""
    _compiled.clear()


def match(
    adapter: MapAdapter,
    path: str,
    method: str | None,
    query_args: t.Mapping[str, t.Any] | str | bytes | None = None,
    websocket: bool | None = None,
) -> tuple[Rule, dict[str, t.Any]]:
    """Match like ``adapter.match(path, method, return_rule=True,
    query_args=query_args, websocket=websocket)``: the same rule and arguments,
    or the same exception. ``query_args`` may also be the raw query string
    (bytes, decoded as UTF-8 only when a redirect needs it)."""
    url_map = adapter.map
    compiled = _compiled.get(id(url_map))
    if (
        compiled is None
        or url_map._remap
        or compiled.map_ref() is not url_map
        or compiled.endpoints != len(url_map._rules_by_endpoint)
        or compiled.redirect_defaults != url_map.redirect_defaults
    ):
        compiled = _compile(url_map)
        if compiled is None:
            return _werkzeug(adapter, path, method, query_args, websocket)
    root = compiled.root
    if root is None or adapter.__class__ is not MapAdapter:
        return _werkzeug(adapter, path, method, query_args, websocket)

    verb = (method or adapter.default_method).upper()
    if url_map.host_matching or adapter.subdomain is None:
        domain = adapter.server_name
    else:
        domain = adapter.subdomain
    if websocket is None:
        websocket = adapter.websocket
    # "<domain>/" then werkzeug's path part: "/" and the path without leading
    # slashes (nothing for an empty path).
    stripped = path.lstrip("/")
    subject = (
        f"{domain}//{stripped}\x00{'w' if websocket else 'h'}{verb}"
        if path
        else f"{domain}/\x00{'w' if websocket else 'h'}{verb}"
    )
    if "/" in domain or "/" in verb or subject.count("\x00") != 1:
        return _werkzeug(adapter, path, method, query_args, websocket)

    prefix: tuple[str, ...] = ()
    if root.__class__ is _Leaf:
        leaf = root
        found = leaf.pattern.match(subject)
        if found is None:
            if leaf.loose().match(subject) is None and not (
                url_map.merge_slashes and "//" in stripped
            ):
                # No end state with a rule was reached: werkzeug's NoMatch has
                # no methods and no websocket mismatch; it raises NotFound.
                raise NotFound()
            return _werkzeug(adapter, path, method, query_args, websocket)
        hit = leaf.hits[found.lastindex or 0]
    else:
        nul = len(subject) - len(verb) - 2
        walked = _walk(root, subject, 0, nul, prefix)
        if walked is None:
            if not _walk_loose(root, subject, 0, nul) and not (
                url_map.merge_slashes and "//" in stripped
            ):
                raise NotFound()
            return _werkzeug(adapter, path, method, query_args, websocket)
        hit, prefix, found = walked

    rule = hit.rule()
    if rule is None or found is None:
        return _werkzeug(adapter, path, method, query_args, websocket)
    names = hit.names
    if not names:
        result: dict[str, t.Any] = {}
    elif (convert := hit.convert) is not None and not prefix:
        try:
            result = convert(found, rule)
        except ValueError:
            # As below: werkzeug's ValidationError, int() refusing 5000 digits, or
            # a converter's own error: werkzeug decides.
            return _werkzeug(adapter, path, method, query_args, websocket)
    else:
        groups = hit.groups
        if len(groups) > 1:
            values = found.group(*groups)
        elif groups:
            values = (found.group(groups[0]),)
        else:
            values = ()
        if prefix:
            values = (prefix + values)[: len(names)]
        kinds = hit.kinds
        if kinds is None:
            result = dict(zip(names, values, strict=True))
        else:
            result = {}
            try:
                for name, kind, value in zip(names, kinds, values, strict=True):
                    if kind == _AS_IS:
                        result[name] = value
                    elif kind == _INT:
                        result[name] = int(value)
                    elif kind == _FLOAT:
                        result[name] = float(value)
                    else:
                        result[name] = rule._converters[name].to_python(value)
            except ValueError:
                # ValidationError (werkzeug's NoMatch, whose allowed methods only
                # its walk knows), int() refusing 5000 digits (the same), or a
                # converter's own error (werkzeug calls it again and raises it).
                return _werkzeug(adapter, path, method, query_args, websocket)
    if rule.defaults:
        result.update(rule.defaults)
    return rule, result


def _werkzeug(
    adapter: MapAdapter,
    path: str,
    method: str | None,
    query_args: t.Mapping[str, t.Any] | str | bytes | None,
    websocket: bool | None,
) -> tuple[Rule, dict[str, t.Any]]:
    if isinstance(query_args, bytes):
        # As werkzeug's bind_to_environ decodes QUERY_STRING: UTF-8, replacing
        # what isn't (a redirect's Location then quotes the text again).
        query_args = query_args.decode("utf-8", "replace")
    rule, values = adapter.match(
        path, method, return_rule=True, query_args=query_args, websocket=websocket
    )
    return rule, t.cast("dict[str, t.Any]", values)


def _walk(node: _Node, subject: str, pos: int, nul: int, prefix: tuple[str, ...]) -> _Found | None:
    """Match ``node`` at ``pos`` (the start of a part): what matched, with the
    values the walk took on the way; None if nothing did."""
    if node.__class__ is _Leaf:
        leaf = node
        found = leaf.pattern.match(subject, pos)
        return None if found is None else (leaf.hits[found.lastindex or 0], prefix, found)
    walk = t.cast(_Walk, node)
    end = subject.find("/", pos, nul)
    if end < 0:
        end = nul
    entry = walk.static.get(subject[pos:end])
    if entry is not None:
        following, after = entry
        if not following or subject.startswith(following, end):
            walked = _after(after, subject, end + len(following), nul, prefix)
            if walked is not None:
                return walked
    for edge in walk.dynamic:
        if edge.pattern is None:
            if edge.leaf is None:
                return _FALLBACK, prefix, None
            walked = _walk(edge.leaf, subject, pos, nul, prefix)
        else:
            found = edge.pattern.match(subject, pos)
            if found is None or edge.after is None:
                continue
            groups = edge.groups
            values = found.group(*groups) if len(groups) > 1 else (found.group(groups[0]),)
            walked = _after(edge.after, subject, found.end(), nul, prefix + values)
        if walked is not None:
            return walked
    if walk.lenient is not None and pos == nul:
        return _walk(walk.lenient, subject, pos, nul, prefix)
    return None


def _after(
    after: _After, subject: str, pos: int, nul: int, prefix: tuple[str, ...]
) -> _Found | None:
    if pos == nul:
        return None if after.end is None else _walk(after.end, subject, pos, nul, prefix)
    if after.more is None or subject[pos] != "/":
        return None
    return _walk(after.more, subject, pos + 1, nul, prefix)


def _walk_loose(node: _Node, subject: str, pos: int, nul: int) -> bool:
    """Whether the walk reaches an end state with a rule (or a place left to
    werkzeug): if not, werkzeug's answer is NotFound."""
    if node.__class__ is _Leaf:
        return node.loose().match(subject, pos) is not None
    walk = t.cast(_Walk, node)
    end = subject.find("/", pos, nul)
    if end < 0:
        end = nul
    entry = walk.static.get(subject[pos:end])
    if entry is not None:
        following, after = entry
        if (not following or subject.startswith(following, end)) and _after_loose(
            after, subject, end + len(following), nul
        ):
            return True
    for edge in walk.dynamic:
        if edge.pattern is None:
            if edge.leaf is None or _walk_loose(edge.leaf, subject, pos, nul):
                return True
        else:
            found = edge.pattern.match(subject, pos)
            if (
                found is not None
                and edge.after is not None
                and _after_loose(edge.after, subject, found.end(), nul)
            ):
                return True
    return walk.lenient is not None and pos == nul


def _after_loose(after: _After, subject: str, pos: int, nul: int) -> bool:
    if pos == nul:
        return after.end is not None and _walk_loose(after.end, subject, pos, nul)
    if after.more is None or subject[pos] != "/":
        return False
    return _walk_loose(after.more, subject, pos + 1, nul)


# -- compiling ----------------------------------------------------------------------


def _compile(url_map: Map) -> _Compiled | None:
    """Compile ``url_map``'s expressions and cache them (replacing stale ones);
    None for a map that cannot be referenced weakly (werkzeug matches it)."""
    url_map.update()  # sorts the dynamic transitions, as werkzeug's match does
    try:
        map_ref = weakref.ref(url_map)
    except TypeError:  # a Map subclass with __slots__: nothing to key a cache on
        return None
    compiled = _Compiled(map_ref, len(url_map._rules_by_endpoint), url_map.redirect_defaults)
    if _werkzeug_supported() and type(url_map._matcher) is StateMachineMatcher:
        try:
            compiled.root = _Compiler(url_map).node(url_map._matcher._root, 0, 0)
        except Exception:
            # Whatever this module does not understand (a regex it cannot
            # combine, a Rule subclass without weak references...) is werkzeug's.
            compiled.root = None
        else:
            if compiled.root is None:  # no rules: everything is a 404
                compiled.root = _Leaf(re.compile("(?!)"), [_FALLBACK], "(?!)")
    _compiled.maxsize = max_maps  # the module's knob, read when a map is added
    return _compiled.put_for(url_map, compiled)


def _redirects(url_map: Map, rule: Rule) -> bool:
    """Whether matching ``rule`` may end in a redirect instead of the match."""
    if rule.redirect_to is not None:
        return True
    if url_map.redirect_defaults:
        if rule.alias:
            return True
        # werkzeug's get_default_redirect looks at the endpoint's rules before
        # this one for one providing defaults for it.
        for other in url_map._rules_by_endpoint.get(rule.endpoint, ()):
            if other is rule:
                break
            if other.provides_defaults_for(rule):
                return True
    return False


class _Compiler:
    """Builds the nodes for a map: a leaf for a subtree whose expression is small
    enough, else a Python walk of its root state."""

    def __init__(self, url_map: Map) -> None:
        self.map = url_map

    def leaf(self, make: t.Callable[[_Builder], str | None], prefix: int) -> _Leaf | None:
        """The expression ``make`` builds; ``prefix`` values precede its own."""
        builder = _Builder(loose=False)
        source = make(builder)
        if source is None:
            return None
        pattern = re.compile(source)
        index = pattern.groupindex
        hits = [_FALLBACK] * (pattern.groups + 1)
        for name, target in builder.markers.items():
            # (a marker may have been dropped with an alternative that cannot match)
            if target is not None and name in index:
                rule, groups = target
                if not _redirects(self.map, rule):
                    hits[index[name]] = self.hit(rule, tuple(index[g] for g in groups), prefix)
        return _Leaf(pattern, hits, make(_Builder(loose=True)) or "(?!)")

    @staticmethod
    def hit(rule: Rule, groups: tuple[int, ...], prefix: int) -> _Hit:
        if any(_is_users(converter) for converter in rule._converters.values()):
            # A converter of the app's own may do work (a lookup) or count its
            # calls: werkzeug matches such a rule, so its to_python runs once,
            # as in Flask (on a ValidationError only werkzeug's walk knows
            # whether the answer is a 405 or a 404).
            return _FALLBACK
        # werkzeug zips the rule's converters with the values (a variable named
        # twice has one converter and two values).
        names = tuple(rule._converters)[: prefix + len(groups)]
        groups = groups[: max(0, len(names) - prefix)]
        kinds = tuple(_kind(rule._converters[name]) for name in names)
        as_is = all(k == _AS_IS for k in kinds)
        convert = (
            _converter(names, groups, None if as_is else kinds)
            if prefix == 0 and names and len(groups) == len(names)
            else None
        )
        return _Hit(weakref.ref(rule), groups, names, None if as_is else kinds, convert)

    def node(self, state: State, depth: int, prefix: int) -> _Node | None:
        """For the walk's state at the start of part ``depth``."""
        builder = _Builder(loose=False)
        source = builder.segment(state, depth, ())
        if source is None:
            return None
        if builder.count <= max_groups:
            return self.leaf(lambda b: b.segment(state, depth, ()), prefix)
        static: dict[str, tuple[str, _After]] = {}
        for key, child in state.static.items():
            if "/" in key or "\x00" in key:  # never equal to a part here
                continue
            following, after = self.chain(child, depth, prefix)
            if after is not None:
                static[key] = (following, after)
        dynamic = []
        for part, child in state.dynamic:
            edge = self.edge(part, child, depth, prefix)
            if edge is not None:
                dynamic.append(edge)
        lenient = self.leaf(lambda b: b.lenient(state, ()), prefix)
        if not static and not dynamic and lenient is None:
            return None
        return _Walk(static, dynamic, lenient)

    def chain(self, state: State, depth: int, prefix: int) -> tuple[str, _After | None]:
        """What follows a static part: the static parts that necessarily follow
        (a chain of states with one static transition and nothing else), then
        the state after them."""
        following = ""
        while len(state.static) == 1 and not state.rules and not state.dynamic:
            ((key, child),) = state.static.items()
            if key == "" and child.rules:  # the walk's slash check at this state
                break
            if "/" in key or "\x00" in key:
                return "", None
            following += "/" + key
            state = child
            depth += 1
        return following, self.after(state, depth, prefix)

    def after(self, state: State, depth: int, prefix: int) -> _After | None:
        more = self.node(state, depth + 1, prefix)
        end = self.leaf(lambda b: b.end(state, ()), prefix)
        return None if more is None and end is None else _After(more, end)

    def edge(self, part: RulePart, child: State, depth: int, prefix: int) -> _Edge | None:
        shape = _shape(part, depth)
        if shape is None:
            return _Edge()
        pre, count, _ = shape
        if part.final:
            leaf = self.leaf(lambda b: b.dynamic(part, child, depth, ()), prefix)
            return None if leaf is None else _Edge(leaf=leaf)
        after = self.after(child, depth, prefix + count)
        if after is None:
            return None
        for i in range(count):
            pre = pre.replace(f"(?P<__werkzeug_{i}>", f"(?P<g{i}>", 1)
        pattern = re.compile(f"{pre}(?=[/{_NUL}])")
        groups = tuple(pattern.groupindex[f"g{i}"] for i in range(count))
        return _Edge(pattern, groups, after)


def _shape(part: RulePart, depth: int) -> tuple[str, int, bool] | None:
    """A dynamic part's regex without werkzeug's end anchor, its number of
    converters, and whether it can match a part in one way only; None if the
    expression cannot reproduce it."""
    content = part.content
    numbers = _WERKZEUG_GROUP.findall(content)
    tail = _SUFFIX if part.suffixed else r"\Z"
    if (
        part.static
        or not content.endswith(tail)
        or numbers != [str(i) for i in range(len(numbers))]
        or (part.final and depth == 0)
    ):
        return None
    pre = content[: -len(tail)]
    portable, slash_proof = _scan(pre)
    if not portable or not (part.final or slash_proof):
        return None
    if part.suffixed and not (
        not pre.startswith("(?P<__werkzeug_0>") or pre.startswith("(?P<__werkzeug_0>[^/].*?)")
    ):
        # werkzeug's (?<!/) would see the slash before the part if the part
        # could match nothing.
        return None
    simple = len(numbers) == 1 and _SIMPLE_PART.fullmatch(pre) is not None
    return pre, len(numbers), simple


# -- the expression -------------------------------------------------------------

_NUL = r"\x00"
#: werkzeug's names for a part's converter groups, numbered in order.
_WERKZEUG_GROUP = re.compile(r"\(\?P<__werkzeug_(\d+)>")
#: The group openings a part's regex may contain and still be combined.
_GROUP_OPEN = re.compile(r"\(\?(?::|P<__werkzeug_\d+>)")
#: A suffixed part (a path converter and a trailing slash) ends with this.
_SUFFIX = r"(?<!/)(/?)\Z"

# A part that is static text around one built-in converter matches a segment in
# one way only, so the expression cannot backtrack into it to try another.
_STATIC_CHAR = r"(?:\\[^0-9A-Za-z]|[^\\()\[\]{}.*+?^$|])"
_BUILTIN = "|".join(
    [
        re.escape(rx)
        for rx in ("[^/]+", r"\d+", r"-?\d+", r"\d+\.\d+", r"-?\d+\.\d+", UUIDConverter.regex)
    ]
    + [r"\[\^/\]\{\d+(?:,\d*)?\}"]
)
_SIMPLE_PART = re.compile(rf"{_STATIC_CHAR}*\(\?P<__werkzeug_0>(?:{_BUILTIN})\){_STATIC_CHAR}*")


def _alt(alternatives: list[str]) -> str | None:
    if not alternatives:
        return None
    if len(alternatives) == 1:
        return alternatives[0]
    return f"(?:{'|'.join(alternatives)})"


def _trie(entries: list[tuple[str, str]]) -> str:
    """Static parts and what follows each, with common prefixes factored out (a
    part equals at most one key, and each alternative then starts with its own
    character, which the regex engine tests before entering it)."""
    if len(entries) == 1:
        key, rest = entries[0]
        return re.escape(key) + rest
    alternatives = []
    by_first: dict[str, list[tuple[str, str]]] = {}
    for key, rest in entries:
        if key:
            by_first.setdefault(key[0], []).append((key[1:], rest))
        else:
            alternatives.append(rest)
    for char, sub in by_first.items():
        alternatives.append(re.escape(char) + _trie(sub))
    return _alt(alternatives) or "(?!)"


class _Builder:
    """Writes the expression for a subtree of werkzeug's rule tree.

    ``segment(state)`` matches from the start of a part (the walk has parts
    left), ``after(state)`` after a part was consumed (at a slash, or at the end
    of the path where the walk looks at the state's rules), ``end(state)`` at
    the end of the path. Each returns None when nothing can match there.
    A ``loose`` expression accepts at every end state with any rule, whatever
    the method, and at every place left to werkzeug.
    """

    def __init__(self, loose: bool) -> None:
        self.loose = loose
        #: how many groups the expression has
        self.count = 0
        #: marker group name -> (rule, names of its argument groups), or None
        #: for a place left to werkzeug.
        self.markers: dict[str, tuple[Rule, tuple[str, ...]] | None] = {}

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def marker(self, rule: Rule | None, groups: tuple[str, ...]) -> str:
        if self.loose:
            return ""
        name = self.name("m")
        self.markers[name] = None if rule is None else (rule, groups)
        return f"(?P<{name}>)"

    def accepts(self, rule: Rule, marker: str) -> str | None:
        """After the NUL: the rule's websocket flag and methods, then ``marker``."""
        if self.loose:
            return ""
        kind = "w" if rule.websocket else "h"
        if rule.methods is None:
            return kind + marker
        if not rule.methods:
            return None
        methods = "|".join(sorted(re.escape(m) for m in rule.methods))
        return f"{kind}(?:{methods})\\Z{marker}"

    def end(self, state: State, groups: tuple[str, ...]) -> str | None:
        alternatives = [self.accepts(rule, self.marker(rule, groups)) for rule in state.rules]
        slash = state.static.get("")
        if slash is not None:
            # The walk's slash check: a rule one trailing slash away redirects
            # (strict slashes; left to werkzeug) or matches.
            for rule in slash.rules:
                target = None if rule.strict_slashes else rule
                alternatives.append(self.accepts(rule, self.marker(target, groups)))
        found = [a for a in alternatives if a is not None]
        if not found:
            return None
        return _NUL if self.loose else _NUL + (_alt(found) or "")

    def after(self, state: State, depth: int, groups: tuple[str, ...]) -> str | None:
        alternatives = []
        more = self.segment(state, depth + 1, groups)
        if more is not None:
            alternatives.append("/" + more)
        end = self.end(state, groups)
        if end is not None:
            alternatives.append(end)
        return _alt(alternatives)

    def lenient(self, state: State, groups: tuple[str, ...]) -> str | None:
        """The last part is empty (a trailing slash): rules without strict
        slashes match it."""
        alternatives = [
            self.accepts(rule, self.marker(rule, groups))
            for rule in state.rules
            if not rule.strict_slashes
        ]
        found = [a for a in alternatives if a is not None]
        if not found:
            return None
        return _NUL if self.loose else _NUL + (_alt(found) or "")

    def segment(self, state: State, depth: int, groups: tuple[str, ...]) -> str | None:
        alternatives = []
        statics = []
        for key, child in state.static.items():
            if "/" in key or "\x00" in key:  # never equal to a part here
                continue
            rest = self.after(child, depth, groups)
            if rest is not None:
                statics.append((key, rest))
        if statics:
            alternatives.append(_trie(statics))
        for part, child in state.dynamic:
            dynamic = self.dynamic(part, child, depth, groups)
            if dynamic is not None:
                alternatives.append(dynamic)
        lenient = self.lenient(state, groups)
        if lenient is not None:
            alternatives.append(lenient)
        return _alt(alternatives)

    def dynamic(
        self, part: RulePart, child: State, depth: int, groups: tuple[str, ...]
    ) -> str | None:
        shape = _shape(part, depth)
        if shape is None:
            return self.marker(None, groups)
        pre, count, simple = shape
        names = []
        for i in range(count):
            if self.loose:
                new = "(?:"
            else:
                name = self.name("g")
                names.append(name)
                new = f"(?P<{name}>"
            pre = pre.replace(f"(?P<__werkzeug_{i}>", new, 1)
        inner = groups + tuple(names)
        if not part.final:
            rest = self.after(child, depth, inner)
            if rest is None:
                return None
            if simple:
                return pre + rest
            # The walk matches the part once, on its own; an atomic group (a
            # lookahead and a back reference) keeps the engine from trying other
            # ways the part could match the same text.
            atom = self.name("a")
            return f"(?=(?P<{atom}>{pre}(?=[/{_NUL}])))(?P={atom}){rest}"
        if not part.suffixed:
            end = self.end(child, inner)
            return None if end is None else pre + end
        # A path converter before a trailing slash: with the slash, the walk goes
        # on with one empty part; without, it checks the state's slash rules.
        alternatives = []
        more = self.segment(child, depth + 1, inner)
        if more is not None:
            alternatives.append(f"/(?={_NUL}){more}")
        end = self.end(child, inner)
        if end is not None:
            alternatives.append(end)
        rest = _alt(alternatives)
        return None if rest is None else f"{pre}(?<!/){rest}"


def _scan(rx: str) -> tuple[bool, bool]:
    """Whether a part's regex (werkzeug's, without its ``\\Z``) matches in the
    combined expression as it does alone, and whether it can never match a slash.

    Conservative: anchors, lookarounds, back references, flags, named groups and
    anything unusual make it not portable; any ``.``, ``\\D``-like escape or
    class that may contain a slash makes it not slash-proof.
    """
    slash_proof = True
    depth = 0
    i, n = 0, len(rx)
    while i < n:
        char = rx[i]
        if char == "\\":
            if i + 1 >= n:
                return False, False
            escaped = rx[i + 1]
            if escaped.isdigit() or escaped in "AZzGg":
                return False, False
            if escaped == "/" or (escaped.isalnum() and escaped not in "dwsbB"):
                slash_proof = False
            i += 2
        elif char == "[":
            scanned = _scan_class(rx, i)
            if scanned is None:
                return False, False
            i, class_proof = scanned
            slash_proof = slash_proof and class_proof
        elif char == "(":
            if rx.startswith("(?", i):
                opening = _GROUP_OPEN.match(rx, i)
                if opening is None:
                    return False, False
                i = opening.end()
            else:
                i += 1
            depth += 1
        elif char == ")":
            if depth == 0:
                return False, False
            depth -= 1
            i += 1
        elif char in "^$" or (char == "|" and depth == 0):
            return False, False
        else:
            if char in "./":
                slash_proof = False
            i += 1
    return depth == 0, slash_proof and depth == 0


_SAFE_SET = "\\safe"  # an escape like \d: a set of characters without "/"
_UNKNOWN_SET = "\\unknown"


def _scan_class(rx: str, start: int) -> tuple[int, bool] | None:
    """Scan the character class at ``rx[start]``: (index after it, whether it
    never matches a slash), or None when it is not understood."""
    n = len(rx)
    j = start + 1
    negated = j < n and rx[j] == "^"
    if negated:
        j += 1
    first = j

    def atom(k: int) -> tuple[str, int] | None:
        if k >= n or rx[k] == "[":
            return None
        if rx[k] != "\\":
            return rx[k], k + 1
        if k + 1 >= n:
            return None
        escaped = rx[k + 1]
        if escaped in "dws":
            return _SAFE_SET, k + 2
        if not escaped.isalnum():
            return escaped, k + 2
        return _UNKNOWN_SET, k + 2

    has_slash = unknown = False
    while j >= n or rx[j] != "]" or j == first:
        parsed = atom(j)
        if parsed is None:
            return None
        low, j = parsed
        if j + 1 < n and rx[j] == "-" and rx[j + 1] != "]":
            parsed = atom(j + 1)
            if parsed is None:
                return None
            high, j = parsed
            if len(low) == 1 and len(high) == 1:
                has_slash = has_slash or low <= "/" <= high
            else:
                unknown = True
        elif low == "/":
            has_slash = True
        elif low == _UNKNOWN_SET:
            unknown = True
    body = rx[first:j]
    if any(op in body for op in ("--", "&&", "~~", "||")):  # set operations (warned)
        return None
    return j + 1, has_slash if negated else not (has_slash or unknown)
