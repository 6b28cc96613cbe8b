"""The compact JSON encoder behind JSON responses gives json.dumps' text."""

from __future__ import annotations

import json
import typing as t
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kolben
from kolben.json.provider import DefaultJSONProvider, compact_encoder

_json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(max_size=10),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.booleans(), st.booleans())
def test_same_text_as_json_dumps(value: t.Any, ensure_ascii: bool, sort_keys: bool) -> None:
    encode = compact_encoder(DefaultJSONProvider.default, ensure_ascii, sort_keys)
    expected = json.dumps(
        value,
        default=DefaultJSONProvider.default,
        ensure_ascii=ensure_ascii,
        sort_keys=sort_keys,
        separators=(",", ":"),
    )
    assert encode(value) == expected


def test_default_handles_other_types() -> None:
    encode = compact_encoder(DefaultJSONProvider.default, True, True)
    value = {
        "d": Decimal("1.5"),
        "t": datetime(2024, 1, 2, tzinfo=timezone.utc),
        "day": date(2024, 1, 2),
    }
    assert json.loads(encode(value)) == {
        "d": "1.5",
        "t": "Tue, 02 Jan 2024 00:00:00 GMT",
        "day": "Tue, 02 Jan 2024 00:00:00 GMT",
    }
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode({"x": object()})


def test_json_response_body(app: kolben.Kolben, client: t.Any) -> None:
    payload = {"b": [1, 2.5, None], "a": "é", "n": {"z": True}}

    @app.route("/")
    def index() -> t.Any:
        return payload

    rv = client.get("/")
    assert rv.data == (json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n").encode()
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    rv = client.get("/")
    assert rv.data.decode() == json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n"


def test_circular_response_is_a_server_error(app: kolben.Kolben, client: t.Any) -> None:
    app.config["TESTING"] = False

    @app.route("/")
    def index() -> t.Any:
        value: dict[str, t.Any] = {}
        value["self"] = value
        return value

    assert client.get("/").status_code == 500
