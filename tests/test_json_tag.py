"""The tagged JSON serializer used by cookie sessions: round trips, the exact wire
format (Flask 3.1's), and registering custom tags."""

from __future__ import annotations

import typing as t
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from markupsafe import Markup

import kolben
from kolben.json.tag import JSONTag, PassDict, TagDict, TaggedJSONSerializer

NOW = datetime(2024, 5, 17, 12, 30, 45, tzinfo=timezone.utc)
AN_UUID = UUID("12345678-1234-5678-1234-567812345678")


@pytest.fixture
def s() -> TaggedJSONSerializer:
    return TaggedJSONSerializer()


@pytest.mark.parametrize(
    "value",
    [
        {" t": (1, 2, 3)},
        {" t__": b"a"},
        {" di": " di"},
        {"x": (1, 2, 3), "y": 4},
        (1, 2, 3),
        [(1, 2, 3)],
        b"\xff\x00binary",
        b"",
        Markup("<strong>Hi</strong>"),
        AN_UUID,
        NOW,
        {"nested": {"deep": [{"t": (b"x", AN_UUID)}]}},
        "text",
        "ünïcödé ✓",
        42,
        -1.5,
        True,
        None,
        [],
        {},
        ((), ((),)),
        {"k": {" t": {" t": (1,)}}},
    ],
)
def test_round_trip(s: TaggedJSONSerializer, value: t.Any) -> None:
    assert s.loads(s.dumps(value)) == value


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ((1, 2), '{" t":[1,2]}'),
        (b"hi", '{" b":"aGk="}'),
        (Markup("<b>x</b>"), '{" m":"<b>x</b>"}'),
        (AN_UUID, '{" u":"12345678123456781234567812345678"}'),
        (NOW, '{" d":"Fri, 17 May 2024 12:30:45 GMT"}'),
        ({" t": 1}, '{" di":{" t__":1}}'),
        ({" t": 1, "a": 2}, '{" t":1,"a":2}'),
        ({"a": [(1,)]}, '{"a":[{" t":[1]}]}'),
        ({"b": "x", "a": 1}, '{"b":"x","a":1}'),
    ],
)
def test_wire_format(s: TaggedJSONSerializer, value: t.Any, wire: str) -> None:
    assert s.dumps(value) == wire


def test_keys_sorted_in_app_context(s: TaggedJSONSerializer) -> None:
    """In an app context the app's provider writes the JSON (sorted keys, ASCII),
    as in Flask; outside one, keys keep their order."""
    value = {"b": "ü", "a": (1,)}
    assert s.dumps(value) == '{"b":"\\u00fc","a":{" t":[1]}}'
    app = kolben.Kolben(__name__)
    with app.app_context():
        assert s.dumps(value) == '{"a":{" t":[1]},"b":"\\u00fc"}'
        app.json.sort_keys = False  # type: ignore[attr-defined]
        assert s.dumps(value) == '{"b":"\\u00fc","a":{" t":[1]}}'


def test_wire_format_matches_flask() -> None:
    flask_tag = pytest.importorskip("flask.json.tag")
    ours = TaggedJSONSerializer()
    theirs = flask_tag.TaggedJSONSerializer()
    value = {
        "str": "ünï",
        "tuple": (1, (2, 3)),
        "bytes": b"\x00\xff",
        "markup": Markup("<i>x</i>"),
        "uuid": AN_UUID,
        "dt": NOW,
        "tag-like": {" t": [1]},
        "list": [{" b": 1}, None, 1.5],
    }
    flask = pytest.importorskip("flask")
    # In an app context both use their app's JSON provider (sorted keys, ASCII).
    with kolben.Kolben(__name__).app_context():
        ours_wire = ours.dumps(value)
    with flask.Flask(__name__).app_context():
        theirs_wire = theirs.dumps(value)
    assert ours_wire == theirs_wire
    assert ours.loads(theirs_wire) == value
    assert theirs.loads(ours_wire) == value


def test_datetime_is_utc_whole_seconds(s: TaggedJSONSerializer) -> None:
    naive = datetime(2024, 1, 2, 3, 4, 5, 678)
    rv = s.loads(s.dumps(naive))
    assert rv == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    other_zone = datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert s.loads(s.dumps(other_zone)) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def test_html_objects_load_as_markup(s: TaggedJSONSerializer) -> None:
    class Html:
        def __html__(self) -> str:
            return "<em>hi</em>"

    rv = s.loads(s.dumps(Html()))
    assert isinstance(rv, Markup)
    assert rv == Markup("<em>hi</em>")


def test_untag_leaves_plain_objects(s: TaggedJSONSerializer) -> None:
    assert s.untag({" unknown": 1}) == {" unknown": 1}
    assert s.untag({"a": 1, "b": 2}) == {"a": 1, "b": 2}
    assert s.untag({" t": [1]}) == (1,)
    assert s.loads('{" zz":[1]}') == {" zz": [1]}


@pytest.mark.parametrize(
    "wire",
    ['{" b":"***"}', '{" u":"nope"}', '{" t":5}', '{"a":{" di":5}}', "{"],
)
def test_invalid_tagged_values_raise(s: TaggedJSONSerializer, wire: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        s.loads(wire)


def test_a_tagged_date_werkzeug_cannot_parse_is_none(s: TaggedJSONSerializer) -> None:
    assert s.loads('{" d":"not a date"}') is None  # as Flask's serializer


def test_tag_method(s: TaggedJSONSerializer) -> None:
    assert s.tag((1, b"a")) == {" t": [1, {" b": "YQ=="}]}
    assert s.tag({"a": (1,)}) == {"a": {" t": [1]}}
    assert s.tag(5) == 5


def test_unknown_types_use_the_app_json_provider(s: TaggedJSONSerializer) -> None:
    app = kolben.Kolben(__name__)
    with app.app_context():
        assert s.dumps({"d": Decimal("1.5")}) == '{"d":"1.5"}'


def test_unknown_types_outside_app_context(s: TaggedJSONSerializer) -> None:
    assert s.dumps(Decimal("2")) == '"2"'
    with pytest.raises(TypeError):
        s.dumps(object())


# -- registering tags ----------------------------------------------------------------


class TagOrderedDict(JSONTag):
    __slots__ = ()
    key = " od"

    def check(self, value: t.Any) -> bool:
        return isinstance(value, OrderedDict)

    def to_json(self, value: t.Any) -> t.Any:
        return [[k, self.serializer.tag(v)] for k, v in value.items()]

    def to_python(self, value: t.Any) -> t.Any:
        return OrderedDict((k, v) for k, v in value)


def test_register_custom_tag_first(s: TaggedJSONSerializer) -> None:
    s.register(TagOrderedDict, index=0)
    value = OrderedDict([("b", (1,)), ("a", 2)])
    wire = s.dumps(value)
    assert wire == '{" od":[["b",{" t":[1]}],["a",2]]}'
    rv = s.loads(wire)
    assert isinstance(rv, OrderedDict)
    assert list(rv.items()) == [("b", (1,)), ("a", 2)]
    # Dicts with the new tag as their only key are escaped like the others.
    assert s.dumps({" od": 1}) == '{" di":{" od__":1}}'
    assert s.loads(s.dumps({" od": 1})) == {" od": 1}


def test_register_at_the_end_loses_to_the_dict_tag(s: TaggedJSONSerializer) -> None:
    s.register(TagOrderedDict)
    assert s.dumps(OrderedDict(a=1)) == '{"a":1}'


def test_register_duplicate_key(s: TaggedJSONSerializer) -> None:
    class OtherTuple(JSONTag):
        key = " t"

        def check(self, value: t.Any) -> bool:
            return isinstance(value, tuple)

        def to_json(self, value: t.Any) -> t.Any:
            return list(value)

        def to_python(self, value: t.Any) -> t.Any:
            return ("custom", *value)

    with pytest.raises(KeyError, match=r"already registered.*force=True"):
        s.register(OtherTuple)
    s.register(OtherTuple, force=True, index=0)
    assert s.loads('{" t":[1]}') == ("custom", 1)


def test_pass_through_tags_have_no_key(s: TaggedJSONSerializer) -> None:
    order_before = len(s.order)
    tags_before = dict(s.tags)

    class PassSet(JSONTag):
        def check(self, value: t.Any) -> bool:
            return isinstance(value, (set, frozenset))

        def to_json(self, value: t.Any) -> t.Any:
            return sorted(value)

        tag = to_json

    s.register(PassSet)
    assert len(s.order) == order_before + 1
    assert s.tags == tags_before
    assert s.dumps({3, 1, 2}) == "[1,2,3]"
    assert s.loads("[1,2,3]") == [1, 2, 3]


def test_default_tags() -> None:
    s = TaggedJSONSerializer()
    assert set(s.tags) == {" di", " t", " b", " m", " u", " d"}
    assert isinstance(s.order[0], TagDict)
    assert isinstance(s.order[1], PassDict)
    assert all(tag.serializer is s for tag in s.order)


def test_base_tag_is_abstract(s: TaggedJSONSerializer) -> None:
    tag = JSONTag(s)
    with pytest.raises(NotImplementedError):
        tag.check(1)
    with pytest.raises(NotImplementedError):
        tag.to_json(1)
    with pytest.raises(NotImplementedError):
        tag.to_python(1)


def test_custom_tag_for_a_plain_type(s: TaggedJSONSerializer) -> None:
    """A registered tag may claim plain values (here big ints); they are offered to it."""

    class TagBigInt(JSONTag):
        __slots__ = ()
        key = " bi"

        def check(self, value: t.Any) -> bool:
            return type(value) is int and abs(value) > 2**53

        def to_json(self, value: t.Any) -> t.Any:
            return str(value)

        def to_python(self, value: t.Any) -> t.Any:
            return int(value)

    assert s.dumps(2**60) == str(2**60)
    s.register(TagBigInt, index=0)
    assert s.dumps([2**60, 1]) == f'[{{" bi":"{2**60}"}},1]'
    assert s.loads(s.dumps({"n": 2**60})) == {"n": 2**60}
    # Other serializers, with the built-in tags only, keep the fast path.
    assert TaggedJSONSerializer().dumps(2**60) == str(2**60)


# -- the fast paths for plain values give the same text and values as tagging --------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_keys = st.one_of(
    st.text(max_size=6),
    st.sampled_from([" t", " di", " m", " b", " u", " d", " ", "a ", ' " ']),
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(
        [" t", '" ', '{" t": 1}', Markup("<b>"), b"\x00\xff", (1, "a"), NOW, AN_UUID]
    ),
)
_values = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_keys, children, max_size=4),
        st.tuples(children, children),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5))
def test_plain_fast_paths_match_tagging(value: dict[str, t.Any]) -> None:
    import json

    s = TaggedJSONSerializer()
    text = s.dumps(value)
    # The text is exactly what tagging everything would give (Flask's format).
    assert text == json.dumps(s.tag(value), separators=(",", ":"))
    # Loading gives back the value, with or without the untag scan.
    assert s.loads(text) == value
    assert s.loads(text.encode()) == value
    assert s.loads(text) == s._untag_scan(json.loads(text))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5), st.booleans(), st.booleans())
def test_session_text_in_an_app_matches_the_provider(
    value: dict[str, t.Any], ensure_ascii: bool, sort_keys: bool
) -> None:
    """In an app, the text is what the app's JSON provider gives for the tagged
    value, whichever ensure_ascii / sort_keys it has."""
    app = kolben.Kolben(__name__)
    app.json.ensure_ascii = ensure_ascii  # type: ignore[attr-defined]
    app.json.sort_keys = sort_keys  # type: ignore[attr-defined]
    s = TaggedJSONSerializer()
    with app.app_context():
        text = s.dumps(value)
        assert text == app.json.dumps(s.tag(value), separators=(",", ":"))
        assert s.loads(text) == value


def test_circular_session_value_is_an_error() -> None:
    value: dict[str, t.Any] = {"a": 1}
    value["self"] = value
    app = kolben.Kolben(__name__)
    with app.app_context(), pytest.raises((ValueError, RecursionError)):
        TaggedJSONSerializer().dumps(value)
