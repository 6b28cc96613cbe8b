"""Signed tokens (app.tokens): round trips, salts, max_age, key rotation, bad input,
and the activation-link pattern through both front doors."""

from __future__ import annotations

import typing as t
from datetime import timedelta

import itsdangerous
import pytest
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

import kolben
from kolben.signing import Tokens


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> t.Callable[[float], None]:
    """Set the time itsdangerous stamps and checks tokens with (no sleeping)."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now[0])

    def set_now(value: float) -> None:
        now[0] = value

    return set_now


def test_round_trip_is_url_safe(app: kolben.Kolben) -> None:
    value = {"user": 42, "email": "ä@example.com", "scopes": ["a", "b"]}
    token = app.tokens.dumps(value, salt="activate")
    assert isinstance(token, str)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert app.tokens.loads(token, salt="activate") == value
    assert app.tokens.loads(token.encode(), salt="activate") == value
    assert app.tokens is app.tokens
    big = {"text": "compressible " * 100}
    compressed = app.tokens.dumps(big, salt="activate")
    assert compressed.startswith(".")  # itsdangerous' mark of a compressed payload
    assert app.tokens.loads(compressed, salt="activate") == big


def test_itsdangerous_reads_kolben_tokens(app: kolben.Kolben) -> None:
    token = app.tokens.dumps([1, 2], salt="s")
    assert URLSafeTimedSerializer("test key", salt="s").loads(token) == [1, 2]
    other = URLSafeTimedSerializer("test key", salt="s").dumps("x")
    assert app.tokens.loads(other, salt="s") == "x"


def test_other_salt_is_rejected(app: kolben.Kolben) -> None:
    token = app.tokens.dumps(1, salt="activate")
    with pytest.raises(BadSignature):
        app.tokens.loads(token, salt="reset-password")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda tok: tok[:-1] + ("A" if tok[-1] != "A" else "B"),  # signature
        lambda tok: ("e" if tok[0] != "e" else "f") + tok[1:],  # payload
        lambda tok: tok.replace(".", "", 1),  # structure
        lambda tok: tok.rsplit(".", 1)[0],  # signature removed
        lambda tok: "",
        lambda tok: "not a token",
        lambda tok: "....",
        lambda tok: tok + "\u00e9",  # ignored by base64 decoding
        lambda tok: tok + "=",
        lambda tok: tok + "\n",
        lambda tok: " " + tok,
        lambda tok: tok[:-1] + _padding_twin(tok[-1]),  # same signature bytes
        lambda tok: "." + tok,  # "compressed" marker
    ],
    ids=[
        *("signature", "payload", "dot", "unsigned", "empty", "junk", "dots"),
        *("non-ascii", "padding", "newline", "space", "padding-bits", "compressed"),
    ],
)
def test_tampered_tokens_raise_bad_signature(
    app: kolben.Kolben, tamper: t.Callable[[str], str]
) -> None:
    token = app.tokens.dumps({"user": 1}, salt="s")
    with pytest.raises(BadSignature):
        app.tokens.loads(tamper(token), salt="s")


@pytest.mark.parametrize(
    "token",
    [2_000_000_000, 10**15, -1, 0, 1.5, None, {"a": 1}, ["x"], True],
    ids=["int-huge", "int-too-big", "negative", "zero", "float", "none", "dict", "list", "bool"],
)
def test_a_token_that_is_not_text_raises_bad_signature(app: kolben.Kolben, token: t.Any) -> None:
    # What a view passing a JSON value straight to loads() gets from a client:
    # BadSignature, without allocating (bytes(2_000_000_000) would).
    with pytest.raises(BadSignature, match="a str or bytes was expected"):
        app.tokens.loads(token, salt="s")


def test_a_token_as_bytes_or_bytearray_is_read(app: kolben.Kolben) -> None:
    token = app.tokens.dumps({"user": 1}, salt="s")
    assert app.tokens.loads(token.encode(), salt="s") == {"user": 1}
    assert app.tokens.loads(bytearray(token.encode()), salt="s") == {"user": 1}


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _padding_twin(char: str) -> str:
    """The base64 character that differs from ``char`` only in its lowest bit,
    unused in the last character of a 20-byte (SHA-1) signature."""
    return _B64[_B64.index(char) ^ 1]


def test_padding_twin_decodes_to_the_same_signature(app: kolben.Kolben) -> None:
    from itsdangerous.encoding import base64_decode

    sig = app.tokens.dumps(1, salt="s").rsplit(".", 1)[1]
    assert base64_decode(sig) == base64_decode(sig[:-1] + _padding_twin(sig[-1]))


def test_max_age(app: kolben.Kolben, clock: t.Callable[[float], None]) -> None:
    clock(1_800_000_000)
    token = app.tokens.dumps("x", salt="s")
    clock(1_800_000_000 + 3600)
    assert app.tokens.loads(token, salt="s", max_age=3600) == "x"
    assert app.tokens.loads(token, salt="s", max_age=timedelta(hours=1)) == "x"
    assert app.tokens.loads(token, salt="s") == "x"  # no max_age: any age
    clock(1_800_000_000 + 3601)
    with pytest.raises(SignatureExpired) as info:
        app.tokens.loads(token, salt="s", max_age=3600)
    assert isinstance(info.value, BadSignature)  # `except BadSignature` catches it
    assert info.value.date_signed is not None
    assert info.value.date_signed.timestamp() == 1_800_000_000


def test_max_age_nan_is_refused(app: kolben.Kolben) -> None:
    """A NaN max_age would accept a token of any age (every comparison with it
    is false); infinity and huge numbers keep itsdangerous' meaning."""
    token = app.tokens.dumps("x", salt="s")
    with pytest.raises(ValueError, match="got NaN"):
        app.tokens.loads(token, salt="s", max_age=float("nan"))
    assert app.tokens.loads(token, salt="s", max_age=float("inf")) == "x"
    assert app.tokens.loads(token, salt="s", max_age=10**400) == "x"


def test_key_rotation_with_fallbacks(app: kolben.Kolben) -> None:
    old_token = app.tokens.dumps("old", salt="s")
    app.config["SECRET_KEY"] = "new key"
    with pytest.raises(BadSignature):
        app.tokens.loads(old_token, salt="s")
    app.config["SECRET_KEY_FALLBACKS"] = ["test key"]
    assert app.tokens.loads(old_token, salt="s") == "old"
    new_token = app.tokens.dumps("new", salt="s")
    # New tokens are signed with the current key only.
    assert URLSafeTimedSerializer("new key", salt="s").loads(new_token) == "new"
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer("test key", salt="s").loads(new_token)
    app.config["SECRET_KEY_FALLBACKS"] = []
    with pytest.raises(BadSignature):
        app.tokens.loads(old_token, salt="s")


def test_secret_key_set_after_first_use() -> None:
    app = kolben.Kolben(__name__)
    tokens = app.tokens
    with pytest.raises(RuntimeError, match=r"need a secret key.*SECRET_KEY"):
        tokens.dumps(1, salt="s")
    app.secret_key = "late"
    assert tokens.loads(tokens.dumps(1, salt="s"), salt="s") == 1


@pytest.mark.parametrize("salt", ["", None, b"bytes"])
def test_salt_is_required(app: kolben.Kolben, salt: t.Any) -> None:
    with pytest.raises(TypeError, match="needs a salt naming its purpose"):
        app.tokens.dumps(1, salt=salt)


def test_cache_is_bounded(app: kolben.Kolben) -> None:
    tokens = app.tokens
    for i in range(Tokens.cache_size * 2):
        tokens.dumps(i, salt=f"salt-{i}")
    assert len(tokens._serializers) <= Tokens.cache_size


def test_activation_link(app: kolben.Kolben, client: t.Any) -> None:
    """The pattern from docs/recipes.md: mail a link, activate on click."""
    activated: list[int] = []

    @app.post("/register")
    def register() -> t.Any:
        token = app.tokens.dumps({"user": 7}, salt="activate")
        return {"link": kolben.url_for("activate", token=token, _external=True)}

    @app.get("/activate/<token>")
    def activate(token: str) -> t.Any:
        try:
            data = app.tokens.loads(token, salt="activate", max_age=86400)
        except SignatureExpired:
            return "expired, ask for a new link", 410
        except BadSignature:
            return "invalid link", 400
        activated.append(data["user"])
        return "activated"

    link = client.post("/register").json["link"]
    path = link.split("localhost", 1)[1]
    assert client.get(path).data == b"activated"
    assert client.get(path[:-2] + "xx").status_code == 400
    assert activated == [7]
